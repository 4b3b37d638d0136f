//! `--pid`, `--ipc`, `--uts` and `--cgroupns`: which of its namespaces a
//! container shares with the host or (pid and ipc) with another container.
//! Checked at create with Docker's messages; applied to the OCI spec by
//! leaving a host-shared namespace out (or adding the cgroup namespace), or
//! by the path of the other container's.

use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};
use std::path::Path;

use super::RunOptions;

/// Checks the four modes and fills Docker's defaults (`IpcMode` is
/// `private` unless given). `hostname`: the `--hostname` the user asked for.
pub fn validate_modes(o: &mut RunOptions, hostname: &str) -> Result<(), String> {
    match o.pid_mode.as_str() {
        "" | "host" => {}
        v if donor(v).is_some_and(|d| !d.is_empty()) => {}
        v => return Err(format!("invalid PID mode: {v}")),
    }
    match o.ipc_mode.as_str() {
        "" => o.ipc_mode = "private".into(),
        "private" | "shareable" | "none" | "host" => {}
        v if donor(v).is_some_and(|d| !d.is_empty()) => {}
        v => return Err(format!("invalid IPC mode: {v}")),
    }
    match o.cgroupns_mode.as_str() {
        "" | "private" | "host" => {}
        v => {
            return Err(format!(
                "invalid cgroup namespace mode: {v} (--cgroupns takes host or private)"
            ))
        }
    }
    match o.uts_mode.as_str() {
        "" => {}
        "host" if !hostname.is_empty() => {
            return Err("conflicting options: hostname and the UTS mode".into())
        }
        "host" => {}
        v => return Err(format!("invalid UTS mode: {v}")),
    }
    Ok(())
}

/// The default `/dev/shm` (a tmpfs), not a user's mount there.
fn default_shm(m: &Mount) -> bool {
    m.destination() == Path::new("/dev/shm") && m.typ().as_deref() == Some("tmpfs")
}

/// The container a `container:<name>` mode joins.
pub fn donor(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:")
}

/// The running containers whose namespaces a start joins: the pid of the
/// `--pid container:` one's init, and of the `--ipc container:` one's; and
/// the host tmpfs bound at `/dev/shm` when the IPC namespace is shareable
/// (its own, as Docker makes one outside the container for `shareable`, or
/// the one of the container it joins: a mount cannot be bound from another
/// mount namespace).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Joined {
    pub pid: Option<i32>,
    pub ipc: Option<i32>,
    pub shm: Option<std::path::PathBuf>,
}

/// Leaves the host-shared namespaces out of the spec and points joined
/// ones at the other container's; with the host's IPC namespace `/dev/shm`
/// is the host's too (as Docker binds it), with another container's it is
/// that container's, and with `--ipc none` there is none.
pub fn apply_modes(spec: &mut Spec, o: &RunOptions, joined: &Joined) {
    let shared: Vec<LinuxNamespaceType> = [
        (o.pid_mode == "host", LinuxNamespaceType::Pid),
        (o.ipc_mode == "host", LinuxNamespaceType::Ipc),
        (o.uts_mode == "host", LinuxNamespaceType::Uts),
    ]
    .into_iter()
    .filter_map(|(host, typ)| host.then_some(typ))
    .collect();
    if let Some(ns) = spec
        .linux_mut()
        .as_mut()
        .and_then(|l| l.namespaces_mut().as_mut())
    {
        ns.retain(|n| !shared.contains(&n.typ()));
        // `--cgroupns private`: the container's cgroup is its `/`.
        if o.cgroupns_mode == "private" {
            let mut cg = oci_spec::runtime::LinuxNamespace::default();
            cg.set_typ(LinuxNamespaceType::Cgroup);
            ns.push(cg);
        }
        for n in ns.iter_mut() {
            let pid = match n.typ() {
                LinuxNamespaceType::Pid => joined.pid,
                LinuxNamespaceType::Ipc => joined.ipc,
                _ => None,
            };
            if let Some(pid) = pid {
                let name = if n.typ() == LinuxNamespaceType::Pid {
                    "pid"
                } else {
                    "ipc"
                };
                n.set_path(Some(format!("/proc/{pid}/ns/{name}").into()));
            }
        }
    }
    if o.uts_mode == "host" {
        spec.set_hostname(None);
    }
    let Some(mounts) = spec.mounts_mut().as_mut() else {
        return;
    };
    match o.ipc_mode.as_str() {
        "none" => mounts.retain(|m| !default_shm(m)),
        "host" => {
            for m in mounts.iter_mut().filter(|m| default_shm(m)) {
                *m = shm_bind("/dev/shm".into());
            }
        }
        _ => {
            if let Some(shm) = &joined.shm {
                for m in mounts.iter_mut().filter(|m| default_shm(m)) {
                    *m = shm_bind(shm.clone());
                }
            }
        }
    }
}

