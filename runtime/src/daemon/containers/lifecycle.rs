//! A container after its start: the shim watched, its exit recorded,
//! kill, stop and remove.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use crate::daemon::store::{Container, State};
use crate::daemon::*;
use crate::shim::{self, ExitRecord};

impl Daemon {
    /// `rrun-oci delete --force`, in this process (the executor's code, as
    /// the shim runs it): ends whatever the executor still holds of the
    /// container. Nothing to do when it keeps no state for it (a fresh
    /// container, or one its shim deleted).
    pub(crate) fn oci_force_delete(&self, id: &str) {
        if let Err(e) = crate::oci::force_delete(&self.opts.exec_root, id) {
            tracing::warn!(container = %id, error = %format!("{e:#}"), "delete the container from the executor");
        }
    }

    /// A `rrun-oci create` killed before it saved its state leaves the
    /// container's cgroups behind, where `delete` cannot find them: kill
    /// whatever is still in them and remove them. Only `/rrun/<id>`, the
    /// path the daemon gave the container, is touched.
    pub(crate) fn remove_cgroup_leftovers(&self, id: &str) {
        if self.opts.systemd_cgroup {
            return;
        }
        let root = std::path::Path::new("/sys/fs/cgroup");
        let mut dirs = vec![root.join("rrun").join(id)];
        if let Ok(rd) = std::fs::read_dir(root) {
            dirs.extend(rd.flatten().map(|h| h.path().join("rrun").join(id)));
        }
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            for pid in crate::linux::cgroups::procs_of(dir) {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
            // A killed process leaves its cgroup a moment later.
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while std::fs::remove_dir(dir).is_err() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if dir.exists() {
                tracing::warn!(container = %id, cgroup = %dir.display(), "could not remove a cgroup left by a failed create");
            }
        }
    }

    /// Learns of the shim's exit through a pidfd (works for a shim an
    /// earlier daemon started, too). With `notice`, the read end of the
    /// report pipe of a shim this daemon started, an auto-remove
    /// container's exit is reported, and its removal seen, as soon as the
    /// shim has recorded it: the shim's cleanup and the rest of the
    /// removal come after, off its client's path.
    pub(crate) fn watch_shim(self: &Arc<Self>, id: String, shim_pid: i32, notice: Option<OwnedFd>) {
        let d = self.clone();
        tokio::spawn(async move {
            let gone = shim_gone(shim_pid, id.clone());
            tokio::pin!(gone);
            let mut early = None;
            let mut ended = false;
            if let Some(fd) = notice {
                tokio::select! {
                    () = &mut gone => ended = true,
                    () = pipe_end(fd) => {
                        let d2 = d.clone();
                        let id2 = id.clone();
                        early = tokio::task::spawn_blocking(move || d2.on_recorded(&id2))
                            .await
                            .ok()
                            .flatten();
                    }
                }
            }
            // (Not polled again once done: a killed shim ends both at once.)
            if !ended {
                gone.await;
            }
            reap(shim_pid);
            let d2 = d.clone();
            let _ = tokio::task::spawn_blocking(move || match early {
                Some(c) => {
                    d2.remove_rest(&c, true);
                    d2.removing.end();
                }
                None => d2.on_exit(&id),
            })
            .await;
            d.shim_ended.notify_waiters();
            trim_when_quiet().await;
        });
    }

