//! End-to-end tests of `rrun-oci` on the busybox bundle, as root. Each test
//! has its own state root and bundle; what a test creates is deleted even
//! when it fails.

mod common;

use common::*;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

#[test]
fn init_is_pid_1_and_sees_no_host_process() {
    let oci = Oci::new();
    let b = Bundle::new(&["sh", "-c", "echo pid=$$; ls /proc | grep -c '^[0-9]'"]);
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("pid=1"), "{out}");
    // sh itself, ls and grep at most: none of the host's processes.
    let n: usize = lines.next().unwrap().trim().parse().unwrap();
    assert!(n <= 3, "container sees {n} processes:\n{out}");
}

#[test]
fn hostname_and_domainname_are_set() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"]);
    b.spec["hostname"] = json!("web-1");
    b.spec["domainname"] = json!("example.test");
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "web-1\nexample.test\n");
}

fn cap_line(out: &str, name: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {out}"));
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn capability_sets_are_exactly_those_requested() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["cat", "/proc/self/status"]);
    let set = json!(["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"]);
    b.spec["process"]["capabilities"] = json!({
        "bounding": set, "effective": set, "permitted": set, "inheritable": ["CAP_KILL"], "ambient": []
    });
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    let want = (1u64 << 0) | (1 << 5) | (1 << 13);
    assert_eq!(cap_line(&out, "CapBnd:"), want);
    assert_eq!(cap_line(&out, "CapEff:"), want);
    assert_eq!(cap_line(&out, "CapPrm:"), want);
    assert_eq!(cap_line(&out, "CapInh:"), 1 << 5);
    assert_eq!(cap_line(&out, "CapAmb:"), 0);
}

#[test]
fn non_root_user_with_ambient_capability() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["sh", "-c", "id; grep -E '^Cap(Eff|Amb)' /proc/self/status"]);
    b.spec["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [29, 100]});
    let set = json!(["CAP_NET_BIND_SERVICE"]);
    b.spec["process"]["capabilities"] = json!({"bounding": set, "effective": set, "permitted": set, "inheritable": set, "ambient": set});
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("uid=1000(tester) gid=1000(tester) groups=29(audio),100(users)"),
        "{out}"
    );
    assert_eq!(cap_line(&out, "CapAmb:"), 1 << 10);
    assert_eq!(cap_line(&out, "CapEff:"), 1 << 10);
}

#[test]
fn proc_paths_are_masked_and_read_only() {
    let oci = Oci::new();
    // The default masked files this kernel has (kcore is optional).
    let files: Vec<&str> = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/proc/latency_stats",
    ]
    .into_iter()
    .filter(|f| Path::new(f).exists())
    .collect();
    assert!(
        !files.is_empty(),
        "none of the masked /proc files exist on this kernel"
    );
    assert!(
        std::fs::read_dir("/sys/firmware").unwrap().next().is_some(),
        "host /sys/firmware is empty"
    );
    let script = format!(
        "for f in {}; do echo $f $(wc -c < $f); done; echo firmware $(ls /sys/firmware | wc -l); echo 1 > /proc/sys/kernel/ns_last_pid && echo WROTE; echo end",
        files.join(" ")
    );
    let b = Bundle::new(&["sh", "-c", &script]);
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    for f in &files {
        assert!(
            out.lines().any(|l| l == format!("{f} 0")),
            "{f} is readable in the container: {out}"
        );
    }
    assert!(
        out.contains("firmware 0\n"),
        "/sys/firmware not masked: {out}"
    );
    assert!(!out.contains("WROTE"), "/proc/sys writable: {out}");
    assert!(err.contains("Read-only file system"), "{err}");
}

#[test]
fn seccomp_denied_syscall_fails_with_configured_errno() {
    let oci = Oci::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "mkdir /tmp/blocked; echo rc=$?; touch /tmp/allowed && echo touched",
    ]);
    b.spec["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}]
    });
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rc=1"), "{out}");
    assert!(out.contains("touched"), "{out}");
    assert!(
        err.contains("not supported"),
        "mkdir should fail with EOPNOTSUPP (95): {err}"
    );
    assert!(!b.rootfs().join("tmp/blocked").exists());
}

#[test]
fn seccomp_with_no_new_privileges_and_argument_filter() {
    let oci = Oci::new();
    // personality(0xffffffff) queries; deny only that exact argument.
    let mut b = Bundle::new(&["sh", "-c", "grep NoNewPrivs /proc/self/status; echo ok"]);
    b.spec["process"]["noNewPrivileges"] = json!(true);
    b.spec["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": 1234, "op": "SCMP_CMP_EQ"}]}]
    });
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
}

#[test]
fn memory_limit_is_enforced() {
    let oci = Oci::new();
    let id = unique("mem");
    let mut b = Bundle::new(&["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; dd if=/dev/zero of=/dev/null bs=100M count=1; echo survived"]);
    b.spec["linux"]["resources"]["memory"] = json!({"limit": 33554432, "swap": 33554432});
    b.spec["linux"]["cgroupsPath"] = json!(format!("/rrun-test/{id}"));
    b.write();
    let out = oci.cmd(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("33554432"),
        "limit not visible inside: {stdout}"
    );
    // dd's 100 MiB buffer cannot fit in 32 MiB: the kernel kills it.
    assert!(
        !stdout.contains("survived") || text(&out.stderr).contains("Killed"),
        "allocation survived: {stdout}"
    );
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let oci = Oci::new();
    let id = unique("pids");
    // A bounded fork loop: 40 background sleeps against a limit of 10, in a
    // subshell, since ash gives up on the first failed fork.
    let mut b = Bundle::new(&["sh", "-c", "(i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done); echo started; f=/sys/fs/cgroup/pids/pids.current; [ -e $f ] || f=/sys/fs/cgroup/pids.current; read n < $f; echo $n"]);
    b.spec["linux"]["resources"]["pids"] = json!({"limit": 10});
    b.spec["linux"]["cgroupsPath"] = json!(format!("/rrun-test/{id}"));
    b.write();
    let out = oci.cmd(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stderr.contains("can't fork") || stderr.contains("Resource temporarily unavailable"),
        "no fork failed: {stderr}"
    );
    let current: u32 = stdout.lines().last().unwrap().trim().parse().unwrap();
    assert!(current <= 10, "pids.current {current} above the limit");
    // The host is fine and nothing is left once run returns.
    let dir = cgroup_dir("pids", &format!("/rrun-test/{id}"));
    assert!(!dir.exists(), "cgroup {} left behind", dir.display());
}

