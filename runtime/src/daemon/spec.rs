//! Pure: a container's create options and its image's run defaults become
//! the OCI runtime spec (config.json) that `rrun-oci` runs, with Docker's
//! defaults (capabilities, masked and read-only paths, `/dev/shm`, hostname).

use serde_json::{json, Value};

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
    pub mounts: Vec<Value>,
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
pub fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<(u32, u32), String> {
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
            let f = entry(passwd, u).ok_or_else(|| {
                format!("unable to find user {u}: no matching entries in passwd file")
            })?;
            let uid = f[2].parse().map_err(|_| format!("bad uid for user {u}"))?;
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
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?,
        },
    };
    Ok((uid, gid))
}

fn bind_mount(src: &str, dst: &str, ro: bool) -> Value {
    let mut opts = vec!["rbind", "rprivate"];
    if ro {
        opts.push("ro");
    }
    json!({"destination": dst, "type": "bind", "source": src, "options": opts})
}

/// The OCI runtime spec.
pub fn build(i: &SpecInput) -> Result<Value, String> {
    let caps = DEFAULT_CAPS;
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]}),
        bind_mount(&i.resolv_file, "/etc/resolv.conf", false),
        bind_mount(&i.hostname_file, "/etc/hostname", false),
        bind_mount(&i.hosts_file, "/etc/hosts", false),
    ];
    mounts.extend(i.mounts.iter().cloned());
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    match (&i.netns_path, i.network_mode.as_str()) {
        (Some(p), _) => namespaces.push(json!({"type": "network", "path": p})),
        (None, "host") => {}
        (None, _) => namespaces.push(json!({"type": "network"})),
    }
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": i.uid, "gid": i.gid, "additionalGids": i.additional_gids},
            "args": i.args,
            "env": merge_env(&i.image_env, &i.env),
            "cwd": if i.cwd.is_empty() { "/" } else { i.cwd.as_str() },
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": false,
        },
        "root": {"path": i.rootfs, "readonly": false},
        "hostname": i.hostname,
        "mounts": mounts,
        "linux": {
            "namespaces": namespaces,
            "cgroupsPath": i.cgroups_path,
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
        },
    }))
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
        assert_eq!(resolve_user("", passwd, group), Ok((0, 0)));
        assert_eq!(resolve_user("nobody", passwd, group), Ok((65534, 65534)));
        assert_eq!(resolve_user("1000", passwd, group), Ok((1000, 0)));
        assert_eq!(resolve_user("1000:10", passwd, group), Ok((1000, 10)));
        assert_eq!(resolve_user("nobody:wheel", passwd, group), Ok((65534, 10)));
        assert!(resolve_user("ghost", passwd, group).is_err());
    }

    #[test]
    fn spec_has_docker_defaults() {
        let i = SpecInput {
            args: s(&["echo", "hi"]),
            hostname: "abc123".into(),
            rootfs: "/r".into(),
            network_mode: "none".into(),
            mounts: vec![bind_mount("/data", "/data", true)],
            ..Default::default()
        };
        let v = build(&i).unwrap();
        assert_eq!(v["hostname"], "abc123");
        assert_eq!(v["process"]["cwd"], "/");
        assert_eq!(
            v["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        let mounts = v["mounts"].as_array().unwrap();
        let shm = mounts
            .iter()
            .find(|m| m["destination"] == "/dev/shm")
            .unwrap();
        assert!(shm["options"]
            .as_array()
            .unwrap()
            .contains(&json!("size=67108864")));
        let data = mounts.iter().find(|m| m["destination"] == "/data").unwrap();
        assert!(data["options"].as_array().unwrap().contains(&json!("ro")));
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.contains(&json!({"type": "network"})));
        assert!(v["linux"]["maskedPaths"]
            .as_array()
            .unwrap()
            .contains(&json!("/proc/kcore")));

        let host = build(&SpecInput {
            network_mode: "host".into(),
            ..i
        })
        .unwrap();
        assert!(!host["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "network"})));
    }
}

#[cfg(test)]
mod golden;
