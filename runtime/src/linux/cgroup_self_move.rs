//! The init moves itself into its cgroup (cgroup v1, cgroupfs driver).
//!
//! A move by pid, a write of the init's pid to `cgroup.procs`, takes the
//! kernel's global `cgroup_threadgroup_rwsem` for writing, whose writer
//! first waits for an RCU grace period unless another writer ran less than
//! one ago: 5–16 ms on a quiet 2-core host, the largest wait of a start
//! (see `attach_warm`). A thread that writes `0` to a v1 `tasks` file moves
//! itself alone, and the kernel takes no global lock for that
//! (`cgroup_procs_write_start`: no pid and no thread group; the thread
//! cannot exit or exec under it): 0.03 ms, cold, on the same host. The
//! init's first stage is one thread from its fork to its exec, so right
//! after the fork it writes `0` to the `tasks` file of each hierarchy the
//! container's cgroup lives in, and everything it forks later starts there.
//!
//! The hierarchies are those libcgroups' v1 manager uses for the same
//! path: a mount of type `cgroup` for each controller it knows (the same
//! mount-point rules as its `get_subsystem_mount_point`), which this
//! process is in. The directories are made here, before the fork, and
//! cpuset's `cpus` and `mems` are filled from the parents (an empty cpuset
//! takes no task), as its `add_task` does. Anything else (cgroup v2, the
//! systemd driver, a relative path) keeps the move by pid.

use anyhow::{Context, Result};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// libcgroups 0.7's v1 `CONTROLLERS`, by name.
const CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "hugetlb",
    "memory",
    "pids",
    "perf_event",
    "blkio",
    "net_prio",
    "net_cls",
    "freezer",
];

/// The `tasks` file of `cgroup_path` in each v1 hierarchy, each directory
/// made; `None` where the init must be moved by pid (see the module), and
/// when `create` finds processes in one of them.
pub fn task_files(cgroup_path: &Path, create: bool) -> Option<Vec<CString>> {
    let rel = cgroupfs_v1_rel(cgroup_path)?;
    match prepare(rel, create) {
        Ok(files) if !files.is_empty() => Some(files),
        Ok(_) => None,
        Err(e) => {
            tracing::debug!(error = %e, "the init is moved into its cgroup by pid");
            None
        }
    }
}

/// The mount point of each v1 controller this process is in, found once
/// per process: a spare shim finds them while it waits ([`warm`]), not on
/// a start's path (the mount table grows with every running container's
/// root: 16 KiB, 0.25 ms to read, with a few). v1 hierarchies are mounted
/// at boot and stay.
static MOUNTS: std::sync::OnceLock<Vec<(&'static str, PathBuf)>> = std::sync::OnceLock::new();

fn joined_mounts() -> Result<&'static [(&'static str, PathBuf)]> {
    if let Some(m) = MOUNTS.get() {
        return Ok(m);
    }
    let mounts = read_joined_mounts()?;
    Ok(MOUNTS.get_or_init(|| mounts))
}

/// The mount point of each v1 controller this process is in, read now.
fn read_joined_mounts() -> Result<Vec<(&'static str, PathBuf)>> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let own = std::fs::read_to_string("/proc/self/cgroup")?;
    let joined: Vec<&str> = rrun_shim::proc_cgroup_lines(&own)
        .flat_map(|(controllers, _)| controllers.split(','))
        .collect();
    Ok(CONTROLLERS
        .iter()
        .filter(|c| joined.contains(c))
        .filter_map(|c| Some((*c, mount_point(&mountinfo, c)?)))
        .collect())
}

