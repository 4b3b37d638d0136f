//! IP address management: choosing subnets from address pools and addresses
//! inside a subnet. Pure: the host's routes come in as data.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::store::Network;

/// One entry of daemon.json's `default-address-pools`: split `base` into
/// subnets of prefix length `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPool {
    pub base: Ipv4Net,
    pub size: u8,
}

/// Docker's defaults: 172.17.0.0/16 (the default `bridge` network), then
/// 172.18.0.0/16 … 172.31.0.0/16, then 192.168.0.0/16 in /20s.
pub fn default_pools() -> Vec<AddressPool> {
    let mut pools: Vec<AddressPool> = (17..=31)
        .map(|b| AddressPool {
            base: Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).unwrap(),
            size: 16,
        })
        .collect();
    pools.push(AddressPool {
        base: "192.168.0.0/16".parse().unwrap(),
        size: 20,
    });
    pools
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IpamError {
    #[error("no free subnet left in the address pools; remove unused networks or configure default-address-pools")]
    PoolsExhausted,
    #[error("subnet {0} overlaps {1}, which is in use")]
    Overlap(Ipv4Net, Ipv4Net),
    #[error("address {0} is not in subnet {1}")]
    OutOfSubnet(Ipv4Addr, Ipv4Net),
    #[error("address {0} is already in use")]
    InUse(Ipv4Addr),
    #[error("no free address left in {0}")]
    SubnetFull(Ipv4Net),
    #[error("pool {0:?} is invalid: size must be at least the base prefix and at most 30")]
    BadPool(AddressPool),
}

pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Pick the first subnet from `pools` overlapping neither a subnet in use nor
/// one of the host's routes. Default routes (prefix 0) are ignored, as Docker does.
pub fn choose_subnet(
    pools: &[AddressPool],
    in_use: &[Ipv4Net],
    host_routes: &[Ipv4Net],
) -> Result<Ipv4Net, IpamError> {
    let taken: Vec<Ipv4Net> = in_use
        .iter()
        .chain(host_routes.iter().filter(|r| r.prefix_len() > 0))
        .copied()
        .collect();
    for pool in pools {
        if pool.size < pool.base.prefix_len() || pool.size > 30 {
            return Err(IpamError::BadPool(*pool));
        }
        let Ok(subnets) = pool.base.subnets(pool.size) else {
            return Err(IpamError::BadPool(*pool));
        };
        for candidate in subnets {
            if !taken.iter().any(|t| overlaps(t, &candidate)) {
                return Ok(candidate);
            }
        }
    }
    Err(IpamError::PoolsExhausted)
}

/// Check a user-given subnet (`--subnet`) against those in use.
pub fn check_subnet(subnet: Ipv4Net, in_use: &[Ipv4Net]) -> Result<(), IpamError> {
    match in_use.iter().find(|u| overlaps(u, &subnet)) {
        Some(u) => Err(IpamError::Overlap(subnet, *u)),
        None => Ok(()),
    }
}

/// Addresses of one subnet: the gateway and every endpoint's address.
#[derive(Debug, Clone)]
pub struct SubnetAllocator {
    subnet: Ipv4Net,
    range: Ipv4Net,
    gateway: Ipv4Addr,
    used: BTreeSet<Ipv4Addr>,
}

impl SubnetAllocator {
    pub fn new(
        subnet: Ipv4Net,
        gateway: Ipv4Addr,
        range: Option<Ipv4Net>,
    ) -> Result<Self, IpamError> {
        let subnet = subnet.trunc();
        if !subnet.contains(&gateway)
            || gateway == subnet.network()
            || gateway == subnet.broadcast()
        {
            return Err(IpamError::OutOfSubnet(gateway, subnet));
        }
        let range = range.map(|r| r.trunc()).unwrap_or(subnet);
        if !subnet.contains(&range) {
            return Err(IpamError::OutOfSubnet(range.network(), subnet));
        }
        let mut used = BTreeSet::new();
        used.insert(gateway);
        Ok(Self {
            subnet,
            range,
            gateway,
            used,
        })
    }

