//! End-to-end tests of rrund and rrun on the busybox image: each test runs
//! its own daemon with its own socket, data root and executor root in a
//! temporary directory, and removes its containers even when it fails.

mod common;

use common::daemon::{http, inspect, Daemon};

use common::{bin, run_timeout, text, wait_for};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn pid_alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

#[test]
fn ping_version_info_and_api_prefix() {
    let d = Daemon::start();
    let mode = std::fs::metadata(d.socket()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o660, "socket mode");

    let (c, body) = http(&d.socket(), "GET", "/v1.41/version").unwrap();
    assert_eq!(c, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["ApiVersion"].as_str().unwrap() >= "1.41");
    assert!(v["MinAPIVersion"].is_string());
    assert_eq!(v["Os"], "linux");

    let (c, body) = http(&d.socket(), "GET", "/v9.99/version").unwrap();
    assert_eq!(c, 400);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["message"].as_str().unwrap().contains("too new"), "{body}");

    let (c, body) = http(&d.socket(), "GET", "/v1.41/containers/nosuch/json").unwrap();
    assert_eq!(c, 404);
    assert!(body.contains("No such container: nosuch"), "{body}");

    let (c, body) = http(&d.socket(), "GET", "/v1.43/info").unwrap();
    assert_eq!(c, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Containers"], 0);
    // Fields docker-py and compose read, as dockerd sends them.
    assert_eq!(v["Swarm"]["LocalNodeState"], "inactive", "{body}");
    assert_eq!(v["Debug"], false, "{body}");
    assert_eq!(v["ExperimentalBuild"], false, "{body}");
    assert!(v["MemTotal"].as_i64().unwrap() > 0, "{body}");
    assert!(v["NCPU"].as_i64().unwrap() >= 1, "{body}");

    // Routes without the version prefix, as dockerd serves them.
    let (c, body) = http(&d.socket(), "GET", "/version").unwrap();
    assert_eq!(c, 200, "{body}");
    // Outside a swarm, dockerd's 503 (clients tolerate only that).
    for path in [
        "/v1.41/swarm",
        "/nodes",
        "/v1.43/services?filters=%7B%7D",
        "/tasks/x",
    ] {
        let (c, body) = http(&d.socket(), "GET", path).unwrap();
        assert_eq!(c, 503, "{path}: {body}");
        assert!(body.contains("not a swarm manager"), "{path}: {body}");
    }
    let (c, body) = http(&d.socket(), "POST", "/v1.41/swarm/leave").unwrap();
    assert_eq!(
        (c, body.contains("not part of a swarm")),
        (503, true),
        "{body}"
    );

    let out = d.ok(&["version"]);
    assert!(
        out.contains("Server: rrun") && out.contains("API version"),
        "{out}"
    );
    let out = d.ok(&["info"]);
    assert!(out.contains("Containers: 0"), "{out}");
    assert!(out.contains(d.data_root().to_str().unwrap()), "{out}");
}

#[test]
fn no_daemon_is_exit_125() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}/none.sock", dir.path().display());
    // Without the opt-out rrun would start a daemon (tests/exec.rs tests that).
    let rrun = bin("rrun");
    let out = run_timeout(
        20,
        Path::new("/usr/bin/env"),
        &[
            "RRUN_NO_AUTOSTART=1",
            rrun.to_str().unwrap(),
            "-H",
            &host,
            "ps",
        ],
        None,
    );
    assert_eq!(code(&out), 125);
    assert!(
        text(&out.stderr).contains("Cannot connect"),
        "{}",
        text(&out.stderr)
    );
    // A socket of the caller's own, with no state named for a daemon:
    // never a default daemon started behind a script's back.
    let out = run_timeout(20, &rrun, &["-H", &host, "ps"], None);
    assert_eq!(code(&out), 125);
    assert!(
        !text(&out.stderr).contains("no daemon answered"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("none.sock").exists());
}

