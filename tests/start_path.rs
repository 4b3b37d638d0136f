//! What issue 18 changed on the start path, seen from outside: the seccomp
//! program kept once per profile under the executor's state (and made again
//! when damaged, never loaded damaged), the daemon's cgroup-move warming
//! (linux::attach_warm), which must leave rrund where it was, the v1 self-move
//! into the cgroups, and the network namespaces made ahead.

mod common;

use common::daemon::Daemon;
use common::text;
use std::path::PathBuf;

/// `run --rm busybox sh -c <script>` with `flags`: (exit code, stderr).
fn sh(d: &Daemon, flags: &[&str], script: &str) -> (i32, String) {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    let out = d.rrun(&args);
    (out.status.code().unwrap_or(-1), text(&out.stderr))
}

fn kept_programs(d: &Daemon) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(d.exec_root().join(".seccomp"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Docker's default profile denies `unshare` to a container without
/// CAP_SYS_ADMIN: the filter is loaded.
fn assert_filtered(d: &Daemon, what: &str) {
    let (rc, err) = sh(d, &[], "unshare -U true");
    assert_ne!(rc, 0, "{what}: unshare passed Docker's default profile");
    assert!(err.contains("Operation not permitted"), "{what}: {err}");
}

#[test]
fn a_seccomp_profile_is_compiled_once_and_a_damaged_program_is_made_again() {
    let d = Daemon::start();
    d.load_busybox();
    assert_filtered(&d, "first container");
    let kept = kept_programs(&d);
    assert_eq!(
        kept.len(),
        1,
        "one program for Docker's default profile: {kept:?}"
    );
    let program = std::fs::read(&kept[0]).unwrap();
    assert_filtered(&d, "from the kept program");
    assert_eq!(
        kept_programs(&d),
        kept,
        "the same profile made no new program"
    );

    // Another profile, another program.
    let opt = d.no_mkdir_seccomp_opt();
    let (rc, err) = sh(&d, &["--security-opt", &opt], "mkdir /tmp/x");
    assert_ne!(rc, 0);
    assert!(err.contains("Operation not permitted"), "{err}");
    assert_eq!(kept_programs(&d).len(), 2);

    // Damaged: cut by whole instructions (a program the kernel might take),
    // then emptied. Neither is loaded; the filter is made again.
    for damage in [program[..program.len() - 64].to_vec(), Vec::new()] {
        std::fs::write(&kept[0], &damage).unwrap();
        assert_filtered(&d, "after the kept program was damaged");
        assert_eq!(std::fs::read(&kept[0]).unwrap(), program, "made again");
    }
}

#[test]
fn rrund_stays_in_its_own_cgroups_while_it_warms_cgroup_moves() {
    let d = Daemon::start();
    d.load_busybox();
    let pid = d.pid().expect("rrund runs");
    let before = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let id = d
        .ok(&["run", "-d", "busybox", "sleep", "300"])
        .trim()
        .to_string();
    d.ok(&["exec", &id, "true"]);
    d.ok(&["rm", "-f", &id]);
    assert_eq!(sh(&d, &[], "true").0, 0);
    let after = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(before, after);
}

/// On cgroup v1 the init moves itself into its cgroup (a write of 0 to
/// each hierarchy's `tasks`): the container's processes, an exec'd one
/// too, are in `/rrun/<id>` in every v1 controller's hierarchy, with the
/// limits given, and nothing is left of the cgroup after the removal.
#[test]
fn the_init_and_an_exec_are_in_every_v1_hierarchy_of_the_container() {
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        // cgroup v2 (the VM suite): the move by pid, tested there.
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let id = d
        .ok(&[
            "run",
            "-d",
            "--memory",
            "64m",
            "--pids-limit",
            "40",
            "busybox",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    let pid = common::daemon::inspect(&d, &id)["State"]["Pid"]
        .as_i64()
        .unwrap();
    let want = format!("/rrun/{id}");
    let controllers = [
        "cpu", "cpuacct", "cpuset", "devices", "memory", "pids", "blkio", "freezer",
    ];
    let check = |pid: i64, who: &str| {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        for c in controllers {
            let line = text.lines().find(|l| {
                l.split(':')
                    .nth(1)
                    .is_some_and(|cs| cs.split(',').any(|x| x == c))
            });
            if let Some(line) = line {
                assert!(line.ends_with(&want), "{who} {c}: {line}\n{text}");
            }
        }
    };
    check(pid, "init");
    let out = d.ok(&["exec", &id, "sh", "-c", "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"]);
    for c in ["memory", "pids", "cpuset"] {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!(":{c}:")) && l.ends_with(&want)),
            "exec {c}: {out}"
        );
    }
    assert!(out.contains("67108864\n40"), "{out}");
    d.ok(&["rm", "-f", &id]);
    for c in controllers {
        let dir = std::path::Path::new("/sys/fs/cgroup")
            .join(c)
            .join("rrun")
            .join(&id);
        assert!(!dir.exists(), "{} left", dir.display());
    }
}

/// The daemon's spare network namespaces: its open descriptors of network
/// namespaces other than its own (run between starts: a start's own are
/// closed once it is done).
fn spares(d: &Daemon) -> Vec<String> {
    let Some(pid) = d.pid() else {
        return Vec::new();
    };
    let own = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|l| l.to_string_lossy().starts_with("net:[") && *l != own)
        .map(|l| l.to_string_lossy().into_owned())
        .collect()
}

