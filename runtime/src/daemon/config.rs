//! rrund's options: command line over `/etc/rrun/daemon.json` (Docker's key
//! names) over defaults.

use serde::Deserialize;
use std::path::{Path, PathBuf};

pub use crate::apimodel::{socket_path, DEFAULT_HOST};
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
    /// The default `bridge` network's bridge (else `rrun0` on the default
    /// data root, `rrun-<hash of the data root>` on any other).
    pub bridge: Option<String>,
    /// The default bridge's address and prefix, e.g. `10.9.0.1/24`.
    pub bip: Option<ipnet::Ipv4Net>,
    /// The range of the default network's container addresses.
    pub fixed_cidr: Option<ipnet::Ipv4Net>,
    /// Default `--log-opt`s (json-file's `max-size`, `max-file`).
    #[serde(default)]
    pub log_opts: std::collections::BTreeMap<String, String>,
    /// `native.cgroupdriver=systemd|cgroupfs` (the only option read).
    #[serde(default)]
    pub exec_opts: Vec<String>,
    /// `host` or `private`: the cgroup namespace of a container created
    /// without `--cgroupns`.
    pub default_cgroupns_mode: Option<String>,
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
    /// daemon.json `bridge`: the default network's bridge.
    pub bridge: Option<String>,
    /// daemon.json `bip`: the default bridge's address and prefix.
    pub bip: Option<ipnet::Ipv4Net>,
    /// daemon.json `fixed-cidr`: the default network's address range.
    pub fixed_cidr: Option<ipnet::Ipv4Net>,
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
    /// daemon.json `default-cgroupns-mode`, else Docker's default: `private`
    /// on cgroup v2, `host` on v1.
    pub default_cgroupns_mode: String,
}

/// netd's configuration for these options. The daemon's names on the host
/// (its nftables table, its default bridge) are its own, so several rrund
/// run side by side: the historic `inet rrun` / `rrun0` on the default data
/// root, names derived from the data root elsewhere (see
/// [`netd::instance`]), the bridge as daemon.json's `bridge` says.
pub fn netd_config(opts: &Options) -> anyhow::Result<netd::NetdConfig> {
    let mut ncfg = netd::NetdConfig::new(opts.data_root.join("networks"));
    if !opts.address_pools.is_empty() {
        ncfg.pools = opts.address_pools.clone();
    }
    if !opts.dns.is_empty() {
        ncfg.upstreams = Some(opts.dns.clone());
    }
    ncfg.host_netns = opts.host_netns.clone();
    // As Docker's, `fixed-cidr-v6` counts only with `ipv6` on.
    ncfg.default_ipv6 = opts.ipv6;
    match (opts.ipv6, opts.fixed_cidr_v6) {
        (true, subnet6) => ncfg.default_subnet6 = subnet6,
        (false, Some(subnet6)) => {
            tracing::warn!(%subnet6, "daemon.json fixed-cidr-v6 is ignored without \"ipv6\": true")
        }
        (false, None) => {}
    }
    let (root, is_default) = canonical_data_root(&opts.data_root);
    ncfg.instance = netd::Instance::for_data_root(&root, is_default);
    if let Some(b) = &opts.bridge {
        ncfg.instance.default_bridge = check_bridge_name(b)?;
    }
    ncfg.default_bip = opts.bip;
    ncfg.default_ip_range = opts.fixed_cidr;
    tracing::info!(
        table = %ncfg.instance.table, bridge = %ncfg.instance.default_bridge,
        "this daemon's nftables table (inet) and default bridge"
    );
    Ok(ncfg)
}

/// The data root as one path whatever way it was named (relative, through
/// a symlink), and whether it is the default one.
fn canonical_data_root(root: &Path) -> (PathBuf, bool) {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let root = canonical(root);
    let is_default = root == canonical(Path::new(DEFAULT_DATA_ROOT));
    (root, is_default)
}

/// daemon.json `bridge`: an interface name rrund may create.
fn check_bridge_name(name: &str) -> anyhow::Result<String> {
    if name == "none" {
        anyhow::bail!(
            "daemon.json bridge \"none\" (no default network) is not supported; remove the key or name a bridge"
        );
    }
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok {
        anyhow::bail!(
            "daemon.json bridge {name:?} is not a valid interface name (1 to 15 letters, digits, '-', '_' or '.')"
        );
    }
    Ok(name.to_string())
}