#[test]
fn run_prints_output_and_exits_with_the_containers_code() {
    let d = Daemon::start();
    d.load_busybox();
    let out = d.rrun(&["run", "busybox", "echo", "hello", "world"]);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stderr), d.log());
    assert_eq!(text(&out.stdout), "hello world\n");

    let out = d.rrun(&[
        "run",
        "-e",
        "WHO=rrun",
        "-w",
        "/tmp",
        "-h",
        "boxhost",
        "busybox",
        "sh",
        "-c",
        "echo $WHO $(pwd) $(hostname); echo oops >&2; exit 3",
    ]);
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "rrun /tmp boxhost\n");
    assert_eq!(text(&out.stderr), "oops\n");

    // -u resolves names from the image's /etc/passwd; --entrypoint replaces the command.
    let out = d.rrun(&["run", "-u", "nobody", "--entrypoint", "id", "busybox"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("uid=65534"),
        "{}",
        text(&out.stdout)
    );

    // -i pipes rrun's stdin into the container; its EOF ends the input.
    let host = d.host();
    let out = run_timeout(
        60,
        &bin("rrun"),
        &[
            "-H",
            &host,
            "run",
            "--rm",
            "-i",
            "busybox",
            "sh",
            "-c",
            "cat; echo done",
        ],
        Some("piped\nlines\n"),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "piped\nlines\ndone\n");

    // The default hostname is the short id.
    let id = d.ok(&["create", "busybox", "hostname"]).trim().to_string();
    let out = d.rrun(&["start", &id]);
    assert_eq!(code(&out), 0);
    assert_eq!(d.ok(&["wait", &id]).trim(), "0");
    assert_eq!(d.logs(&id), format!("{}\n", &id[..12]));
}

#[test]
fn words_after_the_image_belong_to_the_command() {
    let d = Daemon::start();
    d.load_busybox();
    // As with Docker, `-c` after the image is the command's, not rrun's
    // `--cpu-shares`.
    let out = d.ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        "busybox",
        "-c",
        "echo after-image",
    ]);
    assert_eq!(out, "after-image\n");
}

#[test]
fn a_missing_command_gives_127() {
    let d = Daemon::start();
    d.load_busybox();
    let out = d.rrun(&["run", "busybox", "no-such-program"]);
    assert_eq!(code(&out), 127, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no-such-program"),
        "{}",
        text(&out.stderr)
    );
    // rrun's own errors are 125.
    // (A registry on a closed loopback port: the pull must fail without
    // leaving the machine.)
    let out = d.rrun(&["run", "127.0.0.1:9/no-such-image"]);
    assert_eq!(code(&out), 125);
    assert!(
        text(&out.stderr).contains("Unable to find image"),
        "{}",
        text(&out.stderr)
    );
    let out = d.rrun(&["run", "--no-such-flag", "busybox"]);
    assert_eq!(code(&out), 125);
}

