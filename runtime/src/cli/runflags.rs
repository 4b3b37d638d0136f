//! `rrun run/create` flags for resources, security, devices, `--init`, stop
//! and restart options, parsed as docker/cli does (sizes, rationals, policy
//! formats) so a bad value fails before anything is created (exit 125).

use clap::Args;
use serde_json::{json, Value};

use crate::daemon::runopts::{self, DeviceMapping, RestartPolicy, Ulimit};

#[derive(Debug, Args, Default, Clone)]
pub struct RunOptionArgs {
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short = 'm', long, value_parser = rrun_units::ram_in_bytes)]
    pub memory: Option<i64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap.
    #[arg(long, value_parser = runopts::parse_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Memory soft limit.
    #[arg(long, value_parser = rrun_units::ram_in_bytes)]
    pub memory_reservation: Option<i64>,
    /// Number of CPUs.
    #[arg(long, value_parser = runopts::parse_cpus, allow_hyphen_values = true)]
    pub cpus: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long, allow_hyphen_values = true)]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_period: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Add Linux capabilities.
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only.
    #[arg(long)]
    pub read_only: bool,
    /// Add a host device to the container.
    #[arg(long, value_parser = runopts::parse_device)]
    pub device: Vec<DeviceMapping>,
    /// Ulimit options (name=soft[:hard]).
    #[arg(long, value_parser = runopts::parse_ulimit)]
    pub ulimit: Vec<Ulimit>,
    /// Sysctl options (namespaced kernel parameters).
    #[arg(long, value_parser = runopts::parse_sysctl)]
    pub sysctl: Vec<(String, String)>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// Signal to stop the container.
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long, allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Tune host's OOM preferences (-1000 to 1000).
    #[arg(long, allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Add additional groups to join.
    #[arg(long)]
    pub group_add: Vec<String>,
    /// Restart policy to apply when a container exits.
    #[arg(long, value_parser = runopts::parse_restart)]
    pub restart: Option<RestartPolicy>,
    /// Security options (no-new-privileges, seccomp=unconfined|<profile.json>).
    #[arg(long, value_parser = security_opt)]
    pub security_opt: Vec<String>,
    /// Size of /dev/shm.
    #[arg(long, value_parser = rrun_units::ram_in_bytes)]
    pub shm_size: Option<i64>,
}

/// docker/cli reads a seccomp profile file and sends its content.
fn security_opt(s: &str) -> Result<String, String> {
    let Some(path) = s
        .strip_prefix("seccomp=")
        .or_else(|| s.strip_prefix("seccomp:"))
    else {
        return Ok(s.to_string());
    };
    if matches!(path, "unconfined" | "builtin") {
        return Ok(s.to_string());
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("opening seccomp profile ({path}) failed: {e}"))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| format!("parsing seccomp profile ({path}) failed: {e}"))?;
    Ok(format!("seccomp={v}"))
}

impl RunOptionArgs {
    /// Adds these options to a create body (`Config` and `HostConfig`).
    pub fn apply(&self, body: &mut Value) {
        let h = &mut body["HostConfig"];
        let mut set = |k: &str, v: Value| h[k] = v;
        if let Some(v) = self.memory {
            set("Memory", json!(v));
        }
        if let Some(v) = self.memory_swap {
            set("MemorySwap", json!(v));
        }
        if let Some(v) = self.memory_reservation {
            set("MemoryReservation", json!(v));
        }
        if let Some(v) = self.cpus {
            set("NanoCpus", json!(v));
        }
        if let Some(v) = self.cpu_shares {
            set("CpuShares", json!(v));
        }
        if let Some(v) = self.cpu_quota {
            set("CpuQuota", json!(v));
        }
        if let Some(v) = self.cpu_period {
            set("CpuPeriod", json!(v));
        }
        if let Some(v) = &self.cpuset_cpus {
            set("CpusetCpus", json!(v));
        }
        if let Some(v) = &self.cpuset_mems {
            set("CpusetMems", json!(v));
        }
        if let Some(v) = self.pids_limit {
            set("PidsLimit", json!(v));
        }
        set("CapAdd", json!(self.cap_add));
        set("CapDrop", json!(self.cap_drop));
        set("Privileged", json!(self.privileged));
        set("ReadonlyRootfs", json!(self.read_only));
        set("Devices", json!(self.device));
        set("Ulimits", json!(self.ulimit));
        let sysctls: serde_json::Map<String, Value> = self
            .sysctl
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        set("Sysctls", Value::Object(sysctls));
        if self.init {
            set("Init", json!(true));
        }
        if let Some(v) = self.oom_score_adj {
            set("OomScoreAdj", json!(v));
        }
        set("GroupAdd", json!(self.group_add));
        let restart = self.restart.clone().unwrap_or(RestartPolicy {
            name: "no".into(),
            maximum_retry_count: 0,
        });
        set("RestartPolicy", json!(restart));
        set("SecurityOpt", json!(self.security_opt));
        if let Some(v) = self.shm_size {
            set("ShmSize", json!(v));
        }
        if let Some(s) = &self.stop_signal {
            body["StopSignal"] = json!(s);
        }
        if let Some(t) = self.stop_timeout {
            body["StopTimeout"] = json!(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        o: RunOptionArgs,
    }

    fn parse(args: &[&str]) -> Result<RunOptionArgs, clap::Error> {
        let mut v = vec!["t"];
        v.extend_from_slice(args);
        T::try_parse_from(v).map(|t| t.o)
    }

    #[test]
    fn flags_become_host_config() {
        let o = parse(&[
            "-m",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "-1",
            "--cap-add",
            "NET_ADMIN",
            "--restart",
            "on-failure:2",
            "--ulimit",
            "nofile=100:200",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--init",
            "--stop-signal",
            "SIGQUIT",
            "--security-opt",
            "no-new-privileges",
        ])
        .unwrap();
        let mut b = json!({"HostConfig": {}});
        o.apply(&mut b);
        let h = &b["HostConfig"];
        assert_eq!(h["Memory"], 64 << 20);
        assert_eq!(h["NanoCpus"], 500_000_000);
        assert_eq!(h["PidsLimit"], -1);
        assert_eq!(h["CapAdd"], json!(["NET_ADMIN"]));
        assert_eq!(
            h["RestartPolicy"],
            json!({"Name": "on-failure", "MaximumRetryCount": 2})
        );
        assert_eq!(h["Ulimits"][0]["Soft"], 100);
        assert_eq!(h["Sysctls"]["net.ipv4.ip_forward"], "1");
        assert_eq!(h["Init"], true);
        assert_eq!(b["StopSignal"], "SIGQUIT");
        // The daemon reads it back.
        let hc: crate::daemon::models::HostConfig = serde_json::from_value(h.clone()).unwrap();
        assert_eq!(hc.run.memory, 64 << 20);
    }

    #[test]
    fn bad_values_fail_at_parse_time() {
        let e = parse(&["--memory", "1x"]).unwrap_err().to_string();
        assert!(e.contains("invalid size: '1x'"), "{e}");
        assert!(parse(&["--cpus", "abc"]).is_err());
        assert!(parse(&["--restart", "on-failure:x"]).is_err());
        assert!(parse(&["--sysctl", "kernel.hostname=x"]).is_err());
        assert!(parse(&["--security-opt", "seccomp=/nonexistent.json"]).is_err());
        // --cpus -1 parses; the daemon refuses it with Docker's message.
        assert_eq!(parse(&["--cpus", "-1"]).unwrap().cpus, Some(-1_000_000_000));
    }
}
