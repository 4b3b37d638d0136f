//! What the OCI runtime-tools validation found rrun-oci to do unlike runc
//! (issue 16): each case runs on rrun-oci and, where runc accepts the same
//! bundle, on runc too, so a test bug is told from an rrun-oci bug.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

/// A runtime binary (rrun-oci or runc) with a state root of its own;
/// what it created is force-deleted on drop.
struct Runtime {
    bin: PathBuf,
    root: tempfile::TempDir,
    ids: std::cell::RefCell<Vec<String>>,
}

impl Runtime {
    fn new(bin: PathBuf) -> Runtime {
        Runtime {
            bin,
            root: tempfile::Builder::new()
                .prefix("rrun-conf-root-")
                .tempdir()
                .unwrap(),
            ids: Default::default(),
        }
    }

    /// rrun-oci, then runc (Debian's, a dependency of the tests).
    fn both() -> [Runtime; 2] {
        [
            Runtime::new(bin("rrun-oci")),
            Runtime::new(PathBuf::from("/usr/sbin/runc")),
        ]
    }

    fn name(&self) -> String {
        self.bin.file_name().unwrap().to_string_lossy().into_owned()
    }

    fn cmd(&self, args: &[&str]) -> Output {
        let mut full = vec!["--root", self.root.path().to_str().unwrap()];
        full.extend_from_slice(args);
        if matches!(args.first(), Some(&"create") | Some(&"run")) {
            self.ids.borrow_mut().push(args.last().unwrap().to_string());
        }
        run_timeout(60, &self.bin, &full, None)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "{} {args:?} failed: {}{}",
            self.name(),
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    /// `run` of the bundle under a new id: (exit code, stdout, stderr).
    fn run(&self, b: &Bundle) -> (i32, String, String) {
        b.write();
        let id = unique("conf");
        let out = self.cmd(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let root = self.root.path().to_str().unwrap();
            let _ = run_timeout(
                30,
                &self.bin,
                &["--root", root, "delete", "--force", id],
                None,
            );
        }
    }
}

/// The calls busybox's `sh -c 'echo …'` makes (strace'd), and nothing of
/// what path resolution libraries like to try (faccessat2, statx, openat2,
/// fsopen, readlinkat): an allow-list that denies everything else.
const USER_CALLS: &[&str] = &[
    "arch_prctl",
    "brk",
    "close",
    "dup2",
    "execve",
    "exit",
    "exit_group",
    "fcntl",
    "getpid",
    "getppid",
    "getrandom",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "mmap",
    "mprotect",
    "munmap",
    "newfstatat",
    "fstat",
    "openat",
    "prlimit64",
    "read",
    "readlink",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sendfile",
    "set_robust_list",
    "set_tid_address",
    "uname",
    "write",
    "wait4",
    "ioctl",
    "getcwd",
    "lseek",
];

/// What runc itself needs after its filter is loaded (its privilege drop
/// without no_new_privs, the exec fifo, closing its fds, the Go runtime),
/// and rrun-oci without no_new_privs.
const RUNTIME_CALLS: &[&str] = &[
    "capget",
    "capset",
    "prctl",
    "setgroups",
    "setresuid",
    "setresgid",
    "setuid",
    "setgid",
    "chdir",
    "fchdir",
    "futex",
    "nanosleep",
    "sched_yield",
    "sigaltstack",
    "gettid",
    "tgkill",
    "madvise",
    "clone",
    "epoll_pwait",
    "epoll_ctl",
    "getdents64",
    "close_range",
    "mknodat",
    "pipe2",
    "dup3",
    "exit",
    "write",
    "openat",
    "fstatfs",
];

fn strict_profile(extra: &[&str]) -> Value {
    let names: Vec<&str> = USER_CALLS.iter().chain(extra).copied().collect();
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
    })
}

