//! Pure: the ports a container publishes (`-p`, `-P`), from Docker's
//! `PortBindings` and exposed ports, before host ports are chosen.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// A port wanted by `-p`/`-P`, before a host port is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedPort {
    /// None: every host address (`-p 8080:80`), of each family the
    /// container has.
    pub host_ip: Option<IpAddr>,
    /// None: any free port; else the first free port of the range.
    pub host_ports: Option<(u16, u16)>,
    pub container_port: u16,
    pub protocol: String,
}

/// `80/tcp` (or `80`) → (80, "tcp").
pub fn parse_port_key(key: &str) -> Result<(u16, String), String> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("invalid containerPort: {port}"))?;
    Ok((port, proto))
}

/// A binding's `HostIp`: IPv4 or IPv6 (`::1`, also accepted bracketed as
/// `[::1]`). Empty is every host address of each family the container
/// has; `0.0.0.0` and `::` are every address of that family only, as with
/// Docker.
pub fn parse_host_ip(s: &str) -> Result<Option<IpAddr>, String> {
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if bare.is_empty() {
        return Ok(None);
    }
    let ip: IpAddr = bare
        .parse()
        .map_err(|_| format!("invalid IP address: {s}"))?;
    Ok(Some(ip))
}

/// `ip:port` as Docker writes it, IPv6 addresses bracketed.
pub fn host_port(ip: IpAddr, port: impl std::fmt::Display) -> String {
    match ip {
        IpAddr::V4(ip) => format!("{ip}:{port}"),
        IpAddr::V6(ip) => format!("[{ip}]:{port}"),
    }
}

fn parse_host_ports(s: &str) -> Result<Option<(u16, u16)>, String> {
    if s.is_empty() || s == "0" {
        return Ok(None);
    }
    let bad = || format!("invalid hostPort: {s}");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok(Some((a, b)))
}

/// Pure: the ports to publish from `PortBindings`, and with `-P` every
/// exposed port (the image's and the container's) not bound explicitly.
pub fn wanted_ports(
    bindings: &BTreeMap<String, Vec<crate::daemon::models::PortBinding>>,
    publish_all: bool,
    exposed: &[String],
) -> Result<Vec<WantedPort>, String> {
    let mut out = Vec::new();
    for (key, list) in bindings {
        let (container_port, protocol) = parse_port_key(key)?;
        let list: Vec<crate::daemon::models::PortBinding> = if list.is_empty() {
            vec![Default::default()]
        } else {
            list.clone()
        };
        for b in list {
            out.push(WantedPort {
                host_ip: parse_host_ip(&b.host_ip)?,
                host_ports: parse_host_ports(&b.host_port)?,
                container_port,
                protocol: protocol.clone(),
            });
        }
    }
    if publish_all {
        for key in exposed {
            let (container_port, protocol) = parse_port_key(key)?;
            let bound = out
                .iter()
                .any(|w| w.container_port == container_port && w.protocol == protocol);
            if !bound {
                out.push(WantedPort {
                    host_ip: None,
                    host_ports: None,
                    container_port,
                    protocol,
                });
            }
        }
    }
    Ok(out)
}
