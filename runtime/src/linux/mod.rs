//! The Linux executor: turns a bundle into a namespaced, cgroup-limited,
//! locked-down process.
//!
//! The runtime ([`launch`]) re-executes itself from a sealed memfd
//! ([`exe`]) as the container's init ([`init`]); the two speak the typed
//! protocol of [`channel`]. The init applies the mount plan ([`rootfs`]),
//! then the process's security settings ([`security`]) and becomes the
//! user program. [`cgroups`] and [`hooks`] are used by both sides.
pub mod attach_warm;
pub mod cgroup_self_move;
pub mod cgroups;
pub mod channel;
pub mod exe;
pub mod hooks;
pub mod init;
pub mod launch;
pub mod rootfs;
pub mod seccomp_bpf;
pub mod security;

pub use rrun_shim::pidfd_open;
