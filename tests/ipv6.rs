//! End-to-end tests of IPv6 through rrund and rrun, as a user checks it:
//! dual-stack networks (`network create --ipv6`) in inspect and on the
//! bridge, containers with IPv6 addresses (`--ip6`) finding and reaching
//! each other by name, ports published on both families and reached over
//! IPv6 from outside the host, clear errors that leave nothing behind, and
//! `network rm` removing the bridge and its addresses.
//! Each test has its own daemon, network namespace and DNS stub; subnets
//! and names are unique to the test process.

mod common;

use common::daemon::{inspect, outside_link, serve, Daemon, TestNetns};
use common::{run_timeout, text, wait_for};
use serde_json::{json, Value};
use std::net::Ipv6Addr;
use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// A unique-local /48-style prefix of this test process, e.g.
/// `fd00:1a2b:3`: subnets are `{prefix}::/64`.
fn v6_prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(1);
    format!(
        "fd00:{:x}:{:x}",
        std::process::id() & 0xffff,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// `network create --ipv6 --subnet <prefix>::/64 v6net`.
fn create_v6net(d: &Daemon, prefix: &str) {
    d.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &format!("{prefix}::/64"),
        "v6net",
    ]);
}

fn net_inspect(d: &Daemon, name: &str) -> Value {
    let v: Value = serde_json::from_str(&d.ok(&["network", "inspect", name])).unwrap();
    v[0].clone()
}

/// The endpoint of container `name` on network `net` in `docker inspect`.
fn endpoint(d: &Daemon, name: &str, net: &str) -> Value {
    inspect(d, name)["NetworkSettings"]["Networks"][net].clone()
}

