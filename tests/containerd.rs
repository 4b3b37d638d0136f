//! rrun-oci as the runtime of Debian's containerd (1.6): its
//! io.containerd.runc.v2 shim runs rrun-oci as its runc binary
//! (`ctr run --runc-binary`). Each test starts a containerd of its own (root,
//! state, sockets in a temporary directory, in a network namespace of its
//! own), imports the test busybox image from an OCI archive, and removes
//! everything it made.

mod common;

use common::callers::{self, Containerd};
use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const IMAGE: &str = "docker.io/library/busybox:latest";

fn start() -> Containerd {
    let c = Containerd::start(&unique("rrun-test-"), "");
    c.import(
        &callers::busybox_oci_archive(c.dir.path()),
        "docker.io/library/busybox",
    );
    c
}

/// A task's status as `ctr task ls` shows it (RUNNING, PAUSED, STOPPED).
fn task_status(c: &Containerd, id: &str) -> String {
    c.ok(&["task", "ls"])
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("")
        .to_string()
}

/// The runtime's state root the shim gives rrun-oci for our namespace.
fn runtime_root(c: &Containerd) -> PathBuf {
    Path::new("/run/containerd/runc").join(&c.ns)
}

fn oci_bin() -> String {
    bin("rrun-oci").to_str().unwrap().to_string()
}

#[test]
fn ctr_runs_a_task_with_rrun_oci_through_the_runc_v2_shim() {
    let c = start();
    let oci = oci_bin();
    // Run to completion: output and exit status come back through the shim.
    let out = c.ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        &oci,
        IMAGE,
        &unique("once"),
        "sh",
        "-c",
        "echo out; exit 3",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        text(&out.stderr),
        c.log_tail()
    );
    assert_eq!(text(&out.stdout).trim(), "out");

    // Detached, then exec, pause, resume, kill, delete.
    let id = unique("task");
    c.ok(&[
        "run",
        "-d",
        "--runc-binary",
        &oci,
        IMAGE,
        &id,
        "sleep",
        "300",
    ]);
    assert_eq!(task_status(&c, &id), "RUNNING");
    let state = runtime_root(&c).join(&id).join("state.json");
    assert!(
        state.exists(),
        "rrun-oci's state not at {}",
        state.display()
    );
    let out = c.ok(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        &id,
        "sh",
        "-c",
        "echo from-exec; cat /proc/1/cmdline",
    ]);
    assert!(out.starts_with("from-exec\nsleep"), "{out}");

    c.ok(&["task", "pause", &id]);
    assert_eq!(task_status(&c, &id), "PAUSED");
    c.ok(&["task", "resume", &id]);
    assert_eq!(task_status(&c, &id), "RUNNING");

    // The shim's stats come from the cgroup rrun-oci made.
    let metrics = c.ok(&["task", "metrics", &id]);
    assert!(
        metrics.contains("pids.current") || metrics.contains("memory"),
        "{metrics}"
    );

    c.ok(&["task", "kill", "-s", "SIGKILL", &id]);
    wait_for("the task to stop", Duration::from_secs(20), || {
        (task_status(&c, &id) == "STOPPED").then_some(())
    });
    c.ok(&["task", "delete", &id]);
    c.ok(&["container", "delete", &id]);
    assert!(
        !state.exists(),
        "rrun-oci's state left at {}",
        state.display()
    );
    let cg = cgroup_dir("memory", &format!("/{}/{id}", c.ns));
    assert!(!cg.exists(), "cgroup left: {}", cg.display());
}

#[test]
fn ctr_reports_the_runtimes_error() {
    let c = start();
    // A program that is not in the image: create fails, and the message
    // the shim read from rrun-oci's log.json reaches ctr.
    let out = c.ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        &oci_bin(),
        IMAGE,
        &unique("bad"),
        "/no/such/program",
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("/no/such/program") && err.contains("no such file"),
        "{err}"
    );
    assert!(text(&c.ctr(&["task", "ls", "-q"]).stdout).trim().is_empty());
}
