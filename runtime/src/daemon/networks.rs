//! The networks service: `network create/ls/inspect/rm/prune/connect/
//! disconnect` on netd's store, and the network views of `docker inspect`
//! and `docker ps` of a container.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use netd::netns::NetNs;
use netd::store::{Driver, Network, PortBinding};
use netd::{ConnectOptions, ContainerRef, NetdError};
use serde_json::{json, Value};

use crate::daemon::containers::network::{mode_of, Mode};
use crate::daemon::containers::ports::parse_port_key;
use crate::daemon::models::EndpointSettings;
use crate::daemon::store::ZERO_TIME;
use crate::daemon::store::{Container, NetworkRequest};
use crate::daemon::{ApiError, ApiResult, Daemon, Filters};

/// `--ip6` for `net`, checked before anything is made: an IPv6 address of
/// the network's IPv6 subnet (netd checks again, and that it is free, when
/// the container is connected).
pub(crate) fn check_ip6(net: &Network, ip: &str) -> Result<Ipv6Addr, String> {
    let ip: Ipv6Addr = ip
        .parse()
        .map_err(|_| format!("invalid IPv6 address: {ip}"))?;
    let Some(cfg) = net.ipv6() else {
        return Err(format!(
            "cannot assign {ip} (--ip6): network {} has no IPv6 (create it with --ipv6)",
            net.name
        ));
    };
    if !cfg.subnet.contains(&IpAddr::V6(ip)) {
        return Err(format!(
            "cannot assign {ip} (--ip6): it is not in network {}'s subnet {}",
            net.name, cfg.subnet
        ));
    }
    Ok(ip)
}

