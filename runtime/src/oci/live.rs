//! What a running container's caller changes or reads live, as
//! containerd's runc shim (through go-runc) calls it: pause, resume,
//! update, events.

use super::oom::OomWatch;
use super::state::Saved;
use crate::linux::cgroups;
use crate::spec::state::{check, Operation, Status};
use anyhow::{bail, Context, Result};
use libcgroups::common::{AnyCgroupManager, CgroupManager};
use oci_spec::runtime::LinuxResources;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

/// `pause` (`on`) or `resume`: the cgroup freezer, v1 or v2.
pub fn pause(root: &Path, id: &str, on: bool) -> Result<()> {
    let c = Saved::load(root, id)?;
    let op = if on {
        Operation::Pause
    } else {
        Operation::Resume
    };
    check(id, c.status(root), op)?;
    let m = cgroups::manager(&c.cgroup_path, id)?;
    cgroups::freeze(&m, on)
}

/// `update --resources FILE|-`: the linux.resources JSON applied to the
/// running container's cgroup.
pub fn update(root: &Path, id: &str, resources: Option<&Path>) -> Result<()> {
    let c = Saved::load(root, id)?;
    if c.status(root) == Status::Stopped {
        bail!("cannot update container {id}: container not running");
    }
    let Some(file) = resources else {
        bail!("update needs --resources FILE (or - for stdin): the other runc update flags are not supported");
    };
    let mut text = Vec::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut text)
            .context("read the resources from stdin")?;
    } else {
        text = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
    }
    let resources: LinuxResources = serde_json::from_slice(&text)
        .context("parse the resources (linux.resources of the runtime spec, as JSON)")?;
    let m = cgroups::manager(&c.cgroup_path, id)?;
    // The device rules stay as created: an update never widens them.
    let mut live = resources.clone();
    live.set_devices(None);
    let pid = nix::unistd::Pid::from_raw(c.pid);
    cgroups::set(&m, &live, pid).with_context(|| format!("update container {id}"))
}

/// go-runc's duration strings: "5s", "500ms", "1m".
fn parse_interval(s: &str) -> Result<Duration> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .with_context(|| format!("invalid --interval {s:?}: use e.g. 5s or 500ms"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("invalid --interval {s:?}: use e.g. 5s or 500ms"),
    };
    if secs <= 0.0 {
        bail!("--interval must be positive");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `events [--stats] [--interval D]`, as runc's: with `--stats` one stats
/// event and done; else a stats event every interval and an OOM event
/// (`{"type":"oom","id":...}`) whenever the kernel's OOM killer strikes the
/// container's memory cgroup, one JSON line each, until the container stops.
pub fn events(root: &Path, id: &str, once: bool, interval: &str) -> Result<()> {
    let every = parse_interval(interval)?;
    let c = Saved::load(root, id)?;
    if c.status(root) == Status::Stopped {
        bail!("container {id}: container not running");
    }
    let m = cgroups::manager(&c.cgroup_path, id)?;
    if once {
        return print_stats(&m, id);
    }
    // No memory cgroup to watch (a v2 scope without the memory
    // controller): said once, and the stats go on without OOM events.
    let mut oom = OomWatch::new(c.pid)
        .inspect_err(|e| tracing::warn!("events of container {id}: no OOM events: {e:#}"))
        .ok();
    let mut next = Instant::now() + every;
    loop {
        // The status is looked at every 200 ms at most.
        let wait = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(200));
        if oom_seen(&mut oom, wait)? {
            print_oom(id);
        }
        if c.status(root) == Status::Stopped {
            // An OOM kill of the init is counted before it is gone.
            if oom_seen(&mut oom, Duration::ZERO)? {
                print_oom(id);
            }
            return Ok(());
        }
        if Instant::now() >= next {
            // As runc: a failed read is logged and the stream goes on.
            if let Err(e) = print_stats(&m, id) {
                tracing::error!("{e:#}");
            }
            next += every;
        }
    }
}

/// Whether an OOM happened within `wait` (just waits without a watch).
fn oom_seen(oom: &mut Option<OomWatch>, wait: Duration) -> Result<bool> {
    match oom {
        Some(w) => w.wait(wait),
        None => {
            std::thread::sleep(wait);
            Ok(false)
        }
    }
}

/// runc's key order: `{"type":"oom","id":"…"}`.
fn print_oom(id: &str) {
    let id = serde_json::Value::from(id);
    println!("{{\"type\":\"oom\",\"id\":{id}}}");
}

fn print_stats(m: &AnyCgroupManager, id: &str) -> Result<()> {
    let stats = m.stats().context("read the cgroup's statistics")?;
    let data = runc_stats(&stats, CpuUnits::host());
    let line = serde_json::json!({"type": "stats", "id": id, "data": data});
    println!("{line}");
    Ok(())
}

/// How libcgroups' CPU figures convert to runc's nanoseconds: cgroup v2's
/// cpu.stat counts microseconds; v1's cpuacct.usage is in nanoseconds
/// already, its cpuacct.stat (user, system) in clock ticks.
#[derive(Clone, Copy)]
enum CpuUnits {
    V2,
    V1 { ticks_per_sec: u64 },
}

impl CpuUnits {
    fn host() -> CpuUnits {
        if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            CpuUnits::V2
        } else {
            CpuUnits::V1 {
                ticks_per_sec: crate::linux::cgroups::clock_ticks(),
            }
        }
    }

    /// (total, user, kernel) in nanoseconds.
    fn nanos(self, u: &libcgroups::stats::CpuUsage) -> (u64, u64, u64) {
        match self {
            CpuUnits::V2 => (
                u.usage_total.saturating_mul(1000),
                u.usage_user.saturating_mul(1000),
                u.usage_kernel.saturating_mul(1000),
            ),
            CpuUnits::V1 { ticks_per_sec } => {
                let tick = 1_000_000_000 / ticks_per_sec.max(1);
                (
                    u.usage_total,
                    u.usage_user.saturating_mul(tick),
                    u.usage_kernel.saturating_mul(tick),
                )
            }
        }
    }
}

