//! Layer unpacking (run as root): what a layer may carry is kept, and the
//! hostile layer corpus cannot touch anything outside its snapshot.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::*;
use rrun_image::unpack::{unpack_layer, UnpackError};

/// A snapshot dir and, beside it, a probe dir the layers aim at.
struct Sandbox {
    _tmp: tempfile::TempDir,
    snap: PathBuf,
    probe: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let snap = tmp.path().join("snap");
        let probe = tmp.path().join("probe");
        std::fs::create_dir(&snap).unwrap();
        std::fs::create_dir(&probe).unwrap();
        std::fs::write(probe.join("victim"), "original").unwrap();
        Sandbox {
            _tmp: tmp,
            snap,
            probe,
        }
    }

    fn unpack(&self, tar: Vec<u8>) -> Result<(), UnpackError> {
        unpack_layer(&tar[..], &self.snap).map(drop)
    }

    /// The probe is exactly as it was: one file, same content.
    fn assert_probe_untouched(&self) {
        let names: Vec<_> = std::fs::read_dir(&self.probe)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["victim"],
            "something appeared in or vanished from the probe dir"
        );
        let m = std::fs::symlink_metadata(self.probe.join("victim")).unwrap();
        assert!(
            m.is_file() && m.nlink() == 1,
            "probe victim was replaced or linked"
        );
        assert_eq!(
            std::fs::read_to_string(self.probe.join("victim")).unwrap(),
            "original"
        );
        assert_eq!(m.permissions().mode() & 0o7777, 0o644);
    }

    fn probe_str(&self) -> &str {
        self.probe.to_str().unwrap()
    }
}

fn refused(res: Result<(), UnpackError>, needle: &str) -> String {
    let e = res
        .expect_err("the hostile layer must be refused")
        .to_string();
    assert!(e.contains(needle), "error {e:?} should mention {needle:?}");
    e
}

#[test]
fn dot_dot_names_are_refused() {
    let s = Sandbox::new();
    let e = refused(
        s.unpack(Tar::new().file("../probe/victim", b"pwned").finish()),
        "..",
    );
    assert!(e.contains("../probe/victim"), "{e}");
    refused(
        s.unpack(Tar::new().file("a/../../probe/victim", b"pwned").finish()),
        "..",
    );
    s.assert_probe_untouched();
}

#[test]
fn absolute_names_stay_inside_the_snapshot() {
    let s = Sandbox::new();
    let abs = format!("{}/victim", s.probe_str());
    s.unpack(Tar::new().file(&abs, b"confined").finish())
        .unwrap();
    s.assert_probe_untouched();
    let inside = s.snap.join(abs.trim_start_matches('/'));
    assert_eq!(std::fs::read_to_string(inside).unwrap(), "confined");
}

#[test]
fn write_through_symlink_is_refused_cve_2014_9356() {
    let s = Sandbox::new();
    // Absolute symlink to the probe, then a file through it.
    let e = refused(
        s.unpack(
            Tar::new()
                .symlink("evil", s.probe_str())
                .file("evil/victim", b"pwned")
                .finish(),
        ),
        "symlink",
    );
    assert!(e.contains("evil/victim"), "{e}");
    s.assert_probe_untouched();
    // Relative escape through a symlink, and a directory entry through one.
    let s = Sandbox::new();
    refused(
        s.unpack(
            Tar::new()
                .symlink("up", "../probe")
                .file("up/new", b"x")
                .finish(),
        ),
        "symlink",
    );
    refused(
        s.unpack(
            Tar::new()
                .symlink("up2", "..")
                .dir("up2/probe/sub", 0o777)
                .finish(),
        ),
        "symlink",
    );
    s.assert_probe_untouched();
}

#[test]
fn file_replacing_symlink_does_not_write_through_it() {
    let s = Sandbox::new();
    let target = format!("{}/victim", s.probe_str());
    s.unpack(
        Tar::new()
            .symlink("a", &target)
            .file("a", b"replaced")
            .finish(),
    )
    .unwrap();
    s.assert_probe_untouched();
    let m = std::fs::symlink_metadata(s.snap.join("a")).unwrap();
    assert!(m.is_file());
    assert_eq!(
        std::fs::read_to_string(s.snap.join("a")).unwrap(),
        "replaced"
    );
}

#[test]
fn hard_links_to_outside_are_refused() {
    let s = Sandbox::new();
    let abs = format!("{}/victim", s.probe_str());
    refused(
        s.unpack(Tar::new().hardlink("hl", &abs).finish()),
        "not in this layer's snapshot",
    );
    refused(
        s.unpack(Tar::new().hardlink("hl", "../probe/victim").finish()),
        "..",
    );
    // Through a symlinked directory (CVE-2021-32760's shape).
    refused(
        s.unpack(
            Tar::new()
                .symlink("d", s.probe_str())
                .hardlink("hl2", "d/victim")
                .finish(),
        ),
        "symlink",
    );
    s.assert_probe_untouched();
    assert!(!s.snap.join("hl").exists() && !s.snap.join("hl2").exists());
}

