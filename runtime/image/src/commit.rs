//! A new image on top of a parent (or of nothing, `FROM scratch`): what
//! `docker commit` and each build step make. The config keeps the parent's
//! platform, layers and history and adds one history entry (marked
//! `empty_layer` when the step made no layer) and, when given, the new
//! layer's diff id; the manifest lists the parent's layer blobs and the new
//! one, in the parent's manifest format (Docker schema 2 from scratch, as
//! Docker's builder makes). The layer's snapshot is unpacked from its blob,
//! so what a container later sees is exactly what a push sends.

use crate::archive::{build_manifest, finish_image, rfc3339_now, ArchiveError};
use crate::images::LocalImage;
use crate::layer::NewLayer;
use crate::manifest::{ContainerConfig, ImageConfig, Platform, RootFs, MT_OCI_MANIFEST};
use crate::reference::{Digest, Reference};

/// What the new image says about itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommitSpec {
    /// The whole run config of the new image (Env, Cmd, Labels, …).
    pub config: ContainerConfig,
    /// The history entry's `created_by` (`/bin/sh -c #(nop)  CMD ["sh"]`).
    pub created_by: String,
    pub comment: Option<String>,
    pub author: Option<String>,
    /// RFC 3339; now when None.
    pub created: Option<String>,
}

/// The image a commit made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The image id (config digest).
    pub id: Digest,
    pub manifest: Digest,
}

/// Adds the image `spec` describes: `parent`'s layers plus `layer` (none:
/// an `empty_layer` step), named `refs` (none: dangling, as an untagged
/// build step).
pub fn commit_image(
    store: &crate::Store,
    parent: Option<&LocalImage>,
    layer: Option<&NewLayer>,
    spec: &CommitSpec,
    refs: &[Reference],
) -> Result<Committed, ArchiveError> {
    let config = new_config(parent, layer, spec);
    let body = serde_json::to_vec(&config).expect("an image config serialises");
    let id = Digest::sha256_of(&body);
    store.put_blob(&id, &body)?;
    let mut blobs: Vec<Digest> = parent
        .map(|p| p.manifest.layers.iter().map(|l| l.digest.clone()).collect())
        .unwrap_or_default();
    blobs.extend(layer.map(|l| l.digest.clone()));
    let oci = parent.is_some_and(|p| {
        p.manifest.media_type.as_deref() == Some(MT_OCI_MANIFEST)
            || p.manifest.config.media_type.contains(".oci.")
    });
    let manifest = build_manifest(store, &id, body.len() as u64, &blobs, !oci)?;
    finish_image(store, &manifest, &config, &blobs, refs)?;
    Ok(Committed { id, manifest })
}

/// The new image's config: the parent's with `spec` and `layer` applied.
pub fn new_config(
    parent: Option<&LocalImage>,
    layer: Option<&NewLayer>,
    spec: &CommitSpec,
) -> ImageConfig {
    let mut c = match parent {
        Some(p) => p.config.clone(),
        None => {
            let host = Platform::host();
            ImageConfig {
                architecture: host.architecture,
                os: host.os,
                variant: host.variant,
                rootfs: RootFs {
                    kind: "layers".into(),
                    diff_ids: Vec::new(),
                },
                ..Default::default()
            }
        }
    };
    let created = spec.created.clone().unwrap_or_else(rfc3339_now);
    c.created = Some(created.clone());
    c.author = spec.author.clone();
    c.config = spec.config.clone();
    c.rootfs.kind = "layers".into();
    c.rootfs.diff_ids.extend(layer.map(|l| l.diff_id.clone()));
    let mut entry = serde_json::Map::new();
    entry.insert("created".into(), created.into());
    entry.insert("created_by".into(), spec.created_by.clone().into());
    if let Some(a) = &spec.author {
        entry.insert("author".into(), a.clone().into());
    }
    if let Some(m) = &spec.comment {
        entry.insert("comment".into(), m.clone().into());
    }
    if layer.is_none() {
        entry.insert("empty_layer".into(), true.into());
    }
    c.history.push(serde_json::Value::Object(entry));
    c
}
