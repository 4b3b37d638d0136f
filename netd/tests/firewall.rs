//! Root tests: rrun's nftables table applied in a host namespace the test
//! makes, with containers, an outside peer and published ports.

mod common;

use std::time::Duration;

use common::{can_ping, fetch, ok, outside_link, poll, serve_in, unique, TestNs};
use netd::firewall::{self, FwNetwork, Proto, PublishedPort};
use netd::link::{self, Attachment, BridgeSpec};

fn attach(
    host: &TestNs,
    c: &TestNs,
    br: &str,
    ifname: &str,
    addr: &str,
    gw: Option<&str>,
) -> Attachment {
    let a = Attachment {
        bridge: br.into(),
        host_veth: link::veth_name(&c.name, br),
        ifname: ifname.into(),
        addresses: vec![addr.parse().unwrap()],
        default_gateway: gw.map(|g| g.parse().unwrap()),
        default_gateway6: None,
        mac: None,
        mtu: None,
    };
    link::attach(&host.open(), &c.open(), &a).unwrap();
    a
}

#[test]
fn isolation_masquerade_internal_published_ports_and_clean_teardown() {
    let host = TestNs::new("rrh");
    let outside = TestNs::new("rrx");
    // The outside world: a peer on 10.200.0.0/24 with no route to any
    // container subnet, so only masquerading lets containers reach it.
    outside_link(&host, &outside, "10.200.0.1/24", "10.200.0.2/24");
    // Bridged traffic must not depend on br_netfilter (loaded on some hosts,
    // not others): switch it off in our namespace where it exists, so the
    // hairpin check below tests our own rule.
    let _ = common::run(
        10,
        &[
            "ip",
            "netns",
            "exec",
            &host.name,
            "sysctl",
            "-qw",
            "net.bridge.bridge-nf-call-iptables=0",
        ],
    );
    // A table of someone else's that must survive everything we do.
    ok(
        10,
        &[
            "ip",
            "netns",
            "exec",
            &host.name,
            "nft",
            "add",
            "table",
            "inet",
            "someone_else",
        ],
    );

    let br: Vec<String> = (0..3)
        .map(|_| format!("rr-{}", unique("").replace('-', "")))
        .collect();
    let subnets = ["10.91.0.0/24", "10.92.0.0/24", "10.93.0.0/24"];
    for (i, b) in br.iter().enumerate() {
        let gw = format!("10.{}.0.1/24", 91 + i);
        link::ensure_bridge(
            &host.open(),
            &BridgeSpec {
                name: b.clone(),
                gateways: vec![gw.parse().unwrap()],
                mtu: None,
            },
        )
        .unwrap();
    }
    let a1 = TestNs::new("rrc");
    let a2 = TestNs::new("rrc");
    let b1 = TestNs::new("rrc");
    let i1 = TestNs::new("rrc");
    let at_a1 = attach(
        &host,
        &a1,
        &br[0],
        "eth0",
        "10.91.0.2/24",
        Some("10.91.0.1"),
    );
    attach(
        &host,
        &a2,
        &br[0],
        "eth0",
        "10.91.0.3/24",
        Some("10.91.0.1"),
    );
    attach(
        &host,
        &b1,
        &br[1],
        "eth0",
        "10.92.0.2/24",
        Some("10.92.0.1"),
    );
    attach(
        &host,
        &i1,
        &br[2],
        "eth0",
        "10.93.0.2/24",
        Some("10.93.0.1"),
    );

    // Control: with forwarding on and no table of ours, networks reach each
    // other, so what follows really tests our rules.
    ok(
        10,
        &[
            "ip",
            "netns",
            "exec",
            &host.name,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ],
    );
    assert!(
        can_ping(&a1, "10.92.0.2"),
        "control: forwarding works without rules"
    );
    assert!(
        !can_ping(&a1, "10.200.0.2"),
        "control: no way back without masquerade"
    );

    // A server in a1, published on 8080 on every host address.
    serve_in(&a1, 80, "hello from a1\n");
    poll("server in a1", Duration::from_secs(5), || {
        fetch(&a1, "127.0.0.1:80")
    });

    let nets: Vec<FwNetwork> = br
        .iter()
        .zip(subnets)
        .enumerate()
        .map(|(i, (b, s))| FwNetwork {
            bridge: b.clone(),
            subnets: vec![s.parse().unwrap()],
            internal: i == 2,
        })
        .collect();
    let ports = vec![PublishedPort {
        host_ip: None,
        host_port: 8080,
        proto: Proto::Tcp,
        container_ip: "10.91.0.2".parse().unwrap(),
        container_port: 80,
        bridge: br[0].clone(),
    }];
    let plan = firewall::plan(&nets, &ports);
    firewall::apply_in(&host.open(), &plan, "rrun").unwrap();
    // Applying again replaces, never duplicates.
    firewall::apply_in(&host.open(), &plan, "rrun").unwrap();
    let listed = ok(
        10,
        &[
            "ip", "netns", "exec", &host.name, "nft", "list", "table", "inet", "rrun",
        ],
    );
    assert_eq!(
        listed.matches("dnat ip to 10.91.0.2:80").count(),
        1,
        "{listed}"
    );

    // Within a network: yes. Across: no. Out through masquerade: yes.
    assert!(can_ping(&a1, "10.91.0.3"));
    assert!(!can_ping(&a1, "10.92.0.2"), "a1 reached another network");
    assert!(!can_ping(&b1, "10.91.0.2"), "b1 reached another network");
    assert!(can_ping(&a1, "10.200.0.2"), "masquerade: a1 cannot get out");
    assert!(can_ping(&b1, "10.200.0.2"));
    // Internal network: no way out, and nothing from other networks.
    assert!(!can_ping(&i1, "10.200.0.2"), "internal network got out");
    assert!(!can_ping(&a1, "10.93.0.2"));

    // Published port: from outside on the host's address, from the host on
    // its own address and on 127.0.0.1.
    assert_eq!(
        fetch(&outside, "10.200.0.1:8080").as_deref(),
        Some("hello from a1\n")
    );
    assert_eq!(
        fetch(&host, "10.200.0.1:8080").as_deref(),
        Some("hello from a1\n")
    );
    assert_eq!(
        fetch(&host, "127.0.0.1:8080").as_deref(),
        Some("hello from a1\n")
    );
    let localnet = |b: &str| {
        ok(
            10,
            &[
                "ip",
                "netns",
                "exec",
                &host.name,
                "sysctl",
                "-n",
                &format!("net.ipv4.conf.{b}.route_localnet"),
            ],
        )
        .trim()
        .to_string()
    };
    assert_eq!(localnet(&br[0]), "1");
    assert_eq!(
        localnet(&br[1]),
        "0",
        "route_localnet only where a port is published"
    );

    // Through the host to a neighbour's published port: hairpin on the
    // same network, and from another network, as through host-gateway.
    assert_eq!(
        fetch(&a2, "10.200.0.1:8080").as_deref(),
        Some("hello from a1\n")
    );
    assert_eq!(
        fetch(&b1, "10.200.0.1:8080").as_deref(),
        Some("hello from a1\n")
    );
    assert_eq!(
        fetch(&i1, "10.200.0.1:8080"),
        None,
        "internal network reached a published port"
    );

    // moby#45610: a neighbour on the outside link sends to 127.0.0.1:8080
    // with the host as next hop. Without our raw drop, the DNAT would carry
    // it to the container.
    ok(
        10,
        &["ip", "-n", &outside.name, "addr", "flush", "dev", "lo"],
    );
    ok(
        10,
        &["ip", "-n", &outside.name, "link", "set", "lo", "down"],
    );
    ok(
        10,
        &[
            "ip",
            "netns",
            "exec",
            &outside.name,
            "sysctl",
            "-qw",
            "net.ipv4.conf.all.route_localnet=1",
        ],
    );
    ok(
        10,
        &[
            "ip",
            "netns",
            "exec",
            &outside.name,
            "sysctl",
            "-qw",
            "net.ipv4.conf.wan0.route_localnet=1",
        ],
    );
    ok(
        10,
        &[
            "ip",
            "-n",
            &outside.name,
            "route",
            "add",
            "127.0.0.1/32",
            "via",
            "10.200.0.1",
            "dev",
            "wan0",
        ],
    );
    ok(
        10,
        &[
            "ip",
            "netns",
            "exec",
            &host.name,
            "nft",
            "flush",
            "chain",
            "inet",
            "rrun",
            "raw_prerouting",
        ],
    );
    assert_eq!(
        fetch(&outside, "127.0.0.1:8080").as_deref(),
        Some("hello from a1\n"),
        "control: without the raw drop the neighbour gets in"
    );
    firewall::apply_in(&host.open(), &plan, "rrun").unwrap();
    assert_eq!(
        fetch(&outside, "127.0.0.1:8080"),
        None,
        "moby#45610: loopback port reachable from a neighbour"
    );
    assert_eq!(
        fetch(&outside, "10.200.0.1:8080").as_deref(),
        Some("hello from a1\n")
    );

    // Connect a1 to the second network: now it reaches b1 over that bridge.
    let at_a1_b = attach(&host, &a1, &br[1], "eth1", "10.92.0.3/24", None);
    assert!(can_ping(&a1, "10.92.0.2"));
    link::detach(&host.open(), &at_a1_b.host_veth).unwrap();
    assert!(!can_ping(&a1, "10.92.0.2"), "disconnect left a path");

    // Teardown: our table gone, the other one kept; no link or address left.
    firewall::teardown_in(&host.open(), "rrun").unwrap();
    firewall::teardown_in(&host.open(), "rrun").unwrap();
    let tables = ok(
        10,
        &["ip", "netns", "exec", &host.name, "nft", "list", "tables"],
    );
    assert_eq!(tables.trim(), "table inet someone_else", "{tables}");
    link::detach(&host.open(), &at_a1.host_veth).unwrap();
    for c in [&a2, &b1, &i1] {
        for b in &br {
            link::detach(&host.open(), &link::veth_name(&c.name, b)).unwrap();
        }
    }
    for b in &br {
        link::remove_link(&host.open(), b).unwrap();
    }
    let links = ok(10, &["ip", "-n", &host.name, "-o", "link", "show"]);
    assert_eq!(links.lines().count(), 2, "only lo and up0 remain: {links}");
    let addrs = ok(10, &["ip", "-n", &host.name, "-o", "-4", "addr", "show"]);
    assert!(!addrs.contains("10.9"), "{addrs}");
}
