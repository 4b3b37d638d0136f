//! The network views of `docker inspect` and `docker ps` of a container
//! (`NetworkSettings`, endpoints, published ports) and of a network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netd::store::{Driver, Network, PortBinding};
use serde_json::{json, Value};

use crate::daemon::containers::network::{mode_of, Mode};
use crate::daemon::containers::ports::parse_port_key;
use crate::daemon::store::ZERO_TIME;
use crate::daemon::store::{Container, NetworkRequest};
use crate::daemon::Daemon;

impl Daemon {
    /// `NetworkSettings` of `docker inspect`.
    pub(crate) fn network_settings(&self, c: &Container) -> Value {
        self.network_settings_in(c, &self.netd.networks().unwrap_or_default())
    }

    /// As [`Self::network_settings`], from networks already read (a list of
    /// containers reads the store once, not once per container).
    pub(crate) fn network_settings_in(&self, c: &Container, nets: &[Network]) -> Value {
        let mut networks = serde_json::Map::new();
        let mut top = endpoint_json(None, None, None);
        let mode = mode_of(&c.host_config.network_mode);
        if matches!(mode, Mode::Host | Mode::None) {
            let mut v = endpoint_json(None, None, None);
            v["NetworkID"] = json!(nets
                .iter()
                .find(|n| n.name.as_str() == c.host_config.network_mode)
                .map(|n| n.id.to_string())
                .unwrap_or_default());
            networks.insert(c.host_config.network_mode.clone(), v);
        }
        for req in &c.networks {
            let net = nets.iter().find(|n| n.name.as_str() == req.name);
            let mut v = endpoint_json(net, Some(&c.id), Some(req));
            if req.name == netd::manager::DEFAULT_NETWORK {
                top = v.clone();
            } else {
                let mut dns_names = vec![c.name.clone()];
                dns_names.extend(req.aliases.iter().cloned());
                dns_names.push(c.id[..12].to_string());
                v["DNSNames"] = json!(dns_names);
            }
            networks.insert(req.name.clone(), v);
        }
        let mut ports = serde_json::Map::new();
        for key in c.config.exposed_ports.keys() {
            ports.insert(key.clone(), Value::Null);
        }
        if c.state.running {
            for (ip, p) in shown_bindings(&c.ports, ports_have_ipv6(&c.id, nets)) {
                let key = format!("{}/{}", p.container_port, p.protocol);
                let entry = ports.entry(key).or_insert(Value::Null);
                if entry.is_null() {
                    *entry = json!([]);
                }
                entry.as_array_mut().unwrap().push(json!({
                    "HostIp": ip.to_string(),
                    "HostPort": p.host_port.to_string(),
                }));
            }
        }
        let sandbox = if c.state.running && matches!(mode, Mode::Bridge | Mode::None) {
            self.netns_path(&c.id).display().to_string()
        } else {
            String::new()
        };
        // The top-level fields are the default network's, as Docker's
        // (deprecated there, still read by scripts).
        json!({
            "Bridge": "",
            "SandboxID": if sandbox.is_empty() { String::new() } else { c.id.clone() },
            "SandboxKey": sandbox,
            "HairpinMode": false,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "Ports": ports,
            "SecondaryIPAddresses": null,
            "SecondaryIPv6Addresses": null,
            "EndpointID": top["EndpointID"],
            "Gateway": top["Gateway"],
            "GlobalIPv6Address": top["GlobalIPv6Address"],
            "GlobalIPv6PrefixLen": top["GlobalIPv6PrefixLen"],
            "IPAddress": top["IPAddress"],
            "IPPrefixLen": top["IPPrefixLen"],
            "IPv6Gateway": top["IPv6Gateway"],
            "MacAddress": top["MacAddress"],
            "Networks": networks,
        })
    }

    /// `Ports` of `docker ps`.
    pub(crate) fn port_summary(c: &Container, nets: &[Network]) -> Vec<Value> {
        let mut v: Vec<Value> = Vec::new();
        if c.state.running {
            for (ip, p) in shown_bindings(&c.ports, ports_have_ipv6(&c.id, nets)) {
                v.push(json!({
                    "IP": ip.to_string(),
                    "PrivatePort": p.container_port,
                    "PublicPort": p.host_port,
                    "Type": p.protocol,
                }));
            }
        }
        for key in c.config.exposed_ports.keys() {
            if let Ok((port, proto)) = parse_port_key(key) {
                let published = v
                    .iter()
                    .any(|x| x["PrivatePort"] == port && x["Type"] == proto);
                if !published {
                    v.push(json!({"PrivatePort": port, "Type": proto}));
                }
            }
        }
        v
    }
}