#[test]
fn strict_seccomp_allow_list_does_not_kill_the_init() {
    for nnp in [true, false] {
        for rt in Runtime::both() {
            let mut b = Bundle::new(&["sh", "-c", "echo allowed"]);
            b.spec["process"]["noNewPrivileges"] = json!(nnp);
            // rrun-oci needs nothing but execve after a no_new_privs
            // filter; runc's Go runtime needs its calls in both cases.
            // runc 1.1.5 also looks the program up (faccessat2) after it.
            let runc_lookup = ["faccessat2", "faccessat", "access"];
            let extra: Vec<&str> = match (nnp, rt.name() == "rrun-oci") {
                (true, true) => vec![],
                (false, true) => RUNTIME_CALLS.to_vec(),
                (_, false) => [RUNTIME_CALLS, &runc_lookup[..]].concat(),
            };
            b.spec["linux"]["seccomp"] = strict_profile(&extra);
            b.write();
            let id = unique("strict");
            rt.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
            // The pid is in the state as soon as create returns, and the
            // init is still waiting for start (it crashed here, between
            // create and start, when the filter was loaded at create).
            let st = rt.state(&id);
            let pid = st["pid"].as_i64().unwrap();
            assert!(pid > 0, "{} nnp={nnp}: {st}", rt.name());
            assert_eq!(st["status"], "created", "{} nnp={nnp}", rt.name());
            assert!(Path::new(&format!("/proc/{pid}")).exists());
            rt.ok(&["start", &id]);
            wait_for("the container to stop", Duration::from_secs(20), || {
                (rt.state(&id)["status"] == "stopped").then_some(())
            });
            rt.ok(&["delete", &id]);
            let (code, out, err) = rt.run(&b);
            assert_eq!(code, 0, "{} nnp={nnp}: {err}", rt.name());
            assert_eq!(out, "allowed\n", "{} nnp={nnp}: {err}", rt.name());
        }
    }
}

#[test]
fn an_init_that_fails_after_create_says_why_on_start() {
    // execve itself denied: the last step fails, after `create` returned.
    let rt = Runtime::new(bin("rrun-oci"));
    let mut b = Bundle::new(&["true"]);
    b.spec["process"]["noNewPrivileges"] = json!(true);
    b.spec["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["execve", "execveat"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.write();
    let id = unique("noexec");
    rt.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let out = rt.cmd(&["start", &id]);
    assert!(!out.status.success(), "start succeeded");
    let err = text(&out.stderr);
    assert!(
        err.contains("failed to start") && err.contains("Operation not permitted"),
        "{err}"
    );
}

#[test]
fn fifo_device_is_made_without_a_device_cgroup_rule() {
    for rt in Runtime::both() {
        let mut b = Bundle::new(&["sh", "-c", "test -p /dev/testfifo && echo fifo"]);
        b.spec["linux"]["devices"] = json!([
            {"path": "/dev/testfifo", "type": "p", "major": 8, "minor": 666, "fileMode": 438}
        ]);
        let (code, out, err) = rt.run(&b);
        assert_eq!(code, 0, "{}: {err}", rt.name());
        assert_eq!(out, "fifo\n", "{}: {err}", rt.name());
    }
}

#[test]
fn disable_oom_killer_reaches_memory_oom_control() {
    let v1 = Path::new("/sys/fs/cgroup/memory/memory.oom_control").exists();
    assert!(
        v1,
        "this host has no cgroup v1 memory controller: memory.oom_control is v1 only"
    );
    for rt in Runtime::both() {
        let cg = format!("/rrun-test/{}", unique("oom"));
        let mut b = Bundle::new(&["sleep", "60"]);
        b.spec["linux"]["cgroupsPath"] = json!(cg);
        b.spec["linux"]["resources"]["memory"] =
            json!({"limit": 67108864, "disableOOMKiller": true});
        b.write();
        let id = unique("oom");
        rt.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
        let ctl =
            std::fs::read_to_string(cgroup_dir("memory", &cg).join("memory.oom_control")).unwrap();
        assert!(ctl.contains("oom_kill_disable 1"), "{}: {ctl}", rt.name());
        rt.ok(&["delete", "--force", &id]);
    }
}

fn ns_of(pid: &str, ns: &str) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap()
}

