//! The container's cgroup, through libcgroups (v1, hybrid and v2).

use anyhow::{bail, Context, Result};
use libcgroups::common::{
    create_cgroup_manager, AnyCgroupManager, CgroupConfig, CgroupManager, ControllerOpt,
};
use libcgroups::v2::devices::Devices;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxResources, LinuxWeightDevice, Spec};
use std::path::{Path, PathBuf};

/// The cgroup path of a container: `linux.cgroupsPath`, else `/rrun/<id>`
/// (cgroupfs) or `system.slice:rrun:<id>` (the systemd driver, as runc's
/// default with our prefix). With `--systemd-cgroup` the path must be in
/// the driver's `slice:prefix:name` form, as containerd and Podman pass
/// it; without, that form is refused rather than taken as a directory name.
pub fn plan_path(spec: &Spec, id: &str, systemd: bool) -> Result<PathBuf, String> {
    let given = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let Some(p) = given else {
        return Ok(PathBuf::from(if systemd {
            format!("system.slice:rrun:{id}")
        } else {
            format!("/rrun/{id}")
        }));
    };
    match (systemd, is_systemd_form(&p)) {
        (true, false) => Err(format!(
            "cgroupsPath {:?} is not in the systemd driver's slice:prefix:name form (given --systemd-cgroup)",
            p.display()
        )),
        (false, true) => Err(format!(
            "cgroupsPath {:?} is in the systemd driver's slice:prefix:name form: pass --systemd-cgroup",
            p.display()
        )),
        _ => Ok(p),
    }
}

/// `slice:prefix:name` (the slice may be empty), as opposed to a cgroupfs
/// path. A container's saved path tells every later command which driver
/// made its cgroup.
pub fn is_systemd_form(p: &Path) -> bool {
    p.to_str()
        .is_some_and(|s| !s.starts_with('/') && s.matches(':').count() == 2)
}

/// [`plan_path`], and for the systemd driver a check of the host.
pub fn path(spec: &Spec, id: &str, systemd: bool) -> Result<PathBuf> {
    let p = plan_path(spec, id, systemd).map_err(anyhow::Error::msg)?;
    if systemd {
        check_systemd_host()?;
    }
    Ok(p)
}

/// The systemd driver asks systemd (over D-Bus) for a transient scope per
/// container; that needs systemd as pid 1 and the unified hierarchy.
fn check_systemd_host() -> Result<()> {
    if !Path::new("/run/systemd/system").is_dir() {
        bail!("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system)");
    }
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        bail!("--systemd-cgroup: needs the unified cgroup v2 hierarchy at /sys/fs/cgroup");
    }
    Ok(())
}

pub fn manager(path: &Path, id: &str) -> Result<AnyCgroupManager> {
    create_cgroup_manager(CgroupConfig {
        cgroup_path: path.to_path_buf(),
        systemd_cgroup: is_systemd_form(path),
        container_name: id.to_string(),
    })
    .with_context(|| format!("cgroup manager for {}", path.display()))
}

/// Puts `pid` into the cgroup and applies the spec's resources.
pub fn apply(m: &AnyCgroupManager, spec: &Spec, pid: Pid) -> Result<()> {
    m.add_task(pid).context("add the container to its cgroup")?;
    apply_resources(m, spec, pid)
}

/// Applies the spec's resources to the cgroup of `pid`, the container's
/// init, already in it.
pub fn apply_resources(m: &AnyCgroupManager, spec: &Spec, pid: Pid) -> Result<()> {
    let mut resources = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    // Only what a rule allows may be opened (runc's device policy).
    resources.set_devices(Some(crate::spec::devices::rules(spec)));
    set(m, &resources, pid)?;
    if let AnyCgroupManager::Systemd(_) = m {
        // libcgroups' systemd manager sets no device policy: attach the
        // same eBPF device filter its cgroupfs manager does to the scope.
        let scope = own_v2_cgroup(pid)?;
        Devices::apply_devices(&scope, resources.devices())
            .with_context(|| format!("device policy of {}", scope.display()))?;
    }
    Ok(())
}

