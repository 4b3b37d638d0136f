//! Bridges and veth pairs through rtnetlink.
//!
//! `host` is the namespace holding the bridges (the daemon's, or a test's);
//! `container` the container's. Every call runs on a thread of its own inside
//! the namespace it changes (see `netns`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::netns::{with_netlink, NetNs};

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{what}: {source}")]
    Netlink {
        what: String,
        source: rtnetlink::Error,
    },
    #[error("network namespace: {0}")]
    Io(#[from] io::Error),
    #[error("interface name {0:?} is longer than 15 bytes")]
    NameTooLong(String),
}

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

fn ctx(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> LinkError {
    let what = what.into();
    move |source| LinkError::Netlink { what, source }
}

fn check_name(n: &str) -> Result<(), LinkError> {
    if n.is_empty() || n.len() > 15 {
        return Err(LinkError::NameTooLong(n.to_string()));
    }
    Ok(())
}

async fn index_of(h: &Handle, name: &str) -> Result<Option<u32>, LinkError> {
    match h.link().get().match_name(name).execute().try_next().await {
        Ok(Some(m)) => Ok(Some(m.header.index)),
        Ok(None) => Ok(None),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(ctx(format!("look up {name}"))(e)),
    }
}

/// Add `addr` to a link. IPv6 addresses skip duplicate address detection
/// (IFA_F_NODAD), as Docker's do: the bridge and IPAM own the subnet, and a
/// tentative address would leave the container without IPv6 for its
/// first second or two.
async fn add_addr(h: &Handle, index: u32, name: &str, addr: IpNet) -> Result<(), LinkError> {
    use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
    let mut req = h.address().add(index, addr.addr(), addr.prefix_len());
    if addr.addr().is_ipv6() {
        req.message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    match req.execute().await {
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
        r => r.map_err(ctx(format!("add {addr} to {name}"))),
    }
}

/// A bridge for one network: `gateways` are the bridge's addresses with
/// their subnets' prefixes, e.g. 172.18.0.1/16 and, with IPv6, fd12::1/64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    pub name: String,
    pub gateways: Vec<IpNet>,
    pub mtu: Option<u32>,
}

/// Create the bridge if missing, give it its address, bring it up.
/// Idempotent: run again after a restart, it changes nothing.
pub fn ensure_bridge(host: &NetNs, spec: &BridgeSpec) -> Result<(), LinkError> {
    check_name(&spec.name)?;
    with_netlink(host, |h| async move {
        let index = match index_of(&h, &spec.name).await? {
            Some(i) => i,
            None => {
                let mut b = LinkBridge::new(&spec.name);
                if let Some(mtu) = spec.mtu {
                    b = b.mtu(mtu);
                }
                match h.link().add(b.build()).execute().await {
                    Err(e) if errno(&e) == Some(libc::EEXIST) => {}
                    r => r.map_err(ctx(format!("create bridge {}", spec.name)))?,
                }
                index_of(&h, &spec.name)
                    .await?
                    .ok_or_else(|| io::Error::other(format!("bridge {} vanished", spec.name)))?
            }
        };
        // The bridge never takes a route or an address from an
        // advertisement a container sends (the host side of CVE-2020-13401).
        refuse_router_advertisements(&[&spec.name])?;
        for gw in &spec.gateways {
            add_addr(&h, index, &spec.name, *gw).await?;
        }
        h.link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(ctx(format!("bring up {}", spec.name)))
    })
}

/// `accept_ra = 0` for `ifnames` in the calling thread's network namespace.
/// A kernel without IPv6 has no such file: nothing to refuse then.
fn refuse_router_advertisements(ifnames: &[&str]) -> Result<(), LinkError> {
    for ifname in ifnames {
        let path = format!("/proc/sys/net/ipv6/conf/{ifname}/accept_ra");
        match std::fs::write(&path, "0") {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            r => r.map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?,
        }
    }
    Ok(())
}

/// Delete a link by name in `ns`; a missing link is not an error.
pub fn remove_link(ns: &NetNs, name: &str) -> Result<(), LinkError> {
    with_netlink(ns, |h| async move { delete_named(&h, name).await })
}

/// Deletes the link `name` through `h` if it is there. Idempotent.
async fn delete_named(h: &Handle, name: &str) -> Result<(), LinkError> {
    let Some(index) = index_of(h, name).await? else {
        return Ok(());
    };
    match h.link().del(index).execute().await {
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
        r => r.map_err(ctx(format!("delete {name}"))),
    }
}

/// Remove `addr` (with its prefix) from the link `name`, if both are there.
pub fn remove_addr(ns: &NetNs, name: &str, addr: IpNet) -> Result<(), LinkError> {
    with_netlink(ns, |h| async move {
        let Some(index) = index_of(&h, name).await? else {
            return Ok(());
        };
        let mut found = h
            .address()
            .get()
            .set_link_index_filter(index)
            .set_prefix_length_filter(addr.prefix_len())
            .set_address_filter(addr.addr())
            .execute();
        let what = || format!("remove {addr} from {name}");
        while let Some(m) = found.try_next().await.map_err(ctx(what()))? {
            match h.address().del(m).execute().await {
                Err(e) if errno(&e) == Some(libc::EADDRNOTAVAIL) => {}
                r => r.map_err(ctx(what()))?,
            }
        }
        Ok(())
    })
}

/// Whether a link exists in `ns`.
pub fn link_exists(ns: &NetNs, name: &str) -> Result<bool, LinkError> {
    with_netlink(
        ns,
        |h| async move { Ok(index_of(&h, name).await?.is_some()) },
    )
}

/// One container interface on one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub bridge: String,
    /// The host end's name (≤ 15 bytes); see [`veth_name`].
    pub host_veth: String,
    /// The name inside the container: `eth0`, `eth1`, … in attach order.
    pub ifname: String,
    /// The container's addresses with their subnets' prefixes: IPv4, and
    /// IPv6 on a network with IPv6 enabled.
    pub addresses: Vec<IpNet>,
    /// Set for the first network only: the container's default route.
    pub default_gateway: Option<Ipv4Addr>,
    /// Set for the first network with IPv6: the IPv6 default route.
    pub default_gateway6: Option<Ipv6Addr>,
    /// The container interface's MAC address (see [`mac_for`]); the
    /// kernel's random one when None.
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
}

