//! End-to-end tests of exec, terminals, interactive attach and the
//! daemon's auto-start: each test runs its own rrund (own socket, data root
//! and executor root) and removes what it made even when it fails.
//! Sessions on a terminal are driven through a pty pair the test opens.

mod common;

use common::daemon::{inspect, Daemon, TestNetns};
use common::{bin, run_timeout, text, wait_for};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A daemon of the test's own (tests/common/daemon.rs) with busybox.
fn start() -> Daemon {
    let d = Daemon::start();
    d.load_busybox();
    d
}

/// What these tests do with a daemon beyond the common harness.
trait ExecExt {
    fn rrun_in(&self, args: &[&str], stdin: Option<&str>) -> Output;
    fn sleeper(&self, name: &str);
    fn running(&self, name: &str) -> bool;
    fn on_pty(&self, args: &[&str], rows: u16, cols: u16) -> Pty;
}

impl ExecExt for Daemon {
    /// `rrun -H … args` with `stdin` piped in.
    fn rrun_in(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let host = self.host();
        let mut full = vec!["-H", host.as_str()];
        full.extend_from_slice(args);
        run_timeout(60, &bin("rrun"), &full, stdin)
    }

    /// A detached `sleep` container named `name`.
    fn sleeper(&self, name: &str) {
        self.ok(&["run", "-d", "--name", name, "busybox", "sleep", "1000"]);
    }

    fn running(&self, name: &str) -> bool {
        inspect(self, name)["State"]["Running"] == true
    }

    /// `rrun -H … args` on a new pty of `rows`×`cols`.
    fn on_pty(&self, args: &[&str], rows: u16, cols: u16) -> Pty {
        let mut full = vec!["-H".to_string(), self.host()];
        full.extend(args.iter().map(|a| a.to_string()));
        Pty::spawn(&bin("rrun"), &full, rows, cols)
    }
}

/// An HTTP/1.0 request with a JSON body on the socket: (status, body).
fn http(socket: &Path, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: rrun\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let code = resp.split_whitespace().nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// A program on the slave side of a pty pair (its controlling terminal);
/// the test reads and writes the master. Killed on drop.
struct Pty {
    master: OwnedFd,
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    /// Set by the reader once it read everything (EIO: every slave fd closed).
    drained: Arc<AtomicBool>,
}

impl Pty {
    fn spawn(program: &Path, args: &[String], rows: u16, cols: u16) -> Pty {
        use std::os::unix::process::CommandExt;
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let p = nix::pty::openpty(Some(&ws), None).expect("openpty");
        let slave = p.slave;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on the pty");
        // Our copies of the slave go with the Command.
        drop(cmd);
        let out = Arc::new(Mutex::new(Vec::new()));
        let reader = nix::unistd::dup(p.master.as_raw_fd()).unwrap();
        let sink = out.clone();
        let drained = Arc::new(AtomicBool::new(false));
        let done = drained.clone();
        std::thread::spawn(move || {
            // SAFETY: dup returned a new fd that this thread owns.
            let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(reader) };
            let mut buf = [0u8; 4096];
            // EIO once every slave fd is closed.
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            done.store(true, Ordering::SeqCst);
        });
        Pty {
            master: p.master,
            child,
            out,
            drained,
        }
    }

    fn write(&self, s: &[u8]) {
        nix::unistd::write(&self.master, s).expect("write to the pty");
    }

    fn output(&self) -> String {
        text(&self.out.lock().unwrap())
    }

    /// Waits until the output contains `needle`.
    fn expect(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.output().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?} on the pty; got {:?}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sets the terminal's size (the program gets SIGWINCH).
    fn resize(&self, rows: u16, cols: u16) {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads the winsize we pass.
        let rc = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(rc, 0, "TIOCSWINSZ");
    }

    /// The program's exit code, within a deadline, once its last words
    /// are read too: what it wrote just before it exited ("read escape
    /// sequence") reaches the reader a moment later, and a check of the
    /// output right at the exit could miss it.
    fn wait(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // A process the program left holding the terminal would keep
                // the reader going: then the output is taken as it is.
                let drained = Instant::now() + Duration::from_secs(5);
                while !self.drained.load(Ordering::SeqCst) && Instant::now() < drained {
                    std::thread::sleep(Duration::from_millis(5));
                }
                return st.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "the program on the pty did not exit; output {:?}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `stty size` in the shell on `p` until it prints `want`.
fn expect_size(p: &Pty, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mark = format!("size-{}", p.output().len());
        p.write(format!("echo {mark} $(stty size)\n").as_bytes());
        let line = format!("{mark} {want}");
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            if p.output().contains(&line) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            Instant::now() < deadline,
            "the terminal never showed {want}; output {:?}",
            p.output()
        );
    }
}

