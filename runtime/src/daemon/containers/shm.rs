//! The `/dev/shm` of a container made with `--ipc shareable`: a tmpfs the
//! daemon mounts at `<container dir>/shm`, outside any container, bound at
//! the container's `/dev/shm` and at that of each `--ipc container:` one
//! that joins it (a mount made inside one container's mount namespace
//! cannot be bound into another's). Docker does the same.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

/// Where the tmpfs is mounted.
pub fn path(container_dir: &Path) -> PathBuf {
    container_dir.join("shm")
}

/// Mounts the tmpfs (`size` bytes, sticky world-writable, no devices,
/// suid or exec), replacing a stale one.
pub fn mount_shm(container_dir: &Path, size: i64) -> std::io::Result<()> {
    let p = path(container_dir);
    std::fs::create_dir_all(&p)?;
    let _ = umount2(&p, MntFlags::MNT_DETACH);
    mount(
        Some("shm"),
        &p,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(format!("mode=1777,size={size}").as_str()),
    )
    .map_err(std::io::Error::from)
}

/// Unmounts it when the container stops or goes (nothing if never made).
pub fn unmount_shm(container_dir: &Path) {
    let _ = umount2(&path(container_dir), MntFlags::MNT_DETACH);
}
