//! The default `bridge` network across restarts. Made once and kept in the
//! store, it follows daemon.json again at each start (`bridge`, `bip`,
//! `fixed-cidr`, as Docker rebuilds docker0), and it leaves a subnet that
//! another interface has come to route (another rrund's bridge, made while
//! this daemon was down), so two daemons never share one. A network with
//! containers attached is never moved under them.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use super::{bridge_spec, Netd, NetdError, DEFAULT_BRIDGE, DEFAULT_TABLE};
use crate::ipam::{self, overlaps, SubnetAllocator};
use crate::link;
use crate::store::{IpamConfig, Network, BRIDGE_NAME_OPTION};

/// The IPv4 entry daemon.json fixes for the default network, if any: `bip`
/// (the bridge's address and prefix) with `fixed-cidr` as the range of
/// container addresses; `fixed-cidr` alone is both subnet and range, as in
/// Docker. Pure; checks the two agree.
pub fn configured_ipv4(
    bip: Option<Ipv4Net>,
    fixed_cidr: Option<Ipv4Net>,
) -> Result<Option<IpamConfig>, NetdError> {
    let range = fixed_cidr.map(|r| IpNet::V4(r.trunc()));
    let entry = match (bip, fixed_cidr) {
        (None, None) => return Ok(None),
        (Some(bip), _) => {
            let subnet = bip.trunc();
            if bip.prefix_len() < 31
                && (bip.addr() == subnet.network() || bip.addr() == subnet.broadcast())
            {
                return Err(NetdError::DefaultNetwork(format!(
                    "daemon.json bip {bip}: give the bridge's own address with its prefix (e.g. {}/{})",
                    subnet.hosts().next().unwrap_or(bip.addr()),
                    bip.prefix_len()
                )));
            }
            IpamConfig {
                subnet: IpNet::V4(subnet),
                gateway: IpAddr::V4(bip.addr()),
                ip_range: range,
                aux_addresses: Default::default(),
            }
        }
        (None, Some(fixed)) => {
            let subnet = fixed.trunc();
            let gateway = subnet.hosts().next().ok_or_else(|| {
                NetdError::DefaultNetwork(format!(
                    "daemon.json fixed-cidr {fixed} has no address for the bridge; use a larger subnet or set bip"
                ))
            })?;
            IpamConfig {
                subnet: IpNet::V4(subnet),
                gateway: IpAddr::V4(gateway),
                ip_range: range,
                aux_addresses: Default::default(),
            }
        }
    };
    SubnetAllocator::new(entry.subnet, entry.gateway, entry.ip_range).map_err(|e| {
        NetdError::DefaultNetwork(format!(
            "daemon.json bip/fixed-cidr: {e}; fixed-cidr must lie inside bip's subnet"
        ))
    })?;
    Ok(Some(entry))
}

/// What the default network's IPv4 entry should become. Pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ipv4Change {
    Keep,
    /// daemon.json's `bip` / `fixed-cidr`, now different.
    Configured(IpamConfig),
    /// Chosen automatically and now routed by another interface: a new
    /// subnet from the pools.
    Rechoose,
}

/// Compare the default network's `current` entry with daemon.json's
/// `configured` one; without one, an automatic subnet overlapping
/// `elsewhere` (routes through other interfaces, default routes excluded)
/// must move.
pub fn ipv4_change(
    current: &IpamConfig,
    configured: Option<&IpamConfig>,
    elsewhere: &[IpNet],
) -> Ipv4Change {
    match configured {
        Some(c) if c == current => Ipv4Change::Keep,
        Some(c) => Ipv4Change::Configured(c.clone()),
        None if elsewhere
            .iter()
            .any(|r| r.prefix_len() > 0 && overlaps(r, &current.subnet)) =>
        {
            Ipv4Change::Rechoose
        }
        None => Ipv4Change::Keep,
    }
}

impl Netd {
    /// The default network `n` as daemon.json asks for it now (see the
    /// module's notes). Called with the lock held.
    pub(super) fn reconcile_default(&self, n: Network) -> Result<Network, NetdError> {
        let Some(current) = n.ipv4().cloned() else {
            return Ok(n);
        };
        let configured = configured_ipv4(self.cfg.default_bip, self.cfg.default_ip_range)?;
        let bridge = self.cfg.instance.default_bridge.clone();
        let old_bridge = n.bridge_name();
        // What other interfaces route, our (wanted) bridge's own routes aside.
        let elsewhere = link::host_routes_except(&self.host, Some(&bridge))?;
        let change = ipv4_change(&current, configured.as_ref(), &elsewhere);
        if change == Ipv4Change::Keep && old_bridge == bridge {
            return Ok(n);
        }
        if !n.containers.is_empty() {
            return self.keep_with_containers(n, &change, &old_bridge);
        }
        let nets = self.store.load_all()?;
        let others: Vec<Network> = nets.iter().filter(|o| o.id != n.id).cloned().collect();
        let in_use = ipam::subnets_in_use(&others)?;
        let entry = match change {
            Ipv4Change::Keep => current.clone(),
            Ipv4Change::Configured(c) => {
                ipam::check_subnet(c.subnet, &in_use)?;
                c
            }
            Ipv4Change::Rechoose => {
                let routes = link::host_routes(&self.host)?;
                let taken: Vec<IpNet> = in_use.iter().chain(&elsewhere).copied().collect();
                self.pool_entry(false, None, None, None, &taken, &routes)?
            }
        };
        let mut moved = n.clone();
        moved
            .options
            .insert(BRIDGE_NAME_OPTION.into(), bridge.clone());
        for c in moved.ipam.config.iter_mut().filter(|c| !c.is_v6()) {
            *c = entry.clone();
        }
        tracing::info!(
            network = %n.name, from = %current.subnet, to = %entry.subnet,
            old_bridge = %old_bridge, bridge = %bridge,
            "moving the default network (daemon.json, or its subnet is routed elsewhere)"
        );
        // The old bridge holds the old address. A bridge of a name rrun
        // derives for this daemon goes; one daemon.json named may be
        // another program's (Docker's docker0): it only loses our address;
        // `rrun0`, where this is not the default daemon, is that daemon's
        // (from before names were per daemon) and is left alone.
        let compat = self.cfg.instance.table == DEFAULT_TABLE;
        if old_bridge == self.cfg.instance.table || (old_bridge == DEFAULT_BRIDGE && compat) {
            link::remove_link(&self.host, &old_bridge)?;
        } else if old_bridge != DEFAULT_BRIDGE && entry != current {
            link::remove_addr(&self.host, &old_bridge, current.gateway_net())?;
        }
        if let Some(spec) = bridge_spec(&moved) {
            link::ensure_bridge(&self.host, &spec)?;
        }
        self.store.save(&moved)?;
        let all: Vec<Network> = others.into_iter().chain([moved.clone()]).collect();
        self.refresh(&all)?;
        Ok(moved)
    }

