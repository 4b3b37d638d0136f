//! Wakes a log follower (attach, `logs -f`) the moment the shim writes:
//! an inotify watch on the container's directory (the log file's writes,
//! and its rotation's rename and create), so output reaches the client as
//! it is written instead of at the next poll. Only the log's own events
//! end a wait: the directory also holds the files the shim and the daemon
//! write while a container starts and ends (a dozen or more each run),
//! and each of them woke the follower into a read of the log (three file
//! operations on tokio's blocking threads) on the start's critical path.
//! Without inotify (no instances left) the follower polls as before.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;

struct Watched(Inotify);

impl AsRawFd for Watched {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// A watch on a log file's directory, for that file's events; `None`
/// inside when inotify is not available.
pub struct LogWatch(Option<AsyncFd<Watched>>, OsString);

impl LogWatch {
    pub fn new(log: &Path) -> LogWatch {
        let dir = log.parent().unwrap_or(Path::new(""));
        let name = log.file_name().unwrap_or_default().to_os_string();
        let made = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).and_then(|i| {
            i.add_watch(
                dir,
                AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO,
            )?;
            Ok(i)
        });
        match made {
            // SAFETY: `Watched` owns the inotify descriptor and gives the
            // same one for as long as the AsyncFd holds it.
            Ok(i) => LogWatch(unsafe { AsyncFd::register(Watched(i)) }.ok(), name),
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "no inotify watch; polling the log");
                LogWatch(None, name)
            }
        }
    }

    /// Whether writes wake the follower (else it must poll).
    pub fn active(&self) -> bool {
        self.0.is_some()
    }

    /// Returns once the log (or a rotated file of it) changed since the
    /// last call, or after `max`.
    pub async fn changed(&mut self, max: Duration) {
        let Some(fd) = &self.0 else {
            tokio::time::sleep(max).await;
            return;
        };
        let log = self.1.as_os_str();
        let wait = async {
            loop {
                let Ok(mut ready) = fd.readable().await else {
                    return;
                };
                match ready.get_inner().0.read_events() {
                    Ok(events) if events.iter().any(|e| concerns(log, e.name.as_deref())) => return,
                    // Another file of the directory: read on, or wait.
                    Ok(_) => {}
                    Err(Errno::EAGAIN) => ready.clear_ready(),
                    Err(_) => return,
                }
            }
        };
        let _ = tokio::time::timeout(max, wait).await;
    }
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
        let Some(fd) = self.0.take() else { return };
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