#[test]
fn whiteout_through_symlinked_parent_is_refused_cve_2025_47290() {
    let s = Sandbox::new();
    refused(
        s.unpack(
            Tar::new()
                .symlink("link", s.probe_str())
                .file("link/.wh.victim", b"")
                .finish(),
        ),
        "symlink",
    );
    refused(
        s.unpack(
            Tar::new()
                .symlink("link2", "../probe")
                .file("link2/.wh..wh..opq", b"")
                .finish(),
        ),
        "symlink",
    );
    refused(
        s.unpack(Tar::new().file("../probe/.wh.victim", b"").finish()),
        "..",
    );
    s.assert_probe_untouched();
}

#[test]
fn overlay_whiteouts_and_opaque_dirs() {
    let s = Sandbox::new();
    s.unpack(
        Tar::new()
            .dir("etc", 0o755)
            .file("etc/.wh.passwd", b"")
            .dir("var", 0o755)
            .file("var/.wh..wh..opq", b"")
            .file("var/kept", b"k")
            .file(".wh..wh.plnk", b"")
            .finish(),
    )
    .unwrap();
    let wh = std::fs::symlink_metadata(s.snap.join("etc/passwd")).unwrap();
    assert!(
        wh.file_type().is_char_device(),
        "whiteout must be a char device"
    );
    assert_eq!(wh.rdev(), 0);
    assert_eq!((wh.uid(), wh.gid()), (0, 0));
    assert!(!s.snap.join("etc/.wh.passwd").exists());
    assert_eq!(
        xattr(&s.snap.join("var"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!s.snap.join("var/.wh..wh..opq").exists());
    assert!(!s.snap.join(".wh..wh.plnk").exists());
    assert!(s.snap.join("var/kept").exists());
}

#[test]
fn metadata_is_kept() {
    let s = Sandbox::new();
    s.unpack(
        Tar::new()
            .dir("bin", 0o755)
            .file_with("bin/su", b"#!", 0o4755, 0, 0, 1_234_567)
            .file_with("home-file", b"h", 0o640, 1000, 1001, 42)
            .hardlink("bin/su-link", "bin/su")
            .symlink("bin/sh", "/bin/busybox")
            .node("dev/null", tar::EntryType::Char, 1, 3, 0o666)
            .node("dev/loop0", tar::EntryType::Block, 7, 0, 0o660)
            .node("run/fifo", tar::EntryType::Fifo, 0, 0, 0o620)
            .file_xattr("caps", b"c", "user.rrun-test", "v1")
            .file_xattr("sneaky", b"s", "trusted.overlay.redirect", "/etc")
            .dir("tmp", 0o1777)
            .finish(),
    )
    .unwrap();
    let su = std::fs::metadata(s.snap.join("bin/su")).unwrap();
    assert_eq!(su.permissions().mode() & 0o7777, 0o4755, "setuid bit kept");
    assert_eq!(su.mtime(), 1_234_567);
    assert_eq!(su.nlink(), 2);
    assert_eq!(
        std::fs::metadata(s.snap.join("bin/su-link")).unwrap().ino(),
        su.ino()
    );
    let h = std::fs::metadata(s.snap.join("home-file")).unwrap();
    assert_eq!(
        (h.uid(), h.gid(), h.permissions().mode() & 0o777, h.mtime()),
        (1000, 1001, 0o640, 42)
    );
    assert_eq!(
        std::fs::read_link(s.snap.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    let null = std::fs::symlink_metadata(s.snap.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert_eq!(null.permissions().mode() & 0o777, 0o666);
    let lp = std::fs::symlink_metadata(s.snap.join("dev/loop0")).unwrap();
    assert!(lp.file_type().is_block_device());
    assert!(std::fs::symlink_metadata(s.snap.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(
        xattr(&s.snap.join("caps"), "user.rrun-test").as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(
        xattr(&s.snap.join("sneaky"), "trusted.overlay.redirect"),
        None,
        "overlay xattrs from layers are dropped"
    );
    assert_eq!(
        std::fs::metadata(s.snap.join("tmp"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o1777
    );
    assert_eq!(
        std::fs::metadata(s.snap.join("bin")).unwrap().mtime(),
        1_000_000,
        "dir mtime set last"
    );
}

fn xattr(p: &Path, key: &str) -> Option<Vec<u8>> {
    let path = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let k = std::ffi::CString::new(key).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings and buffer.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            k.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}

#[test]
fn directory_replaced_by_symlink_mid_layer_is_not_written_through() {
    let s = Sandbox::new();
    let res = s.unpack(
        Tar::new()
            .dir("a", 0o755)
            .file("a/x", b"1")
            .symlink("a", s.probe_str())
            .file("a/victim", b"pwned")
            .finish(),
    );
    refused(res, "symlink");
    s.assert_probe_untouched();
}
