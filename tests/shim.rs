//! A running container's shim is `rrun-shim` (issue 18): rrund's shim
//! creates and starts the container with the executor in-process, then
//! replaces itself with the small binary, which logs the output, serves
//! exec and stdin, and records the exit; rrund runs again in the same
//! process at the end to delete the container from the executor. Without
//! `rrun-shim` beside rrund the shim does all of it itself.

mod common;

use common::daemon::{inspect, Daemon};
use common::{bin, leftovers, wait_for};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file name of what `pid` runs, and its argv.
/// The program `pid` runs and its argv. The daemon starts shims from a
/// detached read-only bind of its binary, whose /proc/<pid>/exe reads "/":
/// such a program is named by its argv[0] (rrund's path), marked so.
fn exe_and_args(pid: i32) -> (String, Vec<String>) {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let base = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let name = if exe == Path::new("/") {
        let argv0 = args.first().map(PathBuf::from).unwrap_or_default();
        format!("{} (read-only bind)", base(&argv0))
    } else {
        base(&exe)
    };
    (name, args)
}

/// Whether `path` is a mount point now.
fn mounted(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let p = path.to_string_lossy();
    mounts.lines().any(|l| l.split(' ').nth(4) == Some(&*p))
}

/// A container that writes a line to each stream, then waits for a file
/// that `exec` makes and exits 7.
const WAITER: [&str; 6] = [
    "run",
    "-d",
    "busybox",
    "sh",
    "-c",
    "echo out; echo err >&2; while [ ! -f /tmp/go ]; do sleep 0.05; done; exit 7",
];

/// Runs WAITER, lets it end through `exec`, and checks what a user sees:
/// both lines in the log, exit code 7, and the executor's state, the
/// rootfs mount and the shim gone once it shows exited. Returns the shim's
/// program name while the container ran. With `restart`, rrund is killed
/// and started again while the container runs.
fn run_and_end(d: &mut Daemon, restart: bool) -> String {
    d.load_busybox();
    let id = d.ok(&WAITER).trim().to_string();
    wait_for("both lines in the log", Duration::from_secs(10), || {
        let out = d.rrun(&["logs", &id]);
        (common::text(&out.stdout).contains("out") && common::text(&out.stderr).contains("err"))
            .then_some(())
    });
    let shim = d.shim_pid(&id);
    let (name, args) = exe_and_args(shim);
    if name.ends_with("(read-only bind)") {
        // What lets the shim fork its container's init without executing
        // a sealed copy first (CVE-2019-5736): its binary is on a
        // read-only mount, so no write reaches it through /proc/<pid>/exe,
        // even once it no longer runs (while it runs, ETXTBSY).
        use std::os::fd::AsRawFd;
        let exe = std::fs::File::open(format!("/proc/{shim}/exe")).unwrap();
        // SAFETY: fstatvfs fills the struct for an fd we hold.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::fstatvfs(exe.as_raw_fd(), &mut st) }, 0);
        assert_ne!(
            st.f_flag & libc::ST_RDONLY,
            0,
            "the shim's binary is writable"
        );
    }
    assert_eq!(args.get(1).map(String::as_str), Some("shim"), "{args:?}");
    assert_eq!(args.get(2), Some(&id), "{args:?}");
    if restart {
        d.kill9();
        d.spawn();
        assert_eq!(inspect(d, &id)["State"]["Status"], "running");
    }
    d.ok(&["exec", &id, "touch", "/tmp/go"]);
    let s = wait_for("the container to exit", Duration::from_secs(20), || {
        let s = inspect(d, &id);
        (s["State"]["Status"] == "exited").then_some(s)
    });
    assert_eq!(s["State"]["ExitCode"], 7, "{:#}", s["State"]);
    wait_for("the shim to be gone", Duration::from_secs(10), || {
        (!Path::new(&format!("/proc/{shim}")).exists()).then_some(())
    });
    let dir = d.data_root().join("containers").join(&id);
    assert!(!mounted(&dir.join("rootfs")), "the rootfs is still mounted");
    assert!(
        !d.exec_root().join(&id).exists(),
        "the executor still knows the container"
    );
    d.ok(&["rm", &id]);
    let left = leftovers::settled(|| leftovers::of_container(d, &id));
    assert!(left.is_empty(), "left after rm: {left:#?}");
    name
}

#[test]
fn a_running_container_is_watched_by_rrun_shim() {
    let mut d = Daemon::start();
    assert_eq!(run_and_end(&mut d, false), "rrun-shim");
}

#[test]
fn rrun_shim_outlives_a_killed_daemon() {
    let mut d = Daemon::start();
    assert_eq!(run_and_end(&mut d, true), "rrun-shim");
}

/// A `sleep 300` run with `flags`, once its shim is `rrun-shim`: its id
/// and the shim's pid.
fn watched_by_rrun_shim(d: &Daemon, flags: &[&str]) -> (String, i32) {
    d.load_busybox();
    let args: Vec<&str> = ["run", "-d"]
        .iter()
        .chain(flags)
        .chain(&["busybox", "sleep", "300"])
        .copied()
        .collect();
    let id = d.ok(&args).trim().to_string();
    let shim = d.shim_pid(&id);
    // The shim becomes rrun-shim once the container has run a few
    // milliseconds (a quick exit is recorded without it).
    wait_for(
        "the shim to become rrun-shim",
        Duration::from_secs(10),
        || (exe_and_args(shim).0 == "rrun-shim").then_some(()),
    );
    (id, shim)
}

