//! Local images: look-up by name or id, list, Docker-shaped inspect, tag,
//! remove (untag vs delete), prune. An image's id is its config digest, as
//! in Docker.

use std::collections::BTreeSet;
use std::fs;

use crate::manifest::{
    chain_ids, parse_manifest, ContainerConfig, ImageConfig, Manifest, ManifestKind,
    MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE,
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
    /// moby's `imageDeleteConflict`: `hard` cannot be overridden by force.
    #[error("conflict: unable to delete {id} ({}) - {reason}", if *hard { "cannot be forced" } else { "must be forced" })]
    Conflict {
        id: String,
        hard: bool,
        reason: String,
    },
    #[error("conflict: unable to remove repository reference \"{reference}\" (must force) - container {container} is using its referenced image {id}")]
    ReferenceInUse {
        reference: String,
        container: String,
        id: String,
    },
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
pub fn inspect(img: &LocalImage) -> ImageInspect {
    let c = &img.config;
    ImageInspect {
        id: img.id.to_string(),
        repo_tags: img.repo_tags(),
        repo_digests: img.repo_digests(),
        parent: String::new(),
        comment: String::new(),
        created: c.created.clone().unwrap_or_default(),
        author: c.author.clone().unwrap_or_default(),
        config: c.config.clone(),
        architecture: c.architecture.clone(),
        variant: c.variant.clone(),
        os: c.os.clone(),
        size: img.size(),
        root_fs: InspectRootFs {
            kind: "layers",
            layers: c.rootfs.diff_ids.iter().map(|d| d.to_string()).collect(),
        },
        metadata: InspectMetadata {
            last_tag_time: "0001-01-01T00:00:00Z",
        },
    }
}

/// `GET /images/{name}/json` (`docker image inspect`), the fields dockerd
/// sends that an image here has; `Variant` is null when the config has none.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    pub author: String,
    pub config: ContainerConfig,
    pub architecture: String,
    pub variant: Option<String>,
    pub os: String,
    pub size: u64,
    #[serde(rename = "RootFS")]
    pub root_fs: InspectRootFs,
    pub metadata: InspectMetadata,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectRootFs {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectMetadata {
    pub last_tag_time: &'static str,
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

/// A container that uses an image, as the daemon knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    /// The container's id (shown truncated to 12 characters in errors).
    pub container: String,
    pub running: bool,
}

/// The daemon's answer to "which containers use the image with this id
/// (config digest)?", for [`remove`] and [`garbage_collect`]. Docker keys
/// this on the container's `Image` (the image id), not on a name.
pub type InUse<'a> = &'a dyn Fn(&Digest) -> Vec<ImageUser>;

/// For callers that have no containers (the `rrun-image` command, tests).
pub fn no_containers(_: &Digest) -> Vec<ImageUser> {
    Vec::new()
}

/// Docker's `stringid.TruncateID`: no algorithm prefix, 12 characters.
fn short_id(id: &str) -> String {
    let hex = id.split_once(':').map_or(id, |(_, h)| h);
    hex.chars().take(12).collect()
}

/// True when every reference is in one repository and at most one is a tag
/// (moby's `isSingleReference`): removing it would leave the image dangling.
fn is_single_reference(refs: &[Reference]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut tag = None;
    let mut digest_repos = BTreeSet::new();
    for r in refs {
        if r.digest().is_some() {
            digest_repos.insert(r.name());
        } else if tag.is_none() {
            tag = Some(r);
        } else {
            return false;
        }
    }
    let single = tag.unwrap_or(&refs[0]).name();
    digest_repos.len() == 1 && digest_repos.contains(&single)
}

/// `docker rmi [-f] NAME` with Docker's (moby's `ImageDelete`) semantics.
///
/// - By reference: that reference is untagged (with the digest references
///   of its repository when it was the repository's last tag). The image is
///   deleted only when no reference remains. Without `force`, removing the
///   last reference of an image a container uses is refused
///   ([`ImageError::ReferenceInUse`]).
/// - By id (or manifest digest): all references go and the image is
///   deleted; without `force` this is refused when the references span
///   several repositories or tags, or a stopped container uses the image
///   (`(must be forced)`); a running container always refuses it
///   (`(cannot be forced)`).
/// - A forced removal of the last reference of an image a container uses
///   untags it and keeps the image (dangling) when a running container
///   uses it; a stopped container's image is deleted as an image but its
///   content stays until the container is gone and the store is pruned.
///
/// `in_use` says which containers use an image id: the store knows no
/// containers.
pub fn remove(
    store: &Store,
    name: &str,
    force: bool,
    in_use: InUse,
) -> Result<Vec<Removed>, ImageError> {
    let img = find_any_image(store, name)?;
    let short = short_id(img.id.hex());
    let users = in_use(&img.id);
    let hexpart = name.strip_prefix("sha256:").unwrap_or(name);
    let by_id = (hexpart.len() >= 4 && img.id.hex().starts_with(hexpart))
        || img.manifest_digest.hex() == hexpart;
    let given = if by_id {
        None
    } else {
        Reference::parse(name).ok().and_then(|r| {
            img.refs
                .iter()
                .find(|x| {
                    **x == r
                        || (r.digest().is_some()
                            && x.digest() == r.digest()
                            && x.name() == r.name())
                })
                .cloned()
        })
    };
    let mut out = Vec::new();
    let mut removed_ref = false;
    let unref = |r: &Reference| {
        store.update_repositories(|repos| {
            repos.refs.remove(&r.to_string());
            Ok(())
        })
    };
    if let Some(r) = given {
        if !force && is_single_reference(&img.refs) {
            if let Some(u) = users.first() {
                return Err(ImageError::ReferenceInUse {
                    reference: name.to_string(),
                    container: short_id(&u.container),
                    id: short,
                });
            }
        }
        unref(&r)?;
        out.push(Removed::Untagged(r.familiar()));
        let mut remaining: Vec<Reference> = img.refs.iter().filter(|x| **x != r).cloned().collect();
        // The repository's last tag takes its digest references with it.
        if r.digest().is_none()
            && !remaining
                .iter()
                .any(|x| x.digest().is_none() && x.name() == r.name())
        {
            let (same, others): (Vec<_>, Vec<_>) =
                remaining.into_iter().partition(|x| x.name() == r.name());
            for x in same {
                unref(&x)?;
                out.push(Removed::Untagged(x.familiar()));
            }
            remaining = others;
        }
        if !remaining.is_empty() {
            return Ok(out);
        }
        removed_ref = true;
    } else if is_single_reference(&img.refs) {
        if let Some(c) = delete_conflict(&short, &users, force, &[]) {
            return Err(c);
        }
        for r in &img.refs {
            unref(r)?;
            out.push(Removed::Untagged(r.familiar()));
        }
    }
    let remaining = if removed_ref {
        Vec::new()
    } else {
        load_image(store, &img.manifest_digest)?.refs
    };
    if let Some(c) = delete_conflict(&short, &users, force, &remaining) {
        if removed_ref && !users.is_empty() {
            // The untag is done; a running container keeps its image.
            return Ok(out);
        }
        return Err(c);
    }
    for r in &remaining {
        unref(r)?;
        out.push(Removed::Untagged(r.familiar()));
    }
    out.push(Removed::Deleted(img.id.clone()));
    garbage_collect(store, in_use)?;
    Ok(out)
}

/// moby's `checkImageDeleteConflict`: a running container is a hard
/// conflict; remaining references and stopped containers are soft ones,
/// which `force` overrides.
fn delete_conflict(
    short: &str,
    users: &[ImageUser],
    force: bool,
    remaining: &[Reference],
) -> Option<ImageError> {
    let conflict = |hard: bool, reason: String| ImageError::Conflict {
        id: short.to_string(),
        hard,
        reason,
    };
    if let Some(u) = users.iter().find(|u| u.running) {
        return Some(conflict(
            true,
            format!(
                "image is being used by running container {}",
                short_id(&u.container)
            ),
        ));
    }
    if force {
        return None;
    }
    if !remaining.is_empty() {
        return Some(conflict(
            false,
            "image is referenced in multiple repositories".to_string(),
        ));
    }
    users.iter().find(|u| !u.running).map(|u| {
        conflict(
            false,
            format!(
                "image is being used by stopped container {}",
                short_id(&u.container)
            ),
        )
    })
}

/// Like [`find_image`], and also finds an image no reference names (by
/// full or short id, or manifest digest), as `docker rmi` does.
pub fn find_any_image(store: &Store, name: &str) -> Result<LocalImage, ImageError> {
    match find_image(store, name) {
        Err(ImageError::NoSuchImage(_)) => {}
        other => return other,
    }
    let hexpart = name.strip_prefix("sha256:").unwrap_or(name);
    if hexpart.len() >= 4 && hexpart.bytes().all(|b| b.is_ascii_hexdigit()) {
        for img in stored_images(store)? {
            if img.id.hex().starts_with(hexpart) || img.manifest_digest.hex() == hexpart {
                return Ok(img);
            }
        }
    }
    Err(ImageError::NoSuchImage(name.to_string()))
}

/// Every image manifest in the store, named or not.
fn stored_images(store: &Store) -> Result<Vec<LocalImage>, ImageError> {
    let mut out = Vec::new();
    for d in store.list_blobs()? {
        // Manifests are small JSON documents; skip layers without reading them.
        let path = store.blob_path(&d);
        let small = fs::metadata(&path).is_ok_and(|m| m.len() <= MAX_MANIFEST_SIZE);
        let json = small
            && fs::File::open(&path)
                .and_then(|mut f| {
                    let mut b = [0u8; 1];
                    std::io::Read::read(&mut f, &mut b).map(|n| n == 1 && b[0] == b'{')
                })
                .unwrap_or(false);
        if json {
            if let Ok(img) = load_image(store, &d) {
                out.push(img);
            }
        }
    }
    Ok(out)
}

/// What prune removed.
#[derive(Debug, Default, Clone)]
pub struct PruneReport {
    pub blobs: Vec<Digest>,
    pub snapshots: Vec<String>,
    pub temp_files: usize,
}

/// Removes content that neither a named image nor an image a container
/// uses (`in_use`, see [`remove`]) needs, and what interrupted pulls left
/// (temp blobs, half-unpacked snapshots). Callers must not prune while a
/// pull runs in the same state directory.
pub fn garbage_collect(store: &Store, in_use: InUse) -> Result<PruneReport, ImageError> {
    let repos = store.repositories()?;
    let mut keep_blobs: BTreeSet<Digest> = BTreeSet::new();
    let mut keep_snaps: BTreeSet<String> = BTreeSet::new();
    // Untagged images that containers still use keep their content.
    for img in stored_images(store)? {
        if !in_use(&img.id).is_empty() {
            keep_blobs.insert(img.manifest_digest.clone());
            keep_blobs.insert(img.id.clone());
            keep_blobs.extend(img.manifest.layers.iter().map(|l| l.digest.clone()));
            keep_snaps.extend(img.chain_ids.iter().map(|c| c.hex().to_string()));
        }
    }
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
