//! Pure: what the run options change in the OCI spec (oci-spec's types).

use std::path::Path;

use oci_spec::runtime::{
    Linux, LinuxBlockIo, LinuxCpu, LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory,
    LinuxPids, LinuxResources, Mount, PosixRlimit, Process, Spec,
};

use super::*;
use crate::daemon::seccomp_profile;
use crate::daemon::spec::{capability_set, process_capabilities, SpecError};

// ---------------------------------------------------------------------------
// The spec.

/// A host device node, looked up by the daemon (`stat`).
#[derive(Debug, Clone, PartialEq)]
pub struct DevNode {
    /// Path in the container.
    pub path: String,
    /// A character or block device.
    pub typ: LinuxDeviceType,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Cgroup access (`rwm`).
    pub access: String,
}

/// What [`apply`] needs besides the options.
#[derive(Debug, Clone)]
pub struct Extra<'a> {
    pub host: &'a Host,
    /// Devices to create: `--device`s, or every host device when privileged.
    pub devices: Vec<DevNode>,
    /// Host path of the reaper binary for `--init`.
    pub init_binary: String,
    /// The other containers whose pid or ipc namespace this one joins.
    pub joined: super::namespaces::Joined,
    /// The block IO options with their devices' numbers ([`block_io`]).
    pub block_io: Option<LinuxBlockIo>,
}

fn memory(o: &RunOptions, host: &Host) -> Option<LinuxMemory> {
    let mut m = LinuxMemory::default();
    if o.memory > 0 {
        m.set_limit(Some(o.memory));
        if host.swap_limit {
            m.set_swap(Some(match o.memory_swap {
                0 => o.memory * 2,
                s => s,
            }));
        }
    }
    if o.memory_reservation > 0 {
        m.set_reservation(Some(o.memory_reservation));
    }
    (m != LinuxMemory::default()).then_some(m)
}

fn cpu(o: &RunOptions) -> Option<LinuxCpu> {
    let mut c = LinuxCpu::default();
    if o.cpu_shares > 0 {
        c.set_shares(Some(o.cpu_shares as u64));
    }
    if o.nano_cpus > 0 {
        let period: i64 = 100_000;
        c.set_period(Some(period as u64));
        c.set_quota(Some(o.nano_cpus * period / 1_000_000_000));
    } else {
        if o.cpu_period > 0 {
            c.set_period(Some(o.cpu_period as u64));
        }
        if o.cpu_quota != 0 {
            c.set_quota(Some(o.cpu_quota));
        }
    }
    let set = |s: &str| (!s.is_empty()).then(|| s.to_string());
    c.set_cpus(set(&o.cpuset_cpus))
        .set_mems(set(&o.cpuset_mems));
    (c != LinuxCpu::default()).then_some(c)
}

/// Docker's resources: memory (swap doubles the limit unless set), CPU
/// quota from `--cpus` over a 100 ms period, shares, cpusets, pids, the
/// block IO weight (the per-device settings need the devices' numbers:
/// [`Extra::block_io`]).
pub fn resources(o: &RunOptions, host: &Host) -> LinuxResources {
    let pids = o.pids_limit.filter(|p| *p != 0).map(|p| {
        let mut pids = LinuxPids::default();
        pids.set_limit(if p < 0 { -1 } else { p });
        pids
    });
    let block_io = (o.blkio_weight > 0).then(|| {
        let mut b = LinuxBlockIo::default();
        b.set_weight(Some(o.blkio_weight));
        b
    });
    let mut r = LinuxResources::default();
    r.set_memory(memory(o, host))
        .set_cpu(cpu(o))
        .set_pids(pids)
        .set_block_io(block_io);
    r
}

