//! A container's root filesystem: an overlay mount of the image's snapshots
//! (lowerdirs, top layer first) under the container's own upper and work
//! directories.

use std::path::{Path, PathBuf};

use crate::images::LocalImage;
use crate::pull::snapshot_path;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("snapshot {0} of the image is missing; pull the image again")]
    MissingSnapshot(PathBuf),
    #[error("path {0} contains ':' or ',', which overlayfs options cannot carry")]
    BadPath(PathBuf),
    #[error(
        "the overlay options for {layers} layers are {len} bytes, over the kernel's one-page limit"
    )]
    TooManyLayers { layers: usize, len: usize },
    #[error("mount overlay on {target}: {source}")]
    Mount {
        target: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("unmount {target}: {source}")]
    Unmount {
        target: PathBuf,
        #[source]
        source: nix::Error,
    },
}

/// The overlay mount options for `image` (pure; unit-testable).
pub fn overlay_options(
    store: &Store,
    image: &LocalImage,
    upper: &Path,
    work: &Path,
) -> Result<String, RootfsError> {
    let mut lowers = Vec::new();
    for chain in image.chain_ids.iter().rev() {
        lowers.push(snapshot_path(store, chain));
    }
    for p in lowers.iter().map(PathBuf::as_path).chain([upper, work]) {
        let s = p.to_string_lossy();
        if s.contains(':') || s.contains(',') {
            return Err(RootfsError::BadPath(p.to_path_buf()));
        }
    }
    let lower = lowers
        .iter()
        .map(|p| p.to_string_lossy())
        .collect::<Vec<_>>()
        .join(":");
    let opts = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    // The mount(2) data argument is one page.
    if opts.len() >= 4096 {
        return Err(RootfsError::TooManyLayers {
            layers: lowers.len(),
            len: opts.len(),
        });
    }
    Ok(opts)
}

/// Mounts the image's root at `target` with the container's `upper` and
/// `work` directories (which must exist, on one filesystem).
pub fn mount_rootfs(
    store: &Store,
    image: &LocalImage,
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), RootfsError> {
    for chain in &image.chain_ids {
        let p = snapshot_path(store, chain);
        if !p.is_dir() {
            return Err(RootfsError::MissingSnapshot(p));
        }
    }
    let opts = overlay_options(store, image, upper, work)?;
    nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(opts.as_str()),
    )
    .map_err(|source| RootfsError::Mount {
        target: target.to_path_buf(),
        source,
    })
}

/// Unmounts a root mounted by [`mount_rootfs`] (lazily, so a busy mount is
/// detached rather than left behind).
pub fn unmount_rootfs(target: &Path) -> Result<(), RootfsError> {
    nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH).map_err(|source| {
        RootfsError::Unmount {
            target: target.to_path_buf(),
            source,
        }
    })
}
