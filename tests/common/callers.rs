//! What the tests of rrun-oci's real callers (containerd, Podman) share.

use super::{host_mounts_containing, images};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The busybox test image as an OCI archive (a tar of its layout) in `dir`,
/// as `ctr images import` and `podman load` take it.
pub fn busybox_oci_archive(dir: &Path) -> PathBuf {
    let tar = dir.join("busybox.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(images().join("busybox/oci"))
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar the busybox OCI layout");
    tar
}

/// Detaches every mount under `dir` (a caller's snapshots or storage that
/// a failed test left), deepest first, so the directory can be removed.
pub fn detach_mounts_under(dir: &Path) {
    let mut mounts = host_mounts_containing(dir.to_str().unwrap());
    mounts.reverse();
    for m in mounts {
        if let Some(target) = m.split_whitespace().nth(4) {
            let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}
