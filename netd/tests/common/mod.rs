//! Helpers for netd's root tests: namespaces of the test's own, commands with
//! timeouts, polling with deadlines.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use netd::netns::NetNs;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call, at most `prefix` + 9 bytes.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}{}-{n}", std::process::id() % 100_000)
}

/// These tests create namespaces, links and nftables tables: root only.
/// Not a skip: CI runs them as root, and they must run.
pub fn require_root() {
    assert_eq!(
        nix::unistd::geteuid().as_raw(),
        0,
        "netd's namespace tests need root (CI runs `cargo test` as root)"
    );
}

/// Run a command with a timeout; never hangs the test.
pub fn run(secs: u32, args: &[&str]) -> Output {
    let out = Command::new("timeout")
        .arg("-k")
        .arg("2")
        .arg(secs.to_string())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
    out
}

/// Run and require success; returns stdout.
pub fn ok(secs: u32, args: &[&str]) -> String {
    let out = run(secs, args);
    assert!(
        out.status.success(),
        "{args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A named network namespace (`ip netns add`), deleted on drop with any
/// `/etc/netns/<name>` files the test wrote.
pub struct TestNs {
    pub name: String,
}

impl TestNs {
    pub fn new(prefix: &str) -> Self {
        require_root();
        let name = unique(prefix);
        ok(10, &["ip", "netns", "add", &name]);
        let ns = TestNs { name };
        ok(10, &["ip", "-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    pub fn open(&self) -> NetNs {
        NetNs::open(format!("/run/netns/{}", self.name)).unwrap()
    }

    /// `ip netns exec <ns> <args>` with a timeout.
    pub fn exec(&self, secs: u32, args: &[&str]) -> Output {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        run(secs, &full)
    }

    /// Files that `ip netns exec` bind-mounts over /etc (resolv.conf, hosts).
    pub fn write_etc(&self, file: &str, content: &str) {
        let dir = format!("/etc/netns/{}", self.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/{file}"), content).unwrap();
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = run(10, &["ip", "netns", "del", &self.name]);
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.name));
    }
}

/// Poll `f` until it returns Some or the deadline passes.
pub fn poll<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Connects from inside `from` and reads what the server says (None when
/// the connection fails or times out).
pub fn fetch(from: &TestNs, addr: &str) -> Option<String> {
    use std::io::Read;
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    from.open()
        .run(|| {
            let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            let mut out = String::new();
            s.read_to_string(&mut out).ok()?;
            Some(out)
        })
        .unwrap()
}

/// One ping from inside `from`.
pub fn can_ping(from: &TestNs, ip: &str) -> bool {
    from.exec(10, &["busybox", "ping", "-c", "1", "-W", "1", ip])
        .status
        .success()
}

/// A TCP server bound inside a namespace on `[::]` (both families),
/// answering every connection with `greeting`; served from a plain thread
/// (the socket stays in its namespace).
pub fn serve_in(ns: &TestNs, port: u16, greeting: &'static str) {
    use std::io::Write;
    let listener = ns
        .open()
        .run(|| std::net::TcpListener::bind(("::", port)))
        .unwrap()
        .unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = conn.write_all(greeting.as_bytes());
        }
    });
}

/// The outside world for a test's host namespace: a veth `up0` in `host`
/// with `host_addr`, its peer `wan0` in `outside` with `peer_addr` (both
/// with their prefix, IPv4 or IPv6; IPv6 ones skip DAD), both up.
pub fn outside_link(host: &TestNs, outside: &TestNs, host_addr: &str, peer_addr: &str) {
    let (h, o) = (host.name.as_str(), outside.name.as_str());
    ok(
        10,
        &[
            "ip", "-n", h, "link", "add", "up0", "type", "veth", "peer", "name", "wan0", "netns", o,
        ],
    );
    for (ns, dev, addr) in [(h, "up0", host_addr), (o, "wan0", peer_addr)] {
        let mut cmd = vec!["ip", "-n", ns, "addr", "add", addr, "dev", dev];
        if addr.contains(':') {
            cmd.push("nodad");
        }
        ok(10, &cmd);
        ok(10, &["ip", "-n", ns, "link", "set", dev, "up"]);
    }
}
