//! Issue 17, `kill -9` of rrund: at a seeded random moment during create,
//! start, stop, rm, network connect and disconnect, volume create, pull
//! (from a real registry on 127.0.0.1) and build, round after round; after each kill
//! a new rrund on the same state directory. Then:
//! - the containers that were running still run (same init, never
//!   restarted), their logs, DNS names (nslookup from another container on
//!   the network) and published ports work;
//! - what the killed request was making is complete or gone: inspect and
//!   the lists agree, and its name can be used again (no ghost);
//! - once everything is removed nothing is left: no veth, published-port
//!   rule, mount under the state directory, cgroup, lease, shim or
//!   container directory.
//!
//! `RRUN_CRASH_ROUNDS` (default 12) sets the number of rounds, one kill
//! each; `RRUN_CRASH_SEED` replays a run (the seed is printed).

mod common;

use common::daemon::{inspect, nslookup_in, Daemon};
use common::{leftovers, text, wait_for, Registry};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// xorshift64*: enough for delays and replayable from a printed seed.
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("RRUN_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                t.as_nanos() as u64 | 1
            });
        println!("crash_daemon: seed {seed} (RRUN_CRASH_SEED={seed} replays it)");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

const OPS: [&str; 10] = [
    "run-rm",
    "create",
    "start",
    "stop",
    "rm",
    "connect",
    "disconnect",
    "volume",
    "pull",
    "build",
];

/// The test's world: a daemon, a registry with busybox, two networks,
/// a web server with a published port and a client beside it.
struct World {
    d: Daemon,
    reg: Registry,
    net: String,
    net2: String,
    port: u16,
    /// The web server's id and its init's pid, which must never change.
    web: String,
    web_pid: i64,
    client: String,
    /// Every container id seen, checked for leftovers at the end.
    seen: Vec<String>,
}

impl World {
    fn new() -> World {
        let reg = Registry::start();
        reg.push_busybox("crash/busybox:1");
        let d = Daemon::start();
        d.load_busybox();
        let (net, net2) = (common::unique("cd"), common::unique("ce"));
        d.ok(&["network", "create", &net]);
        d.ok(&["network", "create", &net2]);
        let port = common::free_port();
        let web = d
            .ok(&[
                "run",
                "-d",
                "--name",
                &format!("{net}-web"),
                "--network",
                &net,
                "-p",
                &format!("127.0.0.1:{port}:80"),
                "busybox",
                "sh",
                "-c",
                "echo web-up; mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www",
            ])
            .trim()
            .to_string();
        let client = d
            .ok(&["run", "-d", "--network", &net, "busybox", "sleep", "100000"])
            .trim()
            .to_string();
        let web_pid = inspect(&d, &web)["State"]["Pid"].as_i64().unwrap();
        World {
            seen: vec![web.clone(), client.clone()],
            d,
            reg,
            net,
            net2,
            port,
            web,
            web_pid,
            client,
        }
    }

    fn image(&self) -> String {
        format!("{}/crash/busybox:1", self.reg.host())
    }

    /// `rrun args…` in the background (the daemon is killed under it).
    fn spawn_rrun(&self, args: &[String]) -> Child {
        Command::new("timeout")
            .args(["-k", "5", "60", "/usr/bin/env", "RRUN_NO_AUTOSTART=1"])
            .arg(common::bin("rrun"))
            .arg("-H")
            .arg(self.d.host())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rrun")
    }