#[test]
fn detached_container_logs_stop_and_rm() {
    let d = Daemon::start();
    d.load_busybox();
    let id = d
        .ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "busybox",
            "sh",
            "-c",
            "trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "{id}");
    wait_for(
        "the container's first line",
        Duration::from_secs(20),
        || d.logs("web").contains("started").then_some(()),
    );
    let v = inspect(&d, "web");
    assert_eq!(v["State"]["Status"], "running");
    assert_eq!(v["Name"], "/web");
    assert!(Path::new(v["LogPath"].as_str().unwrap()).exists());
    // The log on disk is Docker's json-file format.
    let first = std::fs::read_to_string(v["LogPath"].as_str().unwrap()).unwrap();
    let line: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(line["log"], "started\n");
    assert_eq!(line["stream"], "stdout");
    assert!(line["time"].is_string());

    // A second container of the same name is refused.
    let out = d.rrun(&["run", "-d", "--name", "web", "busybox", "true"]);
    assert_eq!(code(&out), 125);
    assert!(
        text(&out.stderr).contains("already in use"),
        "{}",
        text(&out.stderr)
    );

    assert_eq!(d.ok(&["stop", "-t", "10", "web"]).trim(), "web");
    let v = inspect(&d, "web");
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 0);
    assert_eq!(d.logs("web"), "started\nbye\n");

    // A running container is not removed without -f.
    let sleeper = d
        .ok(&["run", "-d", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    let out = d.rrun(&["rm", &sleeper]);
    assert_eq!(code(&out), 1);
    assert!(text(&out.stderr).contains("cannot remove a running container"));
    // stop sends SIGTERM, which the sleeping pid 1 ignores: SIGKILL after the timeout.
    d.ok(&["stop", "-t", "1", &sleeper]);
    assert_eq!(inspect(&d, &sleeper)["State"]["ExitCode"], 137);

    let killed = d
        .ok(&["run", "-d", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    d.ok(&["kill", &killed]);
    assert_eq!(d.ok(&["wait", &killed]).trim(), "137");

    d.ok(&["rm", "web", &sleeper]);
    let forced = d
        .ok(&["run", "-d", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    d.ok(&["rm", "-f", &forced, &killed]);
    let all = d.ok(&["ps", "-aq"]);
    assert!(all.trim().is_empty(), "left: {all}");
    // `inspect` looks for any kind of object, and says so as docker does.
    let out = d.rrun(&["inspect", "web"]);
    assert_eq!(code(&out), 1);
    assert!(text(&out.stderr).contains("No such object: web"));
    let out = d.rrun(&["container", "inspect", "web"]);
    assert_eq!(code(&out), 1);
    assert!(text(&out.stderr).contains("No such container"));
    // The container's directory is gone, and nothing of it stays mounted.
    assert!(std::fs::read_dir(d.data_root().join("containers"))
        .unwrap()
        .next()
        .is_none());
    assert!(common::host_mounts_containing(d.data_root().to_str().unwrap()).is_empty());
}

#[test]
fn ps_shows_dockers_columns() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&["run", "-d", "--name", "up", "busybox", "sleep", "1000"]);
    d.ok(&["run", "--name", "done", "busybox", "true"]);
    let out = d.ok(&["ps"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(rows[0].contains("\"sleep 1000\""), "{out}");
    assert!(rows[0].contains("Up "), "{out}");
    assert!(rows[0].trim_end().ends_with("up"), "{out}");
    assert!(rows[0].starts_with(&inspect(&d, "up")["Id"].as_str().unwrap()[..12]));

    let all = d.ok(&["ps", "-a"]);
    assert!(all.contains("Exited (0)"), "{all}");
    assert!(all.lines().any(|l| l.trim_end().ends_with("done")), "{all}");
    let quiet = d.ok(&["ps", "-aq"]);
    assert_eq!(quiet.lines().count(), 2);
    assert!(quiet.lines().all(|l| l.len() == 12));

    // Filters, as Docker's: a status filter includes stopped containers.
    let exited = d.ok(&["ps", "-q", "--filter", "status=exited"]);
    assert_eq!(
        exited.trim(),
        &inspect(&d, "done")["Id"].as_str().unwrap()[..12]
    );
    let named = d.ok(&["ps", "-aq", "-f", "name=up"]);
    assert_eq!(
        named.trim(),
        &inspect(&d, "up")["Id"].as_str().unwrap()[..12]
    );
    let out = d.rrun(&["ps", "-f", "bogus=1"]);
    assert_eq!(code(&out), 125);
}

#[test]
fn rm_flag_removes_the_container_after_it_exits() {
    let d = Daemon::start();
    d.load_busybox();
    let out = d.rrun(&[
        "run",
        "--rm",
        "--name",
        "gone",
        "busybox",
        "sh",
        "-c",
        "echo hi; exit 4",
    ]);
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi\n");
    // Quick containers, removed as soon as they exit: every time all of
    // the output, once (it was lost when the removal won the race against
    // a log read, and doubled when a removed log looked rotated).
    for i in 0..10 {
        let out = d.rrun(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            &format!("echo out{i}; echo err{i} >&2"),
        ]);
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), format!("out{i}\n"));
        assert_eq!(text(&out.stderr), format!("err{i}\n"));
    }
    assert!(d.ok(&["ps", "-aq"]).trim().is_empty());
    assert_eq!(code(&d.rrun(&["inspect", "gone"])), 1);

    // Detached too: removed once it exits.
    let id = d
        .ok(&["run", "-d", "--rm", "busybox", "true"])
        .trim()
        .to_string();
    wait_for("the --rm container to go", Duration::from_secs(20), || {
        (code(&d.rrun(&["inspect", &id])) == 1).then_some(())
    });
}

#[test]
fn containers_survive_a_daemon_killed_with_sigkill() {
    let mut d = Daemon::start();
    d.load_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done",
    ]);
    wait_for("ticks", Duration::from_secs(20), || {
        d.logs("ticker").contains("tick 2").then_some(())
    });
    let pid = inspect(&d, "ticker")["State"]["Pid"].as_i64().unwrap() as i32;
    assert!(pid > 0);

    d.kill9();
    let before = d.logs_on_disk("ticker");
    // Still running, still logging, with no daemon at all.
    wait_for(
        "logs to grow without the daemon",
        Duration::from_secs(20),
        || (d.logs_on_disk("ticker") > before).then_some(()),
    );
    assert!(pid_alive(pid));

    d.spawn();
    let v = inspect(&d, "ticker");
    assert_eq!(v["State"]["Status"], "running", "{v}");
    assert_eq!(v["State"]["Pid"], pid);
    let seen = d.logs("ticker").lines().count();
    wait_for(
        "logs to continue after the restart",
        Duration::from_secs(20),
        || (d.logs("ticker").lines().count() > seen + 2).then_some(()),
    );
    assert!(d.ok(&["ps"]).contains("ticker"));

    // The new daemon still learns of the exit.
    d.ok(&["kill", "ticker"]);
    assert_eq!(d.ok(&["wait", "ticker"]).trim(), "137");
    assert!(!pid_alive(pid));
    d.ok(&["rm", "ticker"]);
}