/// One entry of `NetworkSettings.Networks` of `docker inspect`: the
/// container's endpoint on `net` (None: not connected, or a host/none
/// container), with its IPv6 fields empty (`""`, 0) when it has none, as
/// Docker's.
pub(super) fn endpoint_json(
    net: Option<&Network>,
    container: Option<&str>,
    req: Option<&NetworkRequest>,
) -> Value {
    let ep = net.zip(container).and_then(|(n, id)| n.containers.get(id));
    let (ip, prefix, gw) = match (ep, net.and_then(Network::ipv4)) {
        (Some(e), Some(cfg)) => (
            e.ipv4_address.to_string(),
            cfg.subnet.prefix_len(),
            cfg.gateway.to_string(),
        ),
        _ => (String::new(), 0, String::new()),
    };
    let (ip6, prefix6, gw6) = match (ep.and_then(|e| e.ipv6_address), net.and_then(Network::ipv6)) {
        (Some(a), Some(cfg)) => (
            a.to_string(),
            cfg.subnet.prefix_len(),
            cfg.gateway.to_string(),
        ),
        _ => (String::new(), 0, String::new()),
    };
    let mac = ep
        .filter(|e| !e.ipv4_address.is_unspecified())
        .map(|e| netd::link::mac_string(e.mac()))
        .unwrap_or_default();
    let endpoint_id = match (ep, net, container) {
        (Some(_), Some(n), Some(id)) => netd::link::veth_name(id, n.id.as_str()),
        _ => String::new(),
    };
    // `IPAMConfig` holds what was asked (`--ip`, `--ip6`), each key only
    // when given, as Docker's.
    let ipam = req.and_then(|r| {
        let mut m = serde_json::Map::new();
        if let Some(ip) = r.ipv4 {
            m.insert("IPv4Address".into(), json!(ip.to_string()));
        }
        if let Some(ip) = r.ipv6 {
            m.insert("IPv6Address".into(), json!(ip.to_string()));
        }
        (!m.is_empty()).then_some(Value::Object(m))
    });
    let aliases = req
        .filter(|r| !r.aliases.is_empty())
        .map(|r| json!(r.aliases));
    let links = req.filter(|r| !r.links.is_empty()).map(|r| {
        let l: Vec<String> = r
            .links
            .iter()
            .map(|l| format!("{}:{}", l.name, l.alias))
            .collect();
        json!(l)
    });
    json!({
        "IPAMConfig": ipam,
        "Links": links,
        "Aliases": aliases,
        "NetworkID": net.map(|n| n.id.to_string()).unwrap_or_default(),
        "EndpointID": endpoint_id,
        "Gateway": gw,
        "IPAddress": ip,
        "IPPrefixLen": prefix,
        "IPv6Gateway": gw6,
        "GlobalIPv6Address": ip6,
        "GlobalIPv6PrefixLen": prefix6,
        "MacAddress": mac,
        "DriverOpts": null,
        "DNSNames": null,
    })
}

/// Whether the container's published ports are on an endpoint with IPv6
/// (netd publishes `-p 8080:80` on both families there).
fn ports_have_ipv6(id: &str, nets: &[Network]) -> bool {
    nets.iter()
        .filter_map(|n| n.containers.get(id))
        .find(|e| !e.ports.is_empty())
        .is_some_and(|e| e.ipv6_address.is_some())
}

/// The host addresses a container's ports are published on, as `docker
/// inspect` and `docker ps` show them: a port on every address (`-p
/// 8080:80`) is on `0.0.0.0` and, when the container has IPv6 there, on
/// `::` too; one on a given address, on that one.
pub fn shown_bindings(ports: &[PortBinding], ipv6: bool) -> Vec<(IpAddr, &PortBinding)> {
    let mut out = Vec::new();
    for p in ports {
        match p.host_ip {
            Some(ip) => out.push((ip, p)),
            None => {
                out.push((IpAddr::V4(Ipv4Addr::UNSPECIFIED), p));
                if ipv6 {
                    out.push((IpAddr::V6(Ipv6Addr::UNSPECIFIED), p));
                }
            }
        }
    }
    out
}

/// `docker network inspect` of one network, with its containers' names.
pub fn network_json(n: &Network) -> Value {
    let containers: serde_json::Map<String, Value> = n
        .containers
        .iter()
        .map(|(id, e)| {
            let prefix = n.ipv4().map(|c| c.subnet.prefix_len()).unwrap_or(0);
            let ipv6 = match (e.ipv6_address, n.ipv6()) {
                (Some(a), Some(c)) => format!("{a}/{}", c.subnet.prefix_len()),
                _ => String::new(),
            };
            (
                id.clone(),
                json!({
                    "Name": e.name,
                    "EndpointID": netd::link::veth_name(id, n.id.as_str()),
                    "MacAddress": netd::link::mac_string(e.mac()),
                    "IPv4Address": format!("{}/{prefix}", e.ipv4_address),
                    "IPv6Address": ipv6,
                }),
            )
        })
        .collect();
    let config: Vec<Value> = n
        .ipam
        .config
        .iter()
        .map(|c| {
            let mut v = json!({"Subnet": c.subnet.to_string(), "Gateway": c.gateway.to_string()});
            if let Some(r) = c.ip_range {
                v["IPRange"] = json!(r.to_string());
            }
            if !c.aux_addresses.is_empty() {
                v["AuxiliaryAddresses"] = json!(c.aux_addresses);
            }
            v
        })
        .collect();
    let driver = match n.driver {
        Driver::Bridge => "bridge",
        Driver::Host => "host",
        Driver::None => "null",
    };
    json!({
        "Name": n.name.as_str(),
        "Id": n.id.as_str(),
        "Created": if n.created.is_empty() { ZERO_TIME } else { n.created.as_str() },
        "Scope": "local",
        "Driver": driver,
        "EnableIPv6": n.enable_ipv6,
        "IPAM": {"Driver": "default", "Options": null, "Config": config},
        "Internal": n.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": n.options,
        "Labels": n.labels,
    })
}
