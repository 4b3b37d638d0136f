//! `rrun run/create` flags for resources, security, devices, `--init`, stop
//! and restart options, parsed as docker/cli does (sizes, rationals, policy
//! formats) so a bad value fails before anything is created (exit 125).

use anyhow::Context;
use clap::Args;

use crate::spec::validate::{device_mode, docker_sysctl};
use serde_json::Value;

use super::blkioflags::{parse_bps_device, parse_cgroupns, parse_iops_device, parse_weight_device};
use crate::apimodel::models::{
    DeviceMapping, HealthConfig, HostConfig, HostConfigCgroupnsModeEnum, HostConfigLogConfig,
    ResourcesBlkioWeightDevice, ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
    ThrottleDevice,
};

#[derive(Debug, Args, Default, Clone)]
pub struct RunOptionArgs {
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short = 'm', long, value_parser = rrun_units::ram_in_bytes)]
    pub memory: Option<i64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap.
    #[arg(long, value_parser = parse_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Memory soft limit.
    #[arg(long, value_parser = rrun_units::ram_in_bytes)]
    pub memory_reservation: Option<i64>,
    /// Number of CPUs.
    #[arg(long, value_parser = parse_cpus, allow_hyphen_values = true)]
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
    #[arg(long, value_parser = parse_device)]
    pub device: Vec<DeviceMapping>,
    /// Ulimit options (name=soft[:hard]).
    #[arg(long, value_parser = parse_ulimit)]
    pub ulimit: Vec<ResourcesUlimits>,
    /// Sysctl options (namespaced kernel parameters).
    #[arg(long, value_parser = parse_sysctl)]
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
    #[arg(long, value_parser = parse_restart)]
    pub restart: Option<RestartPolicy>,
    /// Security options (no-new-privileges, seccomp=unconfined|<profile.json>).
    #[arg(long, value_parser = security_opt)]
    pub security_opt: Vec<String>,
    /// Size of /dev/shm.
    #[arg(long, value_parser = rrun_units::ram_in_bytes)]
    pub shm_size: Option<i64>,
    /// PID namespace to use (`host`).
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC mode to use (`private`, `shareable`, `none`, `host`).
    #[arg(long)]
    pub ipc: Option<String>,
    /// UTS namespace to use (`host`).
    #[arg(long)]
    pub uts: Option<String>,
    /// Cgroup namespace to use (`host` or `private`; the daemon's default,
    /// `private` on cgroup v2 and `host` on v1, when not given).
    #[arg(long, value_parser = parse_cgroupns)]
    pub cgroupns: Option<HostConfigCgroupnsModeEnum>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
    #[arg(long, value_parser = clap::value_parser!(u16).range(0..=1000))]
    pub blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight), DEVICE_PATH:WEIGHT.
    #[arg(long, value_parser = parse_weight_device)]
    pub blkio_weight_device: Vec<ResourcesBlkioWeightDevice>,
    /// Limit read rate (bytes per second) from a device, DEVICE_PATH:RATE[kb|mb|gb].
    #[arg(long, value_parser = parse_bps_device)]
    pub device_read_bps: Vec<ThrottleDevice>,
    /// Limit write rate (bytes per second) to a device, DEVICE_PATH:RATE[kb|mb|gb].
    #[arg(long, value_parser = parse_bps_device)]
    pub device_write_bps: Vec<ThrottleDevice>,
    /// Limit read rate (IO per second) from a device, DEVICE_PATH:RATE.
    #[arg(long, value_parser = parse_iops_device)]
    pub device_read_iops: Vec<ThrottleDevice>,
    /// Limit write rate (IO per second) to a device, DEVICE_PATH:RATE.
    #[arg(long, value_parser = parse_iops_device)]
    pub device_write_iops: Vec<ThrottleDevice>,
    /// Command to run to check health.
    #[arg(long)]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s).
    #[arg(long, value_parser = go_duration, allow_hyphen_values = true)]
    pub health_interval: Option<i64>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s).
    #[arg(long, value_parser = go_duration, allow_hyphen_values = true)]
    pub health_timeout: Option<i64>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long, allow_hyphen_values = true)]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before starting
    /// health-retries countdown (ms|s|m|h) (default 0s).
    #[arg(long, value_parser = go_duration, allow_hyphen_values = true)]
    pub health_start_period: Option<i64>,
    /// Time between running the check during the start period (ms|s|m|h)
    /// (default 0s).
    #[arg(long, value_parser = go_duration, allow_hyphen_values = true)]
    pub health_start_interval: Option<i64>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long)]
    pub no_healthcheck: bool,
}

