//! Wakes a log follower (attach, `logs -f`) the moment the shim writes,
//! through inotify, so output reaches the client as it is written instead
//! of at the next poll. The watch is on the log file itself (its writes,
//! and its rename or removal: a rotation) while it exists, and on the
//! container's directory for the log's creation until then. The directory
//! also holds the files the shim and the daemon write while a container
//! starts and ends (a dozen or more each run, each a create, writes and a
//! rename): a watch on the directory for writes woke the follower about 30
//! times a run, on the start's critical path. Only the log's own events
//! end a wait. Without inotify (no instances left) the follower polls.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::io::unix::AsyncFd;

struct Watched(Inotify);

impl AsRawFd for Watched {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// What the watch is on.
#[derive(Clone, Copy, PartialEq, Debug)]
enum On {
    /// The log file, by device and inode.
    File(u64, u64),
    /// The directory, until the log exists.
    Dir,
}

/// A watch for a log file's events; without a descriptor when inotify is
/// not available.
pub struct LogWatch {
    fd: Option<AsyncFd<Watched>>,
    log: PathBuf,
    name: OsString,
    on: Option<(WatchDescriptor, On)>,
}

impl LogWatch {
    pub fn new(log: &Path) -> LogWatch {
        let made = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            // SAFETY: `Watched` owns the inotify descriptor and gives the
            // same one for as long as the AsyncFd holds it.
            .and_then(|i| unsafe { AsyncFd::register(Watched(i)) }.map_err(|_| Errno::EIO));
        let mut w = LogWatch {
            fd: None,
            log: log.to_path_buf(),
            name: log.file_name().unwrap_or_default().to_os_string(),
            on: None,
        };
        match made {
            Ok(fd) => {
                w.fd = Some(fd);
                if let Err(e) = w.arm() {
                    tracing::debug!(log = %log.display(), error = %e, "no inotify watch; polling the log");
                    w.fd = None;
                }
            }
            Err(e) => tracing::debug!(error = %e, "no inotify instance; polling the log"),
        }
        w
    }

    /// Whether writes wake the follower (else it must poll): a watch is
    /// in place.
    pub fn active(&self) -> bool {
        self.fd.is_some() && self.on.is_some()
    }

    /// Puts the watch on the log file as it is now, or on its directory
    /// while there is none. Whether the watch moved; after an error no
    /// watch is in place (`on` is None).
    fn arm(&mut self) -> nix::Result<bool> {
        let Some(fd) = &self.fd else { return Ok(false) };
        let want = match std::fs::metadata(&self.log) {
            Ok(m) => On::File(m.dev(), m.ino()),
            Err(_) => On::Dir,
        };
        if self.on.is_some_and(|(_, on)| on == want) {
            return Ok(false);
        }
        let inotify = &fd.get_ref().0;
        if let Some((wd, _)) = self.on.take() {
            let _ = inotify.rm_watch(wd);
        }
        let wd = match want {
            On::File(..) => inotify.add_watch(
                &self.log,
                AddWatchFlags::IN_MODIFY
                    | AddWatchFlags::IN_MOVE_SELF
                    | AddWatchFlags::IN_DELETE_SELF,
            )?,
            // The log is made by a create: the shim's first, and after a
            // rotation's rename (`logfile::rotate`).
            On::Dir => inotify.add_watch(
                self.log.parent().unwrap_or(Path::new("")),
                AddWatchFlags::IN_CREATE,
            )?,
        };
        self.on = Some((wd, want));
        Ok(true)
    }

    /// Returns once the log changed since the last call (written, made,
    /// rotated or removed), or after `max`.
    pub async fn changed(&mut self, max: Duration) {
        // The watch moved unseen (the log was made or rotated since the
        // last call): what was written before is read now.
        if let Ok(true) = self.arm() {
            return;
        }
        let (Some(fd), Some((wd, on))) = (&self.fd, self.on) else {
            tokio::time::sleep(max).await;
            return;
        };
        let name = self.name.as_os_str();
        let moved = AddWatchFlags::IN_MOVE_SELF | AddWatchFlags::IN_DELETE_SELF;
        let wait = async {
            loop {
                let Ok(mut ready) = fd.readable().await else {
                    return None;
                };
                match ready.get_inner().0.read_events() {
                    Ok(events) => {
                        // The watch's own events (not a former one's); on
                        // the directory, the log's name only.
                        let mut hit = None;
                        for e in events.iter().filter(|e| e.wd == wd) {
                            let rearm = match on {
                                _ if e.mask.contains(AddWatchFlags::IN_IGNORED) => Rearm::Afresh,
                                On::Dir if concerns(name, e.name.as_deref()) => Rearm::Yes,
                                On::Dir => continue,
                                On::File(..) if e.mask.intersects(moved) => Rearm::Yes,
                                On::File(..) => Rearm::No,
                            };
                            hit = hit.max(Some(rearm));
                        }
                        if hit.is_some() {
                            return hit;
                        }
                    }
                    Err(Errno::EAGAIN) => ready.clear_ready(),
                    Err(_) => return None,
                }
            }
        };
        // The watch follows the log at once (before the follower reads):
        // a write after this wakes the next call, one before it is read.
        match tokio::time::timeout(max, wait).await {
            Ok(Some(rearm)) if rearm > Rearm::No => {
                if rearm == Rearm::Afresh {
                    self.on = None;
                }
                let _ = self.arm();
            }
            _ => {}
        }
    }
}

/// What a wake asks of the watch, the larger the more.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rearm {
    /// A write: the watch stays.
    No,
    /// The log was made, moved or removed: the watch follows it.
    Yes,
    /// The kernel dropped the watch: made again.
    Afresh,
}

