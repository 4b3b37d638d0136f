//! Pure: a container's create options and its image's run defaults become
//! the OCI runtime spec (config.json) that `rrun-oci` runs, with Docker's
//! defaults (capabilities, masked and read-only paths, `/dev/shm`, hostname).
//!
//! The spec is oci-spec's [`Spec`] from the first step to config.json, the
//! same type rrun-oci reads it into. oci-spec's `Default`s describe youki's
//! example container (a shell, `TERM=xterm`, annotations, default rlimits),
//! so every part made here sets each field it starts from a default.

use std::path::PathBuf;

use oci_spec::runtime::{
    Capabilities, Capability, Linux, LinuxCapabilities, LinuxNamespace, LinuxNamespaceType, Mount,
    MountBuilder, Process, RootBuilder, Spec, UserBuilder,
};
use serde::de::IntoDeserializer;
use serde::Deserialize;

use super::seccomp_profile::SeccompError;

/// Why no spec can be made for a container; each message names the object
/// and, where the user can act, what to change.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// `-u name` with no such user in the image (Docker's message).
    #[error("unable to find user {user}: no matching entries in passwd file")]
    UnknownUser { user: String },
    /// The image's /etc/passwd has a non-numeric uid for the user.
    #[error("bad uid for user {user}")]
    BadUid { user: String },
    /// `-u user:group` with no such group in the image (Docker's message).
    #[error("unable to find group {group}: no matching entries in group file")]
    UnknownGroup { group: String },
    /// `--group-add` with no such group in the image (Docker's message).
    #[error("Unable to find group {group}: no matching entries in group file")]
    UnknownAddedGroup { group: String },
    /// A run option refused with Docker's message (capabilities, security
    /// options); the same checks refuse it at create time.
    #[error("{0}")]
    RunOption(String),
    /// A capability the OCI runtime spec does not know.
    #[error("capability {name} is not known to the OCI runtime spec; remove it from --cap-add")]
    UnknownCapability { name: String },
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
    /// A part the spec is built with is missing (a bug in rrund).
    #[error("the container's OCI spec has no {0} section")]
    Missing(&'static str),
    /// oci-spec refused a part (a bug in rrund).
    #[error("the container's OCI spec: {0}")]
    Oci(#[from] oci_spec::OciSpecError),
}

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Docker's masked paths (moby `oci/defaults.go`).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Docker's PATH when neither the image nor the user sets one.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything the spec depends on, already resolved (user looked up in the
/// image's /etc/passwd, paths of the container's files known).
#[derive(Debug, Clone, Default)]
pub struct SpecInput {
    pub args: Vec<String>,
    /// Image env first, then the user's; later keys win.
    pub image_env: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub hostname: String,
    /// Absolute path of the (mounted) root filesystem.
    pub rootfs: String,
    /// `host` shares the host's network namespace; anything else gets a new one.
    pub network_mode: String,
    /// Files bind-mounted over /etc/hostname, /etc/hosts, /etc/resolv.conf.
    pub hostname_file: String,
    pub hosts_file: String,
    pub resolv_file: String,
    /// The network namespace to join (made by the daemon); None with
    /// `host` networking.
    pub netns_path: Option<String>,
    /// Volumes, binds and tmpfs, as OCI mounts (from the volumes crate).
    pub mounts: Vec<Mount>,
    /// cgroup path for the container, e.g. `/rrun/<id>`.
    pub cgroups_path: String,
}

/// Builds the command: Entrypoint + Cmd (Docker's rule: a user entrypoint
/// drops the image's Cmd unless the user also gives one).
pub fn command(
    image_entrypoint: &[String],
    image_cmd: &[String],
    user_entrypoint: Option<&[String]>,
    user_cmd: Option<&[String]>,
) -> Vec<String> {
    let (ep, cmd): (&[String], &[String]) = match (user_entrypoint, user_cmd) {
        (Some(ep), Some(c)) => (ep, c),
        (Some(ep), None) => (ep, &[]),
        (None, Some(c)) => (image_entrypoint, c),
        (None, None) => (image_entrypoint, image_cmd),
    };
    ep.iter().chain(cmd).cloned().collect()
}

/// Merges environment lists: a later `KEY=…` replaces an earlier one in
/// place; PATH gets Docker's default when nobody sets it.
pub fn merge_env(image: &[String], user: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in image.iter().chain(user) {
        let key = e.split('=').next().unwrap_or(e);
        match out
            .iter_mut()
            .find(|o| o.split('=').next().unwrap_or(o) == key)
        {
            Some(slot) => *slot = e.clone(),
            None => out.push(e.clone()),
        }
    }
    if !out.iter().any(|e| e.starts_with("PATH=")) {
        out.insert(0, DEFAULT_PATH.to_string());
    }
    out
}

/// A user from `-u`: `uid`, `uid:gid`, `name` or `name:group`, resolved
/// against the image's /etc/passwd and /etc/group contents.
pub fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<(u32, u32), SpecError> {
    if spec.is_empty() {
        return Ok((0, 0));
    }
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = |file: &str, name: &str| -> Option<Vec<String>> {
        file.lines()
            .map(|l| l.split(':').map(String::from).collect::<Vec<_>>())
            .find(|f| f.len() >= 3 && (f[0] == name || f[2] == name))
    };
    let (uid, default_gid) = match u.parse::<u32>() {
        Ok(uid) => {
            let gid = entry(passwd, u)
                .and_then(|f| f.get(3).and_then(|g| g.parse().ok()))
                .unwrap_or(0);
            (uid, gid)
        }
        Err(_) => {
            let f = entry(passwd, u).ok_or_else(|| SpecError::UnknownUser { user: u.into() })?;
            let uid = f[2]
                .parse()
                .map_err(|_| SpecError::BadUid { user: u.into() })?;
            let gid = f.get(3).and_then(|g| g.parse().ok()).unwrap_or(0);
            (uid, gid)
        }
    };
    let gid = match g {
        None => default_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => entry(group, g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| SpecError::UnknownGroup { group: g.into() })?,
        },
    };
    Ok((uid, gid))
}

/// Capability names (`CAP_…`) as oci-spec's set.
pub fn capability_set(names: &[impl AsRef<str>]) -> Result<Capabilities, SpecError> {
    names
        .iter()
        .map(|n| {
            let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
                n.as_ref().into_deserializer();
            Capability::deserialize(de).map_err(|_| SpecError::UnknownCapability {
                name: n.as_ref().to_string(),
            })
        })
        .collect()
}

/// A process's capabilities as Docker sets them: one set as bounding,
/// effective and permitted; no inheritable or ambient ones.
pub fn process_capabilities(set: Capabilities) -> LinuxCapabilities {
    let mut c = LinuxCapabilities::default();
    c.set_bounding(Some(set.clone()))
        .set_effective(Some(set.clone()))
        .set_permitted(Some(set))
        .set_inheritable(None)
        .set_ambient(None);
    c
}

fn mount(dst: &str, typ: &str, src: &str, opts: &[&str]) -> Result<Mount, SpecError> {
    Ok(MountBuilder::default()
        .destination(dst)
        .typ(typ)
        .source(src)
        .options(opts.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()?)
}

fn bind_mount(src: &str, dst: &str, ro: bool) -> Result<Mount, SpecError> {
    let opts: &[&str] = if ro {
        &["rbind", "rprivate", "ro"]
    } else {
        &["rbind", "rprivate"]
    };
    mount(dst, "bind", src, opts)
}

/// Docker's mounts, the container's files, then the user's mounts.
fn mounts(i: &SpecInput) -> Result<Vec<Mount>, SpecError> {
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
        )?,
        bind_mount(&i.resolv_file, "/etc/resolv.conf", false)?,
        bind_mount(&i.hostname_file, "/etc/hostname", false)?,
        bind_mount(&i.hosts_file, "/etc/hosts", false)?,
    ];
    // A user's mount replaces the default one at the same place (a bind on
    // /dev/shm is not given tmpfs options), as Docker's.
    mounts.retain(|d| !i.mounts.iter().any(|m| m.destination() == d.destination()));
    mounts.extend(i.mounts.iter().cloned());
    Ok(mounts)
}