/// A `--health-*` duration, as Go's `time.ParseDuration` reads it.
fn go_duration(s: &str) -> Result<i64, String> {
    rrun_units::parse_go_duration(s).map_err(|e| e.to_string())
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
    /// Puts these options into a create body's `HostConfig` (the stop
    /// signal and timeout go into the body itself).
    pub fn apply(&self, h: &mut HostConfig) {
        h.memory = self.memory;
        h.memory_swap = self.memory_swap;
        h.memory_reservation = self.memory_reservation;
        h.nano_cpus = self.cpus;
        h.cpu_shares = self.cpu_shares;
        h.cpu_quota = self.cpu_quota;
        h.cpu_period = self.cpu_period;
        h.cpuset_cpus = self.cpuset_cpus.clone();
        h.cpuset_mems = self.cpuset_mems.clone();
        h.pids_limit = self.pids_limit;
        h.cap_add = Some(self.cap_add.clone());
        h.cap_drop = Some(self.cap_drop.clone());
        h.privileged = Some(self.privileged);
        h.readonly_rootfs = Some(self.read_only);
        h.devices = Some(self.device.clone());
        h.ulimits = Some(self.ulimit.clone());
        h.sysctls = Some(self.sysctl.iter().cloned().collect());
        h.init = self.init.then_some(true);
        h.oom_score_adj = self.oom_score_adj.map(i64::from);
        h.group_add = Some(self.group_add.clone());
        h.restart_policy = Some(self.restart.clone().unwrap_or(RestartPolicy {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: Some(0),
        }));
        h.security_opt = Some(self.security_opt.clone());
        h.shm_size = self.shm_size;
        h.pid_mode = self.pid.clone();
        h.ipc_mode = self.ipc.clone();
        h.uts_mode = self.uts.clone();
        h.cgroupns_mode = self.cgroupns;
        h.blkio_weight = self.blkio_weight;
        h.blkio_weight_device = Some(self.blkio_weight_device.clone());
        h.blkio_device_read_bps = Some(self.device_read_bps.clone());
        h.blkio_device_write_bps = Some(self.device_write_bps.clone());
        h.blkio_device_read_iops = Some(self.device_read_iops.clone());
        h.blkio_device_write_iops = Some(self.device_write_iops.clone());
    }
}

impl RunOptionArgs {
    /// The create body's `Healthcheck`, as docker/cli makes it from
    /// `--health-*` and `--no-healthcheck` (None: the image's applies).
    pub fn healthcheck(&self) -> anyhow::Result<Option<HealthConfig>> {
        let durations = [
            ("--health-interval", self.health_interval),
            ("--health-timeout", self.health_timeout),
            ("--health-start-period", self.health_start_period),
            ("--health-start-interval", self.health_start_interval),
            ("--health-retries", self.health_retries),
        ];
        let any = self.health_cmd.as_deref().is_some_and(|c| !c.is_empty())
            || durations.iter().any(|(_, v)| v.unwrap_or(0) != 0);
        if self.no_healthcheck {
            if any {
                anyhow::bail!("--no-healthcheck conflicts with --health-* options");
            }
            return Ok(Some(HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            }));
        }
        if !any {
            return Ok(None);
        }
        for (flag, v) in durations {
            if v.unwrap_or(0) < 0 {
                anyhow::bail!("{flag} cannot be negative");
            }
        }
        let set = |v: Option<i64>| v.filter(|v| *v != 0);
        Ok(Some(HealthConfig {
            test: self
                .health_cmd
                .as_ref()
                .filter(|c| !c.is_empty())
                .map(|c| vec!["CMD-SHELL".into(), c.clone()]),
            interval: set(self.health_interval),
            timeout: set(self.health_timeout),
            retries: set(self.health_retries),
            start_period: set(self.health_start_period),
            start_interval: set(self.health_start_interval),
        }))
    }
}

