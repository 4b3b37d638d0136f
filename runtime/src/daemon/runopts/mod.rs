//! Pure: Docker's container run options (resources, capabilities,
//! security options, devices, ulimits, sysctls, `--init`, restart policy):
//! their HostConfig fields, the parsing of their command-line values, their
//! validation with Docker's messages, and what they change in the OCI spec.

use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

mod apply;
mod blkio;
mod namespaces;
mod validate;

pub use apply::*;
pub use blkio::*;
pub use namespaces::*;
pub use validate::*;

/// Where the reaper run with `--init` appears in the container (Docker's path).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// Docker's default `/dev/shm` size (64 MiB).
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// Docker's minimum memory limit and reservation (6 MiB).
pub(crate) const MIN_MEMORY: i64 = 6 * 1024 * 1024;

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
    /// `--pid`: `host` shares the host's process namespace.
    #[serde(default)]
    pub pid_mode: String,
    /// `--ipc`: `private` (the default), `shareable`, `none` or `host`.
    #[serde(default)]
    pub ipc_mode: String,
    /// `--uts`: `host` shares the host's hostname.
    #[serde(default, rename = "UTSMode")]
    pub uts_mode: String,
    /// `--cgroupns`: `private` (a cgroup namespace of its own) or `host`;
    /// filled at create with the daemon's default (`""` in containers made
    /// before the option existed: the host's, which they had).
    #[serde(default)]
    pub cgroupns_mode: String,
    /// `--blkio-weight` (10 to 1000; 0: none).
    #[serde(default)]
    pub blkio_weight: u16,
    #[serde(default, deserialize_with = "null_default")]
    pub blkio_weight_device: Vec<WeightDevice>,
    #[serde(default, deserialize_with = "null_default")]
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    #[serde(default, deserialize_with = "null_default")]
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    #[serde(
        default,
        rename = "BlkioDeviceReadIOps",
        deserialize_with = "null_default"
    )]
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    #[serde(
        default,
        rename = "BlkioDeviceWriteIOps",
        deserialize_with = "null_default"
    )]
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
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

/// `--ulimit name=soft[:hard]`.
pub fn parse_ulimit(s: &str) -> Result<Ulimit, String> {
    let (name, vals) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {s}"))?;
    rlimit_type(name)?;
    let num = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| format!("invalid ulimit argument: {s}"))
    };
    let (soft, hard) = match vals.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(vals)?, num(vals)?),
    };
    Rlimit::new(name, soft, hard)?;
    Ok(Ulimit {
        name: name.into(),
        soft,
        hard,
    })
}

/// `nofile` → `RLIMIT_NOFILE`, a resource the OCI spec names.
fn rlimit_type(name: &str) -> Result<oci_spec::runtime::PosixRlimitType, String> {
    let typ = json!(format!("RLIMIT_{}", name.to_uppercase()));
    serde_json::from_value(typ).map_err(|_| format!("invalid ulimit type: {name}"))
}

/// A `--ulimit`, checked: a resource the kernel knows, and a soft limit
/// not above the hard one (-1 is unlimited). Made only by [`Rlimit::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    typ: oci_spec::runtime::PosixRlimitType,
    soft: i64,
    hard: i64,
}

impl Rlimit {
    pub fn new(name: &str, soft: i64, hard: i64) -> Result<Rlimit, String> {
        let typ = rlimit_type(name)?;
        if soft > hard && hard != -1 {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            ));
        }
        Ok(Rlimit { typ, soft, hard })
    }

    /// A HostConfig `Ulimits` entry, checked.
    pub fn of(u: &Ulimit) -> Result<Rlimit, String> {
        Rlimit::new(&u.name, u.soft, u.hard)
    }

    pub fn typ(&self) -> oci_spec::runtime::PosixRlimitType {
        self.typ
    }
    pub fn soft(&self) -> i64 {
        self.soft
    }
    pub fn hard(&self) -> i64 {
        self.hard
    }

    /// The OCI rlimit; -1 (unlimited) becomes RLIM_INFINITY.
    pub fn to_oci(self) -> oci_spec::runtime::PosixRlimit {
        oci_spec::runtime::PosixRlimitBuilder::default()
            .typ(self.typ)
            .soft(self.soft as u64)
            .hard(self.hard as u64)
            .build()
            .expect("every field set")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::validate::docker_sysctl;

    fn host() -> Host {
        Host {
            ncpu: 2,
            caps: ALL_CAPS.iter().map(|c| c.to_string()).collect(),
            arch: "amd64".into(),
            kernel: (6, 1),
            swap_limit: true,
            io: Default::default(),
        }
    }

    #[test]
    fn restart_policies_are_checked() {
        let p = |name: &str, n: i64| RestartPolicy {
            name: name.into(),
            maximum_retry_count: n,
        };
        assert!(validate_restart(&p("bogus", 0))
            .unwrap_err()
            .contains("unknown policy 'bogus'"));
        assert!(validate_restart(&p("always", 3)).is_err());
        assert!(validate_restart(&p("unless-stopped", 0)).is_ok());
        assert!(validate_restart(&p("on-failure", 2)).is_ok());
    }

    #[test]
    fn ulimits_parse() {
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
        assert!(docker_sysctl("net.ipv4.ip_forward"));
        assert!(docker_sysctl("fs.mqueue.msg_max"));
        assert!(!docker_sysctl("kernel.hostname"));
        assert!(!docker_sysctl("vm.swappiness"));
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

    #[test]
    fn grantable_caps_follow_kernel_and_bounding_set() {
        assert_eq!(grantable_caps(40, u64::MAX).len(), 41);
        assert_eq!(grantable_caps(37, u64::MAX).len(), 38);
        let without_sys_resource = grantable_caps(40, 0x1fffeffffff);
        assert_eq!(without_sys_resource.len(), 40);
        assert!(!without_sys_resource.contains(&"CAP_SYS_RESOURCE".to_string()));
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
