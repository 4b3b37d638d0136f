//! `docker cp` and `rrun cp` against rrund's archive endpoints: files and
//! directories in and out of running and stopped containers, into a
//! volume, modes kept, a missing path's 404, and a symlink in the
//! container that points at `/` never leading to the host.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::daemon::Daemon;
use common::text;

/// A host directory with `f.txt` (0750) and `tree/a/b` (0640).
fn host_files(dir: &Path) {
    std::fs::write(dir.join("f.txt"), "hello\n").unwrap();
    std::fs::set_permissions(dir.join("f.txt"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::fs::create_dir_all(dir.join("tree/a")).unwrap();
    std::fs::write(dir.join("tree/a/b"), "deep\n").unwrap();
    std::fs::set_permissions(dir.join("tree/a/b"), std::fs::Permissions::from_mode(0o640)).unwrap();
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn cp_in_and_out_of_a_running_container_and_its_volume() {
    let d = Daemon::start();
    d.load_busybox();
    let host = tempfile::tempdir().unwrap();
    host_files(host.path());
    let vol = common::unique("cpvol");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "sleep",
        "300",
    ]);
    // In, with the docker CLI: a file into a directory, a directory to a
    // new name, a file into the volume.
    d.docker_ok(&["cp", s(&host.path().join("f.txt")), "web:/tmp/"]);
    d.docker_ok(&["cp", s(&host.path().join("tree")), "web:/srv"]);
    d.docker_ok(&["cp", s(&host.path().join("f.txt")), "web:/data/in-volume"]);
    let seen = d.docker_ok(&[
        "exec",
        "web",
        "sh",
        "-c",
        "cat /tmp/f.txt /srv/a/b /data/in-volume; stat -c '%a %u' /tmp/f.txt /srv/a/b",
    ]);
    assert_eq!(seen, "hello\ndeep\nhello\n750 0\n640 0\n");
    // `-a` (copyUIDGID): the owners as the tar says.
    let owned = host.path().join("owned");
    std::fs::write(&owned, "o\n").unwrap();
    std::os::unix::fs::chown(&owned, Some(1234), Some(5678)).unwrap();
    d.docker_ok(&["cp", "-a", s(&owned), "web:/tmp/owned-a"]);
    d.docker_ok(&["cp", s(&owned), "web:/tmp/owned-root"]);
    let owners = d.docker_ok(&[
        "exec",
        "web",
        "stat",
        "-c",
        "%u:%g",
        "/tmp/owned-a",
        "/tmp/owned-root",
    ]);
    assert_eq!(owners, "1234:5678\n0:0\n");
    let vol_path = d
        .data_root()
        .join("volumes")
        .join(&vol)
        .join("_data/in-volume");
    assert_eq!(std::fs::read_to_string(&vol_path).unwrap(), "hello\n");

    // Out, with the docker CLI and with rrun: modes kept.
    let out = tempfile::tempdir().unwrap();
    d.docker_ok(&["cp", "web:/srv", s(&out.path().join("srv-copy"))]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("srv-copy/a/b")).unwrap(),
        "deep\n"
    );
    assert_eq!(mode(&out.path().join("srv-copy/a/b")), 0o640);
    d.ok(&["cp", "web:/tmp/f.txt", s(out.path())]);
    assert_eq!(mode(&out.path().join("f.txt")), 0o750);
    d.ok(&[
        "cp",
        "web:/data/in-volume",
        s(&out.path().join("from-volume")),
    ]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("from-volume")).unwrap(),
        "hello\n"
    );
    // A symlink: copied as one, or followed (`-L`, through the stat's
    // linkTarget); a tar stream on stdout.
    d.docker_ok(&["exec", "web", "ln", "-s", "f.txt", "/tmp/link"]);
    d.docker_ok(&["cp", "web:/tmp/link", s(&out.path().join("as-link"))]);
    assert_eq!(
        std::fs::read_link(out.path().join("as-link")).unwrap(),
        Path::new("f.txt")
    );
    d.docker_ok(&["cp", "-L", "web:/tmp/link", s(&out.path().join("followed"))]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("followed")).unwrap(),
        "hello\n"
    );
    d.ok(&[
        "cp",
        "-L",
        "web:/tmp/link",
        s(&out.path().join("rrun-followed")),
    ]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("rrun-followed")).unwrap(),
        "hello\n"
    );
    let tar = d.docker_ok(&["cp", "web:/srv", "-"]);
    assert!(tar.contains("srv/a/b") && tar.contains("deep"), "{tar}");
    // In with rrun, a directory's contents (`dir/.`) into an existing one.
    d.ok(&[
        "cp",
        &format!("{}/.", s(&host.path().join("tree"))),
        "web:/tmp",
    ]);
    assert_eq!(d.docker_ok(&["exec", "web", "cat", "/tmp/a/b"]), "deep\n");
}

