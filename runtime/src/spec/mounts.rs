//! The ordered mount plan of a container, decided from the spec alone.
//!
//! Mounts are applied in the order the spec lists them (the runtime spec
//! requires it: later mounts may sit on earlier ones). Options are split
//! into mount flags, propagation changes and filesystem data, as runc does.

use oci_spec::runtime::{Mount, Spec};
use std::path::PathBuf;

/// Mount options parsed from a spec mount's `options`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// MS_* flags to set.
    pub flags: u64,
    /// Propagation changes (MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE,
    /// each possibly with MS_REC), applied after the mount.
    pub propagation: Vec<u64>,
    /// Filesystem-specific data, comma-joined.
    pub data: String,
    /// Options accepted but not applied (recursive mount attributes,
    /// runc-specific extensions).
    pub ignored: Vec<String>,
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }

    /// Flags that a bind mount only takes through a remount.
    pub fn remount_flags(&self) -> u64 {
        self.flags
            & (libc::MS_RDONLY
                | libc::MS_NOSUID
                | libc::MS_NODEV
                | libc::MS_NOEXEC
                | libc::MS_NOATIME
                | libc::MS_NODIRATIME
                | libc::MS_RELATIME
                | libc::MS_STRICTATIME)
    }
}

/// Parses mount options as runc does.
pub fn parse_options(options: &[String]) -> MountOptions {
    let mut out = MountOptions::default();
    let mut data = Vec::new();
    for opt in options {
        let (set, clear): (u64, u64) = match opt.as_str() {
            "defaults" => (0, 0),
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "bind" => (libc::MS_BIND, 0),
            "rbind" => (libc::MS_BIND | libc::MS_REC, 0),
            "nosuid" => (libc::MS_NOSUID, 0),
            "suid" => (0, libc::MS_NOSUID),
            "nodev" => (libc::MS_NODEV, 0),
            "dev" => (0, libc::MS_NODEV),
            "noexec" => (libc::MS_NOEXEC, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "silent" => (libc::MS_SILENT, 0),
            "loud" => (0, libc::MS_SILENT),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                out.propagation
                    .push(propagation_flag(opt).expect("listed above"));
                continue;
            }
            "tmpcopyup" | "rro" | "rrw" | "rnosuid" | "rsuid" | "rnodev" | "rdev" | "rnoexec"
            | "rexec" | "rnoatime" | "ratime" | "rrelatime" | "rstrictatime" | "idmap"
            | "ridmap" | "nosymfollow" | "rnosymfollow" => {
                out.ignored.push(opt.clone());
                continue;
            }
            _ => {
                data.push(opt.as_str());
                continue;
            }
        };
        out.flags = (out.flags | set) & !clear;
    }
    out.data = data.join(",");
    out
}

/// The MS_* flags of a propagation name (`rslave`, `private`, ...).
pub fn propagation_flag(name: &str) -> Option<u64> {
    Some(match name {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

/// What kind of mount a step is, which decides how it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A bind of a host path (`bind`/`rbind` option or type `bind`).
    Bind,
    /// The cgroup filesystem: the container's own cgroup, read-only unless
    /// asked otherwise.
    Cgroup,
    /// Any other filesystem (proc, sysfs, tmpfs, devpts, mqueue, ...).
    Filesystem,
}

/// One mount of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub kind: Kind,
    pub destination: PathBuf,
    pub source: Option<PathBuf>,
    pub fstype: String,
    pub options: MountOptions,
}

/// The whole plan for a container's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Propagation of the container's `/` (rootfsPropagation, default rslave).
    pub root_propagation: u64,
    pub mounts: Vec<Step>,
    /// Whether the runtime populates `/dev` (a tmpfs the spec mounts there):
    /// default devices, the standard symlinks and `/dev/ptmx`.
    pub populate_dev: bool,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub readonly_root: bool,
}

fn step(m: &Mount) -> Step {
    let options = parse_options(m.options().as_deref().unwrap_or_default());
    let fstype = m.typ().clone().unwrap_or_default();
    let kind = if fstype == "cgroup" || fstype == "cgroup2" {
        Kind::Cgroup
    } else if options.is_bind() || fstype == "bind" {
        Kind::Bind
    } else {
        Kind::Filesystem
    };
    Step {
        kind,
        destination: clean(m.destination()),
        source: m.source().clone(),
        fstype,
        options,
    }
}

/// Makes a destination lexically clean (`/a//b/./c` → `/a/b/c`). `..` was
/// refused by validation.
fn clean(p: &std::path::Path) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// Builds the mount plan of a (validated) spec.
pub fn plan(spec: &Spec) -> Plan {
    let linux = spec.linux().as_ref();
    let mounts: Vec<Step> = spec.mounts().iter().flatten().map(step).collect();
    let populate_dev = mounts
        .iter()
        .any(|s| s.destination == std::path::Path::new("/dev") && s.kind != Kind::Bind);
    Plan {
        root_propagation: linux
            .and_then(|l| l.rootfs_propagation().as_deref())
            .and_then(propagation_flag)
            .unwrap_or(libc::MS_SLAVE | libc::MS_REC),
        mounts,
        populate_dev,
        masked_paths: linux
            .and_then(|l| l.masked_paths().clone())
            .unwrap_or_default(),
        readonly_paths: linux
            .and_then(|l| l.readonly_paths().clone())
            .unwrap_or_default(),
        readonly_root: spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
    }
}

