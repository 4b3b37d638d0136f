//! Checks on a bundle's `config.json` and a container id, made before
//! anything is created, so bad input changes nothing.

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;
use std::path::Path;

/// What is wrong with a bundle or an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSpec {
    #[error("invalid container id {0:?}: use 1 to 1024 characters of letters, digits, '_', '+', '-' and '.', not starting with '.'")]
    Id(String),
    #[error("config.json has no process to run")]
    NoProcess,
    #[error("process.args is empty: there is no program to run")]
    NoArgs,
    #[error("process.cwd {0:?} must be an absolute path")]
    RelativeCwd(String),
    #[error("config.json has no root")]
    NoRoot,
    #[error("config.json has no linux section")]
    NoLinux,
    #[error("namespace {0} is listed more than once")]
    DuplicateNamespace(String),
    #[error("user namespace mappings are given, but no new user namespace is asked for")]
    MappingsWithoutUserns,
    #[error("a new user namespace needs uidMappings and gidMappings")]
    UsernsWithoutMappings,
    #[error("mount destination {0:?} must be an absolute path")]
    RelativeMount(String),
    #[error("mount destination {0:?} must not contain '..'")]
    DotDotMount(String),
    #[error("sysctl {0:?} needs a new {1} namespace (it would change the host)")]
    HostSysctl(String, &'static str),
    #[error("sysctl {0:?} is not namespaced and cannot be set in a container")]
    UnsafeSysctl(String),
    #[error("hostname is set but the container shares the host's UTS namespace")]
    HostnameWithoutUts,
    #[error("mount option {0:?} on {1} is not supported yet")]
    UnsupportedMountOption(String, String),
    #[error("unable to restrict sys entries without a private MNT namespace (maskedPaths and readonlyPaths need a new mount namespace)")]
    RestrictedPathsWithoutMountNs,
    #[error("{0} needs a new mount namespace (add {{\"type\": \"mount\"}} to linux.namespaces): without one it would change the host's mounts")]
    NeedsMountNs(&'static str),
}

/// Checks a container id as runc does: no path separators, nothing that
/// could escape the state directory.
pub fn container_id(id: &str) -> Result<(), InvalidSpec> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(InvalidSpec::Id(id.to_string()))
    }
}

fn new_namespaces(spec: &Spec) -> HashSet<LinuxNamespaceType> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .map(|ns| {
            ns.iter()
                .filter(|n| n.path().is_none())
                .map(|n| n.typ())
                .collect()
        })
        .unwrap_or_default()
}

fn all_namespaces(spec: &Spec) -> HashSet<LinuxNamespaceType> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .map(|ns| ns.iter().map(|n| n.typ()).collect())
        .unwrap_or_default()
}

/// Which namespace a sysctl belongs to, or None when it is not namespaced
/// (setting it would change the host for everyone), following runc's list.
pub fn sysctl_namespace(key: &str) -> Option<LinuxNamespaceType> {
    const IPC: [&str; 6] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
    ];
    if IPC.contains(&key)
        || key == "kernel.shmmni"
        || key == "kernel.shm_rmid_forced"
        || key.starts_with("fs.mqueue.")
    {
        return Some(LinuxNamespaceType::Ipc);
    }
    if key.starts_with("net.") {
        return Some(LinuxNamespaceType::Network);
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        return Some(LinuxNamespaceType::Uts);
    }
    None
}

/// docker/cli's `ValidateSysctl`, as both the CLI and the daemon check a
/// `--sysctl`: parameters of the IPC and network namespaces only (the UTS
/// ones go through `--hostname`).
pub fn docker_sysctl(key: &str) -> bool {
    matches!(
        sysctl_namespace(key),
        Some(LinuxNamespaceType::Ipc | LinuxNamespaceType::Network)
    )
}

/// A `--device` cgroup permission string: some of `r`, `w`, `m`.
pub fn device_mode(m: &str) -> bool {
    !m.is_empty() && m.len() <= 3 && m.chars().all(|c| "rwm".contains(c))
}

