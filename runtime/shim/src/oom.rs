//! Whether the kernel's OOM killer ended a process of the container, for
//! `State.OOMKilled`: the `oom_kill` count of its memory cgroup (v2
//! `memory.events`, v1 `memory.oom_control`). The file is found while the
//! init lives and read after it exits, before `rrun-oci delete` removes the
//! cgroup.

use std::path::{Path, PathBuf};

/// The file that counts OOM kills in the memory cgroup of a process, from
/// its `/proc/<pid>/cgroup`. `unified` when `root` is a cgroup v2 mount.
pub fn events_file(root: &Path, proc_cgroup: &str, unified: bool) -> Option<PathBuf> {
    let mut v2 = None;
    for (ctrls, path) in crate::proc_cgroup_lines(proc_cgroup) {
        let rel = path.trim_start_matches('/');
        if ctrls.split(',').any(|c| c == "memory") {
            return Some(root.join("memory").join(rel).join("memory.oom_control"));
        }
        if ctrls.is_empty() && unified {
            v2 = Some(root.join(rel).join("memory.events"));
        }
    }
    v2
}

/// The `oom_kill N` line of memory.events or memory.oom_control.
pub fn oom_kills(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// The OOM count file of a running process's memory cgroup.
pub fn watch(pid: i32) -> Option<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    events_file(root, &text, root.join("cgroup.controllers").exists())
}

/// Whether the file [`watch`] found counts an OOM kill (false when the
/// cgroup is already gone).
pub fn killed(file: Option<&Path>) -> bool {
    file.and_then(|f| std::fs::read_to_string(f).ok())
        .is_some_and(|t| oom_kills(&t) > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_memory_cgroup_on_v1_hybrid_and_v2() {
        let root = Path::new("/sys/fs/cgroup");
        let hybrid = "12:pids:/rrun/abc\n4:memory:/rrun/abc\n0::/rrun/abc\n";
        assert_eq!(
            events_file(root, hybrid, false).unwrap(),
            Path::new("/sys/fs/cgroup/memory/rrun/abc/memory.oom_control")
        );
        let v2 = "0::/system.slice/rrun-abc.scope\n";
        assert_eq!(
            events_file(root, v2, true).unwrap(),
            Path::new("/sys/fs/cgroup/system.slice/rrun-abc.scope/memory.events")
        );
        assert_eq!(events_file(root, "0::/x\n", false), None);
    }

    #[test]
    fn counts_oom_kills() {
        assert_eq!(
            oom_kills("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n"),
            1
        );
        assert_eq!(
            oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"),
            3
        );
        assert_eq!(oom_kills("oom_kill_disable 0\nunder_oom 0\n"), 0);
    }
}