/// The container's process, with Docker's default capabilities.
fn process(i: &SpecInput) -> Result<Process, SpecError> {
    let user = UserBuilder::default()
        .uid(i.uid)
        .gid(i.gid)
        .additional_gids(i.additional_gids.clone())
        .build()?;
    let cwd = if i.cwd.is_empty() { "/" } else { &i.cwd };
    let mut p = Process::default();
    p.set_terminal(Some(false))
        .set_console_size(None)
        .set_user(user)
        .set_args(Some(i.args.clone()))
        .set_command_line(None)
        .set_env(Some(merge_env(&i.image_env, &i.env)))
        .set_cwd(PathBuf::from(cwd))
        .set_capabilities(Some(process_capabilities(capability_set(DEFAULT_CAPS)?)))
        .set_rlimits(None)
        .set_no_new_privileges(Some(false))
        .set_apparmor_profile(None)
        .set_oom_score_adj(None)
        .set_selinux_label(None)
        .set_io_priority(None)
        .set_scheduler(None)
        .set_exec_cpu_affinity(None);
    Ok(p)
}

fn namespace(typ: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
    let mut ns = LinuxNamespace::default();
    ns.set_typ(typ).set_path(path.map(PathBuf::from));
    ns
}

/// New pid, ipc, uts and mount namespaces; the network namespace the
/// daemon made, the host's with `host` networking, else a new one.
fn namespaces(i: &SpecInput) -> Vec<LinuxNamespace> {
    use LinuxNamespaceType::{Ipc, Mount, Network, Pid, Uts};
    let mut namespaces: Vec<LinuxNamespace> = [Pid, Ipc, Uts, Mount]
        .into_iter()
        .map(|t| namespace(t, None))
        .collect();
    match (&i.netns_path, i.network_mode.as_str()) {
        (Some(p), _) => namespaces.push(namespace(Network, Some(p))),
        (None, "host") => {}
        (None, _) => namespaces.push(namespace(Network, None)),
    }
    namespaces
}

