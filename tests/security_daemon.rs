//! Security regressions of the daemon and its images: each test is a real
//! attack on a real rrund of the test's own (state, socket and network
//! namespace of its own), named after the CVE or report it replays, and
//! fails if the protection is removed.
//!
//! | CVE / report | what the attacker tries | test |
//! |--------------|-------------------------|------|
//! | CVE-2025-47290 class, CVE-2014-9356, CVE-2021-32760 | a layer with `../` names, absolute names, a symlink then a write through it, a hardlink out of the root, a whiteout through a symlink | [`cve_2014_9356_layer_dot_dot_names`], [`cve_2014_9356_layer_absolute_names`], [`cve_2014_9356_layer_write_through_a_symlink`], [`cve_2021_32760_layer_hardlink_out_of_the_root`], [`cve_2025_47290_layer_whiteout_through_a_symlink`] (and the library's `runtime/image/tests/unpack.rs`) |
//! | CVE-2018-15664 | `docker cp` through a symlink to `/` | `tests/archive.rs` `a_symlink_to_root_stays_inside_the_container`, [`cve_2018_15664_cp_out_through_a_symlink`] |
//! | CVE-2019-14271 | a container's NSS library loaded by the daemon during `docker cp` | [`cve_2019_14271_cp_loads_nothing_from_the_container`] |
//! | CVE-2021-41089 | `docker cp` into a link to a host path, so the host path is chmod-ed | [`cve_2021_41089_cp_never_chmods_host_paths`] |
//! | volume copy-up | an image's volume path a symlink out of the root | [`volume_copy_up_does_not_follow_a_symlink_out`] |
//! | CVE-2021-41091 | another user walks the data root into a container's root | [`cve_2021_41091_data_root_not_traversable`] |
//! | Docker's socket | the API socket mode and group, another user connecting | [`api_socket_is_0660_group_rrun`] |

mod common;

use common::daemon::{http, Daemon, DnsStub, TestNetns};
use common::layers::{layer, oci_archive, Entry};
use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A directory on the host the attacks aim at: one file, `victim`.
struct Probe(tempfile::TempDir);

impl Probe {
    fn new() -> Probe {
        let d = tempfile::Builder::new()
            .prefix("rrun-probe-")
            .tempdir()
            .unwrap();
        std::fs::write(d.path().join("victim"), "original\n").unwrap();
        Probe(d)
    }
    fn path(&self) -> &str {
        self.0.path().to_str().unwrap()
    }
    /// A relative name from a layer's root to the probe, through `..`.
    fn dotdot(&self) -> String {
        format!("../../../../../../../../..{}", self.path())
    }
    fn assert_untouched(&self, what: &str) {
        let names: Vec<String> = std::fs::read_dir(self.0.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["victim"], "{what}: the host directory changed");
        assert_eq!(
            std::fs::read_to_string(self.0.path().join("victim")).unwrap(),
            "original\n",
            "{what}: the host file was written"
        );
    }
}

/// Loads a hostile image: refused (a clear error, no image listed) or,
/// where the daemon keeps it inside the root, loaded harmlessly; either
/// way the probe is untouched. Returns whether it loaded.
fn load_hostile(d: &Daemon, probe: &Probe, what: &str, layers: &[Vec<u8>]) -> bool {
    let name = unique("hostile");
    let tar = oci_archive(d.dir.path(), &name, layers);
    let before = d.ok(&["images", "-a", "-q"]);
    let out = d.rrun(&["load", "-i", tar.to_str().unwrap()]);
    probe.assert_untouched(what);
    if out.status.success() {
        return true;
    }
    let err = text(&out.stderr);
    assert!(
        !err.is_empty() && !err.contains("panicked"),
        "{what}: unclear refusal: {err}"
    );
    let images = d.ok(&["images", "-a", "-q"]);
    assert_eq!(images, before, "{what}: half-loaded image");
    assert!(
        d.rrun(&["version"]).status.success(),
        "rrund died: {}",
        d.log()
    );
    false
}