// docker/cli's parsing of the values (opts and go-units).

/// `--memory-swap`: `-1` (unlimited) or a size.
pub fn parse_swap(s: &str) -> Result<i64, String> {
    if s == "-1" {
        Ok(-1)
    } else {
        rrun_units::ram_in_bytes(s).map_err(|e| e.to_string())
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
    // The daemon's message for a name it does not know.
    let name: RestartPolicyNameEnum = name
        .parse()
        .map_err(|_| format!("invalid restart policy: unknown policy '{name}'"))?;
    Ok(RestartPolicy {
        name: Some(name),
        maximum_retry_count: Some(count),
    })
}

/// `--ulimit name=soft[:hard]`.
pub fn parse_ulimit(s: &str) -> Result<ResourcesUlimits, String> {
    let (name, vals) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {s}"))?;
    let typ = Value::String(format!("RLIMIT_{}", name.to_uppercase()));
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
    Ok(ResourcesUlimits {
        name: Some(name.into()),
        soft: Some(soft),
        hard: Some(hard),
    })
}

/// `--device host[:container][:perms]`.
pub fn parse_device(s: &str) -> Result<DeviceMapping, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, perms) = match parts.as_slice() {
        [a] => (*a, *a, "rwm"),
        [a, b] if device_mode(b) => (*a, *a, *b),
        [a, b] => (*a, *b, "rwm"),
        [a, b, c] => {
            if !device_mode(c) {
                return Err(format!("invalid device mode: {c}"));
            }
            (*a, *b, *c)
        }
        _ => return Err(format!("invalid device specification: {s}")),
    };
    for p in [src, dst] {
        if !p.starts_with('/') {
            return Err(format!("bad format for path: {p}"));
        }
    }
    Ok(DeviceMapping {
        path_on_host: Some(src.into()),
        path_in_container: Some(dst.into()),
        cgroup_permissions: Some(perms.into()),
    })
}

/// `--sysctl key=value`.
pub fn parse_sysctl(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if docker_sysctl(k) => Ok((k.into(), v.into())),
        _ => Err(format!("sysctl '{s}' is not allowed")),
    }
}

// `run`/`create`'s logging flags.
#[derive(Debug, Args)]
pub struct LogFlags {
    /// Logging driver for the container (json-file).
    #[arg(long)]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=10m, max-file=3).
    #[arg(long)]
    pub log_opt: Vec<String>,
}

