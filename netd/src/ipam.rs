//! IP address management: choosing subnets from address pools and addresses
//! inside a subnet, IPv4 and IPv6 alike. Pure: the host's routes come in as
//! data.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::store::Network;

/// One entry of daemon.json's `default-address-pools`: split `base` into
/// subnets of prefix length `size`. IPv4 and IPv6 pools may be mixed; a
/// network takes its IPv4 subnet from the IPv4 pools and, with `--ipv6`, its
/// IPv6 subnet from the IPv6 ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPool {
    pub base: IpNet,
    pub size: u8,
}

/// Docker's defaults: 172.17.0.0/16 (the default `bridge` network), then
/// 172.18.0.0/16 … 172.31.0.0/16, then 192.168.0.0/16 in /20s. No IPv6
/// pool: see [`ula_pool`].
pub fn default_pools() -> Vec<AddressPool> {
    let mut pools: Vec<AddressPool> = (17..=31)
        .map(|b| AddressPool {
            base: IpNet::V4(Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).unwrap()),
            size: 16,
        })
        .collect();
    pools.push(AddressPool {
        base: "192.168.0.0/16".parse().unwrap(),
        size: 20,
    });
    pools
}

/// The IPv6 pool used when `default-address-pools` has none, as Docker 27
/// does: a unique local /48 (RFC 4193) split into /64s. The 40-bit global id
/// comes from `seed` (the machine id), so the same host always picks the
/// same prefix and two hosts almost never share one.
pub fn ula_pool(seed: &[u8]) -> AddressPool {
    // FNV-1a, 64 bits: stable across releases, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let g = h & 0xff_ffff_ffff;
    let addr = Ipv6Addr::new(
        0xfd00 | ((g >> 32) as u16),
        (g >> 16) as u16,
        g as u16,
        0,
        0,
        0,
        0,
        0,
    );
    AddressPool {
        base: IpNet::V6(Ipv6Net::new(addr, 48).expect("/48 is valid")),
        size: 64,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IpamError {
    #[error("no free subnet left in the address pools; remove unused networks or configure default-address-pools")]
    PoolsExhausted,
    #[error("subnet {0} overlaps {1}, which is in use")]
    Overlap(IpNet, IpNet),
    #[error("address {0} is not in subnet {1}")]
    OutOfSubnet(IpAddr, IpNet),
    #[error("address {0} is already in use")]
    InUse(IpAddr),
    #[error("no free address left in {0}")]
    SubnetFull(IpNet),
    #[error("pool {0:?} is invalid: size must be at least the base prefix and at most 30 (IPv4) or 126 (IPv6)")]
    BadPool(AddressPool),
    #[error("no matching subnet for aux-address {0}={1}: give one of the network's subnets an address of it")]
    NoSubnetForAux(String, IpAddr),
}

/// Whether two subnets share an address (never across families).
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn is_v6(n: &IpNet) -> bool {
    matches!(n, IpNet::V6(_))
}

/// Pick the first subnet of `want_v6`'s family from `pools` overlapping
/// neither a subnet in use nor one of the host's routes. Default routes
/// (prefix 0) are ignored, as Docker does.
pub fn choose_subnet(
    pools: &[AddressPool],
    in_use: &[IpNet],
    host_routes: &[IpNet],
    want_v6: bool,
) -> Result<IpNet, IpamError> {
    let taken: Vec<IpNet> = in_use
        .iter()
        .chain(host_routes.iter().filter(|r| r.prefix_len() > 0))
        .copied()
        .collect();
    for pool in pools.iter().filter(|p| is_v6(&p.base) == want_v6) {
        let max = if want_v6 { 126 } else { 30 };
        if pool.size < pool.base.prefix_len() || pool.size > max {
            return Err(IpamError::BadPool(*pool));
        }
        let Ok(subnets) = pool.base.trunc().subnets(pool.size) else {
            return Err(IpamError::BadPool(*pool));
        };
        // Bounded: a /48 split into /64s has 65536 candidates, each checked
        // against a short list; a larger pool (a /32 in /64s) is tried no
        // further, so a route covering it cannot hold netd's lock for
        // billions of steps.
        for candidate in subnets.take(1 << 16) {
            if !taken.iter().any(|t| overlaps(t, &candidate)) {
                return Ok(candidate);
            }
        }
    }
    Err(IpamError::PoolsExhausted)
}

/// Check a user-given subnet (`--subnet`) against those in use.
pub fn check_subnet(subnet: IpNet, in_use: &[IpNet]) -> Result<(), IpamError> {
    match in_use.iter().find(|u| overlaps(u, &subnet)) {
        Some(u) => Err(IpamError::Overlap(subnet, *u)),
        None => Ok(()),
    }
}

/// Addresses of one subnet: the gateway and every endpoint's address.
#[derive(Debug, Clone)]
pub struct SubnetAllocator {
    subnet: IpNet,
    range: IpNet,
    gateway: IpAddr,
    used: BTreeSet<IpAddr>,
}

impl SubnetAllocator {
    pub fn new(subnet: IpNet, gateway: IpAddr, range: Option<IpNet>) -> Result<Self, IpamError> {
        let subnet = subnet.trunc();
        let mut a = Self {
            subnet,
            range: subnet,
            gateway,
            used: BTreeSet::new(),
        };
        if !a.usable(gateway) {
            return Err(IpamError::OutOfSubnet(gateway, subnet));
        }
        let range = range.map(|r| r.trunc()).unwrap_or(subnet);
        if !subnet.contains(&range) {
            return Err(IpamError::OutOfSubnet(range.network(), subnet));
        }
        a.range = range;
        a.used.insert(gateway);
        Ok(a)
    }

    /// The IPv4 and IPv6 allocators of a stored network, with its
    /// endpoints' addresses taken.
    pub fn for_network(net: &Network) -> Result<(Option<Self>, Option<Self>), IpamError> {
        let build =
            |cfg: Option<&crate::store::IpamConfig>, v6: bool| -> Result<Option<Self>, IpamError> {
                let Some(cfg) = cfg else { return Ok(None) };
                let mut a = Self::new(cfg.subnet, cfg.gateway, cfg.ip_range)?;
                // Reserved for what lives on the segment outside rrun.
                for ip in cfg.aux_addresses.values() {
                    let _ = a.take(*ip);
                }
                for ep in net.containers.values() {
                    let ip = if v6 {
                        ep.ipv6_address.map(IpAddr::V6)
                    } else {
                        Some(IpAddr::V4(ep.ipv4_address))
                    };
                    if let Some(ip) = ip {
                        a.take(ip)?;
                    }
                }
                Ok(Some(a))
            };
        Ok((build(net.ipv4(), false)?, build(net.ipv6(), true)?))
    }

    pub fn gateway(&self) -> IpAddr {
        self.gateway
    }

    pub fn subnet(&self) -> IpNet {
        self.subnet
    }

    /// In the subnet and neither its network address (IPv6: the
    /// subnet-router anycast address) nor its IPv4 broadcast address.
    fn usable(&self, ip: IpAddr) -> bool {
        self.subnet.contains(&ip)
            && ip != self.subnet.network()
            && (is_v6(&self.subnet) || ip != self.subnet.broadcast())
    }

    /// Take a given address (`--ip`, `--ip6`); anywhere in the subnet, like Docker.
    pub fn take(&mut self, ip: IpAddr) -> Result<(), IpamError> {
        if !self.usable(ip) {
            return Err(IpamError::OutOfSubnet(ip, self.subnet));
        }
        if !self.used.insert(ip) {
            return Err(IpamError::InUse(ip));
        }
        Ok(())
    }

    /// The lowest free address of the range. Bounded by the number of
    /// addresses in use: the first candidates not in `used` is taken.
    pub fn allocate(&mut self) -> Result<IpAddr, IpamError> {
        let found = self
            .range
            .hosts()
            .take(self.used.len() + 3)
            .find(|ip| !self.used.contains(ip) && self.usable(*ip));
        match found {
            Some(ip) => {
                self.used.insert(ip);
                Ok(ip)
            }
            None => Err(IpamError::SubnetFull(self.subnet)),
        }
    }

    /// Give an address back; the gateway is never released.
    pub fn release(&mut self, ip: IpAddr) -> bool {
        ip != self.gateway && self.used.remove(&ip)
    }
}

/// The subnets of every stored network, checked for overlaps between them.
pub fn subnets_in_use(nets: &[Network]) -> Result<Vec<IpNet>, IpamError> {
    let mut seen: Vec<IpNet> = Vec::new();
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

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_pools_are_dockers() {
        let p = default_pools();
        assert_eq!(
            choose_subnet(&p, &[], &[], false).unwrap(),
            net("172.17.0.0/16")
        );
        assert_eq!(
            choose_subnet(&p, &[net("172.17.0.0/16")], &[], false).unwrap(),
            net("172.18.0.0/16")
        );
        let all172: Vec<IpNet> = (17..=31).map(|b| net(&format!("172.{b}.0.0/16"))).collect();
        assert_eq!(
            choose_subnet(&p, &all172, &[], false).unwrap(),
            net("192.168.0.0/20")
        );
        let mut more = all172.clone();
        more.push(net("192.168.0.0/20"));
        assert_eq!(
            choose_subnet(&p, &more, &[], false).unwrap(),
            net("192.168.16.0/20")
        );
        more.push(net("192.168.0.0/16"));
        assert_eq!(
            choose_subnet(&p, &more, &[], false),
            Err(IpamError::PoolsExhausted)
        );
    }

    #[test]
    fn host_routes_are_avoided_but_default_route_ignored() {
        let p = default_pools();
        let routes = [net("0.0.0.0/0"), net("172.17.5.0/24"), net("172.16.0.0/12")];
        // 172.16.0.0/12 covers every 172.x pool.
        assert_eq!(
            choose_subnet(&p, &[], &routes, false).unwrap(),
            net("192.168.0.0/20")
        );
        let routes = [net("172.17.5.0/24")];
        assert_eq!(
            choose_subnet(&p, &[], &routes, false).unwrap(),
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
            choose_subnet(&p, &[net("10.10.0.0/24")], &[], false).unwrap(),
            net("10.10.1.0/24")
        );
        let bad = [AddressPool {
            base: net("10.10.0.0/16"),
            size: 8,
        }];
        assert!(matches!(
            choose_subnet(&bad, &[], &[], false),
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
        let mut a = SubnetAllocator::new(net("10.0.0.0/29"), ip("10.0.0.1"), None).unwrap();
        assert_eq!(a.allocate().unwrap(), ip("10.0.0.2"));
        a.take(ip("10.0.0.3")).unwrap();
        assert_eq!(
            a.take(ip("10.0.0.3")),
            Err(IpamError::InUse(ip("10.0.0.3")))
        );
        assert!(a.take(ip("10.0.0.7")).is_err(), "broadcast");
        assert!(a.take(ip("10.0.1.3")).is_err());
        assert_eq!(a.allocate().unwrap(), ip("10.0.0.4"));
        assert_eq!(a.allocate().unwrap(), ip("10.0.0.5"));
        assert_eq!(a.allocate().unwrap(), ip("10.0.0.6"));
        assert_eq!(a.allocate(), Err(IpamError::SubnetFull(net("10.0.0.0/29"))));
        assert!(a.release(ip("10.0.0.4")));
        assert!(!a.release(ip("10.0.0.4")));
        assert!(!a.release(ip("10.0.0.1")), "gateway stays");
        assert_eq!(a.allocate().unwrap(), ip("10.0.0.4"));
    }

    #[test]
    fn ip_range_limits_dynamic_allocation() {
        let mut a = SubnetAllocator::new(
            net("10.0.0.0/24"),
            ip("10.0.0.1"),
            Some(net("10.0.0.128/25")),
        )
        .unwrap();
        assert_eq!(a.allocate().unwrap(), ip("10.0.0.129"));
        a.take(ip("10.0.0.5")).unwrap();
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
                    ipv6_address: None,
                    aliases: vec![],
                    hostname: None,
                    interface: "eth0".into(),
                    ports: vec![],
                    links: vec![],
                    mac_address: None,
                },
            );
        }
        let mut a = SubnetAllocator::for_network(&n).unwrap().0.unwrap();
        assert_eq!(a.allocate().unwrap(), ip("172.20.0.4"));
        // Two endpoints claiming one address is a corrupt store, reported.
        n.containers.get_mut("c1").unwrap().ipv4_address = "172.20.0.2".parse().unwrap();
        assert!(SubnetAllocator::for_network(&n).is_err());
        let m = sample("y", "172.20.0.0/24");
        assert!(subnets_in_use(&[n.clone(), m]).is_err());
        let m = sample("y", "172.21.0.0/24");
        assert_eq!(subnets_in_use(&[n, m]).unwrap().len(), 2);
    }

    #[test]
    fn ipv6_subnets_come_from_ipv6_pools_and_never_mix_with_ipv4() {
        let mut pools = default_pools();
        let ula = ula_pool(b"machine-a");
        assert_eq!(ula, ula_pool(b"machine-a"), "stable for one host");
        assert_ne!(ula.base, ula_pool(b"machine-b").base);
        assert_eq!(ula.base.prefix_len(), 48);
        assert!(matches!(ula.base, IpNet::V6(n) if n.addr().segments()[0] & 0xff00 == 0xfd00));
        pools.push(ula);
        let first = choose_subnet(&pools, &[net("172.17.0.0/16")], &[], true).unwrap();
        assert_eq!(first.prefix_len(), 64);
        assert!(ula.base.contains(&first));
        let second = choose_subnet(&pools, &[first], &[net("::/0")], true).unwrap();
        assert_ne!(first, second);
        assert!(ula.base.contains(&second));
        // An IPv4 choice never takes an IPv6 pool, and the reverse.
        assert_eq!(
            choose_subnet(&pools, &[], &[], false).unwrap(),
            net("172.17.0.0/16")
        );
        assert_eq!(
            choose_subnet(&default_pools(), &[], &[], true),
            Err(IpamError::PoolsExhausted)
        );
        let bad = [AddressPool {
            base: net("fd00:1::/48"),
            size: 127,
        }];
        assert!(matches!(
            choose_subnet(&bad, &[], &[], true),
            Err(IpamError::BadPool(_))
        ));
        // A huge pool whose every subnet a route covers: given up quickly.
        let huge = [AddressPool {
            base: net("2001:db8::/32"),
            size: 64,
        }];
        assert_eq!(
            choose_subnet(&huge, &[], &[net("2001:db8::/32")], true),
            Err(IpamError::PoolsExhausted)
        );
        let json = r#"[{"base":"fd00:1::/48","size":64}]"#;
        let parsed: Vec<AddressPool> = serde_json::from_str(json).unwrap();
        assert_eq!(parsed[0].base, net("fd00:1::/48"));
    }

    #[test]
    fn ipv6_addresses_allocate_from_the_subnet_skipping_the_anycast_address() {
        let mut a = SubnetAllocator::new(net("fd00:1::/64"), ip("fd00:1::1"), None).unwrap();
        assert_eq!(a.allocate().unwrap(), ip("fd00:1::2"));
        assert_eq!(
            a.take(ip("fd00:1::")),
            Err(IpamError::OutOfSubnet(ip("fd00:1::"), net("fd00:1::/64"))),
            "the subnet-router anycast address"
        );
        a.take(ip("fd00:1::3")).unwrap();
        assert_eq!(
            a.take(ip("fd00:1::3")),
            Err(IpamError::InUse(ip("fd00:1::3")))
        );
        assert!(a.take(ip("fd00:2::3")).is_err());
        assert!(a.take(ip("10.0.0.3")).is_err(), "another family");
        assert_eq!(a.allocate().unwrap(), ip("fd00:1::4"));
        a.take(ip("fd00:1::ffff:ffff:ffff:ffff")).unwrap();
        let mut r = SubnetAllocator::new(
            net("fd00:1::/64"),
            ip("fd00:1::1"),
            Some(net("fd00:1::100/120")),
        )
        .unwrap();
        assert_eq!(r.allocate().unwrap(), ip("fd00:1::100"));
        assert!(SubnetAllocator::new(net("fd00:1::/64"), ip("fd00:2::1"), None).is_err());
        // A small subnet fills up and says so.
        let mut tiny = SubnetAllocator::new(net("fd00:1::/126"), ip("fd00:1::1"), None).unwrap();
        assert_eq!(tiny.allocate().unwrap(), ip("fd00:1::2"));
        assert_eq!(tiny.allocate().unwrap(), ip("fd00:1::3"));
        assert_eq!(
            tiny.allocate(),
            Err(IpamError::SubnetFull(net("fd00:1::/126")))
        );
    }

    #[test]
    fn dual_stack_network_rebuilds_both_allocators() {
        let mut n = sample("x", "172.20.0.0/16");
        n.ipam.config.push(crate::store::IpamConfig {
            subnet: net("fd00:20::/64"),
            gateway: ip("fd00:20::1"),
            ip_range: None,
            aux_addresses: Default::default(),
        });
        n.containers.insert(
            "c0".into(),
            Endpoint {
                name: "c0".into(),
                ipv4_address: "172.20.0.2".parse().unwrap(),
                ipv6_address: Some("fd00:20::2".parse().unwrap()),
                aliases: vec![],
                hostname: None,
                interface: "eth0".into(),
                ports: vec![],
                links: vec![],
                mac_address: None,
            },
        );
        let (a4, a6) = SubnetAllocator::for_network(&n).unwrap();
        assert_eq!(a4.unwrap().allocate().unwrap(), ip("172.20.0.3"));
        assert_eq!(a6.unwrap().allocate().unwrap(), ip("fd00:20::3"));
        let mut m = sample("y", "172.21.0.0/16");
        m.ipam.config.push(crate::store::IpamConfig {
            subnet: net("fd00:20::/80"),
            gateway: ip("fd00:20::1"),
            ip_range: None,
            aux_addresses: Default::default(),
        });
        assert!(subnets_in_use(&[n, m]).is_err(), "IPv6 subnets overlap");
    }
}
