//! The containers in memory, by id and by name, under one lock.
//!
//! Docker's names are unique. A name is taken by [`Index::reserve`] in the
//! same critical section that checks it, before the create goes on to plan
//! mounts and write its record; the reservation becomes the container's
//! name when [`Index::insert`] adds it, or is given back by
//! [`Index::release`] when the create fails. A rename checks and moves the
//! name in one critical section too. So two creates or renames onto one
//! name cannot both win (before, the check and the insert took the lock
//! twice, and 20 concurrent creates of one name could give two winners).

use std::collections::HashMap;

use tokio::sync::watch;

use crate::daemon::store::{Container, State};

/// One container in memory: its record and a channel that carries every
/// state change to waiters and log followers.
pub struct Entry {
    pub c: Container,
    pub tx: watch::Sender<State>,
}

/// How a name or id failed to resolve.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    NotFound,
    Ambiguous,
}

/// The name is held by the container with this id (or by a create that is
/// still making it).
#[derive(Debug, PartialEq, Eq)]
pub struct NameInUse(pub String);

#[derive(Default)]
pub struct Index {
    by_id: HashMap<String, Entry>,
    /// Every name in use or reserved → the id holding it.
    names: HashMap<String, String>,
}

impl Index {
    /// Takes `name` for the container `id` about to be created.
    pub fn reserve(&mut self, name: &str, id: &str) -> Result<(), NameInUse> {
        if let Some(other) = self.names.get(name) {
            return Err(NameInUse(other.clone()));
        }
        self.names.insert(name.to_string(), id.to_string());
        Ok(())
    }

    /// Gives back a name reserved by a create that failed.
    pub fn release(&mut self, name: &str, id: &str) {
        if self.names.get(name).is_some_and(|holder| holder == id) {
            self.names.remove(name);
        }
    }

    /// Adds a container; its name is taken (again, for one read from disk).
    pub fn insert(&mut self, c: Container) {
        let (tx, _) = watch::channel(c.state.clone());
        self.names.insert(c.name.clone(), c.id.clone());
        self.by_id.insert(c.id.clone(), Entry { c, tx });
    }

    pub fn remove(&mut self, id: &str) -> Option<Entry> {
        let e = self.by_id.remove(id)?;
        self.release(&e.c.name, id);
        Some(e)
    }

    /// Moves container `id` to `new_name`, checked and changed at once.
    pub fn rename(&mut self, id: &str, new_name: &str) -> Result<(), NameInUse> {
        if let Some(other) = self.names.get(new_name) {
            return Err(NameInUse(other.clone()));
        }
        let Some(e) = self.by_id.get_mut(id) else {
            return Err(NameInUse(String::new()));
        };
        self.names.remove(&e.c.name);
        self.names.insert(new_name.to_string(), id.to_string());
        e.c.name = new_name.to_string();
        Ok(())
    }

    /// A full id, a name (with or without its `/`), or a unique id prefix.
    pub fn resolve(&self, name: &str) -> Result<String, Lookup> {
        let name = name.trim_start_matches('/');
        if name.is_empty() {
            return Err(Lookup::NotFound);
        }
        if self.by_id.contains_key(name) {
            return Ok(name.to_string());
        }
        if let Some(id) = self
            .names
            .get(name)
            .filter(|id| self.by_id.contains_key(*id))
        {
            return Ok(id.clone());
        }
        let mut matches = self.by_id.keys().filter(|k| k.starts_with(name));
        match (matches.next(), matches.next()) {
            (Some(one), None) => Ok(one.clone()),
            (Some(_), Some(_)) => Err(Lookup::Ambiguous),
            _ => Err(Lookup::NotFound),
        }
    }

    /// The id holding a name (used or reserved), if any.
    pub fn holder(&self, name: &str) -> Option<&str> {
        self.names.get(name).map(String::as_str)
    }

    /// Whether a name is free (neither used nor reserved).
    pub fn name_free(&self, name: &str) -> bool {
        !self.names.contains_key(name)
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.by_id.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Entry> {
        self.by_id.get_mut(id)
    }

    pub fn values(&self) -> impl Iterator<Item = &Entry> {
        self.by_id.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier, Mutex};

    fn container(id: &str, name: &str) -> Container {
        Container {
            id: id.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_name_is_taken_once() {
        let mut ix = Index::default();
        ix.reserve("web", "a1").unwrap();
        assert_eq!(ix.reserve("web", "b2"), Err(NameInUse("a1".into())));
        // A reservation is not a container yet.
        assert_eq!(ix.resolve("web"), Err(Lookup::NotFound));
        ix.insert(container("a1", "web"));
        assert_eq!(ix.resolve("/web").unwrap(), "a1");
        ix.release("web", "b2");
        assert!(
            !ix.name_free("web"),
            "another create's release keeps the name"
        );
        ix.remove("a1");
        assert!(ix.name_free("web"));
    }

    #[test]
    fn rename_checks_and_moves_at_once() {
        let mut ix = Index::default();
        ix.insert(container("a1", "one"));
        ix.insert(container("b2", "two"));
        assert_eq!(ix.rename("a1", "two"), Err(NameInUse("b2".into())));
        ix.rename("a1", "three").unwrap();
        assert!(ix.name_free("one"));
        assert_eq!(ix.resolve("three").unwrap(), "a1");
        assert_eq!(ix.get("a1").unwrap().c.name, "three");
    }

    #[test]
    fn prefixes_resolve_when_unique() {
        let mut ix = Index::default();
        ix.insert(container("abc1", "x"));
        ix.insert(container("abd2", "y"));
        assert_eq!(ix.resolve("abc").unwrap(), "abc1");
        assert_eq!(ix.resolve("ab"), Err(Lookup::Ambiguous));
        assert_eq!(ix.resolve(""), Err(Lookup::NotFound));
        assert_eq!(ix.resolve("zz"), Err(Lookup::NotFound));
    }

    #[test]
    fn twenty_threads_reserving_one_name_give_one_winner() {
        let ix = Arc::new(Mutex::new(Index::default()));
        let barrier = Arc::new(Barrier::new(20));
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let (ix, barrier) = (ix.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    ix.lock().unwrap().reserve("x", &format!("id{i}")).is_ok()
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .filter(|won| *won)
            .count();
        assert_eq!(wins, 1);
    }
}
