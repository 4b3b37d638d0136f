//! Issue 17, crashes of the parts under the daemon: a container's shim
//! killed, its init killed, the shim killed in the middle of `create`
//! (which it runs in-process).
//! Each time the container shows exited (or never started) with Docker's
//! code, and `rm` leaves nothing of it on the host.

mod common;

use common::daemon::{inspect, Daemon};
use common::{leftovers, text, wait_for};
use std::path::Path;
use std::time::Duration;

fn sigkill(pid: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap_or_else(|e| panic!("kill -9 {pid}: {e}"));
}

fn wait_exited(d: &Daemon, id: &str) -> serde_json::Value {
    wait_for(
        "the container to show exited",
        Duration::from_secs(30),
        || {
            let s = inspect(d, id);
            (s["State"]["Status"] == "exited").then_some(s)
        },
    )
}

/// `rm` of `id`, then nothing of it may be left on the host.
fn rm_leaves_nothing(d: &Daemon, id: &str, what: &str) {
    d.ok(&["rm", "-f", id]);
    // A shim's own cleanup (`rrun-oci delete --force` after a failed
    // create) may still be finishing.
    let left = leftovers::settled(|| leftovers::of_container(d, id));
    assert!(left.is_empty(), "{what}: left after rm: {left:#?}");
}

/// `run` of a detached sleeper on `net` with a port published.
fn published_sleeper(net: &str) -> [&str; 9] {
    [
        "run",
        "-d",
        "--network",
        net,
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sleep",
        "300",
    ]
}

#[test]
fn a_killed_init_shows_exited_137_and_rm_leaves_nothing() {
    let d = Daemon::start();
    d.load_busybox();
    let id = d
        .ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "echo up; exec sleep 300",
        ])
        .trim()
        .to_string();
    let pid = inspect(&d, &id)["State"]["Pid"].as_i64().unwrap() as i32;
    assert!(pid > 0, "no pid for a running container");
    sigkill(pid);
    let s = wait_exited(&d, &id);
    assert_eq!(s["State"]["ExitCode"], 137, "{:#}", s["State"]);
    assert_eq!(s["State"]["Running"], false);
    // Its log is kept until it is removed.
    assert_eq!(d.logs(&id), "up\n");
    rm_leaves_nothing(&d, &id, "a killed init");
}

/// Docker: a killed containerd shim takes its container with it, and the
/// task's exit is reported as SIGKILL's (128 + 9).
#[test]
fn a_killed_shim_ends_its_container_with_137_and_rm_leaves_nothing() {
    let d = Daemon::start();
    d.load_busybox();
    let net = common::unique("cp");
    d.ok(&["network", "create", &net]);
    let id = d.ok(&published_sleeper(&net)).trim().to_string();
    let init = inspect(&d, &id)["State"]["Pid"].as_i64().unwrap() as i32;
    sigkill(d.shim_pid(&id));
    let s = wait_exited(&d, &id);
    assert_eq!(s["State"]["ExitCode"], 137, "{:#}", s["State"]);
    wait_for("the init to be gone", Duration::from_secs(10), || {
        (!Path::new(&format!("/proc/{init}")).exists()).then_some(())
    });
    rm_leaves_nothing(&d, &id, "a killed shim");
    let left = leftovers::settled(|| leftovers::of_daemon(&d, &[&net]));
    assert!(left.is_empty(), "a killed shim: left: {left:#?}");
    // The same name and port work again.
    d.ok(&["run", "--rm", "--network", &net, "busybox", "true"]);
}

/// The pid of a shim of the daemon whose data root is `root`: a process
/// `rrund shim <id> <root>/containers/<id> …`.
fn find_shim(root: &Path) -> Option<i32> {
    let dir = root.join("containers");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let ours = args.get(1) == Some(&&b"shim"[..])
            && args
                .get(3)
                .is_some_and(|a| Path::new(std::str::from_utf8(a).unwrap_or("")).starts_with(&dir));
        ours.then_some(pid)
    })
}

/// Kills the daemon's next shim `delay` after it appears (it creates the
/// container in-process: this is the executor killed in the middle of
/// `create`, or of `start`, or just after). Whether it killed one.
fn kill_next_shim(root: &Path, delay: Duration) -> std::thread::JoinHandle<bool> {
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Some(pid) = find_shim(&root) {
                std::thread::sleep(delay);
                return nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                )
                .is_ok();
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        false
    })
}

#[test]
fn a_shim_killed_during_create_fails_the_start_and_rm_leaves_nothing() {
    let d = Daemon::start();
    d.load_busybox();
    let net = common::unique("oc");
    d.ok(&["network", "create", &net]);
    let mut failed = 0;
    // From "at once" to "probably after the init was made".
    for ms in [0, 2, 5, 10, 20, 40] {
        let killer = kill_next_shim(&d.data_root(), Duration::from_millis(ms));
        let out = d.rrun(&published_sleeper(&net));
        assert!(killer.join().unwrap(), "{ms} ms: no shim was killed");
        let id = d.ok(&["ps", "-aq", "--no-trunc"]).trim().to_string();
        assert!(!id.is_empty(), "{ms} ms: the container is not listed");
        if out.status.success() {
            // Killed after it reported the container running: the
            // container goes with it, as with Docker's shim.
            let s = wait_exited(&d, &id);
            assert_eq!(s["State"]["ExitCode"], 137, "{ms} ms: {:#}", s["State"]);
        } else {
            failed += 1;
            let err = text(&out.stderr);
            assert_eq!(err.trim().lines().count(), 1, "{ms} ms: {err}");
            let s = inspect(&d, &id);
            assert_eq!(s["State"]["Running"], false, "{ms} ms");
            assert_ne!(s["State"]["ExitCode"], 0, "{ms} ms: {:#}", s["State"]);
        }
        rm_leaves_nothing(&d, &id, &format!("shim killed after {ms} ms"));
        let left = leftovers::settled(|| leftovers::of_daemon(&d, &[&net]));
        assert!(left.is_empty(), "{ms} ms: left: {left:#?}");
    }
    println!("the shim was killed before the container ran {failed} of 6 times");
    assert!(failed >= 2, "only {failed} kills landed before the start");
}
