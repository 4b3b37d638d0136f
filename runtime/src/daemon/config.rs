//! rrund's options: command line over `/etc/rrun/daemon.json` (Docker's key
//! names) over defaults.

use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_HOST: &str = "unix:///run/rrun/rrun.sock";
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/rrun";
pub const DEFAULT_EXEC_ROOT: &str = "/run/rrun";
pub const DEFAULT_CONFIG: &str = "/etc/rrun/daemon.json";

/// The keys of daemon.json rrund reads (Docker's names). Others are
/// accepted and ignored, so a Docker daemon.json loads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FileConfig {
    pub data_root: Option<PathBuf>,
    pub exec_root: Option<PathBuf>,
    #[serde(default)]
    pub hosts: Vec<String>,
    pub log_level: Option<String>,
    /// Upstream DNS servers for every container (`ip`, or `ip:port`, which
    /// Docker does not accept but tests and local stubs need).
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub default_address_pools: Vec<netd::ipam::AddressPool>,
    /// IPv6 on the default `bridge` network.
    #[serde(default)]
    pub ipv6: bool,
    /// The default `bridge` network's IPv6 subnet (with `ipv6`).
    pub fixed_cidr_v6: Option<ipnet::Ipv6Net>,
    /// Default `--log-opt`s (json-file's `max-size`, `max-file`).
    #[serde(default)]
    pub log_opts: std::collections::BTreeMap<String, String>,
    /// `native.cgroupdriver=systemd|cgroupfs` (the only option read).
    #[serde(default)]
    pub exec_opts: Vec<String>,
}

impl FileConfig {
    /// Reads the file; a missing file is an empty config.
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        use anyhow::Context;
        match std::fs::read(path) {
            Ok(b) => {
                serde_json::from_slice(&b).with_context(|| format!("parse {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
            Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Path of the unix socket.
    pub socket: PathBuf,
    pub data_root: PathBuf,
    /// State of the executor (`rrun-oci --root`).
    pub exec_root: PathBuf,
    /// The `rrun-oci` binary.
    pub oci_bin: PathBuf,
    pub log_level: String,
    /// daemon.json, read again for `insecure-registries` and
    /// `registry-mirrors` by the registry client.
    pub config_file: PathBuf,
    /// Upstream DNS servers (daemon.json `dns`, `--dns`); the host's
    /// resolv.conf when empty.
    pub dns: Vec<std::net::SocketAddr>,
    /// `default-address-pools`; Docker's when empty.
    pub address_pools: Vec<netd::ipam::AddressPool>,
    /// daemon.json `ipv6`: IPv6 on the default `bridge` network.
    pub ipv6: bool,
    /// daemon.json `fixed-cidr-v6`: its IPv6 subnet (else a ULA /64).
    pub fixed_cidr_v6: Option<ipnet::Ipv6Net>,
    /// Where bridges, rules and published ports live: the daemon's own
    /// network namespace when None (tests give one of their own).
    pub host_netns: Option<PathBuf>,
    /// Tests only (`rrund --fail-start-at`): make every container start fail
    /// right after this step of its apply (`rootfs`, `volume:N`, `network`,
    /// `files`, `shim`), to prove the undo leaves nothing behind.
    pub fail_start_at: Option<String>,
    /// daemon.json `exec-opts: ["native.cgroupdriver=systemd"]`: containers
    /// as transient systemd scopes (`rrun-oci --systemd-cgroup`) instead of
    /// cgroupfs directories.
    pub systemd_cgroup: bool,
}

/// The cgroup driver of `exec-opts` as Docker reads it: true for systemd,
/// false for cgroupfs (the default).
pub fn systemd_cgroup(exec_opts: &[String]) -> anyhow::Result<bool> {
    let mut systemd = false;
    for o in exec_opts {
        let (k, v) = o.split_once('=').unwrap_or((o, ""));
        match (k.trim(), v.trim()) {
            ("native.cgroupdriver", "systemd") => systemd = true,
            ("native.cgroupdriver", "cgroupfs") => systemd = false,
            ("native.cgroupdriver", v) => anyhow::bail!(
                "daemon.json exec-opts: native cgroup driver option {v:?} is not supported (systemd or cgroupfs)"
            ),
            (k, _) => anyhow::bail!("daemon.json exec-opts: unknown option {k:?}"),
        }
    }
    Ok(systemd)
}

/// `8.8.8.8` or `127.0.0.1:5353` → a socket address (port 53 by default).
pub fn dns_server(s: &str) -> anyhow::Result<std::net::SocketAddr> {
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 53));
    }
    s.parse()
        .map_err(|_| anyhow::anyhow!("{s} is not an ip address"))
}

/// `unix:///path` or a bare path → the socket path.
pub fn socket_path(host: &str) -> anyhow::Result<PathBuf> {
    if let Some(p) = host.strip_prefix("unix://") {
        return Ok(PathBuf::from(p));
    }
    if host.starts_with('/') {
        return Ok(PathBuf::from(host));
    }
    anyhow::bail!("unsupported host {host}: only unix:///path sockets are supported")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse() {
        assert_eq!(
            socket_path("unix:///run/x.sock").unwrap(),
            PathBuf::from("/run/x.sock")
        );
        assert!(socket_path("tcp://1.2.3.4:2375").is_err());
    }

    #[test]
    fn daemon_json_uses_dockers_keys() {
        let c: FileConfig = serde_json::from_str(
            r#"{"data-root":"/d","log-level":"debug","registry-mirrors":[],"hosts":["unix:///s"]}"#,
        )
        .unwrap();
        assert_eq!(c.data_root, Some(PathBuf::from("/d")));
        assert_eq!(c.log_level.as_deref(), Some("debug"));
        assert_eq!(c.hosts, vec!["unix:///s".to_string()]);
        let c: FileConfig = serde_json::from_str(
            r#"{"dns":["127.0.0.77"],"default-address-pools":[{"base":"10.99.0.0/16","size":24}]}"#,
        )
        .unwrap();
        assert_eq!(dns_server(&c.dns[0]).unwrap().port(), 53);
        assert_eq!(dns_server("127.0.0.1:5353").unwrap().port(), 5353);
        assert!(dns_server("nope").is_err());
        assert_eq!(c.default_address_pools[0].size, 24);
        assert!(!c.ipv6);
        let c: FileConfig =
            serde_json::from_str(r#"{"ipv6":true,"fixed-cidr-v6":"fd00:db8:1::/64"}"#).unwrap();
        assert!(c.ipv6);
        assert_eq!(c.fixed_cidr_v6, Some("fd00:db8:1::/64".parse().unwrap()));
    }

    #[test]
    fn exec_opts_pick_the_cgroup_driver() {
        let c: FileConfig =
            serde_json::from_str(r#"{"exec-opts":["native.cgroupdriver=systemd"]}"#).unwrap();
        assert!(systemd_cgroup(&c.exec_opts).unwrap());
        assert!(!systemd_cgroup(&[]).unwrap());
        assert!(!systemd_cgroup(&["native.cgroupdriver=cgroupfs".into()]).unwrap());
        assert!(systemd_cgroup(&["native.cgroupdriver=foo".into()])
            .unwrap_err()
            .to_string()
            .contains("\"foo\" is not supported"));
        assert!(systemd_cgroup(&["isolation=hyperv".into()]).is_err());
    }
}
