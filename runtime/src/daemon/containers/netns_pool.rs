//! Network namespaces made ahead of the starts that need them.
//!
//! Making one for a container (a thread's `unshare(CLONE_NEWNET)`, the bind
//! mount that keeps it, its loopback brought up over netlink) is about a
//! millisecond of every start. A couple are kept ready instead, made on a
//! thread of their own after a start that took one is done; a start moves one to its
//! container's path with two mount calls, and makes one itself only when
//! none is ready. The spares live beside the containers' namespaces, as
//! `.spare-<n>` (a container id never starts with '.'): the daemon removes
//! them when it stops, and the next one removes what a killed one left.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// How many namespaces are kept ready.
const SPARES: usize = 2;
const PREFIX: &str = ".spare-";

pub struct NetnsPool {
    dir: PathBuf,
    ready: Mutex<Vec<PathBuf>>,
    filling: AtomicBool,
    next: AtomicU64,
}

impl NetnsPool {
    /// An empty pool keeping its spares in `dir`, the containers'
    /// namespace directory; the spares an earlier daemon left are removed.
    pub fn new(dir: PathBuf) -> Arc<NetnsPool> {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(PREFIX) {
                netd::netns::remove(&e.path());
            }
        }
        Arc::new(NetnsPool {
            dir,
            ready: Mutex::new(Vec::new()),
            filling: AtomicBool::new(false),
            next: AtomicU64::new(0),
        })
    }

    /// Makes `dest` a new network namespace with its loopback up: a spare
    /// moved there, or one made now. The start fills the pool again once
    /// it is done ([`NetnsPool::refill`]).
    pub fn take(self: &Arc<Self>, dest: &Path) -> io::Result<()> {
        let spare = self.ready.lock().unwrap().pop();
        let made = match spare {
            Some(s) => move_to(&s, dest).or_else(|e| {
                tracing::debug!(error = %e, "a spare network namespace could not be moved");
                netd::netns::remove(&s);
                netd::netns::remove(dest);
                make(dest)
            }),
            None => make(dest),
        };
        made
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
                    if pool.ready.lock().unwrap().len() >= SPARES {
                        pool.filling.store(false, Ordering::Release);
                        return;
                    }
                    let n = pool.next.fetch_add(1, Ordering::Relaxed);
                    let path = pool.dir.join(format!("{PREFIX}{n}"));
                    if let Err(e) = make(&path) {
                        tracing::debug!(error = %e, "make a spare network namespace");
                        netd::netns::remove(&path);
                        pool.filling.store(false, Ordering::Release);
                        return;
                    }
                    pool.ready.lock().unwrap().push(path);
                }
            });
        if spawned.is_err() {
            self.filling.store(false, Ordering::Release);
        }
    }
}

impl Drop for NetnsPool {
    fn drop(&mut self) {
        for s in self.ready.get_mut().unwrap().drain(..) {
            netd::netns::remove(&s);
        }
    }
}

/// A new namespace kept at `path`, its loopback up.
fn make(path: &Path) -> io::Result<()> {
    netd::netns::create(path)?;
    let ns = netd::netns::NetNs::open(path)?;
    netd::link::loopback_up(&ns).map_err(io::Error::other)
}

/// The namespace kept at `spare` kept at `dest` instead.
fn move_to(spare: &Path, dest: &Path) -> io::Result<()> {
    use nix::mount::{mount, MsFlags};
    std::fs::File::create(dest)?;
    mount(
        Some(spare),
        dest,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )?;
    netd::netns::remove(spare);
    Ok(())
}
