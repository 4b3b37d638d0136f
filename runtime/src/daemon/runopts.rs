//! Pure: Docker's container run options (resources, capabilities,
//! security options, devices, ulimits, sysctls, `--init`, restart policy):
//! their HostConfig fields, the parsing of their command-line values, their
//! validation with Docker's messages, and what they change in the OCI spec.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::seccomp_profile;

/// Where the reaper run with `--init` appears in the container (Docker's path).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// Docker's default `/dev/shm` size (64 MiB).
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// Docker's minimum memory limit and reservation (6 MiB).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The HostConfig fields of these options (flattened into
/// [`super::models::HostConfig`]), with Docker's names.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunOptions {
    #[serde(default)]
    pub memory: i64,
    #[serde(default)]
    pub memory_swap: i64,
    #[serde(default)]
    pub memory_reservation: i64,
    #[serde(default)]
    pub nano_cpus: i64,
    #[serde(default)]
    pub cpu_shares: i64,
    #[serde(default)]
    pub cpu_quota: i64,
    #[serde(default)]
    pub cpu_period: i64,
    #[serde(default)]
    pub cpuset_cpus: String,
    #[serde(default)]
    pub cpuset_mems: String,
    #[serde(default)]
    pub pids_limit: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub cap_add: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub readonly_rootfs: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub devices: Vec<DeviceMapping>,
    #[serde(default, deserialize_with = "null_default")]
    pub ulimits: Vec<Ulimit>,
    #[serde(default, deserialize_with = "null_default")]
    pub sysctls: BTreeMap<String, String>,
    #[serde(default)]
    pub init: Option<bool>,
    #[serde(default)]
    pub oom_score_adj: i32,
    #[serde(default, deserialize_with = "null_default")]
    pub group_add: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub restart_policy: RestartPolicy,
    #[serde(default, deserialize_with = "null_default")]
    pub security_opt: Vec<String>,
    #[serde(default)]
    pub shm_size: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    #[serde(default)]
    pub path_on_host: String,
    #[serde(default)]
    pub path_in_container: String,
    #[serde(default)]
    pub cgroup_permissions: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub maximum_retry_count: i64,
}

impl RestartPolicy {
    pub fn is_none(&self) -> bool {
        matches!(self.name.as_str(), "" | "no")
    }
    pub fn is_always(&self) -> bool {
        self.name == "always"
    }
    pub fn is_unless_stopped(&self) -> bool {
        self.name == "unless-stopped"
    }
    pub fn is_on_failure(&self) -> bool {
        self.name == "on-failure"
    }
}

// ---------------------------------------------------------------------------
// Command-line values (docker/cli's opts and go-units parsing).

/// go-units `RAMInBytes`: `512`, `64m`, `1.5g`, `1GiB`, … (binary units).
pub fn parse_bytes(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: '{s}'");
    let t = s.trim_end_matches(['b', 'B']);
    let t = t.strip_suffix(['i', 'I']).unwrap_or(t);
    let (num, mul): (&str, i64) = match t.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_lowercase() {
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                't' => 1 << 40,
                'p' => 1 << 50,
                _ => return Err(bad()),
            };
            (&t[..t.len() - 1], m)
        }
        _ => (t, 1),
    };
    // "1i" or "1bb" are not sizes: only the suffixes stripped above with a unit.
    if mul == 1 && t.len() != s.len() && !s.ends_with(['b', 'B']) {
        return Err(bad());
    }
    let num = num.strip_suffix(' ').unwrap_or(num);
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let v: f64 = num.parse().map_err(|_| bad())?;
    Ok((v * mul as f64) as i64)
}

/// `--memory-swap`: `-1` (unlimited) or a size.
pub fn parse_swap(s: &str) -> Result<i64, String> {
    if s == "-1" {
        Ok(-1)
    } else {
        parse_bytes(s)
    }
}

/// `--cpus` → NanoCPUs (a rational number, 9 decimal places at most).
pub fn parse_cpus(s: &str) -> Result<i64, String> {
    let v: f64 = s
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("failed to parse {s} as a rational number"))?;
    let nano = v * 1e9;
    if nano.fract().abs() > 1e-6 && (nano.round() - nano).abs() > 1e-3 {
        return Err(format!("value is too precise: {s}"));
    }
    Ok(nano.round() as i64)
}

