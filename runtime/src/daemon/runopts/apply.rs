//! Pure: what the run options change in the OCI spec.

use serde_json::{json, Value};

use super::*;
use crate::daemon::seccomp_profile;

// ---------------------------------------------------------------------------
// The spec.

/// A host device node, looked up by the daemon (`stat`).
#[derive(Debug, Clone, PartialEq)]
pub struct DevNode {
    /// Path in the container.
    pub path: String,
    /// `c` or `b`.
    pub typ: char,
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
}

/// Docker's resources: memory (swap doubles the limit unless set), CPU
/// quota from `--cpus` over a 100 ms period, shares, cpusets, pids.
pub fn resources(o: &RunOptions, host: &Host) -> Value {
    let mut r = serde_json::Map::new();
    let mut mem = serde_json::Map::new();
    if o.memory > 0 {
        mem.insert("limit".into(), json!(o.memory));
        if host.swap_limit {
            let swap = match o.memory_swap {
                0 => o.memory * 2,
                s => s,
            };
            mem.insert("swap".into(), json!(swap));
        }
    }
    if o.memory_reservation > 0 {
        mem.insert("reservation".into(), json!(o.memory_reservation));
    }
    if !mem.is_empty() {
        r.insert("memory".into(), Value::Object(mem));
    }
    let mut cpu = serde_json::Map::new();
    if o.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(o.cpu_shares));
    }
    if o.nano_cpus > 0 {
        let period: i64 = 100_000;
        cpu.insert("period".into(), json!(period));
        cpu.insert("quota".into(), json!(o.nano_cpus * period / 1_000_000_000));
    } else {
        if o.cpu_period > 0 {
            cpu.insert("period".into(), json!(o.cpu_period));
        }
        if o.cpu_quota != 0 {
            cpu.insert("quota".into(), json!(o.cpu_quota));
        }
    }
    if !o.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(o.cpuset_cpus));
    }
    if !o.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(o.cpuset_mems));
    }
    if !cpu.is_empty() {
        r.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = o.pids_limit.filter(|p| *p != 0) {
        r.insert("pids".into(), json!({"limit": if p < 0 { -1 } else { p }}));
    }
    Value::Object(r)
}

/// Changes the spec [`super::spec::build`] made for the options.
pub fn apply(spec: &mut Value, o: &RunOptions, x: &Extra) -> Result<(), String> {
    let caps = capabilities(o, &x.host.caps)?;
    let sec = parse_security(&o.security_opt)?;
    let p = &mut spec["process"];
    p["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    p["noNewPrivileges"] = json!(sec.no_new_privileges);
    // Always, as Docker: a container otherwise inherits the daemon's own
    // score (the unit's OOMScoreAdjust=-500) and outlives the host's
    // processes under memory pressure.
    p["oomScoreAdj"] = json!(o.oom_score_adj);
    if !o.ulimits.is_empty() {
        p["rlimits"] = o
            .ulimits
            .iter()
            .map(|u| {
                json!({"type": format!("RLIMIT_{}", u.name.to_uppercase()),
                       "soft": u.soft as u64, "hard": u.hard as u64})
            })
            .collect();
    }
    if o.init == Some(true) {
        let mut args = vec![json!(INIT_PATH), json!("--")];
        args.extend(p["args"].as_array().cloned().unwrap_or_default());
        p["args"] = Value::Array(args);
        if let Some(m) = spec["mounts"].as_array_mut() {
            m.push(json!({"destination": INIT_PATH, "type": "bind",
                          "source": x.init_binary, "options": ["rbind", "ro", "rprivate"]}));
        }
    }
    spec["root"]["readonly"] = json!(o.readonly_rootfs);
    for m in spec["mounts"].as_array_mut().into_iter().flatten() {
        let dst = m["destination"].as_str().unwrap_or_default().to_string();
        if dst == "/dev/shm" {
            let size = if o.shm_size > 0 {
                o.shm_size
            } else {
                DEFAULT_SHM_SIZE
            };
            m["options"] = json!([
                "nosuid",
                "noexec",
                "nodev",
                "mode=1777",
                format!("size={size}")
            ]);
        }
        // Privileged containers get /sys and the cgroup tree writable.
        if o.privileged && (dst == "/sys" || dst == "/sys/fs/cgroup") {
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|v| v != "ro");
                opts.push(json!("rw"));
            }
        }
    }
    let linux = &mut spec["linux"];
    linux["resources"] = resources(o, x.host);
    if o.privileged {
        linux["maskedPaths"] = json!([]);
        linux["readonlyPaths"] = json!([]);
        linux["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
    } else if !x.devices.is_empty() {
        linux["resources"]["devices"] = x
            .devices
            .iter()
            .map(|d| {
                json!({"allow": true, "type": d.typ.to_string(), "major": d.major,
                       "minor": d.minor, "access": d.access})
            })
            .collect();
    }
    if !x.devices.is_empty() {
        linux["devices"] = x
            .devices
            .iter()
            .map(|d| {
                json!({"path": d.path, "type": d.typ.to_string(), "major": d.major,
                       "minor": d.minor, "fileMode": d.mode, "uid": d.uid, "gid": d.gid})
            })
            .collect();
    }
    if !o.sysctls.is_empty() {
        linux["sysctl"] = json!(o.sysctls);
    }
    let profile = match (&sec.seccomp, o.privileged) {
        (_, true) | (Seccomp::Unconfined, _) => None,
        (Seccomp::Default, _) => Some(seccomp_profile::default_profile()),
        (Seccomp::Profile(text), _) => Some(
            serde_json::from_str(text)
                .map_err(|e| format!("Decoding seccomp profile failed: {e}"))?,
        ),
    };
    if let Some(profile) = profile {
        linux["seccomp"] = seccomp_profile::to_oci(&profile, &target(&caps, x.host))?;
    }
    Ok(())
}

/// `--group-add` entries (numbers or names from the image's /etc/group).
pub fn resolve_groups(groups: &[String], group_file: &str) -> Result<Vec<u32>, String> {
    groups
        .iter()
        .map(|g| {
            g.parse::<u32>().or_else(|_| {
                group_file
                    .lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.len() >= 3 && f[0] == g)
                    .and_then(|f| f[2].parse().ok())
                    .ok_or_else(|| {
                        format!("Unable to find group {g}: no matching entries in group file")
                    })
            })
        })
        .collect()
}
