//! rrun-oci as the runtime of Debian's containerd (1.6): its
//! io.containerd.runc.v2 shim runs rrun-oci as its runc binary
//! (`ctr run --runc-binary`). Each test starts a containerd of its own (root,
//! state, sockets in a temporary directory, in a network namespace of its
//! own), imports the test busybox image from an OCI archive, and removes
//! everything it made.

mod common;

use common::callers;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const IMAGE: &str = "docker.io/library/busybox:latest";

/// A containerd of the test's own, in a namespace (containerd's) of its own.
struct Containerd {
    dir: tempfile::TempDir,
    child: Child,
    ns: String,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("rrun-containerd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        // The CRI plugin is off: these tests drive the task API with ctr.
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = "{d}/debug.sock"
"#,
            d = d.display()
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        // A network namespace of its own: nothing it does reaches the host's.
        let child = Command::new("unshare")
            .args(["--net", "--", "containerd", "--config"])
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start containerd (scripts/deps: containerd)");
        let c = Containerd {
            dir,
            child,
            ns: unique("rrun-test-"),
        };
        wait_for("containerd to answer", Duration::from_secs(30), || {
            c.ctr(&["version"]).status.success().then_some(())
        });
        c
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    fn ctr_in(&self, args: &[&str], secs: u64) -> Output {
        let sock = self.sock();
        let mut full = vec!["--address", sock.to_str().unwrap(), "-n", &self.ns];
        full.extend_from_slice(args);
        run_timeout(secs, Path::new("ctr"), &full, None)
    }

    fn ctr(&self, args: &[&str]) -> Output {
        self.ctr_in(args, 60)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {args:?} failed ({}): {}{}\ncontainerd log:\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr),
            self.log_tail()
        );
        text(&out.stdout)
    }

    fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The busybox test image, from an OCI archive of its layout.
    fn import_busybox(&self) {
        let tar = callers::busybox_oci_archive(self.dir.path());
        self.ok(&[
            "images",
            "import",
            "--base-name",
            "docker.io/library/busybox",
            tar.to_str().unwrap(),
        ]);
    }

    /// A task's status as `ctr task ls` shows it (RUNNING, PAUSED, STOPPED).
    fn task_status(&self, id: &str) -> String {
        self.ok(&["task", "ls"])
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or("")
            .to_string()
    }

    /// The runtime's state root the shim gives rrun-oci for our namespace.
    fn runtime_root(&self) -> PathBuf {
        Path::new("/run/containerd/runc").join(&self.ns)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Whatever a failed test left: tasks, containers, images.
        let tasks = text(&self.ctr(&["task", "ls", "-q"]).stdout);
        for id in tasks.lines() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
            let _ = self.ctr(&["task", "delete", "--force", id]);
        }
        for id in text(&self.ctr(&["container", "ls", "-q"]).stdout).lines() {
            let _ = self.ctr(&["container", "delete", id]);
        }
        let _ = self.ctr(&["images", "rm", IMAGE]);
        let _ = self.ctr(&["namespaces", "remove", &self.ns]);
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
        let _ = std::fs::remove_dir(self.runtime_root());
        // The shim puts each task in /<namespace>/<id>; the task's own
        // cgroup goes with it, the namespace's parent is left to us.
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hierarchies.flatten() {
                let _ = std::fs::remove_dir(h.path().join(&self.ns));
            }
        }
        // Snapshot mounts are containerd's to remove; any left are detached
        // so the directory can go.
        callers::detach_mounts_under(self.dir.path());
    }
}

fn oci_bin() -> String {
    bin("rrun-oci").to_str().unwrap().to_string()
}

#[test]
fn ctr_runs_a_task_with_rrun_oci_through_the_runc_v2_shim() {
    let c = Containerd::start();
    c.import_busybox();
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
    assert_eq!(c.task_status(&id), "RUNNING");
    let state = c.runtime_root().join(&id).join("state.json");
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
    assert_eq!(c.task_status(&id), "PAUSED");
    c.ok(&["task", "resume", &id]);
    assert_eq!(c.task_status(&id), "RUNNING");

    // The shim's stats come from the cgroup rrun-oci made.
    let metrics = c.ok(&["task", "metrics", &id]);
    assert!(
        metrics.contains("pids.current") || metrics.contains("memory"),
        "{metrics}"
    );

    c.ok(&["task", "kill", "-s", "SIGKILL", &id]);
    wait_for("the task to stop", Duration::from_secs(20), || {
        (c.task_status(&id) == "STOPPED").then_some(())
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
    let c = Containerd::start();
    c.import_busybox();
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