/// `--restart`: `no`, `always`, `unless-stopped`, `on-failure[:N]`.
pub fn parse_restart(s: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match s.split_once(':') {
        Some(("", _)) => {
            return Err("invalid restart policy format: no policy provided before colon".into())
        }
        Some((n, c)) => (
            n,
            c.parse::<i64>().map_err(|_| {
                "invalid restart policy format: maximum retry count must be an integer".to_string()
            })?,
        ),
        None => (s, 0),
    };
    Ok(RestartPolicy {
        name: name.into(),
        maximum_retry_count: count,
    })
}

/// `--ulimit name=soft[:hard]`.
pub fn parse_ulimit(s: &str) -> Result<Ulimit, String> {
    let (name, vals) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {s}"))?;
    let typ = json!(format!("RLIMIT_{}", name.to_uppercase()));
    if serde_json::from_value::<oci_spec::runtime::PosixRlimitType>(typ).is_err() {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let num = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| format!("invalid ulimit argument: {s}"))
    };
    let (soft, hard) = match vals.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(vals)?, num(vals)?),
    };
    if soft > hard && hard != -1 {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.into(),
        soft,
        hard,
    })
}

fn valid_device_mode(m: &str) -> bool {
    !m.is_empty() && m.len() <= 3 && m.chars().all(|c| "rwm".contains(c))
}

/// `--device host[:container][:perms]`.
pub fn parse_device(s: &str) -> Result<DeviceMapping, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, perms) = match parts.as_slice() {
        [a] => (*a, *a, "rwm"),
        [a, b] if valid_device_mode(b) => (*a, *a, *b),
        [a, b] => (*a, *b, "rwm"),
        [a, b, c] => {
            if !valid_device_mode(c) {
                return Err(format!("invalid device mode: {c}"));
            }
            (*a, *b, *c)
        }
        _ => return Err(format!("invalid device specification: {s}")),
    };
    if !src.starts_with('/') {
        return Err(format!("bad format for path: {src}"));
    }
    if !dst.starts_with('/') {
        return Err(format!("bad format for path: {dst}"));
    }
    Ok(DeviceMapping {
        path_on_host: src.into(),
        path_in_container: dst.into(),
        cgroup_permissions: perms.into(),
    })
}

/// docker/cli's `ValidateSysctl`: namespaced kernel parameters only.
pub fn valid_sysctl(key: &str) -> bool {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    IPC.contains(&key) || key.starts_with("fs.mqueue.") || key.starts_with("net.")
}

/// `--sysctl key=value`.
pub fn parse_sysctl(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if valid_sysctl(k) => Ok((k.into(), v.into())),
        _ => Err(format!("sysctl '{s}' is not allowed")),
    }
}

// ---------------------------------------------------------------------------
// Capabilities.

/// Every capability name the kernel may know, in number order.
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; `ALL` stays.
pub fn normalize_cap(c: &str) -> Result<String, String> {
    let up = c.to_uppercase();
    if up == "ALL" {
        return Ok(up);
    }
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    if ALL_CAPS.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(format!("unknown capability: \"{full}\""))
    }
}

