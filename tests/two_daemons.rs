//! Two rrund on one host (a service and the demo, or a test run): each has
//! its own nftables table, DOCKER-USER rules, default bridge and default
//! subnet, both publish ports side by side, and neither daemon's firewall
//! watch or restart undoes the other's rules. Root; both daemons share one
//! network namespace of the test's own.

mod common;

use common::daemon::{inspect_network, serve, Daemon, TestNetns};
use common::{text, unique, wait_for};
use std::time::Duration;

/// GET `url` with curl from `ns`, with a timeout; None if it failed.
fn fetch(ns: &TestNetns, url: &str) -> Option<String> {
    let out = ns.exec(10, &["curl", "-sf", "-m", "3", url]);
    out.status.success().then(|| text(&out.stdout))
}

/// The default network's bridge and IPv4 subnet.
fn default_bridge(d: &Daemon) -> (String, String) {
    let n = inspect_network(d, "bridge");
    let bridge = n["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap_or_else(|| panic!("no bridge name: {n}"))
        .to_string();
    let subnet = n["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap()
        .to_string();
    (bridge, subnet)
}

fn nft(ns: &TestNetns, args: &[&str]) -> String {
    let mut full = vec!["nft"];
    full.extend_from_slice(args);
    let out = ns.exec(10, &full);
    assert!(out.status.success(), "nft {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// Both published ports answer with their container's hostname.
fn both_answer(ns: &TestNetns, what: &str, ports: [(&str, &str); 2]) {
    for (port, hostname) in ports {
        let url = format!("http://127.0.0.1:{port}/");
        let got = wait_for(
            &format!("{url} to answer {what}"),
            Duration::from_secs(15),
            || fetch(ns, &url),
        );
        assert_eq!(got.trim(), hostname, "{url} {what}");
    }
}

#[test]
fn two_daemons_publish_side_by_side_and_keep_their_own_rules() {
    let net = TestNetns::new("two");
    let name = net.name.clone();
    // Docker's chain, as Docker with iptables-nft makes it: each daemon
    // puts its own accept rules there, marked with its own table's name.
    net.exec(10, &["nft", "add", "table", "ip", "filter"]);
    nft(&net, &["add", "chain", "ip", "filter", "DOCKER-USER"]);
    let a = Daemon::start_in(net);
    // The same namespace for the second daemon. Dropped first (declared
    // last), it deletes the namespace's name only once its own daemon is
    // gone; `a`'s daemon still holds the namespace open for its clean-up.
    let mut b = Daemon::start_in(TestNetns { name });
    let ns = &a.net;

    // Different names and subnets, and neither the historic ones (those
    // are the default data root's).
    let (bridge_a, subnet_a) = default_bridge(&a);
    let (bridge_b, subnet_b) = default_bridge(&b);
    assert_eq!(bridge_a, a.own_name());
    assert_eq!(bridge_b, b.own_name());
    assert_ne!(bridge_a, bridge_b);
    assert_ne!(bridge_a, "rrun0");
    assert_ne!(subnet_a, subnet_b, "the second daemon's default subnet");
    let addrs = text(&ns.exec(10, &["ip", "-o", "-4", "addr"]).stdout);
    for (bridge, subnet) in [(&bridge_a, &subnet_a), (&bridge_b, &subnet_b)] {
        let prefix = subnet.rsplit_once('.').unwrap().0;
        assert!(
            addrs
                .lines()
                .any(|l| l.contains(bridge.as_str()) && l.contains(prefix)),
            "{bridge} on {subnet}: {addrs}"
        );
    }
    let tables = nft(ns, &["list", "tables"]);
    for t in [a.own_name(), b.own_name()] {
        assert!(tables.contains(&format!("table inet {t}\n")), "{tables}");
    }

    a.load_busybox();
    b.load_busybox();
    let (host_a, host_b) = (unique("web-a"), unique("web-b"));
    serve(&a, &["-p", "18081:80", "--hostname", &host_a]);
    serve(&b, &["-p", "18082:80", "--hostname", &host_b]);
    let ports = [("18081", host_a.as_str()), ("18082", host_b.as_str())];
    both_answer(ns, "with both daemons up", ports);

    // A port the other daemon publishes is taken, as one of its own would be.
    let clash = b.rrun(&["run", "-d", "-p", "18081:80", "busybox", "sleep", "60"]);
    assert!(!clash.status.success(), "{}", text(&clash.stdout));
    assert!(
        text(&clash.stderr).contains("port is already allocated"),
        "{}",
        text(&clash.stderr)
    );

    // Each table holds its own daemon's DNAT only.
    for (d, mine, theirs) in [(&a, "18081", "18082"), (&b, "18082", "18081")] {
        let t = nft(ns, &["list", "table", "inet", &d.own_name()]);
        assert!(t.contains(&format!("dport {mine}")), "{t}");
        assert!(!t.contains(&format!("dport {theirs}")), "{t}");
    }
    let user = nft(ns, &["list", "chain", "ip", "filter", "DOCKER-USER"]);
    for (d, bridge) in [(&a, &bridge_a), (&b, &bridge_b)] {
        let own = user
            .lines()
            .filter(|l| l.contains(&format!("comment \"{}\"", d.own_name())))
            .collect::<Vec<_>>();
        assert_eq!(own.len(), 2, "{user}");
        assert!(own.iter().all(|l| l.contains(bridge.as_str())), "{user}");
    }

    // Each daemon's firewall watch runs: its table, removed, comes back
    // (proof the watch ran and applied its whole plan) and the other
    // daemon's ports still answer.
    for d in [&a, &b] {
        let table = d.own_name();
        nft(ns, &["delete", "table", "inet", &table]);
        wait_for(
            &format!("{table} restored by its daemon's watch"),
            Duration::from_secs(30),
            || {
                let t = ns.exec(10, &["nft", "list", "table", "inet", &table]);
                (t.status.success() && text(&t.stdout).contains("dnat ip to")).then_some(())
            },
        );
        both_answer(ns, &format!("after {table}'s watch restored it"), ports);
    }
    // A watch with nothing to restore leaves the other daemon's DOCKER-USER
    // rules alone, the restore above included.
    let user_after = nft(ns, &["list", "chain", "ip", "filter", "DOCKER-USER"]);
    for d in [&a, &b] {
        let n = user_after
            .lines()
            .filter(|l| l.contains(&format!("comment \"{}\"", d.own_name())))
            .count();
        assert_eq!(n, 2, "{user_after}");
    }

    // A restart re-applies the restarted daemon's table from its store;
    // the other's stays.
    b.kill9();
    b.spawn();
    both_answer(ns, "after the second daemon's restart", ports);
    assert_eq!(
        default_bridge(&b),
        (bridge_b, subnet_b),
        "kept across a restart"
    );
}

#[test]
fn daemon_json_bridge_bip_and_fixed_cidr_set_the_default_network() {
    let mut d = Daemon::start_in(TestNetns::new("bip"));
    let (derived, _) = default_bridge(&d);
    d.kill9();
    let bridge = unique("br").chars().take(15).collect::<String>();
    let config = serde_json::json!({
        "bridge": bridge,
        "bip": "10.123.7.5/24",
        "fixed-cidr": "10.123.7.128/25",
    });
    std::fs::write(d.dir.path().join("daemon.json"), config.to_string()).unwrap();
    d.spawn();
    let n = inspect_network(&d, "bridge");
    assert_eq!(
        n["Options"]["com.docker.network.bridge.name"],
        bridge.as_str()
    );
    let ipam = &n["IPAM"]["Config"][0];
    assert_eq!(ipam["Subnet"], "10.123.7.0/24", "{n}");
    assert_eq!(ipam["Gateway"], "10.123.7.5", "{n}");
    assert_eq!(ipam["IPRange"], "10.123.7.128/25", "{n}");
    let links = text(&d.net.exec(10, &["ip", "-o", "link"]).stdout);
    assert!(
        !links.contains(&format!(": {derived}:")),
        "old bridge left: {links}"
    );
    let addr = text(
        &d.net
            .exec(10, &["ip", "-o", "-4", "addr", "show", "dev", &bridge])
            .stdout,
    );
    assert!(addr.contains("inet 10.123.7.5/24"), "{addr}");
    d.load_busybox();
    let ip = d.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ip -o -4 addr show dev eth0",
    ]);
    let last: u8 = ip
        .split_once("inet 10.123.7.")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|o| o.parse().ok())
        .unwrap_or_else(|| panic!("no address on bip's subnet: {ip}"));
    assert!(last >= 128, "an address of fixed-cidr: {ip}");

    // A bad setting stops the daemon with one line naming the key.
    d.kill9();
    let bad = serde_json::json!({ "bip": "10.123.7.0/24" });
    std::fs::write(d.dir.path().join("daemon.json"), bad.to_string()).unwrap();
    let out = common::run_timeout(
        20,
        &common::bin("rrund"),
        &[
            "-H",
            &d.host(),
            "--data-root",
            d.data_root().to_str().unwrap(),
            "--exec-root",
            d.exec_root().to_str().unwrap(),
            "--config-file",
            d.dir.path().join("daemon.json").to_str().unwrap(),
            "--host-netns",
            d.net.path().to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("daemon.json bip 10.123.7.0/24"),
        "{}",
        text(&out.stderr)
    );
}