pub(crate) fn net_err(e: NetdError) -> ApiError {
    use netd::store::StoreError;
    match e {
        NetdError::Store(StoreError::NotFound(n)) => {
            ApiError::not_found(format!("network {n} not found"))
        }
        NetdError::Exists(n) => ApiError::conflict(format!("network with name {n} already exists")),
        e @ (NetdError::InUse { .. }
        | NetdError::AlreadyConnected { .. }
        | NetdError::BridgeInUse { .. }) => ApiError::conflict(e.to_string()),
        e @ (NetdError::NotConnected { .. }
        | NetdError::Name(_)
        | NetdError::Protocol(_)
        | NetdError::Ipv6(_)
        | NetdError::Ipam(_)) => ApiError::bad(e.to_string()),
        e => ApiError::internal(e),
    }
}

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
fn endpoint_json(
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
        .map(|e| netd::link::mac_string(netd::link::mac_for(e.ipv4_address)))
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
    json!({
        "IPAMConfig": ipam,
        "Links": null,
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
                    "MacAddress": netd::link::mac_string(netd::link::mac_for(e.ipv4_address)),
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

/// Network API handlers' logic (the routes are in `api`).
impl Daemon {
    /// `GET /networks` with Docker's filters (driver, id, label, name,
    /// scope, type, dangling).
    pub fn network_list(&self, filters: &Filters) -> ApiResult<Vec<Value>> {
        filters.validate(&["dangling", "driver", "id", "label", "name", "scope", "type"])?;
        filters.validate_values("type", &["custom", "builtin"])?;
        filters.validate_values("scope", &["local", "swarm", "global"])?;
        filters.validate_patterns("name")?;
        let dangling = filters.bool_value("dangling")?;
        let used = self.networks_in_use();
        let nets = self.netd.networks().map_err(net_err)?;
        Ok(nets
            .iter()
            .filter(|n| network_matches(n, filters))
            .filter(|n| {
                dangling.is_none_or(|d| d == (!is_builtin(n) && !used.contains(n.name.as_str())))
            })
            .map(network_json)
            .collect())
    }

    /// The names of the networks some container (running or not) names.
    fn networks_in_use(&self) -> std::collections::BTreeSet<String> {
        self.all()
            .iter()
            .flat_map(|c| c.networks.iter().map(|r| r.name.clone()))
            .collect()
    }

    pub fn network_inspect(&self, key: &str) -> ApiResult<Value> {
        self.netd
            .inspect(key)
            .map(|n| network_json(&n))
            .map_err(net_err)
    }

    /// `POST /networks/create`.
    pub fn network_create(&self, body: &Value) -> ApiResult<Value> {
        let name = body["Name"].as_str().unwrap_or_default();
        let name =
            netd::name::NetworkName::try_from(name).map_err(|e| ApiError::bad(e.to_string()))?;
        if matches!(name.as_str(), "host" | "none" | "bridge")
            && body["Driver"].as_str().unwrap_or("bridge") == "bridge"
            && self.netd.inspect(name.as_str()).is_ok()
        {
            return Err(ApiError::conflict(format!(
                "network with name {name} already exists"
            )));
        }
        let driver = body["Driver"].as_str().unwrap_or("bridge");
        if !matches!(driver, "" | "bridge") {
            return Err(ApiError::bad(format!("plugin \"{driver}\" not found")));
        }
        if body["EnableIPv4"] == json!(false) {
            return Err(ApiError::bad(
                "IPv6-only networks (EnableIPv4 false, --ipv4=false) are not supported by rrun yet",
            ));
        }
        let mut req = netd::CreateNetwork::bridge(name);
        req.internal = body["Internal"].as_bool().unwrap_or(false);
        // A JSON null (API 1.48's optional field) is false.
        req.enable_ipv6 = body["EnableIPv6"].as_bool().unwrap_or(false);
        if let Some(l) = body["Labels"].as_object() {
            req.labels = l
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect();
        }
        if let Some(o) = body["Options"].as_object() {
            req.options = o
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect();
        }
        let config = body["IPAM"]["Config"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        ipam_request(&config, &mut req).map_err(ApiError::bad)?;
        let n = self.netd.create_network(req).map_err(net_err)?;
        self.events.emit(
            "network",
            "create",
            n.id.as_str(),
            &[("name", n.name.as_str()), ("type", "bridge")],
        );
        tracing::info!(network = %n.name, id = %n.id, "network created");
        Ok(json!({"Id": n.id.as_str(), "Warning": ""}))
    }

    /// `DELETE /networks/{id}`.
    pub fn network_remove(&self, key: &str) -> ApiResult<()> {
        let n = self.netd.inspect(key).map_err(net_err)?;
        if matches!(n.name.as_str(), "bridge" | "host" | "none") {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                format!("{} is a pre-defined network and cannot be removed", n.name),
            ));
        }
        // As Docker: refused while a running container is attached (netd
        // knows its endpoints); stopped containers that name it do not
        // hold it, and fail to start until it exists again.
        self.netd.remove_network(n.id.as_str()).map_err(net_err)?;
        self.events.emit(
            "network",
            "destroy",
            n.id.as_str(),
            &[("name", n.name.as_str()), ("type", "bridge")],
        );
        tracing::info!(network = %n.name, "network removed");
        Ok(())
    }

    /// `POST /networks/prune`: user networks no container names (filters
    /// `until`, `label`, `label!`).
    pub fn network_prune(&self, filters: &Filters) -> ApiResult<Vec<String>> {
        filters.validate(&["label", "label!", "until"])?;
        let until = super::events::until_of(filters)?;
        let used = self.networks_in_use();
        let nets = self.netd.networks().map_err(net_err)?;
        let mut removed = Vec::new();
        for n in nets {
            let created = chrono::DateTime::parse_from_rfc3339(&n.created)
                .ok()
                .and_then(|t| t.timestamp_nanos_opt())
                .unwrap_or(0);
            if is_builtin(&n)
                || used.contains(n.name.as_str())
                || !filters.match_labels("label", &n.labels)
                || !filters.match_no_labels("label!", &n.labels)
                || until.is_some_and(|u| created >= u)
            {
                continue;
            }
            if self.network_remove(n.id.as_str()).is_ok() {
                removed.push(n.name.to_string());
            }
        }
        Ok(removed)
    }

    /// `POST /networks/{id}/connect`.
    pub fn network_connect(self: &Arc<Self>, key: &str, body: &Value) -> ApiResult<()> {
        let net = self.netd.inspect(key).map_err(net_err)?;
        let cname = body["Container"].as_str().unwrap_or_default();
        let c = self.get(cname)?;
        if mode_of(&c.host_config.network_mode) != Mode::Bridge || net.driver != Driver::Bridge {
            return Err(ApiError::bad(
                "container sharing network namespace with another container or host cannot be connected to any other network",
            ));
        }
        if c.networks.iter().any(|r| r.name == net.name.as_str()) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                format!(
                    "endpoint with name {} already exists in network {}",
                    c.name, net.name
                ),
            ));
        }
        let mut eps = BTreeMap::new();
        let ep: EndpointSettings =
            serde_json::from_value(body["EndpointConfig"].clone()).unwrap_or_default();
        eps.insert(net.name.to_string(), ep);
        let (_, mut reqs) = self.plan_networks(net.name.as_str(), &eps)?;
        let req = reqs.remove(0);
        if c.state.running {
            let ns = NetNs::open(self.netns_path(&c.id)).map_err(ApiError::internal)?;
            let cref = ContainerRef {
                id: &c.id,
                name: &c.name,
                hostname: Some(&c.config.hostname),
                netns: &ns,
            };
            self.netd
                .connect(
                    &req.name,
                    cref,
                    ConnectOptions {
                        aliases: req.aliases.clone(),
                        ipv4: req.ipv4,
                        ipv6: req.ipv6,
                        ports: vec![],
                    },
                )
                .map_err(net_err)?;
        }
        self.update(&c.id, |c| c.networks.push(req))?;
        self.events.emit(
            "network",
            "connect",
            net.id.as_str(),
            &[
                ("container", &c.id),
                ("name", net.name.as_str()),
                ("type", "bridge"),
            ],
        );
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub fn network_disconnect(&self, key: &str, body: &Value) -> ApiResult<()> {
        let net = self.netd.inspect(key).map_err(net_err)?;
        let cname = body["Container"].as_str().unwrap_or_default();
        let c = self.get(cname)?;
        if !c.networks.iter().any(|r| r.name == net.name.as_str()) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                format!(
                    "container {} is not connected to network {}",
                    c.id, net.name
                ),
            ));
        }
        if net.containers.contains_key(&c.id) {
            self.netd
                .disconnect(net.id.as_str(), &c.id)
                .map_err(net_err)?;
        }
        self.update(&c.id, |c| {
            c.networks.retain(|r| r.name != net.name.as_str())
        })?;
        self.events.emit(
            "network",
            "disconnect",
            net.id.as_str(),
            &[
                ("container", &c.id),
                ("name", net.name.as_str()),
                ("type", "bridge"),
            ],
        );
        Ok(())
    }
}

