//! Start-up: the containers on disk, their shims found again.

use std::sync::Arc;

use crate::daemon::store::{Container, State};
use crate::daemon::*;
use crate::shim::{self};

impl Daemon {
    /// Start-up: finds the containers on disk, re-attaches to the shims that
    /// still run, and records the end of those whose shim is gone.
    pub fn reconcile(self: &Arc<Self>) {
        let (all, broken) = store::load_all(&self.opts.data_root);
        for dir in broken {
            tracing::warn!(dir = %dir.display(), "removing a half-made container");
            let _ = nix::mount::umount2(&dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
            super::shm::unmount_shm(&dir);
            if let Some(id) = dir.file_name().and_then(|n| n.to_str()) {
                self.teardown_network(id);
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        // Volume users and network endpoints of containers that no longer
        // exist (a crash between their create and their record) go; no
        // volume's data is touched.
        let known: std::collections::BTreeSet<String> = all.iter().map(|c| c.id.clone()).collect();
        if let Err(e) = self.volumes.reconcile(&known) {
            tracing::warn!(error = %e, "reconcile the volume store");
        }
        if let Ok(nets) = self.netd.networks() {
            for n in nets {
                for id in n.containers.keys().filter(|id| !known.contains(*id)) {
                    tracing::info!(container = %id, network = %n.name, "removing an endpoint left by a crash");
                    let _ = self.netd.disconnect(n.id.as_str(), id);
                }
            }
        }
        for mut c in all {
            super::archive::clean_leftovers(&self.dir(&c.id));
            if !c.state.running {
                self.adopt_started(&mut c);
            }
            let running = c.state.running;
            let shim_pid = c.shim_pid;
            let id = c.id.clone();
            if !running {
                // A start that a crash cut short may have wired it already.
                self.teardown_network(&id);
            }
            self.insert(c);
            if running {
                if store::pid_alive(shim_pid) && store::is_shim_of(shim_pid, &id) {
                    tracing::info!(container = %id, shim = shim_pid, "re-attached to the shim");
                    if let Ok(c) = self.get(&id) {
                        self.restart_dns(&c);
                        self.start_health_monitor(&c);
                    }
                    self.watch_shim(id, shim_pid);
                } else {
                    let d = self.clone();
                    tokio::task::spawn_blocking(move || d.on_exit(&id));
                }
            }
        }
        self.restart_at_startup();
    }

    /// A daemon killed during `start` left the record saying "created" while
    /// the shim it had started runs the container: take it as running. A
    /// shim that is gone too leaves nothing but its mount to clean.
    pub(crate) fn adopt_started(&self, c: &mut Container) {
        let dir = self.dir(&c.id);
        let read_pid = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
        };
        let Some(shim_pid) = read_pid(shim::SHIM_PID_FILE) else {
            return;
        };
        if !(store::pid_alive(shim_pid) && store::is_shim_of(shim_pid, &c.id)) {
            return;
        }
        let pid = read_pid(shim::INIT_PID_FILE).unwrap_or(0);
        tracing::info!(container = %c.id, shim = shim_pid, "adopting a container started before a crash");
        c.state = State {
            status: "running".into(),
            running: true,
            pid,
            exit_code: 0,
            error: String::new(),
            started_at: logs::now(),
            finished_at: store::ZERO_TIME.into(),
            oom_killed: false,
            health: super::health::at_start(c.config.healthcheck.as_ref(), c.state.health.take()),
        };
        c.shim_pid = shim_pid;
        if let Err(e) = store::save(&self.opts.data_root, c) {
            tracing::warn!(container = %c.id, error = %e, "save");
        }
    }
}