    /// The allocator of a stored network, with its endpoints' addresses taken.
    pub fn for_network(net: &Network) -> Result<Option<Self>, IpamError> {
        let Some(cfg) = net.ipv4() else {
            return Ok(None);
        };
        let mut a = Self::new(cfg.subnet, cfg.gateway, cfg.ip_range)?;
        for ep in net.containers.values() {
            a.take(ep.ipv4_address)?;
        }
        Ok(Some(a))
    }

    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    pub fn subnet(&self) -> Ipv4Net {
        self.subnet
    }

    /// Take a given address (`--ip`); anywhere in the subnet, like Docker.
    pub fn take(&mut self, ip: Ipv4Addr) -> Result<(), IpamError> {
        if !self.subnet.contains(&ip)
            || ip == self.subnet.network()
            || ip == self.subnet.broadcast()
        {
            return Err(IpamError::OutOfSubnet(ip, self.subnet));
        }
        if !self.used.insert(ip) {
            return Err(IpamError::InUse(ip));
        }
        Ok(())
    }

    /// The lowest free address of the range.
    pub fn allocate(&mut self) -> Result<Ipv4Addr, IpamError> {
        let found = self.range.hosts().find(|ip| {
            !self.used.contains(ip)
                && *ip != self.subnet.broadcast()
                && *ip != self.subnet.network()
        });
        match found {
            Some(ip) => {
                self.used.insert(ip);
                Ok(ip)
            }
            None => Err(IpamError::SubnetFull(self.subnet)),
        }
    }

    /// Give an address back; the gateway is never released.
    pub fn release(&mut self, ip: Ipv4Addr) -> bool {
        ip != self.gateway && self.used.remove(&ip)
    }
}