fn shm_bind(source: std::path::PathBuf) -> Mount {
    let mut m = Mount::default();
    m.set_destination("/dev/shm".into())
        .set_typ(Some("bind".into()))
        .set_source(Some(source))
        .set_options(Some(["rbind", "rprivate"].map(String::from).to_vec()));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modes(pid: &str, ipc: &str, uts: &str) -> RunOptions {
        RunOptions {
            pid_mode: pid.into(),
            ipc_mode: ipc.into(),
            uts_mode: uts.into(),
            ..Default::default()
        }
    }

    #[test]
    fn modes_are_checked_with_dockers_words() {
        let mut o = modes("", "", "");
        validate_modes(&mut o, "").unwrap();
        assert_eq!(o.ipc_mode, "private");
        assert_eq!(
            validate_modes(&mut modes("bogus", "", ""), "").unwrap_err(),
            "invalid PID mode: bogus"
        );
        assert_eq!(
            validate_modes(&mut modes("", "x", ""), "").unwrap_err(),
            "invalid IPC mode: x"
        );
        assert_eq!(
            validate_modes(&mut modes("", "", "host"), "web").unwrap_err(),
            "conflicting options: hostname and the UTS mode"
        );
        validate_modes(&mut modes("container:db", "container:db", ""), "").unwrap();
        assert_eq!(
            validate_modes(&mut modes("container:", "", ""), "").unwrap_err(),
            "invalid PID mode: container:"
        );
        validate_modes(&mut modes("host", "host", "host"), "").unwrap();
    }

    #[test]
    fn host_modes_leave_their_namespaces_out() {
        let mut spec = Spec::default();
        let before: Vec<LinuxNamespaceType> = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default()
            .iter()
            .map(|n| n.typ())
            .collect();
        assert!(before.contains(&LinuxNamespaceType::Pid));
        let mut shm = Mount::default();
        shm.set_destination("/dev/shm".into())
            .set_typ(Some("tmpfs".into()));
        spec.set_mounts(Some(vec![shm]));
        spec.set_hostname(Some("abc".into()));
        apply_modes(
            &mut spec,
            &modes("host", "host", "host"),
            &Joined::default(),
        );
        let after: Vec<LinuxNamespaceType> = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default()
            .iter()
            .map(|n| n.typ())
            .collect();
        for t in [
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Ipc,
            LinuxNamespaceType::Uts,
        ] {
            assert!(!after.contains(&t), "{t:?} in {after:?}");
        }
        assert!(after.contains(&LinuxNamespaceType::Mount));
        assert_eq!(spec.hostname(), &None);
        let m = &spec.mounts().as_ref().unwrap()[0];
        assert_eq!(m.source().as_deref(), Some(Path::new("/dev/shm")));
        let mut none = Spec::default();
        let mut shm = Mount::default();
        shm.set_destination("/dev/shm".into())
            .set_typ(Some("tmpfs".into()));
        none.set_mounts(Some(vec![shm]));
        apply_modes(&mut none, &modes("", "none", ""), &Joined::default());
        assert!(none.mounts().as_ref().unwrap().is_empty());
    }

    #[test]
    fn joined_modes_take_the_other_containers_namespaces_and_shm() {
        let mut spec = Spec::default();
        let mut shm = Mount::default();
        shm.set_destination("/dev/shm".into())
            .set_typ(Some("tmpfs".into()));
        spec.set_mounts(Some(vec![shm]));
        let joined = Joined {
            pid: Some(41),
            ipc: Some(42),
            shm: Some("/data/containers/b/shm".into()),
        };
        apply_modes(&mut spec, &modes("container:a", "container:b", ""), &joined);
        let ns = spec.linux().as_ref().unwrap().namespaces().clone().unwrap();
        let path = |t| {
            ns.iter()
                .find(|n| n.typ() == t)
                .and_then(|n| n.path().clone())
        };
        assert_eq!(
            path(LinuxNamespaceType::Pid),
            Some("/proc/41/ns/pid".into())
        );
        assert_eq!(
            path(LinuxNamespaceType::Ipc),
            Some("/proc/42/ns/ipc".into())
        );
        assert_eq!(path(LinuxNamespaceType::Mount), None);
        let m = &spec.mounts().as_ref().unwrap()[0];
        assert_eq!(
            m.source().as_deref(),
            Some(Path::new("/data/containers/b/shm"))
        );
    }
}