/// A device node the runtime creates in a populated `/dev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevNode {
    pub path: PathBuf,
    pub kind: u32,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices every container gets (runc's defaults), then the spec's own;
/// a spec device at the same path replaces the default.
pub fn devices(spec: &Spec) -> Vec<DevNode> {
    let chr = |name: &str, major, minor| DevNode {
        path: PathBuf::from("/dev").join(name),
        kind: libc::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    };
    let mut out = vec![
        chr("null", 1, 3),
        chr("zero", 1, 5),
        chr("full", 1, 7),
        chr("random", 1, 8),
        chr("urandom", 1, 9),
        chr("tty", 5, 0),
    ];
    for d in spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        use oci_spec::runtime::LinuxDeviceType as T;
        let kind = match d.typ() {
            T::C | T::U => libc::S_IFCHR,
            T::B => libc::S_IFBLK,
            T::P => libc::S_IFIFO,
            T::A => continue,
        };
        let node = DevNode {
            path: clean(d.path()),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        out.retain(|n| n.path != node.path);
        out.push(node);
    }
    out
}

/// The symlinks of a populated `/dev` (name, target).
pub const DEV_SYMLINKS: [(&str, &str); 5] = [
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/ptmx", "pts/ptmx"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxDeviceBuilder, LinuxDeviceType, MountBuilder};
    use std::path::Path;

    fn opts(v: &[&str]) -> MountOptions {
        parse_options(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k", "rslave"]);
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert_eq!(o.propagation, vec![libc::MS_SLAVE | libc::MS_REC]);
    }

    #[test]
    fn later_options_override_earlier() {
        assert_eq!(opts(&["ro", "rw"]).flags, 0);
        assert_eq!(opts(&["rw", "ro"]).flags, libc::MS_RDONLY);
        assert_eq!(opts(&["noexec", "exec", "nodev"]).flags, libc::MS_NODEV);
    }

    #[test]
    fn rbind_is_recursive_bind() {
        let o = opts(&["rbind", "ro"]);
        assert!(o.is_bind());
        assert_eq!(o.flags & libc::MS_REC, libc::MS_REC);
        assert_eq!(o.remount_flags(), libc::MS_RDONLY);
    }

    #[test]
    fn recursive_attributes_are_not_passed_as_data() {
        let o = opts(&["rro", "tmpcopyup", "size=1m"]);
        assert_eq!(o.data, "size=1m");
        assert_eq!(o.ignored, vec!["rro", "tmpcopyup"]);
    }

    #[test]
    fn default_spec_plan_keeps_order_and_populates_dev() {
        let spec = Spec::default();
        let p = plan(&spec);
        let dests: Vec<_> = p
            .mounts
            .iter()
            .map(|s| s.destination.display().to_string())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/shm",
                "/dev/mqueue",
                "/sys",
                "/sys/fs/cgroup"
            ]
        );
        assert!(p.populate_dev);
        assert_eq!(p.root_propagation, libc::MS_SLAVE | libc::MS_REC);
        assert!(p.masked_paths.contains(&"/proc/kcore".to_string()));
        assert!(p.readonly_paths.contains(&"/proc/sys".to_string()));
        assert!(p.mounts[..6].iter().all(|s| s.kind == Kind::Filesystem));
        assert_eq!(p.mounts[6].kind, Kind::Cgroup);
    }

    #[test]
    fn bind_and_cgroup_kinds() {
        let mut spec = Spec::default();
        spec.set_mounts(Some(vec![
            MountBuilder::default()
                .destination("/data/./x")
                .source("/srv")
                .typ("none")
                .options(vec!["bind".into(), "ro".into()])
                .build()
                .unwrap(),
            MountBuilder::default()
                .destination("/sys/fs/cgroup")
                .typ("cgroup")
                .build()
                .unwrap(),
            MountBuilder::default()
                .destination("/dev")
                .source("/dev")
                .options(vec!["rbind".into()])
                .build()
                .unwrap(),
        ]));
        let p = plan(&spec);
        assert_eq!(p.mounts[0].kind, Kind::Bind);
        assert_eq!(p.mounts[0].destination, PathBuf::from("/data/x"));
        assert_eq!(p.mounts[1].kind, Kind::Cgroup);
        // A bind of the host's /dev is not populated by the runtime.
        assert!(!p.populate_dev);
    }

    #[test]
    fn spec_devices_replace_defaults() {
        let mut spec = Spec::default();
        let mut linux = spec.linux().clone().unwrap();
        linux.set_devices(Some(vec![
            LinuxDeviceBuilder::default()
                .path("/dev/null")
                .typ(LinuxDeviceType::C)
                .major(1)
                .minor(3)
                .file_mode(0o600u32)
                .build()
                .unwrap(),
            LinuxDeviceBuilder::default()
                .path("/dev/fuse")
                .typ(LinuxDeviceType::C)
                .major(10)
                .minor(229)
                .build()
                .unwrap(),
        ]));
        spec.set_linux(Some(linux));
        let d = devices(&spec);
        assert_eq!(
            d.iter()
                .filter(|n| n.path == Path::new("/dev/null"))
                .count(),
            1
        );
        let null = d.iter().find(|n| n.path == Path::new("/dev/null")).unwrap();
        assert_eq!(null.mode, 0o600);
        assert!(d
            .iter()
            .any(|n| n.path == Path::new("/dev/fuse") && n.major == 10));
        assert_eq!(d.len(), 7);
    }
}
