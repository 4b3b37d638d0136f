//! What the tests of rrun-oci's real callers (containerd, Podman) share.

use super::{host_mounts_containing, images};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The busybox test image as an OCI archive (a tar of its layout) in `dir`,
/// as `ctr images import` and `podman load` take it.
pub fn busybox_oci_archive(dir: &Path) -> PathBuf {
    let tar = dir.join("busybox.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(images().join("busybox/oci"))
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar the busybox OCI layout");
    tar
}

/// Detaches every mount under `dir` (a caller's snapshots or storage that
/// a failed test left), deepest first, so the directory can be removed.
pub fn detach_mounts_under(dir: &Path) {
    let mut mounts = host_mounts_containing(dir.to_str().unwrap());
    mounts.reverse();
    for m in mounts {
        if let Some(target) = m.split_whitespace().nth(4) {
            let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// A containerd of the test's own: root, state and sockets in a temporary
/// directory, in a network namespace of its own (loopback up, for the CRI
/// plugin's streaming server), its objects in containerd namespace `ns`.
pub struct Containerd {
    pub dir: tempfile::TempDir,
    child: std::process::Child,
    pub ns: String,
    /// Cgroup parents of the test's own (relative), removed once the
    /// tasks under them are gone.
    pub cgroup_parents: std::cell::RefCell<Vec<String>>,
}

impl Containerd {
    /// `plugins` is appended to the config (none: the CRI plugin is off).
    pub fn start(ns: &str, plugins: &str) -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("rrun-containerd-")
            .tempdir()
            .unwrap();
        let d = dir.path().display();
        let cri_off = if plugins.is_empty() {
            "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
        } else {
            ""
        };
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n{cri_off}\
             [grpc]\n  address = \"{d}/containerd.sock\"\n\
             [ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n\
             [debug]\n  address = \"{d}/debug.sock\"\n{plugins}"
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let script = format!("ip link set lo up && exec containerd --config {d}/config.toml");
        let child = Command::new("unshare")
            .args(["--net", "--", "sh", "-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start containerd (scripts/deps: containerd)");
        // The shim puts tasks under /<namespace>; k8s.io's is the pods'.
        let parents = if ns == "k8s.io" {
            vec![]
        } else {
            vec![ns.to_string()]
        };
        let c = Containerd {
            dir,
            child,
            ns: ns.to_string(),
            cgroup_parents: std::cell::RefCell::new(parents),
        };
        super::wait_for(
            "containerd to answer",
            std::time::Duration::from_secs(30),
            || c.ctr(&["version"]).status.success().then_some(()),
        );
        c
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    pub fn ctr(&self, args: &[&str]) -> std::process::Output {
        let sock = self.sock();
        let mut full = vec!["--address", sock.to_str().unwrap(), "-n", &self.ns];
        full.extend_from_slice(args);
        super::run_timeout(60, Path::new("ctr"), &full, None)
    }

    /// A ctr command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {args:?} failed ({}): {}{}\ncontainerd log:\n{}",
            out.status,
            super::text(&out.stdout),
            super::text(&out.stderr),
            self.log_tail()
        );
        super::text(&out.stdout)
    }

    pub fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Imports an OCI archive under `base` (its index names the tag).
    pub fn import(&self, tar: &Path, base: &str) {
        self.ok(&[
            "images",
            "import",
            "--base-name",
            base,
            tar.to_str().unwrap(),
        ]);
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Whatever a failed test left: tasks, containers, images.
        for id in super::text(&self.ctr(&["task", "ls", "-q"]).stdout).lines() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
            let _ = self.ctr(&["task", "delete", "--force", id]);
        }
        for id in super::text(&self.ctr(&["container", "ls", "-q"]).stdout).lines() {
            let _ = self.ctr(&["container", "delete", id]);
        }
        let images = super::text(&self.ctr(&["images", "ls", "-q"]).stdout);
        for image in images.lines() {
            let _ = self.ctr(&["images", "rm", image]);
        }
        let _ = self.ctr(&["namespaces", "remove", &self.ns]);
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
        if self.ns != "k8s.io" {
            // The shim's runtime root for our namespace: ours to remove.
            let _ = std::fs::remove_dir(Path::new("/run/containerd/runc").join(&self.ns));
        }
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hierarchies.flatten() {
                for parent in self.cgroup_parents.borrow().iter() {
                    let _ = std::fs::remove_dir(h.path().join(parent.trim_start_matches('/')));
                }
            }
        }
        // Snapshot mounts are containerd's to remove; any left are detached
        // so the directory can go.
        detach_mounts_under(self.dir.path());
    }
}
