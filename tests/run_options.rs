//! End-to-end tests of Docker's run options through rrund and rrun:
//! cgroup limits, capabilities, seccomp, privileged, read-only root,
//! ulimits, sysctls, `--init`, restart policies (also across a daemon
//! killed with SIGKILL), and bad values refused before anything exists.
//! Each test has its own daemon ([`common::daemon::Daemon`]).

mod common;

use common::daemon::Daemon;
use common::text;
use std::time::{Duration, Instant};

/// A daemon of the test's own with busybox loaded.
fn daemon() -> Daemon {
    let d = Daemon::start();
    d.load_busybox();
    d
}

fn inspect(d: &Daemon, name: &str) -> serde_json::Value {
    common::daemon::inspect(d, name)
}

/// Polls `f` until it holds; on timeout, fails with the daemon's log.
fn wait_until(d: &Daemon, what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut pause = Duration::from_millis(5);
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n--- rrund log ---\n{}",
            d.log()
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// `rrun run --rm <flags> busybox sh -c <script>`: (exit code, stdout, stderr).
fn sh(d: &Daemon, flags: &[&str], script: &str) -> (i32, String, String) {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    let out = d.rrun(&args);
    (code(&out), text(&out.stdout), text(&out.stderr))
}

fn cap_eff(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap_or_else(|| panic!("no CapEff in {out:?}"))
        .trim()
        .to_string()
}

#[test]
fn limits_are_in_force() {
    let d = daemon();
    // cgroup v2 files first, else the v1 ones (this machine is v1 hybrid).
    let script = r#"
        m=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
        c=$(cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)")
        p=$(cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max)
        echo "$m|$c|$p"
    "#;
    let (rc, out, err) = sh(
        &d,
        &["-m", "64m", "--cpus", "0.5", "--pids-limit", "20"],
        script,
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(out.trim(), "67108864|50000 100000|20", "{err}");

    let (rc, out, err) = sh(
        &d,
        &["--cpu-quota", "20000", "--cpu-period", "50000"],
        script,
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.trim().ends_with("|20000 50000|max"), "{out}");

    let script = r#"
        s=$(cat /sys/fs/cgroup/cpu.weight 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.shares)
        cs=$(cat /sys/fs/cgroup/cpuset.cpus 2>/dev/null || cat /sys/fs/cgroup/cpuset/cpuset.cpus)
        r=$(cat /sys/fs/cgroup/memory.low 2>/dev/null || cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes)
        echo "$s|$cs|$r"
    "#;
    let (rc, out, err) = sh(
        &d,
        &[
            "-c",
            "512",
            "--cpuset-cpus",
            "0",
            "--memory-reservation",
            "32m",
        ],
        script,
    );
    assert_eq!(rc, 0, "{out}{err}");
    // cgroup v1 shares, or the v2 weight libcgroups converts them to.
    assert!(
        ["512|0|33554432", "20|0|33554432"].contains(&out.trim()),
        "{out}"
    );

    // The pids limit stops forks.
    let (_, out, err) = sh(
        &d,
        &["--pids-limit", "4"],
        "for i in 1 2 3 4 5 6 7 8; do sleep 30 & done; echo done",
    );
    assert!(
        (out + &err).contains("fork"),
        "8 forks under a limit of 4 should fail"
    );
}

#[test]
fn capabilities_default_add_drop_and_privileged() {
    let d = daemon();
    let status = "grep CapEff /proc/self/status";
    let (rc, out, err) = sh(&d, &[], status);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(cap_eff(&out), "00000000a80425fb");
    let (_, out, _) = sh(&d, &["--cap-drop", "ALL", "--cap-add", "net_raw"], status);
    assert_eq!(cap_eff(&out), "0000000000002000");
    let (_, out, _) = sh(
        &d,
        &["--cap-add", "CAP_SYS_ADMIN", "--cap-drop", "chown"],
        status,
    );
    assert_eq!(cap_eff(&out), "00000000a82425fa");

    // Privileged: every capability rrund holds, no seccomp, no masked
    // paths, the host's devices.
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = ours
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string();
    let (rc, out, err) = sh(
        &d,
        &["--privileged"],
        "grep CapEff /proc/self/status; ls /dev | wc -l; unshare -U true && echo unshared; \
         head -c1 /proc/timer_list | wc -c",
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(cap_eff(&out), bounding);
    let lines: Vec<&str> = out.lines().collect();
    let ndev: usize = lines[1].trim().parse().unwrap();
    assert!(ndev > 20, "privileged /dev has only {ndev} entries");
    assert_eq!(lines[2], "unshared");
    assert_eq!(
        lines[3].trim(),
        "1",
        "/proc/timer_list is not masked when privileged"
    );

    // Not privileged: /proc/timer_list (masked) reads as empty.
    let (_, out, _) = sh(&d, &[], "head -c1 /proc/timer_list | wc -c");
    assert_eq!(out.trim(), "0");
}

#[test]
fn seccomp_default_unconfined_custom_and_no_new_privileges() {
    let d = daemon();
    let (rc, out, err) = sh(&d, &[], "unshare -U true");
    assert_ne!(rc, 0, "unshare passed Docker's default profile: {out}");
    assert!(err.contains("Operation not permitted"), "{err}");
    let (rc, _, err) = sh(
        &d,
        &["--security-opt", "seccomp=unconfined"],
        "unshare -U true",
    );
    assert_eq!(rc, 0, "{err}");

    // A profile file in Docker's format, sent by the CLI.
    let opt = d.no_mkdir_seccomp_opt();
    let (rc, _, err) = sh(&d, &["--security-opt", &opt], "mkdir /tmp/x");
    assert_ne!(rc, 0);
    assert!(err.contains("Operation not permitted"), "{err}");
    let (rc, _, err) = sh(&d, &["--security-opt", &opt], "unshare -U true");
    assert_eq!(rc, 0, "{err}");

    let nnp = "grep NoNewPrivs /proc/self/status";
    let (_, out, _) = sh(&d, &[], nnp);
    assert!(out.contains('0'), "{out}");
    let (_, out, _) = sh(&d, &["--security-opt", "no-new-privileges"], nnp);
    assert!(out.contains('1'), "{out}");
}

#[test]
fn read_only_ulimits_sysctls_and_shm() {
    let d = daemon();
    let (rc, out, err) = sh(&d, &["--read-only"], "touch /x");
    assert_ne!(rc, 0, "{out}");
    assert!(err.contains("Read-only file system"), "{err}");
    let (rc, _, err) = sh(&d, &[], "touch /x");
    assert_eq!(rc, 0, "{err}");

    let (rc, out, err) = sh(&d, &["--ulimit", "nofile=123:456"], "ulimit -n; ulimit -Hn");
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out, "123\n456\n");

    let (rc, out, err) = sh(
        &d,
        &["--sysctl", "net.ipv4.ip_forward=1"],
        "cat /proc/sys/net/ipv4/ip_forward",
    );
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out.trim(), "1");

    let (_, out, _) = sh(&d, &[], "grep ' /dev/shm ' /proc/mounts");
    assert!(out.contains("size=65536k"), "{out}");
    let (_, out, _) = sh(&d, &["--shm-size", "1m"], "grep ' /dev/shm ' /proc/mounts");
    assert!(out.contains("size=1024k"), "{out}");

    let (_, out, _) = sh(
        &d,
        &["--oom-score-adj", "300"],
        "cat /proc/self/oom_score_adj",
    );
    assert_eq!(out.trim(), "300");
    let (_, out, _) = sh(&d, &["--group-add", "10", "--group-add", "audio"], "id -G");
    assert!(out.contains("10") && out.contains("29"), "{out}");
}

#[test]
fn devices_and_stop_options() {
    let d = daemon();
    let (rc, out, err) = sh(
        &d,
        &["--device", "/dev/null:/dev/mynull"],
        "echo hi > /dev/mynull && stat -c '%t,%T %F' /dev/mynull",
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(out.trim(), "1,3 character special file");
    // Permissions narrower than rwm hold in the device cgroup.
    let (rc, out, err) = sh(
        &d,
        &["--device", "/dev/fuse:/dev/fuse:rwm"],
        ": > /dev/fuse && echo opened",
    );
    assert_eq!((rc, out.trim()), (0, "opened"), "{err}");
    let (rc, _, err) = sh(&d, &["--device", "/dev/fuse:/dev/fuse:r"], ": > /dev/fuse");
    assert_ne!(rc, 0);
    assert!(err.contains("Operation not permitted"), "{err}");
    let (rc, _, err) = sh(
        &d,
        &["--device", "/dev/fuse:/dev/fuse:r"],
        "head -c0 /dev/fuse",
    );
    assert_eq!(rc, 0, "{err}");
    let out = d.rrun(&["run", "--rm", "--device", "/etc/passwd", "busybox", "true"]);
    assert_eq!(code(&out), 125, "a regular file is not a device");

    // `sleep` as pid 1 ignores SIGTERM: the stop timeout decides.
    let name = common::unique("stopt-");
    d.ok(&[
        "run",
        "-d",
        "--stop-timeout",
        "1",
        "--name",
        &name,
        "busybox",
        "sleep",
        "1000",
    ]);
    let t = Instant::now();
    d.ok(&["stop", &name]);
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!(inspect(&d, &name)["State"]["ExitCode"], 137);
    assert_eq!(inspect(&d, &name)["Config"]["StopTimeout"], 1);

    // A stop signal the program dies of ends it at once.
    let name = common::unique("stops-");
    d.ok(&[
        "run",
        "-d",
        "--stop-signal",
        "SIGKILL",
        "--name",
        &name,
        "busybox",
        "sleep",
        "1000",
    ]);
    let t = Instant::now();
    d.ok(&["stop", "-t", "30", &name]);
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!(inspect(&d, &name)["Config"]["StopSignal"], "SIGKILL");
}

/// Children of `pid` on the host that are zombies.
fn zombie_children(pid: i32) -> Vec<i32> {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    children
        .split_whitespace()
        .filter_map(|c| c.parse::<i32>().ok())
        .filter(|c| {
            std::fs::read_to_string(format!("/proc/{c}/stat"))
                .map(|s| {
                    s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z')
                })
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn init_reaps_forwards_signals_and_passes_the_exit_code() {
    let d = daemon();
    let (rc, out, err) = sh(
        &d,
        &["--init"],
        "tr '\\0' ' ' < /proc/1/cmdline; echo; exit 7",
    );
    assert_eq!(rc, 7, "{out}{err}");
    assert!(out.starts_with("/sbin/docker-init -- sh -c"), "{out}");

    // An orphan re-parented to pid 1 is reaped.
    let name = common::unique("init-");
    d.ok(&[
        "run",
        "-d",
        "--init",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "(sleep 0.2 &); exec sleep 1000",
    ]);
    let pid = inspect(&d, &name)["State"]["Pid"].as_i64().unwrap() as i32;
    assert!(pid > 0);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(text(&cmdline).starts_with("/sbin/docker-init"));
    // The orphan ends after 0.2 s; once it has, no zombie may stay.
    let started = Instant::now();
    wait_until(&d, "the orphan to be reaped", 10, || {
        started.elapsed() > Duration::from_secs(1) && zombie_children(pid).is_empty()
    });

    // SIGTERM reaches `sleep` through the reaper: no 10 s wait for SIGKILL.
    let t = Instant::now();
    d.ok(&["stop", "-t", "10", &name]);
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!(inspect(&d, &name)["State"]["ExitCode"], 143);
}

fn state(d: &Daemon, name: &str) -> (String, i64, i64) {
    let v = inspect(d, name);
    (
        v["State"]["Status"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        v["RestartCount"].as_i64().unwrap_or(-1),
        v["State"]["ExitCode"].as_i64().unwrap_or(-1),
    )
}

#[test]
fn restart_policies_on_failure_always_and_stop() {
    let d = daemon();
    let name = common::unique("onfail-");
    d.ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:2",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logs = d.ok(&["logs", &name]);
        let (status, count, exit) = state(&d, &name);
        if logs.lines().count() == 3 && status == "exited" && count == 2 && exit == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "on-failure:2 did not run three times: {status} {count} {exit}, logs {logs:?}\n--- rrund log ---\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        inspect(&d, &name)["HostConfig"]["RestartPolicy"]["Name"],
        "on-failure"
    );

    // on-failure does not restart a success.
    let ok_name = common::unique("onfail-ok-");
    d.ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure",
        "--name",
        &ok_name,
        "busybox",
        "true",
    ]);
    wait_until(&d, "the success to be recorded", 20, || {
        state(&d, &ok_name) == ("exited".into(), 0, 0)
    });

    let always = common::unique("always-");
    d.ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--name",
        &always,
        "busybox",
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    wait_until(&d, "always to restart twice", 20, || {
        state(&d, &always).1 >= 2
    });
    d.ok(&["stop", "-t", "1", &always]);
    let (status, count, _) = state(&d, &always);
    assert_eq!(status, "exited");
    // Stopped for good: no further run within a few back-off periods.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let (s, c, _) = state(&d, &always);
        assert_eq!((s.as_str(), c), ("exited", count), "restarted after stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    // So does a kill by the user (unless-stopped alike).
    let killed = common::unique("killed-");
    d.ok(&[
        "run",
        "-d",
        "--restart",
        "unless-stopped",
        "--name",
        &killed,
        "busybox",
        "sleep",
        "1000",
    ]);
    d.ok(&["kill", &killed]);
    wait_until(&d, "the kill to be recorded", 20, || {
        state(&d, &killed).0 == "exited"
    });
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        assert_eq!(state(&d, &killed).0, "exited", "restarted after kill");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A start by the user resets the count and the policy applies again.
    d.ok(&["start", &always]);
    wait_until(&d, "always to restart after start", 20, || {
        state(&d, &always).1 >= 1
    });
}

#[test]
fn always_container_comes_back_after_daemon_and_shim_are_killed() {
    let mut d = daemon();
    let name = common::unique("back-");
    d.ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--name",
        &name,
        "busybox",
        "sleep",
        "1000",
    ]);
    let keep = common::unique("keep-");
    d.ok(&[
        "run",
        "-d",
        "--restart",
        "unless-stopped",
        "--name",
        &keep,
        "busybox",
        "sleep",
        "1000",
    ]);
    let stopped_always = common::unique("stopped-always-");
    d.ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--name",
        &stopped_always,
        "busybox",
        "sleep",
        "1000",
    ]);
    d.ok(&["stop", "-t", "0", &stopped_always]);
    let stopped_unless = common::unique("stopped-unless-");
    d.ok(&[
        "run",
        "-d",
        "--restart",
        "unless-stopped",
        "--name",
        &stopped_unless,
        "busybox",
        "sleep",
        "1000",
    ]);
    d.ok(&["stop", "-t", "0", &stopped_unless]);
    let v = inspect(&d, &name);
    let pid = v["State"]["Pid"].as_i64().unwrap() as i32;
    let keep_pid = inspect(&d, &keep)["State"]["Pid"].as_i64().unwrap() as i32;
    let shim: i32 = std::fs::read_to_string(
        d.data_root()
            .join("containers")
            .join(v["Id"].as_str().unwrap())
            .join("shim.pid"),
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    d.kill9();
    // The shim dies with its container while no daemon runs.
    for p in [shim, pid] {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    wait_until(&d, "the shim to be gone", 10, || {
        !std::path::Path::new(&format!("/proc/{shim}")).exists()
            || std::fs::read_to_string(format!("/proc/{shim}/stat"))
                .is_ok_and(|s| s.contains(") Z"))
    });
    d.spawn();
    wait_until(&d, "the always container to run again", 30, || {
        let v = inspect(&d, &name);
        let new_pid = v["State"]["Pid"].as_i64().unwrap_or(0) as i32;
        v["State"]["Running"] == true && new_pid > 0 && new_pid != pid
    });
    // The unless-stopped one survived with its shim and is re-adopted as is.
    let v = inspect(&d, &keep);
    assert_eq!(v["State"]["Running"], true);
    assert_eq!(v["State"]["Pid"].as_i64().unwrap() as i32, keep_pid);
    assert_eq!(v["RestartCount"], 0);
    // As Docker: a daemon start starts `always` containers even after the
    // user's stop, and leaves stopped `unless-stopped` ones alone.
    wait_until(&d, "the stopped always container to run", 30, || {
        inspect(&d, &stopped_always)["State"]["Running"] == true
    });
    assert_eq!(state(&d, &stopped_unless).0, "exited");
}

#[test]
fn bad_values_are_refused_and_nothing_is_created() {
    let d = daemon();
    let cases: &[(&[&str], &str)] = &[
        (&["--memory", "1x"], "invalid size: '1x'"),
        (
            &["--restart", "bogus"],
            "invalid restart policy: unknown policy 'bogus'",
        ),
        (&["--cpus", "-1"], "Range of CPUs is from 0.01 to"),
        (&["--cap-add", "NOPE"], "unknown capability: \"CAP_NOPE\""),
        (
            &["--ulimit", "nofile=3:2"],
            "ulimit soft limit must be less than or equal to hard limit",
        ),
        (&["--sysctl", "kernel.hostname=x"], "is not allowed"),
        (&["-m", "1k"], "Minimum memory limit allowed is 6MB"),
        (
            &["--rm", "--restart", "always"],
            "can't create 'AutoRemove' container with restart policy",
        ),
    ];
    for (flags, msg) in cases {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let out = d.rrun(&args);
        assert_eq!(code(&out), 125, "{flags:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(msg),
            "{flags:?}: {:?} lacks {msg:?}",
            text(&out.stderr)
        );
    }
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
}

/// A container the kernel's OOM killer ends exits 137 with
/// `State.OOMKilled` true (the shim reads the memory cgroup's oom_kill
/// count: memory.oom_control on this v1 host, memory.events on v2, which
/// scripts/test-vm.sh covers); one that just exits says false.
#[test]
fn oom_kill_is_reported() {
    let d = daemon();
    let out = d.rrun(&[
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(
        code(&out),
        137,
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let state = &inspect(&d, "hog")["State"];
    assert_eq!(state["ExitCode"], 137, "{state}");
    assert_eq!(state["OOMKilled"], true, "{state}");
    let out = d.rrun(&["run", "--name", "fine", "busybox", "true"]);
    assert_eq!(code(&out), 0);
    assert_eq!(inspect(&d, "fine")["State"]["OOMKilled"], false);
}

/// `--pid`, `--ipc` and `--uts host` share the host's namespaces (and the
/// host's /dev/shm); without them each is the container's own. Bad modes
/// are refused at create.
#[test]
fn host_pid_ipc_and_uts_namespaces() {
    let d = daemon();
    let ns = |kind: &str| std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
    let script = "for n in pid ipc uts; do readlink /proc/self/ns/$n; done; hostname";
    let host_name = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let want_host = format!(
        "{}\n{}\n{}\n{host_name}\n",
        ns("pid").display(),
        ns("ipc").display(),
        ns("uts").display()
    );
    let (c, out, err) = sh(
        &d,
        &["--pid", "host", "--ipc", "host", "--uts", "host"],
        script,
    );
    assert_eq!((c, out.as_str()), (0, want_host.as_str()), "{err}");
    let (c, out, err) = sh(&d, &[], script);
    assert_eq!(c, 0, "{err}");
    for (line, kind) in out.lines().zip(["pid", "ipc", "uts"]) {
        assert_ne!(
            line,
            ns(kind).to_str().unwrap(),
            "{kind} is the container's own: {out}"
        );
    }
    // The host's /dev/shm with --ipc host.
    let marker = format!("/dev/shm/{}", common::unique("rrun-shm"));
    std::fs::write(&marker, "host\n").unwrap();
    let (c, out, _) = sh(&d, &["--ipc", "host"], &format!("cat {marker}"));
    std::fs::remove_file(&marker).unwrap();
    assert_eq!((c, out.as_str()), (0, "host\n"));
    // The docker CLI sends the same fields.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--pid",
        "host",
        "busybox",
        "readlink",
        "/proc/self/ns/pid",
    ]);
    assert_eq!(out.trim(), ns("pid").to_str().unwrap());
    d.ok(&[
        "create", "--name", "hostpid", "--pid", "host", "busybox", "true",
    ]);
    let v = inspect(&d, "hostpid");
    assert_eq!(v["HostConfig"]["PidMode"], "host");
    assert_eq!(v["HostConfig"]["IpcMode"], "private");
    assert_eq!(v["HostConfig"]["UTSMode"], "");
    // Bad modes: 125, Docker's words, nothing made.
    for (flags, want) in [
        (vec!["--pid", "bogus"], "invalid PID mode: bogus"),
        (vec!["--ipc", "weird"], "invalid IPC mode: weird"),
        (
            vec!["--uts", "host", "-h", "web"],
            "conflicting options: hostname and the UTS mode",
        ),
    ] {
        let mut args = vec!["run", "--name", "badns"];
        args.extend(flags);
        args.extend(["busybox", "true"]);
        let out = d.rrun(&args);
        assert_eq!(code(&out), 125, "{args:?}");
        assert!(
            text(&out.stderr).contains(want),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!d
            .ok(&["ps", "-a", "--format", "{{.Names}}"])
            .contains("badns"));
    }
}

/// `--log-driver local` (json-file's format with local's defaults),
/// `max-file` alone accepted, and an unknown driver in Docker's words.
#[test]
fn log_drivers_local_and_unknown() {
    let d = daemon();
    d.ok(&[
        "run",
        "--name",
        "loc",
        "--log-driver",
        "local",
        "busybox",
        "echo",
        "kept",
    ]);
    assert_eq!(d.ok(&["logs", "loc"]), "kept\n");
    let v = inspect(&d, "loc");
    assert_eq!(v["HostConfig"]["LogConfig"]["Type"], "local");
    assert_eq!(v["HostConfig"]["LogConfig"]["Config"]["max-size"], "20m");
    d.ok(&["run", "--rm", "--log-opt", "max-file=3", "busybox", "true"]);
    let out = d.rrun(&[
        "run",
        "--name",
        "badlog",
        "--log-driver",
        "bogus",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&out), 125);
    assert!(
        text(&out.stderr).contains("logger: no log driver named 'bogus' is registered"),
        "{}",
        text(&out.stderr)
    );
    let out = d.docker(
        &[
            "run",
            "--name",
            "badlog",
            "--log-driver",
            "syslog",
            "busybox",
            "true",
        ],
        None,
    );
    assert!(
        text(&out.stderr).contains("not supported by rrun yet"),
        "{}",
        text(&out.stderr)
    );
    assert!(!d
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .contains("badlog"));
}

/// `--log-driver none`: attach still shows the output, `logs` answers
/// Docker's refusal, options are refused, inspect shows the driver.
#[test]
fn log_driver_none_attaches_but_keeps_no_readable_log() {
    let d = daemon();
    let out = d.ok(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "seen-attached",
    ]);
    assert_eq!(out, "seen-attached\n");
    let logs = d.docker(&["logs", "quiet"], None);
    assert_ne!(code(&logs), 0);
    assert!(
        text(&logs.stderr).contains("configured logging driver does not support reading"),
        "{}",
        text(&logs.stderr)
    );
    let v = inspect(&d, "quiet");
    assert_eq!(v["HostConfig"]["LogConfig"]["Type"], "none");
    assert_eq!(
        v["HostConfig"]["LogConfig"]["Config"],
        serde_json::json!({})
    );
    let out = d.rrun(&[
        "run",
        "--name",
        "noneopts",
        "--log-driver",
        "none",
        "--log-opt",
        "max-size=1m",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&out), 125);
    assert!(
        text(&out.stderr).contains("unknown log opt 'max-size' for none log driver"),
        "{}",
        text(&out.stderr)
    );
    assert!(!d
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .contains("noneopts"));
}

/// `--pid container:x` and `--ipc container:x`: the other container's
/// processes and shared memory are seen; IPC only from a `shareable`
/// donor, and a missing one makes nothing.
#[test]
fn pid_and_ipc_join_another_container() {
    let d = daemon();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "donor",
        "--ipc",
        "shareable",
        "busybox",
        "sleep",
        "4242",
    ]);
    let ps = d.ok(&[
        "run",
        "--rm",
        "--pid",
        "container:donor",
        "busybox",
        "ps",
        "-o",
        "args",
    ]);
    assert!(ps.lines().any(|l| l.trim() == "sleep 4242"), "{ps}");
    d.ok(&[
        "run",
        "--rm",
        "--ipc",
        "container:donor",
        "busybox",
        "sh",
        "-c",
        "echo shared > /dev/shm/note",
    ]);
    assert_eq!(d.ok(&["exec", "donor", "cat", "/dev/shm/note"]), "shared\n");
    let theirs = d.ok(&["exec", "donor", "readlink", "/proc/self/ns/ipc"]);
    let ours = d.ok(&[
        "run",
        "--rm",
        "--ipc",
        "container:donor",
        "busybox",
        "readlink",
        "/proc/self/ns/ipc",
    ]);
    assert_eq!(ours, theirs);

    d.ok(&["run", "-d", "--name", "private", "busybox", "sleep", "300"]);
    let out = d.rrun(&[
        "run",
        "--rm",
        "--ipc",
        "container:private",
        "busybox",
        "true",
    ]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("non-shareable IPC"),
        "{}",
        text(&out.stderr)
    );
    let out = d.rrun(&[
        "create",
        "--name",
        "lonely",
        "--pid",
        "container:nosuch",
        "busybox",
    ]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("No such container: nosuch"),
        "{}",
        text(&out.stderr)
    );
    assert!(!d
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .contains("lonely"));
    // The shareable /dev/shm is the daemon's mount, and goes with its container.
    let root = d.data_root().display().to_string();
    let shm_mounts = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&root) && l.contains("/shm "))
            .count()
    };
    assert_eq!(shm_mounts(), 1);
    d.ok(&["rm", "-f", "donor"]);
    assert_eq!(shm_mounts(), 0);
}

