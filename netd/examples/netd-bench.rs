//! netd benchmarks, run as root by `scripts/bench-netd.sh`: everything in
//! namespaces this program makes and removes; traffic stays inside them.
//!
//! Prints: connect+disconnect time per container, DNS queries per second and
//! latency from a container to its embedded resolver (dnsperf), and TCP
//! throughput container to container over the bridge and host to a
//! published port on 127.0.0.1 (iperf3).
//!
//! `NETD_BENCH_ONLY=dns` runs only the DNS part; `NETD_BENCH_DNS_SECS` sets
//! how long dnsperf runs (10 s), `NETD_BENCH_DNS_INFLIGHT` how many queries
//! it keeps outstanding (`-q`, dnsperf's 100: with as many in flight, the
//! average latency is mostly queueing, near 100 / queries per second; with
//! 1 or 2 it is one query's round trip, but dnsperf then paces itself, so
//! its queries per second mean nothing). The DNS part also prints the CPU
//! time that dnsperf and the resolver (this process) used, in all and per
//! query: both share the machine's cores.

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

/// CPU seconds (user + system) of this process and of its waited-for
/// children so far.
fn cpu() -> (f64, f64) {
    let of = |who| {
        // SAFETY: getrusage fills the struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut u) };
        let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        s(u.ru_utime) + s(u.ru_stime)
    };
    (of(libc::RUSAGE_SELF), of(libc::RUSAGE_CHILDREN))
}

/// Attach/detach cost: N cycles on one container namespace.
fn attach_cost(netd: &Netd, c_ns: &NetNs) {
    let n = 20;
    let t = Instant::now();
    for _ in 0..n {
        let c = ContainerRef {
            id: &id(1),
            name: "client",
            hostname: None,
            netns: c_ns,
        };
        netd.connect("bench", c, ConnectOptions::default()).unwrap();
        netd.disconnect("bench", &id(1)).unwrap();
    }
    let per = t.elapsed() / n;
    println!(
        "connect+disconnect (veth, address, route, rules, snapshot): {:.1} ms per container",
        per.as_secs_f64() * 1e3
    );
}

/// dnsperf from the client's namespace for the server's alias, as
/// `scripts/bench-daemon.sh` runs it (4 clients, 2 threads, 100 queries
/// in flight): local answers only, nothing is forwarded anywhere.
fn dns(client_ns: &str, qfile: &std::path::Path) {
    let secs: u32 = std::env::var("NETD_BENCH_DNS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let inflight: u32 = std::env::var("NETD_BENCH_DNS_INFLIGHT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    std::fs::write(qfile, "srv A\n").unwrap();
    let (self0, kids0) = cpu();
    let out = ok(
        secs + 30,
        &[
            "ip",
            "netns",
            "exec",
            client_ns,
            "dnsperf",
            "-s",
            "127.0.0.11",
            "-d",
            qfile.to_str().unwrap(),
            "-l",
            &secs.to_string(),
            "-c",
            "4",
            "-T",
            "2",
            "-q",
            &inflight.to_string(),
        ],
    );
    let (self1, kids1) = cpu();
    let mut qps = 0.0;
    for line in out.lines() {
        let l = line.trim();
        if let Some(v) = l.strip_prefix("Queries per second:") {
            qps = v.trim().parse().unwrap_or(0.0);
        }
        if l.starts_with("Queries per second")
            || l.starts_with("Average Latency")
            || l.starts_with("Queries lost")
        {
            println!("dns (dnsperf, {secs} s, an alias, {inflight} in flight): {l}");
        }
    }
    let (resolver, dnsperf) = (self1 - self0, kids1 - kids0);
    let per_query = |cpu: f64| cpu * 1e6 / (qps * f64::from(secs)).max(1.0);
    println!(
        "dns cpu: resolver {:.0}% {:.1} us/q, dnsperf {:.0}% {:.1} us/q (of one core, over {secs} s)",
        resolver * 100.0 / f64::from(secs),
        per_query(resolver),
        dnsperf * 100.0 / f64::from(secs),
        per_query(dnsperf),
    );
}

fn main() {
    let dns_only = std::env::var("NETD_BENCH_ONLY").is_ok_and(|v| v == "dns");
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

    let c_ns = client.open();
    if !dns_only {
        attach_cost(&netd, &c_ns);
    }
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

    dns(&client.0, &state.path().join("queries"));

    if !dns_only {
        let veth = iperf(&server.0, &client.0, &server_ip, "5201");
        println!("tcp container -> container over the bridge (iperf3, 3 s): {veth:.2} Gbit/s");
        let published = iperf(&server.0, &host.0, "127.0.0.1", "15201");
        println!("tcp host 127.0.0.1 -> published port (iperf3, 3 s): {published:.2} Gbit/s");
    }

    drop(_dns);
    netd.disconnect("bench", &id(1)).unwrap();
    netd.disconnect("bench", &id(2)).unwrap();
    netd.remove_network("bench").unwrap();
    netd.teardown_firewall().unwrap();
}
