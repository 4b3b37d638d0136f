//! A container's cgroup as `delete` ends it (see [`Cgroup`]).

use super::state::Saved;
use crate::linux::cgroups;
use anyhow::{Context, Result};
use libcgroups::common::AnyCgroupManager;
use nix::unistd::Pid;
use std::path::PathBuf;

/// A container's cgroup as `destroy` ends it: through libcgroups' manager,
/// or on cgroup v1 with the cgroupfs driver (the daemon's containers on
/// such a host) by its directories, which is what that manager does there
/// (SIGKILL to what `cgroup.procs` lists, the freezer thawed, each
/// directory removed) without its look-up of every hierarchy.
pub(super) enum Cgroup {
    Manager(AnyCgroupManager),
    /// Each hierarchy's directory, and whether it is the freezer's.
    V1(Vec<(PathBuf, bool)>),
}

impl Cgroup {
    pub(super) fn of(c: &Saved) -> Result<Cgroup> {
        match crate::linux::cgroup_self_move::v1_dirs(&c.cgroup_path) {
            Some(dirs) => Ok(Cgroup::V1(dirs)),
            None => cgroups::manager(&c.cgroup_path, &c.id).map(Cgroup::Manager),
        }
    }

    /// Every process in the cgroup and the cgroups below it.
    pub(super) fn pids(&self) -> Vec<Pid> {
        let dirs = match self {
            Cgroup::Manager(m) => return cgroups::pids(m).unwrap_or_default(),
            Cgroup::V1(dirs) => dirs,
        };
        let mut pids = Vec::new();
        let mut todo: Vec<PathBuf> = dirs.iter().map(|(d, _)| d.clone()).collect();
        while let Some(dir) = todo.pop() {
            pids.extend(cgroups::procs_of(&dir));
            if let Ok(rd) = std::fs::read_dir(&dir) {
                todo.extend(
                    rd.flatten()
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.path()),
                );
            }
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    pub(super) fn thaw(&self) {
        match self {
            Cgroup::Manager(m) => {
                let _ = cgroups::freeze(m, false);
            }
            Cgroup::V1(dirs) => {
                for (dir, _) in dirs.iter().filter(|(_, freezer)| *freezer) {
                    let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
                }
            }
        }
    }

    /// Removes the cgroup (once it is empty: an error until then).
    pub(super) fn remove(&self) -> Result<()> {
        let dirs = match self {
            Cgroup::Manager(m) => return cgroups::remove(m),
            Cgroup::V1(dirs) => dirs,
        };
        for (dir, _) in dirs {
            match std::fs::remove_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("remove {}", dir.display())),
            }
        }
        Ok(())
    }
}
