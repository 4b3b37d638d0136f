//! Start-up: the containers on disk, their shims found again.

use std::sync::Arc;

use crate::daemon::store::{Container, State};
use crate::daemon::*;
use crate::shim::{self};

impl Daemon {
    /// Start-up: finds the containers on disk, re-attaches to the shims that
    /// still run, and records the end of those whose shim is gone.
    pub fn reconcile(self: &Arc<Self>) {
        let store::OnDisk {
            containers: all,
            half_made,
            unreadable,
        } = store::load_all(&self.opts.data_root);
        for (dir, reason) in &unreadable {
            tracing::error!(
                "container {}: its record {} does not load ({reason}); the container is not managed (fix the file or remove the directory), the others are",
                dir.file_name().unwrap_or_default().to_string_lossy(),
                dir.join(store::CONTAINER_FILE).display()
            );
        }
        for dir in half_made {
            tracing::warn!(dir = %dir.display(), "removing a half-made container");
            if let Some(id) = dir.file_name().and_then(|n| n.to_str()) {
                // A container whose record went while it ran (a daemon
                // killed between an auto-remove container's record and the
                // rest of its removal): its processes and cgroups go too.
                self.oci_force_delete(id);
                self.remove_cgroup_leftovers(id);
                self.teardown_network(id);
            }
            let _ = nix::mount::umount2(&dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
            super::shm::unmount_shm(&dir);
            let _ = std::fs::remove_dir_all(&dir);
        }
        // Volume users and network endpoints of containers that no longer
        // exist (a crash between their create and their record) go; no
        // volume's data is touched.
        // An unreadable container keeps what it holds: it may still run.
        let unreadable_ids = unreadable
            .iter()
            .filter_map(|(d, _)| d.file_name().and_then(|n| n.to_str()).map(String::from));
        let known: std::collections::BTreeSet<String> = all
            .iter()
            .map(|c| c.id.clone())
            .chain(unreadable_ids)
            .collect();
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
                    self.reconcile_endpoints(&id);
                    if let Ok(c) = self.container(&id) {
                        self.restart_dns(&c);
                        self.start_health_monitor(&c);
                    }
                    self.watch_shim(id, shim_pid, None);
                } else {
                    let d = self.clone();
                    tokio::task::spawn_blocking(move || d.on_exit(&id));
                }
            }
        }
        self.remove_auto_remove_at_startup();
        self.restart_at_startup();
    }

    /// An auto-remove container that does not run at start-up goes, as
    /// Docker's restore removes it: exited while no daemon watched, never
    /// started, or left by a host crash with whatever of its unsynced
    /// record survived (`store::durable`). One whose shim is gone is
    /// removed by its exit's handling (`on_exit`).
    fn remove_auto_remove_at_startup(&self) {
        let gone: Vec<String> = {
            let ix = self.containers.lock().unwrap();
            ix.values()
                .filter(|e| e.c.host_config.auto_remove && !e.c.state.running)
                .map(|e| e.c.id.clone())
                .collect()
        };
        for id in gone {
            tracing::info!(container = %id, "removing an auto-remove container that does not run");
            match self.remove(&id, true, true) {
                // Its exit's handling (`on_exit`, started above) won.
                Ok(()) | Err(ContainerError::NoSuchContainer(_)) => {}
                Err(e) => tracing::warn!(container = %id, error = %e, "auto-remove at start-up"),
            }
        }
    }

    /// A daemon killed between the network's half and the record's half of
    /// a `network connect` or `disconnect` of a running container leaves
    /// the two disagreeing. An endpoint the record does not list (a connect
    /// cut short) is removed; a listed network with no endpoint (a
    /// disconnect cut short) is dropped from the record. Either way the
    /// request is as if it never came or as if it completed.
    fn reconcile_endpoints(&self, id: &str) {
        let (Ok(nets), Ok(c)) = (self.netd.networks(), self.container(id)) else {
            return;
        };
        let bridges = nets
            .iter()
            .filter(|n| n.driver == netd::store::Driver::Bridge);
        let mut dangling = Vec::new();
        for n in bridges {
            let listed = c.networks.iter().any(|r| r.name == n.name.as_str());
            match (listed, n.containers.contains_key(id)) {
                (false, true) => {
                    tracing::info!(container = %id, network = %n.name, "removing an endpoint a cut-short connect left");
                    let _ = self.netd.disconnect(n.id.as_str(), id);
                }
                (true, false) => {
                    tracing::info!(container = %id, network = %n.name, "finishing a cut-short disconnect");
                    dangling.push(n.name.to_string());
                }
                _ => {}
            }
        }
        if !dangling.is_empty() {
            let _ = self.update(id, |c| c.networks.retain(|r| !dangling.contains(&r.name)));
        }
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
        // Killed early in `start`, the shim may still be in `rrun-oci
        // create`: its init's pid comes once that is done (or the shim
        // gives up and exits, which its watcher records).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let pid = loop {
            match read_pid(shim::INIT_PID_FILE) {
                Some(pid) => break pid,
                None if std::time::Instant::now() < deadline && store::pid_alive(shim_pid) => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                None => break 0,
            }
        };
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
