//! Root test of the daemon-facing API: networks from Docker's default pools,
//! connect with aliases and published ports, DNS, restart with rules
//! restored and no double allocation, refusal to remove a network in use,
//! and teardown. Bridges live in a host namespace the test makes.

mod common;

use std::time::Duration;

use common::{fetch, ok, poll, serve_in, stdout, TestNs};
use netd::resolv::DnsOptions;
use netd::store::PortBinding;
use netd::{ConnectOptions, ContainerRef, CreateNetwork, Netd, NetdConfig, NetdError};

fn id(n: u32) -> String {
    format!("{:08x}{:04x}{:052x}", std::process::id(), n, 0)
}

#[test]
fn daemon_api_networks_connect_dns_ports_restart_and_teardown() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _rt = rt.enter();
    let host = TestNs::new("rrh");
    let state = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::write(
        root.path().join("etc/resolv.conf"),
        "nameserver 127.0.0.53\nsearch corp.invalid\n",
    )
    .unwrap();
    let mut cfg = NetdConfig::new(state.path().join("networks"));
    cfg.host_netns = Some(format!("/run/netns/{}", host.name).into());
    cfg.host_root = root.path().to_path_buf();
    let netd = Netd::open(cfg.clone()).unwrap();

    // Docker's predefined networks and pools: the default network first,
    // then 172.18.0.0/16.
    let predefined = netd.ensure_predefined_networks().unwrap();
    let names: Vec<&str> = predefined.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["bridge", "host", "none"]);
    assert!(predefined[1].ipam.config.is_empty() && predefined[2].ipam.config.is_empty());
    assert_eq!(netd.ensure_predefined_networks().unwrap(), predefined);
    let default = netd.ensure_default_network().unwrap();
    assert_eq!(default.ipam.config[0].subnet.to_string(), "172.17.0.0/16");
    assert_eq!(netd.ensure_default_network().unwrap().id, default.id);
    let link = ok(
        10,
        &["ip", "-n", &host.name, "-o", "addr", "show", "dev", "rrun0"],
    );
    assert!(link.contains("inet 172.17.0.1/16"), "{link}");
    let todo = netd
        .create_network(CreateNetwork::bridge("todo-app".try_into().unwrap()))
        .unwrap();
    assert_eq!(todo.ipam.config[0].subnet.to_string(), "172.18.0.0/16");
    assert!(matches!(
        netd.create_network(CreateNetwork::bridge("todo-app".try_into().unwrap())),
        Err(NetdError::Exists(_))
    ));

    // IPv6 is for bridge networks only (see tests/ipv6.rs for the rest).
    let mut v6 = CreateNetwork::bridge("v6".try_into().unwrap());
    v6.driver = netd::store::Driver::Host;
    v6.enable_ipv6 = true;
    assert!(matches!(netd.create_network(v6), Err(NetdError::Ipv6(_))));

    let app = TestNs::new("rrc");
    let mysql = TestNs::new("rrc");
    let c = |ns: &TestNs| ns.open();
    let (app_ns, mysql_ns) = (c(&app), c(&mysql));
    let got = netd
        .connect(
            "todo-app",
            ContainerRef {
                id: &id(1),
                name: "app",
                hostname: Some("app-host"),
                netns: &app_ns,
            },
            ConnectOptions::default(),
        )
        .unwrap();
    assert_eq!(got.interface.as_deref(), Some("eth0"));
    assert_eq!(got.address.unwrap().to_string(), "172.18.0.2/16");
    assert_eq!(got.gateway.unwrap().to_string(), "172.18.0.1");
    // Docker's MAC from the address, so a reused address keeps its MAC.
    let eth0 = ok(10, &["ip", "-n", &app.name, "-o", "link", "show", "eth0"]);
    assert!(eth0.contains("link/ether 02:42:ac:12:00:02"), "{eth0}");
    let opts = ConnectOptions {
        aliases: vec!["mysql".into()],
        ports: vec![PortBinding {
            host_ip: None,
            host_port: 13306,
            container_port: 3306,
            protocol: "tcp".into(),
        }],
        ..Default::default()
    };
    let got = netd
        .connect(
            "todo-app",
            ContainerRef {
                id: &id(2),
                name: "todo-mysql-1",
                hostname: None,
                netns: &mysql_ns,
            },
            opts,
        )
        .unwrap();
    assert_eq!(got.address.unwrap().to_string(), "172.18.0.3/16");
    assert!(matches!(
        netd.connect(
            "todo-app",
            ContainerRef {
                id: &id(2),
                name: "x",
                hostname: None,
                netns: &mysql_ns
            },
            ConnectOptions::default()
        ),
        Err(NetdError::AlreadyConnected { .. })
    ));
    // A second network: eth1, and the default route stays on eth0.
    netd.connect(
        "bridge",
        ContainerRef {
            id: &id(1),
            name: "app",
            hostname: None,
            netns: &app_ns,
        },
        ConnectOptions::default(),
    )
    .map(|g| {
        assert_eq!(g.interface.as_deref(), Some("eth1"));
        assert_eq!(g.gateway, None);
    })
    .unwrap();

    // DNS through the resolv.conf netd writes.
    let rc = netd.resolv_conf(&DnsOptions::default());
    assert_eq!(
        rc,
        "nameserver 127.0.0.11\nsearch corp.invalid\noptions ndots:0\n"
    );
    let _dns_app = netd
        .start_dns(&id(1), &app_ns, &DnsOptions::default())
        .unwrap();
    app.write_etc("resolv.conf", &rc);
    let g = app.exec(15, &["getent", "hosts", "mysql"]);
    assert!(stdout(&g).starts_with("172.18.0.3"), "{}", stdout(&g));
    let g = app.exec(
        15,
        &[
            "dig",
            "+short",
            "+time=3",
            "+tries=1",
            "@127.0.0.11",
            "todo-mysql-1",
        ],
    );
    assert_eq!(stdout(&g).trim(), "172.18.0.3");

    // The published port, from the host on 127.0.0.1.
    serve_in(&mysql, 3306, "mysql says hi\n");
    poll("server", Duration::from_secs(5), || {
        fetch(&mysql, "127.0.0.1:3306")
    });
    assert_eq!(
        fetch(&host, "127.0.0.1:13306").as_deref(),
        Some("mysql says hi\n")
    );
    // From app by name over the network.
    assert_eq!(
        fetch(&app, "172.18.0.3:3306").as_deref(),
        Some("mysql says hi\n")
    );

    // Restart: the rules were lost (say, a firewall reload); a new Netd
    // restores them, and IPAM does not hand out a taken address.
    drop(_dns_app);
    drop(netd);
    ok(
        10,
        &[
            "ip", "netns", "exec", &host.name, "nft", "delete", "table", "inet", "rrun",
        ],
    );
    assert_eq!(
        fetch(&host, "127.0.0.1:13306"),
        None,
        "control: no rules, no port"
    );
    // And a crash between creating a veth and saving it left a stray one.
    let br = todo.bridge_name();
    ok(
        10,
        &[
            "ip",
            "-n",
            &host.name,
            "link",
            "add",
            "ve0123456789abc",
            "type",
            "veth",
            "peer",
            "name",
            "vp0123456789abc",
        ],
    );
    ok(
        10,
        &[
            "ip",
            "-n",
            &host.name,
            "link",
            "set",
            "ve0123456789abc",
            "master",
            &br,
        ],
    );
    let netd = Netd::open(cfg).unwrap();
    assert_eq!(
        fetch(&host, "127.0.0.1:13306").as_deref(),
        Some("mysql says hi\n")
    );
    // A firewall reload while the daemon runs (everything flushed): the
    // periodic check notices and restores; when all is in place it
    // changes nothing.
    assert!(!netd.check_firewall().unwrap(), "nothing to restore");
    ok(
        10,
        &["ip", "netns", "exec", &host.name, "nft", "flush", "ruleset"],
    );
    assert_eq!(fetch(&host, "127.0.0.1:13306"), None, "control: flushed");
    assert!(netd.check_firewall().unwrap(), "restored");
    assert_eq!(
        fetch(&host, "127.0.0.1:13306").as_deref(),
        Some("mysql says hi\n")
    );
    assert!(!netd.check_firewall().unwrap());
    // Forwarding turned off behind rrund's back (sysctl --system): back on.
    let fwd = |v: Option<&str>| {
        let mut cmd = vec!["ip", "netns", "exec", &host.name, "sysctl"];
        match v {
            Some(v) => cmd.extend(["-qw", v]),
            None => cmd.extend(["-n", "net.ipv4.ip_forward"]),
        }
        ok(10, &cmd).trim().to_string()
    };
    fwd(Some("net.ipv4.ip_forward=0"));
    assert!(netd.check_firewall().unwrap(), "forwarding restored");
    assert_eq!(fwd(None), "1");
    let ports = netd::link::bridge_ports(&host.open(), &br).unwrap();
    assert_eq!(
        ports.len(),
        2,
        "the two containers' veths, not the stray: {ports:?}"
    );
    assert!(!ports.contains(&"ve0123456789abc".to_string()));
    let third = TestNs::new("rrc");
    let third_ns = third.open();
    let got = netd
        .connect(
            "todo-app",
            ContainerRef {
                id: &id(3),
                name: "worker",
                hostname: None,
                netns: &third_ns,
            },
            ConnectOptions::default(),
        )
        .unwrap();
    assert_eq!(got.address.unwrap().to_string(), "172.18.0.4/16");
    let snap = netd.records().load();
    assert_eq!(
        snap.endpoints()
            .iter()
            .filter(|e| e.network == "todo-app")
            .count(),
        3
    );

    // In use: refused. Then disconnect everyone and remove.
    assert!(matches!(
        netd.remove_network("todo-app"),
        Err(NetdError::InUse { .. })
    ));
    for n in 1..=3 {
        netd.disconnect("todo-app", &id(n)).unwrap();
    }
    assert!(matches!(
        netd.disconnect("todo-app", &id(1)),
        Err(NetdError::NotConnected { .. })
    ));
    netd.disconnect("bridge", &id(1)).unwrap();
    assert_eq!(
        fetch(&host, "127.0.0.1:13306"),
        None,
        "port still published after disconnect"
    );
    netd.remove_network(todo.id.short()).unwrap();
    for n in ["bridge", "host", "none"] {
        netd.remove_network(n).unwrap();
    }
    assert!(netd.networks().unwrap().is_empty());
    netd.teardown_firewall().unwrap();
    let links = ok(10, &["ip", "-n", &host.name, "-o", "link", "show"]);
    assert_eq!(links.lines().count(), 1, "only lo: {links}");
    let tables = ok(
        10,
        &["ip", "netns", "exec", &host.name, "nft", "list", "tables"],
    );
    assert_eq!(tables.trim(), "");
    for ns in [&app, &mysql, &third] {
        let l = ok(10, &["ip", "-n", &ns.name, "-o", "link", "show"]);
        assert_eq!(l.lines().count(), 1, "container keeps only lo: {l}");
    }
}