#[test]
fn rlimits_are_applied() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["sh", "-c", "ulimit -n; ulimit -Hn"]);
    b.spec["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]);
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "123\n456\n");
}

#[test]
fn read_only_bind_mount() {
    let oci = Oci::new();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("hello.txt"), "from the host\n").unwrap();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /data/hello.txt; touch /data/new && echo WROTE; echo end",
    ]);
    b.spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data", "type": "bind", "source": host.path(), "options": ["rbind", "ro", "nosuid", "nodev"]
    }));
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("from the host\n"), "{out}");
    assert!(!out.contains("WROTE"), "{out}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(!host.path().join("new").exists());
}

#[test]
fn read_only_root() {
    let oci = Oci::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "touch /etc/x && echo WROTE; touch /dev/shm/ok && echo shm-ok",
    ]);
    b.spec["root"]["readonly"] = json!(true);
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("WROTE") && out.contains("shm-ok"), "{out}");
}

#[test]
fn network_namespace_holds_only_lo() {
    let oci = Oci::new();
    let b = Bundle::new(&["sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1"]);
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["lo"]);
}

#[test]
fn sysctl_is_set_in_the_container_only() {
    let oci = Oci::new();
    let host_before =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap();
    let mut b = Bundle::new(&["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"]);
    b.spec["linux"]["sysctl"] = json!({"net.ipv4.ip_unprivileged_port_start": "80"});
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "80");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap(),
        host_before
    );
}

#[test]
fn exit_status_is_the_containers() {
    let oci = Oci::new();
    let (code, _, _) = oci.run(&Bundle::new(&["sh", "-c", "exit 42"]));
    assert_eq!(code, 42);
    // pid 1 of a pid namespace cannot be killed from inside it, so this one
    // runs without its own pid namespace.
    let mut b = Bundle::new(&["sh", "-c", "kill -9 $$"]);
    b.drop_namespace("pid");
    let (code, _, _) = oci.run(&b);
    assert_eq!(code, 137);
    let (code, _, err) = oci.run(&Bundle::new(&["no-such-program"]));
    assert_ne!(code, 0);
    assert!(err.contains("executable file not found in $PATH"), "{err}");
}

#[test]
fn no_runtime_fd_leaks_into_the_container() {
    let oci = Oci::new();
    // ls opens one directory fd itself (3); nothing else may be there.
    let b = Bundle::new(&["ls", "/proc/self/fd"]);
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    let fds: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "leaked fds: {out}");
}

#[test]
fn cwd_through_proc_self_fd_is_refused() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["pwd"]);
    b.spec["process"]["cwd"] = json!("/proc/self/fd/3");
    let (code, out, err) = oci.run(&b);
    assert_ne!(
        code, 0,
        "container started with cwd in /proc/self/fd: {out}"
    );
    assert!(err.contains("cwd"), "{err}");
}

#[test]
fn lifecycle_create_start_state_kill_delete() {
    let oci = Oci::new();
    let b = Bundle::new(&["sleep", "300"]);
    b.write();
    let id = unique("life");
    let bundle = b.path().to_str().unwrap();
    let pidfile = b.path().join("pid");
    oci.ok(&[
        "create",
        "--bundle",
        bundle,
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
    ]);

    let st = oci.state(&id);
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0 && Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    assert_eq!(st["id"], id.as_str());
    // The user program has not run yet: the init is still the runtime.
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(cmdline.starts_with("rrun-oci\0init"), "{cmdline:?}");

    let dup = oci.cmd(&["create", "--bundle", bundle, &id]);
    assert!(!dup.status.success());
    assert!(
        text(&dup.stderr).contains("already exists"),
        "{}",
        text(&dup.stderr)
    );

    oci.ok(&["start", &id]);
    assert_eq!(oci.state(&id)["status"], "running");
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, "sleep\x00300\x00");

    let again = oci.cmd(&["start", &id]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("cannot start container"),
        "{}",
        text(&again.stderr)
    );

    let del = oci.cmd(&["delete", &id]);
    assert!(!del.status.success());
    assert!(
        text(&del.stderr).contains("container is running"),
        "{}",
        text(&del.stderr)
    );
    assert_eq!(
        oci.state(&id)["status"],
        "running",
        "a refused delete changed the container"
    );

    oci.ok(&["kill", &id, "KILL"]);
    wait_for("container to stop", Duration::from_secs(10), || {
        (oci.state(&id)["status"] == "stopped").then_some(())
    });
    oci.ok(&["delete", &id]);

    let gone = oci.cmd(&["state", &id]);
    assert!(!gone.status.success());
    assert!(
        text(&gone.stderr).contains("does not exist"),
        "{}",
        text(&gone.stderr)
    );
    for args in [
        &["start", &id][..],
        &["kill", &id][..],
        &["delete", &id][..],
    ] {
        let out = oci.cmd(args);
        assert!(
            !out.status.success() && text(&out.stderr).contains("does not exist"),
            "{args:?}"
        );
    }
}

