//! One mount of a stopped container's root filesystem at a time: a copy
//! and a start would otherwise mount two overlays on the same upper and
//! work directories, which overlayfs refuses or leaves undefined. A copy
//! takes the container's lock for as long as its view is open; a start
//! takes it while it mounts.

use std::collections::HashSet;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

static HELD: Mutex<Option<HashSet<String>>> = Mutex::new(None);
static FREED: Condvar = Condvar::new();

/// How long a start waits for a copy (copies are short; a stuck client
/// must not keep a container from starting).
const WAIT: Duration = Duration::from_secs(60);

/// Container `id`'s lock, released when dropped.
pub struct RootfsLock {
    id: Option<String>,
}

impl RootfsLock {
    /// Takes the lock, waiting up to a minute for whoever holds it; after
    /// that, goes on without it (and says so).
    pub fn take(id: &str) -> RootfsLock {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = std::time::Instant::now() + WAIT;
        while held.get_or_insert_with(HashSet::new).contains(id) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                tracing::warn!(container = %id, "going on while a copy still holds the root filesystem");
                return RootfsLock { id: None };
            }
            held = FREED
                .wait_timeout(held, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        held.get_or_insert_with(HashSet::new).insert(id.to_string());
        RootfsLock {
            id: Some(id.to_string()),
        }
    }
}

impl Drop for RootfsLock {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(h) = held.as_mut() {
                h.remove(&id);
            }
            FREED.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_for_the_first() {
        let first = RootfsLock::take("lock-test");
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let _second = RootfsLock::take("lock-test");
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        let _other = RootfsLock::take("another-container");
        drop(first);
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        t.join().unwrap();
    }
}