impl Daemon {
    /// Lines in the container's json-file log, read without the daemon.
    fn logs_on_disk(&self, name: &str) -> usize {
        let containers = self.data_root().join("containers");
        for e in std::fs::read_dir(containers).unwrap().flatten() {
            let rec = std::fs::read(e.path().join("container.json")).unwrap_or_default();
            let v: serde_json::Value = serde_json::from_slice(&rec).unwrap_or_default();
            if v["Name"] == name {
                let id = v["Id"].as_str().unwrap();
                return std::fs::read_to_string(e.path().join(format!("{id}-json.log")))
                    .unwrap_or_default()
                    .lines()
                    .count();
            }
        }
        0
    }
}

#[test]
fn a_killed_shim_leaves_its_container_exited() {
    let d = Daemon::start();
    d.load_busybox();
    let id = d
        .ok(&["run", "-d", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    let pid = inspect(&d, &id)["State"]["Pid"].as_i64().unwrap() as i32;
    let shim: i32 =
        std::fs::read_to_string(d.data_root().join("containers").join(&id).join("shim.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for(
        "the container to show exited",
        Duration::from_secs(20),
        || (inspect(&d, &id)["State"]["Status"] == "exited").then_some(()),
    );
    let v = inspect(&d, &id);
    // containerd's cleanup of a dead shim reports 128 + SIGKILL; so does Docker.
    assert_eq!(v["State"]["ExitCode"], 137);
    assert!(
        v["State"]["Error"].as_str().unwrap().contains("shim"),
        "{v}"
    );
    // Its processes do not linger without a shim.
    wait_for(
        "the container's init to go",
        Duration::from_secs(20),
        || (!pid_alive(pid)).then_some(()),
    );
    d.ok(&["rm", &id]);
}

#[test]
fn readiness_is_signalled_after_the_socket_is_bound() {
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify.sock");
    let listener = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let sock = dir.path().join("rrun.sock");
    let net = common::daemon::TestNetns::new("ready");
    let dns = common::daemon::DnsStub::start();
    let mut child = Command::new(bin("rrund"))
        .arg("--host-netns")
        .arg(net.path())
        .arg("--dns")
        .arg(dns.addr().to_string())
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .arg("--config-file")
        .arg(dir.path().join("daemon.json"))
        .env("NOTIFY_SOCKET", &notify)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 64];
    let got = listener.recv(&mut buf);
    // Connectable the moment READY=1 arrives.
    let connected = std::os::unix::net::UnixStream::connect(&sock).is_ok();
    let _ = child.kill();
    let _ = child.wait();
    let n = got.expect("READY=1 within 20s");
    assert_eq!(&buf[..n], b"READY=1");
    assert!(connected);
}

#[test]
fn run_pulls_a_missing_image_from_a_registry() {
    let reg = common::Registry::start();
    reg.push_busybox("test/busybox:1.0");
    let d = Daemon::start();
    let image = format!("{}/test/busybox:1.0", reg.host());

    // run finds no image, pulls it (progress on stderr), then runs it.
    let out = d.rrun(&["run", "--rm", &image, "echo", "pulled"]);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stderr), d.log());
    assert_eq!(text(&out.stdout), "pulled\n");
    let err = text(&out.stderr);
    assert!(err.contains("Unable to find image"), "{err}");
    assert!(err.contains("Pull complete"), "{err}");
    assert!(err.contains("Status: Downloaded newer image"), "{err}");

    // `pull` again: every layer is already here.
    let out = d.ok(&["pull", &image]);
    assert!(out.contains("Already exists"), "{out}");
    let images = d.ok(&["images"]);
    assert!(
        images.contains(&format!("{}/test/busybox", reg.host())),
        "{images}"
    );

    // A missing repository is rrun's error: 125, with the registry's reason.
    let out = d.rrun(&["pull", &format!("{}/test/nothing:1", reg.host())]);
    assert_eq!(code(&out), 125, "{}", text(&out.stdout));
    assert!(!text(&out.stderr).is_empty());
}

