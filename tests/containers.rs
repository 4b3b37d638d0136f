//! The containers service end to end: names are unique under concurrent
//! creates and renames (issue 12's race), and a start that fails at any step
//! leaves nothing behind.

mod common;

use common::daemon::{http, Daemon};
use common::text;
use std::sync::{Arc, Barrier};

/// Runs `f(i)` on `n` threads released at once; returns their results.
fn all_at_once<T: Send + 'static>(
    n: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(n));
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, f) = (barrier.clone(), f.clone());
            std::thread::spawn(move || {
                barrier.wait();
                f(i)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn concurrent_creates_of_one_name_give_one_container() {
    let d = Arc::new(Daemon::start());
    d.load_busybox();
    for round in 0..5 {
        let name = format!("race{round}");
        let d2 = d.clone();
        let n2 = name.clone();
        let outs = all_at_once(20, move |_| {
            d2.rrun(&["create", "--name", &n2, "busybox", "true"])
        });
        let won = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(won, 1, "round {round}: {won} creates of one name succeeded");
        for o in outs.iter().filter(|o| !o.status.success()) {
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(125), "{err}");
            assert!(
                err.contains(&format!("The container name \"/{name}\" is already in use")),
                "{err}"
            );
        }
        let names = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
        assert_eq!(names.lines().filter(|n| *n == name).count(), 1, "{names}");
    }
    // A name given back by a failed create can be taken again.
    let bad = d.rrun(&[
        "create",
        "--name",
        "later",
        "--cap-add",
        "NOPE",
        "busybox",
        "true",
    ]);
    assert!(!bad.status.success());
    d.ok(&["create", "--name", "later", "busybox", "true"]);
}

#[test]
fn concurrent_renames_onto_one_name_give_one_winner() {
    let d = Arc::new(Daemon::start());
    d.load_busybox();
    let ids: Vec<String> = (0..20)
        .map(|i| {
            d.ok(&["create", "--name", &format!("src{i}"), "busybox", "true"])
                .trim()
                .to_string()
        })
        .collect();
    let socket = d.socket();
    let ids2 = ids.clone();
    let codes = all_at_once(20, move |i| {
        http(
            &socket,
            "POST",
            &format!("/v1.41/containers/{}/rename?name=dst", ids2[i]),
        )
        .map(|(code, _)| code)
    });
    let won = codes.iter().filter(|c| **c == Some(204)).count();
    let conflicts = codes.iter().filter(|c| **c == Some(409)).count();
    assert_eq!((won, conflicts), (1, 19), "{codes:?}");
    let names = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(names.lines().filter(|n| *n == "dst").count(), 1, "{names}");
    assert_eq!(names.lines().count(), 20, "{names}");
    // The loser's old names stay theirs, and the winner's old name is free.
    let winner_old = (0..20)
        .find(|i| !names.lines().any(|n| n == format!("src{i}")))
        .expect("one container left its old name");
    d.ok(&[
        "create",
        "--name",
        &format!("src{winner_old}"),
        "busybox",
        "true",
    ]);
}

/// What a failed start of container `id` must not leave behind.
fn assert_nothing_left(d: &Daemon, id: &str, net: &str, step: &str) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let left: Vec<&str> = mounts.lines().filter(|l| l.contains(id)).collect();
    assert!(left.is_empty(), "after {step}: mounts left: {left:#?}");
    // The veth pair goes with the container's network namespace, which
    // the kernel removes a moment after the mount and the last process.
    let veths = common::leftovers::settled(|| {
        let out = d
            .net
            .exec(10, &["ip", "-o", "link", "show", "type", "veth"]);
        text(&out.stdout).lines().map(String::from).collect()
    });
    assert!(veths.is_empty(), "after {step}: veths left: {veths:#?}");
    let rules = d.net.exec(10, &["nft", "list", "ruleset"]);
    let dnat = ["dnat to", "dnat ip to", "dnat ip6 to"];
    assert!(
        !dnat.iter().any(|r| text(&rules.stdout).contains(r)),
        "after {step}: a published port's rule is left:\n{}",
        text(&rules.stdout)
    );
    let netinfo = common::daemon::inspect_network(d, net);
    assert_eq!(
        netinfo["Containers"],
        serde_json::json!({}),
        "after {step}: lease left"
    );
    for left in [d.exec_root().join("netns").join(id), d.exec_root().join(id)] {
        assert!(!left.exists(), "after {step}: {} left", left.display());
    }
    for ctl in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let cg = ctl.path().join("rrun").join(id);
        assert!(!cg.exists(), "after {step}: cgroup {} left", cg.display());
    }
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains(id),
            "after {step}: process {} of the container left",
            p.path().display()
        );
    }
    let state = common::daemon::inspect(d, id);
    assert_eq!(state["State"]["Status"], "created", "after {step}");
    assert_eq!(state["State"]["Running"], false, "after {step}");
}