/// Changes the spec [`super::spec::build`] made for the options.
pub fn apply(spec: &mut Spec, o: &RunOptions, x: &Extra) -> Result<(), SpecError> {
    let caps = capabilities(o, &x.host.caps).map_err(SpecError::RunOption)?;
    let sec = parse_security(&o.security_opt).map_err(SpecError::RunOption)?;
    let process = spec
        .process_mut()
        .as_mut()
        .ok_or(SpecError::Missing("process"))?;
    apply_process(process, o, &caps, &sec)?;
    let mounts = spec.mounts_mut().get_or_insert_with(Vec::new);
    apply_mounts(mounts, o, x);
    let root = spec.root_mut().as_mut().ok_or(SpecError::Missing("root"))?;
    root.set_readonly(Some(o.readonly_rootfs));
    let linux = spec
        .linux_mut()
        .as_mut()
        .ok_or(SpecError::Missing("linux"))?;
    apply_linux(linux, o, x);
    let profile = match (&sec.seccomp, o.privileged) {
        (_, true) | (Seccomp::Unconfined, _) => None,
        (Seccomp::Default, _) => Some(seccomp_profile::default_profile()),
        (Seccomp::Profile(text), _) => Some(seccomp_profile::parse(text)?),
    };
    if let Some(profile) = profile {
        linux.set_seccomp(Some(seccomp_profile::to_oci(
            &profile,
            &target(&caps, x.host),
        )?));
    }
    // After the mounts: `--ipc host` replaces the /dev/shm they sized.
    apply_modes(spec, o, &x.joined);
    Ok(())
}

/// `--ulimit name=…` as an OCI rlimit (`nofile` → `RLIMIT_NOFILE`).
fn rlimit(u: &Ulimit) -> Result<PosixRlimit, SpecError> {
    Ok(Rlimit::of(u).map_err(SpecError::RunOption)?.to_oci())
}

/// Capabilities, no-new-privileges, the OOM score, rlimits, `--init`.
fn apply_process(
    p: &mut Process,
    o: &RunOptions,
    caps: &[String],
    sec: &Security,
) -> Result<(), SpecError> {
    p.set_capabilities(Some(process_capabilities(capability_set(caps)?)));
    p.set_no_new_privileges(Some(sec.no_new_privileges));
    // Always, as Docker: a container otherwise inherits the daemon's own
    // score (the unit's OOMScoreAdjust=-500) and outlives the host's
    // processes under memory pressure.
    p.set_oom_score_adj(Some(o.oom_score_adj));
    if !o.ulimits.is_empty() {
        let rlimits = o.ulimits.iter().map(rlimit).collect::<Result<_, _>>()?;
        p.set_rlimits(Some(rlimits));
    }
    if o.init == Some(true) {
        let mut args = vec![INIT_PATH.to_string(), "--".to_string()];
        args.extend(p.args().iter().flatten().cloned());
        p.set_args(Some(args));
    }
    Ok(())
}

/// The `--init` reaper's mount, `/dev/shm`'s size, and writable `/sys` and
/// cgroup tree when privileged.
fn apply_mounts(mounts: &mut Vec<Mount>, o: &RunOptions, x: &Extra) {
    if o.init == Some(true) {
        let mut m = Mount::default();
        m.set_destination(INIT_PATH.into())
            .set_typ(Some("bind".into()))
            .set_source(Some(x.init_binary.clone().into()))
            .set_options(Some(["rbind", "ro", "rprivate"].map(String::from).to_vec()));
        mounts.push(m);
    }
    for m in mounts.iter_mut() {
        let dst = m.destination().clone();
        if dst == Path::new("/dev/shm") && m.typ().as_deref() == Some("tmpfs") {
            let size = if o.shm_size > 0 {
                o.shm_size
            } else {
                DEFAULT_SHM_SIZE
            };
            let opts = ["nosuid", "noexec", "nodev", "mode=1777"].map(String::from);
            let mut opts = opts.to_vec();
            opts.push(format!("size={size}"));
            m.set_options(Some(opts));
        }
        // Privileged containers get /sys and the cgroup tree writable.
        if o.privileged && (dst == Path::new("/sys") || dst == Path::new("/sys/fs/cgroup")) {
            if let Some(opts) = m.options_mut() {
                opts.retain(|v| v != "ro");
                opts.push("rw".into());
            }
        }
    }
}

fn device_rule(d: &DevNode) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true)
        .set_typ(Some(d.typ))
        .set_major(Some(d.major))
        .set_minor(Some(d.minor))
        .set_access(Some(d.access.clone()));
    r
}

fn device(d: &DevNode) -> LinuxDevice {
    let mut dev = LinuxDevice::default();
    dev.set_path(d.path.clone().into())
        .set_typ(d.typ)
        .set_major(d.major)
        .set_minor(d.minor)
        .set_file_mode(Some(d.mode))
        .set_uid(Some(d.uid))
        .set_gid(Some(d.gid));
    dev
}

