//! The Docker Engine API as rrund and the CLI both speak it. The bodies
//! are bollard-stubs' models (Docker's field names, both ways); this module
//! holds what that crate has no type for: where the daemon listens, the
//! error body, the `filters` parameter, each endpoint's query parameters
//! ([`query`]) and the API 1.43 `system df` answer. The multiplexed
//! stream framing lives in [`crate::state::logs`], shared by the shim,
//! the daemon and the CLI.

pub mod query;

pub use bollard_stubs::models;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where rrund listens unless told otherwise (`-H`, `RRUN_HOST`).
pub const DEFAULT_HOST: &str = "unix:///run/rrun/rrun.sock";

/// The socket path of a `-H` value (`unix:///path` or a bare path).
pub fn socket_path(host: &str) -> anyhow::Result<PathBuf> {
    if let Some(p) = host.strip_prefix("unix://") {
        return Ok(PathBuf::from(p));
    }
    if host.starts_with('/') {
        return Ok(PathBuf::from(host));
    }
    anyhow::bail!("unsupported host {host}: only unix:///path sockets are supported")
}

/// The body of every error answer: `{"message": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: String,
}

/// Docker's mapping of a failed start to an exit code: 127 when the
/// program does not exist, 126 when it cannot be run.
pub fn start_error_code(msg: &str) -> i32 {
    let m = msg.to_lowercase();
    if m.contains("not found") || m.contains("no such file") {
        127
    } else if m.contains("permission denied") || m.contains("not executable") {
        126
    } else {
        128
    }
}

/// Docker's `filters` parameter: key → accepted values (values of one key
/// are alternatives, keys must all hold). Sent as `{"k":["v"]}`; read in
/// that form or the old `{"k":{"v":true}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Filters(pub BTreeMap<String, Vec<String>>);

impl Filters {
    /// From the CLI's `-f key=value` flags.
    pub fn from_flags(flags: &[String]) -> anyhow::Result<Filters> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in flags {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("bad format of filter (expected name=value): {f}")
            })?;
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        Ok(Filters(m))
    }

    /// The JSON text that goes into the query string.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }

    /// Parses the query string's JSON text (empty: no filters).
    pub fn parse(json: &str) -> Result<Filters, String> {
        if json.trim().is_empty() {
            return Ok(Filters::default());
        }
        serde_json::from_str(json).map_err(|e| format!("invalid filter: {e}"))
    }
}

impl<'de> Deserialize<'de> for Filters {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Values {
            List(Vec<String>),
            Set(BTreeMap<String, bool>),
        }
        let m = BTreeMap::<String, Values>::deserialize(d)?;
        Ok(Filters(
            m.into_iter()
                .map(|(k, v)| match v {
                    Values::List(l) => (k, l),
                    Values::Set(s) => (k, s.into_keys().collect()),
                })
                .collect(),
        ))
    }
}

/// `GET /system/df` as API 1.43 answers it (bollard-stubs follows the
/// newer shape, `ImageUsage`, `ContainerUsage`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    #[serde(default)]
    pub layers_size: i64,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub images: Vec<models::ImageSummary>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub containers: Vec<models::ContainerSummary>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub volumes: Vec<models::Volume>,
}

/// A list field that Docker may send as `null`.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse() {
        assert_eq!(
            socket_path("unix:///run/x.sock").unwrap(),
            PathBuf::from("/run/x.sock")
        );
        assert!(socket_path("tcp://1.2.3.4:2375").is_err());
    }

    #[test]
    fn filters_take_both_forms() {
        let f = Filters::from_flags(&["name=a".into(), "name=b".into(), "label=x=1".into()]);
        let f = f.unwrap();
        assert_eq!(f.to_json(), r#"{"label":["x=1"],"name":["a","b"]}"#);
        assert_eq!(Filters::parse(&f.to_json()).unwrap(), f);
        let old = Filters::parse(r#"{"status":{"running":true}}"#).unwrap();
        assert_eq!(old.0["status"], vec!["running"]);
        assert!(Filters::parse("[1]").is_err());
        assert!(Filters::from_flags(&["nokey".into()]).is_err());
    }

    #[test]
    fn start_errors_map_to_dockers_codes() {
        assert_eq!(
            start_error_code("exec: \"nope\": executable file not found"),
            127
        );
        assert_eq!(start_error_code("permission denied"), 126);
        assert_eq!(start_error_code("cgroup trouble"), 128);
    }
}