/// The directories of `cgroup_path` in the v1 hierarchies libcgroups' v1
/// manager would use for it, the freezer's marked, from one read of the
/// mount table (its manager reads the mount table and /proc/self/cgroup
/// once per controller, through a new procfs handle each time: 1 ms of
/// CPU per container, and the daemon made one for each container it
/// removed). `None` where libcgroups decides (see [`cgroupfs_v1_rel`]).
pub fn v1_dirs(cgroup_path: &Path) -> Option<Vec<(PathBuf, bool)>> {
    let rel = cgroupfs_v1_rel(cgroup_path)?;
    let dirs = hierarchy_dirs(&read_joined_mounts().ok()?, rel, "freezer");
    (!dirs.is_empty()).then_some(dirs)
}

/// [`v1_dirs`] from the hierarchies this process found before (see
/// `MOUNTS`: a spare shim found them while it waited), and apart the
/// devices hierarchy's directory. `None` where libcgroups decides, and on
/// a host without a devices hierarchy (libcgroups' manager refuses it).
pub fn v1_dirs_known(cgroup_path: &Path) -> Option<(Vec<(PathBuf, bool)>, PathBuf)> {
    let rel = cgroupfs_v1_rel(cgroup_path)?;
    let mounts = joined_mounts().ok()?;
    let devices = mounts.iter().find(|(c, _)| *c == "devices")?.1.join(rel);
    Some((hierarchy_dirs(mounts, rel, "freezer"), devices))
}

/// `cgroup_path` relative to each hierarchy's root when it is handled here,
/// on cgroup v1 with the cgroupfs driver: `None` on cgroup v2, for the
/// systemd driver's form, a relative path, and one with `..` (it would
/// lead out of the hierarchy; libcgroups joins such a path safely).
fn cgroupfs_v1_rel(cgroup_path: &Path) -> Option<&Path> {
    use std::path::Component;
    if !cgroup_path.is_absolute()
        || cgroup_path
            .components()
            .any(|c| !matches!(c, Component::RootDir | Component::Normal(_)))
        || Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        || super::cgroups::is_systemd_form(cgroup_path)
    {
        return None;
    }
    cgroup_path.strip_prefix("/").ok()
}

/// `rel`'s directory in each hierarchy of `mounts`, once per directory
/// (controllers mounted together share one), marked when the hierarchy
/// holds the controller `marked`.
fn hierarchy_dirs(
    mounts: &[(&'static str, PathBuf)],
    rel: &Path,
    marked: &str,
) -> Vec<(PathBuf, bool)> {
    let mut dirs: Vec<(PathBuf, bool)> = Vec::new();
    for (c, mp) in mounts {
        let dir = mp.join(rel);
        match dirs.iter_mut().find(|(d, _)| *d == dir) {
            Some(d) => d.1 |= *c == marked,
            None => dirs.push((dir, *c == marked)),
        }
    }
    dirs
}

/// Finds the hierarchies ahead of a start (see `MOUNTS`); nothing on
/// cgroup v2.
pub fn warm() {
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        let _ = joined_mounts();
    }
}

fn prepare(rel: &Path, create: bool) -> Result<Vec<CString>> {
    let dirs = hierarchy_dirs(joined_mounts()?, rel, "cpuset");
    if create {
        // Someone else's processes there would be killed with ours: such a
        // cgroup is left to the move by pid, which refuses it.
        for (dir, _) in &dirs {
            if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                anyhow::ensure!(procs.trim().is_empty(), "{} holds processes", dir.display());
            }
        }
    }
    let mut files = Vec::new();
    for (dir, cpuset) in dirs {
        if create {
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        }
        if cpuset {
            fill_cpuset(&dir, rel)?;
        }
        files.push(CString::new(
            dir.join("tasks").into_os_string().into_encoded_bytes(),
        )?);
    }
    Ok(files)
}