/// Resources, device nodes and their cgroup rules, sysctls; no masked or
/// read-only paths when privileged.
fn apply_linux(linux: &mut Linux, o: &RunOptions, x: &Extra) {
    let mut res = resources(o, x.host);
    if x.block_io.is_some() {
        res.set_block_io(x.block_io.clone());
    }
    if o.privileged {
        linux.set_masked_paths(Some(vec![]));
        linux.set_readonly_paths(Some(vec![]));
        let mut all = LinuxDeviceCgroup::default();
        all.set_allow(true).set_access(Some("rwm".into()));
        res.set_devices(Some(vec![all]));
    } else if !x.devices.is_empty() {
        res.set_devices(Some(x.devices.iter().map(device_rule).collect()));
    }
    linux.set_resources(Some(res));
    if !x.devices.is_empty() {
        linux.set_devices(Some(x.devices.iter().map(device).collect()));
    }
    if !o.sysctls.is_empty() {
        linux.set_sysctl(Some(o.sysctls.clone().into_iter().collect()));
    }
}

/// Adds `--group-add`'s ids (from [`resolve_groups`]) to the process's user.
pub fn add_groups(spec: &mut Spec, gids: Vec<u32>) {
    if let Some(p) = spec.process_mut().as_mut().filter(|_| !gids.is_empty()) {
        p.user_mut().set_additional_gids(Some(gids));
    }
}

