//! `docker diff`: what a container changed in its filesystem, read from
//! its overlay upper dir against the image below.

use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

/// One line of `GET /containers/{id}/changes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Change {
    pub path: String,
    /// 0 changed, 1 added, 2 deleted (Docker's numbering).
    pub kind: u8,
}

pub const CHANGED: u8 = 0;
pub const ADDED: u8 = 1;
pub const DELETED: u8 = 2;

/// What the runtime itself puts in every container (Docker keeps these in
/// an init layer below the container's, so `docker diff` never shows them).
const RUNTIME_PATHS: &[&str] = &[
    "/dev",
    "/proc",
    "/sys",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/etc/mtab",
    "/.dockerenv",
    "/sbin/docker-init",
];

/// The changes in `upper`: `in_image(path)` says whether the image has
/// `path`; `mounts` are the container's mount destinations (volumes,
/// binds, tmpfs), hidden as the runtime's paths are. Sorted by path.
pub fn changes(upper: &Path, in_image: &dyn Fn(&str) -> bool, mounts: &[String]) -> Vec<Change> {
    let hidden = |p: &str| {
        RUNTIME_PATHS
            .iter()
            .copied()
            .chain(mounts.iter().map(String::as_str))
            .any(|h| p == h || p.strip_prefix(h).is_some_and(|r| r.starts_with('/')))
    };
    let mut out = Vec::new();
    walk(upper, "", in_image, &hidden, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Adds the changes under `dir` (at `rel` in the container); whether any.
fn walk(
    dir: &Path,
    rel: &str,
    in_image: &dyn Fn(&str) -> bool,
    hidden: &dyn Fn(&str) -> bool,
    out: &mut Vec<Change>,
) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut any = false;
    for e in entries.flatten() {
        let path = format!("{rel}/{}", e.file_name().to_string_lossy());
        let Ok(meta) = e.path().symlink_metadata() else {
            continue;
        };
        if hidden(&path) {
            continue;
        }
        let ft = meta.file_type();
        let kind = if ft.is_char_device() && meta.rdev() == 0 {
            Some(DELETED)
        } else if ft.is_dir() {
            let below = walk(&e.path(), &path, in_image, hidden, out);
            match (in_image(&path), below) {
                (false, _) => Some(ADDED),
                (true, true) => Some(CHANGED),
                (true, false) => None,
            }
        } else if in_image(&path) {
            Some(CHANGED)
        } else {
            Some(ADDED)
        };
        if let Some(kind) = kind {
            out.push(Change { path, kind });
            any = true;
        }
    }
    any
}

impl crate::daemon::Daemon {
    /// `GET /containers/{id}/changes`.
    pub fn changes(&self, name: &str) -> Result<Vec<Change>, crate::daemon::ContainerError> {
        let c = self.container(name)?;
        let image = crate::daemon::find_image(&self.images, &c.image)?;
        let mounts: Vec<String> = c.mounts.iter().map(|m| m.destination.clone()).collect();
        let store = &self.images;
        let in_image = |p: &str| rrun_image::rootfs::in_image(store, &image, p);
        Ok(changes(&self.dir(&c.id).join("upper"), &in_image, &mounts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_dirs_read_as_dockers_changes() {
        let up = tempfile::tempdir().unwrap();
        let u = up.path();
        std::fs::create_dir_all(u.join("etc")).unwrap();
        std::fs::write(u.join("etc/passwd"), "x").unwrap();
        std::fs::write(u.join("etc/hosts"), "").unwrap();
        std::fs::create_dir_all(u.join("new/sub")).unwrap();
        std::fs::write(u.join("new/sub/f"), "x").unwrap();
        std::fs::create_dir_all(u.join("dev")).unwrap();
        std::fs::create_dir_all(u.join("data")).unwrap();
        std::fs::write(u.join("data/in-volume"), "x").unwrap();
        // A whiteout: a 0/0 character device.
        nix::sys::stat::mknod(
            &u.join("etc/motd"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o644),
            0,
        )
        .unwrap();
        let image = ["/etc", "/etc/passwd", "/etc/motd", "/dev"];
        let got = changes(u, &|p| image.contains(&p), &["/data".into()]);
        let want = [
            ("/etc", CHANGED),
            ("/etc/motd", DELETED),
            ("/etc/passwd", CHANGED),
            ("/new", ADDED),
            ("/new/sub", ADDED),
            ("/new/sub/f", ADDED),
        ];
        let got: Vec<(&str, u8)> = got.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(got, want);
        // Only the runtime's files: nothing to show.
        let quiet = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(quiet.path().join("etc")).unwrap();
        std::fs::write(quiet.path().join("etc/resolv.conf"), "").unwrap();
        assert!(changes(quiet.path(), &|p| p == "/etc", &[]).is_empty());
    }
}
