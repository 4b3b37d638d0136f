//! Helpers for the volumes crate's root tests: a state directory of the
//! test's own that unmounts whatever is left mounted under it, unique
//! names, polling with deadlines.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use volumes::VolumeName;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A volume name unique to this process and call.
pub fn unique(prefix: &str) -> VolumeName {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    VolumeName::try_from(format!("{prefix}-{}-{n}", std::process::id())).unwrap()
}

/// These tests mount, chown and mknod: root only. Not a skip: CI runs
/// them as root, and they must run.
pub fn require_root() {
    assert_eq!(
        nix::unistd::geteuid().as_raw(),
        0,
        "the volumes root tests need root (CI runs `cargo test` as root)"
    );
}

/// A temporary state directory. On drop, everything still mounted under it
/// is lazily unmounted (deepest first) before the directory is deleted, so
/// a failing test never leaves a mount behind nor deletes through one.
pub struct TestDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl TestDir {
    pub fn new() -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix("rrun-volumes-")
            .tempdir()
            .unwrap();
        let path = std::fs::canonicalize(dir.path()).unwrap();
        TestDir {
            dir: Some(dir),
            path,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn volumes(&self) -> PathBuf {
        self.path.join("volumes")
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let mut mounted = mounts_under(&self.path);
        mounted.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
        for m in mounted {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

/// Mount points at or under `root`.
pub fn mounts_under(root: &Path) -> Vec<PathBuf> {
    mountinfo()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(root))
        .collect()
}

pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub super_options: String,
}

pub fn mountinfo() -> Vec<MountEntry> {
    let text = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-").unwrap();
            MountEntry {
                mount_point: PathBuf::from(fields[4].replace("\\040", " ")),
                fstype: fields[sep + 1].to_string(),
                super_options: fields[sep + 3].to_string(),
            }
        })
        .collect()
}

pub fn mount_at(path: &Path) -> Option<MountEntry> {
    mountinfo()
        .into_iter()
        .rev()
        .find(|m| m.mount_point == path)
}

/// Poll `f` until it returns true or `secs` pass.
pub fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