/// The real docker CLI (Debian's docker.io provides it; dockerd is never
/// started) pointed at rrund's socket.
#[test]
fn the_docker_cli_drives_rrund() {
    let d = Daemon::start();
    d.load_busybox();
    let docker_cmd = |args: &[&str]| d.docker(args, None);
    let ok = |args: &[&str]| d.docker_ok(args);

    let v = ok(&["version"]);
    assert!(v.contains("Server: rrun"), "{v}");

    // Attached run: output over the upgraded attach stream, exit code from wait.
    let out = docker_cmd(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 5",
    ]);
    assert_eq!(code(&out), 5, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    assert!(text(&out.stderr).contains("err"));
    // -i: stdin reaches the container through its shim, and its EOF ends it.
    let out = d.docker(
        &["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"],
        Some("hello\nworld\n"),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\nworld\ndone\n");
    let out = docker_cmd(&["run", "--rm", "busybox", "no-such-program"]);
    assert_eq!(code(&out), 127, "{}", text(&out.stderr));

    let id = ok(&[
        "run",
        "-d",
        "--name",
        "dk",
        "busybox",
        "sh",
        "-c",
        "echo hello; sleep 1000",
    ]);
    assert_eq!(id.trim().len(), 64);
    assert!(ok(&["ps"]).contains("dk"));
    wait_for("docker logs", Duration::from_secs(20), || {
        (ok(&["logs", "dk"]) == "hello\n").then_some(())
    });
    assert_eq!(ok(&["stop", "-t", "1", "dk"]).trim(), "dk");
    assert!(ok(&["ps", "-a"]).contains("Exited (137)"));
    assert_eq!(ok(&["rm", "dk"]).trim(), "dk");
    assert!(ok(&["ps", "-aq"]).trim().is_empty());

    // Networks and volumes.
    let net_id = ok(&["network", "create", "dk-net"]);
    assert_eq!(net_id.trim().len(), 64, "{net_id}");
    let ls = ok(&["network", "ls"]);
    assert!(ls.contains("dk-net") && ls.contains("bridge"), "{ls}");
    let out = docker_cmd(&[
        "run",
        "--rm",
        "--network",
        "dk-net",
        "--network-alias",
        "svc",
        "busybox",
        "sh",
        "-c",
        "nslookup svc >/dev/null && echo resolved",
    ]);
    assert_eq!(text(&out.stdout), "resolved\n", "{}", text(&out.stderr));
    assert_eq!(ok(&["network", "rm", "dk-net"]).trim(), "dk-net");
    assert_eq!(ok(&["volume", "create", "dk-vol"]).trim(), "dk-vol");
    ok(&[
        "run",
        "--rm",
        "-v",
        "dk-vol:/v",
        "busybox",
        "sh",
        "-c",
        "echo x > /v/f",
    ]);
    assert_eq!(
        ok(&["run", "--rm", "-v", "dk-vol:/v", "busybox", "cat", "/v/f"]),
        "x\n"
    );
    assert!(ok(&["volume", "ls"]).contains("dk-vol"));
    assert_eq!(ok(&["volume", "rm", "dk-vol"]).trim(), "dk-vol");
    assert!(!ok(&["volume", "ls", "-q"]).contains("dk-vol"));
}

#[test]
fn restart_runs_the_container_again() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "again",
        "busybox",
        "sh",
        "-c",
        "echo run; sleep 1000",
    ]);
    wait_for("the first run's output", Duration::from_secs(20), || {
        (d.logs("again") == "run\n").then_some(())
    });
    let first = inspect(&d, "again")["State"]["Pid"].as_i64().unwrap();
    assert_eq!(d.ok(&["restart", "-t", "1", "again"]).trim(), "again");
    let v = inspect(&d, "again");
    assert_eq!(v["State"]["Status"], "running");
    assert!(!pid_alive(first as i32));
    // The log keeps both runs, as Docker's does.
    wait_for("the second run's output", Duration::from_secs(20), || {
        (d.logs("again") == "run\nrun\n").then_some(())
    });
    d.ok(&["rm", "-f", "again"]);
}

