//! A shim started ahead of the start that needs it (see `shim::spare`).
//!
//! Once a start that took the spare (or started a shim itself, for the
//! first) is done, another is started on a thread of its own. A spare waits on a pipe from
//! the daemon: when the daemon stops, its end closes and the spare exits.
//! One is kept, so an idle daemon that started a container has one more
//! process, of about a megabyte, waiting.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

#[derive(Default)]
pub struct ShimPool {
    ready: Mutex<Option<Child>>,
    filling: AtomicBool,
}

impl ShimPool {
    /// The spare, given `args` (the shim's arguments, as
    /// `ShimArgs::to_args`), if one is ready and took them; else `None`,
    /// and the caller starts a shim. The start starts another spare once
    /// it is done ([`ShimPool::refill`]).
    pub fn take(self: &Arc<Self>, args: &[String]) -> Option<Child> {
        let mut child = self.ready.lock().unwrap().take()?;
        let line = serde_json::to_string(args).ok()?;
        let given = child
            .stdin
            .take()
            .is_some_and(|mut stdin| writeln!(stdin, "{line}").is_ok());
        if given {
            return Some(child);
        }
        // Gone meanwhile (killed): reaped, and a shim is started instead.
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Starts a spare on a thread of its own unless one is ready or being
    /// started. The pool is held weakly: one dropped meanwhile gets none.
    pub fn refill(self: &Arc<Self>, spare: impl FnOnce() -> Command) {
        if self.ready.lock().unwrap().is_some() || self.filling.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut cmd = spare();
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let weak: Weak<ShimPool> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("shim-spare".into())
            .spawn(move || {
                let child = cmd.spawn();
                let Some(pool) = weak.upgrade() else {
                    return;
                };
                match child {
                    Ok(c) => *pool.ready.lock().unwrap() = Some(c),
                    Err(e) => tracing::debug!(error = %e, "a spare shim could not be started"),
                }
                pool.filling.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.filling.store(false, Ordering::Release);
        }
    }
}