/// Whether libcgroups' v1 manager would write nothing for `r` but the
/// device rules (what each of its v1 controllers' `needs_to_handle` asks):
/// a container without limits, as `docker run` makes one by default.
pub fn only_devices(r: &LinuxResources) -> bool {
    let cpu = r.cpu().as_ref().is_none_or(|c| {
        c.shares().is_none()
            && c.quota().is_none()
            && c.burst().is_none()
            && c.period().is_none()
            && c.realtime_runtime().is_none()
            && c.realtime_period().is_none()
            && c.idle().is_none()
            && c.cpus().is_none()
            && c.mems().is_none()
    });
    cpu && r.memory().is_none()
        && r.pids().is_none()
        && r.block_io().is_none()
        && r.network().is_none()
        && r.hugepage_limits().as_ref().is_none_or(|h| h.is_empty())
}

/// Writes the device rules of `spec` to `dir`, the container's v1 devices
/// cgroup, as libcgroups' v1 manager writes them: the spec's
/// ([`devices::rules`](crate::spec::devices::rules)), then what it allows
/// to every container ([`libcgroups_v1_extra`](crate::spec::devices::libcgroups_v1_extra)).
/// Without its manager, whose making reads the mount table once per
/// controller (about 1 ms of CPU, beside the init's own start on a
/// 2-core host).
pub fn write_v1_devices(dir: &Path, spec: &Spec) -> Result<()> {
    use std::io::Write;
    let open = |name: &str| {
        let path = dir.join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))
    };
    let (mut allow, mut deny) = (open("devices.allow")?, open("devices.deny")?);
    let rules = crate::spec::devices::rules(spec);
    for r in rules
        .iter()
        .chain(&crate::spec::devices::libcgroups_v1_extra())
    {
        let (file, name) = match r.allow() {
            true => (&mut allow, "devices.allow"),
            false => (&mut deny, "devices.deny"),
        };
        // One rule per write: the kernel takes each write as one rule.
        file.write_all(r.to_string().as_bytes())
            .with_context(|| format!("write \"{r}\" to {}", dir.join(name).display()))?;
    }
    Ok(())
}

/// Applies `resources` (the spec's linux.resources) to the cgroup of `pid`,
/// the container's init.
pub fn set(m: &AnyCgroupManager, resources: &LinuxResources, pid: Pid) -> Result<()> {
    let mut resources = resources.clone();
    let weights = take_weights(&mut resources);
    let opt = ControllerOpt {
        resources: &resources,
        disable_oom_killer: resources
            .memory()
            .as_ref()
            .and_then(|m| m.disable_oom_killer())
            .unwrap_or(false),
        oom_score_adj: None,
        freezer_state: None,
    };
    m.apply(&opt).context("apply cgroup resources")?;
    weights.write(pid)
}

/// The block IO weights, written here as runc writes them rather than by
/// libcgroups 0.7, whose v2 conversion of the weight overflows a u16 (a
/// panic in a debug build, a wrong weight in a release one), which fails on
/// v2 device weights without BFQ (runc leaves them out) and ignores them on
/// v1.
#[derive(Debug, Default)]
struct Weights {
    weight: Option<u16>,
    devices: Vec<LinuxWeightDevice>,
}

/// [`Weights`] out of what libcgroups applies.
fn take_weights(r: &mut LinuxResources) -> Weights {
    let Some(mut b) = r.block_io().clone() else {
        return Weights::default();
    };
    let w = Weights {
        weight: b.weight().filter(|w| *w > 0),
        devices: b.weight_device().clone().unwrap_or_default(),
    };
    b.set_weight(None).set_weight_device(None);
    r.set_block_io(Some(b));
    w
}