/// The processes with a descriptor of `ns` (`net:[inode]`) open.
fn holders(ns: &str) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| p.file_name().to_str()?.parse().ok())
        .filter(|pid: &u32| {
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == ns))
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// Network namespaces mounted under the daemon's directory but not a
/// container's: what an earlier daemon kept its spares as.
fn spare_mounts(d: &Daemon) -> Vec<String> {
    common::host_mounts_containing(d.dir.path().to_str().unwrap())
        .into_iter()
        .filter(|m| m.contains("/netns/.spare-"))
        .collect()
}

/// A network namespace kept by a bind mount at `path`, as daemons before
/// this one kept their spares.
fn mount_a_namespace_at(path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(path).unwrap();
    let net = format!("--net={}", path.display());
    let out = common::run_timeout(10, std::path::Path::new("unshare"), &[&net, "true"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The network namespace of a running container's init.
fn netns_of(d: &Daemon, name: &str) -> PathBuf {
    let pid = d.ok(&["inspect", "-f", "{{.State.Pid}}", name]);
    std::fs::read_link(format!("/proc/{}/ns/net", pid.trim())).unwrap()
}

/// rrund keeps network namespaces ready for the next starts: none before a
/// start needs one, at most two after, each a fresh namespace (its
/// loopback up and nothing else) that one container gets as its own. They
/// are kept by the daemon's descriptors, not mounted: they go with the
/// daemon, killed or not, and leave no mount behind.
#[test]
fn spare_network_namespaces_are_fresh_bounded_and_go_with_the_daemon() {
    let mut d = Daemon::start();
    d.load_busybox();
    assert!(spares(&d).is_empty(), "{:?}", spares(&d));
    for _ in 0..3 {
        d.ok(&["run", "--rm", "--network", "none", "busybox", "true"]);
    }
    common::wait_for("two spares", std::time::Duration::from_secs(10), || {
        (spares(&d).len() == 2).then_some(())
    });
    let links = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:") && links.contains("UP"), "{links}");
    let addrs = d.ok(&["run", "--rm", "busybox", "ip", "-o", "-4", "addr"]);
    assert!(
        addrs.contains("127.0.0.1/8") && addrs.contains("eth0"),
        "{addrs}"
    );
    let a = common::unique("spa");
    let b = common::unique("spb");
    for n in [&a, &b] {
        d.ok(&[
            "run",
            "-d",
            "--name",
            n,
            "--network",
            "none",
            "busybox",
            "sleep",
            "60",
        ]);
    }
    assert_ne!(netns_of(&d, &a), netns_of(&d, &b));
    d.ok(&["rm", "-f", &a, &b]);
    common::wait_for("two spares", std::time::Duration::from_secs(10), || {
        (spares(&d).len() == 2).then_some(())
    });
    assert!(spares(&d).len() <= 2);

    assert!(spare_mounts(&d).is_empty(), "{:?}", spare_mounts(&d));
    d.stop();
    assert!(
        spare_mounts(&d).is_empty(),
        "after SIGTERM: {:?}",
        spare_mounts(&d)
    );

    d.spawn();
    d.ok(&["run", "--rm", "--network", "none", "busybox", "true"]);
    common::wait_for("two spares", std::time::Duration::from_secs(10), || {
        (spares(&d).len() == 2).then_some(())
    });
    // Only rrund holds them (no shim or init inherited a descriptor), and
    // nothing does once it is killed: they are gone with it.
    let held = spares(&d);
    let pid = d.pid().unwrap();
    for ns in &held {
        assert_eq!(holders(ns), vec![pid], "{ns}");
    }
    d.kill9();
    for ns in &held {
        assert!(
            holders(ns).is_empty(),
            "{ns} outlived the killed daemon: {:?}",
            holders(ns)
        );
    }
    assert!(
        spare_mounts(&d).is_empty(),
        "a killed daemon's spares stay mounted: {:?}",
        spare_mounts(&d)
    );
    d.spawn();
    assert!(spares(&d).is_empty(), "after a restart: {:?}", spares(&d));
    // A spare an older daemon left mounted is removed at the start.
    mount_a_namespace_at(&d.dir.path().join("netns/.spare-7"));
    assert_eq!(spare_mounts(&d).len(), 1);
    d.kill9();
    d.spawn();
    assert!(spare_mounts(&d).is_empty(), "{:?}", spare_mounts(&d));
}
