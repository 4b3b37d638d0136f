//! rrun's engine.
//!
//! - [`spec`]: pure checks and plans over an OCI runtime spec (validation,
//!   mount order, capability sets, cgroup resources, seccomp compilation).
//! - [`linux`]: the executor that turns a bundle into a namespaced,
//!   cgroup-limited, locked-down process.
//! - [`oci`]: the runc-compatible command line on top of the executor.
pub mod linux;
pub mod oci;
pub mod spec;
