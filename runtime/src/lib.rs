//! rrun's engine.
//!
//! - [`spec`]: pure checks and plans over an OCI runtime spec (validation,
//!   mount order, capability sets, cgroup resources, seccomp compilation).
//! - [`linux`]: the executor that turns a bundle into a namespaced,
//!   cgroup-limited, locked-down process.
//! - [`oci`]: the runc-compatible command line on top of the executor.
//! - [`daemon`]: `rrund`, the Docker Engine API and container lifecycle.
//! - [`shim`]: the per-container process that outlives the daemon.
//! - [`apimodel`]: the Docker Engine API types rrund and the CLI share.
//! - [`cli`]: `rrun`, the Docker-style command line.
//!
//! No function here is longer than 80 lines (clippy.toml sets the
//! threshold; CI's clippy run denies warnings).
#![warn(clippy::too_many_lines)]
pub mod apimodel;
pub mod cli;
pub mod daemon;
pub mod linux;
pub mod oci;
pub mod shim;
pub mod spec;
pub mod state;