#[test]
fn without_a_mount_namespace_the_callers_is_used() {
    // rrun-oci only: runc 1.1.5 fails here ("error closing exec fds: open
    // /proc/self/fd"), as nothing mounts /proc in a root it only chroots to.
    {
        let rt = Runtime::new(bin("rrun-oci"));
        let mut b = Bundle::new(&["sh", "-c", "ls /bin/busybox && echo in-rootfs"]);
        b.drop_namespace("mount");
        b.spec["mounts"] = json!([]);
        b.spec["linux"]["maskedPaths"] = json!([]);
        b.spec["linux"]["readonlyPaths"] = json!([]);
        b.write();
        let id = unique("nomnt");
        rt.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
        let pid = rt.state(&id)["pid"].as_i64().unwrap().to_string();
        assert_eq!(ns_of(&pid, "mnt"), ns_of("self", "mnt"), "{}", rt.name());
        assert_ne!(ns_of(&pid, "pid"), ns_of("self", "pid"), "{}", rt.name());
        let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
        assert_eq!(root, b.rootfs().canonicalize().unwrap(), "{}", rt.name());
        rt.ok(&["delete", "--force", &id]);
        let (code, out, err) = rt.run(&b);
        assert_eq!(code, 0, "{}: {err}", rt.name());
        assert_eq!(out, "/bin/busybox\nin-rootfs\n", "{}", rt.name());
    }
    // What would have to be mounted on the host is refused, and nothing
    // of the container is left (runc accepts these and mounts on the host).
    let rt = Runtime::new(bin("rrun-oci"));
    let mut b = Bundle::new(&["true"]);
    b.drop_namespace("mount");
    b.write();
    let id = unique("nomnt");
    let out = rt.cmd(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("without a private MNT namespace"),
        "{}",
        text(&out.stderr)
    );
    b.spec["linux"]["maskedPaths"] = json!([]);
    b.spec["linux"]["readonlyPaths"] = json!([]);
    b.write();
    let out = rt.cmd(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(
        text(&out.stderr).contains("mounts needs a new mount namespace"),
        "{}",
        text(&out.stderr)
    );
    assert!(std::fs::read_dir(rt.root.path()).unwrap().next().is_none());
}

// What containerd's runc shim (go-runc) and Podman's conmon call.

fn cgroup_file(controller: &str, cg: &str, file: &str) -> String {
    std::fs::read_to_string(cgroup_dir(controller, cg).join(file))
        .unwrap_or_else(|e| panic!("{controller}/{cg}/{file}: {e}"))
        .trim()
        .to_string()
}

/// A detached `sleep` in a cgroup of the test's own: (id, cgroup path).
fn detached_sleep(rt: &Runtime, b: &mut Bundle) -> (String, String) {
    let cg = format!("/rrun-test/{}", unique("live"));
    b.spec["linux"]["cgroupsPath"] = json!(cg);
    b.write();
    let id = unique("live");
    rt.ok(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    (id, cg)
}

#[test]
fn pause_and_resume_freeze_the_container() {
    for rt in Runtime::both() {
        let mut b = Bundle::new(&["sleep", "300"]);
        let (id, cg) = detached_sleep(&rt, &mut b);
        rt.ok(&["pause", &id]);
        assert_eq!(rt.state(&id)["status"], "paused", "{}", rt.name());
        if Path::new("/sys/fs/cgroup/freezer").is_dir() {
            assert_eq!(cgroup_file("freezer", &cg, "freezer.state"), "FROZEN");
        }
        let out = rt.cmd(&["exec", &id, "true"]);
        assert!(
            !out.status.success(),
            "{}: exec into a paused container",
            rt.name()
        );
        rt.ok(&["resume", &id]);
        assert_eq!(rt.state(&id)["status"], "running", "{}", rt.name());
        rt.ok(&["pause", &id]);
        // A paused container is killed and deleted as it is.
        rt.ok(&["kill", &id, "9"]);
        rt.ok(&["delete", "--force", &id]);
        assert!(!cgroup_dir("memory", &cg).exists(), "{}", rt.name());
    }
}

#[test]
fn update_applies_resources_from_stdin_live() {
    for rt in Runtime::both() {
        let mut b = Bundle::new(&["sleep", "300"]);
        b.spec["linux"]["resources"]["memory"] = json!({"limit": 67108864});
        b.spec["linux"]["resources"]["pids"] = json!({"limit": 50});
        let (id, cg) = detached_sleep(&rt, &mut b);
        let root = rt.root.path().to_str().unwrap();
        let resources = r#"{"memory": {"limit": 33554432}, "pids": {"limit": 20}}"#;
        let out = run_timeout(
            30,
            &rt.bin,
            &["--root", root, "update", "--resources=-", &id],
            Some(resources),
        );
        assert!(out.status.success(), "{}: {}", rt.name(), text(&out.stderr));
        assert_eq!(
            cgroup_file("memory", &cg, "memory.limit_in_bytes"),
            "33554432"
        );
        assert_eq!(cgroup_file("pids", &cg, "pids.max"), "20", "{}", rt.name());
        rt.ok(&["delete", "--force", &id]);
    }
}

#[test]
fn ps_json_events_stats_and_version_as_go_runc_reads_them() {
    for rt in Runtime::both() {
        let mut b = Bundle::new(&["sleep", "300"]);
        let (id, _) = detached_sleep(&rt, &mut b);
        let pid = rt.state(&id)["pid"].as_i64().unwrap();
        let pids: Vec<i64> =
            serde_json::from_str(&rt.ok(&["ps", "--format", "json", &id])).unwrap();
        assert_eq!(pids, [pid], "{}", rt.name());
        let ev: Value = serde_json::from_str(&rt.ok(&["events", "--stats", &id])).unwrap();
        assert_eq!(ev["type"], "stats", "{}: {ev}", rt.name());
        assert_eq!(ev["id"], id.as_str());
        assert_eq!(ev["data"]["pids"]["current"], 1, "{}: {ev}", rt.name());
        assert!(ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
        // Go's single-dash long flags and --flag=value.
        let root_flag = format!("-root={}", rt.root.path().display());
        let out = run_timeout(30, &rt.bin, &[&root_flag, "state", &id], None);
        let st: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(st["status"], "running", "{}", rt.name());
        rt.ok(&["kill", "-all", &id, "KILL"]);
        wait_for("the container to stop", Duration::from_secs(20), || {
            (rt.state(&id)["status"] == "stopped").then_some(())
        });
        // What containerd's shim matches to take a kill as harmless.
        let err = text(&rt.cmd(&["kill", &id, "9"]).stderr);
        assert!(
            err.contains("container not running"),
            "{}: {err}",
            rt.name()
        );
        rt.ok(&["delete", &id]);
        let v = rt.ok(&["--version"]);
        let lines: Vec<&str> = v.lines().collect();
        assert!(lines[0].starts_with("runc version "), "{v}");
        assert!(
            lines[1].starts_with("commit: ") && lines[2].starts_with("spec: "),
            "{v}"
        );
    }
}

#[test]
fn preserve_fds_passes_the_callers_fds() {
    for rt in Runtime::both() {
        let b = Bundle::new(&["sh", "-c", "echo through-fd-3 >&3; echo through-fd-4 >&4"]);
        b.write();
        let out3 = b.path().join("fd3.txt");
        let out4 = b.path().join("fd4.txt");
        let script = format!(
            "exec 3>{} 4>{}; exec {} --root {} run --preserve-fds 2 --bundle {} {}",
            out3.display(),
            out4.display(),
            rt.bin.display(),
            rt.root.path().display(),
            b.path().display(),
            unique("fds")
        );
        let out = run_timeout(60, Path::new("/bin/sh"), &["-c", &script], None);
        assert!(out.status.success(), "{}: {}", rt.name(), text(&out.stderr));
        assert_eq!(std::fs::read_to_string(&out3).unwrap(), "through-fd-3\n");
        assert_eq!(std::fs::read_to_string(&out4).unwrap(), "through-fd-4\n");
    }
}

/// `exec --preserve-fds` (conmon passes it for `podman exec
/// --preserve-fds`): the caller's fds 3.. reach the exec'd process, as
/// with runc; a count past the open fds is refused.
#[test]
fn exec_preserve_fds_passes_the_callers_fds() {
    for rt in Runtime::both() {
        let mut b = Bundle::new(&["sleep", "300"]);
        let (id, _cg) = detached_sleep(&rt, &mut b);
        let out3 = b.path().join("exec-fd3.txt");
        let script = format!(
            "exec 3>{}; exec {} --root {} exec --preserve-fds 1 {id} sh -c 'echo exec-fd-3 >&3'",
            out3.display(),
            rt.bin.display(),
            rt.root.path().display(),
        );
        let out = run_timeout(60, Path::new("/bin/sh"), &["-c", &script], None);
        assert!(out.status.success(), "{}: {}", rt.name(), text(&out.stderr));
        assert_eq!(
            std::fs::read_to_string(&out3).unwrap(),
            "exec-fd-3\n",
            "{}",
            rt.name()
        );
        if rt.name() == "rrun-oci" {
            let bad = rt.cmd(&["exec", "--preserve-fds", "40", &id, "true"]);
            assert!(!bad.status.success());
            assert!(
                text(&bad.stderr).contains("--preserve-fds 40"),
                "{}",
                text(&bad.stderr)
            );
        }
        rt.ok(&["kill", &id, "KILL"]);
        wait_for(
            "the container to stop",
            std::time::Duration::from_secs(20),
            || (rt.state(&id)["status"] == "stopped").then_some(()),
        );
        rt.ok(&["delete", &id]);
    }
}

#[test]
fn checkpoint_is_refused_clearly() {
    let rt = Runtime::new(bin("rrun-oci"));
    for args in [
        &["checkpoint", "--image-path", "/tmp/x", "some-id"][..],
        &[
            "restore",
            "--image-path",
            "/tmp/x",
            "--bundle",
            "/tmp",
            "some-id",
        ],
    ] {
        let out = rt.cmd(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text(&out.stderr).contains("not supported"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

/// containerd's shim passes `--no-new-keyring`: the container then keeps
/// the caller's session keyring instead of joining a new one named
/// `_ses.<id>` (as runc names it; /proc/keys unmasked to look).
#[test]
fn no_new_keyring_keeps_the_callers_session_keyring() {
    for rt in Runtime::both() {
        for (flag, want) in [(None, "1"), (Some("--no-new-keyring"), "0")] {
            let mut b = Bundle::new(&[]);
            let id = unique("keyring");
            let masked = b.spec["linux"]["maskedPaths"].as_array_mut().unwrap();
            masked.retain(|p| p != "/proc/keys");
            let script = format!("grep -c '_ses[.]{id}:' /proc/keys; true");
            b.spec["process"]["args"] = json!(["sh", "-c", script]);
            b.write();
            let mut args = vec!["run", "--bundle", b.path().to_str().unwrap()];
            args.extend(flag);
            args.push(&id);
            let out = rt.cmd(&args);
            assert_eq!(
                text(&out.stdout).trim(),
                want,
                "{} {flag:?}: {}",
                rt.name(),
                text(&out.stderr)
            );
        }
    }
}

/// Where rrun-oci refuses on purpose what runc accepts (README, "rrun-oci:
/// the OCI runtime"): runc warns about an unknown capability name and
/// drops it; rrun-oci refuses the bundle, naming it, and keeps no state.
#[test]
fn an_unknown_capability_is_refused_where_runc_ignores_it() {
    for rt in Runtime::both() {
        let mut b = Bundle::new(&["true"]);
        b.spec["process"]["capabilities"]["bounding"]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_NOPE"));
        let (code, _, err) = rt.run(&b);
        if rt.name() == "runc" {
            assert_eq!(code, 0, "runc: {err}");
            assert!(err.contains("CAP_NOPE"), "runc: {err}");
            continue;
        }
        assert_ne!(code, 0, "rrun-oci ran a bundle with CAP_NOPE");
        assert!(err.contains("CAP_NOPE"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            std::fs::read_dir(rt.root.path()).unwrap().next().is_none(),
            "state was left for the refused container"
        );
    }
}

#[test]
fn no_signal_is_left_ignored_in_the_container() {
    // The runtime's own dispositions must not reach the user program: an
    // ignored SIGPIPE would turn `yes | head -1` into "Broken pipe" errors.
    for rt in Runtime::both() {
        let b = Bundle::new(&["cat", "/proc/self/status"]);
        let (code, out, err) = rt.run(&b);
        assert_eq!(code, 0, "{}: {err}", rt.name());
        let ign = out.lines().find(|l| l.starts_with("SigIgn:")).unwrap();
        let mask = u64::from_str_radix(ign.split_whitespace().nth(1).unwrap(), 16).unwrap();
        assert_eq!(mask & (1 << (libc::SIGPIPE - 1)), 0, "{}: {ign}", rt.name());
        // runc passes on what its Go runtime leaves alone (glibc's signal
        // 32, when the caller ignored it); rrun-oci passes on nothing.
        if rt.name() == "rrun-oci" {
            assert_eq!(mask, 0, "{ign}");
        }
    }
}
