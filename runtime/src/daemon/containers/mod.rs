//! The containers service: the name index, create, rename and remove.

pub mod archive;
pub mod changes;
pub mod create;
pub mod filter;
pub mod health;
pub mod index;
pub mod inspect;
pub mod lifecycle;
pub mod links;
pub mod list;
pub mod logopts;
pub mod netns_pool;
pub mod network;
pub mod pause;
pub mod plan;
pub mod ports;
pub mod reconcile;
pub mod shim_pool;
pub mod shm;
pub mod start;

use std::path::PathBuf;

use tokio::sync::watch;

use crate::daemon::store::{Container, State};
use crate::daemon::*;

impl Daemon {
    pub(crate) fn dir(&self, id: &str) -> PathBuf {
        store::containers_dir(&self.opts.data_root).join(id)
    }

    /// Finds a container by full id, name, or unique id prefix.
    pub fn resolve(&self, name: &str) -> Result<String, ContainerError> {
        use containers::index::Lookup;
        let bare = name.trim_start_matches('/').to_string();
        self.containers
            .lock()
            .unwrap()
            .resolve(name)
            .map_err(|e| match e {
                Lookup::NotFound => ContainerError::NoSuchContainer(bare),
                Lookup::Ambiguous => ContainerError::AmbiguousPrefix(bare),
            })
    }

    /// Every container's record.
    pub fn all(&self) -> Vec<Container> {
        self.containers
            .lock()
            .unwrap()
            .values()
            .map(|e| e.c.clone())
            .collect()
    }

    /// The record of a container by id, name, or unique id prefix.
    pub fn container(&self, id: &str) -> Result<Container, ContainerError> {
        let id = self.resolve(id)?;
        self.containers
            .lock()
            .unwrap()
            .get(&id)
            .map(|e| e.c.clone())
            .ok_or(ContainerError::NoSuchContainer(id))
    }

    /// [`Daemon::container`] as an [`ApiError`], for the create planning
    /// (containers/create.rs, plan_links) until it returns typed errors.
    pub fn get(&self, id: &str) -> ApiResult<Container> {
        Ok(self.container(id)?)
    }

    pub fn subscribe(&self, id: &str) -> Result<watch::Receiver<State>, ContainerError> {
        let id = self.resolve(id)?;
        self.containers
            .lock()
            .unwrap()
            .get(&id)
            .map(|e| e.tx.subscribe())
            .ok_or(ContainerError::NoSuchContainer(id))
    }

    /// Changes a container's record, saves it, and tells the waiters.
    pub(crate) fn update(
        &self,
        id: &str,
        f: impl FnOnce(&mut Container),
    ) -> Result<Container, ContainerError> {
        self.change(id, f, true)
    }

    /// [`Daemon::update`] in memory only, for a record that is removed
    /// next (an auto-remove container's exit): a crash in between leaves
    /// the saved record, which start-up reconciles with the shim's.
    pub(crate) fn update_unsaved(
        &self,
        id: &str,
        f: impl FnOnce(&mut Container),
    ) -> Result<Container, ContainerError> {
        self.change(id, f, false)
    }

    fn change(
        &self,
        id: &str,
        f: impl FnOnce(&mut Container),
        save: bool,
    ) -> Result<Container, ContainerError> {
        let mut map = self.containers.lock().unwrap();
        let e = map
            .get_mut(id)
            .ok_or_else(|| ContainerError::NoSuchContainer(id.to_string()))?;
        f(&mut e.c);
        if !save {
            e.tx.send_replace(e.c.state.clone());
            return Ok(e.c.clone());
        }
        // Saved before the waiters are told (one of them may remove the
        // container's directory), and told even when it could not be saved
        // (a full disk): the record in memory is the truth, a container
        // exited or a process started; the caller gets the error.
        let saved = store::resave(&self.opts.data_root, &e.c);
        e.tx.send_replace(e.c.state.clone());
        saved.map_err(|err| {
            tracing::warn!(container = %id, error = %err, "the container's record could not be saved");
            ContainerError::internal(err)
        })?;
        Ok(e.c.clone())
    }

    /// Renames container `id`: the name is checked, moved and saved in one
    /// critical section; a failed save puts the old name back.
    pub(crate) fn rename_record(
        &self,
        id: &str,
        new_name: &str,
    ) -> Result<Container, ContainerError> {
        let mut ix = self.containers.lock().unwrap();
        let old = ix
            .get(id)
            .map(|e| e.c.name.clone())
            .ok_or_else(|| ContainerError::NoSuchContainer(id.to_string()))?;
        ix.rename(id, new_name)
            .map_err(|other| name_conflict(new_name, &other.0))?;
        let e = ix.get(id).expect("renamed above");
        if let Err(e) = store::resave(&self.opts.data_root, &e.c) {
            let _ = ix.rename(id, &old);
            return Err(ContainerError::internal(e));
        }
        Ok(e.c.clone())
    }

    pub(crate) fn insert(&self, c: Container) {
        self.containers.lock().unwrap().insert(c);
    }

    /// Takes the container's name (or a random free one) for it.
    pub(crate) fn reserve_name(&self, c: &mut Container) -> Result<(), ContainerError> {
        let mut ix = self.containers.lock().unwrap();
        if c.name.is_empty() {
            c.name = loop {
                let n = store::random_name();
                if ix.name_free(&n) {
                    break n;
                }
            };
        }
        ix.reserve(&c.name, &c.id)
            .map_err(|other| name_conflict(&c.name, &other.0))
    }
}

/// Docker's 409 for a name another container holds.
pub fn name_conflict(name: &str, holder: &str) -> ContainerError {
    ContainerError::NameInUse {
        name: name.to_string(),
        holder: holder.to_string(),
    }
}
