use super::view::endpoint_json;
use super::*;
use crate::daemon::containers::network::*;
use crate::daemon::containers::ports::*;
use crate::daemon::models::PortBinding as ApiPort;
use crate::daemon::store::NetworkRequest;
use netd::store::PortBinding;
use serde_json::{json, Value};
use std::net::Ipv4Addr;

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
    assert_eq!(w[0].container_port(), 53);
    assert_eq!(w[0].host_ports(), None);
    assert_eq!(w[1].host_ip(), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert_eq!(
        w[1].host_ports().map(|r| (r.start(), r.end())),
        Some((8080, 8080))
    );
    assert_eq!(w[2].container_port(), 443);
    let mut b = BTreeMap::new();
    b.insert(
        "80/tcp".to_string(),
        vec![ApiPort {
            host_ip: String::new(),
            host_port: "9000-9010".into(),
        }],
    );
    assert_eq!(
        wanted_ports(&b, false, &[]).unwrap()[0]
            .host_ports()
            .map(|r| (r.start(), r.end())),
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
    let ip = |s: &str| wanted_ports(&one(s), false, &[]).map(|w| w[0].host_ip());
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
    let config: Vec<IpamConfig> = serde_json::from_value(config).unwrap();
    ipam_request(&config, &mut req)
        .map(|()| req)
        .map_err(|e| e.to_string())
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
                links: vec![],
                mac_address: None,
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
                    aux_addresses: Default::default(),
                },
                IpamConfig {
                    subnet: "fd00:1::/64".parse().unwrap(),
                    gateway: "fd00:1::1".parse().unwrap(),
                    ip_range: None,
                    aux_addresses: Default::default(),
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
    let v = serde_json::to_value(network_json(&n)).unwrap();
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
        links: vec![],
        mac: None,
    };
    let e = serde_json::to_value(endpoint_json(Some(&n), Some("c1"), Some(&req))).unwrap();
    assert_eq!(e["GlobalIPv6Address"], "fd00:1::2");
    assert_eq!(e["GlobalIPv6PrefixLen"], 64);
    assert_eq!(e["IPv6Gateway"], "fd00:1::1");
    assert_eq!(e["IPAMConfig"], json!({"IPv6Address": "fd00:1::2"}));
    let e = serde_json::to_value(endpoint_json(Some(&n), Some("c2"), None)).unwrap();
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