    /// An auto-remove container whose shim wrote `exit.json`: its exit
    /// recorded (the `die` event), then what a client sees of its removal
    /// (the record, the name, the `destroy` event), while the shim still
    /// cleans up; [`Daemon::remove_rest`] follows when the shim is gone.
    /// The container removed; `None` (nothing done) for any other
    /// container, or without the file.
    pub(crate) fn on_recorded(self: &Arc<Self>, id: &str) -> Option<Container> {
        let c = self.container(id).ok()?;
        if !c.host_config.auto_remove || !c.state.running {
            return None;
        }
        let rec: Option<ExitRecord> = std::fs::read(self.dir(id).join(shim::EXIT_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let rec = rec?;
        // Not saved: the record goes in `remove_seen` below.
        let updated = self.update_unsaved(id, |c| {
            c.state.status = "exited".into();
            c.state.running = false;
            c.state.pid = 0;
            c.state.exit_code = rec.exit_code;
            c.state.finished_at = rec.finished_at.clone();
            c.state.error = String::new();
            c.state.oom_killed = rec.oom_killed;
            super::health::at_stop(&mut c.state.health);
        });
        let c = updated.or_else(|_| self.container(id)).unwrap_or(c);
        let code = rec.exit_code.to_string();
        self.container_event(&c, "die", &[("exitCode", &code)]);
        tracing::info!(container = %id, exit_code = rec.exit_code, "exited");
        // Counted before the client can see the removal (see
        // `network_remove`); the count ends after `remove_rest`.
        // The rest follows the shim either way (each of its steps does
        // nothing when already done, as after a client's `rm -f` that won
        // the race and did it too).
        self.removing.begin();
        self.remove_seen(&c);
        Some(c)
    }

    /// The shim is gone: record how the container ended.
    pub(crate) fn on_exit(self: &Arc<Self>, id: &str) {
        let dir = self.dir(id);
        let rec: Option<ExitRecord> = std::fs::read(dir.join(shim::EXIT_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let oom_killed = rec.as_ref().is_some_and(|r| r.oom_killed);
        // The shim leaves its container's end to a daemon that read its
        // report (`rrun_shim::monitor::record_end`); a shim that died
        // (killed, or crashed) leaves it too: nobody holds the container's
        // output any more, so the container ends, as Docker ends one whose
        // shim is gone.
        self.oci_force_delete(id);
        let (code, finished, error) = match rec {
            Some(r) => (r.exit_code, r.finished_at, String::new()),
            None => {
                // The code is what containerd's cleanup of a dead shim
                // reports (and Docker shows): 128 + SIGKILL, the signal
                // that ended it.
                (
                    128 + libc::SIGKILL,
                    logs::now(),
                    "the container's shim died; its exit status is unknown".to_string(),
                )
            }
        };
        self.teardown_network(id);
        let _ = nix::mount::umount2(&dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
        super::shm::unmount_shm(&dir);
        // Killed by an `rm -f`, whose removal follows: not saved (a crash
        // in between leaves the record running, which start-up ends again
        // from the shim's synced `exit.json`).
        let save = !self.killed_for_removal.lock().unwrap().contains(id);
        let updated = self.change(
            id,
            |c| {
                c.state.status = "exited".into();
                c.state.running = false;
                c.state.pid = 0;
                c.state.exit_code = code;
                c.state.finished_at = finished;
                c.state.error = error;
                c.state.oom_killed = oom_killed;
                super::health::at_stop(&mut c.state.health);
                c.shim_pid = 0;
            },
            save,
        );
        // Not saved (a full disk): the exit is still known in memory, and
        // what follows it (events, restart policy, --rm) still happens.
        let Ok(c) = updated.or_else(|_| self.container(id)) else {
            return;
        };
        self.container_event(&c, "die", &[("exitCode", &code.to_string())]);
        tracing::info!(container = %id, exit_code = code, "exited");
        self.after_exit(&c);
        if c.host_config.auto_remove {
            if let Err(e) = self.remove(id, true, true) {
                tracing::warn!(container = %id, error = %e, "auto-remove");
            }
        }
    }

    /// Sends a signal to the container's init through the executor.
    pub fn kill(&self, name: &str, signal: &str) -> Result<(), ContainerError> {
        let c = self.container(name)?;
        if !c.state.running {
            return Err(ContainerError::KillNotRunning {
                name: name.to_string(),
                id: c.id,
            });
        }
        self.note_user_stop(&c, signal);
        // The executor's kill, in this process (see `oci_force_delete`).
        let sent = crate::oci::kill_init(&self.opts.exec_root, &c.id, signal)
            .map_err(|e| format!("{e:#}"));
        self.container_event(&c, "kill", &[("signal", signal)]);
        if let Err(msg) = sent {
            // Exited meanwhile: nothing left to signal.
            if !self.container(&c.id)?.state.running {
                return Ok(());
            }
            return Err(ContainerError::Internal(format!("kill {}: {msg}", c.id)));
        }
        self.thaw_after_signal(&c.id);
        Ok(())
    }

    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after
    /// the timeout. Returns false if it was not running (304).
    pub async fn stop(
        self: &Arc<Self>,
        name: &str,
        timeout: Option<i64>,
    ) -> Result<bool, ContainerError> {
        let c = self.container(name)?;
        if c.state.status == restart::RESTARTING {
            self.note_user_stop(&c, "SIGKILL");
        }
        if !c.state.running {
            return Ok(false);
        }
        let mut rx = self.subscribe(&c.id)?;
        let sig = c
            .config
            .stop_signal
            .clone()
            .unwrap_or_else(|| "SIGTERM".into());
        let t = timeout.or(c.config.stop_timeout).unwrap_or(10).max(0) as u64;
        let d = self.clone();
        let id = c.id.clone();
        let _ = tokio::task::spawn_blocking(move || d.kill(&id, &sig)).await;
        let stopped = tokio::time::timeout(Duration::from_secs(t), rx.wait_for(|s| !s.running))
            .await
            .is_ok();
        if !stopped {
            let d = self.clone();
            let id = c.id.clone();
            let _ = tokio::task::spawn_blocking(move || d.kill(&id, "SIGKILL")).await;
            let _ =
                tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|s| !s.running)).await;
        }
        self.container_event(&c, "stop", &[]);
        Ok(true)
    }

    /// `rm -f`'s kill, before its blocking removal: SIGKILL to a running
    /// container, then its exit awaited (30 s at most) on the state's
    /// channel, so the removal finds it stopped instead of polling. True
    /// if it was a running auto-remove container: its own removal, as it
    /// exits, may then come first, and is this one's too.
    pub async fn kill_for_removal(self: &Arc<Self>, name: &str) -> bool {
        let Ok(c) = self.container(name) else {
            return false;
        };
        let Ok(mut rx) = self.subscribe(&c.id) else {
            return false;
        };
        if !c.state.running {
            return false;
        }
        // Its exit, recorded during the wait below, is not saved; the mark
        // goes when this returns or is dropped (a client that went away).
        let _mark = KilledForRemoval::mark(self, &c.id);
        let d = self.clone();
        let id = c.id.clone();
        let _ = tokio::task::spawn_blocking(move || d.kill(&id, "SIGKILL")).await;
        let _ = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|s| !s.running)).await;
        c.host_config.auto_remove
    }

    /// `DELETE /containers/{id}`. Blocking; kills first with `force`;
    /// removes its anonymous volumes with `volumes` (`rm -v`, `--rm`).
    pub fn remove(&self, name: &str, force: bool, volumes: bool) -> Result<(), ContainerError> {
        let c = self.container(name)?;
        let _mark = (force && c.state.running).then(|| KilledForRemoval::mark(self, &c.id));
        self.remove_container(c, force, volumes)
    }

    fn remove_container(
        &self,
        c: Container,
        force: bool,
        volumes: bool,
    ) -> Result<(), ContainerError> {
        restart::check_removable(&c, force)?;
        if c.state.running {
            if !force {
                return Err(ContainerError::RemoveRunning(c.id));
            }
            let _ = self.kill(&c.id, "SIGKILL");
            let mut rx = self.subscribe(&c.id)?;
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while rx.borrow_and_update().running && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        // Removed meanwhile as it exited (auto-remove): that removal is
        // this one's too.
        let Ok(c) = self.container(&c.id) else {
            return Ok(());
        };
        // Before the record goes: what start-up reconciliation does not
        // redo for a half-removed directory (the executor's state, cgroups).
        self.release(&c.id);
        // The other remover does the rest (an auto-remove's, once its
        // shim is gone).
        if self.remove_seen(&c) {
            self.remove_files(&c, volumes);
        }
        Ok(())
    }

    /// The half of a removal a client sees: the name (the index entry,
    /// taken under its lock, so of two removers racing, an auto-remove and
    /// a client's `rm -f`, one does this), the record (a crash after it
    /// leaves a directory start-up reconciliation recognises as
    /// half-removed and finishes), the volumes' users, the waiters
    /// (`removed`) and the `destroy` event. False if another remover did.
    fn remove_seen(&self, c: &Container) -> bool {
        let Some(e) = self.containers.lock().unwrap().remove(&c.id) else {
            return false;
        };
        let _ = std::fs::remove_file(self.dir(&c.id).join(store::CONTAINER_FILE));
        for err in self.volumes.detach(&c.id, &c.mounts) {
            tracing::warn!(container = %c.id, error = %err, "release a volume");
        }
        e.tx.send_replace(State {
            status: REMOVED.into(),
            ..e.c.state.clone()
        });
        self.exec_forget(&c.id);
        self.container_event(c, "destroy", &[]);
        tracing::info!(container = %c.id, "removed");
        true
    }

    /// The rest of a removal, once no shim runs: the mounts, the
    /// executor's and the network's leftovers, the anonymous volumes (with
    /// `volumes`), the directory. Each step does nothing when already done.
    fn remove_rest(&self, c: &Container, volumes: bool) {
        self.release(&c.id);
        self.remove_files(c, volumes);
    }

    /// What a removed container holds on the host: its mounts, the
    /// executor's state and cgroups, its network.
    fn release(&self, id: &str) {
        let dir = self.dir(id);
        let _ = nix::mount::umount2(&dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
        super::shm::unmount_shm(&dir);
        self.oci_force_delete(id);
        self.remove_cgroup_leftovers(id);
        self.teardown_network(id);
    }

    /// A removed container's anonymous volumes (with `volumes`) and its
    /// directory.
    fn remove_files(&self, c: &Container, volumes: bool) {
        let id = c.id.as_str();
        let dir = self.dir(id);
        if volumes {
            let (_, errors) = self.volumes.remove_anonymous(&c.mounts);
            for e in errors {
                tracing::warn!(container = %id, error = %e, "remove an anonymous volume");
            }
        }
        match std::fs::remove_dir_all(&dir) {
            // Another remover (auto-remove racing a client's DELETE) won.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(container = %id, error = %e, "remove the directory"),
            Ok(()) => {}
        }
    }
}

/// A container an `rm -f` is killing, while it does (see `on_exit`):
/// unmarked when dropped, whichever way the removal ends.
struct KilledForRemoval<'d> {
    d: &'d Daemon,
    id: String,
}

impl<'d> KilledForRemoval<'d> {
    fn mark(d: &'d Daemon, id: &str) -> KilledForRemoval<'d> {
        d.killed_for_removal.lock().unwrap().insert(id.to_string());
        KilledForRemoval {
            d,
            id: id.to_string(),
        }
    }
}

impl Drop for KilledForRemoval<'_> {
    fn drop(&mut self) {
        self.d.killed_for_removal.lock().unwrap().remove(&self.id);
    }
}

/// Removals whose rest ([`Daemon::remove_rest`]) has not run yet: what
/// needs their network endpoints gone (a network's removal) waits for them.
#[derive(Default)]
pub struct Pending {
    count: std::sync::Mutex<usize>,
    none: std::sync::Condvar,
}

impl Pending {
    pub fn begin(&self) {
        *self.count.lock().unwrap() += 1;
    }

    pub fn end(&self) {
        let mut n = self.count.lock().unwrap();
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.none.notify_all();
        }
    }

    /// Waits until none is pending, `max` at most. Blocking.
    pub fn settle(&self, max: Duration) {
        let n = self.count.lock().unwrap();
        let _ = self.none.wait_timeout_while(n, max, |n| *n > 0);
    }
}

/// Collects a shim this daemon started (ECHILD for an adopted one is fine).
pub(crate) fn reap(pid: i32) {
    let _ = nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
}

/// Resolves once the shim `pid` is gone: through a pidfd, else (the shim
/// already gone, or an old kernel) by looking every 200 ms.
async fn shim_gone(pid: i32, id: String) {
    if let Some(fd) = crate::linux::pidfd_open(pid) {
        // SAFETY: the AsyncFd owns the pidfd, so the fd stays open (and is
        // not reused) until it is deregistered on drop.
        if let Ok(afd) = unsafe { tokio::io::unix::AsyncFd::register(fd) } {
            let _ = afd.readable().await;
        }
        return;
    }
    while store::pid_alive(pid) && store::is_shim_of(pid, &id) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Resolves at the end of a pipe (its writer closed it, or exited).
async fn pipe_end(fd: OwnedFd) {
    let file = std::fs::File::from(fd);
    if nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&file),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .is_err()
    {
        return std::future::pending().await;
    }
    // SAFETY: the AsyncFd owns `file`, so the fd stays open (and is not
    // reused) until it is deregistered on drop.
    let Ok(afd) = (unsafe { tokio::io::unix::AsyncFd::register(file) }) else {
        return std::future::pending().await;
    };
    let mut buf = [0u8; 256];
    loop {
        let Ok(mut ready) = afd.readable().await else {
            return std::future::pending().await;
        };
        match std::io::Read::read(&mut ready.get_inner(), &mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => ready.clear_ready(),
            Err(_) => return std::future::pending().await,
        }
    }
}

/// Hands the heap that a container's start and end freed back to the
/// kernel, once no other container has ended for 200 ms (a script's next
/// `run` is usually sooner): glibc keeps freed memory in its arenas, and an
/// idle daemon held half a MiB more after twenty `run --rm` than after
/// none.
async fn trim_when_quiet() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let mine = LAST.fetch_add(1, Ordering::Relaxed) + 1;
    tokio::time::sleep(Duration::from_millis(200)).await;
    if LAST.load(Ordering::Relaxed) == mine {
        // SAFETY: malloc_trim takes a size and only returns free pages.
        unsafe { libc::malloc_trim(0) };
    }
}
