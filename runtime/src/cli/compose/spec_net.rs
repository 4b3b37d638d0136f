//! A service's networks: `network_mode`, or its networks with their
//! aliases (the service name on every network; on `default` the container
//! name too) and fixed addresses, all in one create body (rrund takes
//! every network of `EndpointsConfig` at create).

use anyhow::{anyhow, Result};
use std::collections::HashMap;

use rrun_compose::model::{NetworkMode, Project, Service};

use crate::apimodel::models::{EndpointIpamConfig, EndpointSettings, HostConfig, NetworkingConfig};

use super::spec::Instance;

/// Sets `host.network_mode`; the endpoints when the service has networks.
pub fn networking(
    p: &Project,
    s: &Service,
    inst: &Instance,
    host: &mut HostConfig,
) -> Result<Option<NetworkingConfig>> {
    if let Some(mode) = &s.network_mode {
        host.network_mode = Some(match mode {
            NetworkMode::Host => "host".into(),
            NetworkMode::None => "none".into(),
            NetworkMode::Bridge => "bridge".into(),
            NetworkMode::Container(c) => format!("container:{c}"),
            NetworkMode::Service(svc) => {
                let id = inst.joined.as_ref().ok_or_else(|| {
                    anyhow!(
                        "service {:?} joins the network of service {svc:?}, which has no container: \
                         start {svc:?} first",
                        s.name
                    )
                })?;
                format!("container:{id}")
            }
        });
        return Ok(None);
    }
    // The highest priority first (then the file's order): the mode.
    let mut nets: Vec<(&String, &rrun_compose::model::ServiceNetwork)> =
        s.networks.iter().collect();
    nets.sort_by_key(|(_, n)| -n.priority);
    let mut endpoints = HashMap::new();
    for (key, n) in &nets {
        let net = p
            .networks
            .get(*key)
            .ok_or_else(|| anyhow!("service {:?} refers to undefined network {key:?}", s.name))?;
        // A one-off `run` container answers to no service name.
        let mut aliases = Vec::new();
        if !inst.oneoff {
            aliases.push(s.name.clone());
            if key.as_str() == "default" {
                aliases.push(inst.name.clone());
            }
            aliases.extend(n.aliases.iter().cloned());
        }
        let ipam =
            (n.ipv4_address.is_some() || n.ipv6_address.is_some()).then(|| EndpointIpamConfig {
                ipv4_address: n.ipv4_address.clone(),
                ipv6_address: n.ipv6_address.clone(),
                ..Default::default()
            });
        endpoints.insert(
            net.name.clone(),
            EndpointSettings {
                aliases: Some(aliases),
                ipam_config: ipam,
                mac_address: n.mac_address.clone(),
                ..Default::default()
            },
        );
    }
    if let Some((key, _)) = nets.first() {
        host.network_mode = Some(p.networks[*key].name.clone());
    }
    Ok(Some(NetworkingConfig {
        endpoints_config: Some(endpoints),
    }))
}
