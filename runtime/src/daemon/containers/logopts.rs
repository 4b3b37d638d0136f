//! A container's json-file log options, checked at create.

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
    if !cfg.typ.is_empty() && cfg.typ != "json-file" {
        return Err(format!(
            "logging driver {} is not supported (only json-file)",
            cfg.typ
        ));
    }
    cfg.typ = "json-file".into();
    for (k, v) in defaults {
        cfg.config.entry(k).or_insert(v);
    }
    for k in cfg.config.keys() {
        if !matches!(
            k.as_str(),
            "max-size" | "max-file" | "compress" | "labels" | "env" | "tag"
        ) {
            return Err(format!("unknown log opt '{k}' for json-file log driver"));
        }
    }
    crate::shim::logfile::rotation(Path::new(""), &cfg.config)?;
    Ok(Some(cfg))
}