/// A container's MAC address from its IPv4 address, as Docker makes it:
/// `02:42` and the address's four bytes. A container that gets an address
/// another one had a moment ago then also has its MAC, so the neighbour
/// entries the host and other containers still hold for that address stay
/// right; with a random MAC they point at the old one until they expire
/// (up to 45 s with Linux's defaults), and the new container is
/// unreachable meanwhile.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// A `--mac-address`: six hex pairs separated by `:` or `-`, unicast (the
/// kernel refuses a multicast address on an interface).
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let bad = || format!("invalid MAC address: {s}");
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(&parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 == 1 {
        return Err(format!("invalid MAC address: {s} is a multicast address"));
    }
    Ok(mac)
}

/// `02:42:ac:11:00:02`, as `docker inspect` shows it.
pub fn mac_string(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A host-end name from the container and network ids: `ve` and 13 hex digits
/// of a hash, stable, so a restarted daemon finds the link again.
pub fn veth_name(container_id: &str, network_id: &str) -> String {
    // FNV-1a, 64 bits: stable across releases, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in container_id.bytes().chain([0]).chain(network_id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("ve{:013x}", h & 0x000f_ffff_ffff_ffff)
}

/// Wire a container into a bridge: a veth pair whose container end is made
/// inside the container's namespace under its final name, MTU and MAC (no
/// move between namespaces afterwards: that costs an RCU grace period,
/// about 18 ms, on every start); the host end on the bridge, hairpin, up;
/// inside, the addresses, `lo` and the interface up, and the default
/// routes when asked. On failure the pair is removed again.
pub fn attach(host: &NetNs, container: &NetNs, a: &Attachment) -> Result<(), LinkError> {
    use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
    use rtnetlink::LinkMessageBuilder;
    check_name(&a.host_veth)?;
    check_name(&a.ifname)?;
    let container_fd = container.raw_fd();
    let step1 = with_netlink(host, |h| async move {
        let br = index_of(&h, &a.bridge)
            .await?
            .ok_or_else(|| io::Error::other(format!("bridge {} does not exist", a.bridge)))?;
        // The same container's pair from its last run, whose namespace the
        // kernel is still tearing down (a container that exited leaves its
        // pair to go with its namespace: see `Netd::release`).
        delete_named(&h, &a.host_veth).await?;
        let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(a.ifname.clone())
            .setns_by_fd(container_fd);
        let mut veth = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(a.host_veth.clone());
        if let Some(mtu) = a.mtu {
            peer = peer.mtu(mtu);
            veth = veth.mtu(mtu);
        }
        if let Some(mac) = a.mac {
            peer = peer.address(mac.to_vec());
        }
        let veth = veth.set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
        h.link()
            .add(veth.build())
            .execute()
            .await
            .map_err(ctx(format!("create veth {}", a.host_veth)))?;
        let host_end = index_of(&h, &a.host_veth)
            .await?
            .ok_or_else(|| io::Error::other("veth vanished"))?;
        h.link()
            .set(
                LinkUnspec::new_with_index(host_end)
                    .controller(br)
                    .up()
                    .build(),
            )
            .execute()
            .await
            .map_err(ctx(format!("put {} on {}", a.host_veth, a.bridge)))?;
        // Hairpin: a container reaching its own published port comes back
        // through the port it left by (DNAT to itself; the reply is
        // masqueraded by the hairpin rule of the firewall).
        h.link()
            .set_port(
                rtnetlink::LinkBridgePort::new(host_end)
                    .hairpin(true)
                    .build(),
            )
            .execute()
            .await
            .map_err(ctx(format!("hairpin on {}", a.host_veth)))
    });
    let result = step1.and_then(|()| configure_inside(container, a));
    if let Err(e) = result {
        // Deleting the host end deletes its peer wherever it is.
        if let Err(cleanup) = remove_link(host, &a.host_veth) {
            tracing::warn!(veth = %a.host_veth, error = %cleanup, "cleanup after failed attach");
        }
        return Err(e);
    }
    Ok(())
}

/// Bring up `lo` in a namespace (a container on `none`, or before its
/// first attachment). Idempotent.
pub fn loopback_up(ns: &NetNs) -> Result<(), LinkError> {
    with_netlink(ns, |h| async move {
        if let Some(lo) = index_of(&h, "lo").await? {
            h.link()
                .set(LinkUnspec::new_with_index(lo).up().build())
                .execute()
                .await
                .map_err(ctx("bring up lo"))?;
        }
        Ok(())
    })
}

fn configure_inside(container: &NetNs, a: &Attachment) -> Result<(), LinkError> {
    with_netlink(container, |h| async move {
        if let Some(lo) = index_of(&h, "lo").await? {
            h.link()
                .set(LinkUnspec::new_with_index(lo).up().build())
                .execute()
                .await
                .map_err(ctx("bring up lo"))?;
        }
        // CVE-2020-13401: a container with CAP_NET_RAW (a default
        // capability) could send router advertisements to its neighbours
        // and become their IPv6 router. Containers accept none, as Docker's
        // since its fix; set before the interface comes up.
        refuse_router_advertisements(&["all", "default", &a.ifname])?;
        let idx = index_of(&h, &a.ifname)
            .await?
            .ok_or_else(|| io::Error::other(format!("{} not found in the container", a.ifname)))?;
        for addr in &a.addresses {
            add_addr(&h, idx, &a.ifname, *addr).await?;
        }
        h.link()
            .set(LinkUnspec::new_with_index(idx).up().build())
            .execute()
            .await
            .map_err(ctx(format!("bring up {}", a.ifname)))?;
        let v4 = a.default_gateway.map(|gw| {
            let r = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gw);
            (IpAddr::V4(gw), r.output_interface(idx).build())
        });
        let v6 = a.default_gateway6.map(|gw| {
            let r = RouteMessageBuilder::<Ipv6Addr>::new().gateway(gw);
            (IpAddr::V6(gw), r.output_interface(idx).build())
        });
        for (gw, route) in v4.into_iter().chain(v6) {
            match h.route().add(route).execute().await {
                Err(e) if errno(&e) == Some(libc::EEXIST) => {}
                r => r.map_err(ctx(format!("default route via {gw}")))?,
            }
        }
        Ok(())
    })
}

