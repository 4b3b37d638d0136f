//! rrun volumes: named and anonymous volumes under the state directory.
//!
//! Pure modules: [`name`] (checked volume names), [`mountspec`] (Docker's
//! `-v`/`--mount`/`--tmpfs`/`--volumes-from` grammar), [`plan`] (a
//! container's mount list and its OCI mounts), [`filters`].
//! Modules that act: [`store`] (the volume store, usage tracking, driver
//! mounts), [`copyup`] (filling a new volume from the image), [`driver`]
//! (the `local` driver's options and mounts).

pub mod attach;
pub mod copyup;
pub mod driver;
pub mod filters;
pub mod mountspec;
pub mod name;
pub mod plan;
pub mod store;

pub use name::VolumeName;
pub use store::{CreateRequest, PruneReport, StoreError, Volume, VolumeStore};
