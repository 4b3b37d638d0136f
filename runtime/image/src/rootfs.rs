//! A container's root filesystem: an overlay mount of the image's snapshots
//! (lowerdirs, top layer first) under the container's own upper and work
//! directories.

use std::os::unix::fs::MetadataExt;
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
    #[error(
        "the image has {0} layers; overlayfs stacks at most {OVERLAY_MAX_STACK}: squash or rebuild it with fewer layers"
    )]
    TooDeep(usize),
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

/// Reads the file at `rel` (relative to the root, e.g. `etc/passwd`) as the
/// container's overlay would show it, without mounting anything: from the
/// container's `upper` directory if it has the file, else from the image's
/// snapshots, top layer first, honouring overlayfs whiteouts (a 0/0
/// character device) and opaque directories on the way down. `None` when
/// the file does not exist, is not a regular file (a symlink is not
/// followed), or is larger than `limit` bytes.
///
/// The daemon reads `/etc/passwd` and `/etc/group` this way to check a
/// container's user before anything on the host changes.
pub fn read_layered(
    store: &Store,
    image: &LocalImage,
    upper: &Path,
    rel: &str,
    limit: u64,
) -> Option<Vec<u8>> {
    let layers = std::iter::once(upper.to_path_buf()).chain(image_layers(store, image));
    let here = locate(layers, rel)?;
    let meta = std::fs::symlink_metadata(&here).ok()?;
    if !meta.file_type().is_file() || meta.len() > limit {
        return None;
    }
    std::fs::read(&here).ok()
}

/// Whether `rel` exists in the image itself (below any container's upper
/// dir): what `docker diff` tells a change from an addition by.
pub fn in_image(store: &Store, image: &LocalImage, rel: &str) -> bool {
    locate(image_layers(store, image), rel).is_some()
}

/// The image's snapshots, top layer first.
fn image_layers<'a>(
    store: &'a Store,
    image: &'a LocalImage,
) -> impl Iterator<Item = std::path::PathBuf> + 'a {
    image
        .chain_ids
        .iter()
        .rev()
        .map(|c| snapshot_path(store, c))
}

/// The top-most entry at `rel` in `layers` (top first), honouring
/// whiteouts (a 0/0 character device) and opaque directories on the way
/// down; a symlink on the way is not followed.
fn locate(
    layers: impl Iterator<Item = std::path::PathBuf>,
    rel: &str,
) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    'layers: for layer in layers {
        let mut here = layer;
        let mut opaque = false;
        for (i, part) in parts.iter().enumerate() {
            here.push(part);
            let Ok(meta) = std::fs::symlink_metadata(&here) else {
                if opaque {
                    return None;
                }
                continue 'layers;
            };
            let ft = meta.file_type();
            if ft.is_char_device() && meta.rdev() == 0 {
                return None; // a whiteout hides it in every lower layer
            }
            if i + 1 == parts.len() {
                return Some(here);
            }
            if !ft.is_dir() {
                return None;
            }
            opaque |= is_opaque(&here);
        }
    }
    None
}

/// Whether overlayfs marks `dir` opaque (its lower layers' content hidden).
fn is_opaque(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut buf = [0u8; 2];
    // SAFETY: both strings are NUL-terminated and `buf` is writable for
    // its length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    n == 1 && buf[0] == b'y'
}

/// Mounts the image's root at `target` with the container's `upper` and
/// `work` directories (which must exist, on one filesystem).
/// overlayfs' limit on lower layers (OVL_MAX_STACK); past it the kernel
/// only says EINVAL (issue 17: a 1000-layer image gave that bare error).
pub const OVERLAY_MAX_STACK: usize = 500;

pub fn mount_rootfs(
    store: &Store,
    image: &LocalImage,
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), RootfsError> {
    if image.chain_ids.len() > OVERLAY_MAX_STACK {
        return Err(RootfsError::TooDeep(image.chain_ids.len()));
    }
    for chain in &image.chain_ids {
        let p = snapshot_path(store, chain);
        if !p.is_dir() {
            return Err(RootfsError::MissingSnapshot(p));
        }
    }
    let opts = match overlay_options(store, image, upper, work) {
        Ok(o) => o,
        // Deep images: the new mount API takes one lower layer per call,
        // with no page limit (overlayfs "lowerdir+", Linux 6.8+).
        Err(RootfsError::TooManyLayers { .. }) => {
            let lowers: Vec<PathBuf> = image
                .chain_ids
                .iter()
                .rev()
                .map(|c| snapshot_path(store, c))
                .collect();
            return mount_lowerdir_plus(&lowers, upper, work, target);
        }
        Err(e) => return Err(e),
    };
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

/// Overlay mount through fsopen/fsconfig/fsmount/move_mount, one
/// `lowerdir+` per layer (top first), for images whose lowerdir option
/// would not fit in mount(2)'s one-page data argument.
fn mount_lowerdir_plus(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), RootfsError> {
    use std::ffi::CString;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
    let err = |_: ()| RootfsError::Mount {
        target: target.to_path_buf(),
        source: nix::Error::last(),
    };
    let cstr = |p: &Path| {
        CString::new(p.as_os_str().as_bytes()).map_err(|_| RootfsError::BadPath(p.to_path_buf()))
    };
    let fstype = CString::new("overlay").expect("no NUL");
    // SAFETY: plain syscalls on valid C strings; returned fds are owned below.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
    if fs < 0 {
        return Err(err(()));
    }
    let fs = unsafe { OwnedFd::from_raw_fd(fs as i32) };
    let set = |key: &str, value: &Path| -> Result<(), RootfsError> {
        let k = CString::new(key).expect("no NUL");
        let v = cstr(value)?;
        // SAFETY: valid fd and C strings.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                std::os::fd::AsRawFd::as_raw_fd(&fs),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        };
        if r < 0 {
            Err(err(()))
        } else {
            Ok(())
        }
    };
    for l in lowers {
        set("lowerdir+", l)?;
    }
    set("upperdir", upper)?;
    set("workdir", work)?;
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fs);
    // SAFETY: valid fd; null key/value as FSCONFIG_CMD_CREATE requires.
    if unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            raw,
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    } < 0
    {
        return Err(err(()));
    }
    // SAFETY: valid fs context fd.
    let mnt = unsafe { libc::syscall(libc::SYS_fsmount, raw, FSMOUNT_CLOEXEC, 0) };
    if mnt < 0 {
        return Err(err(()));
    }
    let mnt = unsafe { OwnedFd::from_raw_fd(mnt as i32) };
    let t = cstr(target)?;
    let empty = CString::new("").expect("no NUL");
    // SAFETY: valid mount fd and C strings.
    if unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            std::os::fd::AsRawFd::as_raw_fd(&mnt),
            empty.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    } < 0
    {
        return Err(err(()));
    }
    Ok(())
}
