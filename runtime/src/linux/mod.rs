//! The Linux executor: turns a bundle into a namespaced, cgroup-limited,
//! locked-down process.
//!
//! The runtime ([`launch`]) re-executes itself from a sealed memfd
//! ([`exe`]) as the container's init ([`init`]); the two speak the typed
//! protocol of [`channel`]. The init applies the mount plan ([`rootfs`]),
//! then the process's security settings ([`security`]) and becomes the
//! user program. [`cgroups`] and [`hooks`] are used by both sides.
pub mod cgroups;
pub mod channel;
pub mod exe;
pub mod hooks;
pub mod init;
pub mod launch;
pub mod rootfs;
pub mod security;

/// A pidfd of `pid` (readable once it has exited); None when the process
/// is gone or the kernel has no pidfd_open (before 5.3).
pub fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative return is a new fd that we own.
    (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}