#[test]
fn start_up_removes_what_a_crash_left_half_made() {
    let mut d = Daemon::start();
    d.load_busybox();
    d.ok(&["run", "-d", "--name", "keep", "busybox", "sleep", "1000"]);
    d.kill9();
    // A container directory whose record was never written (rrund killed
    // inside create), with its root still mounted.
    let half = d.data_root().join("containers").join("f".repeat(64));
    std::fs::create_dir_all(half.join("rootfs")).unwrap();
    std::fs::create_dir_all(half.join("upper")).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &half.join("rootfs"),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    d.spawn();
    assert!(!half.exists(), "the half-made container is still there");
    assert!(common::host_mounts_containing(half.to_str().unwrap()).is_empty());
    // The complete one is untouched and still runs.
    assert_eq!(inspect(&d, "keep")["State"]["Status"], "running");
    assert_eq!(d.ok(&["ps", "-q"]).lines().count(), 1);
}

/// dockerd answers a SIGKILL once the container has exited: the next
/// inspect already says exited, 137 (docker-py's kill-then-inspect).
#[test]
fn sigkill_answers_once_the_container_exited() {
    let d = Daemon::start();
    d.load_busybox();
    for i in 0..3 {
        let name = format!("k{i}");
        // A process tree: the shim sees the exit only after every one died.
        d.ok(&[
            "run",
            "-d",
            "--name",
            &name,
            "busybox",
            "sh",
            "-c",
            "sleep 100 & sleep 100 & wait",
        ]);
        let (code, body) = http(
            &d.socket(),
            "POST",
            &format!("/v1.43/containers/{name}/kill"),
        )
        .unwrap();
        assert_eq!(code, 204, "{body}");
        let v = common::daemon::inspect(&d, &name);
        assert_eq!(v["State"]["Running"], false, "{v}");
        assert_eq!(v["State"]["ExitCode"], 137, "{v}");
    }
}

/// `logs --since`/`--until` keep the lines of that window (docker's CLI
/// and rrun's send the same query).
#[test]
fn logs_since_and_until_select_a_window() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&[
        "run",
        "--name",
        "win",
        "busybox",
        "sh",
        "-c",
        "echo one; sleep 1.2; echo two",
    ]);
    let all = d.ok(&["logs", "-t", "win"]);
    let time_of = |word: &str| {
        all.lines()
            .find(|l| l.ends_with(word))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {word} in {all}"))
            .to_string()
    };
    let (one, two) = (time_of("one"), time_of("two"));
    assert!(one < two, "{all}");
    assert_eq!(d.ok(&["logs", "--since", &two, "win"]), "two\n");
    assert_eq!(d.ok(&["logs", "--until", &one, "win"]), "one\n");
    assert_eq!(d.docker_ok(&["logs", "--since", &two, "win"]), "two\n");
    assert_eq!(d.docker_ok(&["logs", "--until", &one, "win"]), "one\n");
    assert_eq!(
        d.docker_ok(&["logs", "--since", &one, "--until", &two, "win"]),
        "one\ntwo\n"
    );
    let bad = d.rrun(&["logs", "--since", "yesterday", "win"]);
    assert!(!bad.status.success());
    assert!(
        common::text(&bad.stderr).contains("invalid value for \"since\""),
        "{}",
        common::text(&bad.stderr)
    );
}