#[test]
fn cp_in_and_out_of_a_stopped_container() {
    let d = Daemon::start();
    d.load_busybox();
    let host = tempfile::tempdir().unwrap();
    host_files(host.path());
    d.docker_ok(&[
        "create",
        "--name",
        "cold",
        "busybox",
        "sh",
        "-c",
        "cat /root/f.txt /root/tree/a/b; stat -c %a /root/f.txt",
    ]);
    d.docker_ok(&["cp", s(&host.path().join("f.txt")), "cold:/root/"]);
    d.ok(&["cp", s(&host.path().join("tree")), "cold:/root/tree"]);
    let out = tempfile::tempdir().unwrap();
    d.docker_ok(&["cp", "cold:/root/tree", s(out.path())]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("tree/a/b")).unwrap(),
        "deep\n"
    );
    d.ok(&["cp", "cold:/etc/passwd", s(&out.path().join("passwd"))]);
    assert!(std::fs::read_to_string(out.path().join("passwd"))
        .unwrap()
        .starts_with("root:"));
    // The files went into the container's own layer: it sees them.
    assert_eq!(d.docker_ok(&["start", "-a", "cold"]), "hello\ndeep\n750\n");
    // Nothing of the copies' temporary mounts is left.
    let id = d.docker_ok(&["inspect", "-f", "{{.Id}}", "cold"]);
    let dir = d.data_root().join("containers").join(id.trim());
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("archive-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(s(&dir.join("archive-"))), "{mounts}");
}

#[test]
fn a_missing_path_is_dockers_404() {
    let d = Daemon::start();
    d.load_busybox();
    d.docker_ok(&["create", "--name", "miss", "busybox", "true"]);
    let out = tempfile::tempdir().unwrap();
    let r = d.docker(&["cp", "miss:/no/such", s(out.path())], None);
    assert!(!r.status.success());
    let err = text(&r.stderr);
    // docker 20.10 words it itself from the 404; 28 shows the daemon's.
    assert!(
        err.contains("No such container:path: miss:/no/such")
            || err.contains("Could not find the file /no/such in container miss"),
        "{err}"
    );
    let (code, body) =
        common::daemon::http(&d.socket(), "GET", "/containers/miss/archive?path=/no/such").unwrap();
    assert_eq!(code, 404);
    assert!(
        body.contains("Could not find the file /no/such in container miss"),
        "{body}"
    );
    let (code, _) = common::daemon::http(
        &d.socket(),
        "HEAD",
        "/containers/miss/archive?path=/no/such",
    )
    .unwrap();
    assert_eq!(code, 404);
    let (code, _) =
        common::daemon::http(&d.socket(), "HEAD", "/containers/miss/archive?path=/etc").unwrap();
    assert_eq!(code, 200);
    // Into a file, or a directory that does not exist.
    let f = out.path().join("f");
    std::fs::write(&f, "x").unwrap();
    let (code, body) = common::daemon::http(
        &d.socket(),
        "PUT",
        "/containers/miss/archive?path=/etc/passwd",
    )
    .unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("extraction point is not a directory"),
        "{body}"
    );
    let (code, _) =
        common::daemon::http(&d.socket(), "PUT", "/containers/miss/archive?path=/nodir").unwrap();
    assert_eq!(code, 404);
}

#[test]
fn a_symlink_to_root_stays_inside_the_container() {
    let d = Daemon::start();
    d.load_busybox();
    let host = tempfile::tempdir().unwrap();
    host_files(host.path());
    let name = common::unique("escape");
    d.docker_ok(&["run", "-d", "--name", "esc", "busybox", "sleep", "300"]);
    d.docker_ok(&["exec", "esc", "ln", "-s", "/", "/escape"]);
    let into = format!("esc:/escape/tmp/{name}");
    d.docker_ok(&["cp", s(&host.path().join("f.txt")), &into]);
    assert!(
        !Path::new("/tmp").join(&name).exists(),
        "the copy landed on the host"
    );
    assert_eq!(
        d.docker_ok(&["exec", "esc", "cat", &format!("/tmp/{name}")]),
        "hello\n"
    );
    // The same through a stopped container's mounted root.
    d.docker_ok(&["stop", "-t", "0", "esc"]);
    let second = format!("{name}-stopped");
    d.ok(&[
        "cp",
        s(&host.path().join("f.txt")),
        &format!("esc:/escape/tmp/{second}"),
    ]);
    assert!(!Path::new("/tmp").join(&second).exists());
    let out = tempfile::tempdir().unwrap();
    d.docker_ok(&["cp", &format!("esc:/escape/tmp/{second}"), s(out.path())]);
    assert_eq!(
        std::fs::read_to_string(out.path().join(&second)).unwrap(),
        "hello\n"
    );
}

#[test]
fn a_copys_mount_left_by_a_crash_goes_at_start_up() {
    let mut d = Daemon::start();
    d.load_busybox();
    let id = d.docker_ok(&["create", "--name", "left", "busybox", "true"]);
    let left = d
        .data_root()
        .join("containers")
        .join(id.trim())
        .join("archive-1-0");
    std::fs::create_dir(&left).unwrap();
    d.kill9();
    nix::mount::mount(
        Some("tmpfs"),
        &left,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    d.spawn();
    d.ok(&["inspect", "left"]);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(s(&left)), "{mounts}");
    assert!(!left.exists());
}

#[test]
fn a_read_only_root_refuses_a_copy_but_its_volume_takes_it() {
    let d = Daemon::start();
    d.load_busybox();
    let host = tempfile::tempdir().unwrap();
    host_files(host.path());
    let vol = common::unique("rovol");
    d.docker_ok(&[
        "run",
        "-d",
        "--read-only",
        "--name",
        "ro",
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "sleep",
        "300",
    ]);
    let r = d.docker(&["cp", s(&host.path().join("f.txt")), "ro:/tmp/"], None);
    assert!(!r.status.success());
    let err = text(&r.stderr);
    assert!(
        err.contains("container rootfs is marked read-only"),
        "{err}"
    );
    d.docker_ok(&["cp", s(&host.path().join("f.txt")), "ro:/data/"]);
    assert_eq!(
        d.docker_ok(&["exec", "ro", "cat", "/data/f.txt"]),
        "hello\n"
    );
}
