//! End-to-end tests of healthchecks (`--health-*`, the image's
//! `HEALTHCHECK`, `--no-healthcheck`): `State.Health` in inspect, the
//! `(healthy)` column and the `health` filter of ps, `health_status` events,
//! timeouts, checks that stop with the container and resume after a daemon
//! restart; through rrun and the real docker CLI. Each test runs its own
//! daemon (tests/common).

mod common;

use common::daemon::{inspect, Daemon};
use common::{images, run_timeout, text, wait_for};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

fn health(d: &Daemon, name: &str) -> Value {
    inspect(d, name)["State"]["Health"].clone()
}

/// Waits until the container's health status is `want`; returns `State.Health`.
fn wait_status(d: &Daemon, name: &str, want: &str) -> Value {
    wait_for(&format!("{name} to be {want}"), DEADLINE, || {
        let h = health(d, name);
        (h["Status"] == want).then_some(h)
    })
}

/// The container's events from `since` until now, one per line.
fn events(d: &Daemon, name: &str, since: i64) -> String {
    let until = (common::unix_now() + 1).to_string();
    d.ok(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until,
        "--filter",
        &format!("container={name}"),
    ])
}

/// Processes on the host whose command line holds both words.
fn processes_with(a: &str, b: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(a) && cmd.contains(b) {
            found.push(cmd);
        }
    }
    found
}