#[test]
fn cve_2014_9356_layer_dot_dot_names() {
    let d = Daemon::start();
    let probe = Probe::new();
    let name = format!("{}/victim", probe.dotdot());
    let l = layer(&[Entry::File(&name, "pwned\n")]);
    let loaded = load_hostile(&d, &probe, "a ../ name", &[l]);
    assert!(!loaded, "a layer with ../ names was accepted");
}

#[test]
fn cve_2014_9356_layer_absolute_names() {
    // An absolute name is taken relative to the layer's root (as Docker
    // does) or refused; never written on the host.
    let d = Daemon::start();
    let probe = Probe::new();
    let name = format!("{}/victim", probe.path());
    let extra = format!("{}/new", probe.path());
    let l = layer(&[Entry::File(&name, "pwned\n"), Entry::File(&extra, "new\n")]);
    load_hostile(&d, &probe, "an absolute name", &[l]);
}

#[test]
fn cve_2014_9356_layer_write_through_a_symlink() {
    // One layer makes a link to the host directory, the next writes
    // through it (and a single layer does both).
    let d = Daemon::start();
    let probe = Probe::new();
    let first = layer(&[Entry::Symlink("evil", probe.path())]);
    let second = layer(&[
        Entry::File("evil/victim", "pwned\n"),
        Entry::File("evil/new", "new\n"),
    ]);
    load_hostile(&d, &probe, "write through a symlink", &[first, second]);
    let both = layer(&[
        Entry::Symlink("up", "../../../../../../../../.."),
        Entry::Dir("up/tmp"),
        Entry::File(&format!("up{}/new", probe.path()), "new\n"),
    ]);
    load_hostile(&d, &probe, "write through a relative symlink", &[both]);
}

#[test]
fn cve_2021_32760_layer_hardlink_out_of_the_root() {
    // A hardlink whose target is a host file: the layer would then hold
    // the host file itself, and a container writing it writes the host's.
    let d = Daemon::start();
    let probe = Probe::new();
    let abs = format!("{}/victim", probe.path());
    let rel = format!("{}/victim", probe.dotdot());
    for (what, target) in [("absolute", abs.as_str()), ("relative", rel.as_str())] {
        let l = layer(&[Entry::Hardlink("stolen", target)]);
        if load_hostile(&d, &probe, &format!("a hardlink, {what}"), &[l]) {
            panic!("a hardlink to {target} was accepted");
        }
    }
    let meta = std::fs::metadata(probe.0.path().join("victim")).unwrap();
    assert_eq!(meta.nlink(), 1, "the host file gained a link");
    // Through a symlinked directory.
    let l = layer(&[
        Entry::Symlink("d", probe.path()),
        Entry::Hardlink("stolen", "d/victim"),
    ]);
    assert!(!load_hostile(
        &d,
        &probe,
        "a hardlink through a symlink",
        &[l]
    ));
    let meta = std::fs::metadata(probe.0.path().join("victim")).unwrap();
    assert_eq!(meta.nlink(), 1, "the host file gained a link");
}

#[test]
fn cve_2025_47290_layer_whiteout_through_a_symlink() {
    // A whiteout under a symlinked parent: applying it would delete the
    // host file the link leads to.
    let d = Daemon::start();
    let probe = Probe::new();
    let first = layer(&[Entry::Symlink("link", probe.path())]);
    let second = layer(&[Entry::File("link/.wh.victim", "")]);
    // Across layers each layer is a directory of its own: kept, harmless.
    load_hostile(&d, &probe, "a whiteout through a symlink", &[first, second]);
    let one = layer(&[
        Entry::Symlink("link2", probe.path()),
        Entry::File("link2/.wh..wh..opq", ""),
    ]);
    assert!(!load_hostile(
        &d,
        &probe,
        "an opaque whiteout through a symlink",
        &[one]
    ));
}