/// daemon.json `default-cgroupns-mode` checked, or Docker's default for
/// the host (`private` on the unified cgroup v2 hierarchy, else `host`).
pub fn default_cgroupns_mode(given: Option<&str>, v2: bool) -> anyhow::Result<String> {
    match given {
        Some(m @ ("host" | "private")) => Ok(m.to_string()),
        Some(m) => anyhow::bail!(
            "daemon.json default-cgroupns-mode {m:?} is invalid; can only be \"host\" or \"private\""
        ),
        None if v2 => Ok("private".into()),
        None => Ok("host".into()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bridge_bip_and_fixed_cidr_are_read_and_the_bridge_name_checked() {
        let c: FileConfig = serde_json::from_str(
            r#"{"bridge":"br-test","bip":"10.9.0.5/24","fixed-cidr":"10.9.0.128/25"}"#,
        )
        .unwrap();
        assert_eq!(c.bridge.as_deref(), Some("br-test"));
        let bip = c.bip.unwrap();
        assert_eq!(bip.addr().to_string(), "10.9.0.5", "the host part is kept");
        assert_eq!(bip.prefix_len(), 24);
        assert_eq!(c.fixed_cidr, Some("10.9.0.128/25".parse().unwrap()));
        assert!(serde_json::from_str::<FileConfig>(r#"{"bip":"nope"}"#).is_err());
        assert_eq!(check_bridge_name("br-test").unwrap(), "br-test");
        for bad in ["", "none", "a-name-longer-than-15", "a/b", "a b", ".."] {
            let e = check_bridge_name(bad).unwrap_err().to_string();
            assert!(e.contains("daemon.json bridge"), "{bad}: {e}");
        }
    }

    #[test]
    fn only_the_default_data_root_keeps_the_historic_names() {
        let opts = |root: &Path, bridge: Option<&str>| Options {
            socket: "/tmp/x.sock".into(),
            data_root: root.to_path_buf(),
            exec_root: "/tmp/exec".into(),
            oci_bin: "rrun-oci".into(),
            log_level: "info".into(),
            config_file: "/nonexistent".into(),
            dns: vec![],
            address_pools: vec![],
            ipv6: false,
            fixed_cidr_v6: None,
            bridge: bridge.map(str::to_string),
            bip: None,
            fixed_cidr: None,
            host_netns: None,
            fail_start_at: None,
            systemd_cgroup: false,
            default_cgroupns_mode: "host".into(),
        };
        let default = netd_config(&opts(Path::new(DEFAULT_DATA_ROOT), None)).unwrap();
        assert_eq!(default.instance, netd::Instance::default());
        let dir = tempfile::tempdir().unwrap();
        let other = netd_config(&opts(dir.path(), None)).unwrap();
        assert_ne!(other.instance.table, "rrun");
        assert_ne!(other.instance.default_bridge, "rrun0");
        // The same root named another way: the same names.
        let dotted = dir.path().join(".");
        assert_eq!(
            netd_config(&opts(&dotted, None)).unwrap().instance,
            other.instance
        );
        let named = netd_config(&opts(dir.path(), Some("br-mine"))).unwrap();
        assert_eq!(named.instance.default_bridge, "br-mine");
        assert_eq!(named.instance.table, other.instance.table);
    }

    #[test]
    fn cgroupns_default_follows_docker() {
        assert_eq!(default_cgroupns_mode(None, true).unwrap(), "private");
        assert_eq!(default_cgroupns_mode(None, false).unwrap(), "host");
        assert_eq!(default_cgroupns_mode(Some("host"), true).unwrap(), "host");
        let c: FileConfig = serde_json::from_str(r#"{"default-cgroupns-mode":"private"}"#).unwrap();
        assert_eq!(c.default_cgroupns_mode.as_deref(), Some("private"));
        let e = default_cgroupns_mode(Some("shared"), false).unwrap_err();
        assert!(e.to_string().contains("can only be"), "{e}");
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
