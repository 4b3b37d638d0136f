//! rrun volumes: named and anonymous volumes under the state directory.
//!
//! Pure modules: [`name`] (checked volume names), [`mountspec`] (Docker's
//! `-v`/`--mount`/`--tmpfs`/`--volumes-from` grammar), [`plan`] (a
//! container's mount list and its OCI mounts), [`filters`] (list and prune
//! filters), [`driver`]'s option parsing.
//! Modules that act: [`store`] (the volume store, usage tracking),
//! [`driver`] (mounting tmpfs and named binds), [`copyup`] (filling a new
//! volume from the image), [`attach`] (a container's volumes in one call).
//!
//! How the daemon uses it:
//!
//! ```text
//! store = VolumeStore::open("<state>/volumes")        at start-up, then
//! store.reconcile(&live_container_ids)                forget users that died
//!
//! rrun run -v db:/var/lib/mysql --tmpfs /run …
//!   specs   = mountspec::parse_volume_flag / parse_mount_flag / parse_tmpfs_flag
//!   from    = mountspec::parse_volumes_from
//!   planned = plan::plan_mounts(&MountRequest{specs, image_volumes, volumes_from},
//!                               |id| saved planned mounts of container id,
//!                               VolumeName::random)             keep `planned` with the container
//!   store.attach(id, &planned, Some(rootfs))    first start: create, use, copy up
//!   store.attach(id, &planned, None)            later starts
//!   oci mounts = plan::to_oci_mounts(&planned, |n| store.data_path(n))
//! container stopped:  store.detach(id, &planned)
//! rm -v / --rm:       store.remove_anonymous(&planned)
//! API:  store.create / get / list / remove / prune
//! ```

pub mod attach;
pub mod copyup;
pub mod driver;
pub mod filters;
pub mod mountspec;
pub mod name;
pub mod plan;
pub mod propagation;
pub mod store;

pub use name::VolumeName;
pub use store::{CreateRequest, PruneReport, StoreError, Volume, VolumeStore};