    /// Containers are attached: nothing moves. A changed `bip` or
    /// `fixed-cidr` is an error naming them; a new bridge name or a subnet
    /// routed elsewhere waits until they are gone.
    fn keep_with_containers(
        &self,
        n: Network,
        change: &Ipv4Change,
        old_bridge: &str,
    ) -> Result<Network, NetdError> {
        let names: Vec<&str> = n.containers.values().map(|e| e.name.as_str()).collect();
        if let Ipv4Change::Configured(c) = change {
            return Err(NetdError::DefaultNetwork(format!(
                "daemon.json bip/fixed-cidr ask for {} on the default network, which has {} while containers {} use it; stop them or keep the old setting",
                c.subnet,
                n.ipv4().map(|c| c.subnet.to_string()).unwrap_or_default(),
                names.join(", ")
            )));
        }
        tracing::warn!(
            network = %n.name, bridge = %old_bridge, containers = %names.join(", "),
            "the default network keeps its bridge and subnet while containers use it; it moves at the first start without them"
        );
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(subnet: &str, gateway: &str, range: Option<&str>) -> IpamConfig {
        IpamConfig {
            subnet: subnet.parse().unwrap(),
            gateway: gateway.parse().unwrap(),
            ip_range: range.map(|r| r.parse().unwrap()),
            aux_addresses: Default::default(),
        }
    }

    #[test]
    fn bip_and_fixed_cidr_are_dockers() {
        let net = |s: &str| Some(s.parse::<Ipv4Net>().unwrap());
        assert_eq!(configured_ipv4(None, None).unwrap(), None);
        assert_eq!(
            configured_ipv4(net("10.9.0.5/24"), None).unwrap(),
            Some(entry("10.9.0.0/24", "10.9.0.5", None))
        );
        assert_eq!(
            configured_ipv4(net("10.9.0.1/16"), net("10.9.8.0/24")).unwrap(),
            Some(entry("10.9.0.0/16", "10.9.0.1", Some("10.9.8.0/24")))
        );
        // fixed-cidr alone: subnet and range (Docker's preferred pool).
        assert_eq!(
            configured_ipv4(None, net("10.7.0.0/24")).unwrap(),
            Some(entry("10.7.0.0/24", "10.7.0.1", Some("10.7.0.0/24")))
        );
        let e = configured_ipv4(net("10.9.0.0/24"), None).unwrap_err();
        assert!(e.to_string().contains("e.g. 10.9.0.1/24"), "{e}");
        let e = configured_ipv4(net("10.9.0.1/24"), net("10.8.0.0/24")).unwrap_err();
        assert!(e.to_string().contains("inside bip's subnet"), "{e}");
    }

    #[test]
    fn an_automatic_subnet_routed_elsewhere_moves_a_configured_one_follows_the_config() {
        let cur = entry("172.17.0.0/16", "172.17.0.1", None);
        let routes = |r: &[&str]| r.iter().map(|s| s.parse().unwrap()).collect::<Vec<IpNet>>();
        assert_eq!(
            ipv4_change(&cur, None, &routes(&["0.0.0.0/0", "10.0.0.0/8"])),
            Ipv4Change::Keep
        );
        assert_eq!(
            ipv4_change(&cur, None, &routes(&["172.17.0.0/16"])),
            Ipv4Change::Rechoose
        );
        assert_eq!(
            ipv4_change(&cur, None, &routes(&["172.17.0.1/32"])),
            Ipv4Change::Rechoose,
            "another bridge's local route"
        );
        assert_eq!(
            ipv4_change(&cur, Some(&cur), &routes(&["172.17.0.0/16"])),
            Ipv4Change::Keep,
            "the user's bip stands"
        );
        let other = entry("10.9.0.0/24", "10.9.0.1", None);
        assert_eq!(
            ipv4_change(&cur, Some(&other), &[]),
            Ipv4Change::Configured(other.clone())
        );
    }
}
