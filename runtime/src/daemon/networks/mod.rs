//! The networks service: `network create/ls/inspect/rm/prune/connect/
//! disconnect` on netd's store ([`view`]: the network views of `docker
//! inspect` and `docker ps` of a container).

mod view;

pub use view::*;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use netd::netns::NetNs;
use netd::store::{Driver, Network};
use netd::{ConnectOptions, ContainerRef, NetdError};

use crate::apimodel::models::{IpamConfig, NetworkCreateRequest, NetworkCreateResponse};
use crate::apimodel::network::NetworkResource;
use crate::daemon::containers::network::{mode_of, Mode};
use crate::daemon::models::NetworkConnectBody;
use crate::daemon::{ContainerError, Daemon, Filters, NetworkError};

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

/// netd's error as the networks service's (for `map_err` where `?`
/// cannot infer it).
pub(crate) fn net_err(e: NetdError) -> NetworkError {
    e.into()
}

/// Network API handlers' logic (the routes are in `api`).
impl Daemon {
    /// `GET /networks` with Docker's filters (driver, id, label, name,
    /// scope, type, dangling).
    pub fn network_list(&self, filters: &Filters) -> Result<Vec<NetworkResource>, NetworkError> {
        filters.validate(&["dangling", "driver", "id", "label", "name", "scope", "type"])?;
        filters.validate_values("type", &["custom", "builtin"])?;
        filters.validate_values("scope", &["local", "swarm", "global"])?;
        filters.validate_patterns("name")?;
        let dangling = filters.bool_value("dangling")?;
        let used = self.networks_in_use();
        let nets = self.netd.networks()?;
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

    pub fn network_inspect(&self, key: &str) -> Result<NetworkResource, NetworkError> {
        self.netd
            .inspect(key)
            .map(|n| network_json(&n))
            .map_err(net_err)
    }

    /// `POST /networks/create`.
    pub fn network_create(
        &self,
        body: &NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, NetworkError> {
        let name = netd::name::NetworkName::try_from(body.name.as_str())
            .map_err(|e| NetworkError::InvalidOption(e.to_string()))?;
        let driver = body.driver.as_deref().unwrap_or("bridge");
        if matches!(name.as_str(), "host" | "none" | "bridge")
            && driver == "bridge"
            && self.netd.inspect(name.as_str()).is_ok()
        {
            return Err(NetworkError::NameInUse(name.to_string()));
        }
        if !matches!(driver, "" | "bridge") {
            return Err(NetworkError::NoSuchPlugin(driver.to_string()));
        }
        if body.enable_ipv4 == Some(false) {
            return Err(NetworkError::Ipv6Only);
        }
        let mut req = netd::CreateNetwork::bridge(name);
        req.internal = body.internal.unwrap_or(false);
        // A JSON null (API 1.48's optional field) is false.
        req.enable_ipv6 = body.enable_ipv6.unwrap_or(false);
        let sorted = |m: &Option<std::collections::HashMap<String, String>>| {
            m.iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        req.labels = sorted(&body.labels);
        req.options = sorted(&body.options);
        let config = body.ipam.as_ref().and_then(|i| i.config.as_deref());
        ipam_request(config.unwrap_or_default(), &mut req)?;
        let n = self.netd.create_network(req)?;
        self.events.emit(
            "network",
            "create",
            n.id.as_str(),
            &[("name", n.name.as_str()), ("type", "bridge")],
        );
        tracing::info!(network = %n.name, id = %n.id, "network created");
        Ok(NetworkCreateResponse {
            id: n.id.to_string(),
            warning: String::new(),
        })
    }

    /// `DELETE /networks/{id}`.
    pub fn network_remove(&self, key: &str) -> Result<(), NetworkError> {
        let n = self.netd.inspect(key)?;
        if matches!(n.name.as_str(), "bridge" | "host" | "none") {
            return Err(NetworkError::Predefined(n.name.to_string()));
        }
        // As Docker: refused while a running container is attached (netd
        // knows its endpoints); stopped containers that name it do not
        // hold it, and fail to start until it exists again. A container
        // already seen removed leaves its endpoint a moment later: after
        // `run --rm` a script's `network rm` finds it gone.
        self.removing.settle(Duration::from_secs(10));
        self.netd.remove_network(n.id.as_str())?;
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
    pub fn network_prune(&self, filters: &Filters) -> Result<Vec<String>, NetworkError> {
        filters.validate(&["label", "label!", "until"])?;
        let until = super::events::until_of(filters)?;
        let used = self.networks_in_use();
        let nets = self.netd.networks()?;
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
    pub fn network_connect(
        self: &Arc<Self>,
        key: &str,
        body: &NetworkConnectBody,
    ) -> Result<(), ContainerError> {
        let net = self.netd.inspect(key)?;
        let c = self.container(&body.container)?;
        if mode_of(&c.host_config.network_mode) != Mode::Bridge || net.driver != Driver::Bridge {
            return Err(NetworkError::SharedNamespace.into());
        }
        if c.networks.iter().any(|r| r.name == net.name.as_str()) {
            return Err(NetworkError::EndpointExists {
                container: c.name.clone(),
                network: net.name.to_string(),
            }
            .into());
        }
        let mut eps = BTreeMap::new();
        let ep = body.endpoint_config.clone().unwrap_or_default();
        eps.insert(net.name.to_string(), ep);
        let (_, mut reqs) = self.plan_networks(net.name.as_str(), &eps)?;
        let req = reqs.remove(0);
        if c.state.running {
            let ns = NetNs::open(self.netns_path(&c.id)).map_err(ContainerError::internal)?;
            let cref = ContainerRef {
                id: &c.id,
                name: &c.name,
                hostname: Some(&c.config.hostname),
                netns: &ns,
            };
            self.netd.connect(
                &req.name,
                cref,
                ConnectOptions {
                    aliases: req.aliases.clone(),
                    ipv4: req.ipv4,
                    ipv6: req.ipv6,
                    ports: vec![],
                    links: req.links.clone(),
                    mac: req.mac,
                },
            )?;
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
    pub fn network_disconnect(
        &self,
        key: &str,
        body: &NetworkConnectBody,
    ) -> Result<(), ContainerError> {
        let net = self.netd.inspect(key)?;
        let c = self.container(&body.container)?;
        if !c.networks.iter().any(|r| r.name == net.name.as_str()) {
            return Err(NetworkError::NotConnected {
                container: c.id.clone(),
                network: net.name.to_string(),
            }
            .into());
        }
        if net.containers.contains_key(&c.id) {
            self.netd.disconnect(net.id.as_str(), &c.id)?;
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

/// One `IPAM.Config` field, parsed when given.
fn ipam_field<T: std::str::FromStr>(
    v: &Option<String>,
    key: &str,
) -> Result<Option<T>, NetworkError> {
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            NetworkError::InvalidOption(format!("invalid {}: {s}", key.to_lowercase()))
        }),
    }
}

/// `IPAM.Config` of `POST /networks/create` into `req`: at most one entry
/// per family, each entry's family that of its subnet, and its gateway and
/// range of the same family (netd checks that they lie in the subnet).
pub fn ipam_request(
    config: &[IpamConfig],
    req: &mut netd::CreateNetwork,
) -> Result<(), NetworkError> {
    let (mut seen4, mut seen6) = (false, false);
    for cfg in config {
        let subnet: Option<IpNet> = ipam_field(&cfg.subnet, "Subnet")?;
        let gateway: Option<IpAddr> = ipam_field(&cfg.gateway, "Gateway")?;
        let ip_range: Option<IpNet> = ipam_field(&cfg.ip_range, "IPRange")?;
        if let Some(aux) = &cfg.auxiliary_addresses {
            // Sorted, so a bad entry is reported the same way each time.
            for (name, ip) in aux.iter().collect::<BTreeMap<_, _>>() {
                let ip: IpAddr = ip.parse().map_err(|_| {
                    NetworkError::InvalidOption(format!(
                        "invalid auxiliary address {name}: \"{ip}\" is not an IP address"
                    ))
                })?;
                req.aux_addresses.insert(name.clone(), ip);
            }
        }
        let Some(subnet) = subnet else {
            if gateway.is_some() || ip_range.is_some() {
                return Err(NetworkError::InvalidOption(
                    "no matching subnet for gateway or range".into(),
                ));
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
            return Err(NetworkError::InvalidOption(format!(
                "{what} is not in subnet {subnet}: not an {family} address"
            )));
        }
        let seen = if v6 { &mut seen6 } else { &mut seen4 };
        if std::mem::replace(seen, true) {
            return Err(NetworkError::InvalidOption(format!(
                "more than one {family} subnet in IPAM.Config: an rrun network has at most one IPv4 and one IPv6 subnet"
            )));
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
mod tests;
