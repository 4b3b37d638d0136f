//! Local images: look-up by name or id, list, Docker-shaped inspect, tag,
//! remove (untag vs delete), prune. An image's id is its config digest, as
//! in Docker.

use std::collections::BTreeSet;
use std::fs;

use serde_json::json;

use crate::manifest::{
    chain_ids, parse_manifest, ImageConfig, Manifest, ManifestKind, MAX_CONFIG_SIZE,
    MAX_MANIFEST_SIZE,
};
use crate::reference::{Digest, Reference};
use crate::store::{io_err, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("conflict: unable to delete {id} (must be forced) - image is referenced in multiple repositories")]
    MultipleRepositories { id: String },
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
}

/// An image present in the store, fully read.
#[derive(Debug, Clone)]
pub struct LocalImage {
    pub manifest_digest: Digest,
    pub manifest: Manifest,
    /// The image id.
    pub id: Digest,
    pub config: ImageConfig,
    /// Snapshot names, bottom layer first.
    pub chain_ids: Vec<Digest>,
    /// Every reference (`name:tag` and `name@digest`) pointing at it.
    pub refs: Vec<Reference>,
}

impl LocalImage {
    pub fn repo_tags(&self) -> Vec<String> {
        self.refs
            .iter()
            .filter(|r| r.digest().is_none())
            .map(Reference::familiar)
            .collect()
    }
    pub fn repo_digests(&self) -> Vec<String> {
        self.refs
            .iter()
            .filter(|r| r.digest().is_some())
            .map(Reference::familiar)
            .collect()
    }
    /// Bytes of the compressed layers, as the registry counts them.
    pub fn size(&self) -> u64 {
        self.manifest.layers.iter().map(|l| l.size).sum()
    }
}

/// Reads the image a manifest digest names.
pub fn load_image(store: &Store, manifest_digest: &Digest) -> Result<LocalImage, ImageError> {
    let body = store.read_blob(manifest_digest, MAX_MANIFEST_SIZE)?;
    let manifest = match parse_manifest(manifest_digest, None, &body)? {
        ManifestKind::Image(m) => m,
        ManifestKind::Index(_) => return Err(ImageError::NoSuchImage(manifest_digest.to_string())),
    };
    let id = manifest.config.digest.clone();
    let config = ImageConfig::parse(&id, &store.read_blob(&id, MAX_CONFIG_SIZE)?)?;
    let chain_ids = chain_ids(&config.rootfs.diff_ids);
    let refs = store
        .repositories()?
        .refs
        .into_iter()
        .filter(|(_, d)| d == manifest_digest)
        .filter_map(|(r, _)| Reference::parse(&r).ok())
        .collect();
    Ok(LocalImage {
        manifest_digest: manifest_digest.clone(),
        manifest,
        id,
        config,
        chain_ids,
        refs,
    })
}

/// Finds an image as `docker image inspect` does: by reference, by full or
/// short id (`sha256:` optional), or by manifest digest.
pub fn find_image(store: &Store, name: &str) -> Result<LocalImage, ImageError> {
    if let Ok(r) = Reference::parse(name) {
        if let Some(m) = store.resolve(&r)? {
            return load_image(store, &m);
        }
    }
    let hexpart = name.strip_prefix("sha256:").unwrap_or(name);
    if hexpart.len() >= 4 && hexpart.bytes().all(|b| b.is_ascii_hexdigit()) {
        for img in list_images(store)? {
            if img.id.hex().starts_with(hexpart) || img.manifest_digest.hex() == hexpart {
                return Ok(img);
            }
        }
    }
    Err(ImageError::NoSuchImage(name.to_string()))
}

/// Every image that has at least one reference, newest reference order.
pub fn list_images(store: &Store) -> Result<Vec<LocalImage>, ImageError> {
    let manifests: BTreeSet<Digest> = store.repositories()?.refs.into_values().collect();
    let mut out = Vec::new();
    for m in manifests {
        match load_image(store, &m) {
            Ok(img) => out.push(img),
            Err(e) => tracing::warn!(manifest = %m, error = %e, "skipping unreadable image"),
        }
    }
    Ok(out)
}

/// The run defaults (Env, Cmd, …) of an image, for the spec builder.
pub fn image_config(store: &Store, name: &str) -> Result<ImageConfig, ImageError> {
    Ok(find_image(store, name)?.config)
}

