//! Root tests: bridges and veths in namespaces the tests make.

mod common;

use common::{ok, unique, TestNs};
use netd::link::{self, Attachment, BridgeSpec};

fn attachment(bridge: &str, ifname: &str, addr: &str, gw: Option<&str>) -> Attachment {
    Attachment {
        bridge: bridge.into(),
        host_veth: link::veth_name(&unique("c"), bridge),
        ifname: ifname.into(),
        addresses: vec![addr.parse().unwrap()],
        default_gateway: gw.map(|g| g.parse().unwrap()),
        default_gateway6: None,
        mac: None,
        mtu: Some(1400),
    }
}

#[test]
fn containers_on_a_bridge_get_eth0_address_route_and_reach_each_other() {
    let host = TestNs::new("rrh");
    let c1 = TestNs::new("rrc");
    let c2 = TestNs::new("rrc");
    let br = format!("rr-{}", unique("").replace('-', ""));
    let spec = BridgeSpec {
        name: br.clone(),
        gateways: vec!["10.77.0.1/24".parse().unwrap()],
        mtu: Some(1400),
    };
    link::ensure_bridge(&host.open(), &spec).unwrap();
    // Idempotent: a restarted daemon runs it again.
    link::ensure_bridge(&host.open(), &spec).unwrap();
    let brinfo = ok(
        10,
        &["ip", "-n", &host.name, "-o", "addr", "show", "dev", &br],
    );
    assert!(brinfo.contains("inet 10.77.0.1/24"), "{brinfo}");

    let a1 = attachment(&br, "eth0", "10.77.0.2/24", Some("10.77.0.1"));
    let a2 = attachment(&br, "eth0", "10.77.0.3/24", Some("10.77.0.1"));
    link::attach(&host.open(), &c1.open(), &a1).unwrap();
    link::attach(&host.open(), &c2.open(), &a2).unwrap();

    let eth0 = ok(
        10,
        &["ip", "-n", &c1.name, "-o", "addr", "show", "dev", "eth0"],
    );
    assert!(eth0.contains("inet 10.77.0.2/24"), "{eth0}");
    let l = ok(
        10,
        &["ip", "-n", &c1.name, "-o", "link", "show", "dev", "eth0"],
    );
    assert!(l.contains("mtu 1400") && l.contains("UP"), "{l}");
    let lo = ok(
        10,
        &["ip", "-n", &c1.name, "-o", "link", "show", "dev", "lo"],
    );
    assert!(lo.contains("UP"), "{lo}");
    let route = ok(10, &["ip", "-n", &c1.name, "route", "show", "default"]);
    assert!(route.contains("default via 10.77.0.1 dev eth0"), "{route}");
    // Host end is on the bridge, in the host namespace.
    let hl = ok(
        10,
        &[
            "ip",
            "-n",
            &host.name,
            "-o",
            "link",
            "show",
            "dev",
            &a1.host_veth,
        ],
    );
    assert!(hl.contains(&format!("master {br}")), "{hl}");

    // Traffic flows: container to container, container to gateway.
    let out = c1.exec(10, &["busybox", "ping", "-c", "1", "-W", "3", "10.77.0.3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = c2.exec(10, &["busybox", "ping", "-c", "1", "-W", "3", "10.77.0.1"]);
    assert!(out.status.success());

    // A second network shows up as eth1 without touching the default route.
    let br2 = format!("rr-{}", unique("").replace('-', ""));
    link::ensure_bridge(
        &host.open(),
        &BridgeSpec {
            name: br2.clone(),
            gateways: vec!["10.78.0.1/24".parse().unwrap()],
            mtu: None,
        },
    )
    .unwrap();
    let b1 = attachment(&br2, "eth1", "10.78.0.2/24", None);
    link::attach(&host.open(), &c1.open(), &b1).unwrap();
    let eth1 = ok(
        10,
        &["ip", "-n", &c1.name, "-o", "addr", "show", "dev", "eth1"],
    );
    assert!(eth1.contains("inet 10.78.0.2/24"), "{eth1}");
    let routes = ok(10, &["ip", "-n", &c1.name, "route", "show", "default"]);
    assert_eq!(routes.lines().count(), 1, "{routes}");

    // Teardown: idempotent, leaves nothing.
    link::detach(&host.open(), &a1.host_veth).unwrap();
    link::detach(&host.open(), &a1.host_veth).unwrap();
    assert!(!link::link_exists(&host.open(), &a1.host_veth).unwrap());
    assert!(!link::link_exists(&c1.open(), "eth0").unwrap());
    assert!(link::link_exists(&c1.open(), "eth1").unwrap());
    link::detach(&host.open(), &a2.host_veth).unwrap();
    link::detach(&host.open(), &b1.host_veth).unwrap();
    assert!(!link::link_exists(&c1.open(), "eth1").unwrap());
    for b in [&br, &br2] {
        link::remove_link(&host.open(), b).unwrap();
        link::remove_link(&host.open(), b).unwrap();
    }
    let left = ok(10, &["ip", "-n", &host.name, "-o", "link", "show"]);
    assert_eq!(left.lines().count(), 1, "only lo remains: {left}");
}

#[test]
fn failed_attach_leaves_no_veth_behind() {
    let host = TestNs::new("rrh");
    let c1 = TestNs::new("rrc");
    let br = format!("rr-{}", unique("").replace('-', ""));
    link::ensure_bridge(
        &host.open(),
        &BridgeSpec {
            name: br.clone(),
            gateways: vec!["10.79.0.1/24".parse().unwrap()],
            mtu: None,
        },
    )
    .unwrap();
    // An interface name the kernel refuses inside the container: rename fails.
    let mut a = attachment(&br, "eth0", "10.79.0.2/24", None);
    a.ifname = "bad/name".into();
    assert!(link::attach(&host.open(), &c1.open(), &a).is_err());
    assert!(!link::link_exists(&host.open(), &a.host_veth).unwrap());
    let left = ok(10, &["ip", "-n", &c1.name, "-o", "link", "show"]);
    assert_eq!(left.lines().count(), 1, "only lo in the container: {left}");
    // A missing bridge is an error too, with nothing created.
    let b = attachment("rr-missing", "eth0", "10.79.0.3/24", None);
    let err = link::attach(&host.open(), &c1.open(), &b).unwrap_err();
    assert!(err.to_string().contains("rr-missing"), "{err}");
    assert!(!link::link_exists(&host.open(), &b.host_veth).unwrap());
}

/// A container's old pair still there (its namespace not yet torn down by
/// the kernel, see `Netd::release`) when the same container attaches
/// again: the old host end is replaced, and the new pair works.
#[test]
fn an_old_pair_of_the_same_name_is_replaced() {
    let host = TestNs::new("rrh");
    let old = TestNs::new("rrc");
    let new = TestNs::new("rrc");
    let br = format!("rr-{}", unique("").replace('-', ""));
    let spec = BridgeSpec {
        name: br.clone(),
        gateways: vec!["10.81.0.1/24".parse().unwrap()],
        mtu: None,
    };
    link::ensure_bridge(&host.open(), &spec).unwrap();
    let a = attachment(&br, "eth0", "10.81.0.2/24", Some("10.81.0.1"));
    link::attach(&host.open(), &old.open(), &a).unwrap();
    link::attach(&host.open(), &new.open(), &a).unwrap();
    assert!(
        !link::link_exists(&old.open(), "eth0").unwrap(),
        "the old pair is gone"
    );
    let eth0 = ok(
        10,
        &["ip", "-n", &new.name, "-o", "addr", "show", "dev", "eth0"],
    );
    assert!(eth0.contains("inet 10.81.0.2/24"), "{eth0}");
    let out = new.exec(10, &["busybox", "ping", "-c", "1", "-W", "3", "10.81.0.1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    link::detach(&host.open(), &a.host_veth).unwrap();
    link::remove_link(&host.open(), &br).unwrap();
}
