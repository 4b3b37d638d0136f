//! The Docker Engine API as rrund and the CLI both speak it. The bodies
//! are bollard-stubs' models (Docker's field names, both ways); this module
//! holds what that crate has no type for: where the daemon listens, the
//! error body, the `filters` parameter, each endpoint's query parameters
//! ([`query`]) and the API 1.43 `system df` answer. The multiplexed
//! stream framing lives in [`crate::state::logs`], shared by the shim,
//! the daemon and the CLI.

pub mod detach;
pub mod exec;
pub mod filters;
pub mod network;
pub mod progress;
pub mod query;
pub mod stats;

pub use filters::{FilterError, Filters};

pub use bollard_stubs::models;

use serde::{Deserialize, Serialize};
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

/// `GET /system/df` as API 1.43 answers it (bollard-stubs follows the
/// newer shape, `ImageUsage`, `ContainerUsage`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    #[serde(default)]
    pub layers_size: i64,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub images: Vec<ImageListItem>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub containers: Vec<models::ContainerSummary>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub volumes: Vec<models::Volume>,
    /// rrun keeps no BuildKit cache: always `[]`, as dockerd without one.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub build_cache: Vec<models::BuildCache>,
}

/// A `GET /images/json` item: bollard's summary and `VirtualSize`, which
/// dockerd sends up to API 1.43 and older clients still read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageListItem {
    #[serde(flatten)]
    pub summary: models::ImageSummary,
    #[serde(rename = "VirtualSize", default)]
    pub virtual_size: i64,
}

/// `POST /containers/prune`. Unlike bollard's model, `ContainersDeleted`
/// is sent as `null` when nothing went, as dockerd does (clients index it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerPruneReport {
    #[serde(rename = "ContainersDeleted")]
    pub containers_deleted: Option<Vec<String>>,
    #[serde(rename = "SpaceReclaimed")]
    pub space_reclaimed: u64,
}

/// `POST /images/prune`, with `ImagesDeleted` `null` when empty (dockerd).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImagePruneReport {
    #[serde(rename = "ImagesDeleted")]
    pub images_deleted: Option<Vec<models::ImageDeleteResponseItem>>,
    #[serde(rename = "SpaceReclaimed")]
    pub space_reclaimed: u64,
}

/// The `{}` of Docker's sets (`ExposedPorts`, `Volumes`: Go's
/// `map[string]struct{}`): always written as `{}`; any value is read as
/// one, as Go's decoder does for an empty struct.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmptyObject;

impl Serialize for EmptyObject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        s.serialize_map(Some(0))?.end()
    }
}

impl<'de> Deserialize<'de> for EmptyObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(EmptyObject)
    }
}

/// `POST /build/prune`, with `CachesDeleted` `null` when empty (dockerd;
/// bollard's model omits it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildCachePruneReport {
    #[serde(rename = "CachesDeleted")]
    pub caches_deleted: Option<Vec<String>>,
    #[serde(rename = "SpaceReclaimed")]
    pub space_reclaimed: u64,
}

/// `{"Id": …}` (exec create, commit). bollard-stubs' `IdResponse` reads
/// `Id` but writes `id`, which Docker's clients do not read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdResponse {
    #[serde(rename = "Id", alias = "ID", alias = "id")]
    pub id: String,
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
    fn start_errors_map_to_dockers_codes() {
        assert_eq!(
            start_error_code("exec: \"nope\": executable file not found"),
            127
        );
        assert_eq!(start_error_code("permission denied"), 126);
        assert_eq!(start_error_code("cgroup trouble"), 128);
    }

    #[test]
    fn bodies_keep_dockerds_nulls_and_old_fields() {
        let empty = serde_json::to_value(ContainerPruneReport::default()).unwrap();
        assert_eq!(
            empty,
            serde_json::json!({"ContainersDeleted": null, "SpaceReclaimed": 0})
        );
        let cache = serde_json::to_value(BuildCachePruneReport::default()).unwrap();
        assert_eq!(
            cache,
            serde_json::json!({"CachesDeleted": null, "SpaceReclaimed": 0})
        );
        let img = serde_json::to_value(ImagePruneReport::default()).unwrap();
        assert!(img["ImagesDeleted"].is_null() && img.get("ImagesDeleted").is_some());
        let item = ImageListItem {
            summary: models::ImageSummary {
                id: "sha256:1".into(),
                size: 5,
                ..Default::default()
            },
            virtual_size: 5,
        };
        let v = serde_json::to_value(&item).unwrap();
        assert_eq!(v["VirtualSize"], 5);
        assert_eq!(v["Id"], "sha256:1");
        assert_eq!(v["RepoTags"], serde_json::json!([]));
        let back: ImageListItem = serde_json::from_value(v).unwrap();
        assert_eq!(back, item);
    }

    #[test]
    fn sets_are_empty_objects_both_ways() {
        let m: std::collections::BTreeMap<String, EmptyObject> =
            serde_json::from_str(r#"{"80/tcp": {}, "53/udp": null}"#).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"53/udp":{},"80/tcp":{}}"#
        );
    }

    #[test]
    fn id_replies_say_id_as_docker_does() {
        let v = serde_json::to_value(IdResponse {
            id: "sha256:1".into(),
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"Id": "sha256:1"}));
        let b: models::IdResponse = serde_json::from_value(v).unwrap();
        assert_eq!(b.id, "sha256:1");
    }
}
