//! The kernel's word that the OOM killer struck a container's memory
//! cgroup, for `events` (runc's `NotifyOOM`): on cgroup v1 an eventfd
//! registered for `memory.oom_control` through `cgroup.event_control`
//! (the kernel signals it on each OOM of the cgroup, and once more when the
//! cgroup is removed); on v2 inotify on `memory.events`, whose `oom_kill`
//! count rising is an OOM kill.

use crate::shim::oom::{oom_kills, watch};
use anyhow::{bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

enum Source {
    /// The eventfd, and memory.oom_control kept open for as long as the
    /// registration lasts.
    V1 { efd: EventFd, _control: File },
    /// inotify on memory.events, and the oom_kill count last seen.
    V2 { ino: Inotify, seen: u64 },
}

pub struct OomWatch {
    /// memory.oom_control (v1) or memory.events (v2).
    file: PathBuf,
    source: Source,
}

impl OomWatch {
    /// Watches the memory cgroup of the container whose init is `pid`.
    pub fn new(pid: i32) -> Result<OomWatch> {
        // The shim's own lookup: memory.events on v2, memory.oom_control on v1.
        let Some(file) = watch(pid) else {
            bail!(
                "the container's init (pid {pid}) is in no memory cgroup: no OOM events to watch"
            );
        };
        let source = if file.ends_with("memory.events") {
            let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
                .context("inotify_init")?;
            ino.add_watch(&file, AddWatchFlags::IN_MODIFY)
                .with_context(|| format!("watch {}", file.display()))?;
            let seen = count(&file);
            Source::V2 { ino, seen }
        } else {
            register_v1(&file)?
        };
        Ok(OomWatch { file, source })
    }

    /// Waits up to `timeout` for the kernel's notice; whether an OOM (v1)
    /// or a new OOM kill (v2) happened.
    pub fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let ready = {
            let fd = self.fd();
            let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
            let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(n) => n > 0,
                Err(nix::errno::Errno::EINTR) => false,
                Err(e) => return Err(e).context("poll for OOM notices"),
            }
        };
        match &mut self.source {
            Source::V1 { efd, .. } => {
                if !ready {
                    return Ok(false);
                }
                efd.read().context("read the OOM eventfd")?;
                // The last notice of a removed cgroup is no OOM.
                Ok(self.file.exists())
            }
            Source::V2 { ino, seen } => {
                if ready {
                    // Drained; the count says what happened.
                    let _ = ino.read_events();
                }
                Ok(rose(&self.file, seen))
            }
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match &self.source {
            Source::V1 { efd, .. } => efd.as_fd(),
            Source::V2 { ino, .. } => ino.as_fd(),
        }
    }
}

/// cgroup v1's notification API: "<eventfd> <fd of memory.oom_control>"
/// written to the cgroup's cgroup.event_control.
fn register_v1(control: &Path) -> Result<Source> {
    let efd = EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
        .context("eventfd")?;
    let oc = File::open(control).with_context(|| format!("open {}", control.display()))?;
    let reg = control.with_file_name("cgroup.event_control");
    let line = format!("{} {}", efd.as_fd().as_raw_fd(), oc.as_raw_fd());
    std::fs::write(&reg, line).with_context(|| format!("register with {}", reg.display()))?;
    Ok(Source::V1 { efd, _control: oc })
}

/// The file's oom_kill count (0 when it is gone).
fn count(file: &Path) -> u64 {
    std::fs::read_to_string(file).map_or(0, |t| oom_kills(&t))
}

/// Whether the count went past `seen` (then remembered).
fn rose(file: &Path, seen: &mut u64) -> bool {
    let now = count(file);
    let up = now > *seen;
    *seen = (*seen).max(now);
    up
}