    /// What the round's request needs beforehand; returns the request.
    fn prepare(&mut self, op: &str, name: &str) -> Vec<String> {
        let d = &self.d;
        let created = |extra: &[&str]| {
            let mut args = vec!["create", "--name", name, "--network", &self.net];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["busybox", "sleep", "100000"]);
            d.ok(&args).trim().to_string()
        };
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        match op {
            "create" => s(&[
                "create",
                "--name",
                name,
                "--network",
                &self.net,
                "-p",
                "127.0.0.1::80",
                "-v",
                &format!("{name}-v:/data"),
                "busybox",
                "sleep",
                "100000",
            ]),
            "start" => {
                self.seen.push(created(&["-p", "127.0.0.1::80"]));
                s(&["start", name])
            }
            "stop" | "rm" | "connect" => {
                self.seen.push(created(&[]));
                d.ok(&["start", name]);
                match op {
                    "stop" => s(&["stop", "-t", "1", name]),
                    "rm" => s(&["rm", "-f", name]),
                    _ => s(&["network", "connect", &self.net2, name]),
                }
            }
            "disconnect" => {
                self.seen.push(created(&[]));
                d.ok(&["start", name]);
                d.ok(&["network", "connect", &self.net2, name]);
                s(&["network", "disconnect", &self.net2, name])
            }
            "run-rm" => s(&[
                "run",
                "--rm",
                "--name",
                name,
                "--network",
                &self.net,
                "busybox",
                "sleep",
                "1",
            ]),
            "volume" => s(&["volume", "create", name]),
            "pull" => {
                let _ = d.rrun(&["rmi", &self.image()]);
                s(&["pull", &self.image()])
            }
            "build" => {
                let ctx = d.dir.path().join(name);
                std::fs::create_dir_all(&ctx).unwrap();
                std::fs::write(
                    ctx.join("Dockerfile"),
                    format!("FROM busybox\nRUN echo {name} > /built\nCMD cat /built\n"),
                )
                .unwrap();
                s(&["build", "-t", &format!("{name}:1"), ctx.to_str().unwrap()])
            }
            _ => unreachable!(),
        }
    }

    /// One round: the request, a kill at `delay_ms`, a new daemon. True if
    /// the kill cut the request short (the client did not see it succeed).
    fn round(&mut self, op: &str, delay_ms: u64, n: usize) -> bool {
        let name = format!("{}-r{n}", self.net);
        let req = self.prepare(op, &name);
        let mut child = self.spawn_rrun(&req);
        std::thread::sleep(Duration::from_millis(delay_ms));
        self.d.kill9();
        let cut = !child.wait().is_ok_and(|s| s.success());
        self.d.spawn();
        self.check_survivors(op);
        self.check_outcome(op, &name);
        cut
    }

    /// The running containers were not touched by the crash.
    fn check_survivors(&self, op: &str) {
        let d = &self.d;
        let s = inspect(d, &self.web);
        assert_eq!(
            s["State"]["Status"], "running",
            "after {op}: {:#}",
            s["State"]
        );
        assert_eq!(s["State"]["Pid"], self.web_pid, "after {op}: web restarted");
        assert_eq!(d.logs(&self.web), "web-up\n", "after {op}");
        let url = format!("http://127.0.0.1:{}/", self.port);
        let got = wait_for("the published port", Duration::from_secs(20), || {
            let out = d.net.exec(10, &["curl", "-sf", "-m", "3", &url]);
            out.status.success().then(|| text(&out.stdout))
        });
        assert_eq!(got.trim(), &self.web[..12], "after {op}: the page");
        let web_name = format!("{}-web", self.net);
        let ip = s["NetworkSettings"]["Networks"][&self.net]["IPAddress"]
            .as_str()
            .unwrap();
        let answer = nslookup_in(d, &self.client, &web_name);
        assert!(
            answer.contains(ip),
            "after {op}: nslookup {web_name}: {answer}"
        );
    }

    /// The request's object is complete or gone, and its name is free once
    /// it is removed; then the round's objects are removed.
    fn check_outcome(&mut self, op: &str, name: &str) {
        let d = &self.d;
        match op {
            "volume" => {
                let listed = d.ok(&["volume", "ls", "-q"]).lines().any(|l| l == name);
                let inspected = d.rrun(&["volume", "inspect", name]).status.success();
                assert_eq!(
                    listed, inspected,
                    "after volume create: ls and inspect disagree"
                );
                let _ = d.rrun(&["volume", "rm", name]);
                d.ok(&["volume", "create", name]);
                d.ok(&["volume", "rm", name]);
            }
            "pull" => {
                let image = self.image();
                if d.rrun(&["image", "inspect", &image]).status.success() {
                    d.ok(&["run", "--rm", &image, "true"]);
                }
                d.ok(&["pull", &image]);
                d.ok(&["run", "--rm", &image, "true"]);
            }
            "build" => {
                // Built and tagged, or not there; building again works.
                let tag = format!("{name}:1");
                if d.rrun(&["image", "inspect", &tag]).status.success() {
                    assert_eq!(d.ok(&["run", "--rm", &tag]), format!("{name}\n"));
                }
                let ctx = d.dir.path().join(name);
                d.ok(&["build", "-t", &tag, ctx.to_str().unwrap()]);
                assert_eq!(d.ok(&["run", "--rm", &tag]), format!("{name}\n"));
                d.ok(&["rmi", &tag]);
            }
            "run-rm" => {
                // Running (its shim re-attached), or gone: start-up removes
                // an auto-remove container that does not run, as Docker's
                // restore does. Never left created; gone once it ends.
                // (Exited only in the moment between its exit's record and
                // its removal, when its shim died meanwhile.)
                if let Ok(s) = serde_json::from_slice::<serde_json::Value>(
                    &d.rrun(&["inspect", "--format", "{{json .State}}", name])
                        .stdout,
                ) {
                    assert_ne!(s["Status"], "created", "after run-rm: {s:#}");
                }
                wait_for(
                    "the auto-remove container gone",
                    Duration::from_secs(30),
                    || {
                        let ps = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
                        (!ps.lines().any(|l| l == name)).then_some(())
                    },
                );
                d.ok(&["create", "--name", name, "busybox", "true"]);
                d.ok(&["rm", name]);
            }
            _ => self.check_container(op, name),
        }
    }

    fn check_container(&mut self, op: &str, name: &str) {
        let d = &self.d;
        let listed = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
        let listed = listed.lines().any(|l| l == name);
        let out = d.rrun(&["inspect", name]);
        assert_eq!(
            listed,
            out.status.success(),
            "after {op}: ps -a and inspect disagree on {name}: {}",
            text(&out.stderr)
        );
        if listed {
            let s = inspect(d, name);
            self.seen.push(s["Id"].as_str().unwrap().to_string());
            let (running, status) = (&s["State"]["Running"], &s["State"]["Status"]);
            // Running before a connect or disconnect: a crash in the
            // middle of one never stops it.
            if matches!(op, "connect" | "disconnect") {
                assert_eq!(running, true, "after {op}: {:#}", s["State"]);
            }
            assert_eq!(
                running == true,
                status == "running",
                "after {op}: {:#}",
                s["State"]
            );
            if running == true {
                let pid = s["State"]["Pid"].as_i64().unwrap();
                assert!(
                    Path::new(&format!("/proc/{pid}")).exists(),
                    "after {op}: shown running, its init {pid} is gone"
                );
            }
            self.check_networks(op, &s);
            d.ok(&["rm", "-f", "-v", name]);
        }
        // No ghost: the name and its volume are free again.
        d.ok(&["create", "--name", name, "busybox", "true"]);
        d.ok(&["rm", name]);
        let _ = d.rrun(&["volume", "rm", &format!("{name}-v")]);
    }

    /// The container's networks and the networks' endpoints agree.
    fn check_networks(&self, op: &str, s: &serde_json::Value) {
        let id = s["Id"].as_str().unwrap();
        for net in [&self.net, &self.net2] {
            let attached = !s["NetworkSettings"]["Networks"][net.as_str()].is_null();
            let n = common::daemon::inspect_network(&self.d, net);
            let endpoint = !n["Containers"][id].is_null();
            if s["State"]["Running"] == true {
                assert_eq!(
                    attached, endpoint,
                    "after {op}: {net}: container says {attached}, network says {endpoint}"
                );
            } else {
                assert!(
                    !endpoint,
                    "after {op}: a stopped container holds a lease on {net}"
                );
            }
        }
    }

    /// Everything removed; nothing of it may be left.
    fn teardown(&mut self) {
        let d = &self.d;
        for id in d.ok(&["ps", "-aq", "--no-trunc"]).lines() {
            d.ok(&["rm", "-f", "-v", id]);
        }
        // An exited container's veth goes with its namespace, a moment later.
        let left = leftovers::settled(|| leftovers::of_daemon(d, &[&self.net, &self.net2]));
        assert!(
            left.is_empty(),
            "left once every container is gone: {left:#?}"
        );
        let bridges_of: Vec<String> = [&self.net, &self.net2]
            .iter()
            .map(|n| {
                let id = common::daemon::inspect_network(d, n)["Id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                format!("rr-{}", &id[..12])
            })
            .collect();
        d.ok(&["network", "rm", &self.net, &self.net2]);
        // The daemon's table keeps no rule of a removed network.
        let rules = text(&d.net.exec(10, &["nft", "list", "ruleset"]).stdout);
        for b in &bridges_of {
            assert!(!rules.contains(b.as_str()), "rules of {b} left:\n{rules}");
        }
        for v in d.ok(&["volume", "ls", "-q"]).lines() {
            d.ok(&["volume", "rm", v]);
        }
        for id in &self.seen {
            let left = leftovers::settled(|| leftovers::of_container(d, id));
            assert!(left.is_empty(), "left of {id}: {left:#?}");
        }
        let bridges = d
            .net
            .exec(10, &["ip", "-o", "link", "show", "type", "bridge"]);
        // Only the default network's bridge stays.
        let own = d.own_name();
        let stray: Vec<String> = text(&bridges.stdout)
            .lines()
            .filter(|l| !l.contains(&format!(": {own}:")))
            .map(String::from)
            .collect();
        assert!(stray.is_empty(), "bridges left: {stray:#?}");
    }
}

#[test]
fn kill_9_of_rrund_during_any_request_loses_and_leaks_nothing() {
    let rounds: usize = std::env::var("RRUN_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let mut rng = Rng::from_env();
    let mut w = World::new();
    let started = std::time::Instant::now();
    let (mut kills, mut cut_short) = (0, 0);
    for n in 0..rounds {
        let op = OPS[n % OPS.len()];
        // start, stop and rm take 50-300 ms here, a volume create, a
        // disconnect or a pull of busybox a few ms after the client is up:
        // half the kills land in the first 60 ms, some before the request
        // even reached the daemon.
        let max = if rng.below(2) == 0 { 60 } else { 350 };
        let delay = rng.below(max);
        let cut = w.round(op, delay, n);
        println!(
            "round {n}: kill -9 of rrund {delay} ms into {op}: {}",
            if cut {
                "cut it short"
            } else {
                "after it completed"
            }
        );
        kills += 1;
        cut_short += cut as usize;
    }
    w.teardown();
    println!(
        "crash_daemon: {rounds} rounds, {kills} kills of rrund ({cut_short} in the middle of a request), {:.0?}; nothing lost, nothing left",
        started.elapsed()
    );
}