/// Remove a container's interface by its host end. Idempotent.
pub fn detach(host: &NetNs, host_veth: &str) -> Result<(), LinkError> {
    remove_link(host, host_veth)
}

/// Names of the interfaces enslaved to `bridge` in `ns` (empty when the
/// bridge does not exist).
pub fn bridge_ports(ns: &NetNs, bridge: &str) -> Result<Vec<String>, LinkError> {
    use rtnetlink::packet_route::link::LinkAttribute;
    with_netlink(ns, |h| async move {
        let Some(br) = index_of(&h, bridge).await? else {
            return Ok(vec![]);
        };
        let mut ports = Vec::new();
        let mut dump = h.link().get().execute();
        while let Some(l) = dump.try_next().await.map_err(ctx("list links"))? {
            let on_bridge = l
                .attributes
                .iter()
                .any(|a| matches!(a, LinkAttribute::Controller(i) if *i == br));
            let name = l.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            });
            if let (true, Some(name)) = (on_bridge, name) {
                ports.push(name);
            }
        }
        Ok(ports)
    })
}

/// The IPv4 and IPv6 routes of `ns`'s main table, for IPAM to avoid
/// (default routes included; IPAM ignores them).
pub fn host_routes(ns: &NetNs) -> Result<Vec<IpNet>, LinkError> {
    host_routes_except(ns, None)
}