#[test]
fn delete_force_leaves_no_mount_cgroup_or_process() {
    let oci = Oci::new();
    let b = Bundle::new(&["sh", "-c", "sleep 300 & sleep 300"]);
    b.write();
    let id = unique("force");
    let cg = format!("/rrun-test/{id}");
    let mut b = b;
    b.spec["linux"]["cgroupsPath"] = json!(cg);
    b.write();
    oci.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    oci.ok(&["start", &id]);
    let pid = oci.state(&id)["pid"].as_i64().unwrap();
    wait_for("both sleeps", Duration::from_secs(10), || {
        // sh execs its last command, so: sleep (pid 1) and the background one.
        let ps = oci.ok(&["ps", "--format", "json", &id]);
        (serde_json::from_str::<Vec<i64>>(&ps).unwrap().len() >= 2).then_some(())
    });
    let rootfs = b.rootfs().display().to_string();
    oci.ok(&["delete", "--force", &id]);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap()
                .contains(") Z")
    );
    assert!(!cgroup_dir("pids", &cg).exists(), "cgroup left");
    assert!(!cgroup_dir("memory", &cg).exists(), "cgroup left");
    assert!(
        host_mounts_containing(&rootfs).is_empty(),
        "mounts left: {:?}",
        host_mounts_containing(&rootfs)
    );
    assert!(!oci.root.path().join(&id).exists(), "state left");
}

#[test]
fn exec_into_a_running_container() {
    let oci = Oci::new();
    let b = Bundle::new(&["sleep", "300"]);
    b.write();
    let id = oci.run_detached(&b, "exec");
    let out = oci.cmd(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("sleep 300 \n"), "{stdout}");

    // The process.json form, with env and cwd.
    let process = json!({"args": ["sh", "-c", "echo $GREETING; pwd"], "cwd": "/tmp", "env": ["GREETING=hi", "PATH=/bin:/usr/bin"], "user": {"uid": 0, "gid": 0}});
    let pj = b.path().join("process.json");
    std::fs::write(&pj, process.to_string()).unwrap();
    let out = oci.ok(&["exec", "--process", pj.to_str().unwrap(), &id]);
    assert_eq!(out, "hi\n/tmp\n");

    let missing = oci.cmd(&["exec", &id, "no-such-cmd"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("executable file not found"),
        "{}",
        text(&missing.stderr)
    );
    oci.ok(&["delete", "--force", &id]);
}

#[test]
fn init_binary_cannot_be_overwritten_from_the_container() {
    // CVE-2019-5736: while created, the container's pid 1 is the runtime; its
    // /proc/1/exe must lead to a sealed copy, not to the binary on the host.
    let oci = Oci::new();
    let mut b = Bundle::new(&["sleep", "300"]);
    // The worst case: a container allowed to ptrace may read /proc/1/exe.
    let caps = json!(["CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE", "CAP_KILL"]);
    b.spec["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    b.write();
    let id = unique("cve");
    oci.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let before = std::fs::read(bin("rrun-oci")).unwrap();
    let out = oci.cmd(&[
        "exec",
        &id,
        "sh",
        "-c",
        "readlink /proc/1/exe; echo garbage >> /proc/1/exe && echo WROTE",
    ]);
    let stdout = text(&out.stdout);
    // The link is readable (this container may ptrace) but leads to a
    // detached read-only bind (shown as "/") or a sealed memfd: the write
    // fails.
    assert!(
        stdout.starts_with('/'),
        "readlink /proc/1/exe failed: {stdout}"
    );
    assert!(!stdout.contains("WROTE"), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Read-only file system")
            || stderr.contains("Operation not permitted")
            || stderr.contains("Text file busy"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(bin("rrun-oci")).unwrap(), before);
    oci.ok(&["delete", "--force", &id]);
}

fn recv_fd(listener: &std::os::unix::net::UnixListener) -> std::os::fd::OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd};
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .unwrap();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            return unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd received on the console socket");
}

#[test]
fn terminal_through_console_socket() {
    let oci = Oci::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "tty; stty size; ls -l /dev/console; sleep 1; echo done",
    ]);
    b.spec["process"]["terminal"] = json!(true);
    b.spec["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    b.write();
    let sock = b.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let id = unique("tty");
    let receiver = std::thread::spawn(move || recv_fd(&listener));
    oci.ok(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
    ]);
    let master = receiver.join().unwrap();
    oci.ok(&["start", &id]);
    let mut f = std::fs::File::from(master);
    let mut out = Vec::new();
    use std::io::Read;
    let mut buf = [0u8; 1024];
    let output = wait_for("terminal output", Duration::from_secs(15), || {
        match f.read(&mut buf) {
            Ok(n) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => return Some(text(&out)),
        }
        text(&out).contains("done").then(|| text(&out))
    });
    assert!(output.contains("/dev/pts/0"), "{output:?}");
    // /dev/console is the same terminal (devpts major 136).
    assert!(output.contains("136,"), "{output:?}");
    assert!(output.contains("done"), "{output:?}");
    wait_for("container to stop", Duration::from_secs(10), || {
        (oci.state(&id)["status"] == "stopped").then_some(())
    });
    oci.ok(&["delete", &id]);
}

#[test]
fn terminal_without_console_socket_is_refused_for_create() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["sh"]);
    b.spec["process"]["terminal"] = json!(true);
    b.write();
    let id = unique("notty");
    let out = oci.cmd(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("console-socket"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !oci.root.path().join(&id).exists(),
        "a refused create left state"
    );
}

