//! Manifests, indexes and image configs (Docker schema 2 and OCI), as typed
//! data, and platform selection from a manifest list.
//!
//! These are our own small serde types rather than oci-spec's: Docker's
//! config carries `Healthcheck`, and Docker media types must be accepted
//! alongside OCI ones; keeping unknown fields out keeps parsing lenient.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::reference::Digest;

pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const MT_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MT_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MT_OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// Largest manifest or index accepted (containerd uses 4 MiB too).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;
/// Largest image config accepted.
pub const MAX_CONFIG_SIZE: u64 = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest {digest} is not valid JSON of a known kind: {source}")]
    Parse {
        digest: Digest,
        #[source]
        source: serde_json::Error,
    },
    #[error("unsupported manifest media type {0:?} (Docker schema 1 is not supported)")]
    UnsupportedMediaType(String),
    #[error("no image for platform {wanted} in manifest list {digest}; it has: {available}")]
    NoMatchingPlatform {
        wanted: String,
        digest: Digest,
        available: String,
    },
    #[error("image config {config} lists {diff_ids} layers but its manifest has {layers}")]
    LayerCountMismatch {
        config: Digest,
        diff_ids: usize,
        layers: usize,
    },
    #[error("invalid platform {0:?}: expected os/arch[/variant], e.g. linux/arm64/v8")]
    BadPlatform(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// What a manifest digest names: one image, or a list to choose from.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum ManifestKind {
    Image(Manifest),
    Index(Index),
}

/// Parses a manifest body, using the Content-Type when the registry sent one
/// and the body's own `mediaType` / shape otherwise.
pub fn parse_manifest(
    digest: &Digest,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<ManifestKind, ManifestError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        schema_version: Option<u32>,
    }
    let perr = |source| ManifestError::Parse {
        digest: digest.clone(),
        source,
    };
    let probe: Probe = serde_json::from_slice(body).map_err(perr)?;
    let ct = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
        .filter(|c| c.starts_with("application/vnd."));
    let mt = probe.media_type.or(ct);
    let is_index = match mt.as_deref() {
        Some(MT_DOCKER_LIST | MT_OCI_INDEX) => true,
        Some(MT_DOCKER_MANIFEST | MT_OCI_MANIFEST) => false,
        Some(other) if probe.schema_version == Some(1) || other.contains("v1+prettyjws") => {
            return Err(ManifestError::UnsupportedMediaType(other.to_string()))
        }
        _ => probe.manifests.is_some(),
    };
    if probe.schema_version == Some(1) {
        return Err(ManifestError::UnsupportedMediaType(
            mt.unwrap_or_else(|| "schema 1".into()),
        ));
    }
    if is_index {
        serde_json::from_slice(body)
            .map(ManifestKind::Index)
            .map_err(perr)
    } else {
        serde_json::from_slice(body)
            .map(ManifestKind::Image)
            .map_err(perr)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// This machine's platform, named as Go does (amd64, arm64/v8, arm/v7).
    pub fn host() -> Platform {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "riscv64" => ("riscv64", None),
            "s390x" => ("s390x", None),
            other => (other, None),
        };
        Platform {
            architecture: arch.into(),
            os: "linux".into(),
            variant: variant.map(Into::into),
            os_version: None,
        }
    }

    /// Parses `os/arch[/variant]` as `--platform` takes it.
    pub fn parse(s: &str) -> Result<Platform, ManifestError> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &&str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(ok) {
            return Err(ManifestError::BadPlatform(s.to_string()));
        }
        let arch = match parts[1].to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" => "amd64".to_string(),
            "aarch64" => "arm64".to_string(),
            a => a.to_string(),
        };
        Ok(Platform {
            os: parts[0].to_ascii_lowercase(),
            architecture: arch,
            variant: parts.get(2).map(|v| v.to_ascii_lowercase()),
            os_version: None,
        })
    }

    /// Whether an entry of a list whose platform is `candidate` runs here.
    /// A missing variant matches arm64's default v8; for other arches a
    /// wanted variant must be equal when the candidate names one.
    fn matches(&self, candidate: &Platform) -> bool {
        if self.os != candidate.os || self.architecture != candidate.architecture {
            return false;
        }
        let norm = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
            ("arm64", None) => Some("v8".to_string()),
            (_, v) => v.map(str::to_string),
        };
        match (norm(self), norm(candidate)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }
}