/// A user's bind on /dev/shm replaces the default tmpfs (it used to get the
/// tmpfs's options and fail).
#[test]
fn a_bind_on_dev_shm_is_the_users() {
    let d = daemon();
    let host = tempfile::tempdir().unwrap();
    let bind = format!("{}:/dev/shm", host.path().display());
    d.ok(&[
        "run",
        "--rm",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "echo mine > /dev/shm/f",
    ]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("f")).unwrap(),
        "mine\n"
    );
}

/// A tmpfs of the test's own under /tmp, private to start with; unmounted
/// (with whatever propagated onto it) and removed on drop.
struct HostMount(std::path::PathBuf);

impl HostMount {
    fn new() -> HostMount {
        let dir = std::path::PathBuf::from("/tmp").join(common::unique("rrun-prop"));
        std::fs::create_dir_all(&dir).unwrap();
        let m = HostMount(dir);
        m.mount(&["-t", "tmpfs", "tmpfs", m.path()]);
        m.mount(&["--make-private", m.path()]);
        m
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    fn mount(&self, args: &[&str]) {
        let out = common::run_timeout(10, std::path::Path::new("mount"), args, None);
        assert!(
            out.status.success(),
            "mount {args:?}: {}",
            text(&out.stderr)
        );
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = common::run_timeout(
            10,
            std::path::Path::new("umount"),
            &["-R", "-l", self.path()],
            None,
        );
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bind propagation as Docker's: `rshared` needs the source on a shared
/// mount and `rslave` on a shared or slave one (Docker's message
/// otherwise, nothing created); a mount made inside an `rshared` bind
/// shows on the host, one made on the host shows inside an `rslave` bind
/// and not inside a default (`rprivate`) one.
#[test]
fn bind_propagation_is_applied_and_checked() {
    let d = daemon();
    let host = HostMount::new();
    let dir = host.path();
    for (mode, msg) in [
        ("rshared", "but it is not a shared mount"),
        ("rslave", "but it is not a shared or slave mount"),
    ] {
        let out = d.rrun(&["run", "-v", &format!("{dir}:/m:{mode}"), "busybox", "true"]);
        assert_eq!(code(&out), 125, "{mode}: {}", text(&out.stderr));
        let want = format!("path {dir} is mounted on {dir} {msg}");
        assert!(
            text(&out.stderr).contains(&want),
            "{mode}: {:?} lacks {want:?}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        d.ok(&["ps", "-aq"]).trim(),
        "",
        "a refused run left a container"
    );

    host.mount(&["--make-shared", dir]);
    let private = d.ok(&[
        "run",
        "-d",
        "-v",
        &format!("{dir}:/m"),
        "busybox",
        "sleep",
        "60",
    ]);
    let slave = d.ok(&[
        "run",
        "-d",
        "-v",
        &format!("{dir}:/m:rslave"),
        "busybox",
        "sleep",
        "60",
    ]);
    let shared = d.ok(&[
        "run",
        "-d",
        "--privileged",
        "--mount",
        &format!("type=bind,source={dir},target=/m,bind-propagation=rshared"),
        "busybox",
        "sh",
        "-c",
        "mkdir -p /m/in && mount -t tmpfs none /m/in && echo from-container > /m/in/f && sleep 60",
    ]);
    let (slave, private) = (slave.trim(), private.trim());
    let seen = format!("{dir}/in/f");
    wait_until(&d, "the container's mount on the host", 20, || {
        std::fs::read_to_string(&seen).is_ok_and(|s| s == "from-container\n")
    });
    assert_eq!(
        inspect(&d, shared.trim())["Mounts"][0]["Propagation"],
        "rshared"
    );

    let sub = format!("{dir}/out");
    std::fs::create_dir(&sub).unwrap();
    host.mount(&["-t", "tmpfs", "tmpfs", &sub]);
    std::fs::write(format!("{sub}/g"), "from-host\n").unwrap();
    assert_eq!(d.ok(&["exec", slave, "cat", "/m/out/g"]), "from-host\n");
    let out = d.rrun(&["exec", private, "cat", "/m/out/g"]);
    assert_ne!(
        code(&out),
        0,
        "an rprivate bind saw a host mount made after its start"
    );
    d.ok(&["rm", "-f", slave, private, shared.trim()]);
}

/// A disk of this machine for the block IO options: its /dev path and
/// `major:minor` (from /sys/block, loop and ram devices last).
fn a_disk() -> (String, String) {
    use std::os::unix::fs::FileTypeExt;
    let mut disks: Vec<(String, String)> = std::fs::read_dir("/sys/block")
        .expect("/sys/block")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let num = std::fs::read_to_string(e.path().join("dev")).ok()?;
            let dev = format!("/dev/{name}");
            let md = std::fs::metadata(&dev).ok()?;
            md.file_type()
                .is_block_device()
                .then(|| (dev, num.trim().to_string()))
        })
        .collect();
    disks.sort_by_key(|(d, _)| {
        ["/dev/loop", "/dev/ram", "/dev/zram"]
            .iter()
            .any(|p| d.starts_with(p))
    });
    disks
        .into_iter()
        .next()
        .expect("this test needs a block device in /sys/block with its node in /dev")
}

/// Whether this host's cgroups can apply a block IO weight (cgroup v2's io
/// controller, v1's blkio.weight or blkio.bfq.weight), as dockerd checks.
fn io_weight_supported() -> bool {
    let root = std::path::Path::new("/sys/fs/cgroup");
    match std::fs::read_to_string(root.join("cgroup.controllers")) {
        Ok(c) => c.split_whitespace().any(|c| c == "io"),
        Err(_) => ["blkio.weight", "blkio.bfq.weight"]
            .iter()
            .any(|f| root.join("blkio").join(f).exists()),
    }
}

#[test]
fn block_io_limits_are_in_force() {
    let d = daemon();
    let (dev, num) = a_disk();
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    // The container's own cgroup, as it sees it: v2's io.max, else v1's
    // four throttle files.
    let script = r#"
        if [ -f /sys/fs/cgroup/io.max ]; then cat /sys/fs/cgroup/io.max; else
        for f in read_bps write_bps read_iops write_iops; do
            cat /sys/fs/cgroup/blkio/blkio.throttle.${f}_device; done; fi"#;
    let flags = [
        "--device-read-bps",
        &format!("{dev}:1mb"),
        "--device-write-bps",
        &format!("{dev}:2mb"),
        "--device-read-iops",
        &format!("{dev}:100"),
        "--device-write-iops",
        &format!("{dev}:200"),
    ];
    let (rc, out, err) = sh(&d, &flags, script);
    assert_eq!(rc, 0, "{out}{err}");
    let want = if v2 {
        format!("{num} rbps=1048576 wbps=2097152 riops=100 wiops=200")
    } else {
        format!("{num} 1048576\n{num} 2097152\n{num} 100\n{num} 200")
    };
    assert_eq!(out.trim(), want, "{err}");

    // Inspect shows what was asked, with Docker's keys.
    let mut args = vec!["create", "--name", "io"];
    args.extend_from_slice(&flags);
    args.extend_from_slice(&["busybox", "sleep", "60"]);
    d.ok(&args);
    let h = &inspect(&d, "io")["HostConfig"];
    assert_eq!(
        h["BlkioDeviceReadBps"],
        serde_json::json!([{"Path": dev, "Rate": 1048576}])
    );
    assert_eq!(h["BlkioDeviceWriteIOps"][0]["Rate"], 200, "{h}");
    assert_eq!(h["BlkioWeight"], 0, "{h}");

    // The weight: in force where the host can apply it (v1's blkio.weight
    // or BFQ's, v2's io.weight from 10–1000 scaled to 1–10000), else
    // dropped with Docker's warning; `update` changes it.
    let weight = r#"cat /sys/fs/cgroup/io.bfq.weight /sys/fs/cgroup/io.weight \
        /sys/fs/cgroup/blkio/blkio.weight /sys/fs/cgroup/blkio/blkio.bfq.weight 2>/dev/null | head -1"#;
    let (rc, out, err) = sh(&d, &["--blkio-weight", "300"], weight);
    assert_eq!(rc, 0, "{out}{err}");
    if io_weight_supported() {
        assert!(
            ["300", "default 300", "default 2930"].contains(&out.trim()),
            "{out}"
        );
    } else {
        assert!(
            err.contains("WARNING: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."),
            "{err}"
        );
    }
    d.ok(&["run", "-d", "--name", "wgt", "busybox", "sleep", "60"]);
    let up = d.rrun(&["update", "--blkio-weight", "500", "wgt"]);
    assert_eq!(code(&up), 0, "{}", text(&up.stderr));
    if io_weight_supported() {
        assert_eq!(inspect(&d, "wgt")["HostConfig"]["BlkioWeight"], 500);
        let out = d.ok(&["exec", "wgt", "sh", "-c", weight]);
        assert!(
            ["500", "default 500", "default 4950"].contains(&out.trim()),
            "{out}"
        );
    } else {
        assert!(
            text(&up.stderr).contains("Weight discarded"),
            "{}",
            text(&up.stderr)
        );
        assert_eq!(inspect(&d, "wgt")["HostConfig"]["BlkioWeight"], 0);
    }
    d.ok(&["rm", "-f", "io", "wgt"]);
}

#[test]
fn bad_block_io_and_cgroupns_values_are_refused() {
    let d = daemon();
    let (dev, _) = a_disk();
    let cases: Vec<(Vec<String>, String)> = [
        (
            "--device-read-bps=/dev/null:1mb",
            "--device-read-bps /dev/null: not a block device (name a disk, such as /dev/sda)",
        ),
        (
            "--device-write-iops=/dev/rrun-test-no-such-disk:5",
            "--device-write-iops /dev/rrun-test-no-such-disk: No such file or directory",
        ),
        (
            "--device-read-bps=/etc/passwd:1mb",
            "bad format for device path: /etc/passwd:1mb",
        ),
        (
            &format!("--device-read-bps={dev}:fast"),
            "invalid rate for device",
        ),
        (
            &format!("--blkio-weight-device={dev}:5"),
            "invalid weight for device",
        ),
        ("--blkio-weight=2000", "2000 is not in 0..=1000"),
        ("--cgroupns=shared", "invalid CGROUP mode \"shared\""),
    ]
    .iter()
    .map(|(f, m)| (vec![f.to_string()], m.to_string()))
    .collect();
    for (flags, msg) in &cases {
        let mut args = vec!["run"];
        args.extend(flags.iter().map(String::as_str));
        args.extend_from_slice(&["busybox", "true"]);
        let out = d.rrun(&args);
        assert_eq!(code(&out), 125, "{flags:?}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains(msg.as_str()),
            "{flags:?}: {err:?} lacks {msg:?}"
        );
        // One line (clap adds its pointer to --help after a blank one).
        let lines = err
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with("For more information"));
        assert_eq!(lines.count(), 1, "{flags:?}: one line: {err:?}");
    }
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn cgroup_namespace_private_and_host() {
    let d = daemon();
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    // Docker's default: private on cgroup v2, host on v1.
    d.ok(&["create", "--name", "dflt", "busybox", "true"]);
    let mode = &inspect(&d, "dflt")["HostConfig"]["CgroupnsMode"];
    assert_eq!(mode, if v2 { "private" } else { "host" });

    // Private: every hierarchy shows the container's cgroup as `/`.
    let (rc, out, err) = sh(&d, &["--cgroupns", "private"], "cat /proc/self/cgroup");
    assert_eq!(rc, 0, "{out}{err}");
    assert!(!out.trim().is_empty());
    for line in out.lines() {
        assert!(line.ends_with(":/"), "{line} in\n{out}");
    }
    // Host: the full path, the container's own cgroup under rrun's.
    let (rc, out, err) = sh(
        &d,
        &["--cgroupns", "host", "--name", "hostns"],
        "cat /proc/self/cgroup",
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.contains("/rrun/") || l.contains("rrun-")),
        "{out}"
    );
    d.ok(&[
        "create",
        "--name",
        "pns",
        "--cgroupns",
        "private",
        "busybox",
        "true",
    ]);
    assert_eq!(inspect(&d, "pns")["HostConfig"]["CgroupnsMode"], "private");
    d.ok(&["rm", "dflt", "pns"]);
}

/// daemon.json `default-cgroupns-mode` is the default of a container
/// created without `--cgroupns`.
#[test]
fn daemon_default_cgroupns_mode() {
    let d = Daemon::start_with(&serde_json::json!({"default-cgroupns-mode": "private"}));
    d.load_busybox();
    let (rc, out, err) = sh(&d, &[], "cat /proc/self/cgroup");
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.lines().all(|l| l.ends_with(":/")), "{out}");
    d.ok(&["create", "--name", "cns", "busybox", "true"]);
    assert_eq!(inspect(&d, "cns")["HostConfig"]["CgroupnsMode"], "private");
}