#[test]
fn hooks_get_the_state_on_stdin() {
    let oci = Oci::new();
    let out = tempfile::tempdir().unwrap();
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}/{name}.json", out.path().display())]});
    let mut b = Bundle::new(&["true"]);
    b.spec["hooks"] = json!({
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "createContainer": [hook("createContainer")],
        // Runs inside the container after pivot_root: path and output are the container's.
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/startContainer.json"]}],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")]
    });
    b.write();
    let id = unique("hooks");
    oci.ok(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
    for (name, status) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let p = out.path().join(format!("{name}.json"));
        let v: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&p).unwrap_or_else(|_| panic!("{name} hook did not run")),
        )
        .unwrap();
        assert_eq!(v["id"], id.as_str(), "{name}");
        assert_eq!(v["status"], status, "{name}");
        assert_eq!(
            v["bundle"],
            b.path().canonicalize().unwrap().to_str().unwrap(),
            "{name}"
        );
    }
    let inside: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.rootfs().join("tmp/startContainer.json")).unwrap())
            .unwrap();
    assert_eq!(inside["id"], id.as_str());
    assert_eq!(inside["status"], "created");
}

#[test]
fn failing_hook_fails_create_and_leaves_nothing() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["true"]);
    let marker = b.path().join("poststop.json");
    b.spec["hooks"] = json!({
        "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 7"]}],
        "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}", marker.display())]}]
    });
    let id = unique("badhook");
    b.spec["linux"]["cgroupsPath"] = json!(format!("/rrun-test/{id}"));
    b.write();
    let out = oci.cmd(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("createRuntime hook") && err.contains("nope"),
        "{err}"
    );
    assert!(!oci.root.path().join(&id).exists());
    assert!(!cgroup_dir("pids", &format!("/rrun-test/{id}")).exists());
    // The lifecycle owes the poststop hooks once prestart/createRuntime ran.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&marker).expect("poststop ran")).unwrap();
    assert_eq!(state["status"], "stopped");
}

/// A create that fails after its init started (here the pid file cannot
/// be written) kills the init and removes its cgroup and state: nothing
/// is left waiting on its FIFO.
#[test]
fn a_create_failing_after_the_init_started_leaves_no_process() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["true"]);
    let id = unique("latefail");
    let cgroup = format!("/rrun-test/{id}");
    b.spec["linux"]["cgroupsPath"] = json!(cgroup);
    b.write();
    let pid_file = b.path().join("no/such/dir/pid");
    let out = oci.cmd(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success(), "{}", text(&out.stderr));
    assert!(!oci.root.path().join(&id).exists());
    // The container's processes: any whose cgroup is the container's.
    let inside = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read_to_string(e.path().join("cgroup"))
                    .is_ok_and(|c| c.lines().any(|l| l.ends_with(&cgroup)))
            })
            .count()
    };
    common::wait_for("the init gone", Duration::from_secs(10), || {
        (inside() == 0).then_some(())
    });
    assert!(!cgroup_dir("pids", &cgroup).exists());
}

#[test]
fn hook_timeout_is_enforced() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["true"]);
    b.spec["hooks"] =
        json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    b.write();
    let id = unique("slowhook");
    let start = std::time::Instant::now();
    let out = oci.cmd(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("timed out"),
        "{}",
        text(&out.stderr)
    );
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn user_namespace_with_mappings() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["sh", "-c", "cat /proc/self/uid_map; id -u; ls -l /dev/null"]);
    b.add_namespace("user");
    b.spec["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.spec["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // cgroup v1 cannot be mounted from a user namespace; sysfs is bound.
    b.spec["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "cgroup");
    let sys = b.spec["mounts"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["destination"] == "/sys")
        .unwrap();
    *sys = json!({"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    let first: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(first, ["0", "100000", "65536"], "{out}");
    assert!(out.lines().nth(1) == Some("0"), "{out}");
    assert!(out.contains("/dev/null"), "{out}");
}

#[test]
fn joins_an_existing_namespace_by_path() {
    let oci = Oci::new();
    let first = Bundle::new(&["sleep", "300"]);
    first.write();
    let a = oci.run_detached(&first, "nsa");
    let pid = oci.state(&a)["pid"].as_i64().unwrap();
    let mut second = Bundle::new(&["hostname"]);
    second.spec["hostname"] = serde_json::Value::Null;
    first.spec.get("hostname");
    let ns = second.spec["linux"]["namespaces"].as_array_mut().unwrap();
    for n in ns.iter_mut() {
        if n["type"] == "uts" {
            n["path"] = json!(format!("/proc/{pid}/ns/uts"));
        }
    }
    let (code, out, err) = oci.run(&second);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "rrun", "the joined uts namespace's hostname");
    oci.ok(&["delete", "--force", &a]);
}

#[test]
fn list_ps_and_features() {
    let oci = Oci::new();
    let b = Bundle::new(&["sleep", "300"]);
    b.write();
    let id = oci.run_detached(&b, "list");
    let table = oci.ok(&["list"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("running")),
        "{table}"
    );
    assert_eq!(oci.ok(&["list", "-q"]).trim(), id);
    let ps = oci.ok(&["ps", &id]);
    assert!(ps.lines().any(|l| l.contains("sleep 300")), "{ps}");
    let f: serde_json::Value = serde_json::from_str(&oci.ok(&["features"])).unwrap();
    assert!(f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("user")));
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    oci.ok(&["delete", "--force", &id]);
}

#[test]
fn invalid_bundles_are_refused_with_clear_errors() {
    let oci = Oci::new();
    let mut b = Bundle::new(&[]);
    b.write();
    let out = oci.cmd(&["create", "--bundle", b.path().to_str().unwrap(), "x"]);
    assert!(
        text(&out.stderr).contains("process.args is empty"),
        "{}",
        text(&out.stderr)
    );
    b.spec["process"]["args"] = json!(["true"]);
    b.write();
    let out = oci.cmd(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "../escape",
    ]);
    assert!(
        text(&out.stderr).contains("invalid container id"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        std::fs::read_dir(oci.root.path()).unwrap().next().is_none(),
        "state was created for a refused container"
    );
}

#[test]
fn time_namespace_with_boottime_offset() {
    assert!(
        Path::new("/proc/self/ns/time").exists(),
        "this kernel has time namespaces"
    );
    let oci = Oci::new();
    let mut b = Bundle::new(&["cat", "/proc/uptime"]);
    b.add_namespace("time");
    b.spec["linux"]["timeOffsets"] = json!({"boottime": {"secs": 1_000_000, "nanosecs": 0}});
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    let uptime: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        uptime >= 1_000_000.0 + host - 5.0,
        "uptime {uptime} has no offset (host {host})"
    );
}

