//! rrun-oci as Podman's runtime (Debian's Podman 4.3 and its conmon):
//! `podman --runtime <rrun-oci>`, in a Podman of the test's own (root,
//! runroot, tmp dir, storage and containers.conf in a temporary directory),
//! so a user's Podman is never touched. `--network none` where the case
//! needs no network; the netavark case runs every podman command in a
//! network namespace of the test's own (`nsenter --net`), so its bridge,
//! firewall rules and aardvark-dns never touch the host's.

mod common;

use common::callers;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const IMAGE: &str = "localhost/busybox:rrun-test";

struct Podman {
    dir: tempfile::TempDir,
    cgroup_parent: String,
    /// Where every command runs, for the netavark case.
    netns: Option<daemon::TestNetns>,
}

impl Podman {
    fn new() -> Podman {
        Podman::make(None)
    }

    /// A Podman whose networks are netavark's, in a namespace of its own.
    fn with_netavark() -> Podman {
        Podman::make(Some(daemon::TestNetns::new("rrpod")))
    }

    fn make(netns: Option<daemon::TestNetns>) -> Podman {
        let dir = tempfile::Builder::new()
            .prefix("rrun-podman-")
            .tempdir()
            .unwrap();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("storage.conf"),
            format!("[storage]\ndriver = \"overlay\"\nrunroot = \"{d}/runroot\"\ngraphroot = \"{d}/root\"\n"),
        )
        .unwrap();
        // Podman's default ulimits raise the hard limits (nofile 1048576),
        // which needs CAP_SYS_RESOURCE; root on these machines lacks it, and
        // runc then fails the same way. Lowering needs no privilege.
        std::fs::write(
            dir.path().join("containers.conf"),
            format!(
                r#"[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
tmp_dir = "{d}/tmp"
runtime_supports_json = ["rrun-oci"]
[network]
network_backend = "netavark"
network_config_dir = "{d}/networks"
"#
            ),
        )
        .unwrap();
        let p = Podman {
            dir,
            cgroup_parent: format!("/{}", unique("rrun-podman-")),
            netns,
        };
        p.load_busybox();
        p
    }

    fn cmd(&self, args: &[&str]) -> Output {
        let d = self.dir.path();
        let (root, runroot) = (d.join("root"), d.join("runroot"));
        let oci = bin("rrun-oci");
        let mut full = vec![
            "--root",
            root.to_str().unwrap(),
            "--runroot",
            runroot.to_str().unwrap(),
            "--runtime",
            oci.to_str().unwrap(),
        ];
        full.extend_from_slice(args);
        let mut env_args = Vec::new();
        if let Some(ns) = &self.netns {
            env_args.push("nsenter".to_string());
            env_args.push(format!("--net={}", ns.path().display()));
            env_args.push("env".to_string());
        }
        env_args.extend([
            format!(
                "CONTAINERS_STORAGE_CONF={}",
                d.join("storage.conf").display()
            ),
            format!("CONTAINERS_CONF={}", d.join("containers.conf").display()),
            "podman".to_string(),
        ]);
        env_args.extend(full.iter().map(|s| s.to_string()));
        let env_args: Vec<&str> = env_args.iter().map(String::as_str).collect();
        run_timeout(90, Path::new("env"), &env_args, None)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "podman {args:?} failed ({}): {}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn load_busybox(&self) {
        let tar = callers::busybox_oci_archive(self.dir.path());
        let out = self.ok(&["load", "-i", tar.to_str().unwrap()]);
        let loaded = out
            .lines()
            .find_map(|l| l.strip_prefix("Loaded image: "))
            .unwrap_or_else(|| panic!("podman load said: {out}"))
            .trim()
            .to_string();
        self.ok(&["tag", &loaded, IMAGE]);
    }

    /// `run` options every container of the test gets.
    fn run_args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec![
            "run",
            "--network",
            "none",
            "--cgroup-parent",
            &self.cgroup_parent,
        ];
        v.extend_from_slice(extra);
        v
    }

    fn status(&self, name: &str) -> String {
        self.ok(&["inspect", "--format", "{{.State.Status}}", name])
            .trim()
            .to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd(&["rm", "--all", "--force", "--time", "0"]);
        let _ = self.cmd(&["network", "prune", "--force"]);
        let _ = self.cmd(&["rmi", "--all", "--force"]);
        // aardvark-dns outlives its last container for a moment; its
        // configuration is under our directory.
        let dir = self.dir.path().display().to_string();
        let _ = run_timeout(10, Path::new("pkill"), &["-KILL", "-f", &dir], None);
        // The storage's own mounts (its overlay home) are detached so the
        // directory can go; they are under our temporary directory only.
        callers::detach_mounts_under(self.dir.path());
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hierarchies.flatten() {
                // Podman puts conmon in <parent>/conmon.
                let parent: PathBuf = h.path().join(self.cgroup_parent.trim_start_matches('/'));
                let _ = std::fs::remove_dir(parent.join("conmon"));
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

#[test]
fn podman_runs_containers_on_rrun_oci() {
    let p = Podman::new();
    // run --rm: output and exit status through conmon.
    let out = p.cmd(&p.run_args(&["--rm", IMAGE, "sh", "-c", "echo hello; exit 4"]));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\n");

    // run -d, exec, logs, pause/unpause, stop, rm.
    let name = unique("web");
    p.ok(&p.run_args(&[
        "-d",
        "--name",
        &name,
        IMAGE,
        "sh",
        "-c",
        "echo started; exec sleep 300",
    ]));
    assert_eq!(p.status(&name), "running");
    assert_eq!(
        p.ok(&["exec", &name, "sh", "-c", "echo from-exec"]),
        "from-exec\n"
    );
    wait_for("the log line", Duration::from_secs(20), || {
        (p.ok(&["logs", &name]) == "started\n").then_some(())
    });
    p.ok(&["pause", &name]);
    assert_eq!(p.status(&name), "paused");
    p.ok(&["unpause", &name]);
    assert_eq!(p.status(&name), "running");
    p.ok(&["stop", "--time", "2", &name]);
    assert_eq!(p.status(&name), "exited");
    p.ok(&["rm", &name]);
    assert!(p.ok(&["ps", "-aq"]).trim().is_empty());
}

#[test]
fn podman_exec_with_a_terminal_and_a_failing_create() {
    let p = Podman::new();
    let name = unique("tty");
    p.ok(&p.run_args(&["-d", "--name", &name, IMAGE, "sleep", "300"]));
    // conmon's --tty exec: rrun-oci gets --console-socket.
    let out = p.ok(&["exec", "-t", &name, "sh", "-c", "test -t 0 && echo tty"]);
    assert_eq!(out.trim(), "tty");
    p.ok(&["rm", "--force", "--time", "0", &name]);
    // A program that is not there: the runtime's message reaches podman.
    let out = p.cmd(&p.run_args(&["--rm", IMAGE, "/no/such/program"]));
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("/no/such/program"), "{err}");
    assert!(p.ok(&["ps", "-aq"]).trim().is_empty());
}

/// Podman on a netavark network (Debian's netavark and aardvark-dns) with
/// rrun-oci as the runtime: one container reaches another by name through
/// aardvark-dns over the network's bridge, both run by rrun-oci.
#[test]
fn podman_on_a_netavark_network() {
    let p = Podman::with_netavark();
    let net = unique("rrpodnet");
    p.ok(&["network", "create", "--subnet", "10.89.77.0/24", &net]);
    let srv = unique("srv");
    let parent = p.cgroup_parent.clone();
    p.ok(&[
        "run",
        "-d",
        "--name",
        &srv,
        "--network",
        &net,
        "--cgroup-parent",
        &parent,
        IMAGE,
        "sh",
        "-c",
        "mkdir /www && echo hello-from-srv > /www/index.html && exec httpd -f -p 8080 -h /www",
    ]);
    assert_eq!(p.status(&srv), "running");
    let ip = p.ok(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &srv,
    ]);
    assert!(ip.trim().starts_with("10.89.77."), "{ip}");
    // By name (aardvark-dns), from a second container on the network.
    let url = format!("http://{srv}:8080/");
    let got = wait_for("the server by name", Duration::from_secs(30), || {
        let out = p.cmd(&[
            "run",
            "--rm",
            "--network",
            &net,
            "--cgroup-parent",
            &parent,
            IMAGE,
            // (This busybox's wget crashes with -T; podman's own timeout
            // bounds it.)
            "wget",
            "-qO-",
            &url,
        ]);
        out.status.success().then(|| text(&out.stdout))
    });
    assert_eq!(got, "hello-from-srv\n");
    p.ok(&["rm", "--force", "--time", "0", &srv]);
    p.ok(&["network", "rm", &net]);
}
