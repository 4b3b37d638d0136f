//! A test's own rrund: socket, data root and executor root in a temporary
//! directory; its containers, shims and mounts are removed on drop, even
//! when the test fails.

use super::{bin, images, run_timeout, text, wait_for};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub struct Rrund {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Rrund {
    /// Starts a daemon and loads busybox into it as `busybox`.
    pub fn with_busybox() -> Rrund {
        let dir = tempfile::Builder::new()
            .prefix("rrund-opts-")
            .tempdir()
            .unwrap();
        let mut d = Rrund { dir, child: None };
        d.spawn();
        d.load_busybox();
        d
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("rrun.sock")
    }
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }
    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join("exec")
    }

    /// Starts rrund and waits (with a deadline) until it answers `/_ping`.
    pub fn spawn(&mut self) {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("rrund.log"))
            .unwrap();
        let child = Command::new(bin("rrund"))
            .arg("-H")
            .arg(self.host())
            .arg("--data-root")
            .arg(self.data_root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("--config-file")
            .arg(self.dir.path().join("daemon.json"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn rrund");
        self.child = Some(child);
        let socket = self.socket();
        let log = self.dir.path().join("rrund.log");
        let child = self.child.as_mut().unwrap();
        wait_for("rrund to answer /_ping", Duration::from_secs(20), || {
            if let Ok(Some(st)) = child.try_wait() {
                panic!(
                    "rrund exited ({st}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            ping(&socket).then_some(())
        });
    }

    /// Kills the daemon with SIGKILL (its shims live on).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rrund.log")).unwrap_or_default()
    }

    /// `rrun -H <our socket> args…` with a timeout.
    pub fn rrun(&self, args: &[&str]) -> Output {
        let host = self.host();
        let mut full = vec!["-H", host.as_str()];
        full.extend_from_slice(args);
        run_timeout(60, &bin("rrun"), &full, None)
    }

    /// A command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.rrun(args);
        assert!(
            out.status.success(),
            "rrun {args:?} failed ({}): {}{}\n--- rrund log ---\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr),
            self.log()
        );
        text(&out.stdout)
    }

    /// `inspect` of one container.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&self.ok(&["inspect", name])).unwrap();
        v[0].clone()
    }

    fn load_busybox(&self) {
        let tar = self.dir.path().join("busybox.tar");
        let layout = images().join("busybox/oci");
        let out = run_timeout(
            30,
            Path::new("/bin/tar"),
            &[
                "-C",
                layout.to_str().unwrap(),
                "-cf",
                tar.to_str().unwrap(),
                ".",
            ],
            None,
        );
        assert!(out.status.success(), "tar: {}", text(&out.stderr));
        let loaded = self.ok(&["load", "-i", tar.to_str().unwrap()]);
        let id = loaded
            .lines()
            .find_map(|l| l.strip_prefix("Loaded image ID: "))
            .unwrap_or_else(|| panic!("no image id in {loaded:?}"))
            .to_string();
        self.ok(&["tag", &id, "busybox"]);
    }
}

/// True once the daemon answers `GET /_ping` with `OK`.
fn ping(socket: &Path) -> bool {
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(socket) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if write!(s, "GET /_ping HTTP/1.0\r\nHost: rrun\r\n\r\n").is_err() {
        return false;
    }
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.starts_with("HTTP/1.") && resp.contains(" 200 ") && resp.ends_with("OK")
}

impl Drop for Rrund {
    fn drop(&mut self) {
        // Through the daemon first, then behind its back for what is left.
        if self.child.is_some() {
            let ids = self.rrun(&["ps", "-aq", "--no-trunc"]);
            for id in text(&ids.stdout).lines() {
                let _ = self.rrun(&["rm", "-f", id]);
            }
        }
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        let containers = self.data_root().join("containers");
        for e in std::fs::read_dir(&containers)
            .into_iter()
            .flatten()
            .flatten()
        {
            let id = e.file_name().to_string_lossy().into_owned();
            let _ = run_timeout(
                30,
                &bin("rrun-oci"),
                &[
                    "--root",
                    self.exec_root().to_str().unwrap(),
                    "delete",
                    "--force",
                    &id,
                ],
                None,
            );
            if let Some(pid) = std::fs::read_to_string(e.path().join("shim.pid"))
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
            {
                let alive = || {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .map(|c| c.windows(id.len()).any(|w| w == id.as_bytes()))
                        .unwrap_or(false)
                };
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while alive() && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if alive() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
        for m in super::host_mounts_containing(self.dir.path().to_str().unwrap()) {
            if let Some(target) = m.split(' ').nth(4) {
                let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}
