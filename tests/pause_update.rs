//! `docker pause`/`unpause` and `docker update` against rrund, through the
//! docker CLI: the freezer really stops the processes, a paused container
//! refuses exec and still stops and is removed; an update changes the
//! running container's cgroup and what inspect says.

mod common;

use common::daemon::{inspect, Daemon};
use common::{text, wait_for};
use std::time::Duration;

/// The container's init's state letter in /proc (`S`, `R`, `D`…).
fn cgroup_frozen(pid: i64) -> bool {
    // cgroup v1 freezer or v2's cgroup.freeze, whichever holds the task.
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    cg.lines().any(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrl, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let state = if ctrl == "freezer" {
            std::fs::read_to_string(format!("/sys/fs/cgroup/freezer{path}/freezer.state"))
                .map(|s| s.trim() == "FROZEN")
        } else if ctrl.is_empty() {
            std::fs::read_to_string(format!("/sys/fs/cgroup{path}/cgroup.freeze"))
                .map(|s| s.trim() == "1")
        } else {
            Ok(false)
        };
        state.unwrap_or(false)
    })
}

#[test]
fn pause_unpause_stop_and_remove() {
    let d = Daemon::start();
    d.load_busybox();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "frozen",
        "busybox",
        "sh",
        "-c",
        "while true; do date +%s%N > /tmp/tick; sleep 0.05; done",
    ]);
    d.docker_ok(&["pause", "frozen"]);
    let v = inspect(&d, "frozen");
    assert_eq!(v["State"]["Status"], "paused", "{v}");
    assert_eq!(v["State"]["Paused"], true);
    assert_eq!(v["State"]["Running"], true);
    let pid = v["State"]["Pid"].as_i64().unwrap();
    assert!(cgroup_frozen(pid), "the init's cgroup is not frozen");
    let ps = d.docker_ok(&[
        "ps",
        "--filter",
        "status=paused",
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    assert!(
        ps.starts_with("frozen Up") && ps.trim_end().ends_with("(Paused)"),
        "{ps}"
    );
    // Refusals with Docker's words.
    let again = d.docker(&["pause", "frozen"], None);
    assert!(
        text(&again.stderr).contains("is already paused"),
        "{}",
        text(&again.stderr)
    );
    let exec = d.docker(&["exec", "frozen", "true"], None);
    assert!(!exec.status.success());
    assert!(
        text(&exec.stderr).contains("is paused, unpause the container before exec"),
        "{}",
        text(&exec.stderr)
    );
    d.docker_ok(&["unpause", "frozen"]);
    assert!(!cgroup_frozen(pid));
    assert_eq!(inspect(&d, "frozen")["State"]["Status"], "running");
    let out = d.docker(&["unpause", "frozen"], None);
    assert!(
        text(&out.stderr).contains("is not paused"),
        "{}",
        text(&out.stderr)
    );
    // Ticking again once thawed.
    d.docker_ok(&["exec", "frozen", "cat", "/tmp/tick"]);
    // A paused container still stops, and is removed by force.
    d.docker_ok(&["pause", "frozen"]);
    d.docker_ok(&["stop", "-t", "1", "frozen"]);
    assert_eq!(inspect(&d, "frozen")["State"]["Status"], "exited");
    d.docker_ok(&["start", "frozen"]);
    d.docker_ok(&["pause", "frozen"]);
    let id = inspect(&d, "frozen")["Id"].as_str().unwrap().to_string();
    let pid = inspect(&d, "frozen")["State"]["Pid"].as_i64().unwrap();
    d.docker_ok(&["rm", "-f", "frozen"]);
    wait_for("frozen to be gone", Duration::from_secs(10), || {
        (!d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"])
            .contains("frozen"))
        .then_some(())
    });
    // Thawed to die, and its cgroups gone: /sys/fs/cgroup/rrun/<id> on
    // v2, in every hierarchy on v1.
    wait_for(
        "the paused container's process and cgroups to go",
        Duration::from_secs(10),
        || {
            let mut dirs = vec![std::path::Path::new("/sys/fs/cgroup/rrun").join(&id)];
            for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
                dirs.push(h.path().join("rrun").join(&id));
            }
            let gone = !std::path::Path::new(&format!("/proc/{pid}")).exists()
                && !dirs.iter().any(|d| d.exists());
            gone.then_some(())
        },
    );
}

/// The container's memory limit as its cgroup has it (v1 or v2).
fn memory_limit(pid: i64) -> Option<u64> {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    cg.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrl, path) = (parts.next()?, parts.next()?, parts.next()?);
        let file = if ctrl.split(',').any(|c| c == "memory") {
            format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")
        } else if ctrl.is_empty() {
            format!("/sys/fs/cgroup{path}/memory.max")
        } else {
            return None;
        };
        std::fs::read_to_string(file).ok()?.trim().parse().ok()
    })
}

#[test]
fn update_changes_the_running_cgroup_and_the_record() {
    let d = Daemon::start();
    d.load_busybox();
    d.docker_ok(&[
        "run", "-d", "--name", "upd", "-m", "64m", "busybox", "sleep", "300",
    ]);
    let pid = inspect(&d, "upd")["State"]["Pid"].as_i64().unwrap();
    assert_eq!(memory_limit(pid), Some(64 << 20));
    d.docker_ok(&[
        "update",
        "-m",
        "128m",
        "--memory-swap",
        "256m",
        "--pids-limit",
        "50",
        "--restart",
        "on-failure:3",
        "upd",
    ]);
    assert_eq!(memory_limit(pid), Some(128 << 20));
    let v = inspect(&d, "upd");
    assert_eq!(v["HostConfig"]["Memory"], 128 << 20);
    assert_eq!(v["HostConfig"]["PidsLimit"], 50);
    assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(v["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
    // Bad values: refused with Docker's words, nothing changed.
    let bad = d.docker(&["update", "-m", "1m", "upd"], None);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("Minimum memory limit allowed is 6MB"),
        "{}",
        text(&bad.stderr)
    );
    assert_eq!(memory_limit(pid), Some(128 << 20));
    assert_eq!(inspect(&d, "upd")["HostConfig"]["Memory"], 128 << 20);
    // A stopped container's record changes; the next start uses it.
    d.docker_ok(&["stop", "-t", "1", "upd"]);
    d.docker_ok(&["update", "-m", "96m", "upd"]);
    d.docker_ok(&["start", "upd"]);
    let pid = inspect(&d, "upd")["State"]["Pid"].as_i64().unwrap();
    assert_eq!(memory_limit(pid), Some(96 << 20));
}