#[test]
fn cgroup_namespace_hides_the_host_hierarchy_and_limits_show() {
    let oci = Oci::new();
    let id = unique("cgns");
    let mut b = Bundle::new(&["sh", "-c", "cat /proc/self/cgroup; f=/sys/fs/cgroup/cpu/cpu.cfs_quota_us; [ -e $f ] && cat $f || cut -d' ' -f1 /sys/fs/cgroup/cpu.max"]);
    b.spec["linux"]["resources"]["cpu"] = json!({"quota": 50000, "period": 100000, "shares": 512});
    b.spec["linux"]["cgroupsPath"] = json!(format!("/rrun-test/{id}"));
    b.write();
    let out = oci.cmd(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    // Every hierarchy's path is "/" inside the cgroup namespace.
    assert!(
        lines[..lines.len() - 1].iter().all(|l| l.ends_with(":/")),
        "{stdout}"
    );
    assert_eq!(*lines.last().unwrap(), "50000", "{stdout}");
}

#[test]
fn default_dev_has_the_standard_nodes_and_links() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["sh", "-c", "ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/fuse; ls -l /dev | grep -- '->' | sed 's/.* \\([a-z]*\\) -> \\(.*\\)/\\1 \\2/'"]);
    b.spec["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 432, "uid": 0, "gid": 0}]);
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    for (name, majmin, mode) in [
        ("null", "1,   3", "crw-rw-rw-"),
        ("zero", "1,   5", "crw-rw-rw-"),
        ("full", "1,   7", "crw-rw-rw-"),
        ("random", "1,   8", "crw-rw-rw-"),
        ("urandom", "1,   9", "crw-rw-rw-"),
        ("tty", "5,   0", "crw-rw-rw-"),
        ("fuse", "10, 229", "crw-rw----"),
    ] {
        let line = out
            .lines()
            .find(|l| l.ends_with(&format!("/dev/{name}")))
            .unwrap_or_else(|| panic!("no /dev/{name}: {out}"));
        assert!(
            line.starts_with(mode) && line.contains(majmin),
            "/dev/{name}: {line}"
        );
    }
    for link in [
        "fd /proc/self/fd",
        "stdin /proc/self/fd/0",
        "stdout /proc/self/fd/1",
        "stderr /proc/self/fd/2",
        "ptmx pts/ptmx",
    ] {
        assert!(out.lines().any(|l| l == link), "missing link {link}: {out}");
    }
}

#[test]
fn mount_target_symlink_cannot_escape_the_rootfs() {
    // CVE-2021-30465: a symlink in the image pointing outside must be
    // resolved inside the rootfs, never followed onto the host.
    let oci = Oci::new();
    let outside = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("payload"), "x").unwrap();
    let mut b = Bundle::new(&["ls", "/escape"]);
    std::os::unix::fs::symlink(outside.path(), b.rootfs().join("escape")).unwrap();
    b.spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/escape", "type": "bind", "source": src.path(), "options": ["rbind"]
    }));
    // The link's target does not exist inside the rootfs: refused, clearly.
    let (code, _, err) = oci.run(&b);
    assert_ne!(code, 0);
    assert!(err.contains("/escape"), "{err}");
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());

    // Once it exists inside the rootfs, the mount lands there.
    let inside = b.rootfs().join(outside.path().strip_prefix("/").unwrap());
    std::fs::create_dir_all(&inside).unwrap();
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "payload");
    assert!(host_mounts_containing(outside.path().to_str().unwrap())
        .iter()
        .all(|m| m.contains("rootfs")));
    assert!(
        std::fs::read_dir(outside.path()).unwrap().next().is_none(),
        "the host directory was written"
    );
}

#[test]
fn no_pivot_uses_chroot() {
    let oci = Oci::new();
    let b = Bundle::new(&["sh", "-c", "ls /; echo pid=$$"]);
    b.write();
    let id = unique("nopivot");
    let out = oci.cmd(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("bin\n") && stdout.contains("pid=1"),
        "{stdout}"
    );
}

#[test]
fn umask_and_oom_score_adj() {
    let oci = Oci::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "umask; cat /proc/self/oom_score_adj; touch /tmp/f; stat -c %a /tmp/f",
    ]);
    b.spec["process"]["user"]["umask"] = json!(0o077);
    b.spec["process"]["oomScoreAdj"] = json!(500);
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "0077\n500\n600\n");
}

