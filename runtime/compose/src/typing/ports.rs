//! `ports:` short form (`[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`,
//! ranges on both sides, `[::1]` for IPv6 hosts) and long form, one
//! [`Port`] per container port.

use crate::error::LoadError;
use crate::model::{Port, Protocol};
use crate::node::Node;
use serde_yaml_ng::Value;

const SHORT_HINT: &str =
    "write [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp] with ports 1-65535 \
     (a range on both sides must be as long)";
const LONG_KEYS: &[&str] = &[
    "target",
    "published",
    "host_ip",
    "protocol",
    "mode",
    "name",
    "app_protocol",
];

pub(super) fn ports(n: &Node) -> Result<Vec<Port>, LoadError> {
    let mut out = Vec::new();
    for (i, item) in n.seq()?.iter().enumerate() {
        let node = n.item(i, item);
        match item {
            Value::Number(_) | Value::String(_) => {
                let text = node.scalar()?;
                out.extend(short(&text).ok_or_else(|| node.invalid("port", &text, SHORT_HINT))?);
            }
            Value::Mapping(_) => out.push(long(&node)?),
            _ => return Err(node.wrong("a port string or a mapping")),
        }
    }
    Ok(out)
}

/// A short form's ports; `None` when it is not one.
pub(crate) fn short(text: &str) -> Option<Vec<Port>> {
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((spec, proto)) => (spec, protocol(proto)?),
        None => (text, Protocol::Tcp),
    };
    let mut parts = spec.rsplitn(3, ':');
    let target = parts.next()?;
    let published = parts.next().filter(|p| !p.is_empty());
    let host_ip = match parts.next() {
        Some(ip) if ip.starts_with('[') => {
            Some(ip.strip_prefix('[')?.strip_suffix(']')?.to_string())
        }
        Some("") | None => None,
        Some(ip) => Some(ip.to_string()),
    };
    let (t_lo, t_hi) = range(target)?;
    let published = match published {
        Some(p) => Some(range(p)?),
        None => None,
    };
    let mut out = Vec::new();
    for (i, t) in (t_lo..=t_hi).enumerate() {
        let published = match published {
            None => None,
            Some((lo, hi)) if t_lo == t_hi => Some(if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }),
            Some((lo, hi)) if hi - lo == t_hi - t_lo => Some((lo + i as u16).to_string()),
            Some(_) => return None,
        };
        out.push(Port {
            target: t,
            published,
            host_ip: host_ip.clone(),
            protocol: protocol.clone(),
            mode: None,
        });
    }
    Some(out)
}

/// `80` or `8000-8010`, each port 1-65535, low to high.
fn range(text: &str) -> Option<(u16, u16)> {
    let port = |p: &str| p.trim().parse::<u16>().ok().filter(|p| *p > 0);
    let (lo, hi) = match text.split_once('-') {
        Some((lo, hi)) => (port(lo)?, port(hi)?),
        None => (port(text)?, port(text)?),
    };
    (lo <= hi).then_some((lo, hi))
}

fn protocol(text: &str) -> Option<Protocol> {
    match text.to_ascii_lowercase().as_str() {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        "sctp" => Some(Protocol::Sctp),
        _ => None,
    }
}

fn long(n: &Node) -> Result<Port, LoadError> {
    let mut port = Port {
        target: 0,
        published: None,
        host_ip: None,
        protocol: Protocol::Tcp,
        mode: None,
    };
    for (key, v) in n.fields(LONG_KEYS)? {
        match key.as_str() {
            "target" => {
                let text = v.scalar()?;
                port.target = range(&text)
                    .filter(|(lo, hi)| lo == hi)
                    .ok_or_else(|| {
                        v.invalid("port", &text, "the container port is one port, 1-65535")
                    })?
                    .0;
            }
            "published" => {
                let text = v.scalar()?;
                range(&text)
                    .ok_or_else(|| v.invalid("port", &text, "a host port or range, 1-65535"))?;
                port.published = Some(text);
            }
            "host_ip" => port.host_ip = Some(v.str()?),
            "protocol" => {
                let text = v.str()?;
                port.protocol = protocol(&text)
                    .ok_or_else(|| v.invalid("protocol", &text, "use tcp, udp or sctp"))?;
            }
            "mode" => port.mode = Some(v.str()?),
            _ => {}
        }
    }
    if port.target == 0 {
        return Err(n.invalid(
            "port",
            "",
            "the long form needs `target:` (the container port)",
        ));
    }
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(target: u16, published: Option<&str>, ip: Option<&str>, protocol: Protocol) -> Port {
        Port {
            target,
            published: published.map(str::to_string),
            host_ip: ip.map(str::to_string),
            protocol,
            mode: None,
        }
    }

    #[test]
    fn short_forms() {
        use Protocol::*;
        assert_eq!(short("80").unwrap(), [p(80, None, None, Tcp)]);
        assert_eq!(
            short("3307:3306").unwrap(),
            [p(3306, Some("3307"), None, Tcp)]
        );
        assert_eq!(
            short("127.0.0.1::80").unwrap(),
            [p(80, None, Some("127.0.0.1"), Tcp)]
        );
        assert_eq!(
            short("127.0.0.1:8080:80/udp").unwrap(),
            [p(80, Some("8080"), Some("127.0.0.1"), Udp)]
        );
        assert_eq!(
            short("[::1]:80:80").unwrap(),
            [p(80, Some("80"), Some("::1"), Tcp)]
        );
        assert_eq!(
            short("8000-8001:80-81/udp").unwrap(),
            [
                p(80, Some("8000"), None, Udp),
                p(81, Some("8001"), None, Udp)
            ]
        );
        assert_eq!(
            short("9000-9010:80").unwrap(),
            [p(80, Some("9000-9010"), None, Tcp)]
        );
        assert_eq!(
            short("80-81").unwrap(),
            [p(80, None, None, Tcp), p(81, None, None, Tcp)]
        );
        assert_eq!(
            short("53:53/SCTP").unwrap(),
            [p(53, Some("53"), None, Sctp)]
        );
    }

    #[test]
    fn bad_short_forms() {
        for bad in [
            "",
            "x",
            "0",
            "65536",
            "80:",
            "a:80",
            "80/icmp",
            "8000-8002:80-81",
            "81-80",
            "1.2.3.4:x:80",
            "[::1:80:80",
        ] {
            assert!(short(bad).is_none(), "{bad}");
        }
    }
}
