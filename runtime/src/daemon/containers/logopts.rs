//! A container's log driver and options, checked at create. `json-file`
//! and `local` are written the same way (json-file's format, which `logs`
//! and attach read); `local` has Docker's defaults for it (20 MB files,
//! five of them).

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
        "none" | "syslog" | "journald" | "gelf" | "fluentd" | "awslogs" | "splunk" | "etwlogs"
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