#[test]
fn exec_with_a_terminal_through_console_socket() {
    let oci = Oci::new();
    let b = Bundle::new(&["sleep", "300"]);
    b.write();
    let id = oci.run_detached(&b, "exectty");
    let sock = b.path().join("exec-console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || recv_fd(&listener));
    oci.ok(&[
        "exec",
        "--tty",
        "--detach",
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
        "sh",
        "-c",
        "tty; echo exec-done; sleep 1",
    ]);
    let mut f = std::fs::File::from(receiver.join().unwrap());
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    use std::io::Read;
    let output = wait_for("exec terminal output", Duration::from_secs(15), || {
        match f.read(&mut buf) {
            Ok(n) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => return Some(text(&out)),
        }
        text(&out).contains("exec-done").then(|| text(&out))
    });
    assert!(output.contains("/dev/pts/"), "{output:?}");
    oci.ok(&["delete", "--force", &id]);
}

#[test]
fn kill_all_reaches_every_process() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["sh", "-c", "trap '' TERM; sleep 300 & sleep 300 & wait"]);
    let id = unique("killall");
    b.spec["linux"]["cgroupsPath"] = json!(format!("/rrun-test/{id}"));
    b.write();
    oci.ok(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    wait_for("three processes", Duration::from_secs(10), || {
        (serde_json::from_str::<Vec<i64>>(&oci.ok(&["ps", "--format", "json", &id]))
            .unwrap()
            .len()
            == 3)
            .then_some(())
    });
    oci.ok(&["kill", "--all", &id, "KILL"]);
    wait_for("stopped", Duration::from_secs(10), || {
        (oci.state(&id)["status"] == "stopped").then_some(())
    });
    oci.ok(&["delete", &id]);
    assert!(!cgroup_dir("pids", &format!("/rrun-test/{id}")).exists());
}

#[test]
fn errors_go_to_the_json_log_as_containerd_reads_it() {
    let oci = Oci::new();
    let log = oci.root.path().join("log.json");
    let out = oci.cmd(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "no-such-container",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
    let line = std::fs::read_to_string(&log).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    // runc's shape: {"level":"error","msg":"...","time":"..."}.
    assert_eq!(v["level"], "error", "{line}");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("container no-such-container does not exist"),
        "{line}"
    );
    assert!(v["time"].as_str().unwrap().ends_with('Z'), "{line}");
}

#[test]
fn device_cgroup_denies_what_no_rule_allows() {
    let oci = Oci::new();
    // Even with CAP_MKNOD, a block device node made inside is unusable;
    // the standard devices work. devices.list is cgroup v1's (on v2 the
    // policy is an eBPF program; scripts/test-vm.sh runs this there).
    let mut b = Bundle::new(&["sh", "-c", "mknod /tmp/loop0 b 7 0 && echo made; head -c1 /tmp/loop0 >/dev/null && echo READ; echo x > /dev/null && echo null-ok; grep -c . /sys/fs/cgroup/devices/devices.list 2>/dev/null; true"]);
    let caps = json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE"]);
    b.spec["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("made\n"), "{out} {err}");
    assert!(!out.contains("READ"), "a block device was readable: {out}");
    assert!(err.contains("Operation not permitted"), "{err}");
    assert!(out.contains("null-ok"), "{out}");
}

#[test]
fn every_requested_namespace_is_a_new_one() {
    let oci = Oci::new();
    let kinds = ["pid", "mnt", "uts", "ipc", "net", "cgroup"];
    let script: String = kinds
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{k}; "))
        .collect();
    let b = Bundle::new(&["sh", "-c", &script]);
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    let inside: Vec<&str> = out.lines().collect();
    assert_eq!(inside.len(), kinds.len(), "{out}");
    for (k, line) in kinds.iter().zip(inside) {
        let host = std::fs::read_link(format!("/proc/self/ns/{k}")).unwrap();
        assert_ne!(line, host.to_str().unwrap(), "{k} namespace is the host's");
    }
}

#[test]
fn rootfs_propagation_is_applied() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"]);
    b.spec["linux"]["rootfsPropagation"] = json!("private");
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert!(!out.trim().is_empty(), "no mount at / in the container");
    // A private mount carries no shared:/master: tag.
    assert!(
        !out.contains("shared:") && !out.contains("master:"),
        "{out}"
    );
    // rshared makes it a peer group of its own: "shared:N".
    b.spec["linux"]["rootfsPropagation"] = json!("rshared");
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("shared:"), "{out}");
}

#[test]
fn cgroup_resources_reach_the_kernel() {
    use std::os::unix::fs::MetadataExt;
    let oci = Oci::new();
    let id = unique("res");
    let cg = format!("/rrun-test/{id}");
    let dev = std::fs::metadata("/").unwrap().dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let mut b = Bundle::new(&["sleep", "300"]);
    b.spec["linux"]["cgroupsPath"] = json!(cg);
    b.spec["linux"]["resources"] = json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": 268435456, "reservation": 134217728},
        "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 64},
        "blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}]}
    });
    b.write();
    oci.ok(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    let read = |ctrl: &str, file: &str| {
        std::fs::read_to_string(cgroup_dir(ctrl, &cg).join(file))
            .unwrap()
            .trim()
            .to_string()
    };
    let pid = oci.state(&id)["pid"].as_i64().unwrap().to_string();
    if !Path::new("/sys/fs/cgroup/memory").exists() {
        // cgroup v2: the same limits under the unified names.
        assert_eq!(read("", "memory.max"), "268435456");
        assert_eq!(read("", "memory.low"), "134217728");
        assert_eq!(read("", "cpu.max"), "20000 100000");
        assert_eq!(read("", "cpuset.cpus"), "0");
        assert_eq!(read("", "pids.max"), "64");
        assert!(read("", "io.max").contains(&format!("{major}:{minor} rbps=1048576")));
        assert!(
            read("", "cgroup.procs").lines().any(|l| l == pid),
            "init not in its cgroup"
        );
        oci.ok(&["delete", "--force", &id]);
        return;
    }
    assert_eq!(read("memory", "memory.limit_in_bytes"), "268435456");
    assert_eq!(read("memory", "memory.soft_limit_in_bytes"), "134217728");
    assert_eq!(read("cpu", "cpu.shares"), "512");
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "20000");
    assert_eq!(read("cpuset", "cpuset.cpus"), "0");
    assert_eq!(read("pids", "pids.max"), "64");
    assert_eq!(
        read("blkio", "blkio.throttle.read_bps_device"),
        format!("{major}:{minor} 1048576")
    );
    assert!(
        read("memory", "cgroup.procs").lines().any(|l| l == pid),
        "init not in its cgroup"
    );
    oci.ok(&["delete", "--force", &id]);
    assert!(!cgroup_dir("memory", &cg).exists());
}

