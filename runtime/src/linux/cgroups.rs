//! The container's cgroup, through libcgroups (v1, hybrid and v2).

use anyhow::{Context, Result};
use libcgroups::common::{
    create_cgroup_manager, AnyCgroupManager, CgroupConfig, CgroupManager, ControllerOpt,
};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use std::path::PathBuf;

/// The cgroup path of a container: `linux.cgroupsPath`, else
/// `/rrun/<id>`.
pub fn path(spec: &Spec, id: &str) -> PathBuf {
    spec.linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone())
        .unwrap_or_else(|| PathBuf::from(format!("/rrun/{id}")))
}

pub fn manager(path: &std::path::Path, id: &str) -> Result<AnyCgroupManager> {
    create_cgroup_manager(CgroupConfig {
        cgroup_path: path.to_path_buf(),
        systemd_cgroup: false,
        container_name: id.to_string(),
    })
    .with_context(|| format!("cgroup manager for {}", path.display()))
}

/// Puts `pid` into the cgroup and applies the spec's resources.
pub fn apply(m: &AnyCgroupManager, spec: &Spec, pid: Pid) -> Result<()> {
    let mut resources = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    // Only what a rule allows may be opened (runc's device policy).
    resources.set_devices(Some(crate::spec::devices::rules(spec)));
    m.add_task(pid).context("add the container to its cgroup")?;
    set(m, &resources)
}

/// Applies `resources` (the spec's linux.resources) to the cgroup.
pub fn set(m: &AnyCgroupManager, resources: &oci_spec::runtime::LinuxResources) -> Result<()> {
    let opt = ControllerOpt {
        resources,
        disable_oom_killer: resources
            .memory()
            .as_ref()
            .and_then(|m| m.disable_oom_killer())
            .unwrap_or(false),
        oom_score_adj: None,
        freezer_state: None,
    };
    m.apply(&opt).context("apply cgroup resources")
}

pub fn pids(m: &AnyCgroupManager) -> Result<Vec<Pid>> {
    m.get_all_pids().context("list the cgroup's processes")
}

pub fn remove(m: &AnyCgroupManager) -> Result<()> {
    m.remove().context("remove the cgroup")
}

/// Whether the container's cgroup is frozen (`pause`): the v1 freezer's
/// state, or v2's cgroup.freeze.
pub fn frozen(path: &std::path::Path) -> bool {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let v1 = std::path::Path::new("/sys/fs/cgroup/freezer");
    let (file, want) = if v1.is_dir() {
        (v1.join(rel).join("freezer.state"), "FROZEN")
    } else {
        (
            std::path::Path::new("/sys/fs/cgroup")
                .join(rel)
                .join("cgroup.freeze"),
            "1",
        )
    };
    std::fs::read_to_string(file).is_ok_and(|s| s.trim() == want)
}

/// Freezes or thaws every process of the container.
pub fn freeze(m: &AnyCgroupManager, on: bool) -> Result<()> {
    use libcgroups::common::FreezerState;
    let state = if on {
        FreezerState::Frozen
    } else {
        FreezerState::Thawed
    };
    m.freeze(state).context("set the cgroup freezer")
}