fn ps_names(d: &Daemon, filter: &str) -> Vec<String> {
    let out = d.ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn a_passing_check_makes_the_container_healthy() {
    let d = Daemon::start();
    d.load_busybox();
    let t0 = common::unix_now() - 1;
    let id = d
        .ok(&[
            "run",
            "-d",
            "--name",
            "ok",
            "--health-cmd",
            "echo hello; true",
            "--health-interval",
            "1s",
            "busybox",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    // A check whose first probe is an hour away stays `starting`.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "true",
        "--health-interval",
        "1h",
        "busybox",
        "sleep",
        "300",
    ]);
    d.ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "300"]);

    let slow = health(&d, "slow");
    assert_eq!(slow["Status"], "starting", "{slow}");
    assert_eq!(slow["FailingStreak"], 0, "{slow}");
    assert!(inspect(&d, "plain")["State"].get("Health").is_none());
    let cfg = &inspect(&d, "ok")["Config"]["Healthcheck"];
    assert_eq!(
        cfg["Test"],
        serde_json::json!(["CMD-SHELL", "echo hello; true"])
    );
    assert_eq!(cfg["Interval"], 1_000_000_000i64);

    let h = wait_status(&d, "ok", "healthy");
    assert_eq!(h["FailingStreak"], 0, "{h}");
    let last = &h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], 0, "{h}");
    assert_eq!(last["Output"], "hello\n", "{h}");
    assert!(last["Start"].as_str().unwrap() <= last["End"].as_str().unwrap());

    // ps: the column and the filter.
    let ps = d.ok(&["ps", "--format", "{{.Names}}\t{{.Status}}"]);
    let row = |n: &str| {
        ps.lines()
            .find(|l| l.starts_with(&format!("{n}\t")))
            .unwrap_or_else(|| panic!("{n} not in {ps}"))
            .to_string()
    };
    assert!(row("ok").ends_with("(healthy)"), "{ps}");
    assert!(row("slow").ends_with("(health: starting)"), "{ps}");
    assert!(!row("plain").contains('('), "{ps}");
    assert_eq!(ps_names(&d, "health=healthy"), ["ok"]);
    assert_eq!(ps_names(&d, "health=starting"), ["slow"]);
    assert_eq!(ps_names(&d, "health=none"), ["plain"]);
    assert!(ps_names(&d, "health=unhealthy").is_empty());

    let ev = events(&d, "ok", t0);
    assert!(ev.contains("health_status: healthy"), "{ev}");
    // `event=health_status` matches every health status, as Docker's.
    let until = (common::unix_now() + 1).to_string();
    let ev = d.ok(&[
        "events",
        "--since",
        &t0.to_string(),
        "--until",
        &until,
        "--filter",
        "event=health_status",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert_eq!(ev.trim(), "health_status: healthy ok", "{ev}");

    // The docker CLI reads the same.
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", "ok"])
            .trim(),
        "healthy"
    );
    let dps = d.docker_ok(&[
        "ps",
        "--filter",
        "health=healthy",
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    assert_eq!(dps.lines().count(), 1, "{dps}");
    assert!(
        dps.starts_with("ok Up ") && dps.trim().ends_with("(healthy)"),
        "{dps}"
    );

    // Paused: no checks, and unhealthy as Docker's; they resume after.
    d.docker_ok(&["pause", "ok"]);
    wait_status(&d, "ok", "unhealthy");
    let ps = d.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        ps.lines()
            .any(|l| l.starts_with("ok Up") && l.ends_with("(Paused)")),
        "{ps}"
    );
    d.docker_ok(&["unpause", "ok"]);
    wait_status(&d, "ok", "healthy");

    // Stop ends the checks (the monitor and any probe), and a stopped
    // check reads unhealthy, as Docker's.
    d.ok(&["stop", "-t", "1", "ok"]);
    wait_for("the monitor to end", DEADLINE, || {
        d.log()
            .lines()
            .any(|l| l.contains("health monitor ended") && l.contains(&id))
            .then_some(())
    });
    assert!(processes_with("exec-shim", &id).is_empty());
    let h = health(&d, "ok");
    assert_eq!(h["Status"], "unhealthy", "{h}");
    let probes = h["Log"].as_array().unwrap().len();

    // A start starts over (`starting`, unless its first probe already
    // passed on a slow machine), the log kept.
    d.ok(&["start", "ok"]);
    let h = health(&d, "ok");
    assert!(h["Status"] == "starting" || h["Status"] == "healthy", "{h}");
    assert!(h["Log"].as_array().unwrap().len() >= probes, "{h}");
    wait_status(&d, "ok", "healthy");
}

#[test]
fn failing_checks_become_unhealthy_after_their_retries() {
    let d = Daemon::start();
    d.load_busybox();
    let t0 = common::unix_now() - 1;
    d.ok(&[
        "run",
        "-d",
        "--name",
        "bad",
        "--health-cmd",
        "echo bad >&2; exit 3",
        "--health-interval",
        "300ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "300",
    ]);
    let h = wait_status(&d, "bad", "unhealthy");
    assert!(h["FailingStreak"].as_i64().unwrap() >= 2, "{h}");
    let log = h["Log"].as_array().unwrap();
    assert!(log.len() >= 2 && log.len() <= 5, "{h}");
    for r in log {
        assert_eq!(r["ExitCode"], 3, "{h}");
        assert_eq!(r["Output"], "bad\n", "{h}");
    }
    // The log keeps the last five.
    wait_for("five results", DEADLINE, || {
        (health(&d, "bad")["FailingStreak"].as_i64().unwrap() > 6).then_some(())
    });
    assert_eq!(health(&d, "bad")["Log"].as_array().unwrap().len(), 5);
    let ev = events(&d, "bad", t0);
    assert!(ev.contains("health_status: unhealthy"), "{ev}");
    assert!(!ev.contains("health_status: healthy"), "{ev}");
    let ps = d.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.trim().ends_with("(unhealthy)"), "{ps}");
    assert_eq!(ps_names(&d, "health=unhealthy"), ["bad"]);

    // In the start period failures do not count, and probes come every
    // start interval (the interval is the default 30 s); output is capped.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "young",
        "--health-cmd",
        "head -c 5000 /dev/zero | tr '\\0' x; exit 1",
        "--health-start-period",
        "1h",
        "--health-start-interval",
        "200ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    let h = wait_for("three probes in the start period", DEADLINE, || {
        let h = health(&d, "young");
        (h["Log"].as_array().map_or(0, Vec::len) >= 3).then_some(h)
    });
    assert_eq!(h["Status"], "starting", "{h}");
    assert_eq!(h["FailingStreak"], 0, "{h}");
    let out = h["Log"][0]["Output"].as_str().unwrap();
    assert_eq!(out.len(), 4096 + 3, "{out}");
    assert!(out.starts_with("xxx") && out.ends_with("x..."), "{out}");

    // A probe past its timeout is killed and fails with Docker's output.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "hung",
        "--health-cmd",
        "echo partial; sleep 30",
        "--health-interval",
        "300ms",
        "--health-timeout",
        "1s",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    let h = wait_status(&d, "hung", "unhealthy");
    let first = &h["Log"][0];
    assert_eq!(first["ExitCode"], -1, "{h}");
    assert_eq!(
        first["Output"], "Health check exceeded timeout (1s): partial\n",
        "{h}"
    );

    // The docker CLI's flags reach the daemon as Docker's.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "dfail",
        "--health-cmd",
        "false",
        "--health-interval",
        "300ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    wait_for("dfail to be unhealthy", DEADLINE, || {
        let s = d.docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", "dfail"]);
        (s.trim() == "unhealthy").then_some(())
    });
    let out = d.docker(
        &["run", "--no-healthcheck", "--health-cmd", "true", "busybox"],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--no-healthcheck conflicts with --health-* options"),
        "{}",
        text(&out.stderr)
    );
}