#[test]
fn a_created_container_already_holds_only_its_own_privileges() {
    // runc drops to the container's user and capabilities before `create`
    // returns; nothing privileged waits for `start`.
    let oci = Oci::new();
    let mut b = Bundle::new(&["sleep", "300"]);
    b.spec["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write();
    let id = unique("dropped");
    oci.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let pid = oci.state(&id)["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(field("Uid:"), "1000", "{status}");
    assert_eq!(field("Gid:"), "1000", "{status}");
    assert_eq!(
        u64::from_str_radix(&field("CapBnd:"), 16).unwrap(),
        (1 << 29) | (1 << 5) | (1 << 10)
    );
    oci.ok(&["start", &id]);
    wait_for("sleep to run", Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .ok()
            .filter(|c| c.starts_with("sleep"))
            .map(|_| ())
    });
    oci.ok(&["delete", "--force", &id]);
}

#[test]
fn proc_is_never_mounted_through_a_symlink() {
    // CVE-2019-19921: /proc in the image is a link elsewhere.
    let oci = Oci::new();
    let b = Bundle::new(&["true"]);
    std::fs::remove_dir(b.rootfs().join("proc")).unwrap();
    std::fs::create_dir(b.rootfs().join("fakeproc")).unwrap();
    std::os::unix::fs::symlink("/fakeproc", b.rootfs().join("proc")).unwrap();
    let (code, _, err) = oci.run(&b);
    assert_ne!(code, 0);
    assert!(err.contains("refusing to mount proc on /proc"), "{err}");
}

#[test]
fn cgroup_bind_without_a_cgroup_namespace_is_read_only() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["sh", "-c", "d=/sys/fs/cgroup/pids; [ -d $d ] || d=/sys/fs/cgroup; echo 1 > $d/pids.max && echo WROTE; echo end"]);
    b.drop_namespace("cgroup");
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("WROTE"),
        "the container could change its own limits: {out}"
    );
    assert!(err.contains("Read-only file system"), "{err}");
}

#[test]
fn a_cgroup_with_someone_elses_processes_is_refused() {
    let oci = Oci::new();
    let id = unique("owner");
    let cg = format!("/rrun-test/{id}");
    let mut first = Bundle::new(&["sleep", "300"]);
    first.spec["linux"]["cgroupsPath"] = json!(cg);
    first.write();
    oci.ok(&[
        "run",
        "--detach",
        "--bundle",
        first.path().to_str().unwrap(),
        &id,
    ]);
    let mut second = Bundle::new(&["true"]);
    second.spec["linux"]["cgroupsPath"] = json!(cg);
    second.write();
    let other = unique("intruder");
    let out = oci.cmd(&[
        "create",
        "--bundle",
        second.path().to_str().unwrap(),
        &other,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already holds processes"),
        "{}",
        text(&out.stderr)
    );
    // The first container was not touched by the refused one's clean-up.
    assert_eq!(oci.state(&id)["status"], "running");
    oci.ok(&["delete", "--force", &id]);
}

#[test]
fn a_create_killed_before_saving_its_state_can_be_deleted() {
    let oci = Oci::new();
    let id = unique("halfmade");
    std::fs::create_dir_all(oci.root.path().join(&id)).unwrap();
    oci.ok(&["delete", &id]);
    assert!(!oci.root.path().join(&id).exists());
}

/// The cgroup driver is chosen at create: a systemd `slice:prefix:name`
/// path needs `--systemd-cgroup`, a cgroupfs path refuses it, and without
/// systemd (this host) the systemd driver is refused with the reason;
/// nothing is left behind by any of them. scripts/test-vm.sh runs the
/// driver itself under systemd.
#[test]
fn cgroup_driver_and_path_form_must_agree() {
    let oci = Oci::new();
    let mut b = Bundle::new(&["true"]);
    let id = unique("sdpath");
    b.spec["linux"]["cgroupsPath"] = json!(format!("system.slice:rrun-test:{id}"));
    b.write();
    let bundle = b.path().to_str().unwrap().to_string();
    let out = oci.cmd(&["run", "--bundle", &bundle, &id]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("pass --systemd-cgroup"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !oci.cmd(&["state", &id]).status.success(),
        "state left behind"
    );

    b.spec["linux"]["cgroupsPath"] = json!(format!("/rrun-test/{id}"));
    b.write();
    let out = oci.cmd(&["--systemd-cgroup", "run", "--bundle", &bundle, &id]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("slice:prefix:name"),
        "{}",
        text(&out.stderr)
    );

    if !Path::new("/run/systemd/system").is_dir() {
        b.spec["linux"]["cgroupsPath"] = json!(format!("system.slice:rrun-test:{id}"));
        b.write();
        let out = oci.cmd(&["--systemd-cgroup", "run", "--bundle", &bundle, &id]);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("systemd is not running"),
            "{}",
            text(&out.stderr)
        );
        assert!(
            !oci.cmd(&["state", &id]).status.success(),
            "state left behind"
        );
    }
}

/// A runtime binary (rrun-oci or runc) with a state root of its own; its
/// containers are force-deleted on drop.
struct EventsRuntime {
    bin: std::path::PathBuf,
    root: tempfile::TempDir,
    id: String,
}

impl EventsRuntime {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        let mut full = vec!["--root", self.root.path().to_str().unwrap()];
        full.extend_from_slice(args);
        run_timeout(60, &self.bin, &full, None)
    }
}

