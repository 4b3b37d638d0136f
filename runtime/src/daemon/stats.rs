//! `GET /containers/{id}/stats`: one sample of a container's cgroup (v1 or
//! v2, found through its init's `/proc/<pid>/cgroup`) and network
//! counters (`/proc/<pid>/net/dev`), in dockerd's shape
//! ([`crate::apimodel::stats`]); the parsing is pure and unit-tested.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{store, ContainerError, Daemon};
use crate::apimodel::stats::{
    BlkioStatEntry, CpuStats, CpuUsage, MemoryStats, NetworkStats, PidsStats, StatsResponse,
};
use crate::linux::cgroups::clock_ticks;

impl Daemon {
    /// One `GET /containers/{id}/stats` sample, with `pre` (the sample
    /// before, if any) as precpu.
    pub fn stats_sample(
        &self,
        name: &str,
        pre: Option<&StatsResponse>,
    ) -> Result<StatsResponse, ContainerError> {
        let c = self.container(name)?;
        let mut v = StatsResponse {
            read: super::logs::now(),
            preread: pre.map_or_else(|| store::ZERO_TIME.to_string(), |p| p.read.clone()),
            name: format!("/{}", c.name),
            id: c.id.clone(),
            precpu_stats: pre.map(|p| p.cpu_stats.clone()).unwrap_or_default(),
            ..Default::default()
        };
        if !c.state.running || c.state.pid <= 0 {
            return Ok(v);
        }
        let pid = c.state.pid;
        let cg = Cgroups::of(pid);
        let online = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        v.cpu_stats = CpuStats {
            cpu_usage: cg.cpu(),
            system_cpu_usage: system_cpu_ns(),
            online_cpus: u32::try_from(online).unwrap_or(u32::MAX),
            throttling_data: Default::default(),
        };
        v.memory_stats = cg.memory();
        v.pids_stats = cg.pids();
        v.blkio_stats.io_service_bytes_recursive = cg.blkio();
        let dev = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
        v.networks = parse_net_dev(&dev);
        Ok(v)
    }
}

/// The container's cgroup directories, found from its init's
/// `/proc/<pid>/cgroup`.
pub(super) struct Cgroups {
    /// cgroup v2 (unified) directory, when the host has one mounted.
    v2: Option<PathBuf>,
    /// v1 controller → directory.
    v1: BTreeMap<String, PathBuf>,
}

impl Cgroups {
    pub(super) fn of(pid: i32) -> Cgroups {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let root = Path::new("/sys/fs/cgroup");
        let pure_v2 = root.join("cgroup.controllers").exists();
        let mut cg = Cgroups {
            v2: None,
            v1: BTreeMap::new(),
        };
        for (ctrls, path) in parse_proc_cgroup(&text) {
            let rel = path.trim_start_matches('/');
            // The root cgroup holds every process of the host: a hierarchy
            // the container has no cgroup of its own in (v2 on a hybrid host).
            if rel.is_empty() {
                continue;
            }
            if ctrls.is_empty() {
                let base = if pure_v2 {
                    root.to_path_buf()
                } else {
                    root.join("unified")
                };
                let d = base.join(rel);
                if d.join("cgroup.procs").exists() {
                    cg.v2 = Some(d);
                }
                continue;
            }
            for ctl in ctrls.split(',') {
                let mount = root.join(ctl.trim_start_matches("name="));
                let dir = if mount.exists() {
                    mount.join(rel)
                } else {
                    // Co-mounted controllers (cpu,cpuacct).
                    root.join(&ctrls).join(rel)
                };
                cg.v1.insert(ctl.to_string(), dir);
            }
        }
        cg
    }

    fn v1_file(&self, ctl: &str, file: &str) -> Option<String> {
        std::fs::read_to_string(self.v1.get(ctl)?.join(file)).ok()
    }

