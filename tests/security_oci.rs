//! Security regressions of the executor: each test is a real attack on
//! `rrun-oci` (root, a bundle in a temporary directory, a state root of its
//! own) named after the CVE it replays, and fails if the protection is
//! removed.
//!
//! | CVE | what the container tries | test |
//! |-----|--------------------------|------|
//! | CVE-2019-5736 | overwrite the runtime through `/proc/1/exe` | `tests/oci.rs` `init_binary_cannot_be_overwritten_from_the_container` |
//! | CVE-2024-21626 | a leaked runtime fd as its cwd, or its program's path | [`cve_2024_21626_leaked_fd_cwd`], [`cve_2024_21626_leaked_fd_program`] (and `tests/oci.rs` `cwd_through_proc_self_fd_is_refused`, `no_runtime_fd_leaks_into_the_container`) |
//! | CVE-2016-9962 | ptrace / open the fds of the init before `start` | [`cve_2016_9962_init_cannot_be_ptraced`] |
//! | CVE-2021-30465 | a mount target through a symlink out of the root | `tests/oci.rs` `mount_target_symlink_cannot_escape_the_rootfs` |
//! | CVE-2019-19921 | `/proc` a symlink elsewhere | `tests/oci.rs` `proc_is_never_mounted_through_a_symlink` |
//! | CVE-2023-27561 | the same, `/proc` linked into a volume | [`cve_2023_27561_proc_symlink_into_a_volume`] |
//! | CVE-2023-28642 | `/sys` a symlink | [`cve_2023_28642_sysfs_through_a_symlink`] |
//! | CVE-2025-31133 | `/dev/null` swapped for a link, so a mask exposes a file | [`cve_2025_31133_masked_path_dev_null_swapped`] |
//! | CVE-2025-52565 | `/dev/console` a link, so the terminal bind lands elsewhere | [`cve_2025_52565_console_bind_target`] |
//! | CVE-2025-52881 | procfs writes of the runtime redirected | [`cve_2025_52881_procfs_writes_redirected`] |
//! | CVE-2022-29162 | inheritable capabilities given by default | [`cve_2022_29162_no_inheritable_capabilities`] |

mod common;

use common::*;
use serde_json::json;
use std::path::Path;