/// An image with a `HEALTHCHECK` (imported with `--change`).
fn image_with_check(d: &Daemon, name: &str, check: &str) {
    let rootfs = d.dir.path().join("rootfs.tar");
    let out = run_timeout(
        60,
        Path::new("/bin/tar"),
        &[
            "-C",
            images().join("busybox/rootfs").to_str().unwrap(),
            "-cf",
            rootfs.to_str().unwrap(),
            ".",
        ],
        None,
    );
    assert!(out.status.success(), "tar: {}", text(&out.stderr));
    d.ok(&[
        "import",
        "--change",
        check,
        "--change",
        r#"CMD ["sleep", "300"]"#,
        rootfs.to_str().unwrap(),
        name,
    ]);
}

#[test]
fn the_images_check_applies_unless_overridden() {
    let d = Daemon::start();
    image_with_check(
        &d,
        "checked:1",
        "HEALTHCHECK --interval=300ms --retries=1 CMD false",
    );
    d.ok(&["run", "-d", "--name", "img", "checked:1"]);
    let h = wait_status(&d, "img", "unhealthy");
    assert_eq!(h["Log"][0]["ExitCode"], 1, "{h}");
    let cfg = &inspect(&d, "img")["Config"]["Healthcheck"];
    assert_eq!(cfg["Test"], serde_json::json!(["CMD-SHELL", "false"]));

    // --no-healthcheck: no check at all.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "off",
        "--no-healthcheck",
        "checked:1",
    ]);
    let v = inspect(&d, "off");
    assert_eq!(
        v["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["NONE"])
    );
    assert!(v["State"].get("Health").is_none(), "{v}");
    assert_eq!(ps_names(&d, "health=none"), ["off"]);

    // `commit --change HEALTHCHECK` (the docker CLI's) gives a new image
    // a check of its own.
    d.docker_ok(&[
        "commit",
        "--change",
        "HEALTHCHECK --interval=300ms CMD echo committed",
        "off",
        "checked:2",
    ]);
    d.ok(&["run", "-d", "--name", "committed", "checked:2"]);
    let h = wait_status(&d, "committed", "healthy");
    assert_eq!(h["Log"][0]["Output"], "committed\n", "{h}");

    // --health-cmd replaces the image's test and keeps its interval.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "mine",
        "--health-cmd",
        "true",
        "checked:1",
    ]);
    let cfg = &inspect(&d, "mine")["Config"]["Healthcheck"];
    assert_eq!(cfg["Test"], serde_json::json!(["CMD-SHELL", "true"]));
    assert_eq!(cfg["Interval"], 300_000_000);
    wait_status(&d, "mine", "healthy");
    let ps = d.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        !ps.lines().any(|l| l.starts_with("off ") && l.contains('(')),
        "{ps}"
    );
}

#[test]
fn checks_resume_after_a_daemon_restart() {
    let mut d = Daemon::start();
    d.load_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "steady",
        "--health-cmd",
        "true",
        "--health-interval",
        "300ms",
        "busybox",
        "sleep",
        "300",
    ]);
    let h = wait_status(&d, "steady", "healthy");
    let before = h["Log"].as_array().unwrap().last().unwrap()["End"]
        .as_str()
        .unwrap()
        .to_string();

    d.kill9();
    d.spawn();
    // The status was saved with the container; the checks go on.
    assert_eq!(health(&d, "steady")["Status"], "healthy");
    wait_for("a probe by the new daemon", DEADLINE, || {
        let h = health(&d, "steady");
        let log = h["Log"].as_array()?.clone();
        log.iter()
            .any(|r| r["Start"].as_str().unwrap_or("") > before.as_str() && r["ExitCode"] == 0)
            .then_some(())
    });
    assert!(
        d.log().matches("health monitor started").count() >= 2,
        "{}",
        d.log()
    );
}