#[test]
fn rrun_shim_holds_nothing_of_rrund() {
    let d = Daemon::start();
    let (id, shim) = watched_by_rrun_shim(&d, &["-t"]);
    let maps = std::fs::read_to_string(format!("/proc/{shim}/maps")).unwrap();
    // By inode: a mapping of the read-only bind names "/", not the path.
    let rrund = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(bin("rrund")).unwrap());
    assert!(
        !maps
            .lines()
            .any(|l| l.split_whitespace().nth(4) == Some(&*rrund.to_string())),
        "rrund is still mapped in the shim:\n{maps}"
    );
    d.ok(&["rm", "-f", &id]);
}

/// The container's mount namespace goes with the shim's fd, after its
/// exit is recorded, not inside the init's exit (where the kernel's
/// teardown delayed the exit's report by a millisecond or more).
#[test]
fn the_shim_holds_the_containers_mount_namespace() {
    let d = Daemon::start();
    let (id, shim) = watched_by_rrun_shim(&d, &[]);
    let init = d.ok(&["inspect", "-f", "{{.State.Pid}}", &id]);
    let ns = std::fs::read_link(format!("/proc/{}/ns/mnt", init.trim())).unwrap();
    let host = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_ne!(ns, host, "the container has a mount namespace of its own");
    let held: Vec<PathBuf> = std::fs::read_dir(format!("/proc/{shim}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .collect();
    assert!(
        held.contains(&ns),
        "the shim does not hold {}: {held:?}",
        ns.display()
    );
    d.ok(&["rm", "-f", &id]);
}

/// rrund and rrun-oci linked into a directory of their own, without
/// rrun-shim.
fn binaries_without_rrun_shim(dir: &Path) -> PathBuf {
    for b in ["rrund", "rrun-oci"] {
        let to = dir.join(b);
        if std::fs::hard_link(bin(b), &to).is_err() {
            std::fs::copy(bin(b), &to).unwrap();
        }
    }
    dir.join("rrund")
}

#[test]
fn without_rrun_shim_the_shim_does_it_all_itself() {
    let bins = tempfile::tempdir().unwrap();
    let mut d = Daemon::start_from(binaries_without_rrun_shim(bins.path()));
    assert_eq!(run_and_end(&mut d, false), "rrund (read-only bind)");
}

/// The spare shims of the daemon whose pid is `daemon`: its children
/// waiting with `shim::spare::MARK` where a shim has its container's id.
fn spares_of(daemon: u32) -> Vec<i32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, r)| r.split(' ').nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(daemon)
            && exe_and_args(pid)
                .1
                .get(2)
                .is_some_and(|a| a.starts_with("spare--"))
        {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_start_takes_the_spare_shim_which_becomes_the_containers_and_another_waits() {
    // Without rrun-shim, the shim stays rrund: its command line is the
    // one a spare rewrites.
    let bins = tempfile::tempdir().unwrap();
    let mut d = Daemon::start_from(binaries_without_rrun_shim(bins.path()));
    d.load_busybox();
    let daemon = d.pid().unwrap();
    let first = d
        .ok(&["run", "-d", "busybox", "sleep", "300"])
        .trim()
        .to_string();
    let spare = wait_for("a spare shim", Duration::from_secs(10), || {
        let s = spares_of(daemon);
        (s.len() == 1).then(|| s[0])
    });
    assert_ne!(d.shim_pid(&first), spare);
    let second = d
        .ok(&["run", "-d", "busybox", "sleep", "300"])
        .trim()
        .to_string();
    assert_eq!(
        d.shim_pid(&second),
        spare,
        "the start did not take the spare"
    );
    let (_, args) = exe_and_args(spare);
    assert_eq!(args.get(1).map(String::as_str), Some("shim"), "{args:?}");
    assert_eq!(args.get(2), Some(&second), "{args:?}");
    assert!(
        std::fs::read_to_string(
            d.data_root()
                .join("containers")
                .join(&second)
                .join("shim.pid")
        )
        .unwrap()
        .trim()
            == spare.to_string()
    );
    let next = wait_for("another spare", Duration::from_secs(10), || {
        let s = spares_of(daemon);
        (s.len() == 1 && s[0] != spare).then(|| s[0])
    });
    // The container runs and logs as any.
    assert_eq!(inspect(&d, &second)["State"]["Status"], "running");
    d.ok(&["rm", "-f", &first, &second]);
    // A spare goes with its daemon (its pipe from the daemon ends).
    d.stop();
    wait_for("the spare to exit", Duration::from_secs(10), || {
        let state = std::fs::read_to_string(format!("/proc/{next}/stat")).unwrap_or_default();
        (state.is_empty() || state.contains(") Z ")).then_some(())
    });
}