/// The spec without its `/dev` tmpfs: `/dev` is the image's own directory,
/// which the attacker (the image) controls.
fn dev_from_the_image(b: &mut Bundle) {
    b.spec["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    std::fs::create_dir_all(b.rootfs().join("dev")).unwrap();
}

#[test]
fn cve_2024_21626_leaked_fd_cwd() {
    // runc leaked a directory fd of the host (/sys/fs/cgroup) into the
    // init; `cwd: /proc/self/fd/N` then put the container's process in the
    // host's tree. Every low fd number is tried: none may give a cwd
    // outside the container's root.
    let oci = Oci::new();
    let mut b = Bundle::new(&["sleep", "300"]);
    for n in 3..16 {
        b.spec["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        b.write();
        let id = unique("fdcwd");
        let out = oci.cmd(&[
            "run",
            "--detach",
            "--bundle",
            b.path().to_str().unwrap(),
            &id,
        ]);
        if !out.status.success() {
            let err = text(&out.stderr);
            assert!(err.contains("cwd"), "fd {n}: unclear refusal: {err}");
            continue;
        }
        // It started: its cwd must be under its own root.
        let pid = oci.state(&id)["pid"].as_i64().unwrap();
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap();
        assert!(
            cwd.starts_with(b.rootfs()),
            "CVE-2024-21626: fd {n} gave the container the host's {} as cwd",
            cwd.display()
        );
        oci.ok(&["delete", "--force", &id]);
    }
}

#[test]
fn cve_2024_21626_leaked_fd_program() {
    // The second form: the program named through a leaked fd
    // (`/proc/self/fd/N/<host path>`). A program that exists only on the
    // host must never run in the container.
    let oci = Oci::new();
    let host = tempfile::Builder::new()
        .prefix("rrun-hostonly-")
        .tempdir()
        .unwrap();
    let sh = host.path().join("sh");
    std::fs::copy(images().join("busybox/rootfs/bin/busybox"), &sh).unwrap();
    let mut b = Bundle::new(&["true"]);
    for n in 3..16 {
        let prog = format!("/proc/self/fd/{n}{}", sh.display());
        b.spec["process"]["args"] = json!([prog, "-c", "echo ESCAPED"]);
        let (code, out, err) = oci.run(&b);
        assert!(
            !out.contains("ESCAPED"),
            "CVE-2024-21626: fd {n} ran a host program in the container"
        );
        assert_ne!(code, 0, "fd {n}: {out}");
        assert!(
            err.to_lowercase().contains("no such file"),
            "fd {n}: unclear error: {err}"
        );
    }
}

#[test]
fn cve_2016_9962_init_cannot_be_ptraced() {
    // Between `create` and `start` the container's pid 1 is still the
    // runtime, holding the sync socket and the state directory. A process
    // of the container (same uid, same capabilities, no CAP_SYS_PTRACE)
    // must not reach its fds, its memory or its environment.
    let oci = Oci::new();
    let b = Bundle::new(&["sleep", "300"]);
    b.write();
    let id = unique("ptrace");
    oci.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let out = oci.cmd(&[
        "exec",
        &id,
        "sh",
        "-c",
        "readlink /proc/1/fd/0 && echo FDS; readlink /proc/1/cwd && echo CWD; \
         cat /proc/1/environ >/dev/null && echo ENV; \
         dd if=/proc/1/mem bs=1 count=1 skip=4096 2>/dev/null && echo MEM; echo end",
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("end"), "exec failed: {}", text(&out.stderr));
    for leak in ["FDS", "CWD", "ENV", "MEM"] {
        assert!(
            !stdout.contains(leak),
            "CVE-2016-9962: the container read the init's {leak}: {stdout}"
        );
    }
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
    oci.ok(&["delete", "--force", &id]);
}

#[test]
fn cve_2023_27561_proc_symlink_into_a_volume() {
    // The shape of the original exploit: /proc in the image links into a
    // volume (here a bind of a host directory) that another container
    // controls. proc must never be mounted there.
    let oci = Oci::new();
    let volume = tempfile::tempdir().unwrap();
    std::fs::create_dir(volume.path().join("proc")).unwrap();
    let mut b = Bundle::new(&["true"]);
    std::fs::remove_dir(b.rootfs().join("proc")).unwrap();
    std::os::unix::fs::symlink("/vol/proc", b.rootfs().join("proc")).unwrap();
    let mounts = b.spec["mounts"].as_array_mut().unwrap();
    mounts.insert(
        0,
        json!({"destination": "/vol", "type": "bind", "source": volume.path(), "options": ["rbind"]}),
    );
    let (code, _, err) = oci.run(&b);
    assert_ne!(code, 0, "CVE-2023-27561: proc mounted through a symlink");
    assert!(err.contains("refusing to mount proc on /proc"), "{err}");
    assert!(host_mounts_containing(volume.path().to_str().unwrap()).is_empty());
}

#[test]
fn cve_2023_28642_sysfs_through_a_symlink() {
    // The same refusal for sysfs: a /sys linked elsewhere would let the
    // read-only sysfs and its masks land beside the path the LSM profile
    // protects.
    let oci = Oci::new();
    let b = Bundle::new(&["true"]);
    std::fs::remove_dir(b.rootfs().join("sys")).unwrap();
    std::fs::create_dir(b.rootfs().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("/elsewhere", b.rootfs().join("sys")).unwrap();
    let (code, _, err) = oci.run(&b);
    assert_ne!(code, 0, "CVE-2023-28642: sysfs mounted through a symlink");
    assert!(err.contains("refusing to mount sysfs on /sys"), "{err}");
}

#[test]
fn cve_2025_31133_masked_path_dev_null_swapped() {
    // The image's /dev/null is a link to a file of the container's choice
    // (its own hostname in procfs here). Masking binds "/dev/null" over
    // /proc/timer_list and friends: following the link would turn the mask
    // into a writable window on the link's target.
    let oci = Oci::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "echo masked=$(cat /proc/timer_list); echo pwned > /proc/timer_list; echo host=$(hostname)",
    ]);
    dev_from_the_image(&mut b);
    std::os::unix::fs::symlink("/proc/sys/kernel/hostname", b.rootfs().join("dev/null")).unwrap();
    b.spec["hostname"] = json!("victim");
    let (code, out, err) = oci.run(&b);
    if code != 0 {
        // A refusal is safe, if it says why.
        assert!(err.contains("/dev/null"), "unclear refusal: {err}");
        return;
    }
    assert!(
        out.contains("masked=\n"),
        "CVE-2025-31133: the mask shows a file: {out}"
    );
    assert!(
        out.contains("host=victim\n"),
        "CVE-2025-31133: a write through the mask reached the link's target: {out}"
    );
}

fn recv_fd(listener: &std::os::unix::net::UnixListener) -> Option<std::os::fd::OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd};
    let (conn, _) = listener.accept().ok()?;
    let mut buf = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .ok()?;
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the fd was just received and is ours alone.
            return Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    None
}

