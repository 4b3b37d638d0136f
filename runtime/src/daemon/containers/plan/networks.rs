//! Pure: the networks a create asks for, checked against the networks and
//! containers the [`Lookup`] knows, as [`NetworkAttachment`]s; and the
//! published ports' host addresses against the first network's families.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use netd::store::Driver;

use super::types::{NetworkAttachment, NetworkRef};
use super::{Lookup, PlanError};
use crate::daemon::containers::network::{mode_of, parse_link, Mode};
use crate::daemon::containers::ports::WantedPort;
use crate::daemon::models::{ContainerConfig, EndpointSettings, HostConfig};
use crate::daemon::networks::{check_ip6, net_err};

/// The networks a container asks for, checked. Returns the normalised
/// `NetworkMode` and the networks in attach order (none for `host`,
/// `none` and `container:…`).
pub fn plan_networks(
    look: &dyn Lookup,
    network_mode: &str,
    endpoints: &BTreeMap<String, EndpointSettings>,
) -> Result<(String, Vec<NetworkAttachment>), PlanError> {
    let mode = match network_mode {
        "" | "default" => "bridge".to_string(),
        m => m.to_string(),
    };
    match mode_of(&mode) {
        Mode::Host | Mode::None => {
            if endpoints.keys().any(|k| *k != mode) {
                return Err(PlanError::Invalid(
                    "container cannot be disconnected from host network or connected to host network"
                        .replace("host", &mode),
                ));
            }
            return Ok((mode, vec![]));
        }
        Mode::Container(other) => {
            look.container(&other)?;
            return Ok((mode, vec![]));
        }
        Mode::Bridge => {}
    }
    // The mode's network first, then the others of EndpointsConfig.
    let mut names: Vec<&str> = vec![mode.as_str()];
    // Docker 23+ CLIs name the mode's network `default` in EndpointsConfig.
    names.extend(
        endpoints
            .keys()
            .map(String::as_str)
            .filter(|k| *k != mode && *k != "default"),
    );
    let mut out = Vec::new();
    for name in names {
        let ep = endpoints
            .get(name)
            .or_else(|| (name == mode).then(|| endpoints.get("default")).flatten())
            .cloned()
            .unwrap_or_default();
        out.push(attachment(look, name, ep)?);
    }
    Ok((mode, out))
}

/// One network's endpoint settings, checked against the network.
fn attachment(
    look: &dyn Lookup,
    name: &str,
    ep: EndpointSettings,
) -> Result<NetworkAttachment, PlanError> {
    let net = look.network(name)?;
    if net.driver != Driver::Bridge {
        return Err(PlanError::Invalid(format!(
            "container cannot be connected to network {} with other networks",
            net.name
        )));
    }
    let default_net = net.name.as_str() == netd::manager::DEFAULT_NETWORK;
    if default_net && !ep.aliases.is_empty() {
        return Err(PlanError::AliasOnDefaultBridge);
    }
    let ipam = &ep.ipam_config;
    if default_net && !(ipam.ipv4_address.is_empty() && ipam.ipv6_address.is_empty()) {
        return Err(PlanError::AddressOnDefaultBridge);
    }
    let ipv4 = match ipam.ipv4_address.as_str() {
        "" => None,
        ip => Some(
            ip.parse::<Ipv4Addr>()
                .map_err(|_| PlanError::Invalid(format!("invalid IPv4 address: {ip}")))?,
        ),
    };
    let ipv6 = match ipam.ipv6_address.as_str() {
        "" => None,
        ip => Some(check_ip6(&net, ip).map_err(PlanError::Invalid)?),
    };
    let mac = match ep.mac_address.as_str() {
        "" => None,
        m => Some(netd::link::parse_mac(m).map_err(PlanError::Invalid)?),
    };
    Ok(NetworkAttachment {
        links: plan_links(look, &ep.links)?,
        aliases: ep
            .aliases
            .iter()
            .map(|a| a.parse())
            .collect::<Result<_, _>>()?,
        network: NetworkRef {
            id: net.id,
            name: net.name,
        },
        ipv4,
        ipv6,
        mac,
    })
}

/// `--link name[:alias]` (or inspect's `/name:/self/alias`): the linked
/// container must exist; the alias is its name when not given.
fn plan_links(look: &dyn Lookup, links: &[String]) -> Result<Vec<netd::store::Link>, PlanError> {
    links
        .iter()
        .map(|l| {
            let (name, alias) = parse_link(l);
            if name.is_empty() || alias.is_empty() {
                return Err(PlanError::Invalid(format!(
                    "invalid link {l:?}: use name or name:alias"
                )));
            }
            let target = look.container(name).map_err(|e| PlanError::NoSuchLink {
                name: name.to_string(),
                reason: e.message,
            })?;
            Ok(netd::store::Link {
                name: target.name,
                alias: alias.to_string(),
            })
        })
        .collect()
}

/// So that nothing is made: an IPv6 host address in `-p` needs IPv6 on
/// the network the ports go with (the first), and cannot be `::1` (netd
/// checks both again at connect).
pub(super) fn check_port_families(
    look: &dyn Lookup,
    networks: &[NetworkAttachment],
    wanted: &[WantedPort],
) -> Result<(), PlanError> {
    let Some(first) = networks.first() else {
        // host, none, container:…: no ports of its own.
        return Ok(());
    };
    let mut net = None;
    for w in wanted {
        let Some(ip) = w.host_ip().filter(IpAddr::is_ipv6) else {
            continue;
        };
        if net.is_none() {
            net = Some(look.network(first.network.name.as_str())?);
        }
        let net = net.as_ref().expect("just read");
        netd::manager::check_host_ip(net, Some(ip), &w.describe())
            .map_err(|e| crate::daemon::ApiError::from(net_err(e)))?;
    }
    Ok(())
}

/// The endpoint settings with HostConfig.Links and an old API's
/// Config.MacAddress put on the container's own network, where Docker
/// applies them.
pub(super) fn own_network_settings(
    config: &ContainerConfig,
    host: &HostConfig,
    mut endpoints: BTreeMap<String, EndpointSettings>,
) -> BTreeMap<String, EndpointSettings> {
    if host.links.is_empty() && config.mac_address.is_empty() {
        return endpoints;
    }
    let mode = match host.network_mode.as_str() {
        "" | "default" => "bridge".to_string(),
        m => m.to_string(),
    };
    let key = if endpoints.contains_key("default") {
        "default".to_string()
    } else {
        mode
    };
    let ep = endpoints.entry(key).or_default();
    ep.links.extend(host.links.iter().cloned());
    if ep.mac_address.is_empty() {
        ep.mac_address = config.mac_address.clone();
    }
    endpoints
}