/// `IPAM.Config` of `POST /networks/create` into `req`: at most one entry
/// per family, each entry's family that of its subnet, and its gateway and
/// range of the same family (netd checks that they lie in the subnet).
pub fn ipam_request(config: &[Value], req: &mut netd::CreateNetwork) -> Result<(), String> {
    fn field<T: std::str::FromStr>(cfg: &Value, key: &str) -> Result<Option<T>, String> {
        match cfg[key].as_str() {
            None | Some("") => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| format!("invalid {}: {s}", key.to_lowercase())),
        }
    }
    let (mut seen4, mut seen6) = (false, false);
    for cfg in config {
        let subnet: Option<IpNet> = field(cfg, "Subnet")?;
        let gateway: Option<IpAddr> = field(cfg, "Gateway")?;
        let ip_range: Option<IpNet> = field(cfg, "IPRange")?;
        let Some(subnet) = subnet else {
            if gateway.is_some() || ip_range.is_some() {
                return Err("no matching subnet for gateway or range".into());
            }
            continue;
        };
        let v6 = subnet.addr().is_ipv6();
        let family = if v6 { "IPv6" } else { "IPv4" };
        let mismatch = gateway
            .filter(|g| g.is_ipv6() != v6)
            .map(|g| format!("gateway {g}"))
            .or_else(|| {
                ip_range
                    .filter(|r| r.addr().is_ipv6() != v6)
                    .map(|r| format!("ip range {r}"))
            });
        if let Some(what) = mismatch {
            return Err(format!(
                "{what} is not in subnet {subnet}: not an {family} address"
            ));
        }
        let seen = if v6 { &mut seen6 } else { &mut seen4 };
        if std::mem::replace(seen, true) {
            return Err(format!(
                "more than one {family} subnet in IPAM.Config: an rrun network has at most one IPv4 and one IPv6 subnet"
            ));
        }
        // The families match (checked above): the other arms never match.
        match subnet {
            IpNet::V4(s) => {
                req.subnet = Some(s);
                req.gateway = gateway.and_then(|g| match g {
                    IpAddr::V4(g) => Some(g),
                    IpAddr::V6(_) => None,
                });
                req.ip_range = ip_range.and_then(|r| match r {
                    IpNet::V4(r) => Some(r),
                    IpNet::V6(_) => None,
                });
            }
            IpNet::V6(s) => {
                req.subnet6 = Some(s);
                req.gateway6 = gateway.and_then(|g| match g {
                    IpAddr::V6(g) => Some(g),
                    IpAddr::V4(_) => None,
                });
                req.ip_range6 = ip_range.and_then(|r| match r {
                    IpNet::V6(r) => Some(r),
                    IpNet::V4(_) => None,
                });
            }
        }
    }
    Ok(())
}