/// The subnets of every stored network, checked for overlaps between them.
pub fn subnets_in_use(nets: &[Network]) -> Result<Vec<Ipv4Net>, IpamError> {
    let mut seen: Vec<Ipv4Net> = Vec::new();
    for n in nets {
        for c in &n.ipam.config {
            if let Some(o) = seen.iter().find(|s| overlaps(s, &c.subnet)) {
                return Err(IpamError::Overlap(c.subnet, *o));
            }
            seen.push(c.subnet);
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::sample;
    use crate::store::Endpoint;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn default_pools_are_dockers() {
        let p = default_pools();
        assert_eq!(choose_subnet(&p, &[], &[]).unwrap(), net("172.17.0.0/16"));
        assert_eq!(
            choose_subnet(&p, &[net("172.17.0.0/16")], &[]).unwrap(),
            net("172.18.0.0/16")
        );
        let all172: Vec<Ipv4Net> = (17..=31).map(|b| net(&format!("172.{b}.0.0/16"))).collect();
        assert_eq!(
            choose_subnet(&p, &all172, &[]).unwrap(),
            net("192.168.0.0/20")
        );
        let mut more = all172.clone();
        more.push(net("192.168.0.0/20"));
        assert_eq!(
            choose_subnet(&p, &more, &[]).unwrap(),
            net("192.168.16.0/20")
        );
        more.push(net("192.168.0.0/16"));
        assert_eq!(
            choose_subnet(&p, &more, &[]),
            Err(IpamError::PoolsExhausted)
        );
    }

    #[test]
    fn host_routes_are_avoided_but_default_route_ignored() {
        let p = default_pools();
        let routes = [net("0.0.0.0/0"), net("172.17.5.0/24"), net("172.16.0.0/12")];
        // 172.16.0.0/12 covers every 172.x pool.
        assert_eq!(
            choose_subnet(&p, &[], &routes).unwrap(),
            net("192.168.0.0/20")
        );
        let routes = [net("172.17.5.0/24")];
        assert_eq!(
            choose_subnet(&p, &[], &routes).unwrap(),
            net("172.18.0.0/16")
        );
    }

    #[test]
    fn configured_pools_replace_defaults() {
        let p = [AddressPool {
            base: net("10.10.0.0/16"),
            size: 24,
        }];
        assert_eq!(
            choose_subnet(&p, &[net("10.10.0.0/24")], &[]).unwrap(),
            net("10.10.1.0/24")
        );
        let bad = [AddressPool {
            base: net("10.10.0.0/16"),
            size: 8,
        }];
        assert!(matches!(
            choose_subnet(&bad, &[], &[]),
            Err(IpamError::BadPool(_))
        ));
        let json = r#"[{"base":"10.1.0.0/16","size":24}]"#;
        let parsed: Vec<AddressPool> = serde_json::from_str(json).unwrap();
        assert_eq!(parsed[0].size, 24);
    }

    #[test]
    fn user_subnet_overlap_refused() {
        assert_eq!(
            check_subnet(net("172.18.1.0/24"), &[net("172.18.0.0/16")]),
            Err(IpamError::Overlap(
                net("172.18.1.0/24"),
                net("172.18.0.0/16")
            ))
        );
        assert!(check_subnet(net("172.19.0.0/16"), &[net("172.18.0.0/16")]).is_ok());
    }

    #[test]
    fn addresses_allocate_release_and_static() {
        let mut a =
            SubnetAllocator::new(net("10.0.0.0/29"), "10.0.0.1".parse().unwrap(), None).unwrap();
        assert_eq!(
            a.allocate().unwrap(),
            "10.0.0.2".parse::<Ipv4Addr>().unwrap()
        );
        a.take("10.0.0.3".parse().unwrap()).unwrap();
        assert_eq!(
            a.take("10.0.0.3".parse().unwrap()),
            Err(IpamError::InUse("10.0.0.3".parse().unwrap()))
        );
        assert!(a.take("10.0.0.7".parse().unwrap()).is_err(), "broadcast");
        assert!(a.take("10.0.1.3".parse().unwrap()).is_err());
        assert_eq!(
            a.allocate().unwrap(),
            "10.0.0.4".parse::<Ipv4Addr>().unwrap()
        );
        assert_eq!(
            a.allocate().unwrap(),
            "10.0.0.5".parse::<Ipv4Addr>().unwrap()
        );
        assert_eq!(
            a.allocate().unwrap(),
            "10.0.0.6".parse::<Ipv4Addr>().unwrap()
        );
        assert_eq!(a.allocate(), Err(IpamError::SubnetFull(net("10.0.0.0/29"))));
        assert!(a.release("10.0.0.4".parse().unwrap()));
        assert!(!a.release("10.0.0.4".parse().unwrap()));
        assert!(!a.release("10.0.0.1".parse().unwrap()), "gateway stays");
        assert_eq!(
            a.allocate().unwrap(),
            "10.0.0.4".parse::<Ipv4Addr>().unwrap()
        );
    }

    #[test]
    fn ip_range_limits_dynamic_allocation() {
        let mut a = SubnetAllocator::new(
            net("10.0.0.0/24"),
            "10.0.0.1".parse().unwrap(),
            Some(net("10.0.0.128/25")),
        )
        .unwrap();
        assert_eq!(
            a.allocate().unwrap(),
            "10.0.0.129".parse::<Ipv4Addr>().unwrap()
        );
        a.take("10.0.0.5".parse().unwrap()).unwrap();
    }

    #[test]
    fn state_rebuilt_from_store_has_no_double_allocation() {
        let mut n = sample("x", "172.20.0.0/16");
        for (i, ip) in ["172.20.0.2", "172.20.0.3"].iter().enumerate() {
            n.containers.insert(
                format!("c{i}"),
                Endpoint {
                    name: format!("c{i}"),
                    ipv4_address: ip.parse().unwrap(),
                    aliases: vec![],
                    hostname: None,
                    interface: "eth0".into(),
                    ports: vec![],
                },
            );
        }
        let mut a = SubnetAllocator::for_network(&n).unwrap().unwrap();
        assert_eq!(
            a.allocate().unwrap(),
            "172.20.0.4".parse::<Ipv4Addr>().unwrap()
        );
        // Two endpoints claiming one address is a corrupt store, reported.
        n.containers.get_mut("c1").unwrap().ipv4_address = "172.20.0.2".parse().unwrap();
        assert!(SubnetAllocator::for_network(&n).is_err());
        let m = sample("y", "172.20.0.0/24");
        assert!(subnets_in_use(&[n.clone(), m]).is_err());
        let m = sample("y", "172.21.0.0/24");
        assert_eq!(subnets_in_use(&[n, m]).unwrap().len(), 2);
    }
}