impl Drop for EventsRuntime {
    fn drop(&mut self) {
        let _ = self.cmd(&["delete", "--force", &self.id]);
    }
}

/// The container's CPU time in nanoseconds, as its cgroup counts it (v1
/// cpuacct.usage, v2 cpu.stat usage_usec).
fn cgroup_cpu_nanos(cg: &str) -> u64 {
    let v1 = cgroup_dir("cpuacct", cg).join("cpuacct.usage");
    if let Ok(t) = std::fs::read_to_string(&v1) {
        return t.trim().parse().unwrap();
    }
    let stat = std::fs::read_to_string(cgroup_dir("", cg).join("cpu.stat")).unwrap();
    let usec: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    usec * 1000
}

/// `events` of one runtime (`bin`): a container limited to 32 MiB, its
/// `events --stats` against the cgroup's own files, then `events
/// --interval 1s` followed while two processes exec'd into it each run into
/// the limit (dd with a 64 MiB buffer), and until a delete ends the stream.
/// Returns the stream's lines.
fn oom_events(bin: std::path::PathBuf) -> Vec<String> {
    let name = bin.file_name().unwrap().to_string_lossy().into_owned();
    let rt = EventsRuntime {
        bin,
        root: tempfile::Builder::new()
            .prefix("rrun-events-")
            .tempdir()
            .unwrap(),
        id: unique("oomev"),
    };
    let id = rt.id.clone();
    let cg = format!("/rrun-test/{id}");
    let mut b = Bundle::new(&["sleep", "300"]);
    b.spec["linux"]["resources"]["memory"] = json!({"limit": 33554432, "swap": 33554432});
    b.spec["linux"]["cgroupsPath"] = json!(cg);
    b.write();
    let out = rt.cmd(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{name} run: {}", text(&out.stderr));

    // --stats: one event, in runc's units, from the cgroup's files. runc's
    // own child (its init's parent stage) can still be in the cgroup for a
    // moment after `run --detach` returns: asked again until the cgroup
    // holds the container's one process, for 5 s at most.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let (ev, before, after) = loop {
        let before = cgroup_cpu_nanos(&cg);
        let out = rt.cmd(&["events", "--stats", &id]);
        let after = cgroup_cpu_nanos(&cg);
        let ev: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{name} events --stats: {e}: {}", text(&out.stderr)));
        if ev["data"]["pids"]["current"] == 1 || std::time::Instant::now() > deadline {
            break (ev, before, after);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        (ev["type"].as_str(), ev["id"].as_str()),
        (Some("stats"), Some(id.as_str()))
    );
    let d = &ev["data"];
    assert_eq!(d["memory"]["usage"]["limit"], 33554432, "{name}: {ev}");
    assert_eq!(d["pids"]["current"], 1, "{name}: {ev}");
    let total = d["cpu"]["usage"]["total"].as_u64().unwrap();
    assert!(
        (before..=after).contains(&total),
        "{name}: cpu total {total} ns is not between the cgroup's {before} and {after}"
    );

    // The stream, to a file (the events child is bounded by timeout(1)).
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut events = std::process::Command::new("timeout")
        .args(["-k", "5", "60"])
        .arg(&rt.bin)
        .arg("--root")
        .arg(rt.root.path())
        .args(["events", "--interval", "1s", &id])
        .stdin(std::process::Stdio::null())
        .stdout(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let lines = || -> Vec<String> {
        std::fs::read_to_string(log.path())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let want_oom = format!(r#"{{"type":"oom","id":"{id}"}}"#);
    let ooms = |l: &[String]| l.iter().filter(|l| **l == want_oom).count();
    // A stats event first: the stream is up (and watching).
    wait_for("a stats event", Duration::from_secs(20), || {
        lines()
            .iter()
            .any(|l| l.contains(r#""type":"stats""#))
            .then_some(())
    });
    assert_eq!(
        ooms(&lines()),
        0,
        "{name}: an OOM before any: {:?}",
        lines()
    );
    for n in 1..=2 {
        let out = rt.cmd(&[
            "exec",
            &id,
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=64M",
            "count=1",
        ]);
        assert!(!out.status.success(), "{name}: dd fit in 32 MiB");
        let what = format!("{name}: OOM event {n}");
        wait_for(&what, Duration::from_secs(20), || {
            (ooms(&lines()) >= n).then_some(())
        });
    }
    // A delete ends the stream.
    let out = rt.cmd(&["delete", "--force", &id]);
    assert!(out.status.success(), "{name} delete: {}", text(&out.stderr));
    let status = wait_for("events to end", Duration::from_secs(20), || {
        events.try_wait().unwrap()
    });
    assert!(status.success(), "{name} events: {status}: {:?}", lines());
    lines()
}

/// `events` reports the kernel's OOM kills in the container's memory
/// cgroup as runc does (`{"type":"oom","id":…}`, v1 eventfd or v2
/// memory.events), next to its stats; runc runs the same case beside it.
#[test]
fn events_report_oom_kills_and_stats_as_runc_does() {
    for bin in [bin("rrun-oci"), std::path::PathBuf::from("/usr/sbin/runc")] {
        let lines = oom_events(bin);
        for l in &lines {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v["type"] == "stats" || v["type"] == "oom", "{l}");
        }
    }
}