fn global_v6(d: &Daemon, name: &str, net: &str) -> String {
    endpoint(d, name, net)["GlobalIPv6Address"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `ip args…` in the daemon's namespace (where its bridges live).
fn ip_in(d: &Daemon, args: &[&str]) -> Output {
    let mut full = vec!["-n", d.net.name.as_str()];
    full.extend_from_slice(args);
    run_timeout(10, Path::new("ip"), &full, None)
}

/// The veths in the daemon's namespace (host ends of containers' links).
fn veths(d: &Daemon) -> Vec<String> {
    text(&ip_in(d, &["-o", "link", "show"]).stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .filter(|n| n.starts_with("ve"))
        .collect()
}

/// Every IPv6 address in lines `Address: …` / `Address 1: …` of busybox
/// nslookup's answer (not the server's own `Address: 127.0.0.11:53`).
fn answered_v6(out: &str) -> Vec<Ipv6Addr> {
    out.lines()
        .filter(|l| l.trim_start().starts_with("Address"))
        .filter_map(|l| l.split_once(':').map(|(_, a)| a.trim()))
        .filter_map(|a| a.split_whitespace().next()?.parse().ok())
        .collect()
}

/// curl from namespace `ns`, with a timeout; None if it failed.
fn fetch(ns: &TestNetns, url: &str) -> Option<String> {
    let out = ns.exec(10, &["curl", "-gsf", "-m", "3", url]);
    out.status.success().then(|| text(&out.stdout))
}

#[test]
fn ipv6_networks_show_both_families_and_leave_nothing_behind() {
    let d = Daemon::start();
    let p = v6_prefix();
    let subnet = format!("{p}::/64");
    d.ok(&["network", "create", "--ipv6", "--subnet", &subnet, "v6net"]);
    let n = net_inspect(&d, "v6net");
    assert_eq!(n["EnableIPv6"], true, "{n}");
    let config = n["IPAM"]["Config"].as_array().unwrap();
    assert_eq!(config.len(), 2, "{n}");
    let (v4, _) = config[0]["Subnet"]
        .as_str()
        .unwrap()
        .split_once('/')
        .unwrap();
    assert!(v4.parse::<std::net::Ipv4Addr>().is_ok(), "{n}");
    assert_eq!(
        config[1],
        json!({"Subnet": subnet, "Gateway": format!("{p}::1")}),
        "{n}"
    );

    // The bridge holds both gateways.
    let bridge = format!("rr-{}", &n["Id"].as_str().unwrap()[..12]);
    let addrs = text(&ip_in(&d, &["-o", "addr", "show", "dev", &bridge]).stdout);
    assert!(addrs.contains(&format!("inet6 {p}::1/64")), "{addrs}");
    assert!(
        addrs.contains(&format!("inet {}/", config[0]["Gateway"].as_str().unwrap())),
        "{addrs}"
    );

    // --ipv6 without an IPv6 subnet: a unique local /64 (fd00::/8).
    d.ok(&["network", "create", "--ipv6", "auto6"]);
    let a = net_inspect(&d, "auto6");
    assert_eq!(a["EnableIPv6"], true);
    let auto = a["IPAM"]["Config"][1]["Subnet"]
        .as_str()
        .unwrap_or_else(|| panic!("no IPv6 entry: {a}"));
    let (addr, len) = auto.split_once('/').unwrap();
    assert_eq!(len, "64", "{auto}");
    assert_eq!(
        addr.parse::<Ipv6Addr>().unwrap().octets()[0],
        0xfd,
        "{auto}"
    );

    // Repeated --subnet/--gateway/--ip-range, paired by family.
    let p2 = v6_prefix();
    d.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "172.30.0.0/16",
        "--subnet",
        &format!("{p2}::/64"),
        "--gateway",
        &format!("{p2}::fe"),
        "--gateway",
        "172.30.0.254",
        "--ip-range",
        &format!("{p2}::/80"),
        "full6",
    ]);
    let f = net_inspect(&d, "full6");
    assert_eq!(
        f["IPAM"]["Config"],
        json!([
            {"Subnet": "172.30.0.0/16", "Gateway": "172.30.0.254"},
            {"Subnet": format!("{p2}::/64"), "Gateway": format!("{p2}::fe"), "IPRange": format!("{p2}::/80")},
        ]),
        "{f}"
    );
    // A plain network keeps IPv4 only.
    d.ok(&["network", "create", "plain4"]);
    let pl = net_inspect(&d, "plain4");
    assert_eq!(pl["EnableIPv6"], false);
    assert_eq!(pl["IPAM"]["Config"].as_array().unwrap().len(), 1, "{pl}");

    // Errors: clear, and nothing created.
    for (args, want) in [
        (
            vec!["--subnet", "fd00:1:1::/64", "--subnet", "fd00:1:2::/64"],
            "more than one IPv6 subnet",
        ),
        (
            vec![
                "--ipv6",
                "--subnet",
                "fd00:1:3::/64",
                "--gateway",
                "10.0.0.1",
            ],
            "no matching subnet for gateway 10.0.0.1",
        ),
        (vec!["--ipv6", "--subnet", &subnet], "overlaps"),
        (
            vec![
                "--ipv6",
                "--subnet",
                "10.9.0.0/16",
                "--subnet",
                "fd00:1:4::/64",
                "--ip-range",
                "fd00:1:4::/80",
                "--ip-range",
                "fd00:1:4:0:1::/80",
            ],
            "multiple ranges",
        ),
    ] {
        let mut full = vec!["network", "create"];
        full.extend_from_slice(&args);
        full.push("badnet");
        let out = d.rrun(&full);
        assert_ne!(code(&out), 0, "{args:?} was accepted");
        let err = text(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert_ne!(code(&d.rrun(&["network", "inspect", "badnet"])), 0);
    }

    // `network rm`: no bridge, no address, no rule left.
    for name in ["v6net", "auto6", "full6", "plain4"] {
        assert_eq!(d.ok(&["network", "rm", name]).trim(), name);
    }
    let links = text(&ip_in(&d, &["-o", "link", "show"]).stdout);
    assert!(!links.contains(&bridge), "{links}");
    assert!(!links.contains("rr-"), "{links}");
    let addrs = text(&ip_in(&d, &["-o", "-6", "addr"]).stdout);
    for gone in [p.as_str(), p2.as_str()] {
        assert!(!addrs.contains(gone), "{addrs}");
    }
    let rules = d
        .net
        .exec(10, &["nft", "list", "table", "inet", &d.own_name()]);
    assert!(rules.status.success(), "{}", text(&rules.stderr));
    let rules = text(&rules.stdout);
    assert!(!rules.contains(&p) && !rules.contains(&p2), "{rules}");
}

#[test]
fn ipv6_containers_find_and_reach_each_other_by_name() {
    let d = Daemon::start();
    d.load_busybox();
    let p = v6_prefix();
    create_v6net(&d, &p);
    serve(
        &d,
        &[
            "--name",
            "web6",
            "--hostname",
            "web6-host",
            "--network",
            "v6net",
        ],
    );
    d.ok(&[
        "run",
        "-d",
        "--name",
        "cli6",
        "--network",
        "v6net",
        "--ip6",
        &format!("{p}::42"),
        "busybox",
        "sleep",
        "300",
    ]);

    // Inspect: the address, prefix and gateway of each; --ip6 as asked.
    let web = endpoint(&d, "web6", "v6net");
    let a6: Ipv6Addr = web["GlobalIPv6Address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{web}"));
    assert!(a6.to_string().starts_with(&format!("{p}::")), "{web}");
    assert_eq!(web["GlobalIPv6PrefixLen"], 64, "{web}");
    assert_eq!(web["IPv6Gateway"], format!("{p}::1"), "{web}");
    assert!(web["IPAMConfig"].is_null(), "{web}");
    let cli = endpoint(&d, "cli6", "v6net");
    assert_eq!(cli["GlobalIPv6Address"], format!("{p}::42"), "{cli}");
    assert_eq!(
        cli["IPAMConfig"],
        json!({"IPv6Address": format!("{p}::42")}),
        "{cli}"
    );

    // Inside: the addresses with the subnet's prefix, and the hosts file.
    let ifs = d.ok(&["exec", "web6", "ip", "-6", "addr", "show", "dev", "eth0"]);
    assert!(ifs.contains(&format!("inet6 {a6}/64")), "{ifs}");
    let ifs = d.ok(&["exec", "cli6", "ip", "-6", "addr"]);
    assert!(ifs.contains(&format!("inet6 {p}::42/64")), "{ifs}");
    let route = d.ok(&["exec", "cli6", "ip", "-6", "route"]);
    assert!(route.contains(&format!("default via {p}::1")), "{route}");
    let hosts = d.ok(&["exec", "web6", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("{a6}\tweb6-host\n")), "{hosts}");

    // The network lists both families of its containers.
    let n = net_inspect(&d, "v6net");
    let web_id = inspect(&d, "web6")["Id"].as_str().unwrap().to_string();
    assert_eq!(
        n["Containers"][&web_id]["IPv6Address"],
        format!("{a6}/64"),
        "{n}"
    );

    // By name: the AAAA answer is the inspected address, and the name is
    // reached over IPv6 (ping -6, then TCP to that address).
    let out = d.ok(&[
        "exec",
        "cli6",
        "nslookup",
        "-type=AAAA",
        "web6",
        "127.0.0.11",
    ]);
    assert_eq!(answered_v6(&out), vec![a6], "{out}");
    let out = d.ok(&["exec", "cli6", "ping", "-6", "-c1", "-W3", "web6"]);
    assert!(
        out.contains(&format!("({a6})")) && out.contains("1 packets received"),
        "{out}"
    );
    let req = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {a6} 80");
    let got = d.ok(&["exec", "cli6", "sh", "-c", &req]);
    assert!(got.ends_with("web6-host\n"), "{got}");
    // And back: the address's PTR names the container.
    let out = d.ok(&["exec", "cli6", "nslookup", &a6.to_string(), "127.0.0.11"]);
    assert!(out.contains("web6"), "{out}");

    // `network connect --ip6` of a running container on the default bridge.
    d.ok(&["run", "-d", "--name", "late6", "busybox", "sleep", "300"]);
    assert_eq!(global_v6(&d, "late6", "bridge"), "");
    d.ok(&[
        "network",
        "connect",
        "--ip6",
        &format!("{p}::43"),
        "v6net",
        "late6",
    ]);
    assert_eq!(global_v6(&d, "late6", "v6net"), format!("{p}::43"));
    let ifs = d.ok(&["exec", "late6", "ip", "-6", "addr", "show", "dev", "eth1"]);
    assert!(ifs.contains(&format!("inet6 {p}::43/64")), "{ifs}");
    let out = d.ok(&["exec", "cli6", "ping", "-6", "-c1", "-W3", "late6"]);
    assert!(out.contains("1 packets received"), "{out}");
}

#[test]
fn published_ports_reach_an_ipv6_container_from_outside() {
    let d = Daemon::start();
    d.load_busybox();
    let p = v6_prefix();
    let wan = v6_prefix();
    let host_addr = format!("{wan}::1");
    let outside = outside_link(&d, &format!("{host_addr}/64"), &format!("{wan}::2/64"));
    create_v6net(&d, &p);
    serve(
        &d,
        &[
            "--name",
            "web",
            "--hostname",
            "web-host",
            "--network",
            "v6net",
            "-p",
            "18080:80",
        ],
    );

    // Over IPv6 from outside (DNAT on the way in, forwarded), from the
    // host itself (its own address), and over IPv4 as before.
    let url6 = format!("http://[{host_addr}]:18080/");
    let got = wait_for(
        "the port over IPv6 from outside",
        Duration::from_secs(20),
        || fetch(&outside, &url6),
    );
    assert_eq!(got, "web-host\n");
    assert_eq!(fetch(&d.net, &url6).as_deref(), Some("web-host\n"));
    assert_eq!(
        fetch(&d.net, "http://127.0.0.1:18080/").as_deref(),
        Some("web-host\n")
    );

    // Both families shown, as Docker shows them.
    assert_eq!(
        d.ok(&["port", "web"]),
        "80/tcp -> 0.0.0.0:18080\n80/tcp -> [::]:18080\n"
    );
    assert_eq!(d.ok(&["port", "web", "80"]), "0.0.0.0:18080\n[::]:18080\n");
    let c = inspect(&d, "web");
    assert_eq!(
        c["NetworkSettings"]["Ports"]["80/tcp"],
        json!([{"HostIp": "0.0.0.0", "HostPort": "18080"}, {"HostIp": "::", "HostPort": "18080"}]),
        "{c}"
    );
    assert_eq!(
        c["HostConfig"]["PortBindings"]["80/tcp"],
        json!([{"HostIp": "", "HostPort": "18080"}])
    );
    let ps = d.ok(&["ps"]);
    assert!(
        ps.contains("0.0.0.0:18080->80/tcp, [::]:18080->80/tcp"),
        "{ps}"
    );

    // Published on one IPv6 address, and on `[::]`.
    serve(
        &d,
        &[
            "--name",
            "only6",
            "--hostname",
            "only6-host",
            "--network",
            "v6net",
            "-p",
            &format!("[{host_addr}]:18081:80"),
            "-p",
            "[::]:18082:80/tcp",
            "-p",
            "0.0.0.0:18083:80",
        ],
    );
    let got = wait_for(
        "the port on one IPv6 address",
        Duration::from_secs(20),
        || fetch(&outside, &format!("http://[{host_addr}]:18081/")),
    );
    assert_eq!(got, "only6-host\n");
    let got = wait_for("the port on [::]", Duration::from_secs(20), || {
        fetch(&outside, &format!("http://[{host_addr}]:18082/"))
    });
    assert_eq!(got, "only6-host\n");
    let port = d.ok(&["port", "only6"]);
    assert!(
        port.contains(&format!("80/tcp -> [{host_addr}]:18081\n")),
        "{port}"
    );
    assert!(port.contains("80/tcp -> [::]:18082\n"), "{port}");
    assert!(port.contains("80/tcp -> 0.0.0.0:18083\n"), "{port}");
    // `0.0.0.0` and `::` are one family's every address, as with Docker.
    let got = wait_for("the port on 0.0.0.0", Duration::from_secs(20), || {
        fetch(&d.net, "http://127.0.0.1:18083/")
    });
    assert_eq!(got, "only6-host\n");
    assert_eq!(
        fetch(&outside, &format!("http://[{host_addr}]:18083/")),
        None,
        "0.0.0.0 is IPv4 only"
    );
    assert_eq!(
        fetch(&d.net, "http://127.0.0.1:18082/"),
        None,
        "[::] is IPv6 only"
    );

    // The same port again: an error naming it.
    let out = d.rrun(&[
        "run",
        "-d",
        "--name",
        "clash",
        "--network",
        "v6net",
        "-p",
        "18080:80",
        "busybox",
        "sleep",
        "100",
    ]);
    assert_eq!(code(&out), 125);
    assert!(text(&out.stderr).contains("18080"), "{}", text(&out.stderr));
    assert_ne!(inspect(&d, "clash")["State"]["Status"], "running");
    d.ok(&["rm", "clash"]);

    // Removing the container frees the port on both families.
    d.ok(&["rm", "-f", "web"]);
    wait_for("the port to be released", Duration::from_secs(20), || {
        fetch(&outside, &url6).is_none().then_some(())
    });
    serve(
        &d,
        &[
            "--name",
            "web2",
            "--hostname",
            "web2-host",
            "--network",
            "v6net",
            "-p",
            "18080:80",
        ],
    );
    let got = wait_for("the port reused", Duration::from_secs(20), || {
        fetch(&outside, &url6)
    });
    assert_eq!(got, "web2-host\n");
}

#[test]
fn ipv6_errors_are_clear_and_leave_nothing_behind() {
    let d = Daemon::start();
    d.load_busybox();
    let p = v6_prefix();
    d.ok(&["network", "create", "v4net"]);
    create_v6net(&d, &p);
    let nothing_left = |what: &str| {
        assert_eq!(
            d.ok(&["ps", "-aq"]).trim(),
            "",
            "{what}: a container was left"
        );
        assert!(veths(&d).is_empty(), "{what}: veths left: {:?}", veths(&d));
        for n in ["v4net", "v6net"] {
            let c = &net_inspect(&d, n)["Containers"];
            assert_eq!(c, &json!({}), "{what}: {n} holds {c}");
        }
    };

    let cases: Vec<(Vec<String>, &str)> = vec![
        // --ip6 on a network without IPv6.
        (
            vec![
                "--network".into(),
                "v4net".into(),
                "--ip6".into(),
                format!("{p}::42"),
            ],
            "network v4net has no IPv6",
        ),
        // An IPv6 host address on a network without IPv6.
        (
            vec![
                "--network".into(),
                "v4net".into(),
                "-p".into(),
                format!("[{p}::1]:18083:80"),
            ],
            "network v4net has no IPv6",
        ),
        // [::1]: no kernel path from the host's IPv6 loopback to a container.
        (
            vec![
                "--network".into(),
                "v6net".into(),
                "-p".into(),
                "[::1]:18084:80".into(),
            ],
            "[::1]",
        ),
        // Outside the network's subnet.
        (
            vec![
                "--network".into(),
                "v6net".into(),
                "--ip6".into(),
                "fd00:ffff:1::42".into(),
            ],
            "not in network v6net's subnet",
        ),
        // Not an IPv6 address.
        (
            vec![
                "--network".into(),
                "v6net".into(),
                "--ip6".into(),
                "172.30.0.9".into(),
            ],
            "invalid IPv6 address",
        ),
        // As Docker: no chosen addresses on the default network.
        (
            vec!["--ip6".into(), format!("{p}::42")],
            "user defined networks only",
        ),
    ];
    for (args, want) in cases {
        let mut full: Vec<&str> = vec!["run", "-d"];
        full.extend(args.iter().map(String::as_str));
        full.extend_from_slice(&["busybox", "sleep", "100"]);
        let out = d.rrun(&full);
        assert_eq!(
            code(&out),
            125,
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
        nothing_left(&format!("{args:?}"));
    }

    // An address already taken fails at start: the container stays
    // created (as Docker's), with no veth or endpoint of its own.
    let taken = format!("{p}::42");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "first",
        "--network",
        "v6net",
        "--ip6",
        &taken,
        "busybox",
        "sleep",
        "300",
    ]);
    let before = veths(&d);
    let out = d.rrun(&[
        "run",
        "-d",
        "--name",
        "second",
        "--network",
        "v6net",
        "--ip6",
        &taken,
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(code(&out), 125);
    assert!(
        text(&out.stderr).contains(&format!("{taken} is already in use")),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(veths(&d), before);
    assert_ne!(inspect(&d, "second")["State"]["Status"], "running");
    let c = net_inspect(&d, "v6net")["Containers"].clone();
    assert_eq!(c.as_object().unwrap().len(), 1, "{c}");
    // `network connect --ip6` to a network without IPv6: refused, the
    // container untouched.
    let out = d.rrun(&[
        "network",
        "connect",
        "--ip6",
        &format!("{p}::44"),
        "v4net",
        "first",
    ]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("network v4net has no IPv6"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        inspect(&d, "first")["NetworkSettings"]["Networks"]["v4net"],
        Value::Null
    );
}

#[test]
fn the_docker_cli_drives_ipv6() {
    let d = Daemon::start();
    d.load_busybox();
    let p = v6_prefix();
    let subnet = format!("{p}::/64");
    d.docker_ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "172.29.0.0/16",
        "--subnet",
        &subnet,
        "dock6",
    ]);
    let n: Value = serde_json::from_str(&d.docker_ok(&["network", "inspect", "dock6"])).unwrap();
    assert_eq!(n[0]["EnableIPv6"], true, "{n}");
    assert_eq!(n[0]["IPAM"]["Config"][1]["Subnet"], subnet, "{n}");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "dweb",
        "--network",
        "dock6",
        "--ip6",
        &format!("{p}::42"),
        "-p",
        "18085:80",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    let addr = d.docker_ok(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}/{{.GlobalIPv6PrefixLen}}{{end}}",
        "dweb",
    ]);
    assert_eq!(addr.trim(), format!("{p}::42/64"));
    let port = d.docker_ok(&["port", "dweb", "80/tcp"]);
    assert!(port.contains("0.0.0.0:18085"), "{port}");
    assert!(
        port.lines().count() == 2 && port.contains("18085"),
        "{port}"
    );
    let url = format!("http://[{p}::1]:18085/");
    let got = wait_for(
        "the port through the bridge's IPv6 address",
        Duration::from_secs(20),
        || fetch(&d.net, &url),
    );
    assert_eq!(got.trim().len(), 12, "{got}");
}

