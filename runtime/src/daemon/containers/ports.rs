//! Pure: the ports a container publishes (`-p`, `-P`), from Docker's
//! `PortBindings` and exposed ports, before host ports are chosen. Each
//! part is a checked type: a [`WantedPort`] cannot hold port 0, a protocol
//! other than tcp/udp or a host range that runs backwards.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU16;
use std::str::FromStr;

/// A published port's protocol (Docker's `80/tcp` suffix; tcp when none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = String;
    /// `tcp` or `udp`, in any case.
    fn from_str(s: &str) -> Result<Protocol, String> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            p => Err(format!("invalid proto: {p}")),
        }
    }
}

/// A container port with its protocol: `80/tcp` (or `80`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortKey {
    port: NonZeroU16,
    protocol: Protocol,
}

impl PortKey {
    pub fn port(self) -> u16 {
        self.port.get()
    }
    pub fn protocol(self) -> Protocol {
        self.protocol
    }
}

impl FromStr for PortKey {
    type Err = String;
    fn from_str(key: &str) -> Result<PortKey, String> {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let protocol = proto.parse()?;
        let port = port
            .parse()
            .map_err(|_| format!("invalid containerPort: {port}"))?;
        Ok(PortKey { port, protocol })
    }
}

impl fmt::Display for PortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol)
    }
}

/// `80/tcp` (or `80`) → (80, "tcp").
pub fn parse_port_key(key: &str) -> Result<(u16, String), String> {
    let k: PortKey = key.parse()?;
    Ok((k.port(), k.protocol().to_string()))
}

/// Host ports `a-b` (one port is `a-a`), `1 <= a <= b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    start: u16,
    end: u16,
}

impl PortRange {
    /// None when `start` is 0 or the range runs backwards.
    pub fn new(start: u16, end: u16) -> Option<PortRange> {
        (start != 0 && start <= end).then_some(PortRange { start, end })
    }
    pub fn start(self) -> u16 {
        self.start
    }
    pub fn end(self) -> u16 {
        self.end
    }
    pub fn ports(self) -> std::ops::RangeInclusive<u16> {
        self.start..=self.end
    }
}

impl fmt::Display for PortRange {
    /// `8080`, or `9000-9010`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// A binding's `HostPort`: empty or `0` is any free port (None).
fn parse_host_ports(s: &str) -> Result<Option<PortRange>, String> {
    if s.is_empty() || s == "0" {
        return Ok(None);
    }
    let bad = || format!("invalid hostPort: {s}");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    PortRange::new(a, b).map(Some).ok_or_else(bad)
}

/// A port wanted by `-p`/`-P`, before a host port is chosen; made only by
/// [`wanted_ports`], which checks each part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedPort {
    host_ip: Option<IpAddr>,
    host_ports: Option<PortRange>,
    key: PortKey,
}

impl WantedPort {
    /// None: every host address (`-p 8080:80`), of each family the
    /// container has.
    pub fn host_ip(&self) -> Option<IpAddr> {
        self.host_ip
    }
    /// None: any free port; else the first free port of the range.
    pub fn host_ports(&self) -> Option<PortRange> {
        self.host_ports
    }
    pub fn container_port(&self) -> u16 {
        self.key.port()
    }
    pub fn protocol(&self) -> Protocol {
        self.key.protocol()
    }
    /// How an error names it: `port 8080`, `port 9000-9010`, or
    /// `container port 80/tcp` when no host port was asked.
    pub fn describe(&self) -> String {
        match self.host_ports {
            Some(r) => format!("port {r}"),
            None => format!("container port {}", self.key),
        }
    }
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

/// Pure: the ports to publish from `PortBindings`, and with `-P` every
/// exposed port (the image's and the container's) not bound explicitly.
pub fn wanted_ports(
    bindings: &BTreeMap<String, Vec<crate::daemon::models::PortBinding>>,
    publish_all: bool,
    exposed: &[String],
) -> Result<Vec<WantedPort>, String> {
    let mut out = Vec::new();
    for (key, list) in bindings {
        let key: PortKey = key.parse()?;
        let list: Vec<crate::daemon::models::PortBinding> = if list.is_empty() {
            vec![Default::default()]
        } else {
            list.clone()
        };
        for b in list {
            out.push(WantedPort {
                host_ip: parse_host_ip(&b.host_ip)?,
                host_ports: parse_host_ports(&b.host_port)?,
                key,
            });
        }
    }
    if publish_all {
        for key in exposed {
            let key: PortKey = key.parse()?;
            if !out.iter().any(|w| w.key == key) {
                out.push(WantedPort {
                    host_ip: None,
                    host_ports: None,
                    key,
                });
            }
        }
    }
    Ok(out)
}
