//! Root test of IPv6 networks through the daemon-facing API: a dual-stack
//! bridge, containers with IPv6 addresses and routes, traffic between them
//! and (masqueraded) to an outside peer, published ports over IPv6 from
//! outside and from the host's ::1, AAAA and ip6.arpa PTR answers from the
//! embedded resolver, restart without double allocation, and teardown.
//! Everything lives in namespaces the test makes.

mod common;

use std::time::Duration;

use common::{fetch, ok, outside_link, poll, run, serve_in, stdout, unique, TestNs};
use netd::resolv::DnsOptions;
use netd::store::PortBinding;
use netd::{ConnectOptions, ContainerRef, CreateNetwork, Netd, NetdConfig, NetdError};

fn id(n: u32) -> String {
    format!("{:08x}{:04x}{:052x}", std::process::id(), n, 0x6)
}

fn ip(ns: &TestNs, args: &[&str]) -> String {
    let mut full = vec!["ip", "-n", ns.name.as_str()];
    full.extend_from_slice(args);
    ok(10, &full)
}

fn dig(ns: &TestNs, args: &[&str]) -> String {
    let mut full = vec!["dig", "+short", "+time=3", "+tries=1", "@127.0.0.11"];
    full.extend_from_slice(args);
    stdout(&ns.exec(15, &full)).trim().to_string()
}