/// [`host_routes`] but those through the interface `except` (a network's
/// own bridge: what other interfaces route is what collides with it).
pub fn host_routes_except(ns: &NetNs, except: Option<&str>) -> Result<Vec<IpNet>, LinkError> {
    use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
    let except = except.map(str::to_string);
    with_netlink(ns, |h| async move {
        let skip = match &except {
            Some(name) => index_of(&h, name).await?,
            None => None,
        };
        let mut routes = Vec::new();
        let dumps = [
            RouteMessageBuilder::<Ipv4Addr>::new().build(),
            RouteMessageBuilder::<Ipv6Addr>::new().build(),
        ];
        for msg in dumps {
            let v6 = msg.header.address_family == rtnetlink::packet_route::AddressFamily::Inet6;
            let mut dump = h.route().get(msg).execute();
            while let Some(r) = dump.try_next().await.map_err(ctx("dump routes"))? {
                let oif = r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Oif(i) => Some(*i),
                    _ => None,
                });
                if skip.is_some() && oif == skip {
                    continue;
                }
                let dst = r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some(IpAddr::V4(*ip)),
                    RouteAttribute::Destination(RouteAddress::Inet6(ip)) => Some(IpAddr::V6(*ip)),
                    _ => None,
                });
                let unspecified = if v6 {
                    IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                } else {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                };
                let dst = dst.unwrap_or(unspecified);
                if let Ok(net) = IpNet::new(dst, r.header.destination_prefix_length) {
                    routes.push(net.trunc());
                }
            }
        }
        Ok(routes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_names_are_short_stable_and_distinct() {
        let a = veth_name("c1", "n1");
        assert_eq!(a, veth_name("c1", "n1"));
        assert_ne!(a, veth_name("c1", "n2"));
        assert_ne!(a, veth_name("c2", "n1"));
        assert_eq!(a.len(), 15);
        assert!(check_name(&a).is_ok());
        assert!(check_name("this-is-sixteen!").is_err());
    }

    #[test]
    fn macs_are_dockers_from_the_ipv4_address() {
        assert_eq!(
            parse_mac("92:d0:c6:0a:29:33"),
            Ok([0x92, 0xd0, 0xc6, 0x0a, 0x29, 0x33])
        );
        assert_eq!(
            parse_mac("92-D0-C6-0A-29-33"),
            Ok([0x92, 0xd0, 0xc6, 0x0a, 0x29, 0x33])
        );
        for bad in [
            "92:d0:c6:0a:29",
            "92:d0:c6:0a:29:3g",
            "92:d0:c6:0a:29:333",
            "",
        ] {
            assert_eq!(parse_mac(bad), Err(format!("invalid MAC address: {bad}")));
        }
        assert!(parse_mac("01:00:5e:00:00:01")
            .unwrap_err()
            .contains("multicast"));
        let mac = mac_for(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(mac, [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
        assert_eq!(mac_string(mac), "02:42:ac:11:00:02");
        // Locally administered, unicast.
        assert_eq!(mac[0] & 0b11, 0b10);
    }
}
