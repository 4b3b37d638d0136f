//! A running container's shim, below rrund: what stays in memory for the
//! container's whole life. rrund's shim (`rrund shim …`) creates and starts
//! the container with the executor in-process, then becomes `rrun-shim`
//! ([`monitor`]), which logs the container's output, feeds its stdin, sizes
//! its terminal and records its exit.
//!
//! No tokio, no daemon code and no C library besides libc, so that the
//! binary links statically (`scripts/lib/build-release.sh`) and a running
//! container costs about a megabyte. rrund uses the same modules (the log
//! format, rotation, the OOM count) through `rrun_runtime::state` and
//! `rrun_runtime::shim`.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

pub mod logfile;
pub mod logs;
pub mod monitor;
pub mod oom;
pub mod resize;

/// The shim's hidden subcommand name: every stage's argv starts
/// `<exe> shim <id>`, which the daemon reads to know a shim from a reused
/// pid.
pub const SUBCOMMAND: &str = "shim";

/// `<dir>/exit.json`: how the container ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExitRecord {
    pub exit_code: i32,
    pub finished_at: String,
    /// The kernel's OOM killer ended a process of the container.
    #[serde(default)]
    pub oom_killed: bool,
}

pub const EXIT_FILE: &str = "exit.json";

/// Writes `data` to `path` through a temporary file and a rename, synced:
/// a reader sees the old content or the new, never a part.
pub fn atomic_write(path: &Path, data: &[u8]) -> std::io::Result<()> {
    replace_synced(path, data)?;
    sync_dir_of(path)
}

/// Replaces `path`, which exists, with `data` through a temporary file
/// synced before its rename, without syncing the directory: whole, but a
/// host crash before the file system commits the rename (ext4: within
/// five seconds) keeps the old file, whole too. What Docker's record
/// writes do (moby's atomic file writer); [`atomic_write`] for a file
/// that must exist once written.
pub fn replace_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = temp_beside(path);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Replaces `path` with `data` through a temporary file and a rename, not
/// synced: a reader sees the old content or the new, but a crash of the
/// host may lose both. For files made again at every start (a container's
/// config.json, hosts, resolv.conf), where a sync cost a millisecond each.
pub fn replace_unsynced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = temp_beside(path);
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)
}

/// Syncs `path` and its directory to disk: what [`atomic_write`] does
/// after its rename, for a file [`replace_unsynced`] wrote.
pub fn sync_file_and_dir(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()?;
    sync_dir_of(path)
}

/// Syncs the directory that holds `path` (its entry, after a rename).
fn sync_dir_of(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}

/// The temporary file beside `path` that replaces it.
fn temp_beside(path: &Path) -> std::path::PathBuf {
    path.parent().unwrap_or(Path::new(".")).join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("f")
    ))
}

/// The lines of a `/proc/<pid>/cgroup`: (controllers, path) each; the
/// unified hierarchy's controllers are "".
pub fn proc_cgroup_lines(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|l| {
        let mut f = l.splitn(3, ':');
        f.next()?;
        Some((f.next()?, f.next()?))
    })
}

/// True if a process `pid` exists.
pub fn pid_alive(pid: i32) -> bool {
    pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// A pidfd of `pid` (readable once it has exited); None when the process
/// is gone or the kernel has no pidfd_open (before 5.3).
pub fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative return is a new fd that we own.
    (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}