/// The mount point libcgroups takes for `controller`: the first cgroup v1
/// mount whose mount point ends with its name (cpu and cpuacct also with
/// `cpu,cpuacct`; net_cls and net_prio with either joined name).
fn mount_point(mountinfo: &str, controller: &str) -> Option<PathBuf> {
    let single = [controller];
    let names: &[&str] = match controller {
        "net_cls" => &["net_cls,net_prio", "net_prio,net_cls", "net_cls"],
        "net_prio" => &["net_cls,net_prio", "net_prio,net_cls", "net_prio"],
        "cpu" => &["cpu,cpuacct", "cpu"],
        "cpuacct" => &["cpu,cpuacct", "cpuacct"],
        _ => &single,
    };
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split(' ').next() != Some("cgroup") {
            return None;
        }
        let mp = PathBuf::from(super::rootfs::unescape_mountinfo(left.split(' ').nth(4)?));
        names.iter().any(|n| mp.ends_with(n)).then_some(mp)
    })
}

/// Fills an empty `cpuset.cpus` and `cpuset.mems` from the parent, from
/// the hierarchy's root down to `dir` (libcgroups' `ensure_not_empty`).
fn fill_cpuset(dir: &Path, rel: &Path) -> Result<()> {
    let mut root = dir.to_path_buf();
    for _ in rel.components() {
        root.pop();
    }
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let mut current = root.clone();
        for part in rel.components() {
            let parent = std::fs::read_to_string(current.join(file))
                .with_context(|| format!("read {}", current.join(file).display()))?;
            current.push(part);
            let path = current.join(file);
            let own = std::fs::read_to_string(&path)
                .with_context(|| format!("read {}", path.display()))?;
            if own.trim().is_empty() {
                std::fs::write(&path, parent.trim())
                    .with_context(|| format!("write {}", path.display()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
30 24 0:26 / /sys/fs/cgroup/systemd rw shared:9 - cgroup cgroup rw,xattr,name=systemd
33 24 0:29 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup rw,cpu,cpuacct
34 24 0:30 / /sys/fs/cgroup/net_cls,net_prio rw shared:13 - cgroup cgroup rw,net_cls,net_prio
35 24 0:31 / /sys/fs/cgroup/memory rw shared:14 - cgroup cgroup rw,memory
36 24 0:32 / /sys/fs/cgroup/unified rw shared:15 - cgroup2 cgroup2 rw
";

    #[test]
    fn v1_dirs_leave_to_libcgroups_what_it_decides() {
        for p in ["rrun/x", "/rrun/../x", "/../x", "system.slice:rrun:x"] {
            assert_eq!(v1_dirs(Path::new(p)), None, "{p}");
        }
        // On a v1 host (as here): each hierarchy's directory, the freezer's
        // marked.
        if Path::new("/sys/fs/cgroup/freezer").is_dir() {
            let dirs = v1_dirs(Path::new("/rrun/x")).expect("v1 hierarchies");
            assert!(dirs.contains(&(PathBuf::from("/sys/fs/cgroup/freezer/rrun/x"), true)));
            assert!(dirs.contains(&(PathBuf::from("/sys/fs/cgroup/memory/rrun/x"), false)));
        }
    }

    #[test]
    fn mount_points_follow_libcgroups_rules() {
        let mp = |c| mount_point(INFO, c).map(|p| p.display().to_string());
        assert_eq!(mp("cpu").as_deref(), Some("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(mp("cpuacct").as_deref(), Some("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(
            mp("net_prio").as_deref(),
            Some("/sys/fs/cgroup/net_cls,net_prio")
        );
        assert_eq!(mp("memory").as_deref(), Some("/sys/fs/cgroup/memory"));
        // Not mounted; and cgroup2 is no v1 controller's.
        assert_eq!(mp("pids"), None);
        assert_eq!(mp("unified"), None);
    }

    #[test]
    fn only_an_absolute_cgroupfs_path_moves_itself() {
        assert_eq!(task_files(Path::new("rrun/x"), false), None);
        assert_eq!(task_files(Path::new("system.slice:rrun:x"), false), None);
        // Out of the hierarchy: left to libcgroups, which joins it safely.
        assert_eq!(task_files(Path::new("/../../tmp/x"), false), None);
    }
}
