//! Pure logic over OCI runtime specs: what to do, decided without touching
//! the system, so every rule here is unit-tested without root.
//!
//! - [`validate`]: checks a bundle's config before anything is created.
//! - [`mounts`]: the ordered mount plan and mount option parsing.
//! - [`capabilities`]: capability sets from the spec.
//! - [`devices`]: the device cgroup rules.
//! - [`seccomp`]: the OCI seccomp section compiled to a BPF filter.
//! - [`state`]: container status and which lifecycle operations it allows.
//! - [`rlimits`]: rlimit names to resources.
pub mod capabilities;
pub mod devices;
pub mod mounts;
pub mod rlimits;
pub mod seccomp;
pub mod state;
pub mod validate;
