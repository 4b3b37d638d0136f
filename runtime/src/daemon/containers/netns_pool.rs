//! Network namespaces made ahead of the starts that need them.
//!
//! Making one for a container (a thread's `unshare(CLONE_NEWNET)`, the bind
//! mount that keeps it, its loopback brought up over netlink) is about a
//! millisecond of every start. A couple are kept ready instead, made on a
//! thread of their own after a start that took one is done; a start binds
//! one at its container's path with one mount call, and makes one itself
//! only when none is ready. A spare is kept by the daemon's open descriptor
//! of it, not by a mount: it goes with the daemon however the daemon ends,
//! and taking it unmounts nothing (an unmount waits for an RCU grace
//! period, on the start's path). Daemons before this one kept them as bind
//! mounts `.spare-<n>` beside the containers' namespaces: those are removed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use netd::netns::NetNs;

/// How many namespaces are kept ready.
const SPARES: usize = 2;
/// The bind mounts of an earlier daemon's spares.
const OLD_PREFIX: &str = ".spare-";

pub struct NetnsPool {
    ready: Mutex<Vec<NetNs>>,
    filling: AtomicBool,
}

impl NetnsPool {
    /// An empty pool; `dir`, the containers' namespace directory, is rid of
    /// the spares an earlier daemon kept there.
    pub fn new(dir: PathBuf) -> Arc<NetnsPool> {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(OLD_PREFIX) {
                netd::netns::remove(&e.path());
            }
        }
        Arc::new(NetnsPool {
            ready: Mutex::new(Vec::new()),
            filling: AtomicBool::new(false),
        })
    }

    /// Makes `dest` a new network namespace with its loopback up: a spare
    /// bound there, or one made now. The start fills the pool again once
    /// it is done ([`NetnsPool::refill`]).
    pub fn take(self: &Arc<Self>, dest: &Path) -> io::Result<()> {
        let spare = self.ready.lock().unwrap().pop();
        match spare {
            Some(s) => s.bind_at(dest).or_else(|e| {
                tracing::debug!(error = %e, "a spare network namespace could not be bound");
                netd::netns::remove(dest);
                make(dest)
            }),
            None => make(dest),
        }
    }

    /// How many spares are ready.
    fn ready(&self) -> usize {
        self.ready.lock().unwrap().len()
    }

    /// Makes spares on a thread of its own until there are [`SPARES`]; one
    /// filler at a time. It holds the pool weakly: a pool dropped meanwhile
    /// gets no more.
    pub fn refill(self: &Arc<Self>) {
        if self.filling.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<NetnsPool> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("netns-spares".into())
            .spawn(move || {
                while let Some(pool) = weak.upgrade() {
                    if pool.ready() >= SPARES {
                        pool.filling.store(false, Ordering::Release);
                        return;
                    }
                    match make_spare() {
                        Ok(ns) => pool.ready.lock().unwrap().push(ns),
                        Err(e) => {
                            tracing::debug!(error = %e, "make a spare network namespace");
                            pool.filling.store(false, Ordering::Release);
                            return;
                        }
                    }
                }
            });
        if spawned.is_err() {
            self.filling.store(false, Ordering::Release);
        }
    }
}

/// A new namespace kept at `path`, its loopback up.
fn make(path: &Path) -> io::Result<()> {
    netd::netns::create(path)?;
    let ns = NetNs::open(path)?;
    netd::link::loopback_up(&ns).map_err(io::Error::other)
}

/// A new namespace kept by its descriptor alone, its loopback up.
fn make_spare() -> io::Result<NetNs> {
    let ns = netd::netns::create_unnamed()?;
    netd::link::loopback_up(&ns).map_err(io::Error::other)?;
    Ok(ns)
}
