//! Root test: two daemons' networking in one host namespace, each with its
//! own [`netd::Instance`]. Their tables, DOCKER-USER rules, default bridges
//! and default subnets differ; each one's firewall check (the daemon's
//! watch) finds its own rules intact and restores only its own; teardown
//! removes only its own; and a default network whose subnet another
//! daemon's bridge came to route while it was down moves to a free one.

mod common;

use std::time::Duration;

use common::{fetch, ok, poll, serve_in, TestNs};
use netd::store::PortBinding;
use netd::{ConnectOptions, ContainerRef, Instance, Netd, NetdConfig};

fn id(n: u32) -> String {
    format!("{:08x}{:04x}{:052x}", std::process::id(), n, 0)
}

fn config(host: &TestNs, state: &tempfile::TempDir, name: &str) -> NetdConfig {
    let mut cfg = NetdConfig::new(state.path().join("networks"));
    cfg.host_netns = Some(format!("/run/netns/{}", host.name).into());
    cfg.instance = Instance {
        table: name.into(),
        default_bridge: name.into(),
    };
    cfg
}

fn nft(host: &TestNs, args: &[&str]) -> String {
    let mut full = vec!["ip", "netns", "exec", &host.name, "nft"];
    full.extend_from_slice(args);
    ok(10, &full)
}

/// A container on `netd`'s default network publishing `port` to 80, where
/// a server answers `greeting`.
fn publish(netd: &Netd, n: u32, ns: &TestNs, port: u16, greeting: &'static str) {
    serve_in(ns, 80, greeting);
    let opts = ConnectOptions {
        ports: vec![PortBinding {
            host_ip: None,
            host_port: port,
            container_port: 80,
            protocol: "tcp".into(),
        }],
        ..Default::default()
    };
    let c = ContainerRef {
        id: &id(n),
        name: greeting,
        hostname: None,
        netns: &ns.open(),
    };
    netd.connect("bridge", c, opts).unwrap();
}

fn both_answer(host: &TestNs, what: &str) {
    for (addr, greeting) in [("127.0.0.1:18181", "from-a"), ("127.0.0.1:18182", "from-b")] {
        let got = poll(&format!("{addr} {what}"), Duration::from_secs(10), || {
            fetch(host, addr)
        });
        assert_eq!(got, greeting, "{addr} {what}");
    }
}