fn is_builtin(n: &Network) -> bool {
    matches!(n.name.as_str(), "bridge" | "host" | "none")
}

/// Docker's network filters: `name` a pattern, `id` a prefix, every
/// `label`, `driver` and `type` exact; `scope` is always `local`.
fn network_matches(n: &Network, f: &Filters) -> bool {
    let driver = match n.driver {
        Driver::Bridge => "bridge",
        Driver::Host => "host",
        Driver::None => "null",
    };
    let kind = if is_builtin(n) { "builtin" } else { "custom" };
    f.pattern("name", n.name.as_str())
        && f.prefix("id", n.id.as_str())
        && f.exact("driver", driver)
        && f.exact("type", kind)
        && f.exact("scope", "local")
        && f.match_labels("label", &n.labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::containers::network::*;
    use crate::daemon::containers::ports::*;
    use crate::daemon::models::PortBinding as ApiPort;

    #[test]
    fn port_keys_parse() {
        assert_eq!(parse_port_key("80/tcp").unwrap(), (80, "tcp".into()));
        assert_eq!(parse_port_key("53/udp").unwrap(), (53, "udp".into()));
        assert_eq!(parse_port_key("8080").unwrap(), (8080, "tcp".into()));
        assert!(parse_port_key("80/sctp").is_err());
        assert!(parse_port_key("0/tcp").is_err());
        assert!(parse_port_key("x/tcp").is_err());
    }

    #[test]
    fn wanted_ports_follow_bindings_and_publish_all() {
        let mut b = BTreeMap::new();
        b.insert(
            "80/tcp".to_string(),
            vec![ApiPort {
                host_ip: "127.0.0.1".into(),
                host_port: "8080".into(),
            }],
        );
        b.insert("53/udp".to_string(), vec![ApiPort::default()]);
        let w = wanted_ports(&b, true, &["80/tcp".into(), "443/tcp".into()]).unwrap();
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].container_port, 53);
        assert_eq!(w[0].host_ports, None);
        assert_eq!(w[1].host_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(w[1].host_ports, Some((8080, 8080)));
        assert_eq!(w[2].container_port, 443);
        let mut b = BTreeMap::new();
        b.insert(
            "80/tcp".to_string(),
            vec![ApiPort {
                host_ip: String::new(),
                host_port: "9000-9010".into(),
            }],
        );
        assert_eq!(
            wanted_ports(&b, false, &[]).unwrap()[0].host_ports,
            Some((9000, 9010))
        );
        b.insert(
            "81/tcp".to_string(),
            vec![ApiPort {
                host_ip: "nope".into(),
                host_port: "1".into(),
            }],
        );
        assert!(wanted_ports(&b, false, &[]).is_err());
    }

    fn one(host_ip: &str) -> BTreeMap<String, Vec<ApiPort>> {
        let mut b = BTreeMap::new();
        b.insert(
            "80/udp".to_string(),
            vec![ApiPort {
                host_ip: host_ip.into(),
                host_port: "8080".into(),
            }],
        );
        b
    }

    #[test]
    fn ipv6_host_addresses_are_accepted() {
        let ip = |s: &str| wanted_ports(&one(s), false, &[]).map(|w| w[0].host_ip);
        assert_eq!(ip("::1"), Ok(Some("::1".parse().unwrap())));
        assert_eq!(ip("[::1]"), Ok(Some("::1".parse().unwrap())));
        assert_eq!(ip("2001:db8::1"), Ok(Some("2001:db8::1".parse().unwrap())));
        // The unspecified addresses are every address of their family.
        assert_eq!(ip("::"), Ok(Some("::".parse().unwrap())));
        assert_eq!(ip("0.0.0.0"), Ok(Some("0.0.0.0".parse().unwrap())));
        assert_eq!(ip(""), Ok(None));
        assert!(ip("fd00::zz").unwrap_err().contains("invalid IP address"));
        assert_eq!(host_port("::1".parse().unwrap(), 80), "[::1]:80");
        assert_eq!(host_port("0.0.0.0".parse().unwrap(), "1-2"), "0.0.0.0:1-2");
    }

    fn binding(host_ip: Option<&str>, port: u16) -> PortBinding {
        PortBinding {
            host_ip: host_ip.map(|i| i.parse().unwrap()),
            host_port: port,
            container_port: 80,
            protocol: "tcp".into(),
        }
    }

    #[test]
    fn ports_on_every_address_are_shown_per_family() {
        let ports = [binding(None, 8080), binding(Some("::1"), 8081)];
        let shown = |v6| -> Vec<String> {
            shown_bindings(&ports, v6)
                .iter()
                .map(|(ip, p)| host_port(*ip, p.host_port))
                .collect()
        };
        assert_eq!(shown(false), ["0.0.0.0:8080", "[::1]:8081"]);
        assert_eq!(shown(true), ["0.0.0.0:8080", "[::]:8080", "[::1]:8081"]);
    }

    fn ipam(config: Value) -> Result<netd::CreateNetwork, String> {
        let mut req = netd::CreateNetwork::bridge(netd::name::NetworkName::try_from("n").unwrap());
        ipam_request(config.as_array().unwrap(), &mut req).map(|()| req)
    }

    #[test]
    fn ipam_config_takes_one_entry_per_family() {
        let req = ipam(json!([
            {"Subnet": "fd00:1::/64", "Gateway": "fd00:1::1", "IPRange": "fd00:1::/80"},
            {"Subnet": "172.30.0.0/16", "Gateway": "172.30.0.254"},
        ]))
        .unwrap();
        assert_eq!(req.subnet, Some("172.30.0.0/16".parse().unwrap()));
        assert_eq!(req.gateway, Some("172.30.0.254".parse().unwrap()));
        assert_eq!(req.ip_range, None);
        assert_eq!(req.subnet6, Some("fd00:1::/64".parse().unwrap()));
        assert_eq!(req.gateway6, Some("fd00:1::1".parse().unwrap()));
        assert_eq!(req.ip_range6, Some("fd00:1::/80".parse().unwrap()));
        // Docker's empty entry, and none at all.
        assert_eq!(ipam(json!([{}])).unwrap().subnet, None);
        assert_eq!(ipam(json!([])).unwrap().subnet6, None);

        let err = ipam(json!([{"Subnet": "fd00:1::/64"}, {"Subnet": "fd00:2::/64"}])).unwrap_err();
        assert!(err.contains("more than one IPv6 subnet"), "{err}");
        let err = ipam(json!([{"Subnet": "10.1.0.0/16"}, {"Subnet": "10.2.0.0/16"}])).unwrap_err();
        assert!(err.contains("more than one IPv4 subnet"), "{err}");
        let err = ipam(json!([{"Subnet": "fd00:1::/64", "Gateway": "10.0.0.1"}])).unwrap_err();
        assert!(
            err.contains("gateway 10.0.0.1 is not in subnet fd00:1::/64"),
            "{err}"
        );
        let err = ipam(json!([{"Subnet": "10.0.0.0/8", "IPRange": "fd00::/80"}])).unwrap_err();
        assert!(err.contains("ip range fd00::/80"), "{err}");
        let err = ipam(json!([{"Gateway": "fd00::1"}])).unwrap_err();
        assert!(err.contains("no matching subnet"), "{err}");
        let err = ipam(json!([{"Subnet": "fd00::/129"}])).unwrap_err();
        assert!(err.contains("invalid subnet"), "{err}");
    }

    fn dual_stack() -> Network {
        use netd::store::{Endpoint, Ipam, IpamConfig};
        let mut containers = BTreeMap::new();
        for (id, v6) in [("c1", Some("fd00:1::2")), ("c2", None)] {
            containers.insert(
                id.to_string(),
                Endpoint {
                    name: id.into(),
                    ipv4_address: "172.30.0.2".parse().unwrap(),
                    ipv6_address: v6.map(|a| a.parse().unwrap()),
                    aliases: vec![],
                    hostname: None,
                    interface: "eth0".into(),
                    ports: vec![],
                },
            );
        }
        Network {
            name: netd::name::NetworkName::try_from("v6net").unwrap(),
            id: netd::name::NetworkId::random().unwrap(),
            driver: Driver::Bridge,
            ipam: Ipam {
                driver: "default".into(),
                config: vec![
                    IpamConfig {
                        subnet: "172.30.0.0/16".parse().unwrap(),
                        gateway: "172.30.0.1".parse().unwrap(),
                        ip_range: None,
                    },
                    IpamConfig {
                        subnet: "fd00:1::/64".parse().unwrap(),
                        gateway: "fd00:1::1".parse().unwrap(),
                        ip_range: None,
                    },
                ],
            },
            internal: false,
            enable_ipv6: true,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            containers,
            created: String::new(),
        }
    }

    #[test]
    fn inspect_shows_both_families() {
        let n = dual_stack();
        let v = network_json(&n);
        assert_eq!(v["EnableIPv6"], true);
        assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "172.30.0.0/16");
        assert_eq!(v["IPAM"]["Config"][1]["Subnet"], "fd00:1::/64");
        assert_eq!(v["IPAM"]["Config"][1]["Gateway"], "fd00:1::1");
        assert_eq!(v["Containers"]["c1"]["IPv6Address"], "fd00:1::2/64");
        assert_eq!(v["Containers"]["c2"]["IPv6Address"], "");

        let req = NetworkRequest {
            name: "v6net".into(),
            aliases: vec![],
            ipv4: None,
            ipv6: Some("fd00:1::2".parse().unwrap()),
        };
        let e = endpoint_json(Some(&n), Some("c1"), Some(&req));
        assert_eq!(e["GlobalIPv6Address"], "fd00:1::2");
        assert_eq!(e["GlobalIPv6PrefixLen"], 64);
        assert_eq!(e["IPv6Gateway"], "fd00:1::1");
        assert_eq!(e["IPAMConfig"], json!({"IPv6Address": "fd00:1::2"}));
        let e = endpoint_json(Some(&n), Some("c2"), None);
        assert_eq!(e["IPAddress"], "172.30.0.2");
        assert_eq!(e["GlobalIPv6Address"], "");
        assert_eq!(e["GlobalIPv6PrefixLen"], 0);
        assert_eq!(e["IPv6Gateway"], "");
        assert_eq!(e["IPAMConfig"], Value::Null);

        assert_eq!(
            check_ip6(&n, "fd00:1::42"),
            Ok("fd00:1::42".parse().unwrap())
        );
        assert!(check_ip6(&n, "fd00:2::42").unwrap_err().contains("not in"));
        assert!(check_ip6(&n, "172.30.0.9")
            .unwrap_err()
            .contains("invalid IPv6"));
        let mut v4 = n.clone();
        v4.ipam.config.pop();
        assert!(check_ip6(&v4, "fd00:1::42")
            .unwrap_err()
            .contains("has no IPv6"));
    }

    #[test]
    fn modes_parse() {
        assert_eq!(mode_of("host"), Mode::Host);
        assert_eq!(mode_of("none"), Mode::None);
        assert_eq!(mode_of("container:web"), Mode::Container("web".into()));
        assert_eq!(mode_of("todo-app"), Mode::Bridge);
        assert_eq!(mode_of("bridge"), Mode::Bridge);
    }
}