#[test]
fn a_start_that_fails_at_any_step_leaves_nothing() {
    let mut d = Daemon::start();
    d.load_busybox();
    let net = common::unique("undo");
    d.ok(&["network", "create", &net]);
    let (va, vb) = (common::unique("va"), common::unique("vb"));
    let id = d
        .ok(&[
            "create",
            "--network",
            &net,
            "-p",
            "127.0.0.1::80",
            "-v",
            &format!("{va}:/a"),
            "-v",
            &format!("{vb}:/b"),
            "busybox",
            "sleep",
            "60",
        ])
        .trim()
        .to_string();
    for step in ["rootfs", "volume:0", "volume:1", "network", "files", "shim"] {
        d.kill9();
        d.extra_args = vec!["--fail-start-at".into(), step.into()];
        d.spawn();
        let out = d.rrun(&["start", &id]);
        assert!(
            !out.status.success(),
            "start with a failure after {step} succeeded"
        );
        let err = text(&out.stderr);
        assert!(err.contains(&format!("after step {step}")), "{err}");
        assert_nothing_left(&d, &id, &net, step);
    }
    // A bad option is found by the plan, before the first step: with the
    // daemon failing every start after its first step, the user's error is
    // what comes back, and nothing was made.
    d.kill9();
    d.extra_args = vec!["--fail-start-at".into(), "rootfs".into()];
    d.spawn();
    let bad = d
        .ok(&[
            "create",
            "--network",
            &net,
            "-p",
            "127.0.0.1::80",
            "-u",
            "nosuchuser",
            "busybox",
            "true",
        ])
        .trim()
        .to_string();
    let err = text(&d.rrun(&["start", &bad]).stderr);
    assert!(err.contains("unable to find user nosuchuser"), "{err}");
    assert_nothing_left(&d, &bad, &net, "a bad user");
    d.ok(&["rm", &bad]);
    d.kill9();
    d.extra_args.clear();
    d.spawn();
    // Then the same container starts cleanly: nothing half-made was in its way.
    d.ok(&["start", &id]);
    let state = common::daemon::inspect(&d, &id);
    assert_eq!(state["State"]["Running"], true);
    // What the checks above look for is there while it runs.
    let rules = text(&d.net.exec(10, &["nft", "list", "ruleset"]).stdout);
    assert!(rules.contains("dnat ip to"), "{rules}");
    let veths = d
        .net
        .exec(10, &["ip", "-o", "link", "show", "type", "veth"]);
    assert_ne!(text(&veths.stdout).trim(), "");
    assert!(std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(&id));
    d.ok(&["rm", "-f", &id]);
    d.ok(&["network", "rm", &net]);
}

/// A directory mounted onto a file, the image's symlink to a file
/// included (busybox's /linuxrc -> bin/busybox), or a file onto a
/// directory: one line naming both ends with runc's hint, exit 125, and
/// no container left behind by `run --rm`.
#[test]
fn a_mount_of_the_wrong_type_says_so() {
    let d = Daemon::start();
    d.load_busybox();
    let vol = common::unique("wrongtype");
    for (spec, src, dest) in [
        (format!("{vol}:/linuxrc"), "_data", "/linuxrc"),
        ("/etc/hostname:/bin".to_string(), "/etc/hostname", "/bin"),
    ] {
        let out = d.rrun(&["run", "--rm", "-v", &spec, "busybox", "true"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{spec}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{spec}: {err}");
        assert!(
            err.contains(src) && err.contains(&format!("to rootfs at \"{dest}\"")),
            "{spec}: {err}"
        );
        assert!(
            err.contains("Are you trying to mount a directory onto a file (or vice-versa)?"),
            "{spec}: {err}"
        );
        assert_eq!(
            d.ok(&["ps", "-aq"]).trim(),
            "",
            "{spec}: a container was left"
        );
    }
    d.ok(&["volume", "rm", &vol]);
}

/// `rm -f`, `kill` and `stop` of several containers send their requests at
/// once, as Docker's CLI does, yet print in the order given: each name that
/// went, an error line for each that did not, and exit 1 if any failed.
#[test]
fn several_names_at_once_answer_in_their_order() {
    let d = Daemon::start();
    d.load_busybox();
    let names: Vec<String> = (0..6).map(|i| format!("many{i}")).collect();
    for n in &names {
        d.ok(&["run", "-d", "--name", n, "busybox", "sleep", "1000"]);
    }
    let out = d.rrun(&["kill", "many0", "many1", "nosuch"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "many0\nmany1\n");
    assert!(
        text(&out.stderr).contains("No such container: nosuch"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(d.ok(&["wait", "many0"]).trim(), "137");
    // A sleeping pid 1 ignores SIGTERM: both are killed after the timeout.
    assert_eq!(
        d.ok(&["stop", "-t", "1", "many3", "many2"]),
        "many3\nmany2\n"
    );
    for n in ["many2", "many3"] {
        assert_eq!(
            d.ok(&["inspect", "-f", "{{.State.ExitCode}}", n]).trim(),
            "137"
        );
    }
    let mut args = vec!["rm", "-f", "many5", "gone", "many4"];
    args.extend(names[..4].iter().map(String::as_str));
    let out = d.rrun(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "many5\nmany4\nmany0\nmany1\nmany2\nmany3\n"
    );
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("No such container: gone"), "{err}");
    let left = d.ok(&["ps", "-aq"]);
    assert!(left.trim().is_empty(), "left: {left}");
    assert!(common::host_mounts_containing(d.data_root().to_str().unwrap()).is_empty());
}
