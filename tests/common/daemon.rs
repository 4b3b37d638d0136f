//! A daemon of a test's own: rrund with its own socket, data root, executor
//! root, network namespace (for its bridges, rules and published ports) and
//! upstream DNS stub; its containers removed and everything unmounted on
//! drop, even when the test fails.

use super::{bin, images, run_timeout, text, wait_for};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A running rrund of the test's own; stopped, and its containers removed,
/// on drop.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    /// The network namespace its bridges and published ports live in.
    pub net: TestNetns,
    /// The upstream DNS server it forwards to (answers NXDOMAIN).
    pub dns: DnsStub,
    /// More rrund arguments for the next [`Daemon::spawn`].
    pub extra_args: Vec<String>,
    /// The rrund binary [`Daemon::spawn`] runs (the workspace's).
    pub rrund: PathBuf,
}

impl Daemon {
    /// A daemon whose daemon.json is `config` (e.g. registry mirrors).
    pub fn start_with(config: &serde_json::Value) -> Daemon {
        Self::start_inner(Some(config), None)
    }

    pub fn start() -> Daemon {
        Self::start_inner(None, None)
    }

    /// A daemon whose bridges and ports live in `net`, made beforehand.
    pub fn start_in(net: TestNetns) -> Daemon {
        Self::start_inner(None, Some(net))
    }

    /// A daemon run from `rrund`, e.g. a copy beside other binaries.
    pub fn start_from(rrund: PathBuf) -> Daemon {
        Self::start_inner_from(None, None, rrund)
    }

    fn start_inner(config: Option<&serde_json::Value>, net: Option<TestNetns>) -> Daemon {
        Self::start_inner_from(config, net, bin("rrund"))
    }