/// A bad archive to `POST /images/load`: dockerd's 200 with the error in
/// the stream; rrun and the docker CLI say it and fail.
#[test]
fn loading_a_bad_archive_is_an_error_in_the_stream() {
    let d = Daemon::start();
    let bad = d.dir.path().join("bad.tar");
    std::fs::write(&bad, b"this is not a tar archive").unwrap();
    let out = d.rrun(&["load", "-i", bad.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("Error response from daemon:"),
        "{}",
        text(&out.stderr)
    );
    let out = d.docker(&["load", "-i", bad.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(!text(&out.stderr).is_empty());
    assert_eq!(d.ok(&["images", "-q"]), "", "nothing loaded");
}

/// dockerd takes a network name with a space; so does rrund.
#[test]
fn a_network_name_may_hold_a_space() {
    let d = Daemon::start();
    d.load_busybox();
    d.docker_ok(&["network", "create", "my net"]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "my net",
        "busybox",
        "sh",
        "-c",
        "ip -4 -o addr show eth0 | wc -l",
    ]);
    assert_eq!(out.trim(), "1");
    let v = common::daemon::inspect_network(&d, "my net");
    assert_eq!(v["Name"], "my net");
    d.docker_ok(&["network", "rm", "my net"]);
    let bad = d.docker(&["network", "create", "a/b"], None);
    assert!(
        text(&bad.stderr).contains("invalid network name"),
        "{}",
        text(&bad.stderr)
    );
}

/// `run --rm` reports the exit once the shim has recorded it, and the
/// removal is what a client sees at once: the name taken again, the named
/// volume and the network removable straight after (asked over the API
/// the moment the wait answers, inside the removal's rest); the rest
/// (mounts, endpoint, directory) follows off the client's path and leaves
/// nothing behind.
#[test]
fn rm_flag_frees_the_name_the_volume_and_the_network_at_once() {
    let d = Daemon::start();
    d.load_busybox();
    let sock = d.socket();
    for round in 0..3 {
        let net = format!("rmnet{round}");
        let vol = format!("rmvol{round}");
        d.ok(&["network", "create", &net]);
        for i in 0..2 {
            let out = d.rrun(&[
                "run",
                "--rm",
                "--name",
                "again",
                "--network",
                &net,
                "-v",
                &format!("{vol}:/data"),
                "busybox",
                "sh",
                "-c",
                &format!("echo {i} > /data/n; exit {}", 3 + i),
            ]);
            assert_eq!(code(&out), 3 + i, "{}", text(&out.stderr));
        }
        d.ok(&[
            "create",
            "--rm",
            "--name",
            "quick",
            "--network",
            &net,
            "-v",
            &format!("{vol}:/data"),
            "busybox",
            "true",
        ]);
        let s2 = sock.clone();
        let waiter = std::thread::spawn(move || {
            http(&s2, "POST", "/containers/quick/wait?condition=removed")
        });
        wait_for("the wait to be registered", Duration::from_secs(10), || {
            let (_, body) = http(&sock, "GET", "/containers/quick/json")?;
            (!body.is_empty()).then_some(())
        });
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            http(&sock, "POST", "/containers/quick/start").map(|r| r.0),
            Some(204)
        );
        let (status, body) = waiter.join().unwrap().expect("the wait answers");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"StatusCode\":0"), "{body}");
        let gone = http(&sock, "DELETE", &format!("/networks/{net}"));
        assert_eq!(gone.as_ref().map(|r| r.0), Some(204), "{gone:?}");
        let gone = http(&sock, "DELETE", &format!("/volumes/{vol}"));
        assert_eq!(gone.as_ref().map(|r| r.0), Some(204), "{gone:?}");
    }
    // `rm -f` of running auto-remove containers races their own removal
    // as they exit: each name printed, exit 0, one `destroy` each.
    let t0 = common::unix_now();
    let names: Vec<String> = (0..4).map(|i| format!("racer{i}")).collect();
    for n in &names {
        d.ok(&["run", "-d", "--rm", "--name", n, "busybox", "sleep", "1000"]);
    }
    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    assert_eq!(d.ok(&args), names.join("\n") + "\n");
    let until = (common::unix_now() + 1).to_string();
    let out = d.ok(&[
        "events",
        "--since",
        &t0.to_string(),
        "--until",
        &until,
        "--filter",
        "event=destroy",
        "--format",
        "{{.Actor.Attributes.name}}",
    ]);
    // (The same second holds the rounds' destroy events too.)
    let mut seen: Vec<&str> = out.lines().filter(|l| l.starts_with("racer")).collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        names.iter().map(String::as_str).collect::<Vec<_>>(),
        "{out}"
    );
    assert!(d.ok(&["ps", "-aq"]).trim().is_empty());
    let root = d.data_root();
    wait_for(
        "the removed containers' directories to go",
        Duration::from_secs(20),
        || {
            std::fs::read_dir(root.join("containers"))
                .unwrap()
                .next()
                .is_none()
                .then_some(())
        },
    );
    assert!(common::host_mounts_containing(root.to_str().unwrap()).is_empty());
}