/// Validates the spec of a container to be created.
pub fn spec(spec: &Spec) -> Result<(), InvalidSpec> {
    let process = spec.process().as_ref().ok_or(InvalidSpec::NoProcess)?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(InvalidSpec::NoArgs);
    }
    if !process.cwd().is_absolute() {
        return Err(InvalidSpec::RelativeCwd(
            process.cwd().display().to_string(),
        ));
    }
    spec.root().as_ref().ok_or(InvalidSpec::NoRoot)?;
    let linux = spec.linux().as_ref().ok_or(InvalidSpec::NoLinux)?;

    let mut seen = HashSet::new();
    for ns in linux.namespaces().iter().flatten() {
        if !seen.insert(ns.typ()) {
            return Err(InvalidSpec::DuplicateNamespace(ns.typ().to_string()));
        }
    }
    let new = new_namespaces(spec);
    let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if new.contains(&LinuxNamespaceType::User) {
        let both = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            && linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
        if !both {
            return Err(InvalidSpec::UsernsWithoutMappings);
        }
    } else if has_maps && !all_namespaces(spec).contains(&LinuxNamespaceType::User) {
        return Err(InvalidSpec::MappingsWithoutUserns);
    }

    for m in spec.mounts().iter().flatten() {
        let dest = m.destination();
        if !dest.is_absolute() {
            return Err(InvalidSpec::RelativeMount(dest.display().to_string()));
        }
        if dest
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(InvalidSpec::DotDotMount(dest.display().to_string()));
        }
    }

    for m in spec.mounts().iter().flatten() {
        let opts = super::mounts::parse_options(m.options().as_deref().unwrap_or_default());
        // Ignoring these would leave the mount less confined than asked
        // (rro leaves submounts writable); only tmpcopyup is harmless.
        if let Some(o) = opts.ignored.iter().find(|o| *o != "tmpcopyup") {
            return Err(InvalidSpec::UnsupportedMountOption(
                o.clone(),
                m.destination().display().to_string(),
            ));
        }
    }
    if !new.contains(&LinuxNamespaceType::Mount) {
        without_mount_namespace(spec)?;
    }

    let all = all_namespaces(spec);
    for key in linux.sysctl().iter().flat_map(|s| s.keys()) {
        match sysctl_namespace(key) {
            None => return Err(InvalidSpec::UnsafeSysctl(key.clone())),
            Some(ns) if !all.contains(&ns) => {
                let name = match ns {
                    LinuxNamespaceType::Ipc => "ipc",
                    LinuxNamespaceType::Network => "network",
                    _ => "uts",
                };
                return Err(InvalidSpec::HostSysctl(key.clone(), name));
            }
            Some(_) => {}
        }
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
        && !all.contains(&LinuxNamespaceType::Uts)
    {
        return Err(InvalidSpec::HostnameWithoutUts);
    }
    Ok(())
}

/// A container without a new mount namespace runs in its caller's (runc
/// does the same; the root is then entered with chroot, as pivot_root
/// needs a private mount namespace). What would have to be mounted there
/// is refused: runc would change the host's mounts instead.
fn without_mount_namespace(spec: &Spec) -> Result<(), InvalidSpec> {
    let linux = spec.linux().as_ref();
    let listed = |v: Option<&Vec<String>>| v.is_some_and(|v| !v.is_empty());
    if listed(linux.and_then(|l| l.masked_paths().as_ref()))
        || listed(linux.and_then(|l| l.readonly_paths().as_ref()))
    {
        return Err(InvalidSpec::RestrictedPathsWithoutMountNs);
    }
    if spec.mounts().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(InvalidSpec::NeedsMountNs("mounts"));
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        return Err(InvalidSpec::NeedsMountNs("root.readonly"));
    }
    if linux
        .and_then(|l| l.rootfs_propagation().as_ref())
        .is_some()
    {
        return Err(InvalidSpec::NeedsMountNs("rootfsPropagation"));
    }
    let devices = linux.and_then(|l| l.devices().as_ref());
    if devices.is_some_and(|d| !d.is_empty()) {
        return Err(InvalidSpec::NeedsMountNs("linux.devices"));
    }
    Ok(())
}

