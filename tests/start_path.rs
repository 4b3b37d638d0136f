//! What issue 18 changed on the start path, seen from outside: the seccomp
//! program kept once per profile under the executor's state (and made again
//! when damaged, never loaded damaged), and the daemon's cgroup-move warming
//! (linux::attach_warm), which must leave rrund where it was.

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