#[test]
fn exec_exit_codes_and_separate_streams() {
    let d = start();
    d.sleeper("ex");
    let out = d.rrun(&["exec", "ex", "echo", "hi"]);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stderr), d.log());
    assert_eq!(text(&out.stdout), "hi\n");

    let out = d.rrun(&["exec", "ex", "sh", "-c", "exit 3"]);
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));

    let out = d.rrun(&["exec", "ex", "no-such-program"]);
    assert_eq!(code(&out), 127, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not found"),
        "{}",
        text(&out.stderr)
    );
    let out = d.rrun(&["exec", "ex", "/etc/passwd"]);
    assert_eq!(code(&out), 126, "{}", text(&out.stderr));

    let out = d.rrun(&["exec", "ex", "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(code(&out), 0);
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");

    // -e, -w, -u and combined flags.
    let out = d.ok(&[
        "exec",
        "-e",
        "WHO=rrun",
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "ex",
        "sh",
        "-c",
        "echo $WHO $(pwd) $(id -un)",
    ]);
    assert_eq!(out, "rrun /tmp nobody\n");

    // --privileged: every capability (CAP_SYS_ADMIN is bit 21), which the
    // container's own process does not have.
    let cap_eff = |args: &[&str]| {
        let out = d.ok(args);
        let hex = out
            .split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("{out}"));
        u64::from_str_radix(hex, 16).unwrap()
    };
    let grep = ["sh", "-c", "grep CapEff /proc/self/status"];
    let plain = cap_eff(&[&["exec", "ex"][..], &grep[..]].concat());
    let privileged = cap_eff(&[&["exec", "--privileged", "ex"][..], &grep[..]].concat());
    assert_eq!(plain & (1 << 21), 0, "{plain:x}");
    assert_ne!(privileged & (1 << 21), 0, "{privileged:x}");

    // -d: runs in the background.
    d.ok(&["exec", "-d", "ex", "sh", "-c", "echo done > /tmp/bg"]);
    wait_for("the detached exec", Duration::from_secs(20), || {
        (d.ok(&["exec", "ex", "cat", "/tmp/bg"]) == "done\n").then_some(())
    });

    // Not running: Docker's 409.
    d.ok(&["run", "--name", "gone", "busybox", "true"]);
    let out = d.rrun(&["exec", "gone", "true"]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("is not running"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn exec_api_create_start_inspect() {
    let d = start();
    d.sleeper("api");
    let s = d.socket();
    let (c, body) = http(
        &s,
        "POST",
        "/v1.43/containers/api/exec",
        Some(r#"{"Cmd":["sh","-c","exit 4"],"AttachStdout":true}"#),
    )
    .unwrap();
    assert_eq!(c, 201, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let inspect = || {
        let (c, body) = http(&s, "GET", &format!("/v1.43/exec/{id}/json"), None).unwrap();
        assert_eq!(c, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    let v = inspect();
    assert_eq!(v["Running"], false);
    assert!(v["ExitCode"].is_null(), "{v}");
    assert_eq!(v["ProcessConfig"]["entrypoint"], "sh");
    assert_eq!(v["OpenStdout"], true);
    assert_eq!(v["ContainerID"].as_str().unwrap().len(), 64);

    let (c, body) = http(
        &s,
        "POST",
        &format!("/v1.43/exec/{id}/start"),
        Some(r#"{"Detach":true}"#),
    )
    .unwrap();
    assert_eq!(c, 200, "{body}");
    wait_for("the exec's exit code", Duration::from_secs(20), || {
        let v = inspect();
        (v["ExitCode"] == 4).then_some(())
    });
    assert!(inspect()["Pid"].as_i64().unwrap() > 0);
    // Started twice: a conflict.
    let (c, _) = http(&s, "POST", &format!("/v1.43/exec/{id}/start"), Some("{}")).unwrap();
    assert_eq!(c, 409);
    let (c, body) = http(&s, "GET", "/v1.43/exec/nosuch/json", None).unwrap();
    assert_eq!(c, 404);
    assert!(body.contains("No such exec instance"), "{body}");
    let (c, _) = http(
        &s,
        "POST",
        "/v1.43/containers/api/exec",
        Some(r#"{"Cmd":[]}"#),
    )
    .unwrap();
    assert_eq!(c, 400);

    // Attached without a hijack: the output as the body, in frames, only
    // the streams asked for.
    let (_, body) = http(
        &s,
        "POST",
        "/v1.43/containers/api/exec",
        Some(r#"{"Cmd":["sh","-c","echo out; echo err >&2"],"AttachStderr":true}"#),
    )
    .unwrap();
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let (c, body) = http(&s, "POST", &format!("/v1.43/exec/{id}/start"), Some("{}")).unwrap();
    assert_eq!(c, 200);
    assert_eq!(body, "\u{2}\0\0\0\0\0\0\u{4}err\n");
}

#[test]
fn stdin_is_piped_with_i() {
    let d = start();
    let out = d.rrun_in(&["run", "-i", "--rm", "busybox", "cat"], Some("hi\n"));
    assert_eq!(code(&out), 0, "{}{}", text(&out.stderr), d.log());
    assert_eq!(text(&out.stdout), "hi\n");

    d.sleeper("pipe");
    let out = d.rrun_in(
        &["exec", "-i", "pipe", "sh", "-c", "cat; echo end"],
        Some("one\ntwo\n"),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "one\ntwo\nend\n");
    // -it without a terminal: Docker's refusal.
    let out = d.rrun_in(&["exec", "-it", "pipe", "cat"], Some("x"));
    assert_eq!(code(&out), 1);
    assert!(text(&out.stderr).contains("not a TTY"));
}

#[test]
fn run_it_is_a_real_terminal_with_resize() {
    let d = start();
    let mut p = d.on_pty(&["run", "-it", "--name", "term", "busybox", "sh"], 30, 100);
    p.write(b"echo $((6*7))\n");
    p.expect("42");
    expect_size(&p, "30 100");
    p.resize(50, 132);
    expect_size(&p, "50 132");
    p.write(b"exit 3\n");
    assert_eq!(p.wait(), 3, "{}", p.output());
    // A terminal's output is logged as stdout, with its carriage returns.
    let logs = d.ok(&["logs", "term"]);
    assert!(logs.contains("42\r\n"), "{logs:?}");
}

#[test]
fn exec_it_is_a_real_terminal() {
    let d = start();
    d.sleeper("host");
    let mut p = d.on_pty(&["exec", "-it", "host", "sh"], 24, 80);
    p.write(b"echo $((6*7)); tty\n");
    p.expect("42");
    p.expect("/dev/pts/");
    expect_size(&p, "24 80");
    p.resize(40, 90);
    expect_size(&p, "40 90");
    p.write(b"exit 3\n");
    assert_eq!(p.wait(), 3, "{}", p.output());

    // Detaching from an exec leaves its process running.
    let mut p = d.on_pty(&["exec", "-it", "host", "sh"], 24, 80);
    p.write(b"echo $((7*6))\n");
    p.expect("42");
    p.write(b"\x10\x11");
    assert_eq!(p.wait(), 0, "{}", p.output());
    assert!(
        p.output().contains("read escape sequence"),
        "{}",
        p.output()
    );
    let ps = d.ok(&["exec", "host", "ps", "-o", "args"]);
    assert!(ps.lines().any(|l| l.trim() == "sh"), "{ps}");
    // Listed in the container's inspect while it runs.
    let ids = inspect(&d, "host")["ExecIDs"].clone();
    assert_eq!(ids.as_array().map(Vec::len), Some(1), "{ids}");
}

#[test]
fn ctrl_p_ctrl_q_detaches_and_the_container_runs_on() {
    let d = start();
    let mut p = d.on_pty(&["run", "-it", "--name", "keep", "busybox", "sh"], 24, 80);
    p.write(b"echo $((6*7))\n");
    p.expect("42");
    p.write(b"\x10\x11");
    assert_eq!(p.wait(), 0, "{}", p.output());
    assert!(
        p.output().contains("read escape sequence"),
        "{}",
        p.output()
    );
    assert!(d.running("keep"));

    // attach again, type, detach again.
    let mut p = d.on_pty(&["attach", "keep"], 24, 80);
    // The shell has nothing new to say until it reads a line.
    wait_for("the attached shell", Duration::from_secs(20), || {
        p.write(b"echo again-$((1+1))\n");
        std::thread::sleep(Duration::from_millis(200));
        p.output().contains("again-2").then_some(())
    });
    p.write(b"\x10\x11");
    assert_eq!(p.wait(), 0, "{}", p.output());
    assert!(d.running("keep"));

    // Keys of one's own: Ctrl-P Ctrl-Q then reach the shell.
    let mut p = d.on_pty(&["attach", "--detach-keys", "ctrl-a,x", "keep"], 24, 80);
    wait_for("the attached shell", Duration::from_secs(20), || {
        p.write(b"echo own-$((2+2))\n");
        std::thread::sleep(Duration::from_millis(200));
        p.output().contains("own-4").then_some(())
    });
    p.write(b"\x01x");
    let ended = p.wait();
    assert_eq!(ended, 0, "code {ended}: {}", p.output());
    assert!(
        p.output().contains("read escape sequence"),
        "{}",
        p.output()
    );
    assert!(d.running("keep"));
    // Bad keys are refused before anything is made.
    let bad = d.rrun(&[
        "run",
        "-i",
        "--detach-keys",
        "ctrl-pq",
        "--name",
        "nokeys",
        "busybox",
    ]);
    assert_ne!(code(&bad), 0);
    assert!(
        text(&bad.stderr).contains("Invalid detach keys (ctrl-pq) provided"),
        "{}",
        text(&bad.stderr)
    );
    assert!(d.rrun(&["inspect", "nokeys"]).status.code() != Some(0));

    // And exit through attach: rrun attach ends with the container's code.
    let mut p = d.on_pty(&["attach", "keep"], 24, 80);
    wait_for("the attached shell", Duration::from_secs(20), || {
        p.write(b"echo third-$((1+2))\n");
        std::thread::sleep(Duration::from_millis(200));
        p.output().contains("third-3").then_some(())
    });
    p.write(b"exit 5\n");
    assert_eq!(p.wait(), 5, "{}", p.output());
}

/// `docker args…` on a pty: once `probe` (a shell line echoing `want`)
/// answers, `keys` are typed; the client must end saying it detached.
/// (The docker CLI reports its own detach as an error, exit 1, whichever
/// daemon it talks to: what counts is that it ends and the container runs
/// on.)
fn docker_detaches(d: &Daemon, args: &[&str], probe: &[u8], want: &str, keys: &[u8]) {
    let argv = d.docker_argv(args);
    let mut p = Pty::spawn(std::path::Path::new("/usr/bin/env"), &argv, 24, 80);
    wait_for("the shell", Duration::from_secs(20), || {
        p.write(probe);
        std::thread::sleep(Duration::from_millis(200));
        p.output().contains(want).then_some(())
    });
    p.write(keys);
    p.wait();
    assert!(
        p.output().contains("read escape sequence"),
        "{}",
        p.output()
    );
}

/// The docker CLI's own detach keys against rrund: `docker attach
/// --detach-keys` and `docker exec -it --detach-keys` end the client and
/// leave the container running (the daemon sees the keys and ends the
/// stream, as dockerd does).
#[test]
fn docker_cli_detach_keys_end_attach_and_exec() {
    let d = start();
    d.ok(&["run", "-dit", "--name", "dk", "busybox", "sh"]);
    let attach = ["attach", "--detach-keys", "ctrl-a,x", "dk"];
    docker_detaches(&d, &attach, b"echo dk-$((3+4))\n", "dk-7", b"\x01x");
    assert!(d.running("dk"));

    let exec = ["exec", "-it", "--detach-keys", "ctrl-b", "dk", "sh"];
    docker_detaches(&d, &exec, b"echo ex-$((5+5))\n", "ex-10", b"\x02");
    assert!(d.running("dk"));
    // The exec's shell was left, not ended: still among the processes.
    let ps = d.ok(&["exec", "dk", "ps", "-o", "args"]);
    assert!(ps.lines().filter(|l| l.trim() == "sh").count() >= 2, "{ps}");
}

#[test]
fn t_without_i_logs_the_terminal_as_stdout() {
    let d = start();
    let out = d.rrun(&[
        "run",
        "-t",
        "--name",
        "tt",
        "busybox",
        "sh",
        "-c",
        "echo hi; tty",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("hi\r\n/dev/pts/"), "{stdout:?}");
    assert_eq!(d.ok(&["logs", "tt"]), stdout);
}

#[test]
fn an_exec_survives_a_daemon_restart() {
    let mut d = start();
    d.sleeper("live");
    d.ok(&["exec", "-d", "live", "sleep", "4242"]);
    d.kill9();
    d.spawn();
    let ps = d.ok(&["exec", "live", "ps"]);
    assert!(ps.contains("sleep 4242"), "{ps}");
}

#[test]
fn the_docker_cli_execs() {
    let d = start();
    d.sleeper("dk");
    let docker_cmd = |args: &[&str], stdin: Option<&str>| d.docker(args, stdin);
    let out = docker_cmd(&["exec", "dk", "echo", "hi"], None);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stderr), d.log());
    assert_eq!(text(&out.stdout), "hi\n");
    let out = docker_cmd(&["exec", "dk", "sh", "-c", "echo e >&2; exit 3"], None);
    assert_eq!(code(&out), 3);
    assert_eq!(text(&out.stderr), "e\n");
    let out = docker_cmd(&["exec", "dk", "no-such-program"], None);
    assert_eq!(code(&out), 127, "{}", text(&out.stderr));
    let out = docker_cmd(&["exec", "-i", "dk", "cat"], Some("piped\n"));
    assert_eq!(text(&out.stdout), "piped\n");

    // docker exec -it on a terminal.
    let mut p = Pty::spawn(
        Path::new("/usr/bin/env"),
        &d.docker_argv(&["exec", "-it", "dk", "sh"]),
        24,
        80,
    );
    p.write(b"echo $((6*7))\n");
    p.expect("42");
    p.write(b"exit 3\n");
    assert_eq!(p.wait(), 3, "{}", p.output());
    drop(p);

    // docker run -it: a container's terminal, sized from the client's.
    let args = d.docker_argv(&["run", "-it", "--rm", "busybox", "sh"]);
    let mut p = Pty::spawn(Path::new("/usr/bin/env"), &args, 33, 77);
    p.write(b"echo $((6*7))\n");
    p.expect("42");
    expect_size(&p, "33 77");
    p.write(b"exit 4\n");
    assert_eq!(p.wait(), 4, "{}", p.output());
}

/// Kills the daemon listening on `socket` (found through SO_PEERCRED).
struct KillListener(PathBuf);

impl Drop for KillListener {
    fn drop(&mut self) {
        let Ok(s) = std::os::unix::net::UnixStream::connect(&self.0) else {
            return;
        };
        let Ok(cred) = nix::sys::socket::getsockopt(&s, nix::sys::socket::sockopt::PeerCredentials)
        else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(cred.pid());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while nix::sys::signal::kill(pid, None).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
}

#[test]
fn rrun_starts_a_daemon_when_none_answers() {
    let dir = tempfile::Builder::new()
        .prefix("rrun-autostart-")
        .tempdir()
        .unwrap();
    let socket = dir.path().join("rrun.sock");
    // The daemon starts inside a namespace of the test's own, so what it
    // sets up for networks stays off the host.
    let netns = TestNetns::new("autostart");
    let _guard = KillListener(socket.clone());
    let host = format!("unix://{}", socket.display());
    let data = dir.path().join("data");
    let env = [
        format!("RRUN_DATA_ROOT={}", data.display()),
        format!("RRUN_EXEC_ROOT={}", dir.path().join("exec").display()),
        format!(
            "RRUN_CONFIG_FILE={}",
            dir.path().join("daemon.json").display()
        ),
    ];
    let rrun = bin("rrun");
    let mut args: Vec<&str> = vec!["/usr/bin/env"];
    args.extend(env.iter().map(String::as_str));
    args.extend_from_slice(&[rrun.to_str().unwrap(), "-H", &host, "info"]);
    let out = netns.exec(60, &args);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("started") && err.contains("rrund"), "{err}");
    // The daemon uses the test's data root, and carries on answering.
    assert!(text(&out.stdout).contains(data.to_str().unwrap()));
    let out = netns.exec(60, &args);
    assert_eq!(code(&out), 0);
    assert!(
        !text(&out.stderr).contains("started"),
        "said once: {}",
        text(&out.stderr)
    );
}
