//! Wakes a log follower (attach, `logs -f`) the moment the shim writes:
//! an inotify watch on the container's directory (the log file's writes,
//! and its rotation's rename and create), so output reaches the client as
//! it is written instead of at the next poll. Without inotify (no
//! instances left) the follower polls as before.

use std::os::fd::{AsFd, AsRawFd, RawFd};
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

/// A watch on one directory; `None` inside when inotify is not available.
pub struct LogWatch(Option<AsyncFd<Watched>>);

impl LogWatch {
    pub fn new(dir: &Path) -> LogWatch {
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
            Ok(i) => LogWatch(unsafe { AsyncFd::register(Watched(i)) }.ok()),
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "no inotify watch; polling the log");
                LogWatch(None)
            }
        }
    }

    /// Whether writes wake the follower (else it must poll).
    pub fn active(&self) -> bool {
        self.0.is_some()
    }

    /// Returns once something in the directory changed since the last
    /// call, or after `max`.
    pub async fn changed(&mut self, max: Duration) {
        let Some(fd) = &self.0 else {
            tokio::time::sleep(max).await;
            return;
        };
        let wait = async {
            loop {
                let Ok(mut ready) = fd.readable().await else {
                    return;
                };
                match ready.get_inner().0.read_events() {
                    Ok(_) => return,
                    Err(Errno::EAGAIN) => ready.clear_ready(),
                    Err(_) => return,
                }
            }
        };
        let _ = tokio::time::timeout(max, wait).await;
    }
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
    async fn a_write_in_the_directory_wakes_the_watch_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = LogWatch::new(dir.path());
        assert!(w.active());
        let path = dir.path().join("c-json.log");
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
}
