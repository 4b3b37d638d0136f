//! End-to-end tests of rrund and rrun on the busybox image: each test runs
//! its own daemon with its own socket, data root and executor root in a
//! temporary directory, and removes its containers even when it fails.

mod common;

use common::{bin, images, run_timeout, text, wait_for};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A running rrund of the test's own; stopped, and its containers removed,
/// on drop.
struct Daemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("rrund-test-")
            .tempdir()
            .unwrap();
        let mut d = Daemon { dir, child: None };
        d.spawn();
        d
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("rrun.sock")
    }
    fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }
    fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn exec_root(&self) -> PathBuf {
        self.dir.path().join("exec")
    }

    /// Starts rrund and waits (with a deadline) until it answers `/_ping`.
    fn spawn(&mut self) {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("rrund.log"))
            .unwrap();
        let child = Command::new(bin("rrund"))
            .arg("-H")
            .arg(self.host())
            .arg("--data-root")
            .arg(self.data_root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("--config-file")
            .arg(self.dir.path().join("daemon.json"))
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

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rrund.log")).unwrap_or_default()
    }

    /// `rrun -H <our socket> args…` with a timeout.
    fn rrun(&self, args: &[&str]) -> Output {
        let host = self.host();
        let mut full = vec!["-H", host.as_str()];
        full.extend_from_slice(args);
        run_timeout(60, &bin("rrun"), &full, None)
    }

    /// A command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
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
    fn load_busybox(&self) {
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

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn logs(&self, name: &str) -> String {
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
        for m in common::host_mounts_containing(self.dir.path().to_str().unwrap()) {
            if let Some(target) = m.split(' ').nth(4) {
                let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}

/// A bare HTTP/1.0 request on the socket: (status, body).
fn http(socket: &Path, method: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "{method} {path} HTTP/1.0\r\nHost: rrun\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let code = resp.split_whitespace().nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn pid_alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

fn inspect(d: &Daemon, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", name])).unwrap();
    v[0].clone()
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
    let out = d.rrun(&["inspect", "web"]);
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
    assert_eq!(v["State"]["ExitCode"], 255);
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
    let mut child = Command::new(bin("rrund"))
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

/// The docker CLI, when installed (Debian's docker.io provides it; dockerd
/// is never started): `docker` pointed at rrund's socket.
fn docker_cli() -> Option<PathBuf> {
    ["/usr/bin/docker", "/usr/local/bin/docker"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

#[test]
fn the_docker_cli_drives_rrund() {
    // scripts/deps/daemon.txt installs docker.io; a missing CLI is a failure,
    // not a skip.
    let docker = docker_cli().expect("no docker CLI: scripts/install-deps.sh installs docker.io");
    let d = Daemon::start();
    d.load_busybox();
    let config = d.dir.path().join("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    let host = format!("DOCKER_HOST={}", d.host());
    let cfg = format!("DOCKER_CONFIG={}", config.display());
    let docker_cmd = |args: &[&str]| {
        let mut full = vec![host.as_str(), cfg.as_str(), docker.to_str().unwrap()];
        full.extend_from_slice(args);
        run_timeout(60, Path::new("/usr/bin/env"), &full, None)
    };
    let ok = |args: &[&str]| {
        let out = docker_cmd(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}{}\n--- rrund log ---\n{}",
            text(&out.stdout),
            text(&out.stderr),
            d.log()
        );
        text(&out.stdout)
    };

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
    let mut full = vec![host.as_str(), cfg.as_str(), docker.to_str().unwrap()];
    full.extend_from_slice(&["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"]);
    let out = run_timeout(60, Path::new("/usr/bin/env"), &full, Some("hello\nworld\n"));
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