fn linux(i: &SpecInput) -> Linux {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut l = Linux::default();
    l.set_resources(None)
        .set_cgroups_path(Some(PathBuf::from(&i.cgroups_path)))
        .set_namespaces(Some(namespaces(i)))
        .set_masked_paths(Some(strings(MASKED_PATHS)))
        .set_readonly_paths(Some(strings(READONLY_PATHS)))
        .set_uid_mappings(None)
        .set_gid_mappings(None)
        .set_sysctl(None)
        .set_devices(None)
        .set_seccomp(None);
    l
}

/// The OCI runtime spec.
pub fn build(i: &SpecInput) -> Result<Spec, SpecError> {
    let root = RootBuilder::default()
        .path(&i.rootfs)
        .readonly(false)
        .build()?;
    let mut spec = Spec::default();
    spec.set_version("1.0.2".into())
        .set_root(Some(root))
        .set_mounts(Some(mounts(i)?))
        .set_process(Some(process(i)?))
        .set_hostname(Some(i.hostname.clone()))
        .set_domainname(None)
        .set_hooks(None)
        .set_annotations(None)
        .set_linux(Some(linux(i)));
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn command_follows_docker_rules() {
        let ep = s(&["/entry"]);
        let cmd = s(&["sh"]);
        assert_eq!(command(&ep, &cmd, None, None), s(&["/entry", "sh"]));
        assert_eq!(
            command(&ep, &cmd, None, Some(&s(&["echo", "hi"]))),
            s(&["/entry", "echo", "hi"])
        );
        // A new entrypoint drops the image's Cmd.
        assert_eq!(
            command(&ep, &cmd, Some(&s(&["/bin/ls"])), None),
            s(&["/bin/ls"])
        );
        assert_eq!(command(&[], &cmd, None, None), s(&["sh"]));
    }

    #[test]
    fn env_merge_replaces_in_place_and_defaults_path() {
        let e = merge_env(&s(&["A=1", "B=2"]), &s(&["B=3", "C=4"]));
        assert_eq!(e, s(&[DEFAULT_PATH, "A=1", "B=3", "C=4"]));
        let e = merge_env(&s(&["PATH=/x"]), &[]);
        assert_eq!(e, s(&["PATH=/x"]));
    }

    #[test]
    fn users_resolve_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n";
        let group = "root:x:0:\nnogroup:x:65534:\nwheel:x:10:\n";
        assert_eq!(resolve_user("", passwd, group).unwrap(), (0, 0));
        assert_eq!(
            resolve_user("nobody", passwd, group).unwrap(),
            (65534, 65534)
        );
        assert_eq!(resolve_user("1000", passwd, group).unwrap(), (1000, 0));
        assert_eq!(resolve_user("1000:10", passwd, group).unwrap(), (1000, 10));
        assert_eq!(
            resolve_user("nobody:wheel", passwd, group).unwrap(),
            (65534, 10)
        );
        assert!(resolve_user("ghost", passwd, group).is_err());
    }

    #[test]
    fn spec_has_docker_defaults() {
        let i = SpecInput {
            args: s(&["echo", "hi"]),
            hostname: "abc123".into(),
            rootfs: "/r".into(),
            network_mode: "none".into(),
            mounts: vec![bind_mount("/data", "/data", true).unwrap()],
            ..Default::default()
        };
        let v = build(&i).unwrap();
        assert_eq!(v.hostname().as_deref(), Some("abc123"));
        let p = v.process().as_ref().unwrap();
        assert_eq!(p.cwd(), &PathBuf::from("/"));
        let caps = p.capabilities().as_ref().unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 14);
        assert!(caps.ambient().is_none() && caps.inheritable().is_none());
        let mounts = v.mounts().as_ref().unwrap();
        let at = |d: &str| mounts.iter().find(|m| m.destination() == &PathBuf::from(d));
        let opts = |d: &str| at(d).unwrap().options().clone().unwrap();
        assert!(opts("/dev/shm").contains(&"size=67108864".to_string()));
        assert!(opts("/data").contains(&"ro".to_string()));
        let linux = v.linux().as_ref().unwrap();
        let net = |l: &Linux| {
            l.namespaces()
                .iter()
                .flatten()
                .any(|n| n.typ() == LinuxNamespaceType::Network)
        };
        assert!(net(linux));
        assert!(linux
            .masked_paths()
            .iter()
            .flatten()
            .any(|p| p == "/proc/kcore"));
        assert!(v.annotations().is_none());

        let host = build(&SpecInput {
            network_mode: "host".into(),
            ..i
        })
        .unwrap();
        assert!(!net(host.linux().as_ref().unwrap()));
    }

    #[test]
    fn capability_names_map_to_oci_spec() {
        let all = capability_set(super::super::runopts::ALL_CAPS).unwrap();
        assert_eq!(all.len(), super::super::runopts::ALL_CAPS.len());
        let e = capability_set(&["CAP_NOPE"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "capability CAP_NOPE is not known to the OCI runtime spec; remove it from --cap-add"
        );
    }
}

#[cfg(test)]
mod golden;
