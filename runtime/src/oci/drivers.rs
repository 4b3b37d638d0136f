//! The runtime's side of an init's launch (see `linux::launch`), for a
//! container's create and for an exec: the cgroup it joins, and the hooks.

use super::cgroup::Cgroup;
use super::state::Saved;
use crate::linux::{cgroup_self_move, cgroups, hooks, launch};
use crate::spec::state::Status;
use anyhow::{bail, Context, Result};
use libcgroups::common::AnyCgroupManager;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use std::ffi::CString;
use std::path::PathBuf;

pub(super) struct CreateDriver<'a> {
    /// Made in `place`, while the init is exec'ing: the two overlap.
    pub cgroup: Option<Cgroup>,
    pub spec: &'a Spec,
    pub saved: Saved,
    /// Whether prestart/createRuntime hooks started: a failed create then
    /// owes the poststop hooks (the runtime spec's lifecycle).
    pub hooks_started: bool,
    /// Whether the init moves itself into its cgroup (`self_move`).
    pub moved: bool,
}

impl CreateDriver<'_> {
    /// The container's cgroup, which must hold no process yet: someone
    /// else's processes there would be killed with ours on delete (and by
    /// the clean-up of a failed create), so it is refused and kept out of
    /// `self.cgroup`, so that nothing removes it.
    fn unshared(&self) -> Result<AnyCgroupManager> {
        let m = cgroups::manager(&self.saved.cgroup_path, &self.saved.id)?;
        if cgroups::pids(&m).is_ok_and(|p| !p.is_empty()) {
            bail!(
                "cgroup {} already holds processes; refusing to share it",
                self.saved.cgroup_path.display()
            );
        }
        Ok(m)
    }
}

impl launch::Driver for CreateDriver<'_> {
    fn self_move(&mut self) -> Option<Vec<CString>> {
        // A cgroup that holds processes gets None, and the move by pid
        // then refuses it in `place`.
        let files = cgroup_self_move::task_files(&self.saved.cgroup_path, true)?;
        self.moved = true;
        Some(files)
    }

    fn place(&mut self, pid: Pid) -> Result<()> {
        if self.moved {
            let resources = self
                .spec
                .linux()
                .as_ref()
                .and_then(|l| l.resources().as_ref());
            if resources.is_none_or(cgroups::only_devices) {
                // The init is in its cgroup already, and only the device
                // rules are to be written: without libcgroups' manager (see
                // `write_v1_devices`), on the start's path as this runs
                // beside the init's own start.
                if let Some((dirs, devices)) =
                    cgroup_self_move::v1_dirs_known(&self.saved.cgroup_path)
                {
                    self.cgroup = Some(Cgroup::V1(dirs));
                    return cgroups::write_v1_devices(&devices, self.spec);
                }
            }
            // Made here, while the init is exec'ing, as making one reads
            // mountinfo once per controller (about 1 ms).
            let m = cgroups::manager(&self.saved.cgroup_path, &self.saved.id)?;
            let applied = cgroups::apply_resources(&m, self.spec, pid);
            self.cgroup = Some(Cgroup::Manager(m));
            return applied;
        }
        let m = self.unshared()?;
        let applied = cgroups::apply(&m, self.spec, pid);
        self.cgroup = Some(Cgroup::Manager(m));
        applied
    }

    fn runtime_hooks(&mut self, pid: Pid) -> Result<String> {
        self.saved.pid = pid.as_raw();
        self.hooks_started = true;
        let state = self.saved.hook_state(Status::Creating);
        let h = self.spec.hooks().as_ref();
        #[allow(deprecated)]
        hooks::run_all("prestart", h.and_then(|h| h.prestart().as_ref()), &state)?;
        hooks::run_all(
            "createRuntime",
            h.and_then(|h| h.create_runtime().as_ref()),
            &state,
        )?;
        Ok(state)
    }
}

pub(super) struct ExecDriver {
    pub cgroup: Option<AnyCgroupManager>,
    /// The container's cgroup path, which the process joins.
    pub path: PathBuf,
    pub moved: bool,
}

impl launch::Driver for ExecDriver {
    fn self_move(&mut self) -> Option<Vec<CString>> {
        self.cgroup.as_ref()?;
        let files = cgroup_self_move::task_files(&self.path, false)?;
        self.moved = true;
        Some(files)
    }

    fn place(&mut self, pid: Pid) -> Result<()> {
        use libcgroups::common::CgroupManager;
        match &self.cgroup {
            Some(m) if !self.moved => m.add_task(pid).context("join the container's cgroup"),
            _ => Ok(()),
        }
    }

    fn runtime_hooks(&mut self, _pid: Pid) -> Result<String> {
        bail!("an exec'd process runs no hooks")
    }
}
