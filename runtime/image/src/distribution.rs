//! `GET /distribution/{name}/json` (`docker buildx imagetools`-style
//! lookups, docker-py's `images.get_registry_data`): what a registry holds
//! under a reference, without pulling it: the top manifest's descriptor
//! and the platforms it offers.

use crate::manifest::{parse_manifest, ImageConfig, ManifestKind, Platform, MAX_CONFIG_SIZE};
use crate::manifest::{MT_DOCKER_LIST, MT_DOCKER_MANIFEST, MT_OCI_INDEX, MT_OCI_MANIFEST};
use crate::pull::{verify, PullError};
use crate::registry::{Endpoint, RegistryClient};
use crate::{Digest, Reference};

/// A reference as the registry holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryData {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub platforms: Vec<Platform>,
}

/// Looks `reference` up on its registry (mirrors first, as a pull does).
pub fn inspect(client: &RegistryClient, reference: &Reference) -> Result<RegistryData, PullError> {
    crate::pull::each_endpoint(client, reference, |ep| inspect_at(client, ep, reference))
}

fn inspect_at(
    client: &RegistryClient,
    ep: &Endpoint,
    reference: &Reference,
) -> Result<RegistryData, PullError> {
    let repo = reference.path();
    client.ping(ep)?;
    let (body, ct) = client.get_manifest(ep, repo, &reference.manifest_selector())?;
    let digest = Digest::sha256_of(&body);
    if let Some(want) = reference.digest() {
        verify("manifest", want, &body)?;
    }
    let (media_type, platforms) = match parse_manifest(&digest, ct.as_deref(), &body)? {
        ManifestKind::Index(idx) => {
            let mt = idx.media_type.clone().unwrap_or_else(|| {
                media_type_of(ct.as_deref())
                    .unwrap_or(MT_OCI_INDEX)
                    .to_string()
            });
            (
                mt,
                idx.manifests
                    .into_iter()
                    .filter_map(|m| m.platform)
                    .collect(),
            )
        }
        ManifestKind::Image(m) => {
            let cfg = client.get_blob_bytes(ep, repo, &m.config.digest, MAX_CONFIG_SIZE)?;
            verify("config", &m.config.digest, &cfg)?;
            let c = ImageConfig::parse(&m.config.digest, &cfg)?;
            let mt = m.media_type.clone().unwrap_or_else(|| {
                media_type_of(ct.as_deref())
                    .unwrap_or(MT_OCI_MANIFEST)
                    .to_string()
            });
            let p = Platform {
                architecture: c.architecture,
                os: c.os,
                variant: c.variant,
                os_version: None,
            };
            (mt, vec![p])
        }
    };
    Ok(RegistryData {
        media_type,
        digest,
        size: body.len() as u64,
        platforms,
    })
}

/// The manifest media type a Content-Type names, if it is one.
fn media_type_of(ct: Option<&str>) -> Option<&'static str> {
    let ct = ct?.split(';').next()?.trim();
    [
        MT_DOCKER_LIST,
        MT_DOCKER_MANIFEST,
        MT_OCI_INDEX,
        MT_OCI_MANIFEST,
    ]
    .into_iter()
    .find(|m| *m == ct)
}