#[test]
fn cve_2018_15664_cp_out_through_a_symlink() {
    // docker cp out of a container whose path is a link to the host's /:
    // what comes out is the container's file, never the host's.
    let d = Daemon::start();
    d.load_busybox();
    let name = unique("cpout");
    let secret = tempfile::Builder::new()
        .prefix("rrun-secret-")
        .tempdir()
        .unwrap();
    std::fs::write(secret.path().join("secret"), "host secret\n").unwrap();
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "300"]);
    d.ok(&["exec", &name, "ln", "-s", "/", "/escape"]);
    let out_dir = tempfile::tempdir().unwrap();
    let src = format!("{name}:/escape{}/secret", secret.path().display());
    let res = d.rrun(&["cp", &src, out_dir.path().to_str().unwrap()]);
    assert!(
        !res.status.success(),
        "CVE-2018-15664: a host file came out of the container"
    );
    assert!(std::fs::read_dir(out_dir.path()).unwrap().next().is_none());
    // And in: a copy to /escape/<host dir> lands in the container.
    let payload = out_dir.path().join("payload");
    std::fs::write(&payload, "from the test\n").unwrap();
    let dst = format!("{name}:/escape{}/", secret.path().display());
    let _ = d.rrun(&["cp", payload.to_str().unwrap(), &dst]);
    let names: Vec<_> = std::fs::read_dir(secret.path()).unwrap().collect();
    assert_eq!(
        names.len(),
        1,
        "CVE-2018-15664: the copy landed on the host"
    );
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn cve_2021_41089_cp_never_chmods_host_paths() {
    // docker cp into a container whose destination's parent is a link to a
    // host directory: no mode or owner on the host may change.
    let d = Daemon::start();
    d.load_busybox();
    let name = unique("chmod");
    let host_dir = tempfile::Builder::new()
        .prefix("rrun-hostdir-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(host_dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let before = std::fs::metadata(host_dir.path()).unwrap();
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "300"]);
    let link = "/hostlink";
    d.ok(&[
        "exec",
        &name,
        "ln",
        "-s",
        host_dir.path().to_str().unwrap(),
        link,
    ]);
    // A directory of mode 0777 copied onto the link's name.
    let src = tempfile::tempdir().unwrap();
    let item = src.path().join("hostlink");
    std::fs::create_dir(&item).unwrap();
    std::fs::set_permissions(&item, std::fs::Permissions::from_mode(0o777)).unwrap();
    let _ = d.rrun(&["cp", item.to_str().unwrap(), &format!("{name}:/")]);
    let after = std::fs::metadata(host_dir.path()).unwrap();
    assert_eq!(
        (after.mode(), after.uid(), after.gid()),
        (before.mode(), before.uid(), before.gid()),
        "CVE-2021-41089: a host directory's mode or owner changed"
    );
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn volume_copy_up_does_not_follow_a_symlink_out() {
    // An image holding links to a host directory: one inside its volume
    // path (/data/link), one that is the volume path itself (/data2). The
    // copy of the image's content into each new volume copies links as
    // links: nothing of the host is copied in, nothing written there.
    let d = Daemon::start();
    d.load_busybox();
    let probe = Probe::new();
    let name = unique("copyup");
    let setup = format!(
        "mkdir /data && echo image > /data/own && ln -s {p} /data/link && ln -s {p} /data2",
        p = probe.path()
    );
    d.ok(&["run", "--name", &name, "busybox", "sh", "-c", &setup]);
    let image = unique("copyupimg");
    d.ok(&["commit", &name, &image]);
    let out = d.rrun(&[
        "run",
        "--rm",
        "-v",
        "/data",
        &image,
        "sh",
        "-c",
        "cat /data/own; ls /data/link/ 2>&1; echo pwned > /data/link/victim; echo end",
    ]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("image\n") && stdout.contains("end"),
        "{stdout}{}",
        text(&out.stderr)
    );
    assert!(
        !stdout.contains("victim\n"),
        "a volume holds the host directory's files: {stdout}"
    );
    // The volume path itself a link: refused (a dangling link in the
    // root) or mounted inside the root; never the host's files.
    let out = d.rrun(&[
        "run",
        "--rm",
        "-v",
        "/data2",
        &image,
        "sh",
        "-c",
        "ls /data2/ 2>&1; echo pwned > /data2/victim; echo end",
    ]);
    assert!(
        !text(&out.stdout).contains("victim\n"),
        "the volume at a link holds the host directory's files: {}",
        text(&out.stdout)
    );
    probe.assert_untouched("volume copy-up");
}

