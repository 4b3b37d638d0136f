//! Root tests of copy-up: what the image has at the mount path lands in an
//! empty volume with owners, modes, times, links and xattrs; never into a
//! volume with content; never outside the image or the volume.

mod common;

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{chown, lchown, symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{require_root, unique, TestDir};
use nix::sys::stat::{mknod, Mode, SFlag};
use volumes::copyup::CopyOutcome;
use volumes::VolumeStore;

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn lsetxattr(p: &Path, key: &str, value: &[u8]) {
    let key = CString::new(key).unwrap();
    // SAFETY: valid NUL-terminated strings and a valid buffer.
    let rc = unsafe {
        libc::lsetxattr(
            cpath(p).as_ptr(),
            key.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        rc,
        0,
        "lsetxattr {p:?} {key:?}: {}",
        std::io::Error::last_os_error()
    );
}

fn lgetxattr(p: &Path, key: &str) -> Option<Vec<u8>> {
    let key = CString::new(key).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: as above.
    let n = unsafe {
        libc::lgetxattr(
            cpath(p).as_ptr(),
            key.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| {
        buf.truncate(n as usize);
        buf
    })
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn set_mtime(p: &Path, secs: i64) {
    let t = nix::sys::time::TimeSpec::new(secs, 0);
    nix::sys::stat::utimensat(
        None,
        p,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

/// An image rootfs with a MySQL-like data directory full of awkward things.
fn mysql_like_rootfs(root: &Path) -> PathBuf {
    let data = root.join("var/lib/mysql");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("ibdata1"), b"innodb pages").unwrap();
    chown(data.join("ibdata1"), Some(999), Some(998)).unwrap();
    chmod(&data.join("ibdata1"), 0o640);
    lsetxattr(&data.join("ibdata1"), "user.rrun.test", b"kept");
    set_mtime(&data.join("ibdata1"), 1_000_000_000);

    fs::write(data.join("suid-tool"), b"#!/bin/sh\n").unwrap();
    chown(data.join("suid-tool"), Some(0), Some(0)).unwrap();
    chmod(&data.join("suid-tool"), 0o4755);
    // A file capability: set after the chown in the copy, or it is lost.
    let cap = [
        0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    lsetxattr(&data.join("suid-tool"), "security.capability", &cap);

    fs::create_dir(data.join("mysql")).unwrap();
    chown(data.join("mysql"), Some(999), Some(999)).unwrap();
    chmod(&data.join("mysql"), 0o700);
    fs::write(data.join("mysql/user.frm"), b"users").unwrap();
    fs::hard_link(data.join("mysql/user.frm"), data.join("user.frm.link")).unwrap();

    symlink("mysql/user.frm", data.join("rel-link")).unwrap();
    lchown(data.join("rel-link"), Some(999), Some(999)).unwrap();
    lsetxattr(&data.join("rel-link"), "trusted.rrun.test", b"on a symlink");
    symlink("/etc/passwd", data.join("abs-link")).unwrap();

    nix::unistd::mkfifo(&data.join("fifo"), Mode::from_bits_truncate(0o620)).unwrap();
    chmod(&data.join("fifo"), 0o620); // past the umask
    mknod(
        &data.join("null"),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();

    // The mount point itself: mysql's data directory is 999:999, 0750.
    chown(&data, Some(999), Some(999)).unwrap();
    chmod(&data, 0o750);
    data
}

#[test]
fn copy_up_preserves_owners_modes_links_and_xattrs() {
    require_root();
    let dir = TestDir::new();
    let rootfs = dir.path().join("rootfs");
    let image = mysql_like_rootfs(&rootfs);
    let store = VolumeStore::open(dir.volumes()).unwrap();
    let name = unique("todo-mysql-data");
    store.ensure(&name).unwrap();
    let vol = store.data_path(&name);
    // The fresh volume's own mode differs from the image's, so the test
    // sees the mount point's owner and mode being copied.
    assert_eq!(fs::metadata(&vol).unwrap().mode() & 0o7777, 0o755);

    assert_eq!(
        store.copy_up(&name, &rootfs, "/var/lib/mysql").unwrap(),
        CopyOutcome::Copied
    );

    let md = |p: &str| fs::symlink_metadata(vol.join(p)).unwrap();
    let root = fs::metadata(&vol).unwrap();
    assert_eq!(
        (root.uid(), root.gid(), root.mode() & 0o7777),
        (999, 999, 0o750),
        "mount point"
    );

    let f = md("ibdata1");
    assert_eq!((f.uid(), f.gid(), f.mode() & 0o7777), (999, 998, 0o640));
    assert_eq!(fs::read(vol.join("ibdata1")).unwrap(), b"innodb pages");
    assert_eq!(f.mtime(), 1_000_000_000);
    assert_eq!(
        lgetxattr(&vol.join("ibdata1"), "user.rrun.test").as_deref(),
        Some(&b"kept"[..])
    );

    let s = md("suid-tool");
    assert_eq!(s.mode() & 0o7777, 0o4755, "set-uid bit survives");
    assert_eq!(
        lgetxattr(&vol.join("suid-tool"), "security.capability"),
        lgetxattr(&image.join("suid-tool"), "security.capability"),
        "file capability survives the chown"
    );
    assert!(lgetxattr(&vol.join("suid-tool"), "security.capability").is_some());

    let d = md("mysql");
    assert!(d.is_dir());
    assert_eq!((d.uid(), d.gid(), d.mode() & 0o7777), (999, 999, 0o700));

    let a = md("mysql/user.frm");
    let b = md("user.frm.link");
    assert_eq!(a.ino(), b.ino(), "a hard link stays a hard link");
    assert_eq!(a.nlink(), 2);

    let l = md("rel-link");
    assert!(l.file_type().is_symlink());
    assert_eq!(
        fs::read_link(vol.join("rel-link")).unwrap(),
        Path::new("mysql/user.frm")
    );
    assert_eq!((l.uid(), l.gid()), (999, 999), "symlink owner");
    assert_eq!(
        lgetxattr(&vol.join("rel-link"), "trusted.rrun.test").as_deref(),
        Some(&b"on a symlink"[..])
    );
    assert_eq!(
        fs::read_link(vol.join("abs-link")).unwrap(),
        Path::new("/etc/passwd")
    );

    use std::os::unix::fs::FileTypeExt;
    let fifo = md("fifo");
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode() & 0o7777, 0o620);
    let null = md("null");
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
}

#[test]
fn no_copy_up_into_a_volume_with_content() {
    require_root();
    let dir = TestDir::new();
    let rootfs = dir.path().join("rootfs");
    mysql_like_rootfs(&rootfs);
    let store = VolumeStore::open(dir.volumes()).unwrap();
    let name = unique("has-data");
    store.ensure(&name).unwrap();
    let vol = store.data_path(&name);
    fs::write(vol.join("mine"), b"user data").unwrap();
    let before = fs::metadata(&vol).unwrap();

    assert_eq!(
        store.copy_up(&name, &rootfs, "/var/lib/mysql").unwrap(),
        CopyOutcome::DestNotEmpty
    );
    let names: Vec<_> = fs::read_dir(&vol)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["mine"]);
    assert_eq!(fs::read(vol.join("mine")).unwrap(), b"user data");
    let after = fs::metadata(&vol).unwrap();
    assert_eq!(
        (after.uid(), after.mode()),
        (before.uid(), before.mode()),
        "mount point untouched"
    );

    // An image without that path leaves an empty volume empty.
    let empty = unique("empty");
    store.ensure(&empty).unwrap();
    assert_eq!(
        store.copy_up(&empty, &rootfs, "/no/such/dir").unwrap(),
        CopyOutcome::NoSource
    );
    assert_eq!(fs::read_dir(store.data_path(&empty)).unwrap().count(), 0);
}

/// Everything under `dir` as (relative path, size, mtime, symlink target).
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, i64, Option<PathBuf>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let md = fs::symlink_metadata(&p).unwrap();
        let link = md
            .file_type()
            .is_symlink()
            .then(|| fs::read_link(&p).unwrap());
        out.push((
            p.strip_prefix(dir).unwrap().to_path_buf(),
            md.size(),
            md.mtime(),
            link,
        ));
        if md.is_dir() {
            for e in fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn hostile_image_symlinks_cannot_leave_the_image() {
    require_root();
    let dir = TestDir::new();
    // The probe: a host directory the image must neither read nor write.
    let probe = dir.path().join("probe");
    fs::create_dir_all(probe.join("inner")).unwrap();
    fs::write(probe.join("secret"), b"TOP SECRET HOST DATA").unwrap();
    fs::write(probe.join("inner/more"), b"MORE SECRET").unwrap();
    let probe_before = snapshot(&probe);

    let rootfs = dir.path().join("rootfs");
    let data = rootfs.join("var/lib/mysql");
    fs::create_dir_all(data.join("sub")).unwrap();
    fs::write(data.join("ok"), b"fine").unwrap();
    // Absolute and relative symlinks to the probe, to a file and to a
    // directory, at the top and deeper down.
    symlink(&probe, data.join("abs-dir")).unwrap();
    symlink(probe.join("secret"), data.join("abs-file")).unwrap();
    let up = "../".repeat(rootfs.components().count() + 3);
    let rel_probe = format!("{up}{}", probe.strip_prefix("/").unwrap().display());
    symlink(&rel_probe, data.join("rel-dir")).unwrap();
    symlink(format!("{rel_probe}/secret"), data.join("sub/rel-file")).unwrap();
    symlink("../../../../../../../../..", data.join("sub/root")).unwrap();
    // Mount paths that lead outside through a symlink in the image.
    symlink(&probe, rootfs.join("data")).unwrap();
    fs::create_dir_all(rootfs.join("var/lib/evil")).unwrap();
    symlink(&rel_probe, rootfs.join("var/lib/evil/link")).unwrap();

    let store = VolumeStore::open(dir.volumes()).unwrap();
    let name = unique("hostile");
    store.ensure(&name).unwrap();
    let vol = store.data_path(&name);
    assert_eq!(
        store.copy_up(&name, &rootfs, "/var/lib/mysql").unwrap(),
        CopyOutcome::Copied
    );

    // The links were copied as links, with their text, and not followed.
    for link in ["abs-dir", "abs-file", "rel-dir", "sub/rel-file", "sub/root"] {
        let md = fs::symlink_metadata(vol.join(link)).unwrap();
        assert!(md.file_type().is_symlink(), "{link} stays a symlink");
        assert_eq!(
            fs::read_link(vol.join(link)).unwrap(),
            fs::read_link(data.join(link)).unwrap()
        );
    }
    assert_eq!(fs::read(vol.join("ok")).unwrap(), b"fine");
    let copied = snapshot(&vol);
    assert_eq!(copied.len(), 8, "only the image's entries: {copied:?}");
    for (path, ..) in &copied {
        let full = vol.join(path);
        if fs::symlink_metadata(&full).unwrap().is_file() {
            let content = fs::read(&full).unwrap();
            assert!(
                !content.windows(6).any(|w| w == b"SECRET"),
                "{path:?} holds host data"
            );
        }
    }

    // A mount path that is a symlink out of the image resolves inside it.
    for path in [
        "/data",
        "/var/lib/evil/link",
        "/../../../../../../../..",
        "/var/lib/evil/link/inner",
    ] {
        let other = unique("hostile-path");
        store.ensure(&other).unwrap();
        let outcome = store.copy_up(&other, &rootfs, path).unwrap();
        let got = snapshot(&store.data_path(&other));
        if path.starts_with("/..") {
            // `..` above `/` is `/`: the image's own root, as in a container.
            assert_eq!(outcome, CopyOutcome::Copied);
            assert!(
                got.iter().all(|(p, ..)| !p.starts_with("secret")),
                "{got:?}"
            );
            assert!(store.data_path(&other).join("var/lib/mysql/ok").exists());
        } else {
            assert_eq!(outcome, CopyOutcome::NoSource, "{path}");
            assert_eq!(got.len(), 1, "{path}: nothing copied");
        }
    }

    // The probe was not written to (same entries, sizes, times).
    assert_eq!(snapshot(&probe), probe_before);
}

#[test]
fn a_volume_symlinked_away_is_not_written_through() {
    require_root();
    let dir = TestDir::new();
    let rootfs = dir.path().join("rootfs");
    mysql_like_rootfs(&rootfs);
    let probe = dir.path().join("probe");
    fs::create_dir_all(&probe).unwrap();
    let store = VolumeStore::open(dir.volumes()).unwrap();
    let name = unique("swapped");
    store.ensure(&name).unwrap();
    // Someone replaced _data with a symlink to a host directory.
    let data = store.data_path(&name);
    fs::remove_dir(&data).unwrap();
    symlink(&probe, &data).unwrap();
    let err = store.copy_up(&name, &rootfs, "/var/lib/mysql").unwrap_err();
    assert!(err.to_string().contains("_data"), "{err}");
    assert_eq!(
        fs::read_dir(&probe).unwrap().count(),
        0,
        "nothing written outside"
    );
}

#[test]
fn concurrent_copy_ups_of_one_volume_copy_once() {
    require_root();
    let dir = TestDir::new();
    let rootfs = dir.path().join("rootfs");
    let image = rootfs.join("srv");
    fs::create_dir_all(&image).unwrap();
    for i in 0..200 {
        fs::write(image.join(format!("f{i}")), format!("file {i}")).unwrap();
    }
    let store = std::sync::Arc::new(VolumeStore::open(dir.volumes()).unwrap());
    let name = unique("shared");
    store.ensure(&name).unwrap();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (store, name, rootfs, barrier) =
                (store.clone(), name.clone(), rootfs.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.copy_up(&name, &rootfs, "/srv").unwrap()
            })
        })
        .collect();
    let outcomes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let copied = outcomes
        .iter()
        .filter(|o| **o == CopyOutcome::Copied)
        .count();
    assert_eq!(copied, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, CopyOutcome::Copied | CopyOutcome::DestNotEmpty)));
    assert_eq!(fs::read_dir(store.data_path(&name)).unwrap().count(), 200);
    assert_eq!(
        fs::read(store.data_path(&name).join("f7")).unwrap(),
        b"file 7"
    );
}