#[test]
fn cve_2025_52565_console_bind_target() {
    // The image's /dev/console is a link to one of its files; binding the
    // terminal "on /dev/console" must not follow it (runc's bind of
    // /dev/pts/N by path could be redirected the same way).
    let oci = Oci::new();
    let mut b = Bundle::new(&["sh", "-c", "cat /target; sleep 1"]);
    dev_from_the_image(&mut b);
    std::fs::write(b.rootfs().join("target"), "untouched\n").unwrap();
    std::os::unix::fs::symlink("/target", b.rootfs().join("dev/console")).unwrap();
    // What the runtime makes in a /dev of its own, the image provides here.
    std::os::unix::fs::symlink("pts/ptmx", b.rootfs().join("dev/ptmx")).unwrap();
    b.spec["process"]["terminal"] = json!(true);
    b.write();
    let sock = b.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || recv_fd(&listener));
    let id = unique("console");
    let out = oci.cmd(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
    ]);
    if out.status.success() {
        // Created: the terminal went on a /dev/console of its own, the
        // link's target is still the image's file.
        let pid = oci.state(&id)["pid"].as_i64().unwrap();
        // Its type, not its content: a read of a terminal would block.
        let target = Path::new(&format!("/proc/{pid}/root")).join("target");
        let is_file = std::fs::metadata(&target).is_ok_and(|m| m.is_file());
        oci.ok(&["delete", "--force", &id]);
        assert!(
            is_file,
            "CVE-2025-52565: the terminal was bound on the link's target"
        );
    } else {
        let err = text(&out.stderr);
        assert!(err.contains("/dev/console"), "unclear refusal: {err}");
    }
    // The console socket's accept must not hang the test: connect once.
    let _ = std::os::unix::net::UnixStream::connect(&sock);
    let _ = receiver.join();
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("target")).unwrap(),
        "untouched\n"
    );
}

#[test]
fn cve_2025_52881_procfs_writes_redirected() {
    // A container-controlled "volume" mounted over /proc/sys/kernel: a
    // sysctl the runtime writes must reach the kernel, never the file the
    // container put in its place.
    let oci = Oci::new();
    let volume = tempfile::tempdir().unwrap();
    std::fs::write(volume.path().join("domainname"), "untouched\n").unwrap();
    let mut b = Bundle::new(&["uname", "-a"]);
    b.spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/proc/sys/kernel", "type": "bind",
        "source": volume.path(), "options": ["rbind"]
    }));
    b.spec["linux"]["sysctl"] = json!({"kernel.domainname": "sysctl-domain"});
    b.spec["linux"]["readonlyPaths"] = json!([]);
    b.write();
    let id = unique("procfs");
    let out = oci.cmd(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let volume_now = std::fs::read_to_string(volume.path().join("domainname")).unwrap();
    assert_eq!(
        volume_now, "untouched\n",
        "CVE-2025-52881: the sysctl was written into the container's file"
    );
    if !out.status.success() {
        let err = text(&out.stderr);
        assert!(err.contains("/proc"), "unclear refusal: {err}");
        return;
    }
    // Written where it belongs: the container's UTS namespace.
    let pid = oci.state(&id)["pid"].as_i64().unwrap();
    let out = run_timeout(
        10,
        Path::new("nsenter"),
        &[
            "-t",
            &pid.to_string(),
            "-u",
            "cat",
            "/proc/sys/kernel/domainname",
        ],
        None,
    );
    assert_eq!(
        text(&out.stdout).trim(),
        "sysctl-domain",
        "{}",
        text(&out.stderr)
    );
    oci.ok(&["delete", "--force", &id]);
}

fn cap_line(out: &str, name: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {out}"));
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn cve_2022_29162_no_inheritable_capabilities() {
    // runc gave the process an inheritable set equal to its bounding set
    // when the spec named none; a non-root user then gained capabilities
    // by executing a file with inheritable file capabilities.
    let oci = Oci::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/self/status; /caps/cat /proc/self/status",
    ]);
    // A copy of busybox with cap_net_raw in its inheritable and effective
    // file sets: it gains the capability only through an inheritable set.
    // (Named cat: busybox picks its applet by name.)
    let netraw = b.rootfs().join("caps/cat");
    std::fs::create_dir(b.rootfs().join("caps")).unwrap();
    std::fs::copy(b.rootfs().join("bin/busybox"), &netraw).unwrap();
    let out = run_timeout(
        10,
        Path::new("setcap"),
        &["cap_net_raw+ei", netraw.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "setcap: {}", text(&out.stderr));
    let bounding = json!(["CAP_NET_RAW", "CAP_KILL", "CAP_CHOWN"]);
    b.spec["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.spec["process"]["capabilities"] = json!({"bounding": bounding});
    let (code, out, err) = oci.run(&b);
    assert_eq!(code, 0, "{err}");
    let statuses: Vec<&str> = out.split("Name:").skip(1).collect();
    assert_eq!(statuses.len(), 2, "{out}");
    for status in statuses {
        assert_eq!(
            cap_line(status, "CapInh:"),
            0,
            "CVE-2022-29162: inheritable capabilities: {status}"
        );
        assert_eq!(
            cap_line(status, "CapEff:"),
            0,
            "CVE-2022-29162: the user gained capabilities: {status}"
        );
    }
}