/// libcgroups' statistics in the shape and units of runc's `types.Stats`,
/// which go-runc decodes.
fn runc_stats(s: &libcgroups::stats::Stats, units: CpuUnits) -> serde_json::Value {
    let mem = |d: &libcgroups::stats::MemoryData| serde_json::json!({"limit": d.limit, "usage": d.usage, "max": d.max_usage, "failcnt": d.fail_count});
    let (total, user, kernel) = units.nanos(&s.cpu.usage);
    // runc's page cache figure: v1's "cache", v2's "file" of memory.stat.
    let cache = match units {
        CpuUnits::V2 => s.memory.stats.get("file").copied().unwrap_or(0),
        CpuUnits::V1 { .. } => s.memory.cache,
    };
    serde_json::json!({
        "cpu": {
            "usage": {"total": total, "percpu": s.cpu.usage.per_core_usage_total,
                      "kernel": kernel, "user": user},
            "throttling": {"periods": s.cpu.throttling.periods,
                           "throttledPeriods": s.cpu.throttling.throttled_periods,
                           "throttledTime": s.cpu.throttling.throttled_time}
        },
        "memory": {
            "cache": cache,
            "usage": mem(&s.memory.memory),
            "swap": mem(&s.memory.memswap),
            "kernel": mem(&s.memory.kernel),
            "kernelTCP": mem(&s.memory.kernel_tcp),
            "raw": s.memory.stats,
        },
        "pids": {"current": s.pids.current, "limit": s.pids.limit},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_as_go_writes_them() {
        assert_eq!(parse_interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_interval("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_interval("2").unwrap(), Duration::from_secs(2));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("5 parsecs").is_err());
    }

    #[test]
    fn cpu_figures_in_runc_nanoseconds() {
        let mut s = libcgroups::stats::Stats::default();
        s.cpu.usage.usage_total = 7730;
        s.cpu.usage.usage_user = 4387;
        s.cpu.usage.usage_kernel = 3498;
        s.memory.stats.insert("file".into(), 4096);
        let v2 = runc_stats(&s, CpuUnits::V2);
        assert_eq!(v2["cpu"]["usage"]["total"], 7_730_000);
        assert_eq!(v2["cpu"]["usage"]["user"], 4_387_000);
        assert_eq!(v2["cpu"]["usage"]["kernel"], 3_498_000);
        assert_eq!(v2["memory"]["cache"], 4096);
        // v1: the total is cpuacct.usage's nanoseconds, user and system
        // are clock ticks.
        s.cpu.usage.usage_total = 20_944_489;
        s.cpu.usage.usage_user = 0;
        s.cpu.usage.usage_kernel = 2;
        s.memory.cache = 8192;
        let v1 = runc_stats(&s, CpuUnits::V1 { ticks_per_sec: 100 });
        assert_eq!(v1["cpu"]["usage"]["total"], 20_944_489);
        assert_eq!(v1["cpu"]["usage"]["kernel"], 20_000_000);
        assert_eq!(v1["memory"]["cache"], 8192);
    }
}