    fn start_inner_from(
        config: Option<&serde_json::Value>,
        net: Option<TestNetns>,
        rrund: PathBuf,
    ) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("rrund-test-")
            .tempdir()
            .unwrap();
        let mut d = Daemon {
            dir,
            child: None,
            net: net.unwrap_or_else(|| TestNetns::new("rrund")),
            dns: DnsStub::start(),
            extra_args: Vec::new(),
            rrund,
        };
        if let Some(c) = config {
            std::fs::write(d.dir.path().join("daemon.json"), c.to_string()).unwrap();
        }
        d.spawn();
        d
    }

    /// rrund's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("rrun.sock")
    }
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }
    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join("exec")
    }

    /// Starts rrund and waits (with a deadline) until it answers `/_ping`.
    pub fn spawn(&mut self) {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("rrund.log"))
            .unwrap();
        let child = Command::new(&self.rrund)
            .arg("-H")
            .arg(self.host())
            .arg("--data-root")
            .arg(self.data_root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("--config-file")
            .arg(self.dir.path().join("daemon.json"))
            .args(self.net_args())
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn rrund");
        self.child = Some(child);
        let log = self.dir.path().join("rrund.log");
        let socket = self.socket();
        let child = self.child.as_mut().unwrap();
        wait_for("rrund to answer /_ping", Duration::from_secs(20), || {
            if let Ok(Some(st)) = child.try_wait() {
                panic!(
                    "rrund exited ({st}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            http(&socket, "GET", "/_ping").filter(|(code, body)| *code == 200 && body == "OK")
        });
    }

    /// rrund's arguments that keep it off the host's network: its own
    /// namespace for bridges and ports, the test's DNS stub upstream.
    pub fn net_args(&self) -> Vec<String> {
        vec![
            "--host-netns".into(),
            self.net.path().display().to_string(),
            "--dns".into(),
            self.dns.addr().to_string(),
        ]
    }

    /// Its nftables table (family inet) and default bridge: `rrun-` and
    /// the first 8 hex digits of the SHA-256 of its canonical data root
    /// (netd::instance), computed here with coreutils' sha256sum.
    pub fn own_name(&self) -> String {
        let root = std::fs::canonicalize(self.data_root()).unwrap();
        let out = run_timeout(
            10,
            Path::new("sha256sum"),
            &[],
            Some(root.to_str().unwrap()),
        );
        assert!(out.status.success(), "sha256sum: {}", text(&out.stderr));
        format!("rrun-{}", &text(&out.stdout)[..8])
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rrund.log")).unwrap_or_default()
    }

    /// `rrun -H <our socket> args…` with a timeout.
    /// (With auto-start off: a test whose daemon is down must see it down,
    /// never a default daemon started on the host's network.)
    pub fn rrun(&self, args: &[&str]) -> Output {
        let host = self.host();
        let rrun = bin("rrun");
        let mut full = vec![
            "RRUN_NO_AUTOSTART=1",
            rrun.to_str().unwrap(),
            "-H",
            host.as_str(),
        ];
        full.extend_from_slice(args);
        run_timeout(60, Path::new("/usr/bin/env"), &full, None)
    }

    /// A command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.rrun(args);
        assert!(
            out.status.success(),
            "rrun {args:?} failed ({}): {}{}\n--- rrund log ---\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr),
            self.log()
        );
        text(&out.stdout)
    }

    /// Loads the busybox OCI layout into this daemon and names it `busybox`.
    pub fn load_busybox(&self) {
        let tar = self.dir.path().join("busybox.tar");
        let layout = images().join("busybox/oci");
        let out = run_timeout(
            30,
            Path::new("/bin/tar"),
            &[
                "-C",
                layout.to_str().unwrap(),
                "-cf",
                tar.to_str().unwrap(),
                ".",
            ],
            None,
        );
        assert!(out.status.success(), "tar: {}", text(&out.stderr));
        let loaded = self.ok(&["load", "-i", tar.to_str().unwrap()]);
        let id = loaded
            .lines()
            .find_map(|l| l.strip_prefix("Loaded image ID: "))
            .unwrap_or_else(|| panic!("no image id in {loaded:?}"))
            .to_string();
        self.ok(&["tag", &id, "busybox"]);
    }

    /// `--security-opt seccomp=<file>` of a profile in Docker's format that
    /// allows everything but mkdir (EPERM), written in the daemon's dir.
    pub fn no_mkdir_seccomp_opt(&self) -> String {
        let profile = self.dir.path().join("no-mkdir.json");
        std::fs::write(
            &profile,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
        )
        .unwrap();
        format!("seccomp={}", profile.display())
    }

    /// The pid of `id`'s shim (its `shim.pid`).
    pub fn shim_pid(&self, id: &str) -> i32 {
        let f = self
            .data_root()
            .join("containers")
            .join(id)
            .join("shim.pid");
        std::fs::read_to_string(&f)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
            .trim()
            .parse()
            .unwrap()
    }

    /// Stops rrund as systemd does: SIGTERM, then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn logs(&self, name: &str) -> String {
        self.ok(&["logs", name])
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Through the daemon first, then behind its back for whatever is left.
        if self.child.is_some() {
            let ids = self.rrun(&["ps", "-aq", "--no-trunc"]);
            for id in text(&ids.stdout).lines() {
                let _ = self.rrun(&["rm", "-f", id]);
            }
        }
        self.stop();
        let containers = self.data_root().join("containers");
        for e in std::fs::read_dir(&containers)
            .into_iter()
            .flatten()
            .flatten()
        {
            let id = e.file_name().to_string_lossy().into_owned();
            let _ = run_timeout(
                30,
                &bin("rrun-oci"),
                &[
                    "--root",
                    self.exec_root().to_str().unwrap(),
                    "delete",
                    "--force",
                    &id,
                ],
                None,
            );
            if let Some(pid) = std::fs::read_to_string(e.path().join("shim.pid"))
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
            {
                let alive = || {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .map(|c| c.windows(id.len()).any(|w| w == id.as_bytes()))
                        .unwrap_or(false)
                };
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while alive() && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if alive() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
        for m in super::host_mounts_containing(self.dir.path().to_str().unwrap()) {
            if let Some(target) = m.split(' ').nth(4) {
                let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}

/// A bare HTTP/1.0 request on the socket: (status, body).
pub fn http(socket: &Path, method: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "{method} {path} HTTP/1.0\r\nHost: rrun\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let code = resp.split_whitespace().nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

pub fn inspect(d: &Daemon, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", name])).unwrap();
    v[0].clone()
}

pub fn inspect_network(d: &Daemon, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["network", "inspect", name])).unwrap();
    v[0].clone()
}

/// The docker CLI the tests drive: RRUN_DOCKER_CLI, else the docker 28
/// CLI these machines carry in /usr/local/bin (the one issue 13 names),
/// else Debian's (docker.io, 20.10, which scripts/deps installs): missing
/// is a failure, not a skip.
pub fn docker_cli() -> PathBuf {
    if let Some(p) = std::env::var_os("RRUN_DOCKER_CLI") {
        return PathBuf::from(p);
    }
    ["/usr/local/bin/docker", "/usr/bin/docker"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("no docker CLI: scripts/install-deps.sh installs docker.io")
}

impl Daemon {
    /// The arguments of `/usr/bin/env` that run the real docker CLI against
    /// this daemon (`DOCKER_HOST`, and a `DOCKER_CONFIG` of the test's own).
    pub fn docker_argv(&self, args: &[&str]) -> Vec<String> {
        let config = self.dir.path().join("docker-config");
        std::fs::create_dir_all(&config).unwrap();
        let mut full = vec![
            format!("DOCKER_HOST={}", self.host()),
            format!("DOCKER_CONFIG={}", config.display()),
            docker_cli().display().to_string(),
        ];
        full.extend(args.iter().map(|a| a.to_string()));
        full
    }

    /// `docker args…` against this daemon, with a timeout.
    pub fn docker(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let full = self.docker_argv(args);
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        run_timeout(60, Path::new("/usr/bin/env"), &full, stdin)
    }

    /// A docker command that must succeed; returns its stdout.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args, None);
        assert!(
            out.status.success(),
            "docker {args:?}: {}{}\n--- rrund log ---\n{}",
            text(&out.stdout),
            text(&out.stderr),
            self.log()
        );
        text(&out.stdout)
    }
}

/// A named network namespace (`ip netns add`), `lo` up; deleted on drop.
pub struct TestNetns {
    pub name: String,
}

impl TestNetns {
    pub fn new(prefix: &str) -> TestNetns {
        let name = super::unique(&format!("rt-{prefix}"));
        let out = run_timeout(10, Path::new("ip"), &["netns", "add", &name], None);
        assert!(out.status.success(), "ip netns add: {}", text(&out.stderr));
        let out = run_timeout(
            10,
            Path::new("ip"),
            &["-n", &name, "link", "set", "lo", "up"],
            None,
        );
        assert!(out.status.success(), "lo up: {}", text(&out.stderr));
        TestNetns { name }
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// A command inside the namespace (`ip netns exec`), with a timeout.
    pub fn exec(&self, secs: u64, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", self.name.as_str()];
        full.extend_from_slice(args);
        run_timeout(secs, Path::new("ip"), &full, None)
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = run_timeout(10, Path::new("ip"), &["netns", "delete", &self.name], None);
    }
}

/// An upstream DNS server on 127.0.0.1 that answers every query with
/// NXDOMAIN: the only upstream a test daemon gets, so no query leaves the
/// machine. Stops with the test process.
pub struct DnsStub {
    addr: std::net::SocketAddr,
    pub queries: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl DnsStub {
    pub fn start() -> DnsStub {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind the DNS stub");
        let addr = sock.local_addr().unwrap();
        let queries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let q = queries.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            loop {
                // An ICMP error from an earlier reply (its asker gone)
                // surfaces as an error here on Linux: keep answering.
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if n < 12 {
                    continue;
                }
                q.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // The header and the question only (an EDNS record in
                // the query's additional section is dropped).
                let mut end = 12;
                while end < n && buf[end] != 0 {
                    end += 1 + buf[end] as usize;
                }
                let end = (end + 5).min(n);
                let mut resp = buf[..end].to_vec();
                // QR=1, keep opcode and RD; RA=1, RCODE=3 (NXDOMAIN); no
                // answer, authority or additional records.
                resp[2] = 0x80 | (resp[2] & 0x79);
                resp[3] = 0x80 | 3;
                resp[6..12].fill(0);
                let _ = sock.send_to(&resp, from);
            }
        });
        DnsStub { addr, queries }
    }

    /// An upstream that takes every query and never answers (a server
    /// gone silent); `queries` counts what reached it.
    pub fn silent() -> DnsStub {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind the DNS stub");
        let stub = DnsStub {
            addr: sock.local_addr().unwrap(),
            queries: Default::default(),
        };
        let q = stub.queries.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            loop {
                if sock.recv_from(&mut buf).is_ok() {
                    q.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        stub
    }

    /// An upstream address where nothing listens (a server gone): the
    /// port of a socket bound and closed again.
    pub fn gone() -> DnsStub {
        let addr = std::net::UdpSocket::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .unwrap();
        DnsStub {
            addr,
            queries: Default::default(),
        }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

/// `nslookup name` inside the running container `container` (its own
/// resolver, through its network namespace): stdout and stderr.
pub fn nslookup_in(d: &Daemon, container: &str, name: &str) -> String {
    let pid = inspect(d, container)["State"]["Pid"]
        .as_i64()
        .unwrap()
        .to_string();
    let out = run_timeout(
        15,
        Path::new("nsenter"),
        &["-t", &pid, "-m", "-n", "nslookup", name],
        None,
    );
    text(&out.stdout) + &text(&out.stderr)
}

/// A detached busybox httpd answering its hostname on port 80; `args` are
/// `run`'s options before the image. Returns the container id.
pub fn serve(d: &Daemon, args: &[&str]) -> String {
    let mut full = vec!["run", "-d"];
    full.extend_from_slice(args);
    full.extend_from_slice(&[
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    d.ok(&full).trim().to_string()
}

/// The world outside the daemon's host: a namespace of its own linked to
/// the daemon's by a veth, `up0` (`host_addr`) on the daemon's side and
/// `wan0` (`peer_addr`) outside, both with their prefix; IPv6 addresses
/// without DAD.
pub fn outside_link(d: &Daemon, host_addr: &str, peer_addr: &str) -> TestNetns {
    let outside = TestNetns::new("out");
    let sh = |args: &[&str]| {
        let out = run_timeout(10, Path::new("ip"), args, None);
        assert!(out.status.success(), "ip {args:?}: {}", text(&out.stderr));
    };
    let (h, o) = (d.net.name.as_str(), outside.name.as_str());
    sh(&[
        "-n", h, "link", "add", "up0", "type", "veth", "peer", "name", "wan0", "netns", o,
    ]);
    for (ns, dev, addr) in [(h, "up0", host_addr), (o, "wan0", peer_addr)] {
        let mut cmd = vec!["-n", ns, "addr", "add", addr, "dev", dev];
        if addr.contains(':') {
            cmd.push("nodad");
        }
        sh(&cmd);
        sh(&["-n", ns, "link", "set", dev, "up"]);
    }
    outside
}
