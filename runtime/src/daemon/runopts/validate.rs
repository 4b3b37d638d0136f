//! Pure: the run options checked against the host's facts, with Docker's
//! messages and defaults.

use super::*;
use crate::daemon::seccomp_profile;
use crate::spec::validate::{device_mode, docker_sysctl};

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
    /// Which block IO limits the cgroups can apply.
    pub io: IoSupport,
}

impl Host {
    /// This machine's facts, found at the first use and kept (as Docker
    /// finds them once, at its start): a create and a start each looked
    /// again, with a dozen system calls (0.1 ms), for facts that stay.
    pub fn cached() -> &'static Host {
        static HOST: std::sync::OnceLock<Host> = std::sync::OnceLock::new();
        HOST.get_or_init(Host::probe)
    }

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
            io: IoSupport::probe(),
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
    let mut warnings = validate_memory(o, host)?;
    warnings.extend(validate_blkio(o, host.io)?);
    validate_cpu(o, host)?;
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
        let profile = seccomp_profile::parse(p).map_err(|e| e.to_string())?;
        seccomp_profile::to_oci(&profile, &target(&[], host)).map_err(|e| e.to_string())?;
    }
    validate_host_access(o)?;
    Ok(warnings)
}

/// The memory limits, with Docker's messages; the swap default filled in.
fn validate_memory(o: &mut RunOptions, host: &Host) -> Result<Vec<String>, String> {
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
    // Docker's default: as much swap as memory (the limit covers both).
    if o.memory > 0 && o.memory_swap == 0 && host.swap_limit {
        o.memory_swap = o.memory * 2;
    }
    Ok(warnings)
}

/// The CPU limits and cpusets, with Docker's messages.
fn validate_cpu(o: &RunOptions, host: &Host) -> Result<(), String> {
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
        .map_err(|e| format!("Invalid value {} for cpuset mems: {e}", o.cpuset_mems))
}

/// Ulimits, devices and sysctls: what the container may reach of the host.
fn validate_host_access(o: &RunOptions) -> Result<(), String> {
    for u in &o.ulimits {
        Rlimit::of(u)?;
    }
    for d in &o.devices {
        if !d.path_on_host.starts_with('/') {
            return Err(format!("bad format for path: {}", d.path_on_host));
        }
        if !d.cgroup_permissions.is_empty() && !device_mode(&d.cgroup_permissions) {
            return Err(format!("invalid device mode: {}", d.cgroup_permissions));
        }
    }
    for k in o.sysctls.keys() {
        if !docker_sysctl(k) {
            return Err(format!("sysctl '{k}' is not allowed"));
        }
    }
    Ok(())
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

pub(crate) fn target<'a>(caps: &'a [String], host: &'a Host) -> seccomp_profile::Target<'a> {
    seccomp_profile::Target {
        caps,
        arch: &host.arch,
        kernel: host.kernel,
    }
}