#[test]
fn two_instances_in_one_namespace_keep_to_their_own() {
    let host = TestNs::new("rri");
    // Docker's chain, where both put their accept rules.
    nft(&host, &["add", "table", "ip", "filter"]);
    nft(&host, &["add", "chain", "ip", "filter", "DOCKER-USER"]);
    let (sa, sb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Netd::open(config(&host, &sa, "rrun-aaaaaaaa")).unwrap();
    let da = a.ensure_default_network().unwrap();
    let b = Netd::open(config(&host, &sb, "rrun-bbbbbbbb")).unwrap();
    let db = b.ensure_default_network().unwrap();
    assert_eq!(da.bridge_name(), "rrun-aaaaaaaa");
    assert_eq!(db.bridge_name(), "rrun-bbbbbbbb");
    // The second takes the first pool subnet no interface routes.
    assert_eq!(da.ipam.config[0].subnet.to_string(), "172.17.0.0/16");
    assert_eq!(db.ipam.config[0].subnet.to_string(), "172.18.0.0/16");

    let (ca, cb) = (TestNs::new("rrc"), TestNs::new("rrc"));
    publish(&a, 1, &ca, 18181, "from-a");
    publish(&b, 2, &cb, 18182, "from-b");
    both_answer(&host, "with both applied");

    // A port the other publishes is taken (its DNAT would race with ours).
    assert!(!a.port_available(None, 18182, "tcp").unwrap());
    assert!(!b
        .port_available(Some("127.0.0.1".parse().unwrap()), 18181, "tcp")
        .unwrap());
    assert!(a.port_available(None, 18182, "udp").unwrap());
    assert!(a.port_available(None, 18183, "tcp").unwrap());

    // Each one's watch finds its own rules as it left them.
    assert!(!a.check_firewall().unwrap(), "a: nothing to restore");
    assert!(!b.check_firewall().unwrap(), "b: nothing to restore");
    let user = nft(&host, &["list", "chain", "ip", "filter", "DOCKER-USER"]);
    assert_eq!(
        user.matches("comment \"rrun-aaaaaaaa\"").count(),
        2,
        "{user}"
    );
    assert_eq!(
        user.matches("comment \"rrun-bbbbbbbb\"").count(),
        2,
        "{user}"
    );

    // A reload removes one table: its daemon restores it, the other's
    // check has nothing to do, and both ports answer.
    nft(&host, &["delete", "table", "inet", "rrun-aaaaaaaa"]);
    assert!(!b.check_firewall().unwrap(), "b leaves a's table to a");
    assert!(a.check_firewall().unwrap(), "a restores its own");
    assert!(!b.check_firewall().unwrap());
    both_answer(&host, "after a's restore");

    // Teardown of one leaves the other's table and DOCKER-USER rules.
    b.disconnect("bridge", &id(2)).unwrap();
    b.teardown_firewall().unwrap();
    let tables = nft(&host, &["list", "tables"]);
    assert!(tables.contains("table inet rrun-aaaaaaaa"), "{tables}");
    assert!(!tables.contains("rrun-bbbbbbbb"), "{tables}");
    let user = nft(&host, &["list", "chain", "ip", "filter", "DOCKER-USER"]);
    assert_eq!(
        user.matches("comment \"rrun-aaaaaaaa\"").count(),
        2,
        "{user}"
    );
    assert!(!user.contains("rrun-bbbbbbbb"), "{user}");
    assert_eq!(fetch(&host, "127.0.0.1:18181").as_deref(), Some("from-a"));
    a.disconnect("bridge", &id(1)).unwrap();
    a.teardown_firewall().unwrap();
}

#[test]
fn a_default_subnet_routed_elsewhere_moves_while_no_container_uses_it() {
    let (host, elsewhere) = (TestNs::new("rri"), TestNs::new("rri"));
    let (sa, sc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // c's default network was made in an empty namespace: 172.17.0.0/16.
    let c = Netd::open(config(&elsewhere, &sc, "rrun-cccccccc")).unwrap();
    let first = c.ensure_default_network().unwrap();
    assert_eq!(first.ipam.config[0].subnet.to_string(), "172.17.0.0/16");
    drop(c);
    // Meanwhile a took 172.17.0.0/16 in the host namespace.
    let a = Netd::open(config(&host, &sa, "rrun-aaaaaaaa")).unwrap();
    let da = a.ensure_default_network().unwrap();
    assert_eq!(da.ipam.config[0].subnet.to_string(), "172.17.0.0/16");
    // c starts there: its default network leaves a's subnet and keeps
    // its id.
    let c = Netd::open(config(&host, &sc, "rrun-cccccccc")).unwrap();
    let moved = c.ensure_default_network().unwrap();
    assert_eq!(moved.id, first.id);
    assert_eq!(moved.ipam.config[0].subnet.to_string(), "172.18.0.0/16");
    let addr = ok(
        10,
        &[
            "ip",
            "-n",
            &host.name,
            "-o",
            "-4",
            "addr",
            "show",
            "dev",
            "rrun-cccccccc",
        ],
    );
    assert!(addr.contains("inet 172.18.0.1/16"), "{addr}");
    assert!(!addr.contains("172.17."), "{addr}");
    // Once moved, it stays.
    drop(c);
    let c = Netd::open(config(&host, &sc, "rrun-cccccccc")).unwrap();
    assert_eq!(c.ensure_default_network().unwrap(), moved);
    drop(c);

    // daemon.json names a bridge another program made, with a `bip`: the
    // network moves there and rrun's derived bridge goes.
    let addr_of = |dev: &str| {
        ok(
            10,
            &[
                "ip", "-n", &host.name, "-o", "-4", "addr", "show", "dev", dev,
            ],
        )
    };
    ok(
        10,
        &[
            "ip", "-n", &host.name, "link", "add", "br-other", "type", "bridge",
        ],
    );
    let mut cfg = config(&host, &sc, "rrun-cccccccc");
    cfg.instance.default_bridge = "br-other".into();
    cfg.default_bip = Some("10.77.0.1/24".parse().unwrap());
    let c = Netd::open(cfg.clone()).unwrap();
    let n = c.ensure_default_network().unwrap();
    assert_eq!(n.bridge_name(), "br-other");
    assert_eq!(n.ipam.config[0].subnet.to_string(), "10.77.0.0/24");
    assert!(addr_of("br-other").contains("inet 10.77.0.1/24"));
    let links = ok(10, &["ip", "-n", &host.name, "-o", "link"]);
    assert!(!links.contains("rrun-cccccccc"), "{links}");
    drop(c);
    // A new `bip`: the bridge stays (not rrun's to remove) and only loses
    // the old address.
    cfg.default_bip = Some("10.78.0.1/24".parse().unwrap());
    let c = Netd::open(cfg).unwrap();
    let n = c.ensure_default_network().unwrap();
    assert_eq!(n.ipam.config[0].subnet.to_string(), "10.78.0.0/24");
    let addr = addr_of("br-other");
    assert!(
        addr.contains("inet 10.78.0.1/24") && !addr.contains("10.77."),
        "{addr}"
    );
    c.teardown_firewall().unwrap();
    a.teardown_firewall().unwrap();
}

#[test]
fn a_store_from_before_per_daemon_names_leaves_rrun0_to_the_default_daemon() {
    let (host, before) = (TestNs::new("rri"), TestNs::new("rri"));
    let (sd, so) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // A demo's store from before: its default network on rrun0, 172.17.
    let mut old = NetdConfig::new(so.path().join("networks"));
    old.host_netns = Some(format!("/run/netns/{}", before.name).into());
    let o = Netd::open(old).unwrap();
    assert_eq!(o.ensure_default_network().unwrap().bridge_name(), "rrun0");
    drop(o);
    // The default daemon (inet rrun, rrun0) runs in the host namespace.
    let mut cfg = NetdConfig::new(sd.path().join("networks"));
    cfg.host_netns = Some(format!("/run/netns/{}", host.name).into());
    let d = Netd::open(cfg).unwrap();
    let dn = d.ensure_default_network().unwrap();
    assert_eq!(dn.ipam.config[0].subnet.to_string(), "172.17.0.0/16");
    // The demo's daemon starts there with names of its own: it moves to
    // its own bridge and a free subnet, and rrun0 keeps its address.
    let o = Netd::open(config(&host, &so, "rrun-dddddddd")).unwrap();
    let on = o.ensure_default_network().unwrap();
    assert_eq!(on.bridge_name(), "rrun-dddddddd");
    assert_eq!(on.ipam.config[0].subnet.to_string(), "172.18.0.0/16");
    let addr_of = |dev: &str| {
        ok(
            10,
            &[
                "ip", "-n", &host.name, "-o", "-4", "addr", "show", "dev", dev,
            ],
        )
    };
    assert!(addr_of("rrun0").contains("inet 172.17.0.1/16"));
    assert!(addr_of("rrun-dddddddd").contains("inet 172.18.0.1/16"));
    assert!(
        !d.check_firewall().unwrap(),
        "the default daemon's rules stand"
    );
    o.teardown_firewall().unwrap();
    d.teardown_firewall().unwrap();
}
