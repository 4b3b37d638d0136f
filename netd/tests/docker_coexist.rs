//! Root test: coexistence with Docker's iptables-nft rules (FORWARD policy
//! DROP, the DOCKER-USER chain), simulated in a host namespace the test
//! makes with the same tables Docker creates.

mod common;

use common::{can_ping, ok, outside_link, unique, TestNs};
use netd::firewall::{self, FwNetwork};
use netd::link::{self, Attachment, BridgeSpec};

#[test]
fn containers_get_out_through_dockers_forward_drop_and_teardown_leaves_docker_alone() {
    let host = TestNs::new("rrh");
    let outside = TestNs::new("rrx");
    outside_link(&host, &outside, "10.210.0.1/24", "10.210.0.2/24");
    // What Docker (iptables-nft) leaves: FORWARD drops by default and jumps
    // to DOCKER-USER first, which ends in a return.
    let nft = |cmd: &str| {
        ok(
            10,
            &[
                "ip",
                "netns",
                "exec",
                &host.name,
                "sh",
                "-c",
                &format!("nft '{cmd}'"),
            ],
        )
    };
    nft("add table ip filter");
    nft("add chain ip filter FORWARD { type filter hook forward priority 0; policy drop; }");
    nft("add chain ip filter DOCKER-USER");
    nft("add rule ip filter FORWARD jump DOCKER-USER");
    nft("add rule ip filter DOCKER-USER return");
    // And the same for IPv6 (Docker with ip6tables, its default since 27).
    nft("add table ip6 filter");
    nft("add chain ip6 filter FORWARD { type filter hook forward priority 0; policy drop; }");
    nft("add chain ip6 filter DOCKER-USER");
    nft("add rule ip6 filter FORWARD jump DOCKER-USER");
    nft("add rule ip6 filter DOCKER-USER return");
    let docker_user = |family: &str| {
        ok(
            10,
            &[
                "ip",
                "netns",
                "exec",
                &host.name,
                "nft",
                "list",
                "chain",
                family,
                "filter",
                "DOCKER-USER",
            ],
        )
    };

    let br = format!("rr-{}", unique("").replace('-', ""));
    link::ensure_bridge(
        &host.open(),
        &BridgeSpec {
            name: br.clone(),
            gateways: vec!["10.94.0.1/24".parse().unwrap()],
            mtu: None,
        },
    )
    .unwrap();
    let c = TestNs::new("rrc");
    link::attach(
        &host.open(),
        &c.open(),
        &Attachment {
            bridge: br.clone(),
            host_veth: link::veth_name(&c.name, &br),
            ifname: "eth0".into(),
            addresses: vec!["10.94.0.2/24".parse().unwrap()],
            default_gateway: Some("10.94.0.1".parse().unwrap()),
            default_gateway6: None,
            mac: None,
            mtu: None,
        },
    )
    .unwrap();
    let plan = firewall::plan(
        &[FwNetwork {
            bridge: br.clone(),
            subnets: vec!["10.94.0.0/24".parse().unwrap()],
            internal: false,
        }],
        &[],
    );
    // Control: our table alone cannot beat Docker's DROP.
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
    let ours_only = firewall::render(&plan, "rrun").to_string();
    let out = host.exec(
        10,
        &["sh", "-c", &format!("echo '{ours_only}' | nft -j -f -")],
    );
    assert!(out.status.success());
    assert!(
        !can_ping(&c, "10.210.0.2"),
        "control: Docker's FORWARD drop should block"
    );

    firewall::apply_in(&host.open(), &plan, "rrun").unwrap();
    firewall::apply_in(&host.open(), &plan, "rrun").unwrap();
    assert!(
        can_ping(&c, "10.210.0.2"),
        "blocked by Docker's FORWARD drop"
    );
    let user = docker_user("ip");
    assert_eq!(
        user.matches("comment \"rrun\"").count(),
        2,
        "replaced, not duplicated: {user}"
    );
    let user6 = docker_user("ip6");
    assert_eq!(user6.matches("comment \"rrun\"").count(), 2, "{user6}");

    firewall::teardown_in(&host.open(), "rrun").unwrap();
    let user = docker_user("ip");
    assert!(!user.contains("rrun"), "{user}");
    assert!(user.contains("return"), "Docker's own rule kept: {user}");
    let user6 = docker_user("ip6");
    assert!(
        !user6.contains("rrun") && user6.contains("return"),
        "{user6}"
    );
    let fwd = ok(
        10,
        &[
            "ip", "netns", "exec", &host.name, "nft", "list", "chain", "ip", "filter", "FORWARD",
        ],
    );
    assert!(
        fwd.contains("policy drop") && fwd.contains("jump DOCKER-USER"),
        "{fwd}"
    );
    assert!(!can_ping(&c, "10.210.0.2"));
    link::detach(&host.open(), &link::veth_name(&c.name, &br)).unwrap();
    link::remove_link(&host.open(), &br).unwrap();
}