impl Weights {
    /// v2: `io.bfq.weight` under BFQ (the weight as given, and the device
    /// weights), else `io.weight` scaled ([`io_weight`]) and no device
    /// weights; v1: `blkio.bfq.weight[_device]` under BFQ, else
    /// `blkio.weight[_device]`.
    fn write(&self, pid: Pid) -> Result<()> {
        if self.weight.is_none() && self.devices.is_empty() {
            return Ok(());
        }
        let (weight_file, weight, devices_file) =
            if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
                let dir = own_v2_cgroup(pid)?;
                let bfq = dir.join("io.bfq.weight");
                if bfq.exists() {
                    (bfq.clone(), self.weight.map(u64::from), Some(bfq))
                } else {
                    (dir.join("io.weight"), self.weight.map(io_weight), None)
                }
            } else {
                let dir = Path::new("/sys/fs/cgroup/blkio").join(own_v1_cgroup(pid, "blkio")?);
                let bfq = dir.join("blkio.bfq.weight").exists();
                let (w, d) = if bfq {
                    ("blkio.bfq.weight", "blkio.bfq.weight_device")
                } else {
                    ("blkio.weight", "blkio.weight_device")
                };
                (dir.join(w), self.weight.map(u64::from), Some(dir.join(d)))
            };
        let write = |file: &Path, line: String| {
            std::fs::write(file, &line)
                .with_context(|| format!("write {line:?} to {}", file.display()))
        };
        if let Some(w) = weight {
            write(&weight_file, w.to_string())?;
        }
        if let Some(f) = &devices_file {
            for d in &self.devices {
                if let Some(w) = d.weight() {
                    write(f, format!("{}:{} {w}", d.major(), d.minor()))?;
                }
            }
        }
        Ok(())
    }
}

/// runc's ConvertBlkIOToIOWeightValue: a weight of 10 to 1000 onto cgroup
/// v2's `io.weight` range, 1 to 10000.
fn io_weight(w: u16) -> u64 {
    1 + u64::from(w).saturating_sub(10) * 9999 / 990
}

/// `pid`'s cgroup in the v1 hierarchy of `controller`, relative.
fn own_v1_cgroup(pid: Pid, controller: &str) -> Result<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .with_context(|| format!("read /proc/{pid}/cgroup"))?;
    let path = rrun_shim::proc_cgroup_lines(&text).find_map(|(ctl, path)| {
        ctl.split(',')
            .any(|c| c == controller)
            .then(|| path.trim_start_matches('/').to_string())
    });
    path.with_context(|| format!("process {pid} is in no {controller} cgroup"))
}

/// The cgroup v2 directory `pid` is in.
fn own_v2_cgroup(pid: Pid) -> Result<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .with_context(|| format!("read /proc/{pid}/cgroup"))?;
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .with_context(|| format!("process {pid} is in no cgroup v2"))?;
    Ok(Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/')))
}

/// The processes a cgroup directory's `cgroup.procs` lists (none when it
/// cannot be read).
pub fn procs_of(dir: &Path) -> Vec<Pid> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .map(Pid::from_raw)
        .collect()
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

