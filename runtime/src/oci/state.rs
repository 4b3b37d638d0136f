//! A container's saved state under the runtime's `--root`, and its status
//! as derived from the live system.

use crate::spec::state::Status;
use anyhow::{Context, Result};
use nix::sys::signal::kill;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const FIFO: &str = "exec.fifo";

/// What `create` records about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub pid: i32,
    /// The init's start time (field 22 of `/proc/<pid>/stat`), so a recycled
    /// pid is never mistaken for the container.
    pub start_time: u64,
    pub created: String,
    pub owner: String,
    pub cgroup_path: PathBuf,
    pub spec: Spec,
}

/// The OCI state as `runc state` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<&'a HashMap<String, String>>,
}

impl Saved {
    pub fn dir(root: &Path, id: &str) -> PathBuf {
        root.join(id)
    }

    pub fn load(root: &Path, id: &str) -> Result<Saved> {
        let p = Self::dir(root, id).join(STATE_FILE);
        if let Some(saved) = last_saved(&p) {
            return Ok(saved);
        }
        let text = match std::fs::read(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                anyhow::bail!("container {id} does not exist")
            }
            Err(e) => return Err(e).with_context(|| format!("read {}", p.display())),
        };
        serde_json::from_slice(&text).with_context(|| format!("parse {}", p.display()))
    }

    pub fn save(&self, root: &Path) -> Result<()> {
        let p = Self::dir(root, &self.id).join(STATE_FILE);
        write_atomic(&p, &serde_json::to_vec(self)?)?;
        remember_saved(&p, self);
        Ok(())
    }

    pub fn status(&self, root: &Path) -> Status {
        if !alive(self.pid, self.start_time) {
            return Status::Stopped;
        }
        if Self::dir(root, &self.id).join(FIFO).exists() {
            Status::Created
        } else if self.frozen(self.pid) {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// Whether the container's cgroup is frozen (`pause`). A systemd-form
    /// path (`slice:prefix:name`) names a unit, not a directory: the
    /// cgroup is then the one `member`, a process of the container, is in.
    pub fn frozen(&self, member: i32) -> bool {
        use crate::linux::cgroups;
        if !cgroups::is_systemd_form(&self.cgroup_path) {
            return cgroups::frozen(&self.cgroup_path);
        }
        std::fs::read_to_string(format!("/proc/{member}/cgroup")).is_ok_and(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("0::"))
                .is_some_and(|rel| cgroups::frozen(Path::new(rel)))
        })
    }

    pub fn oci(&self, status: Status) -> OciState<'_> {
        OciState {
            oci_version: self.spec.version(),
            id: &self.id,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
            annotations: self.spec.annotations().as_ref(),
        }
    }

    /// The state as hooks get it on stdin.
    pub fn hook_state(&self, status: Status) -> String {
        serde_json::to_string(&self.oci(status)).unwrap_or_default()
    }
}

/// The command and the fields of `/proc/<pid>/stat` after it (the command
/// may hold spaces and parentheses: they start after the last ')'): state
/// is `[0]`, ppid `[1]`, tty_nr `[4]`, utime `[11]`, stime `[12]`,
/// starttime `[19]`, arg_start `[45]`, arg_end `[46]`.
pub fn parse_stat(text: &str) -> Option<(String, Vec<&str>)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    (rest.len() > 19).then_some((comm, rest))
}

/// `(state, start time)` of a process from `/proc/<pid>/stat`.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, fields) = parse_stat(&s)?;
    let state = fields[0].chars().next()?;
    let start = fields[19].parse().ok()?;
    Some((state, start))
}

pub fn alive(pid: i32, start_time: u64) -> bool {
    if pid <= 0 || kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    matches!(proc_stat(pid), Some((s, t)) if s != 'Z' && s != 'X' && t == start_time)
}

/// The state this process saved last, and the identity of the file it
/// wrote (device, inode, size, change time): a shim runs `create` and then
/// `start` in one process, and `start`'s load would read back and parse
/// the 9 KiB (the whole spec) that `create` has just written, 0.2–0.4 ms of
/// CPU on the start's path here. A file replaced since (every save is a
/// rename of a new file, with an inode of its own) is read again.
static LAST_SAVED: std::sync::Mutex<Option<(PathBuf, FileId, Saved)>> = std::sync::Mutex::new(None);

type FileId = (u64, u64, u64, i64, i64);

fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.size(), m.ctime(), m.ctime_nsec()))
}

fn remember_saved(path: &Path, saved: &Saved) {
    let id = file_id(path);
    if let Ok(mut last) = LAST_SAVED.lock() {
        *last = id.map(|id| (path.to_path_buf(), id, saved.clone()));
    }
}

fn last_saved(path: &Path) -> Option<Saved> {
    let last = LAST_SAVED.lock().ok()?;
    let (p, id, saved) = last.as_ref()?;
    (p == path && file_id(path).as_ref() == Some(id)).then(|| saved.clone())
}

/// Writes a file so a reader, or a crashed process, leaves the old content
/// or the new, never a mix: a temp file renamed over it. Not fsynced, as
/// runc does not: the state lives under /run, gone with the machine, and
/// the two fsyncs (file and directory) cost a journal commit each on a
/// disk, on every create and exec (0.3–0.5 ms each here).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    rrun_shim::replace_unsynced(path, data).with_context(|| format!("write {}", path.display()))
}

/// Now, as RFC 3339 in UTC with nanoseconds (what runc prints).
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: gmtime_r writes into our zeroed struct.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::gmtime_r(&secs, &mut tm);
        tm
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_nanos()
    )
}

/// The name of the calling user, as runc reports the owner; looked up
/// once per process (a spare shim does it while it waits: the C library's
/// lookup tries nscd, reads nsswitch.conf and the passwd file).
pub fn owner() -> String {
    static OWNER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWNER
        .get_or_init(|| {
            let uid = nix::unistd::getuid();
            nix::unistd::User::from_uid(uid)
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_else(|| format!("#{uid}"))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_recycled_pid_is_not() {
        let me = std::process::id() as i32;
        let (state, start) = proc_stat(me).unwrap();
        assert!(state == 'R' || state == 'S', "{state}");
        assert!(alive(me, start));
        assert!(!alive(me, start + 1));
        assert!(!alive(0, start));
    }

    #[test]
    fn rfc3339_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }

    #[test]
    fn a_state_saved_here_loads_as_saved_and_one_replaced_since_is_read() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("c1")).unwrap();
        let saved = Saved {
            id: "c1".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            pid: 41,
            start_time: 7,
            created: now_rfc3339(),
            owner: "root".into(),
            cgroup_path: "/rrun/c1".into(),
            spec: Spec::default(),
        };
        saved.save(root.path()).unwrap();
        assert_eq!(Saved::load(root.path(), "c1").unwrap().pid, 41);
        // Another process's save: a new file in its place.
        let mut other = saved.clone();
        other.pid = 42;
        let p = Saved::dir(root.path(), "c1").join(STATE_FILE);
        write_atomic(&p, &serde_json::to_vec(&other).unwrap()).unwrap();
        assert_eq!(Saved::load(root.path(), "c1").unwrap().pid, 42);
        // Gone: not answered from memory.
        std::fs::remove_file(&p).unwrap();
        assert!(Saved::load(root.path(), "c1").is_err());
    }

    #[test]
    fn atomic_write_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
