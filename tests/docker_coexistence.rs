//! rrun's networks on a host where Docker (Debian's docker.io) also runs:
//! dockerd sets the iptables-nft FORWARD policy to DROP and turns on
//! br_netfilter's bridge-nf-call-iptables, which drops bridged and routed
//! traffic of any other engine. rrun makes room for its own bridges in
//! Docker's DOCKER-USER chain, and Docker's own containers keep working.
//!
//! Both daemons run in the test's own network namespace (rrund through the
//! harness's `--host-netns`, dockerd under `nsenter --net`), with an
//! "outside" peer namespace wired to it, so nothing touches the host.

mod common;

use common::daemon::{outside_link, Daemon};
use common::{images, run_timeout, text, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn ok(secs: u64, args: &[&str]) -> String {
    let out = run_timeout(secs, Path::new(args[0]), &args[1..], None);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A private dockerd in a network namespace; stopped, with its containerd
/// and containers, on drop.
struct Dockerd {
    dir: tempfile::TempDir,
    child: Child,
    cli: PathBuf,
}

impl Dockerd {
    fn start(netns: &Path) -> Dockerd {
        let dir = tempfile::Builder::new()
            .prefix("rrun-dockerd-")
            .tempdir()
            .unwrap();
        let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let ns = format!("rrtest{}", std::process::id());
        // A daemon.json of its own: the host's /etc/docker/daemon.json (a
        // user's `dns`, say) would clash with the flags below.
        let config = dir.path().join("daemon.json");
        std::fs::write(&config, "{}").unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net={}", netns.display()))
            .arg("dockerd")
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("dockerd.pid"))
            .arg("--config-file")
            .arg(&config)
            .arg("-H")
            .arg(format!(
                "unix://{}",
                dir.path().join("docker.sock").display()
            ))
            .args(["--containerd-namespace", &ns])
            .args(["--containerd-plugins-namespace", &format!("{ns}p")])
            .args(["--dns", "127.0.0.1", "--storage-driver", "overlay2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd (docker.io, scripts/deps) must be installed");
        let cli = common::daemon::docker_cli();
        let mut d = Dockerd { dir, child, cli };
        wait_for("dockerd to answer", Duration::from_secs(60), || {
            if let Ok(Some(st)) = d.child.try_wait() {
                panic!("dockerd exited ({st}): {}", d.log());
            }
            d.cmd(&["version"]).status.success().then_some(())
        });
        d
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    fn cmd(&self, args: &[&str]) -> Output {
        let host = format!("unix://{}", self.dir.path().join("docker.sock").display());
        let mut full = vec!["-H", host.as_str()];
        full.extend_from_slice(args);
        run_timeout(60, &self.cli, &full, None)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}{}\n--- dockerd log ---\n{}",
            text(&out.stdout),
            text(&out.stderr),
            self.log()
        );
        text(&out.stdout)
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let ids = self.cmd(&["ps", "-aq"]);
        for id in text(&ids.stdout).lines() {
            let _ = self.cmd(&["rm", "-f", id]);
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The containerd it started, if it outlived it.
        let root = self.dir.path().to_str().unwrap().to_string();
        let _ = run_timeout(10, Path::new("pkill"), &["-f", &root], None);
        for m in common::host_mounts_containing(&root) {
            if let Some(target) = m.split(' ').nth(4) {
                let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}

#[test]
fn rrun_networks_work_beside_a_running_dockerd() {
    // Docker first, as on a host where it starts at boot: it finds IP
    // forwarding off, turns it on and sets FORWARD's policy to DROP.
    let net = common::daemon::TestNetns::new("dk");
    let ns = net.name.clone();
    // A new namespace inherits the host's ip_forward; a booting host has it off.
    ok(
        10,
        &[
            "ip",
            "netns",
            "exec",
            &ns,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=0",
        ],
    );
    let docker = Dockerd::start(&net.path());
    let d = Daemon::start_in(net);
    d.load_busybox();
    // An outside peer on 10.231.0.0/24 behind the daemon's namespace.
    // Kept to the end: dropping it removes the peer.
    let _outside = outside_link(&d, "10.231.0.1/24", "10.231.0.2/24");

    // What Docker did to the namespace: FORWARD drops, bridged traffic goes
    // through iptables.
    let fwd = ok(
        10,
        &[
            "ip", "netns", "exec", &ns, "nft", "list", "chain", "ip", "filter", "FORWARD",
        ],
    );
    assert!(fwd.contains("policy drop"), "{fwd}");
    let nf = ok(
        10,
        &[
            "ip",
            "netns",
            "exec",
            &ns,
            "sysctl",
            "-n",
            "net.bridge.bridge-nf-call-iptables",
        ],
    );
    assert_eq!(nf.trim(), "1");

    // rrun containers on a user network: each other, and the outside.
    d.ok(&["network", "create", "beside"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "peer",
        "--network",
        "beside",
        "busybox",
        "sleep",
        "300",
    ]);
    let out = d.rrun(&[
        "run",
        "--rm",
        "--network",
        "beside",
        "busybox",
        "sh",
        "-c",
        "ping -c1 -W3 peer && ping -c1 -W3 10.231.0.2",
    ]);
    assert!(
        out.status.success(),
        "rrun traffic blocked beside Docker: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // The default network too.
    let out = d.rrun(&["run", "--rm", "busybox", "ping", "-c1", "-W3", "10.231.0.2"]);
    assert!(out.status.success(), "{}", text(&out.stdout));

    // Docker's own containers still work, and its chains are as it made them.
    let archive = d.dir.path().join("busybox-docker.tar");
    ok(
        120,
        &[
            "skopeo",
            "copy",
            "-q",
            &format!("oci:{}:latest", images().join("busybox/oci").display()),
            &format!("docker-archive:{}:busybox:latest", archive.display()),
        ],
    );
    docker.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    let out = docker.cmd(&["run", "--rm", "busybox", "ping", "-c1", "-W3", "10.231.0.2"]);
    assert!(
        out.status.success(),
        "docker's container lost its way out: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let fwd = ok(
        10,
        &[
            "ip", "netns", "exec", &ns, "nft", "list", "chain", "ip", "filter", "FORWARD",
        ],
    );
    assert!(
        fwd.contains("policy drop") && fwd.contains("DOCKER-USER"),
        "{fwd}"
    );
    let user = ok(
        10,
        &[
            "ip",
            "netns",
            "exec",
            &ns,
            "nft",
            "list",
            "chain",
            "ip",
            "filter",
            "DOCKER-USER",
        ],
    );
    assert!(user.contains("rrun"), "{user}");
    drop(docker);
}