/// `docker image inspect`'s JSON for one image.
pub fn inspect_json(img: &LocalImage) -> serde_json::Value {
    let c = &img.config;
    json!({
        "Id": img.id.to_string(),
        "RepoTags": img.repo_tags(),
        "RepoDigests": img.repo_digests(),
        "Parent": "",
        "Comment": "",
        "Created": c.created.clone().unwrap_or_default(),
        "Author": c.author.clone().unwrap_or_default(),
        "Config": c.config,
        "Architecture": c.architecture,
        "Variant": c.variant,
        "Os": c.os,
        "Size": img.size(),
        "RootFS": {
            "Type": "layers",
            "Layers": c.rootfs.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        },
        "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" },
    })
}

/// `docker tag SOURCE TARGET`.
pub fn tag(store: &Store, source: &str, target: &str) -> Result<Reference, ImageError> {
    let img = find_image(store, source)?;
    let target = Reference::parse(target)?;
    if target.digest().is_some() {
        return Err(crate::reference::ReferenceError::Format(format!(
            "{target}: a tag target cannot contain a digest"
        ))
        .into());
    }
    store.set_ref(&target, &img.manifest_digest)?;
    Ok(target)
}

/// What `remove` did, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    Untagged(String),
    Deleted(Digest),
}

/// `docker rmi NAME`: a name that is one of several tags only untags; the
/// last name (or an id, with `force` when several names remain) deletes the
/// image and whatever of its content no other image uses.
pub fn remove(store: &Store, name: &str, force: bool) -> Result<Vec<Removed>, ImageError> {
    let img = find_image(store, name)?;
    let by_ref = Reference::parse(name).ok().filter(|r| {
        img.refs
            .iter()
            .any(|x| x == r || r.digest().is_some_and(|d| x.digest() == Some(d)))
    });
    let mut out = Vec::new();
    let tags = img.refs.iter().filter(|r| r.digest().is_none()).count();
    if let Some(r) = by_ref.filter(|r| r.digest().is_none() && tags > 1) {
        store.update_repositories(|repos| {
            repos.refs.remove(&r.to_string());
            Ok(())
        })?;
        out.push(Removed::Untagged(r.familiar()));
        return Ok(out);
    }
    let names: BTreeSet<String> = img.refs.iter().map(Reference::name).collect();
    if !force && names.len() > 1 && Reference::parse(name).is_err() {
        return Err(ImageError::MultipleRepositories {
            id: img.id.to_string(),
        });
    }
    store.update_repositories(|repos| {
        repos.refs.retain(|_, d| d != &img.manifest_digest);
        Ok(())
    })?;
    for r in &img.refs {
        out.push(Removed::Untagged(r.familiar()));
    }
    out.push(Removed::Deleted(img.id.clone()));
    garbage_collect(store)?;
    Ok(out)
}

/// What prune removed.
#[derive(Debug, Default, Clone)]
pub struct PruneReport {
    pub blobs: Vec<Digest>,
    pub snapshots: Vec<String>,
    pub temp_files: usize,
}

/// Removes content no named image uses, and what interrupted pulls left
/// (temp blobs, half-unpacked snapshots). Callers must not prune while a
/// pull runs in the same state directory.
pub fn garbage_collect(store: &Store) -> Result<PruneReport, ImageError> {
    let repos = store.repositories()?;
    let mut keep_blobs: BTreeSet<Digest> = BTreeSet::new();
    let mut keep_snaps: BTreeSet<String> = BTreeSet::new();
    for (r, m) in &repos.refs {
        keep_blobs.insert(m.clone());
        if let Some(d) = Reference::parse(r).ok().and_then(|r| r.digest().cloned()) {
            keep_blobs.insert(d);
        }
        if let Ok(img) = load_image(store, m) {
            keep_blobs.insert(img.id.clone());
            keep_blobs.extend(img.manifest.layers.iter().map(|l| l.digest.clone()));
            keep_snaps.extend(img.chain_ids.iter().map(|c| c.hex().to_string()));
        }
    }
    let mut report = PruneReport::default();
    for b in store.list_blobs()? {
        if !keep_blobs.contains(&b) {
            store.remove_blob(&b)?;
            report.blobs.push(b);
        }
    }
    let snaps = store.snapshots_dir();
    for e in fs::read_dir(&snaps).map_err(io_err("read", &snaps))? {
        let e = e.map_err(io_err("read", &snaps))?;
        let n = e.file_name().to_string_lossy().into_owned();
        if !keep_snaps.contains(&n) {
            fs::remove_dir_all(e.path()).map_err(io_err("remove", &e.path()))?;
            report.snapshots.push(n);
        }
    }
    let tmp = store.tmp_dir();
    for e in fs::read_dir(&tmp).map_err(io_err("read", &tmp))? {
        let e = e.map_err(io_err("read", &tmp))?;
        fs::remove_file(e.path()).map_err(io_err("remove", &e.path()))?;
        report.temp_files += 1;
    }
    Ok(report)
}