/// `--group-add` entries (numbers or names from the image's /etc/group).
pub fn resolve_groups(groups: &[String], group_file: &str) -> Result<Vec<u32>, SpecError> {
    groups
        .iter()
        .map(|g| {
            g.parse::<u32>().or_else(|_| {
                group_file
                    .lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.len() >= 3 && f[0] == g)
                    .and_then(|f| f[2].parse().ok())
                    .ok_or_else(|| SpecError::UnknownAddedGroup { group: g.clone() })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxSeccompAction;

    fn host() -> Host {
        Host {
            ncpu: 2,
            caps: ALL_CAPS.iter().map(|c| c.to_string()).collect(),
            arch: "amd64".into(),
            kernel: (6, 1),
            swap_limit: true,
            io: Default::default(),
        }
    }

    fn base_spec() -> Spec {
        crate::daemon::spec::build(&crate::daemon::spec::SpecInput {
            args: vec!["sh".into()],
            rootfs: "/r".into(),
            ..Default::default()
        })
        .unwrap()
    }

    fn parts(s: &Spec) -> (&Process, &Linux, &[Mount]) {
        (
            s.process().as_ref().unwrap(),
            s.linux().as_ref().unwrap(),
            s.mounts().as_deref().unwrap(),
        )
    }

    #[test]
    fn spec_gets_resources_and_security() {
        let h = host();
        let o = RunOptions {
            memory: 64 << 20,
            nano_cpus: 500_000_000,
            cpu_shares: 512,
            pids_limit: Some(20),
            ulimits: vec![Ulimit {
                name: "nofile".into(),
                soft: 100,
                hard: 200,
            }],
            sysctls: [("net.ipv4.ip_forward".to_string(), "1".to_string())].into(),
            readonly_rootfs: true,
            oom_score_adj: 100,
            init: Some(true),
            shm_size: 1 << 20,
            ..Default::default()
        };
        let x = Extra {
            host: &h,
            devices: vec![],
            init_binary: "/x/docker-init".into(),
            joined: Default::default(),
            block_io: None,
        };
        let mut s = base_spec();
        apply(&mut s, &o, &x).unwrap();
        let (p, l, mounts) = parts(&s);
        let r = l.resources().as_ref().unwrap();
        let mem = r.memory().unwrap();
        assert_eq!((mem.limit(), mem.swap()), (Some(64 << 20), Some(128 << 20)));
        let cpu = r.cpu().as_ref().unwrap();
        assert_eq!(cpu.quota(), Some(50_000));
        assert_eq!(cpu.period(), Some(100_000));
        assert_eq!(cpu.shares(), Some(512));
        assert_eq!(r.pids().unwrap().limit(), 20);
        let rl = p.rlimits().as_ref().unwrap()[0];
        assert_eq!(
            (rl.typ(), rl.soft(), rl.hard()),
            (oci_spec::runtime::PosixRlimitType::RlimitNofile, 100, 200)
        );
        let sysctl = l.sysctl().as_ref().unwrap();
        assert_eq!(sysctl["net.ipv4.ip_forward"], "1");
        assert_eq!(s.root().as_ref().unwrap().readonly(), Some(true));
        assert_eq!(p.oom_score_adj(), Some(100));
        assert_eq!(p.args().as_deref().unwrap(), [INIT_PATH, "--", "sh"]);
        let at = |d: &str| mounts.iter().find(|m| m.destination() == Path::new(d));
        let init = at(INIT_PATH).unwrap();
        assert_eq!(init.source().as_deref(), Some(Path::new("/x/docker-init")));
        let shm = at("/dev/shm").unwrap().options().clone().unwrap();
        assert!(shm.contains(&"size=1048576".to_string()));
        let seccomp = l.seccomp().as_ref().unwrap();
        assert_eq!(seccomp.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.no_new_privileges(), Some(false));
    }

    #[test]
    fn privileged_and_unconfined_drop_confinement() {
        let h = host();
        let o = RunOptions {
            privileged: true,
            ..Default::default()
        };
        let x = Extra {
            host: &h,
            devices: vec![DevNode {
                path: "/dev/null".into(),
                typ: LinuxDeviceType::C,
                major: 1,
                minor: 3,
                mode: 0o666,
                uid: 0,
                gid: 0,
                access: "rwm".into(),
            }],
            init_binary: String::new(),
            joined: Default::default(),
            block_io: None,
        };
        let mut s = base_spec();
        apply(&mut s, &o, &x).unwrap();
        let (p, l, mounts) = parts(&s);
        assert!(l.seccomp().is_none());
        assert_eq!(l.masked_paths().as_deref(), Some(&[][..]));
        let caps = p.capabilities().as_ref().unwrap();
        assert_eq!(caps.effective().as_ref().unwrap().len(), ALL_CAPS.len());
        let devices = l.devices().as_ref().unwrap();
        assert_eq!(devices[0].path(), Path::new("/dev/null"));
        let rules = l.resources().as_ref().unwrap().devices().clone().unwrap();
        assert!(rules[0].allow() && rules[0].typ().is_none());
        let sys = mounts.iter().find(|m| m.destination() == Path::new("/sys"));
        let sys = sys.unwrap().options().clone().unwrap();
        assert!(sys.contains(&"rw".to_string()) && !sys.contains(&"ro".to_string()));

        let o = RunOptions {
            security_opt: vec!["seccomp=unconfined".into(), "no-new-privileges".into()],
            ..Default::default()
        };
        let mut s = base_spec();
        apply(&mut s, &o, &x).unwrap();
        let (p, l, _) = parts(&s);
        assert!(l.seccomp().is_none());
        assert_eq!(p.no_new_privileges(), Some(true));
        assert!(!l.masked_paths().as_ref().unwrap().is_empty());
    }

    #[test]
    fn bad_options_are_errors_that_name_them() {
        let h = host();
        let x = Extra {
            host: &h,
            devices: vec![],
            init_binary: String::new(),
            joined: Default::default(),
            block_io: None,
        };
        let bad = |o: RunOptions| apply(&mut base_spec(), &o, &x).unwrap_err().to_string();
        let o = RunOptions {
            cap_add: vec!["NOPE".into()],
            ..Default::default()
        };
        assert_eq!(bad(o), "unknown capability: \"CAP_NOPE\"");
        let o = RunOptions {
            security_opt: vec!["seccomp={\"syscalls\": []}".into()],
            ..Default::default()
        };
        assert!(
            bad(o).starts_with("Decoding seccomp profile failed: missing field `defaultAction`")
        );
        let o = RunOptions {
            ulimits: vec![Ulimit {
                name: "bogus".into(),
                soft: 1,
                hard: 1,
            }],
            ..Default::default()
        };
        assert_eq!(bad(o), "invalid ulimit type: bogus");
    }

    #[test]
    fn group_names_resolve() {
        let g = "root:x:0:\nwheel:x:10:\n";
        assert_eq!(
            resolve_groups(&["wheel".into(), "42".into()], g).unwrap(),
            vec![10, 42]
        );
        assert_eq!(
            resolve_groups(&["nope".into()], g).unwrap_err().to_string(),
            "Unable to find group nope: no matching entries in group file"
        );
        let mut s = base_spec();
        add_groups(&mut s, vec![10, 42]);
        let user = s.process().as_ref().unwrap().user().clone();
        assert_eq!(user.additional_gids().as_deref(), Some(&[10, 42][..]));
    }
}