#[test]
fn daemon_json_ipv6_gives_the_default_bridge_ipv6() {
    let p = v6_prefix();
    let subnet = format!("{p}::/64");
    let d = Daemon::start_with(&json!({"ipv6": true, "fixed-cidr-v6": subnet}));
    d.load_busybox();
    let n = net_inspect(&d, "bridge");
    assert_eq!(n["EnableIPv6"], true, "{n}");
    assert_eq!(n["IPAM"]["Config"][1]["Subnet"], subnet, "{n}");
    d.ok(&["run", "-d", "--name", "dflt", "busybox", "sleep", "300"]);
    // The top-level fields are the default network's, as Docker's.
    let s = inspect(&d, "dflt")["NetworkSettings"].clone();
    let a6 = s["GlobalIPv6Address"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(a6.starts_with(&format!("{p}::")), "{s}");
    assert_eq!(s["GlobalIPv6PrefixLen"], 64, "{s}");
    assert_eq!(s["IPv6Gateway"], format!("{p}::1"), "{s}");
    assert_eq!(s["Networks"]["bridge"]["GlobalIPv6Address"], a6, "{s}");
    assert_eq!(
        s["EndpointID"], s["Networks"]["bridge"]["EndpointID"],
        "{s}"
    );
    let ifs = d.ok(&["exec", "dflt", "ip", "-6", "addr", "show", "dev", "eth0"]);
    assert!(ifs.contains(&format!("inet6 {a6}/64")), "{ifs}");
    // --ip6 stays a user-network feature, as with Docker.
    let out = d.rrun(&[
        "run",
        "--rm",
        "--ip6",
        &format!("{p}::42"),
        "busybox",
        "true",
    ]);
    assert_eq!(code(&out), 125);
    assert!(
        text(&out.stderr).contains("user defined networks only"),
        "{}",
        text(&out.stderr)
    );
}
