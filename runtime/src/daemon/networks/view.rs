//! The network views of `docker inspect` and `docker ps` of a container
//! (`NetworkSettings`, endpoints, published ports) and of a network.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netd::store::{Driver, Network, PortBinding};

use crate::apimodel::models::{PortSummary, PortSummaryTypeEnum};
use crate::apimodel::network::{
    EndpointAddresses, EndpointIpamConfig, EndpointSettings, HostPortBinding, IpamPool,
    NetworkContainer, NetworkIpam, NetworkResource, NetworkSettings,
};

use crate::daemon::containers::network::{mode_of, Mode};
use crate::daemon::containers::ports::parse_port_key;
use crate::daemon::store::ZERO_TIME;
use crate::daemon::store::{Container, NetworkRequest};
use crate::daemon::Daemon;

impl Daemon {
    /// `NetworkSettings` of `docker inspect`.
    pub(crate) fn network_settings(&self, c: &Container) -> NetworkSettings {
        self.network_settings_in(c, &self.netd.networks().unwrap_or_default())
    }

    /// As [`Self::network_settings`], from networks already read (a list of
    /// containers reads the store once, not once per container).
    pub(crate) fn network_settings_in(&self, c: &Container, nets: &[Network]) -> NetworkSettings {
        let mut networks = BTreeMap::new();
        let mut top = endpoint_json(None, None, None);
        let mode = mode_of(&c.host_config.network_mode);
        if matches!(mode, Mode::Host | Mode::None) {
            let mut v = endpoint_json(None, None, None);
            v.network_id = nets
                .iter()
                .find(|n| n.name.as_str() == c.host_config.network_mode)
                .map(|n| n.id.to_string())
                .unwrap_or_default();
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
                v.dns_names = Some(dns_names);
            }
            networks.insert(req.name.clone(), v);
        }
        let mut ports: BTreeMap<String, Option<Vec<HostPortBinding>>> = BTreeMap::new();
        for key in c.config.exposed_ports.keys() {
            ports.insert(key.clone(), None);
        }
        if c.state.running {
            for (ip, p) in shown_bindings(&c.ports, ports_have_ipv6(&c.id, nets)) {
                let key = format!("{}/{}", p.container_port, p.protocol);
                let entry = ports.entry(key).or_default();
                entry.get_or_insert_with(Vec::new).push(HostPortBinding {
                    host_ip: ip.to_string(),
                    host_port: p.host_port.to_string(),
                });
            }
        }
        let sandbox = if c.state.running && matches!(mode, Mode::Bridge | Mode::None) {
            self.netns_path(&c.id).display().to_string()
        } else {
            String::new()
        };
        // The top-level fields are the default network's, as Docker's
        // (deprecated there, still read by scripts).
        NetworkSettings {
            sandbox_id: if sandbox.is_empty() {
                String::new()
            } else {
                c.id.clone()
            },
            sandbox_key: sandbox,
            ports,
            addresses: top.addresses,
            networks,
            ..Default::default()
        }
    }

    /// `Ports` of `docker ps`: bindings with `IP` and `PublicPort`,
    /// exposed-only ports without them.
    pub(crate) fn port_summary(c: &Container, nets: &[Network]) -> Vec<PortSummary> {
        let typ = |proto: &str| proto.parse::<PortSummaryTypeEnum>().ok();
        let mut v: Vec<PortSummary> = Vec::new();
        if c.state.running {
            for (ip, p) in shown_bindings(&c.ports, ports_have_ipv6(&c.id, nets)) {
                v.push(PortSummary {
                    ip: Some(ip.to_string()),
                    private_port: p.container_port,
                    public_port: Some(p.host_port),
                    typ: typ(&p.protocol),
                });
            }
        }
        for key in c.config.exposed_ports.keys() {
            if let Ok((port, proto)) = parse_port_key(key) {
                let published = v
                    .iter()
                    .any(|x| x.private_port == port && x.typ == typ(&proto));
                if !published {
                    v.push(PortSummary {
                        private_port: port,
                        typ: typ(&proto),
                        ..Default::default()
                    });
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
) -> EndpointSettings {
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
    let ipam_config = req
        .filter(|r| r.ipv4.is_some() || r.ipv6.is_some())
        .map(|r| EndpointIpamConfig {
            ipv4_address: r.ipv4.map(|ip| ip.to_string()),
            ipv6_address: r.ipv6.map(|ip| ip.to_string()),
        });
    let aliases = req
        .filter(|r| !r.aliases.is_empty())
        .map(|r| r.aliases.clone());
    let links = req.filter(|r| !r.links.is_empty()).map(|r| {
        r.links
            .iter()
            .map(|l| format!("{}:{}", l.name, l.alias))
            .collect()
    });
    EndpointSettings {
        ipam_config,
        links,
        aliases,
        network_id: net.map(|n| n.id.to_string()).unwrap_or_default(),
        addresses: EndpointAddresses {
            endpoint_id,
            gateway: gw,
            ip_address: ip,
            ip_prefix_len: prefix,
            ipv6_gateway: gw6,
            global_ipv6_address: ip6,
            global_ipv6_prefix_len: prefix6,
            mac_address: mac,
        },
        driver_opts: None,
        dns_names: None,
    }
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
pub fn network_json(n: &Network) -> NetworkResource {
    let containers = n
        .containers
        .iter()
        .map(|(id, e)| {
            let prefix = n.ipv4().map(|c| c.subnet.prefix_len()).unwrap_or(0);
            let ipv6 = match (e.ipv6_address, n.ipv6()) {
                (Some(a), Some(c)) => format!("{a}/{}", c.subnet.prefix_len()),
                _ => String::new(),
            };
            let c = NetworkContainer {
                name: e.name.clone(),
                endpoint_id: netd::link::veth_name(id, n.id.as_str()),
                mac_address: netd::link::mac_string(e.mac()),
                ipv4_address: format!("{}/{prefix}", e.ipv4_address),
                ipv6_address: ipv6,
            };
            (id.clone(), c)
        })
        .collect();
    let config = n
        .ipam
        .config
        .iter()
        .map(|c| IpamPool {
            subnet: c.subnet.to_string(),
            gateway: c.gateway.to_string(),
            ip_range: c.ip_range.map(|r| r.to_string()).unwrap_or_default(),
            auxiliary_addresses: c
                .aux_addresses
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        })
        .collect();
    let driver = match n.driver {
        Driver::Bridge => "bridge",
        Driver::Host => "host",
        Driver::None => "null",
    };
    let created = if n.created.is_empty() {
        ZERO_TIME
    } else {
        n.created.as_str()
    };
    NetworkResource {
        name: n.name.to_string(),
        id: n.id.to_string(),
        created: created.to_string(),
        scope: "local".into(),
        driver: driver.into(),
        enable_ipv6: n.enable_ipv6,
        ipam: NetworkIpam {
            driver: "default".into(),
            options: None,
            config,
        },
        internal: n.internal,
        containers,
        options: n.options.clone(),
        labels: n.labels.clone(),
        ..Default::default()
    }
}