/// Clock ticks per second (`cpuacct.stat`, `/proc/<pid>/stat`), for the
/// daemon's `top` and stats and rrun-oci's `events`.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, SpecBuilder};

    fn spec_with(p: Option<&str>) -> Spec {
        let mut linux = LinuxBuilder::default().build().unwrap();
        linux.set_cgroups_path(p.map(PathBuf::from));
        SpecBuilder::default().linux(linux).build().unwrap()
    }

    /// Removes the test's cgroup directories, also when an assertion fails.
    struct Dirs(Vec<PathBuf>);

    impl Drop for Dirs {
        fn drop(&mut self) {
            for d in &self.0 {
                let _ = std::fs::remove_dir(d);
            }
        }
    }

    #[test]
    fn v1_device_rules_are_written_as_libcgroups_writes_them() {
        use oci_spec::runtime::{LinuxDeviceBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType};
        let rel = |name: &str| PathBuf::from(format!("/rrun-unit-{}-{name}", std::process::id()));
        if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            // cgroup v2: the v1 writer has no directory to write to.
            assert_eq!(
                crate::linux::cgroup_self_move::v1_dirs_known(&rel("x")),
                None
            );
            return;
        }
        let rule = |allow, typ, major, minor, access: &str| {
            LinuxDeviceCgroupBuilder::default()
                .allow(allow)
                .typ(typ)
                .major(major)
                .minor(minor)
                .access(access)
                .build()
                .unwrap()
        };
        let plain = spec_with(None);
        let mut own = spec_with(None);
        let mut linux = own.linux().clone().unwrap();
        let mut r = LinuxResources::default();
        // A denied /dev/null (the defaults allow it again), a readable
        // sda, and a node with no rule.
        r.set_devices(Some(vec![
            rule(false, LinuxDeviceType::C, 1, 3, "rwm"),
            rule(true, LinuxDeviceType::B, 8, 0, "r"),
        ]));
        linux.set_resources(Some(r));
        let fuse = LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .build()
            .unwrap();
        linux.set_devices(Some(vec![fuse]));
        own.set_linux(Some(linux));
        for (i, spec) in [plain, own].iter().enumerate() {
            let (by_lib, by_us) = (rel(&format!("lib{i}")), rel(&format!("own{i}")));
            let (_, lib_dir) = crate::linux::cgroup_self_move::v1_dirs_known(&by_lib).unwrap();
            let (dirs, our_dir) = crate::linux::cgroup_self_move::v1_dirs_known(&by_us).unwrap();
            assert!(dirs.iter().any(|(d, _)| *d == our_dir), "{dirs:?}");
            let _made = Dirs(vec![lib_dir.clone(), our_dir.clone()]);
            std::fs::create_dir(&lib_dir).unwrap();
            std::fs::create_dir(&our_dir).unwrap();
            let m = manager(&by_lib, "unit").unwrap();
            let mut resources = LinuxResources::default();
            resources.set_devices(Some(crate::spec::devices::rules(spec)));
            set(&m, &resources, Pid::this()).unwrap();
            write_v1_devices(&our_dir, spec).unwrap();
            let list = |d: &Path| std::fs::read_to_string(d.join("devices.list")).unwrap();
            assert_eq!(list(&our_dir), list(&lib_dir), "spec {i}");
            // Not the host's "a *:* rwm": the rules took.
            assert!(list(&our_dir).contains("c 1:5 rwm"), "{}", list(&our_dir));
            assert_eq!(
                list(&our_dir).contains("b 8:0 r\n"),
                i == 1,
                "{}",
                list(&our_dir)
            );
        }
    }

    #[test]
    fn io_weight_scales_as_runc() {
        assert_eq!(io_weight(10), 1);
        assert_eq!(io_weight(300), 2930);
        assert_eq!(io_weight(500), 4950);
        assert_eq!(io_weight(1000), 10000);
    }

    #[test]
    fn paths_by_driver() {
        assert_eq!(
            plan_path(&spec_with(None), "c1", false).unwrap(),
            Path::new("/rrun/c1")
        );
        assert_eq!(
            plan_path(&spec_with(None), "c1", true).unwrap(),
            Path::new("system.slice:rrun:c1")
        );
        let sd = spec_with(Some("kubepods-pod1.slice:cri-containerd:abc"));
        assert_eq!(
            plan_path(&sd, "abc", true).unwrap(),
            Path::new("kubepods-pod1.slice:cri-containerd:abc")
        );
        assert!(plan_path(&sd, "abc", false)
            .unwrap_err()
            .contains("pass --systemd-cgroup"));
        let fs = spec_with(Some("/machine/abc"));
        assert!(plan_path(&fs, "abc", true)
            .unwrap_err()
            .contains("slice:prefix:name"));
        assert_eq!(
            plan_path(&fs, "abc", false).unwrap(),
            Path::new("/machine/abc")
        );
        assert!(is_systemd_form(Path::new(":libpod:abc")));
        assert!(!is_systemd_form(Path::new("/a:b:c")));
        assert!(!is_systemd_form(Path::new("relative/path")));
    }
}