#[test]
fn ipv6_networks_addresses_traffic_ports_dns_restart_and_teardown() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _rt = rt.enter();
    let host = TestNs::new("rrh");
    let outside = TestNs::new("rrx");
    // The outside world over IPv6: a peer on fd00:200::/64 with no route
    // to any container subnet, so only masquerading lets containers out.
    outside_link(&host, &outside, "fd00:200::1/64", "fd00:200::2/64");

    let state = tempfile::tempdir().unwrap();
    let mut cfg = NetdConfig::new(state.path().join("networks"));
    cfg.host_netns = Some(format!("/run/netns/{}", host.name).into());
    cfg.upstreams = Some(vec![]);
    let netd = Netd::open(cfg.clone()).unwrap();

    // A ULA /64 is chosen when none is given; an IPv6 subnet implies --ipv6.
    let mut auto = CreateNetwork::bridge("auto6".try_into().unwrap());
    auto.enable_ipv6 = true;
    let auto = netd.create_network(auto).unwrap();
    let auto6 = auto.ipv6().expect("an IPv6 entry").clone();
    assert!(auto.enable_ipv6);
    assert_eq!(auto6.subnet.prefix_len(), 64);
    assert!(auto6.subnet.to_string().starts_with("fd"), "{auto6:?}");
    assert!(auto.ipv4().is_some(), "dual stack");

    let tag = &unique("")[..4].replace('-', "0");
    let subnet6 = format!("fd00:{tag}:6::/64");
    let mut req = CreateNetwork::bridge("v6net".try_into().unwrap());
    req.subnet6 = Some(subnet6.parse().unwrap());
    let net = netd.create_network(req).unwrap();
    assert!(net.enable_ipv6);
    let gw6 = format!("fd00:{tag}:6::1");
    assert_eq!(net.ipv6().unwrap().gateway.to_string(), gw6);
    let br = net.bridge_name();
    let addrs = ip(&host, &["-o", "addr", "show", "dev", &br]);
    assert!(addrs.contains(&format!("inet6 {gw6}/64")), "{addrs}");
    assert!(addrs.contains("inet 172."), "{addrs}");
    // An IPv6 subnet overlapping one in use is refused.
    let mut clash = CreateNetwork::bridge("clash".try_into().unwrap());
    clash.subnet6 = Some(format!("fd00:{tag}:6::/80").parse().unwrap());
    assert!(matches!(
        netd.create_network(clash),
        Err(NetdError::Ipam(_))
    ));

    let c1 = TestNs::new("rrc");
    let c2 = TestNs::new("rrc");
    let (c1_ns, c2_ns) = (c1.open(), c2.open());
    let got1 = netd
        .connect(
            "v6net",
            ContainerRef {
                id: &id(1),
                name: "web",
                hostname: None,
                netns: &c1_ns,
            },
            ConnectOptions {
                ports: vec![PortBinding {
                    host_ip: None,
                    host_port: 18080,
                    container_port: 80,
                    protocol: "tcp".into(),
                }],
                ..Default::default()
            },
        )
        .unwrap();
    let ip1 = format!("fd00:{tag}:6::2");
    assert_eq!(got1.address6.unwrap().to_string(), format!("{ip1}/64"));
    assert_eq!(got1.gateway6.unwrap().to_string(), gw6);
    let ip2 = format!("fd00:{tag}:6::42");
    let got2 = netd
        .connect(
            "v6net",
            ContainerRef {
                id: &id(2),
                name: "client",
                hostname: None,
                netns: &c2_ns,
            },
            ConnectOptions {
                ipv6: Some(ip2.parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(got2.address6.unwrap().to_string(), format!("{ip2}/64"));
    // Inside: the address is usable at once (no DAD), the default route.
    let inside = ip(&c1, &["-6", "-o", "addr", "show", "dev", "eth0"]);
    let global = inside
        .lines()
        .find(|l| l.contains(&format!("inet6 {ip1}/64")))
        .unwrap_or_else(|| panic!("{inside}"));
    assert!(!global.contains("tentative"), "{inside}");
    // CVE-2020-13401: neither containers nor the bridge take router
    // advertisements (a container could send them).
    let sysctl = |ns: &TestNs, key: &str| {
        stdout(&ns.exec(10, &["sysctl", "-n", key]))
            .trim()
            .to_string()
    };
    for key in ["all", "default", "eth0"] {
        assert_eq!(
            sysctl(&c1, &format!("net.ipv6.conf.{key}.accept_ra")),
            "0",
            "{key}"
        );
    }
    assert_eq!(sysctl(&host, &format!("net.ipv6.conf.{br}.accept_ra")), "0");
    let routes = ip(&c1, &["-6", "route", "show", "default"]);
    assert!(routes.contains(&format!("via {gw6} dev eth0")), "{routes}");

    // Traffic within the network over IPv6, and out to the peer.
    serve_in(&c1, 80, "web says hi\n");
    poll("the server", Duration::from_secs(5), || {
        fetch(&c1, "[::1]:80")
    });
    assert_eq!(
        fetch(&c2, &format!("[{ip1}]:80")).as_deref(),
        Some("web says hi\n")
    );
    serve_in(&outside, 7070, "outside says hi\n");
    poll("the outside server", Duration::from_secs(5), || {
        fetch(&outside, "[::1]:7070")
    });
    assert_eq!(
        fetch(&c2, "[fd00:200::2]:7070").as_deref(),
        Some("outside says hi\n"),
        "masqueraded out over IPv6"
    );

    // The published port over IPv6: from outside on the host's address,
    // from the host itself on that address; IPv4 still works. (Not on the
    // host's ::1: the kernel never routes ::1 off `lo`; see firewall.rs.)
    // Polled: the first connection waits on neighbour discovery along the
    // way, which a loaded machine can stretch past one connect's timeout.
    assert_eq!(
        poll(
            "the published port from outside",
            Duration::from_secs(10),
            || { fetch(&outside, "[fd00:200::1]:18080") }
        ),
        "web says hi\n"
    );
    assert_eq!(
        fetch(&host, "[fd00:200::1]:18080").as_deref(),
        Some("web says hi\n")
    );
    assert_eq!(
        fetch(&host, "127.0.0.1:18080").as_deref(),
        Some("web says hi\n")
    );
    // The host's ::1 cannot reach it, and says so at once (refused, not a
    // connect that hangs until its timeout).
    let to_lo6 = host
        .open()
        .run(|| {
            let addr = "[::1]:18080".parse().unwrap();
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                .map(drop)
                .map_err(|e| e.kind())
        })
        .unwrap();
    assert_eq!(to_lo6, Err(std::io::ErrorKind::ConnectionRefused));
    // The port is taken on both families now.
    assert!(!netd.port_available(None, 18080, "tcp").unwrap());
    assert!(!netd
        .port_available(Some("::".parse().unwrap()), 18080, "tcp")
        .unwrap());
    // A free port on one family's wildcard; an address the host does not
    // have is said to be so, not "in use".
    assert!(netd
        .port_available(Some("::".parse().unwrap()), 18099, "tcp")
        .unwrap());
    assert!(netd
        .port_available(Some("0.0.0.0".parse().unwrap()), 18099, "udp")
        .unwrap());
    assert!(matches!(
        netd.port_available(Some("fd00:dead::9".parse().unwrap()), 18099, "tcp"),
        Err(NetdError::HostAddress(_))
    ));

    // DNS: AAAA for a name, PTR for an IPv6 address.
    let _dns = netd
        .start_dns(&id(2), &c2_ns, &DnsOptions::default())
        .unwrap();
    assert_eq!(dig(&c2, &["AAAA", "web"]), ip1);
    assert_eq!(
        dig(&c2, &["A", "web"]),
        got1.address.unwrap().addr().to_string()
    );
    assert_eq!(dig(&c2, &["-x", &ip1]), "web.v6net.");
    // glibc through the resolv.conf netd writes.
    c2.write_etc("resolv.conf", &netd.resolv_conf(&DnsOptions::default()));
    let g = c2.exec(15, &["getent", "ahostsv6", "web"]);
    assert!(stdout(&g).starts_with(&format!("{ip1} ")), "{}", stdout(&g));

    // [::1] cannot be published on (no kernel path); said at once.
    let c4 = TestNs::new("rrc");
    let refused = netd.connect(
        "v6net",
        ContainerRef {
            id: &id(4),
            name: "loop6",
            hostname: None,
            netns: &c4.open(),
        },
        ConnectOptions {
            ports: vec![PortBinding {
                host_ip: Some("::1".parse().unwrap()),
                host_port: 18081,
                container_port: 80,
                protocol: "tcp".into(),
            }],
            ..Default::default()
        },
    );
    assert!(
        matches!(&refused, Err(NetdError::Ipv6(m)) if m.contains("[::1]")),
        "{refused:?}"
    );

    // --ip6 taken, or on a network without IPv6: refused, nothing left.
    let c3 = TestNs::new("rrc");
    let c3_ns = c3.open();
    let third = |netd: &Netd, key: &str, ipv6: &str| {
        netd.connect(
            key,
            ContainerRef {
                id: &id(3),
                name: "third",
                hostname: None,
                netns: &c3_ns,
            },
            ConnectOptions {
                ipv6: Some(ipv6.parse().unwrap()),
                ..Default::default()
            },
        )
    };
    assert!(matches!(
        third(&netd, "v6net", &ip2),
        Err(NetdError::Ipam(_))
    ));
    netd.ensure_default_network().unwrap();
    assert!(matches!(
        third(&netd, "bridge", "fd00:1::5"),
        Err(NetdError::Ipv6(_))
    ));
    assert!(
        !ip(&c3, &["-o", "link"]).contains("eth0"),
        "no half-made interface"
    );

    // Restart: the bridge's address and the rules come back, and IPAM does
    // not hand out a taken IPv6 address.
    drop(_dns);
    drop(netd);
    ip(&host, &["addr", "del", &format!("{gw6}/64"), "dev", &br]);
    ok(
        10,
        &[
            "ip", "netns", "exec", &host.name, "nft", "delete", "table", "inet", "rrun",
        ],
    );
    assert_eq!(fetch(&outside, "[fd00:200::1]:18080"), None, "control");
    // daemon.json now says `ipv6` and `fixed-cidr-v6`: the default network,
    // made without IPv6 above, gains that subnet.
    cfg.default_ipv6 = true;
    cfg.default_subnet6 = Some(format!("fd00:{tag}:17::/64").parse().unwrap());
    let netd = Netd::open(cfg).unwrap();
    let default = netd.ensure_default_network().unwrap();
    assert!(default.enable_ipv6);
    assert_eq!(
        default.ipv6().unwrap().subnet.to_string(),
        format!("fd00:{tag}:17::/64")
    );
    let rrun0 = ip(&host, &["-o", "addr", "show", "dev", "rrun0"]);
    assert!(
        rrun0.contains(&format!("inet6 fd00:{tag}:17::1/64")),
        "{rrun0}"
    );
    assert_eq!(netd.ensure_default_network().unwrap(), default, "once");
    let addrs = ip(&host, &["-o", "addr", "show", "dev", &br]);
    assert!(addrs.contains(&format!("inet6 {gw6}/64")), "{addrs}");
    // Polled: the first connection waits on neighbour discovery along the
    // way, which a loaded machine can stretch past one connect's timeout.
    assert_eq!(
        poll(
            "the published port from outside",
            Duration::from_secs(10),
            || { fetch(&outside, "[fd00:200::1]:18080") }
        ),
        "web says hi\n"
    );
    let got3 = third(&netd, "v6net", &format!("fd00:{tag}:6::3")).unwrap();
    assert_eq!(
        got3.address6.unwrap().addr().to_string(),
        format!("fd00:{tag}:6::3")
    );

    // Teardown: nothing of the network is left.
    for n in 1..=3 {
        netd.disconnect("v6net", &id(n)).unwrap();
    }
    netd.remove_network("v6net").unwrap();
    netd.remove_network("auto6").unwrap();
    let links = ip(&host, &["-o", "link"]);
    assert!(!links.contains(&br), "{links}");
    assert!(!links.contains(&auto.bridge_name()), "{links}");
    let left = run(
        10,
        &[
            "ip", "netns", "exec", &host.name, "nft", "list", "table", "inet", "rrun",
        ],
    );
    let left = stdout(&left);
    assert!(!left.contains(&format!("fd00:{tag}:6::")), "{left}");
    assert!(!left.contains(&auto6.subnet.to_string()), "{left}");
    assert!(!left.contains("18080"), "{left}");
}

#[test]
fn ipv6_pools_from_daemon_json_keep_dockers_ipv4_pools() {
    let host = TestNs::new("rrh");
    let state = tempfile::tempdir().unwrap();
    let tag = &unique("")[..4].replace('-', "0");
    let mut cfg = NetdConfig::new(state.path().join("networks"));
    cfg.host_netns = Some(format!("/run/netns/{}", host.name).into());
    // `default-address-pools` with only an IPv6 entry.
    cfg.pools = vec![netd::ipam::AddressPool {
        base: format!("fd00:{tag}:9900::/56").parse().unwrap(),
        size: 64,
    }];
    let netd = Netd::open(cfg).unwrap();
    let mut req = CreateNetwork::bridge("pooled".try_into().unwrap());
    req.enable_ipv6 = true;
    let a = netd.create_network(req.clone()).unwrap();
    assert_eq!(
        a.ipv6().unwrap().subnet.to_string(),
        format!("fd00:{tag}:9900::/64")
    );
    assert_eq!(a.ipv4().unwrap().subnet.to_string(), "172.17.0.0/16");
    req.name = "pooled2".try_into().unwrap();
    let b = netd.create_network(req).unwrap();
    assert_eq!(
        b.ipv6().unwrap().subnet.to_string(),
        format!("fd00:{tag}:9900:1::/64")
    );
    netd.remove_network("pooled").unwrap();
    netd.remove_network("pooled2").unwrap();
    netd.teardown_firewall().unwrap();
}