/// The root filesystem path of a bundle: `root.path`, relative to the bundle.
pub fn rootfs(bundle: &Path, spec: &Spec) -> Result<std::path::PathBuf, InvalidSpec> {
    let root = spec.root().as_ref().ok_or(InvalidSpec::NoRoot)?;
    Ok(if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxBuilder, LinuxIdMappingBuilder, LinuxNamespaceBuilder, MountBuilder, ProcessBuilder,
        SpecBuilder,
    };

    fn base() -> Spec {
        Spec::default()
    }

    #[test]
    fn default_spec_is_valid() {
        spec(&base()).unwrap();
    }

    #[test]
    fn ids() {
        for good in ["a", "web-1", "x_y.z+1", &"a".repeat(1024)] {
            container_id(good).unwrap();
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a b",
            ".hidden",
            &"a".repeat(1025),
        ] {
            assert!(container_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_args_refused() {
        let mut s = base();
        s.set_process(Some(
            ProcessBuilder::default().args(vec![]).build().unwrap(),
        ));
        assert_eq!(spec(&s), Err(InvalidSpec::NoArgs));
    }

    #[test]
    fn relative_mount_refused() {
        let mut s = base();
        s.set_mounts(Some(vec![MountBuilder::default()
            .destination("tmp")
            .typ("tmpfs")
            .build()
            .unwrap()]));
        assert_eq!(spec(&s), Err(InvalidSpec::RelativeMount("tmp".into())));
        s.set_mounts(Some(vec![MountBuilder::default()
            .destination("/a/../../etc")
            .build()
            .unwrap()]));
        assert!(matches!(spec(&s), Err(InvalidSpec::DotDotMount(_))));
    }

    #[test]
    fn userns_needs_mappings() {
        let mut s = base();
        let mut linux = s.linux().clone().unwrap();
        let mut ns = linux.namespaces().clone().unwrap();
        ns.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()
                .unwrap(),
        );
        linux.set_namespaces(Some(ns));
        s.set_linux(Some(linux.clone()));
        assert_eq!(spec(&s), Err(InvalidSpec::UsernsWithoutMappings));
        let map = LinuxIdMappingBuilder::default()
            .host_id(100000u32)
            .container_id(0u32)
            .size(65536u32)
            .build()
            .unwrap();
        linux.set_uid_mappings(Some(vec![map]));
        linux.set_gid_mappings(Some(vec![map]));
        s.set_linux(Some(linux));
        spec(&s).unwrap();
    }

    #[test]
    fn duplicate_namespace_refused() {
        let ns = LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Pid)
            .build()
            .unwrap();
        let linux = LinuxBuilder::default()
            .namespaces(vec![ns.clone(), ns])
            .build()
            .unwrap();
        let s = SpecBuilder::default()
            .process(ProcessBuilder::default().build().unwrap())
            .root(Spec::default().root().clone().unwrap())
            .linux(linux)
            .build()
            .unwrap();
        assert_eq!(spec(&s), Err(InvalidSpec::DuplicateNamespace("pid".into())));
    }

    #[test]
    fn unsupported_confinement_is_refused_not_ignored() {
        let mut s = base();
        s.set_mounts(Some(vec![MountBuilder::default()
            .destination("/data")
            .typ("bind")
            .source("/srv")
            .options(vec!["rbind".into(), "rro".into()])
            .build()
            .unwrap()]));
        assert!(matches!(spec(&s), Err(InvalidSpec::UnsupportedMountOption(o, _)) if o == "rro"));
    }

    #[test]
    fn sysctls_checked_against_namespaces() {
        let mut s = base();
        let mut linux = s.linux().clone().unwrap();
        linux.set_sysctl(Some(
            [("net.ipv4.ip_forward".to_string(), "1".to_string())].into(),
        ));
        s.set_linux(Some(linux.clone()));
        spec(&s).unwrap();
        linux.set_sysctl(Some(
            [("vm.swappiness".to_string(), "1".to_string())].into(),
        ));
        s.set_linux(Some(linux.clone()));
        assert_eq!(
            spec(&s),
            Err(InvalidSpec::UnsafeSysctl("vm.swappiness".into()))
        );
        // Without its own network namespace a net.* sysctl would change the host.
        let ns: Vec<_> = linux
            .namespaces()
            .clone()
            .unwrap()
            .into_iter()
            .filter(|n| n.typ() != LinuxNamespaceType::Network)
            .collect();
        linux.set_namespaces(Some(ns));
        linux.set_sysctl(Some(
            [("net.ipv4.ip_forward".to_string(), "1".to_string())].into(),
        ));
        s.set_linux(Some(linux));
        assert!(matches!(
            spec(&s),
            Err(InvalidSpec::HostSysctl(_, "network"))
        ));
    }
}
