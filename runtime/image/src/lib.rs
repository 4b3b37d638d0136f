//! rrun images: references, registry client, content store, snapshots.
//!
//! What the daemon calls:
//! - [`pull::pull`] with a [`Store`], a [`registry::RegistryClient`] and
//!   [`pull::PullOptions`] (platform, parallelism, a progress callback
//!   receiving [`pull::Progress`] events from any thread). Blocking: run it
//!   on a plain thread or `spawn_blocking`.
//! - [`images::image_config`] / [`images::find_image`] for an image's run
//!   defaults ([`ImageConfig`]: Env, Entrypoint, Cmd, WorkingDir, User,
//!   ExposedPorts, Volumes, Labels, StopSignal, Healthcheck).
//! - [`push::push`] with [`push::PushOptions`] (progress as
//!   [`push::PushProgress`] events, chunked uploads, cancel); blocking too.
//! - [`registry::RegistryClient::login`] to check credentials and
//!   [`credentials::store_credential`] / [`credentials::erase_credential`]
//!   to keep them in Docker's config.json (or its helpers).
//! - [`layer::layer_from_upper`] (an overlay upper dir → a gzip layer with
//!   Docker's whiteouts) and [`commit::commit_image`] (a new image on a
//!   parent) for `commit` and build steps.
//! - [`rootfs::mount_rootfs`] / [`rootfs::unmount_rootfs`] for a
//!   container's overlay root.
//! - [`images`] list/inspect/tag/remove/garbage_collect (told which
//!   containers use an image: [`images::InUse`]) and [`archive`]
//!   save/load/import for the image API endpoints.

pub mod archive;
pub mod commit;
pub mod credentials;
pub mod distribution;
pub mod images;
pub mod layer;
pub mod manifest;
mod parallel;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
pub mod rootfs;
pub mod store;
mod stream;
mod timing;
pub mod unpack;

pub use manifest::{ContainerConfig, Healthcheck, ImageConfig, Platform};
pub use reference::{Digest, Reference, ReferenceError};
pub use store::{Store, StoreError};
