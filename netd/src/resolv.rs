//! `/etc/resolv.conf` and `/etc/hosts` for containers, and parsing of the
//! host's resolv.conf to find upstream servers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// The embedded resolver's address inside every container on a user network.
pub const EMBEDDED_DNS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// What a host's resolv.conf says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl ResolvConf {
    /// Parse resolv.conf text; unknown lines are ignored, as the libc does.
    pub fn parse(text: &str) -> Self {
        let mut rc = ResolvConf::default();
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(ip) = words.next().and_then(|w| w.parse().ok()) {
                        rc.nameservers.push(ip);
                    }
                }
                // The last search/domain line wins, as in glibc.
                Some("search") | Some("domain") => rc.search = words.map(str::to_string).collect(),
                Some("options") => rc.options.extend(words.map(str::to_string)),
                _ => {}
            }
        }
        rc
    }

    /// Nameservers usable from outside the host's own loopback: loopback
    /// stubs such as systemd-resolved's 127.0.0.53 are skipped.
    pub fn upstreams(&self) -> Vec<SocketAddr> {
        self.nameservers
            .iter()
            .filter(|ip| !ip.is_loopback())
            .map(|ip| SocketAddr::new(*ip, 53))
            .collect()
    }
}

/// Which host file to read: systemd-resolved's list of real upstream servers
/// when present, else /etc/resolv.conf. `root` is `/` except in tests.
pub fn host_resolv_conf_path(root: &Path) -> PathBuf {
    let resolved = root.join("run/systemd/resolve/resolv.conf");
    if resolved.exists() {
        resolved
    } else {
        root.join("etc/resolv.conf")
    }
}

/// Per-container DNS settings: `--dns`, `--dns-search`, `--dns-option`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsOptions {
    pub servers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

/// A container's resolv.conf on a user network: the embedded resolver
/// (which forwards to `--dns` servers or the host's), the host's search
/// domains unless `--dns-search` is given, and `ndots:0` as Docker writes.
pub fn container_resolv_conf(host: &ResolvConf, opts: &DnsOptions) -> String {
    let mut out = format!("nameserver {EMBEDDED_DNS}\n");
    let search = if opts.search.is_empty() {
        &host.search
    } else {
        &opts.search
    };
    // Docker's "." means "no search domains".
    let search: Vec<&String> = search.iter().filter(|s| s.as_str() != ".").collect();
    if !search.is_empty() {
        out.push_str("search");
        for s in search {
            out.push(' ');
            out.push_str(s);
        }
        out.push('\n');
    }
    let mut options = vec!["ndots:0".to_string()];
    for o in &opts.options {
        // A user's ndots replaces ours.
        if o.starts_with("ndots:") {
            options.retain(|x| !x.starts_with("ndots:"));
        }
        options.push(o.clone());
    }
    out.push_str("options ");
    out.push_str(&options.join(" "));
    out.push('\n');
    out
}

/// The upstream servers the embedded resolver forwards to for a container.
pub fn container_upstreams(host: &ResolvConf, opts: &DnsOptions) -> Vec<SocketAddr> {
    if opts.servers.is_empty() {
        host.upstreams()
    } else {
        opts.servers
            .iter()
            .map(|ip| SocketAddr::new(*ip, 53))
            .collect()
    }
}

/// One `--add-host name:ip` entry; `host-gateway` is resolved by the caller's
/// gateway address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostIp {
    Ip(IpAddr),
    HostGateway,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHost {
    pub name: String,
    pub ip: HostIp,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid --add-host {0:?}: expected name:ip or name:host-gateway")]
pub struct ExtraHostError(String);

impl std::str::FromStr for ExtraHost {
    type Err = ExtraHostError;
    fn from_str(s: &str) -> Result<Self, ExtraHostError> {
        // Docker accepts name:ip and name=ip; IPv6 contains colons, so split at the first.
        let (name, ip) = s
            .split_once('=')
            .or_else(|| s.split_once(':'))
            .ok_or_else(|| ExtraHostError(s.to_string()))?;
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        let ip = if ip == "host-gateway" {
            HostIp::HostGateway
        } else {
            HostIp::Ip(ip.parse().map_err(|_| ExtraHostError(s.to_string()))?)
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ExtraHostError(s.to_string()));
        }
        Ok(ExtraHost {
            name: name.to_string(),
            ip,
        })
    }
}

