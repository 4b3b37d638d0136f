//! Issue 17, crashes of the parts under the daemon: a container's shim
//! killed, its init killed, `rrun-oci` killed in the middle of `create`.
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

fn shim_pid(d: &Daemon, id: &str) -> i32 {
    let f = d.data_root().join("containers").join(id).join("shim.pid");
    std::fs::read_to_string(&f)
        .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        .trim()
        .parse()
        .unwrap()
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
    sigkill(shim_pid(&d, &id));
    let s = wait_exited(&d, &id);
    assert_eq!(s["State"]["ExitCode"], 137, "{:#}", s["State"]);
    wait_for("the init to be gone", Duration::from_secs(10), || {
        (!Path::new(&format!("/proc/{init}")).exists()).then_some(())
    });
    rm_leaves_nothing(&d, &id, "a killed shim");
    let left = leftovers::of_daemon(&d, &[&net]);
    assert!(left.is_empty(), "a killed shim: left: {left:#?}");
    // The same name and port work again.
    d.ok(&["run", "--rm", "--network", &net, "busybox", "true"]);
}

/// A wrapper runtime that SIGKILLs the real `rrun-oci create` after
/// `delay` (seconds, as sleep takes them) and fails as a killed process.
fn killing_wrapper(dir: &Path, delay: &str) -> std::path::PathBuf {
    let real = common::bin("rrun-oci");
    let path = dir.join(format!("oci-kill-{}", delay.replace('.', "_")));
    let script = format!(
        "#!/bin/sh\n\
         for a in \"$@\"; do [ \"$a\" = create ] && is_create=1; done\n\
         [ -z \"$is_create\" ] && exec {real} \"$@\"\n\
         {real} \"$@\" &\n\
         child=$!\n\
         sleep {delay}\n\
         kill -9 $child 2>/dev/null && echo killed >> {dir}/kills\n\
         wait $child\n\
         exit 137\n",
        real = real.display(),
        dir = dir.display(),
    );
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn rrun_oci_killed_during_create_fails_the_start_and_rm_leaves_nothing() {
    let mut d = Daemon::start();
    d.load_busybox();
    let net = common::unique("oc");
    d.ok(&["network", "create", &net]);
    let scratch = d.dir.path().join("wrappers");
    std::fs::create_dir_all(&scratch).unwrap();
    let mut killed = 0;
    // From "at once" to "probably after the init was made".
    for delay in ["0", "0.01", "0.03", "0.06", "0.1"] {
        d.kill9();
        let wrapper = killing_wrapper(&scratch, delay);
        d.extra_args = vec!["--oci-runtime".into(), wrapper.display().to_string()];
        d.spawn();
        let before = std::fs::read_to_string(scratch.join("kills")).unwrap_or_default();
        let out = d.rrun(&published_sleeper(&net));
        let after = std::fs::read_to_string(scratch.join("kills")).unwrap_or_default();
        let was_killed = after.len() > before.len();
        killed += was_killed as usize;
        let id = d.ok(&["ps", "-aq", "--no-trunc"]).trim().to_string();
        assert!(!id.is_empty(), "delay {delay}: the container is not listed");
        let s = inspect(&d, &id);
        if was_killed {
            assert!(
                !out.status.success(),
                "delay {delay}: run succeeded with create killed"
            );
            let err = text(&out.stderr);
            assert_eq!(err.trim().lines().count(), 1, "delay {delay}: {err}");
            assert_eq!(s["State"]["Running"], false, "delay {delay}");
            assert_ne!(s["State"]["ExitCode"], 0, "delay {delay}: {:#}", s["State"]);
        }
        rm_leaves_nothing(&d, &id, &format!("rrun-oci killed after {delay}s"));
        let left = leftovers::of_daemon(&d, &[&net]);
        assert!(left.is_empty(), "delay {delay}: left: {left:#?}");
    }
    println!("rrun-oci create killed mid-way {killed} of 5 times");
    assert!(killed >= 3, "the wrapper killed create only {killed} times");
}
