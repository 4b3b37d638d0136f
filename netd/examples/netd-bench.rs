//! netd benchmarks, run as root by `scripts/bench-netd.sh`: everything in
//! namespaces this program makes and removes; traffic stays inside them.
//!
//! Prints: connect+disconnect time per container, DNS queries per second and
//! latency from a container to its embedded resolver (dnsperf), and TCP
//! throughput container to container over the bridge and host to a
//! published port on 127.0.0.1 (iperf3).

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use netd::netns::NetNs;
use netd::resolv::DnsOptions;
use netd::store::PortBinding;
use netd::{ConnectOptions, ContainerRef, CreateNetwork, Netd, NetdConfig};

fn run(secs: u32, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg(secs.to_string())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn ok(secs: u32, args: &[&str]) -> String {
    let o = run(secs, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct Ns(String);
impl Ns {
    fn new(tag: &str) -> Self {
        let name = format!("rrb{}-{tag}", std::process::id());
        ok(10, &["ip", "netns", "add", &name]);
        ok(10, &["ip", "-n", &name, "link", "set", "lo", "up"]);
        Ns(name)
    }
    fn open(&self) -> NetNs {
        NetNs::open(format!("/run/netns/{}", self.0)).unwrap()
    }
}
impl Drop for Ns {
    fn drop(&mut self) {
        let _ = run(10, &["ip", "netns", "del", &self.0]);
    }
}

fn id(n: u32) -> String {
    format!("{:08x}{:04x}{:052x}", std::process::id(), n, 0)
}

fn iperf(server_ns: &str, client_ns: &str, target: &str, port: &str) -> f64 {
    // `ip netns exec` execs iperf3 itself, so killing the child stops it.
    let mut server = Command::new("ip")
        .args(["netns", "exec", server_ns, "iperf3", "-s", "-p", "5201"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Ready once listening; polled, with a deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok(
        5,
        &[
            "ip",
            "netns",
            "exec",
            server_ns,
            "ss",
            "-Hltn",
            "sport = :5201",
        ],
    )
    .contains("5201")
    {
        assert!(Instant::now() < deadline, "iperf3 server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = run(
        20,
        &[
            "ip", "netns", "exec", client_ns, "iperf3", "-c", target, "-p", port, "-t", "3", "-J",
        ],
    );
    let _ = server.kill();
    let _ = server.wait();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("iperf3 json");
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or(0.0)
        / 1e9
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _rt = rt.enter();
    let host = Ns::new("host");
    let client = Ns::new("c1");
    let server = Ns::new("c2");
    let state = tempfile::tempdir().unwrap();
    let mut cfg = NetdConfig::new(state.path().join("networks"));
    cfg.host_netns = Some(format!("/run/netns/{}", host.0).into());
    cfg.host_root = state.path().to_path_buf();
    let netd = Netd::open(cfg).unwrap();
    netd.create_network(CreateNetwork::bridge("bench".try_into().unwrap()))
        .unwrap();

    // Attach/detach cost: N cycles on one container namespace.
    let n = 20;
    let c_ns = client.open();
    let t = Instant::now();
    for _ in 0..n {
        let c = ContainerRef {
            id: &id(1),
            name: "client",
            hostname: None,
            netns: &c_ns,
        };
        netd.connect("bench", c, ConnectOptions::default()).unwrap();
        netd.disconnect("bench", &id(1)).unwrap();
    }
    let per = t.elapsed() / n;
    println!(
        "connect+disconnect (veth, address, route, rules, snapshot): {:.1} ms per container",
        per.as_secs_f64() * 1e3
    );

    let c = ContainerRef {
        id: &id(1),
        name: "client",
        hostname: None,
        netns: &c_ns,
    };
    netd.connect("bench", c, ConnectOptions::default()).unwrap();
    let s_ns = server.open();
    let s = ContainerRef {
        id: &id(2),
        name: "server",
        hostname: None,
        netns: &s_ns,
    };
    let opts = ConnectOptions {
        aliases: vec!["srv".into()],
        ports: vec![PortBinding {
            host_ip: None,
            host_port: 15201,
            container_port: 5201,
            protocol: "tcp".into(),
        }],
        ..Default::default()
    };
    let server_ip = netd
        .connect("bench", s, opts)
        .unwrap()
        .address
        .unwrap()
        .addr()
        .to_string();
    let _dns = netd
        .start_dns(&id(1), &c_ns, &DnsOptions::default())
        .unwrap();

    // DNS: local answers only (nothing is forwarded anywhere).
    let qfile = state.path().join("queries");
    std::fs::write(&qfile, "server A\nsrv A\nclient A\nserver AAAA\n").unwrap();
    let out = ok(
        60,
        &[
            "ip",
            "netns",
            "exec",
            &client.0,
            "dnsperf",
            "-s",
            "127.0.0.11",
            "-d",
            qfile.to_str().unwrap(),
            "-l",
            "5",
            "-c",
            "4",
            "-q",
            "64",
        ],
    );
    for line in out.lines() {
        let l = line.trim();
        if l.starts_with("Queries per second")
            || l.starts_with("Average Latency")
            || l.starts_with("Queries lost")
        {
            println!("dns (dnsperf, 5 s, local names): {l}");
        }
    }

    let veth = iperf(&server.0, &client.0, &server_ip, "5201");
    println!("tcp container -> container over the bridge (iperf3, 3 s): {veth:.2} Gbit/s");
    let published = iperf(&server.0, &host.0, "127.0.0.1", "15201");
    println!("tcp host 127.0.0.1 -> published port (iperf3, 3 s): {published:.2} Gbit/s");

    drop(_dns);
    netd.disconnect("bench", &id(1)).unwrap();
    netd.disconnect("bench", &id(2)).unwrap();
    netd.remove_network("bench").unwrap();
    netd.teardown_firewall().unwrap();
}