/// Picks the manifest for `wanted` from an index: the first exact match
/// (variant included), else the first that matches ignoring a missing
/// variant; a clear error listing what the list has when none does.
pub fn select_platform<'a>(
    index: &'a Index,
    index_digest: &Digest,
    wanted: &Platform,
) -> Result<&'a Descriptor, ManifestError> {
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| d.platform.as_ref().is_some_and(|p| wanted.matches(p)))
        .collect();
    let exact = candidates.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.variant == wanted.variant)
    });
    if let Some(d) = exact.or(candidates.first()) {
        return Ok(d);
    }
    let available = index
        .manifests
        .iter()
        .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
        .collect::<Vec<_>>()
        .join(", ");
    Err(ManifestError::NoMatchingPlatform {
        wanted: wanted.to_string(),
        digest: index_digest.clone(),
        available: if available.is_empty() {
            "no platforms".into()
        } else {
            available
        },
    })
}

/// The image config blob (Docker's and OCI's share this shape).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub config: ContainerConfig,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

/// The run defaults the spec builder needs, Docker-named.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_as_default"
    )]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_as_default"
    )]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_as_default"
    )]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_as_default"
    )]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

/// Docker's HEALTHCHECK; durations are in nanoseconds as in Docker's JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
}

impl ImageConfig {
    /// The platform the config names (`os/arch[/variant]` as text).
    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone(),
            os_version: None,
        }
    }

    pub fn parse(digest: &Digest, body: &[u8]) -> Result<ImageConfig, ManifestError> {
        serde_json::from_slice(body).map_err(|source| ManifestError::Parse {
            digest: digest.clone(),
            source,
        })
    }
}

/// OCI chain ids: ChainID(L0) = DiffID(L0); ChainID(Ln) =
/// sha256(ChainID(Ln-1) + " " + DiffID(Ln)). A snapshot is named by its chain
/// id, so the same layer on a different parent stack is not confused.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => Digest::sha256_of(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    }

    fn entry(dig: Digest, arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: MT_OCI_MANIFEST.into(),
            digest: dig,
            size: 1,
            platform: Some(Platform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: variant.map(Into::into),
                os_version: None,
            }),
            urls: vec![],
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn platform_selection() {
        let idx = Index {
            schema_version: 2,
            media_type: Some(MT_OCI_INDEX.into()),
            manifests: vec![
                entry(d('a'), "amd64", None),
                entry(d('b'), "arm", Some("v6")),
                entry(d('c'), "arm", Some("v7")),
                entry(d('e'), "arm64", None),
            ],
        };
        let pick = |p: &str| {
            select_platform(&idx, &d('f'), &Platform::parse(p).unwrap()).map(|x| x.digest.clone())
        };
        assert_eq!(pick("linux/amd64").unwrap(), d('a'));
        assert_eq!(pick("linux/arm/v7").unwrap(), d('c'));
        assert_eq!(pick("linux/arm/v6").unwrap(), d('b'));
        assert_eq!(pick("linux/arm64/v8").unwrap(), d('e'));
        assert_eq!(pick("linux/aarch64").unwrap(), d('e'));
        let err = pick("linux/s390x").unwrap_err().to_string();
        assert!(
            err.contains("linux/s390x") && err.contains("linux/arm/v7"),
            "{err}"
        );
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/amd64/v1/x").is_err());
    }

    #[test]
    fn chain_id_per_oci_spec() {
        let a = d('a');
        let b = d('b');
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], Digest::sha256_of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn docker_config_fields() {
        let body = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Entrypoint":["/e"],
          "Cmd":["sh"],"WorkingDir":"/w","User":"1:2","ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}},
          "Labels":{"a":"b"},"StopSignal":"SIGQUIT","Healthcheck":{"Test":["CMD","true"],"Interval":1000000000,"Retries":3}},
          "rootfs":{"type":"layers","diff_ids":["sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}}"#;
        let c = ImageConfig::parse(&d('1'), body).unwrap();
        assert_eq!(
            c.config.env.as_deref(),
            Some(&["PATH=/bin".to_string()][..])
        );
        assert_eq!(c.config.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(c.config.healthcheck.unwrap().retries, Some(3));
        assert!(c.config.exposed_ports.unwrap().contains_key("80/tcp"));
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        let nulls =
            br#"{"config":{"Env":null,"Volumes":null},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert!(ImageConfig::parse(&d('1'), nulls)
            .unwrap()
            .config
            .env
            .is_none());
    }

    #[test]
    fn manifest_kinds() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MT_DOCKER_MANIFEST}","config":{{"mediaType":"{MT_DOCKER_CONFIG}","digest":"{}","size":3}},"layers":[]}}"#,
            d('a')
        );
        assert!(matches!(
            parse_manifest(&d('0'), None, m.as_bytes()).unwrap(),
            ManifestKind::Image(_)
        ));
        let i = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse_manifest(&d('0'), Some(MT_OCI_INDEX), i.as_bytes()).unwrap(),
            ManifestKind::Index(_)
        ));
        let s1 = br#"{"schemaVersion":1,"name":"x"}"#;
        assert!(parse_manifest(&d('0'), None, s1).is_err());
    }
}