/// The `--add-host` lines of a hosts file (`host-gateway` becomes
/// `host_gateway`; without one such an entry is left out).
pub fn extra_hosts(extra: &[ExtraHost], host_gateway: Option<IpAddr>) -> String {
    let mut out = String::new();
    for e in extra {
        let ip = match &e.ip {
            HostIp::Ip(ip) => Some(*ip),
            HostIp::HostGateway => host_gateway,
        };
        if let Some(ip) = ip {
            out.push_str(&format!("{ip}\t{}\n", e.name));
        }
    }
    out
}

/// A container's /etc/hosts: localhost, its own addresses with its hostname,
/// then `--add-host` entries (`host-gateway` becomes `host_gateway`).
pub fn container_hosts(
    hostname: &str,
    own: &[IpAddr],
    extra: &[ExtraHost],
    host_gateway: Option<IpAddr>,
) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    out.push_str(&extra_hosts(extra, host_gateway));
    for ip in own {
        out.push_str(&format!("{ip}\t{hostname}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2 # lan\n\
                        nameserver fe80::1\nsearch corp.example lan\noptions edns0 trust-ad\n";

    #[test]
    fn host_file_parsed_and_loopback_stub_skipped() {
        let rc = ResolvConf::parse(HOST);
        assert_eq!(rc.nameservers.len(), 3);
        assert_eq!(rc.search, vec!["corp.example", "lan"]);
        assert_eq!(rc.options, vec!["edns0", "trust-ad"]);
        assert_eq!(
            rc.upstreams(),
            vec![
                "10.0.0.2:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
    }

    #[test]
    fn systemd_resolved_list_preferred() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            host_resolv_conf_path(dir.path()),
            dir.path().join("etc/resolv.conf")
        );
        std::fs::create_dir_all(dir.path().join("run/systemd/resolve")).unwrap();
        std::fs::write(
            dir.path().join("run/systemd/resolve/resolv.conf"),
            "nameserver 10.0.0.2\n",
        )
        .unwrap();
        assert_eq!(
            host_resolv_conf_path(dir.path()),
            dir.path().join("run/systemd/resolve/resolv.conf")
        );
    }

    #[test]
    fn container_resolv_conf_points_at_embedded_resolver() {
        let rc = ResolvConf::parse(HOST);
        assert_eq!(
            container_resolv_conf(&rc, &DnsOptions::default()),
            "nameserver 127.0.0.11\nsearch corp.example lan\noptions ndots:0\n"
        );
        let opts = DnsOptions {
            servers: vec!["10.9.9.9".parse().unwrap()],
            search: vec!["a.example".into()],
            options: vec!["ndots:2".into(), "timeout:1".into()],
        };
        assert_eq!(
            container_resolv_conf(&rc, &opts),
            "nameserver 127.0.0.11\nsearch a.example\noptions ndots:2 timeout:1\n"
        );
        assert_eq!(
            container_upstreams(&rc, &opts),
            vec!["10.9.9.9:53".parse().unwrap()]
        );
        assert_eq!(container_upstreams(&rc, &DnsOptions::default()).len(), 2);
        let dot = DnsOptions {
            search: vec![".".into()],
            ..Default::default()
        };
        assert_eq!(
            container_resolv_conf(&rc, &dot),
            "nameserver 127.0.0.11\noptions ndots:0\n"
        );
    }

    #[test]
    fn hosts_file_has_localhost_own_address_and_extra_hosts() {
        let extra: Vec<ExtraHost> = ["db:10.1.2.3", "gw:host-gateway", "v6=[::1]"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(extra[2].ip, HostIp::Ip("::1".parse().unwrap()));
        let h = container_hosts(
            "abc123",
            &["172.18.0.2".parse().unwrap()],
            &extra,
            Some("172.18.0.1".parse().unwrap()),
        );
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.1.2.3\tdb\n"));
        assert!(h.contains("172.18.0.1\tgw\n"));
        assert!(h.contains("::1\tv6\n"));
        assert!(h.ends_with("172.18.0.2\tabc123\n"));
        assert!("nocolon".parse::<ExtraHost>().is_err());
        assert!("x:notanip".parse::<ExtraHost>().is_err());
    }
}
