//! What a running container's caller changes or reads live, as
//! containerd's runc shim (through go-runc) calls it: pause, resume,
//! update, events.

use super::state::Saved;
use crate::linux::cgroups;
use crate::spec::state::{check, Operation, Status};
use anyhow::{bail, Context, Result};
use libcgroups::common::CgroupManager;
use oci_spec::runtime::LinuxResources;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

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

/// `events [--stats] [--interval D]`: runc's stats events, one JSON line
/// each (`{"type":"stats","id":...,"data":{...}}`); with `--stats` one and
/// done, else one every interval until the container stops.
pub fn events(root: &Path, id: &str, once: bool, interval: &str) -> Result<()> {
    let every = parse_interval(interval)?;
    let c = Saved::load(root, id)?;
    loop {
        if c.status(root) == Status::Stopped {
            if once {
                bail!("container {id}: container not running");
            }
            return Ok(());
        }
        let m = cgroups::manager(&c.cgroup_path, id)?;
        let stats = m.stats().context("read the cgroup's statistics")?;
        let line = serde_json::json!({"type": "stats", "id": id, "data": runc_stats(&stats)});
        println!("{line}");
        if once {
            return Ok(());
        }
        std::thread::sleep(every);
    }
}

/// libcgroups' statistics in the shape of runc's `types.Stats`, which
/// go-runc decodes.
fn runc_stats(s: &libcgroups::stats::Stats) -> serde_json::Value {
    let mem = |d: &libcgroups::stats::MemoryData| serde_json::json!({"limit": d.limit, "usage": d.usage, "max": d.max_usage, "failcnt": d.fail_count});
    let u = &s.cpu.usage;
    serde_json::json!({
        "cpu": {
            "usage": {"total": u.usage_total, "percpu": u.per_core_usage_total,
                      "kernel": u.usage_kernel, "user": u.usage_user},
            "throttling": {"periods": s.cpu.throttling.periods,
                           "throttledPeriods": s.cpu.throttling.throttled_periods,
                           "throttledTime": s.cpu.throttling.throttled_time}
        },
        "memory": {
            "cache": s.memory.cache,
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
}