/// `setpriv` as `nobody` (uid and gid 65534, no groups): the commands of
/// another user on the machine.
fn as_nobody(args: &[&str]) -> std::process::Output {
    let mut full = vec!["--reuid=65534", "--regid=65534", "--clear-groups", "--"];
    full.extend_from_slice(args);
    run_timeout(10, Path::new("setpriv"), &full, None)
}

#[test]
fn cve_2021_41091_data_root_not_traversable() {
    // Another user must not walk into the data root (a container's root,
    // its setuid binaries, its logs). The test's own directory is opened
    // to everyone, so only the data root's own mode protects it.
    let d = Daemon::start();
    d.load_busybox();
    let name = unique("walk");
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "300"]);
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut paths = vec![d.data_root()];
    // Every directory rrund mounted under its directories: the
    // containers' roots (a network namespace's file is no way in: joining
    // it takes CAP_SYS_ADMIN).
    for m in host_mounts_containing(d.dir.path().to_str().unwrap()) {
        if let Some(target) = m.split(' ').nth(4).map(PathBuf::from) {
            if target.is_dir() {
                paths.push(target);
            }
        }
    }
    assert!(paths.len() > 1, "the container's root is not mounted");
    for p in &paths {
        let out = as_nobody(&["ls", p.to_str().unwrap()]);
        assert!(
            !out.status.success(),
            "CVE-2021-41091: another user lists {}: {}",
            p.display(),
            text(&out.stdout)
        );
    }
    let mode = std::fs::metadata(d.data_root()).unwrap().mode() & 0o7777;
    assert_eq!(mode & 0o007, 0, "data root mode {mode:o}");
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn api_socket_is_0660_group_rrun() {
    // Docker's rule: the socket is rw for root and one group only. The
    // group `rrun` exists only in this rrund's private mount namespace (a
    // copy of /etc/group with it bind-mounted there): the host's files are
    // not changed.
    let dir = tempfile::Builder::new()
        .prefix("rrund-sock-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let gid = 64999;
    let mut groups = std::fs::read_to_string("/etc/group").unwrap();
    groups.push_str(&format!("rrun:x:{gid}:\n"));
    std::fs::write(dir.path().join("group"), groups).unwrap();
    let net = TestNetns::new("sock");
    let dns = DnsStub::start();
    let socket = dir.path().join("rrun.sock");
    let script = format!(
        "mount --bind {dir}/group /etc/group && exec {rrund} -H unix://{sock} --data-root {dir}/data \
         --exec-root {dir}/exec --config-file {dir}/daemon.json --host-netns {netns} --dns {dns} \
         2>{dir}/rrund.log",
        dir = dir.path().display(),
        rrund = bin("rrund").display(),
        sock = socket.display(),
        netns = net.path().display(),
        dns = dns.addr(),
    );
    let mut child = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .spawn()
        .unwrap();
    let up = (|| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if http(&socket, "GET", "/_ping").is_some_and(|(c, _)| c == 200) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    })();
    let meta = std::fs::metadata(&socket);
    let nobody = as_nobody(&[
        "curl",
        "-s",
        "--max-time",
        "5",
        "--unix-socket",
        socket.to_str().unwrap(),
        "http://rrun/_ping",
    ]);
    let member = run_timeout(
        10,
        Path::new("setpriv"),
        &[
            "--reuid=65534",
            &format!("--regid={gid}"),
            "--clear-groups",
            "--",
            "curl",
            "-s",
            "--max-time",
            "5",
            "--unix-socket",
            socket.to_str().unwrap(),
            "http://rrun/_ping",
        ],
        None,
    );
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.path().join("rrund.log")).unwrap_or_default();
    assert!(up, "rrund did not start: {log}");
    let meta = meta.unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660, "socket mode");
    assert_eq!(meta.uid(), 0);
    assert_eq!(meta.gid(), gid, "socket group is not rrun");
    assert!(
        !nobody.status.success() || text(&nobody.stdout) != "OK",
        "another user reached the API"
    );
    assert_eq!(
        text(&member.stdout),
        "OK",
        "a member of rrun: {}",
        text(&member.stderr)
    );
}