impl LogFlags {
    /// Puts `--log-driver`/`--log-opt` into `HostConfig.LogConfig`.
    pub fn apply(&self, h: &mut HostConfig) -> anyhow::Result<()> {
        if self.log_driver.is_none() && self.log_opt.is_empty() {
            return Ok(());
        }
        let mut cfg = std::collections::HashMap::new();
        for o in &self.log_opt {
            let (k, v) = o
                .split_once('=')
                .with_context(|| format!("invalid log opt {o:?}: expected key=value"))?;
            cfg.insert(k.to_string(), v.to_string());
        }
        h.log_config = Some(HostConfigLogConfig {
            typ: Some(
                self.log_driver
                    .clone()
                    .unwrap_or_else(|| "json-file".into()),
            ),
            config: Some(cfg),
        });
        Ok(())
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
    fn values_parse_as_docker_cli() {
        assert_eq!(parse_swap("-1"), Ok(-1));
        assert_eq!(parse_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_cpus("0.01"), Ok(10_000_000));
        assert_eq!(parse_cpus("-1"), Ok(-1_000_000_000));
        assert!(parse_cpus("abc").is_err());
        let r = parse_restart("on-failure:2").unwrap();
        assert_eq!(r.name, Some(RestartPolicyNameEnum::ON_FAILURE));
        assert_eq!(r.maximum_retry_count, Some(2));
        assert!(parse_restart(":2").is_err());
        assert!(parse_restart("on-failure:x").is_err());
        assert!(parse_restart("bogus")
            .unwrap_err()
            .contains("unknown policy 'bogus'"));
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.soft, u.hard), (Some(1024), Some(2048)));
        assert!(parse_ulimit("nofile=3:2").is_err());
        assert!(parse_ulimit("bogus=1").is_err());
        assert!(parse_ulimit("nofile").is_err());
        let d = parse_device("/dev/null:/dev/mynull:r").unwrap();
        assert_eq!(d.path_in_container.as_deref(), Some("/dev/mynull"));
        assert_eq!(d.cgroup_permissions.as_deref(), Some("r"));
        let fuse = parse_device("/dev/fuse:rw").unwrap();
        assert_eq!(fuse.path_in_container.as_deref(), Some("/dev/fuse"));
        assert!(parse_device("/dev/x:/dev/y:z").is_err());
        assert!(parse_device("dev:/x").is_err());
        assert!(parse_sysctl("net.ipv4.ip_forward=1").is_ok());
        assert!(parse_sysctl("kernel.shmmax=1").is_ok());
        assert!(parse_sysctl("kernel.hostname=x").is_err());
        assert!(parse_sysctl("vm.swappiness=1").is_err());
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
        let mut hc = HostConfig::default();
        o.apply(&mut hc);
        let b = serde_json::json!({
            "HostConfig": hc,
            "StopSignal": o.stop_signal,
        });
        let h = &b["HostConfig"];
        assert_eq!(h["Memory"], 64 << 20);
        assert_eq!(h["NanoCpus"], 500_000_000);
        assert_eq!(h["PidsLimit"], -1);
        assert_eq!(h["CapAdd"], serde_json::json!(["NET_ADMIN"]));
        assert_eq!(
            h["RestartPolicy"],
            serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 2})
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

    #[test]
    fn health_flags_make_dockers_healthcheck() {
        let o = parse(&[
            "--health-cmd",
            "curl -f localhost",
            "--health-interval",
            "1s",
            "--health-timeout",
            "500ms",
            "--health-retries",
            "2",
            "--health-start-period",
            "1m",
            "--health-start-interval",
            "2s",
        ])
        .unwrap();
        assert_eq!(
            serde_json::to_value(o.healthcheck().unwrap()).unwrap(),
            serde_json::json!({"Test": ["CMD-SHELL", "curl -f localhost"],
                "Interval": 1_000_000_000, "Timeout": 500_000_000, "Retries": 2,
                "StartPeriod": 60_000_000_000i64, "StartInterval": 2_000_000_000})
        );
        // Only an interval: the image's test is kept (no Test sent).
        let o = parse(&["--health-interval", "2s"]).unwrap();
        let v = serde_json::to_value(o.healthcheck().unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"Interval": 2_000_000_000}));
        assert_eq!(parse(&[]).unwrap().healthcheck().unwrap(), None);
        let o = parse(&["--no-healthcheck"]).unwrap();
        assert_eq!(
            o.healthcheck().unwrap().unwrap().test,
            Some(vec!["NONE".to_string()])
        );
        let e = parse(&["--no-healthcheck", "--health-cmd", "true"])
            .unwrap()
            .healthcheck()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--no-healthcheck conflicts with --health-* options"
        );
        let e = parse(&["--health-timeout", "-1s"])
            .unwrap()
            .healthcheck()
            .unwrap_err();
        assert_eq!(e.to_string(), "--health-timeout cannot be negative");
        assert!(parse(&["--health-interval", "5"]).is_err());
    }
}
