//! A container's log driver and options, checked at create. `json-file`
//! and `local` are written the same way (json-file's format, which `logs`
//! and attach read); `local` has Docker's defaults for it (20 MB files,
//! five of them). `none` keeps no log that `logs` can read, but attach
//! still streams: the shim writes one small file that it cuts at 1 MB
//! ([`shim_opts`]), which attach follows.

use std::path::Path;

use crate::daemon::models::LogConfig;

/// The container's log config with daemon.json's `log-opts` filling what
/// the container does not set. Errors in the options are the caller's to
/// report.
pub fn with_defaults(
    own: Option<LogConfig>,
    daemon_json: &Path,
) -> Result<Option<LogConfig>, String> {
    let defaults = crate::daemon::config::FileConfig::load(daemon_json)
        .map(|f| f.log_opts)
        .unwrap_or_default();
    let mut cfg = own.unwrap_or_default();
    match cfg.typ.as_str() {
        "" | "json-file" => cfg.typ = "json-file".into(),
        "local" => {
            cfg.config.entry("max-size".into()).or_insert("20m".into());
            cfg.config.entry("max-file".into()).or_insert("5".into());
        }
        "none" => {
            if let Some(k) = cfg.config.keys().next() {
                return Err(format!("unknown log opt '{k}' for none log driver"));
            }
            return Ok(Some(cfg));
        }
        "syslog" | "journald" | "gelf" | "fluentd" | "awslogs" | "splunk" | "etwlogs"
        | "gcplogs" | "logentries" => {
            return Err(format!(
                "logging driver {} is not supported by rrun yet: use json-file or local",
                cfg.typ
            ))
        }
        other => {
            return Err(format!(
                "logger: no log driver named '{other}' is registered"
            ))
        }
    }
    if cfg.typ == "json-file" {
        for (k, v) in defaults {
            cfg.config.entry(k).or_insert(v);
        }
    }
    for k in cfg.config.keys() {
        if !matches!(
            k.as_str(),
            "max-size" | "max-file" | "compress" | "labels" | "env" | "tag"
        ) {
            return Err(format!("unknown log opt '{k}' for {} log driver", cfg.typ));
        }
    }
    crate::shim::logfile::rotation(Path::new(""), &cfg.config)?;
    Ok(Some(cfg))
}

/// Docker's answer to `logs` of a container whose driver keeps none.
pub const NOT_READABLE: &str = "configured logging driver does not support reading";

/// Whether `logs` can read what this config keeps.
pub fn readable(cfg: Option<&LogConfig>) -> bool {
    cfg.is_none_or(|c| c.typ != "none")
}

/// The options the shim writes the log with: the container's, or for
/// `none` the one small file attach follows.
pub fn shim_opts(cfg: Option<&LogConfig>) -> std::collections::BTreeMap<String, String> {
    match cfg {
        Some(c) if c.typ == "none" => [("max-size", "1m"), ("max-file", "1")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
        Some(c) => c.config.clone(),
        None => Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn driver(typ: &str, opts: &[(&str, &str)]) -> Result<Option<LogConfig>, String> {
        let own = LogConfig {
            typ: typ.into(),
            config: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        with_defaults(Some(own), Path::new("/nonexistent/daemon.json"))
    }

    #[test]
    fn none_keeps_no_readable_log_but_a_bounded_file_for_attach() {
        let none = driver("none", &[]).unwrap().unwrap();
        assert!(none.config.is_empty(), "inspect shows no options");
        assert!(!readable(Some(&none)));
        assert_eq!(shim_opts(Some(&none))["max-size"], "1m");
        assert_eq!(
            driver("none", &[("max-size", "1m")]).unwrap_err(),
            "unknown log opt 'max-size' for none log driver"
        );
        let json = driver("json-file", &[("max-size", "2m")]).unwrap().unwrap();
        assert!(readable(Some(&json)) && readable(None));
        assert_eq!(shim_opts(Some(&json))["max-size"], "2m");
        assert!(driver("syslog", &[])
            .unwrap_err()
            .contains("not supported by rrun yet"));
    }
}