#[test]
fn cve_2019_14271_cp_loads_nothing_from_the_container() {
    // docker-tar chrooted into the container and Go's user lookup loaded
    // the container's libnss_*.so. Here the container holds an NSS module
    // whose constructor leaves a mark: copies both ways, of files owned
    // by users the container names, must never run it.
    let d = Daemon::start();
    d.load_busybox();
    let marks = tempfile::tempdir().unwrap();
    let host_mark = marks.path().join("loaded-on-the-host");
    let src = marks.path().join("nss.c");
    std::fs::write(
        &src,
        format!(
            "#include <fcntl.h>\n#include <unistd.h>\n\
             __attribute__((constructor)) static void mark(void) {{\n\
             close(open(\"{}\", O_CREAT | O_WRONLY, 0644));\n\
             close(open(\"/nss-loaded\", O_CREAT | O_WRONLY, 0644)); }}\n",
            host_mark.display()
        ),
    )
    .unwrap();
    let so = marks.path().join("libnss_files.so.2");
    let out = run_timeout(
        60,
        Path::new("cc"),
        &[
            "-shared",
            "-fPIC",
            "-o",
            so.to_str().unwrap(),
            src.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "cc: {}", text(&out.stderr));
    let name = unique("nss");
    d.ok(&["create", "--name", &name, "busybox", "sleep", "300"]);
    for dir in [
        "/lib",
        "/lib64",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
    ] {
        let tmp = marks.path().join("stage");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join(dir.trim_start_matches('/'))).unwrap();
        std::fs::copy(
            &so,
            tmp.join(dir.trim_start_matches('/'))
                .join("libnss_files.so.2"),
        )
        .unwrap();
        std::fs::create_dir_all(tmp.join("etc")).unwrap();
        std::fs::write(
            tmp.join("etc/nsswitch.conf"),
            "passwd: files\ngroup: files\n",
        )
        .unwrap();
        std::fs::write(
            tmp.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nowner:x:4242:4242::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(tmp.join("etc/group"), "root:x:0:\nowner:x:4242:\n").unwrap();
        d.ok(&["cp", &format!("{}/.", tmp.display()), &format!("{name}:/")]);
    }
    // A file owned by a user only the container names, both ways, on a
    // stopped and on a running container.
    let owned = marks.path().join("owned");
    std::fs::write(&owned, "data\n").unwrap();
    nix::unistd::chown(
        &owned,
        Some(nix::unistd::Uid::from_raw(4242)),
        Some(nix::unistd::Gid::from_raw(4242)),
    )
    .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    for round in ["stopped", "running"] {
        if round == "running" {
            d.ok(&["start", &name]);
        }
        d.ok(&[
            "cp",
            "-a",
            owned.to_str().unwrap(),
            &format!("{name}:/owned"),
        ]);
        d.ok(&[
            "cp",
            "-a",
            &format!("{name}:/owned"),
            out_dir.path().join(round).to_str().unwrap(),
        ]);
        d.ok(&[
            "cp",
            &format!("{name}:/etc"),
            out_dir
                .path()
                .join(format!("etc-{round}"))
                .to_str()
                .unwrap(),
        ]);
        assert!(
            !host_mark.exists(),
            "CVE-2019-14271: the container's NSS module ran on the host ({round})"
        );
    }
    let inside = d.rrun(&[
        "cp",
        &format!("{name}:/nss-loaded"),
        out_dir.path().join("m").to_str().unwrap(),
    ]);
    assert!(
        !inside.status.success(),
        "CVE-2019-14271: the container's NSS module ran in a copy"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.path().join("running")).unwrap(),
        "data\n"
    );
    d.ok(&["rm", "-f", &name]);
}