/// Whether an event on `name` in the log's directory is one of the log
/// `log`'s: the file, a rotated `<log>.N`, or the directory itself (no name).
fn concerns(log: &OsStr, name: Option<&OsStr>) -> bool {
    let Some(name) = name else { return true };
    let (n, l) = (name.as_bytes(), log.as_bytes());
    n == l || (n.starts_with(l) && n.get(l.len()) == Some(&b'.'))
}

/// Closing an inotify descriptor waits for an SRCU grace period in the
/// kernel (`fsnotify_destroy_group`): 10–20 ms here. Dropped on a worker
/// thread, that stalled the runtime, and the end of an attach stream with
/// it, by as much; the descriptor is closed on a blocking thread instead.
impl Drop for LogWatch {
    fn drop(&mut self) {
        let Some(fd) = self.fd.take() else { return };
        let inotify = fd.into_inner();
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(move || drop(inotify));
            }
            Err(_) => drop(inotify),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_to_the_log_wakes_the_watch_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut w = LogWatch::new(&path);
        assert!(w.active());
        std::fs::write(&path, b"x").unwrap();
        let t = std::time::Instant::now();
        w.changed(Duration::from_secs(20)).await;
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "not woken by the write"
        );
        // Nothing new: waits the whole pause.
        let t = std::time::Instant::now();
        w.changed(Duration::from_millis(50)).await;
        assert!(t.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn other_files_of_the_directory_do_not_wake_it_a_rotation_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        std::fs::write(&path, b"x").unwrap();
        let mut w = LogWatch::new(&path);
        // What the shim and the daemon write beside the log.
        std::fs::write(dir.path().join("exit.json.tmp"), b"{}").unwrap();
        std::fs::rename(
            dir.path().join("exit.json.tmp"),
            dir.path().join("exit.json"),
        )
        .unwrap();
        std::fs::write(dir.path().join("c-json.logx"), b"x").unwrap();
        let t = std::time::Instant::now();
        w.changed(Duration::from_millis(300)).await;
        assert!(
            t.elapsed() >= Duration::from_millis(300),
            "woken by another file"
        );
        // Rotated: the log renamed to .1, then made again.
        std::fs::rename(&path, dir.path().join("c-json.log.1")).unwrap();
        let t = std::time::Instant::now();
        w.changed(Duration::from_secs(20)).await;
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "not woken by the rotation"
        );
    }

    /// Waits on `w` for at most `max`: whether it was woken before.
    async fn woken(w: &mut LogWatch, max: Duration) -> bool {
        let t = std::time::Instant::now();
        w.changed(max).await;
        t.elapsed() < max
    }

    /// Asserts that `w` is woken (by `what`).
    async fn wakes(w: &mut LogWatch, what: &str) {
        assert!(
            woken(w, Duration::from_secs(20)).await,
            "not woken by {what}"
        );
    }

    /// Asserts that `w` sleeps through `ms` (after `what`).
    async fn sleeps(w: &mut LogWatch, ms: u64, what: &str) {
        assert!(
            !woken(w, Duration::from_millis(ms)).await,
            "woken by {what}"
        );
    }

    #[tokio::test]
    async fn a_log_made_after_the_watch_wakes_it_and_then_its_writes_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut w = LogWatch::new(&path);
        assert!(w.active());
        // Files the daemon writes at a start, before the shim makes the log.
        std::fs::write(dir.path().join("hosts.tmp"), b"x").unwrap();
        std::fs::rename(dir.path().join("hosts.tmp"), dir.path().join("hosts")).unwrap();
        sleeps(&mut w, 300, "another file").await;
        std::fs::write(&path, b"").unwrap();
        wakes(&mut w, "the log's creation").await;
        // The watch is on the file now: only its writes wake it.
        sleeps(&mut w, 100, "nothing").await;
        std::fs::write(dir.path().join("exit.json"), b"{}").unwrap();
        sleeps(&mut w, 300, "another file").await;
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut log, b"line\n").unwrap();
        wakes(&mut w, "a write").await;
    }

    #[tokio::test]
    async fn after_a_rotation_the_new_logs_writes_wake_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        std::fs::write(&path, b"x").unwrap();
        let mut w = LogWatch::new(&path);
        std::fs::rename(&path, dir.path().join("c-json.log.1")).unwrap();
        wakes(&mut w, "the rotation").await;
        // The new log is not made yet: the watch waits for it.
        sleeps(&mut w, 100, "nothing").await;
        std::fs::write(&path, b"").unwrap();
        wakes(&mut w, "the new log").await;
        sleeps(&mut w, 100, "nothing").await;
        // Writes to the rotated file do not wake it; the new log's do.
        std::fs::write(dir.path().join("c-json.log.1"), b"old").unwrap();
        sleeps(&mut w, 300, "the old file").await;
        std::fs::write(&path, b"y").unwrap();
        wakes(&mut w, "the new log's write").await;
    }

    #[test]
    fn the_log_s_own_names_concern_it() {
        let log = OsStr::new("c-json.log");
        assert!(concerns(log, Some(OsStr::new("c-json.log"))));
        assert!(concerns(log, Some(OsStr::new("c-json.log.3"))));
        assert!(concerns(log, None));
        assert!(!concerns(log, Some(OsStr::new("c-json.logx"))));
        assert!(!concerns(log, Some(OsStr::new("exit.json"))));
        assert!(!concerns(log, Some(OsStr::new("c-json.lo"))));
    }
}
