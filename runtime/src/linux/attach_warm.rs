//! Takes the RCU grace period of a cgroup move off a container's start.
//!
//! Moving a process into a cgroup (a write to `cgroup.procs`) takes the
//! kernel's global `cgroup_threadgroup_rwsem` for writing. That is a
//! per-cpu rwsem: its writer first switches every reader to the slow path
//! and waits for an RCU grace period (`rcu_sync_enter`), unless another
//! writer did so less than a grace period ago. On an otherwise quiet host
//! the container's init was the first writer, so `create` waited 5–16 ms
//! (on this 2-core VM) in its first `cgroup.procs` write; the eight other v1
//! hierarchies' writes took 0.02 ms each.
//!
//! The daemon knows a start is coming well before the executor moves the
//! init: at `create`, and at `start` before the rootfs, the network and the
//! shim. [`warm`] then has a thread of its own write the daemon's pid into
//! the cgroup it is already in (a move to nowhere, which takes the same
//! lock) every few milliseconds for a short while. The grace period is
//! waited there, beside the daemon's other work, and the init's move finds
//! the lock's slow path already on: 0.2 ms for the nine moves instead of
//! 5–16 ms. The kernel's own way to the same end is the `favordynmods`
//! mount option, which keeps the slow path on for good; this keeps it on
//! only while containers start. Readers of the lock (every fork and exit on
//! the host) take the slow path meanwhile, as they do during any cgroup
//! move.

use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the lock stays warm after the last [`warm`].
const WINDOW: Duration = Duration::from_millis(150);
/// Less than a grace period: each write finds the last one's window open.
const PERIOD: Duration = Duration::from_millis(3);

struct Warmer {
    until: Mutex<Instant>,
    kick: Condvar,
}

static WARMER: OnceLock<Warmer> = OnceLock::new();

/// Keeps cgroup moves cheap for the next [`WINDOW`] (see the module).
/// Never blocks; does nothing where the daemon's cgroup cannot be found,
/// and on cgroup v1, where the init moves itself without the lock (see
/// `cgroup_self_move`): a warming write there only made forks wait.
pub fn warm() {
    if !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return;
    }
    static STARTED: std::sync::Once = std::sync::Once::new();
    let w = WARMER.get_or_init(|| Warmer {
        until: Mutex::new(Instant::now()),
        kick: Condvar::new(),
    });
    STARTED.call_once(|| {
        if let Some(procs) = own_procs_file() {
            let _ = std::thread::Builder::new()
                .name("cgroup-warm".into())
                .spawn(move || run(procs));
        }
    });
    *w.until.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now() + WINDOW;
    w.kick.notify_one();
}

fn run(procs: std::path::PathBuf) {
    let w = WARMER.get().expect("set before the thread starts");
    let me = std::process::id().to_string();
    loop {
        let mut until = w.until.lock().unwrap_or_else(|e| e.into_inner());
        while Instant::now() >= *until {
            until = w.kick.wait(until).unwrap_or_else(|e| e.into_inner());
        }
        drop(until);
        if std::fs::write(&procs, &me).is_err() {
            tracing::debug!(file = %procs.display(), "cannot keep cgroup moves warm");
            return;
        }
        std::thread::sleep(PERIOD);
    }
}

/// `cgroup.procs` of the daemon's own cgroup in one hierarchy: a v1
/// controller's (any will do: the lock is global), else the unified one.
fn own_procs_file() -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    procs_file(&text, std::path::Path::new("/sys/fs/cgroup")).filter(|p| p.exists())
}

fn procs_file(proc_cgroup: &str, root: &std::path::Path) -> Option<std::path::PathBuf> {
    let mut unified = None;
    for (ctrls, path) in rrun_shim::proc_cgroup_lines(proc_cgroup) {
        let rel = path.trim_start_matches('/');
        match ctrls
            .split(',')
            .find(|c| !c.is_empty() && !c.starts_with("name="))
        {
            Some(c) => return Some(root.join(c).join(rel).join("cgroup.procs")),
            None if ctrls.is_empty() => unified = Some(rel),
            None => {}
        }
    }
    // A v2 host mounts the unified tree at the root; a hybrid one beside.
    unified.map(|rel| {
        let hybrid = root.join("unified");
        let base = if hybrid.exists() {
            hybrid
        } else {
            root.to_path_buf()
        };
        base.join(rel).join("cgroup.procs")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_v1_controller_first_else_the_unified_tree() {
        let root = Path::new("/nonexistent-cgroup-root");
        let hybrid = "12:pids:/system.slice/rrund.service\n1:name=systemd:/system.slice/rrund.service\n0::/system.slice/rrund.service\n";
        assert_eq!(
            procs_file(hybrid, root).unwrap(),
            root.join("pids/system.slice/rrund.service/cgroup.procs")
        );
        let v2 = "0::/system.slice/rrund.service\n";
        assert_eq!(
            procs_file(v2, root).unwrap(),
            root.join("system.slice/rrund.service/cgroup.procs")
        );
        let merged = "4:cpu,cpuacct:/\n";
        assert_eq!(
            procs_file(merged, root).unwrap(),
            root.join("cpu/cgroup.procs")
        );
        assert_eq!(procs_file("1:name=systemd:/x\n", root), None);
    }
}