    fn v2_file(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.v2.as_ref()?.join(file)).ok()
    }

    pub(super) fn procs(&self) -> Option<Vec<i32>> {
        let text = self
            .v2_file("cgroup.procs")
            .filter(|t| !t.trim().is_empty())
            .or_else(|| self.v1_file("pids", "cgroup.procs"))
            .or_else(|| self.v1_file("memory", "cgroup.procs"))?;
        let v: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        (!v.is_empty()).then_some(v)
    }

    fn memory(&self) -> MemoryStats {
        let num = |s: Option<String>| s.and_then(|t| t.trim().parse::<u64>().ok());
        let host = host_memory();
        if let Some(usage) = num(self.v1_file("memory", "memory.usage_in_bytes")) {
            let limit = num(self.v1_file("memory", "memory.limit_in_bytes"))
                .unwrap_or(host)
                .min(host);
            let stats = parse_kv(&self.v1_file("memory", "memory.stat").unwrap_or_default());
            let max = num(self.v1_file("memory", "memory.max_usage_in_bytes"));
            return MemoryStats {
                usage: Some(usage),
                limit: Some(limit),
                max_usage: Some(max.unwrap_or(0)),
                stats: Some(stats),
                ..Default::default()
            };
        }
        if let Some(usage) = num(self.v2_file("memory.current")) {
            let limit = num(self.v2_file("memory.max")).unwrap_or(host).min(host);
            let stats = parse_kv(&self.v2_file("memory.stat").unwrap_or_default());
            return MemoryStats {
                usage: Some(usage),
                limit: Some(limit),
                stats: Some(stats),
                ..Default::default()
            };
        }
        MemoryStats::default()
    }

    fn cpu(&self) -> CpuUsage {
        if let Some(t) = self.v1_file("cpuacct", "cpuacct.usage") {
            let percpu: Vec<u64> = self
                .v1_file("cpuacct", "cpuacct.usage_percpu")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            let st = parse_kv(&self.v1_file("cpuacct", "cpuacct.stat").unwrap_or_default());
            let tick = 1_000_000_000 / clock_ticks().max(1);
            return CpuUsage {
                total_usage: t.trim().parse().unwrap_or(0),
                percpu_usage: Some(percpu),
                usage_in_usermode: st.get("user").copied().unwrap_or(0) * tick,
                usage_in_kernelmode: st.get("system").copied().unwrap_or(0) * tick,
            };
        }
        let st = parse_kv(&self.v2_file("cpu.stat").unwrap_or_default());
        let usec = |k: &str| st.get(k).copied().unwrap_or(0) * 1000;
        CpuUsage {
            total_usage: usec("usage_usec"),
            percpu_usage: None,
            usage_in_usermode: usec("user_usec"),
            usage_in_kernelmode: usec("system_usec"),
        }
    }

    fn pids(&self) -> PidsStats {
        let read = |f: &str| {
            self.v1_file("pids", f)
                .or_else(|| self.v2_file(f))
                .map(|t| t.trim().to_string())
        };
        let current = read("pids.current")
            .and_then(|t| t.parse::<u64>().ok())
            .or_else(|| self.procs().map(|p| p.len() as u64))
            .unwrap_or(0);
        PidsStats {
            current: Some(current),
            limit: read("pids.max").and_then(|t| t.parse::<u64>().ok()),
        }
    }

    /// `io_service_bytes_recursive`: `None` (sent as `null`) when empty.
    fn blkio(&self) -> Option<Vec<BlkioStatEntry>> {
        let entry = |dev: &str, op: &str, val: &str| {
            let (maj, min) = dev.split_once(':').unwrap_or(("0", "0"));
            BlkioStatEntry {
                major: maj.parse().unwrap_or(0),
                minor: min.parse().unwrap_or(0),
                op: op.to_string(),
                value: val.parse().unwrap_or(0),
            }
        };
        let mut out = Vec::new();
        if let Some(t) = self.v1_file("blkio", "blkio.throttle.io_service_bytes") {
            for l in t.lines() {
                let f: Vec<&str> = l.split_whitespace().collect();
                if let [dev, op, val] = f[..] {
                    out.push(entry(dev, &op.to_lowercase(), val));
                }
            }
        } else if let Some(t) = self.v2_file("io.stat") {
            for l in t.lines() {
                let mut f = l.split_whitespace();
                let dev = f.next().unwrap_or("0:0");
                for kv in f {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, "0"));
                    let op = match k {
                        "rbytes" => "read",
                        "wbytes" => "write",
                        _ => continue,
                    };
                    out.push(entry(dev, op, v));
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

/// `/proc/<pid>/cgroup` lines → (controllers, path); v2 has no controllers.
pub fn parse_proc_cgroup(text: &str) -> Vec<(String, String)> {
    rrun_shim::proc_cgroup_lines(text)
        .map(|(c, p)| (c.to_string(), p.to_string()))
        .collect()
}

/// `key value` lines (memory.stat, cpu.stat) → a map.
pub fn parse_kv(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// `/proc/<pid>/net/dev` → Docker's per-interface counters (not `lo`).
pub fn parse_net_dev(text: &str) -> BTreeMap<String, NetworkStats> {
    let mut out = BTreeMap::new();
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let n: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        if n.len() < 16 {
            continue;
        }
        out.insert(
            name.to_string(),
            NetworkStats {
                rx_bytes: n[0],
                rx_packets: n[1],
                rx_errors: n[2],
                rx_dropped: n[3],
                tx_bytes: n[8],
                tx_packets: n[9],
                tx_errors: n[10],
                tx_dropped: n[11],
            },
        );
    }
    out
}

/// The host's total CPU time (`/proc/stat`'s first line) in nanoseconds,
/// as Docker's `system_cpu_usage`.
fn system_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let jiffies: u64 = text
        .lines()
        .next()
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(7)
                .filter_map(|x| x.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    jiffies * (1_000_000_000 / clock_ticks().max(1))
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cgroup directory `name` under `root` holding `files`.
    fn fixture(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let d = root.join(name);
        std::fs::create_dir(&d).unwrap();
        for (f, text) in files {
            std::fs::write(d.join(f), text).unwrap();
        }
        d
    }

    #[test]
    fn net_dev_parses() {
        let t = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  eth0:    1234      10    0    1    0     0          0         0      567       5    0    0    0     0       0          0\n";
        let n = parse_net_dev(t);
        assert_eq!(n.len(), 1);
        assert_eq!(n["eth0"].rx_bytes, 1234);
        assert_eq!(n["eth0"].rx_dropped, 1);
        assert_eq!(n["eth0"].tx_bytes, 567);
    }

    /// The cgroup files of a v2 container (fixtures in a temporary
    /// directory) read into dockerd's stats fields.
    #[test]
    fn cgroup_v2_files_read_into_dockers_stats() {
        let dir = tempfile::tempdir().unwrap();
        let v2 = fixture(
            dir.path(),
            "v2",
            &[
                ("io.stat", "254:0 rbytes=4096 wbytes=512 rios=1 wios=1\n"),
                ("cpu.stat", "usage_usec 100\nuser_usec 60\nsystem_usec 40\n"),
                ("memory.current", "2048\n"),
                ("memory.max", "max\n"),
                ("memory.stat", "anon 1024\ninactive_file 10\n"),
                ("pids.current", "3\n"),
                ("pids.max", "max\n"),
            ],
        );
        let cg = Cgroups {
            v2: Some(v2),
            v1: BTreeMap::new(),
        };
        let blkio = cg.blkio().unwrap();
        assert_eq!(blkio.len(), 2);
        assert_eq!(
            (blkio[0].major, blkio[0].op.as_str(), blkio[0].value),
            (254, "read", 4096)
        );
        assert_eq!((blkio[1].op.as_str(), blkio[1].value), ("write", 512));
        let cpu = serde_json::to_value(cg.cpu()).unwrap();
        assert_eq!(
            cpu,
            serde_json::json!({"total_usage": 100_000, "usage_in_kernelmode": 40_000,
                               "usage_in_usermode": 60_000})
        );
        let mem = serde_json::to_value(cg.memory()).unwrap();
        assert_eq!(mem["usage"], 2048);
        assert_eq!(mem["stats"]["inactive_file"], 10);
        assert!(mem.get("max_usage").is_none(), "cgroup v2 has no max_usage");
        assert_eq!(
            serde_json::to_value(cg.pids()).unwrap(),
            serde_json::json!({"current": 3})
        );
    }

    #[test]
    fn cgroup_v1_files_read_into_dockers_stats() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = fixture(
            dir.path(),
            "v1",
            &[
                (
                    "blkio.throttle.io_service_bytes",
                    "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n",
                ),
                ("cpuacct.usage", "500\n"),
                ("cpuacct.usage_percpu", "300 200\n"),
                ("cpuacct.stat", "user 1\nsystem 2\n"),
                ("memory.usage_in_bytes", "4096\n"),
                ("memory.limit_in_bytes", "8192\n"),
                ("memory.stat", "cache 0\n"),
            ],
        );
        let ctl = ["blkio", "cpuacct", "memory", "pids"];
        let cg = Cgroups {
            v2: None,
            v1: ctl.iter().map(|c| (c.to_string(), v1.clone())).collect(),
        };
        let blkio = cg.blkio().unwrap();
        assert_eq!(blkio.len(), 2, "the Total line is not an entry");
        assert_eq!(blkio[0].op, "read");
        let cpu = cg.cpu();
        assert_eq!(cpu.total_usage, 500);
        assert_eq!(cpu.percpu_usage, Some(vec![300, 200]));
        let mem = serde_json::to_value(cg.memory()).unwrap();
        assert_eq!(mem["limit"], 8192);
        assert_eq!(mem["max_usage"], 0);
        // No pids files: counted from cgroup.procs, none here.
        assert_eq!(serde_json::to_value(cg.pids()).unwrap()["current"], 0);

        let none = Cgroups {
            v2: None,
            v1: BTreeMap::new(),
        };
        assert_eq!(none.blkio(), None, "sent as null, as dockerd");
        assert_eq!(
            serde_json::to_value(none.memory()).unwrap(),
            serde_json::json!({})
        );
    }
}
