//! The host side of a container's planned mounts, in one call each for the
//! daemon: [`VolumeStore::attach`] before the container starts,
//! [`VolumeStore::detach`] after it stops, [`VolumeStore::remove_anonymous`]
//! for `rm -v` and `--rm`.
//!
//! `attach` checks every bind source before it changes anything, then for
//! each volume creates it if needed, records the use (mounting a tmpfs or
//! named bind) and copies the image's content in; on a failure it undoes
//! what it did and reports both the error and any failure to undo.

use std::fmt;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::plan::{PlannedMount, PlannedSource};
use crate::store::{CreateRequest, StoreError, VolumeStore, ANONYMOUS_LABEL};
use crate::VolumeName;

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("invalid mount config for type \"bind\": bind source path does not exist: {}", .0.display())]
    BindSourceMissing(PathBuf),
    #[error("create mount source {path:?}: {source}")]
    CreateBindSource {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{error}{}", Cleanup(.cleanup))]
    Store {
        error: StoreError,
        cleanup: Vec<StoreError>,
    },
}

/// Renders the errors met while undoing, after the main error.
struct Cleanup<'a>(&'a [StoreError]);

impl fmt::Display for Cleanup<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in self.0 {
            write!(f, "; while undoing: {e}")?;
        }
        Ok(())
    }
}

impl VolumeStore {
    /// Prepare `mounts` (from [`crate::plan::plan_mounts`]) for `container`.
    ///
    /// `copy_up_from` is the container's rootfs on its first start (Docker
    /// copies when the container is created, not on every start), `None`
    /// afterwards. Volumes marked `nocopy` are never filled; the store only
    /// fills empty volumes.
    pub fn attach(
        &self,
        container: &str,
        mounts: &[PlannedMount],
        copy_up_from: Option<&Path>,
    ) -> Result<(), AttachError> {
        // Check first: a missing `--mount type=bind` source fails before
        // anything is created.
        for m in mounts {
            if let PlannedSource::Bind {
                source,
                create_source: false,
                ..
            } = &m.source
            {
                if fs::symlink_metadata(source).is_err() {
                    return Err(AttachError::BindSourceMissing(source.clone()));
                }
            }
        }
        for m in mounts {
            if let PlannedSource::Bind {
                source,
                create_source: true,
                ..
            } = &m.source
            {
                if fs::symlink_metadata(source).is_err() {
                    // `-v /host/dir:/ctr` creates a missing host directory (Docker's
                    // long-standing behaviour for -v, not for --mount).
                    fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o755)
                        .create(source)
                        .map_err(|e| AttachError::CreateBindSource {
                            path: source.clone(),
                            source: e,
                        })?;
                }
            }
        }
        let mut done: Vec<(VolumeName, bool)> = Vec::new();
        for m in mounts {
            let PlannedSource::Volume { .. } = &m.source else {
                continue;
            };
            if let Err(error) = self.attach_volume(container, m, copy_up_from, &mut done) {
                let cleanup = self.undo(container, &done);
                return Err(AttachError::Store { error, cleanup });
            }
        }
        Ok(())
    }

    fn attach_volume(
        &self,
        container: &str,
        m: &PlannedMount,
        copy_up_from: Option<&Path>,
        done: &mut Vec<(VolumeName, bool)>,
    ) -> Result<(), StoreError> {
        let PlannedSource::Volume {
            name,
            anonymous,
            driver,
            driver_opts,
            labels,
            ..
        } = &m.source
        else {
            return Ok(());
        };
        let created = if *anonymous {
            let mut labels = labels.clone();
            labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
            let existed = self.get(name).is_ok();
            self.create(&CreateRequest {
                name: Some(name.clone()),
                driver: driver.clone(),
                driver_opts: driver_opts.clone(),
                labels,
            })?;
            !existed
        } else {
            if let Some(d) = driver.as_deref().filter(|d| *d != "local") {
                return Err(StoreError::Options {
                    name: name.to_string(),
                    source: crate::driver::DriverError::UnknownDriver(d.to_string()),
                });
            }
            self.ensure_with(name, driver_opts, labels)?.1
        };
        // Several mounts of one container may share a volume (e.g. through
        // --volumes-from and -v); the use is recorded once.
        let first_use = !done.iter().any(|(n, _)| n == name);
        if first_use {
            if let Err(e) = self.acquire(name, container) {
                if created {
                    let _ = self.remove(name, true);
                }
                return Err(e);
            }
            done.push((name.clone(), created));
        }
        if let (true, Some(rootfs)) = (m.wants_copy_up(), copy_up_from) {
            self.copy_up(name, rootfs, &m.destination)?;
        }
        Ok(())
    }

    fn undo(&self, container: &str, done: &[(VolumeName, bool)]) -> Vec<StoreError> {
        let mut errors = Vec::new();
        for (name, created) in done.iter().rev() {
            if let Err(e) = self.release(name, container) {
                errors.push(e);
                continue;
            }
            if *created {
                if let Err(e) = self.remove(name, true) {
                    errors.push(e);
                }
            }
        }
        errors
    }

    /// The container stopped: release every volume it used (unmounting
    /// tmpfs and named binds no one else uses). Goes on past failures and
    /// returns them all.
    pub fn detach(&self, container: &str, mounts: &[PlannedMount]) -> Vec<StoreError> {
        let mut seen = Vec::new();
        let mut errors = Vec::new();
        for name in mounts.iter().filter_map(PlannedMount::volume) {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            match self.release(name, container) {
                Ok(()) | Err(StoreError::NotFound(_)) => {}
                Err(e) => errors.push(e),
            }
        }
        errors
    }

    /// `rm -v` / `--rm`: remove the anonymous volumes among `mounts` that
    /// no other container uses. Named volumes are never removed this way.
    /// Returns the names removed and the failures (a volume still in use by
    /// another container is not a failure).
    pub fn remove_anonymous(&self, mounts: &[PlannedMount]) -> (Vec<VolumeName>, Vec<StoreError>) {
        let mut removed = Vec::new();
        let mut errors = Vec::new();
        for m in mounts {
            let PlannedSource::Volume {
                name,
                anonymous: true,
                ..
            } = &m.source
            else {
                continue;
            };
            match self.remove_if_anonymous(name) {
                Ok(true) => removed.push(name.clone()),
                Ok(false) | Err(StoreError::InUse { .. }) | Err(StoreError::NotFound(_)) => {}
                Err(e) => errors.push(e),
            }
        }
        (removed, errors)
    }
}
