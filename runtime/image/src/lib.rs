//! rrun images: references, registry client, content store, snapshots.
//!
//! The daemon calls [`pull::pull`] (or the `ImageService` wrapper), reads the
//! run defaults with [`ImageService::config`], and mounts a container's root
//! with [`snapshot::mount_rootfs`].

pub mod images;
pub mod manifest;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod rootfs;
pub mod store;
pub mod unpack;

pub use manifest::{ContainerConfig, Healthcheck, ImageConfig, Platform};
pub use reference::{Digest, Reference, ReferenceError};
pub use store::{Store, StoreError};