/// The container's capabilities (moby's `TweakCapabilities`): `host_caps`
/// are those the running kernel knows.
pub fn capabilities(o: &RunOptions, host_caps: &[String]) -> Result<Vec<String>, String> {
    if o.privileged {
        return Ok(host_caps.to_vec());
    }
    let add = o
        .cap_add
        .iter()
        .map(|c| normalize_cap(c))
        .collect::<Result<Vec<_>, _>>()?;
    let drop = o
        .cap_drop
        .iter()
        .map(|c| normalize_cap(c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut caps: Vec<String> = if add.iter().any(|c| c == "ALL") {
        host_caps.to_vec()
    } else if drop.iter().any(|c| c == "ALL") {
        Vec::new()
    } else {
        super::spec::DEFAULT_CAPS
            .iter()
            .map(|c| c.to_string())
            .collect()
    };
    if !drop.iter().any(|c| c == "ALL") {
        caps.retain(|c| !drop.contains(c) || add.contains(c));
    }
    for c in add.iter().filter(|c| *c != "ALL") {
        if !host_caps.contains(c) {
            return Err(format!(
                "capability not supported by your kernel or not available in the current environment: \"{c}\""
            ));
        }
        if !caps.contains(c) {
            caps.push(c.clone());
        }
    }
    Ok(caps)
}

// ---------------------------------------------------------------------------
// Security options.

#[derive(Debug, Clone, PartialEq)]
pub enum Seccomp {
    Default,
    Unconfined,
    /// A profile's JSON text (the CLI reads the file and sends its content).
    Profile(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Security {
    pub no_new_privileges: bool,
    pub seccomp: Seccomp,
}

/// `--security-opt` values: `no-new-privileges[:true|false|=…]`,
/// `seccomp=unconfined|<json>`, `label=…` and `apparmor=…` (accepted,
/// nothing to do without an LSM here).
pub fn parse_security(opts: &[String]) -> Result<Security, String> {
    let mut s = Security {
        no_new_privileges: false,
        seccomp: Seccomp::Default,
    };
    for o in opts {
        if o == "no-new-privileges" {
            s.no_new_privileges = true;
            continue;
        }
        let (k, v) = o
            .split_once('=')
            .or_else(|| o.split_once(':'))
            .ok_or_else(|| format!("invalid --security-opt 1: \"{o}\""))?;
        match k {
            "no-new-privileges" => {
                s.no_new_privileges = v
                    .parse::<bool>()
                    .map_err(|_| format!("invalid --security-opt 2: \"{o}\""))?;
            }
            "seccomp" => {
                s.seccomp = match v {
                    "unconfined" => Seccomp::Unconfined,
                    "builtin" | "" => Seccomp::Default,
                    json => Seccomp::Profile(json.to_string()),
                }
            }
            "label" | "apparmor" | "systempaths" => {}
            _ => return Err(format!("invalid --security-opt 2: \"{o}\"")),
        }
    }
    Ok(s)
}

// ---------------------------------------------------------------------------
// Validation at create time (moby's verifyPlatformContainerResources and
// verifyPlatformContainerSettings), so nothing is created from bad values.

/// What validation and spec building need to know of the host.
#[derive(Debug, Clone)]
pub struct Host {
    pub ncpu: i64,
    /// Capabilities the running kernel knows.
    pub caps: Vec<String>,
    /// Go's architecture name.
    pub arch: String,
    pub kernel: (u32, u32),
    /// Whether a swap limit can be set (memsw on cgroup v1).
    pub swap_limit: bool,
}

impl Host {
    /// This machine.
    pub fn probe() -> Host {
        let last: usize = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40);
        let kernel = nix::sys::utsname::uname()
            .ok()
            .and_then(|u| {
                let r = u.release().to_string_lossy().into_owned();
                let mut it = r.split(['.', '-']);
                Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
            })
            .unwrap_or((0, 0));
        let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        Host {
            ncpu: online_cpus(),
            caps: grantable_caps(last, bounding_set()),
            arch: seccomp_profile::go_arch().to_string(),
            kernel,
            swap_limit: v2
                || std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
                    .exists(),
        }
    }
}

/// CPUs this process may run on (Go's `runtime.NumCPU`, which Docker uses).
fn online_cpus() -> i64 {
    nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map(|set| {
            (0..nix::sched::CpuSet::count())
                .filter(|&i| set.is_set(i).unwrap_or(false))
                .count() as i64
        })
        .unwrap_or(1)
        .max(1)
}

/// The daemon's own bounding set (`CapBnd` of /proc/self/status): a
/// container cannot be given more than the daemon holds.
fn bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX)
}

/// The capabilities up to the kernel's last one that are in `bounding`.
pub fn grantable_caps(last: usize, bounding: u64) -> Vec<String> {
    ALL_CAPS
        .iter()
        .enumerate()
        .take(last + 1)
        .filter(|(i, _)| bounding & (1u64 << i) != 0)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Checks the options and fills in Docker's defaults (shm size, swap).
/// Returns the create warnings.
pub fn validate(o: &mut RunOptions, host: &Host) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    if o.memory != 0 && o.memory < MIN_MEMORY {
        return Err("Minimum memory limit allowed is 6MB".into());
    }
    if o.memory > 0 && o.memory_swap != -1 && o.memory_swap != 0 && !host.swap_limit {
        warnings.push("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.".to_string());
        o.memory_swap = -1;
    }
    if o.memory > 0 && o.memory_swap > 0 && o.memory_swap < o.memory {
        return Err(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        );
    }
    if o.memory == 0 && o.memory_swap > 0 {
        return Err(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        );
    }
    if o.memory_reservation > 0 && o.memory_reservation < MIN_MEMORY {
        return Err("Minimum memory reservation allowed is 6MB".into());
    }
    if o.memory > 0 && o.memory_reservation > 0 && o.memory < o.memory_reservation {
        return Err(
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        );
    }
    if o.nano_cpus > 0 && o.cpu_period > 0 {
        return Err("Conflicting options: Nano CPUs and CPU Period cannot both be set".into());
    }
    if o.nano_cpus > 0 && o.cpu_quota > 0 {
        return Err("Conflicting options: Nano CPUs and CPU Quota cannot both be set".into());
    }
    if o.nano_cpus < 0 || o.nano_cpus > host.ncpu * 1_000_000_000 {
        return Err(format!(
            "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available",
            n = host.ncpu
        ));
    }
    if o.cpu_period != 0 && !(1000..=1_000_000).contains(&o.cpu_period) {
        return Err(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .into(),
        );
    }
    if o.cpu_quota > 0 && o.cpu_quota < 1000 {
        return Err("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
    }
    if o.cpu_shares < 0 {
        return Err(format!("invalid CPU shares: {}", o.cpu_shares));
    }
    check_cpuset(&o.cpuset_cpus, host.ncpu as u32)
        .map_err(|e| format!("Invalid value {} for cpuset cpus: {e}", o.cpuset_cpus))?;
    check_cpuset(&o.cpuset_mems, u32::MAX)
        .map_err(|e| format!("Invalid value {} for cpuset mems: {e}", o.cpuset_mems))?;
    // Docker's default: as much swap as memory (the limit covers both).
    if o.memory > 0 && o.memory_swap == 0 && host.swap_limit {
        o.memory_swap = o.memory * 2;
    }
    if o.shm_size < 0 {
        return Err("SHM size can not be less than 0".into());
    }
    if o.shm_size == 0 {
        o.shm_size = DEFAULT_SHM_SIZE;
    }
    if !(-1000..=1000).contains(&o.oom_score_adj) {
        return Err(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            o.oom_score_adj
        ));
    }
    validate_restart(&o.restart_policy)?;
    capabilities(o, &host.caps)?;
    let sec = parse_security(&o.security_opt)?;
    if let Seccomp::Profile(p) = &sec.seccomp {
        let v: Value =
            serde_json::from_str(p).map_err(|e| format!("Decoding seccomp profile failed: {e}"))?;
        seccomp_profile::to_oci(&v, &target(&[], host))?;
    }
    for u in &o.ulimits {
        parse_ulimit(&format!("{}={}:{}", u.name, u.soft, u.hard))?;
    }
    for d in &o.devices {
        if !d.path_on_host.starts_with('/') {
            return Err(format!("bad format for path: {}", d.path_on_host));
        }
        if !d.cgroup_permissions.is_empty() && !valid_device_mode(&d.cgroup_permissions) {
            return Err(format!("invalid device mode: {}", d.cgroup_permissions));
        }
    }
    for k in o.sysctls.keys() {
        if !valid_sysctl(k) {
            return Err(format!("sysctl '{k}' is not allowed"));
        }
    }
    Ok(warnings)
}

/// moby's `ValidateRestartPolicy`.
pub fn validate_restart(p: &RestartPolicy) -> Result<(), String> {
    match p.name.as_str() {
        "" | "no" | "always" | "unless-stopped" => {
            if p.maximum_retry_count != 0 {
                return Err(
                    "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                        .into(),
                );
            }
            Ok(())
        }
        "on-failure" => {
            if p.maximum_retry_count < 0 {
                return Err(
                    "invalid restart policy: maximum retry count cannot be negative".into(),
                );
            }
            Ok(())
        }
        other => Err(format!(
            "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        )),
    }
}

/// A cpuset list (`0-3,5`), each number below `limit`.
fn check_cpuset(s: &str, limit: u32) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    for part in s.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u32 = a.parse().map_err(|_| "invalid format".to_string())?;
        let b: u32 = b.parse().map_err(|_| "invalid format".to_string())?;
        if a > b {
            return Err("invalid format".into());
        }
        if b >= limit {
            return Err(format!("only {limit} are available"));
        }
    }
    Ok(())
}

fn target<'a>(caps: &'a [String], host: &'a Host) -> seccomp_profile::Target<'a> {
    seccomp_profile::Target {
        caps,
        arch: &host.arch,
        kernel: host.kernel,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host {
            ncpu: 2,
            caps: ALL_CAPS.iter().map(|c| c.to_string()).collect(),
            arch: "amd64".into(),
            kernel: (6, 1),
            swap_limit: true,
        }
    }

    #[test]
    fn sizes_parse_like_go_units() {
        assert_eq!(parse_bytes("512"), Ok(512));
        assert_eq!(parse_bytes("64m"), Ok(64 << 20));
        assert_eq!(parse_bytes("64M"), Ok(64 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("1.5k"), Ok(1536));
        assert_eq!(parse_bytes("10kb"), Ok(10240));
        assert_eq!(parse_bytes("1x"), Err("invalid size: '1x'".into()));
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("m").is_err());
        assert!(parse_bytes("-1").is_err());
        assert_eq!(parse_swap("-1"), Ok(-1));
    }

    #[test]
    fn cpus_and_restart_policies_parse() {
        assert_eq!(parse_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_cpus("0.01"), Ok(10_000_000));
        assert_eq!(parse_cpus("-1"), Ok(-1_000_000_000));
        assert!(parse_cpus("abc").is_err());
        assert_eq!(
            parse_restart("on-failure:2"),
            Ok(RestartPolicy {
                name: "on-failure".into(),
                maximum_retry_count: 2
            })
        );
        assert!(parse_restart(":2").is_err());
        assert!(parse_restart("on-failure:x").is_err());
        assert!(validate_restart(&parse_restart("bogus").unwrap())
            .unwrap_err()
            .contains("unknown policy 'bogus'"));
        assert!(validate_restart(&parse_restart("always:3").unwrap()).is_err());
        assert!(validate_restart(&parse_restart("unless-stopped").unwrap()).is_ok());
    }

    #[test]
    fn ulimits_devices_sysctls_parse() {
        assert_eq!(
            parse_ulimit("nofile=1024:2048"),
            Ok(Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            })
        );
        assert_eq!(parse_ulimit("nproc=10").unwrap().hard, 10);
        assert!(parse_ulimit("nofile=3:2").is_err());
        assert!(parse_ulimit("bogus=1").is_err());
        assert!(parse_ulimit("nofile").is_err());
        let d = parse_device("/dev/null:/dev/mynull:r").unwrap();
        assert_eq!(d.path_in_container, "/dev/mynull");
        assert_eq!(d.cgroup_permissions, "r");
        assert_eq!(parse_device("/dev/fuse").unwrap().cgroup_permissions, "rwm");
        assert_eq!(
            parse_device("/dev/fuse:rw").unwrap().path_in_container,
            "/dev/fuse"
        );
        assert!(parse_device("/dev/x:/dev/y:z").is_err());
        assert!(parse_device("dev:/x").is_err());
        assert!(parse_sysctl("net.ipv4.ip_forward=1").is_ok());
        assert!(parse_sysctl("kernel.shmmax=1").is_ok());
        assert!(parse_sysctl("kernel.hostname=x").is_err());
        assert!(parse_sysctl("vm.swappiness=1").is_err());
    }

    #[test]
    fn capabilities_follow_docker() {
        let h = host();
        let mut o = RunOptions::default();
        assert_eq!(capabilities(&o, &h.caps).unwrap().len(), 14);
        o.cap_add = vec!["net_admin".into()];
        o.cap_drop = vec!["CAP_CHOWN".into(), "kill".into()];
        let c = capabilities(&o, &h.caps).unwrap();
        assert!(c.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!c.contains(&"CAP_CHOWN".to_string()));
        assert!(!c.contains(&"CAP_KILL".to_string()));
        assert_eq!(c.len(), 13);
        o.cap_drop = vec!["ALL".into()];
        assert_eq!(
            capabilities(&o, &h.caps).unwrap(),
            vec!["CAP_NET_ADMIN".to_string()]
        );
        o.cap_add = vec!["ALL".into()];
        o.cap_drop = vec!["SYS_ADMIN".into()];
        assert_eq!(capabilities(&o, &h.caps).unwrap().len(), ALL_CAPS.len() - 1);
        o.cap_add = vec!["BOGUS".into()];
        assert_eq!(
            capabilities(&o, &h.caps).unwrap_err(),
            "unknown capability: \"CAP_BOGUS\""
        );
        o.cap_add = vec!["SYS_ADMIN".into()];
        assert!(capabilities(&o, &h.caps[..20])
            .unwrap_err()
            .contains("not supported"));
        o.privileged = true;
        o.cap_add.clear();
        assert_eq!(capabilities(&o, &h.caps).unwrap().len(), ALL_CAPS.len());
    }

    #[test]
    fn validation_uses_dockers_messages_and_defaults() {
        let h = host();
        let mut o = RunOptions {
            nano_cpus: -1_000_000_000,
            ..Default::default()
        };
        assert_eq!(
            validate(&mut o, &h).unwrap_err(),
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        let mut o = RunOptions {
            memory: 1024,
            ..Default::default()
        };
        assert_eq!(
            validate(&mut o, &h).unwrap_err(),
            "Minimum memory limit allowed is 6MB"
        );
        let mut o = RunOptions {
            memory: 64 << 20,
            memory_swap: 32 << 20,
            ..Default::default()
        };
        assert!(validate(&mut o, &h).is_err());
        let mut o = RunOptions {
            nano_cpus: 1_000_000_000,
            cpu_quota: 5000,
            ..Default::default()
        };
        assert!(validate(&mut o, &h).unwrap_err().contains("Conflicting"));
        let mut o = RunOptions {
            cpuset_cpus: "0-7".into(),
            ..Default::default()
        };
        assert!(validate(&mut o, &h).is_err());
        let mut o = RunOptions {
            oom_score_adj: 2000,
            ..Default::default()
        };
        assert!(validate(&mut o, &h).is_err());
        let mut o = RunOptions {
            security_opt: vec!["seccomp={not json".into()],
            ..Default::default()
        };
        assert!(validate(&mut o, &h).is_err());
        let mut o = RunOptions::default();
        assert!(validate(&mut o, &h).unwrap().is_empty());
        assert_eq!(o.shm_size, DEFAULT_SHM_SIZE);
        let mut o = RunOptions {
            memory: 64 << 20,
            ..Default::default()
        };
        validate(&mut o, &h).unwrap();
        assert_eq!(o.memory_swap, 128 << 20);
    }

    #[test]
    fn security_options_parse() {
        let s = |v: &[&str]| parse_security(&v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert!(!s(&[]).unwrap().no_new_privileges);
        assert!(s(&["no-new-privileges"]).unwrap().no_new_privileges);
        assert!(s(&["no-new-privileges:true"]).unwrap().no_new_privileges);
        assert!(!s(&["no-new-privileges=false"]).unwrap().no_new_privileges);
        assert_eq!(
            s(&["seccomp=unconfined"]).unwrap().seccomp,
            Seccomp::Unconfined
        );
        assert!(s(&["bogus"]).is_err());
        assert!(s(&["foo=bar"]).is_err());
    }

    fn base_spec() -> Value {
        super::super::spec::build(&super::super::spec::SpecInput {
            args: vec!["sh".into()],
            rootfs: "/r".into(),
            ..Default::default()
        })
        .unwrap()
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
        };
        let mut s = base_spec();
        apply(&mut s, &o, &x).unwrap();
        let r = &s["linux"]["resources"];
        assert_eq!(r["memory"]["limit"], 64 << 20);
        assert_eq!(r["memory"]["swap"], 128 << 20);
        assert_eq!(r["cpu"]["quota"], 50_000);
        assert_eq!(r["cpu"]["period"], 100_000);
        assert_eq!(r["cpu"]["shares"], 512);
        assert_eq!(r["pids"]["limit"], 20);
        assert_eq!(s["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
        assert_eq!(s["linux"]["sysctl"]["net.ipv4.ip_forward"], "1");
        assert_eq!(s["root"]["readonly"], true);
        assert_eq!(s["process"]["oomScoreAdj"], 100);
        assert_eq!(s["process"]["args"], json!([INIT_PATH, "--", "sh"]));
        let mounts = s["mounts"].as_array().unwrap();
        assert!(mounts
            .iter()
            .any(|m| m["destination"] == INIT_PATH && m["source"] == "/x/docker-init"));
        let shm = mounts
            .iter()
            .find(|m| m["destination"] == "/dev/shm")
            .unwrap();
        assert!(shm["options"]
            .as_array()
            .unwrap()
            .contains(&json!("size=1048576")));
        assert_eq!(s["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(s["process"]["noNewPrivileges"], false);
        // The result is a spec the executor accepts.
        let _: oci_spec::runtime::Spec = serde_json::from_value(s).unwrap();
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
                typ: 'c',
                major: 1,
                minor: 3,
                mode: 0o666,
                uid: 0,
                gid: 0,
                access: "rwm".into(),
            }],
            init_binary: String::new(),
        };
        let mut s = base_spec();
        apply(&mut s, &o, &x).unwrap();
        assert!(s["linux"]["seccomp"].is_null());
        assert_eq!(s["linux"]["maskedPaths"], json!([]));
        assert_eq!(
            s["process"]["capabilities"]["effective"]
                .as_array()
                .unwrap()
                .len(),
            ALL_CAPS.len()
        );
        assert_eq!(s["linux"]["devices"][0]["path"], "/dev/null");
        let _: oci_spec::runtime::Spec = serde_json::from_value(s).unwrap();

        let o = RunOptions {
            security_opt: vec!["seccomp=unconfined".into(), "no-new-privileges".into()],
            ..Default::default()
        };
        let mut s = base_spec();
        apply(&mut s, &o, &x).unwrap();
        assert!(s["linux"]["seccomp"].is_null());
        assert_eq!(s["process"]["noNewPrivileges"], true);
        assert!(!s["linux"]["maskedPaths"].as_array().unwrap().is_empty());
    }

    #[test]
    fn grantable_caps_follow_kernel_and_bounding_set() {
        assert_eq!(grantable_caps(40, u64::MAX).len(), 41);
        assert_eq!(grantable_caps(37, u64::MAX).len(), 38);
        let without_sys_resource = grantable_caps(40, 0x1fffeffffff);
        assert_eq!(without_sys_resource.len(), 40);
        assert!(!without_sys_resource.contains(&"CAP_SYS_RESOURCE".to_string()));
    }

    #[test]
    fn group_names_resolve() {
        let g = "root:x:0:\nwheel:x:10:\n";
        assert_eq!(
            resolve_groups(&["wheel".into(), "42".into()], g),
            Ok(vec![10, 42])
        );
        assert!(resolve_groups(&["nope".into()], g).is_err());
    }

    #[test]
    fn host_config_json_round_trips_with_dockers_names() {
        let o: RunOptions = serde_json::from_str(
            r#"{"Memory":67108864,"NanoCpus":1000000000,"CapAdd":null,"CapDrop":["ALL"],
                "PidsLimit":null,"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":2},
                "Ulimits":[{"Name":"nofile","Soft":1,"Hard":2}],"Sysctls":null,"Devices":null,
                "Init":true,"SecurityOpt":null,"ReadonlyRootfs":true}"#,
        )
        .unwrap();
        assert_eq!(o.memory, 64 << 20);
        assert_eq!(o.cap_drop, vec!["ALL".to_string()]);
        assert!(o.restart_policy.is_on_failure());
        assert_eq!(o.init, Some(true));
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["NanoCpus"], 1_000_000_000);
        assert_eq!(v["RestartPolicy"]["MaximumRetryCount"], 2);
    }
}
