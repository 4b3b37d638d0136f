//! `docker cp`'s endpoints: `HEAD`, `GET` and `PUT /containers/{id}/archive`.
//!
//! The pure part lives here: the `X-Docker-Container-Path-Stat` header
//! (Go's `os.FileMode` bits, Go's time format), Docker's path rules
//! (`archive.SplitPathDirEntry`, the trailing `/` and `/.`), tar entry
//! names checked before extraction, and which mount a path falls in.
//!
//! The parts that touch files are below: [`view`] opens the container's
//! file tree (a running container's own root through `/proc/<pid>/root`;
//! a stopped one's root filesystem mounted on a private directory, with its
//! volumes and bind sources beside it), [`pack`] writes a tar of a path and
//! [`unpack`] extracts one. Every path is resolved inside the container's
//! root with libpathrs (openat2 `RESOLVE_IN_ROOT`), so a symlink in the
//! container (`/escape -> /`) never leads to the host: CVE-2018-15664
//! (`docker cp` followed symlinks the container swapped in, on the host).
//! Nothing from the container is loaded or run by the daemon while copying
//! (no chroot into it, no NSS lookup there): CVE-2019-14271, where
//! docker-tar loaded the container's libnss.

mod lock;
mod pack;
mod unpack;
mod view;

use std::path::{Component, Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};

pub use lock::RootfsLock;
pub use view::{clean_leftovers, View};

/// Go's `os.FileMode` type bits, as dockerd puts them in the header.
pub mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
}

/// A Unix `st_mode` as Go's `os.FileMode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    m |= match st_mode & libc::S_IFMT {
        libc::S_IFDIR => go_mode::DIR,
        libc::S_IFLNK => go_mode::SYMLINK,
        libc::S_IFBLK => go_mode::DEVICE,
        libc::S_IFCHR => go_mode::DEVICE | go_mode::CHAR_DEVICE,
        libc::S_IFIFO => go_mode::NAMED_PIPE,
        libc::S_IFSOCK => go_mode::SOCKET,
        _ => 0,
    };
    for (unix, go) in [
        (libc::S_ISUID, go_mode::SETUID),
        (libc::S_ISGID, go_mode::SETGID),
        (libc::S_ISVTX, go_mode::STICKY),
    ] {
        if st_mode & unix != 0 {
            m |= go;
        }
    }
    m
}

/// Go's `time.RFC3339Nano` in UTC: trailing zeros of the fraction dropped.
pub fn go_time(secs: i64, nsec: i64) -> String {
    let t = chrono::DateTime::from_timestamp(secs, nsec.clamp(0, 999_999_999) as u32)
        .unwrap_or_default();
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if nsec > 0 {
        let frac = format!("{nsec:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Docker's `ContainerPathStat`, sent base64-encoded as JSON in the
/// `X-Docker-Container-Path-Stat` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

pub const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

impl PathStat {
    pub fn header_value(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    pub fn is_dir(&self) -> bool {
        self.mode & go_mode::DIR != 0
    }
}

/// The absolute, cleaned form of a requested path, keeping a trailing `/`
/// or `/.` (Docker's `PreserveTrailingDotOrSeparator`): they mean "the
/// directory itself, symlink followed" and "its contents".
pub fn abs_path(path: &str) -> String {
    let mut clean = clean(path);
    if path.ends_with("/.") || path == "." {
        if clean != "/" {
            clean.push('/');
        }
        clean.push('.');
    } else if path.ends_with('/') && clean != "/" {
        clean.push('/');
    }
    clean
}

/// Lexical clean of a path made absolute: no `.`, `..` or doubled `/`;
/// `..` stops at `/`.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Docker's `filepath.Base` of an absolute path as [`abs_path`] gives it:
/// the name a stat answers with and the tar's top entry is renamed to.
pub fn base_name(abs: &str) -> String {
    if abs.ends_with("/.") {
        return ".".into();
    }
    match abs.trim_end_matches('/').rsplit('/').next() {
        Some("") | None => "/".into(),
        Some(b) => b.to_string(),
    }
}

/// Whether resolving `abs` follows a symlink in its last element: only
/// with a trailing `/` or `/.` (Docker lstat's the last element).
pub fn follows_last(abs: &str) -> bool {
    abs.ends_with('/') || abs.ends_with("/.")
}

/// Which of `mounts` (destinations in the container) holds `abs`: the
/// longest destination that is `abs` or a parent of it, with the rest of
/// the path under it.
pub fn route(mounts: &[String], abs: &str) -> Option<(usize, String)> {
    let path = clean(abs);
    mounts
        .iter()
        .enumerate()
        .filter_map(|(i, dest)| {
            let dest = clean(dest);
            let rest = if dest == "/" {
                Some(path.as_str())
            } else {
                path.strip_prefix(dest.as_str())
                    .filter(|r| r.is_empty() || r.starts_with('/'))
            }?;
            Some((i, dest.len(), format!("/{}", rest.trim_start_matches('/'))))
        })
        .max_by_key(|(_, len, _)| *len)
        .map(|(i, _, rest)| (i, rest))
}

/// A tar entry's name as a path relative to the extraction directory;
/// `None` for the directory itself (`.`, `./`). An entry that climbs out
/// (`../x`, `a/../../x`) is refused, as Docker's untar refuses a breakout.
pub fn entry_rel(name: &str) -> Result<Option<PathBuf>, String> {
    let mut out = PathBuf::new();
    for c in Path::new(name.trim_start_matches('/')).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err(format!("{name:?} is outside of the extraction point"));
                }
            }
            Component::Prefix(_) => return Err(format!("{name:?} is not a Linux path")),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// The options of `PUT /containers/{id}/archive`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PutOptions {
    /// Refuse to replace a directory by a non-directory and the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Owners as the tar says; else root's (Docker's rule).
    pub copy_uid_gid: bool,
}

/// Docker's wording for a path a container does not have.
pub fn not_found(path: &str, id: &str) -> crate::daemon::ContainerError {
    crate::daemon::ContainerError::NoSuchPath {
        path: path.to_string(),
        id: id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_gos_file_modes() {
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), go_mode::DIR | 0o755);
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(
            go_file_mode(libc::S_IFLNK | 0o777),
            go_mode::SYMLINK | 0o777
        );
        assert_eq!(
            go_file_mode(libc::S_IFREG | libc::S_ISUID | 0o755),
            go_mode::SETUID | 0o755
        );
        assert_eq!(
            go_file_mode(libc::S_IFDIR | libc::S_ISVTX | 0o777),
            go_mode::DIR | go_mode::STICKY | 0o777
        );
        assert_eq!(
            go_file_mode(libc::S_IFCHR | 0o666),
            go_mode::DEVICE | go_mode::CHAR_DEVICE | 0o666
        );
    }

    #[test]
    fn the_stat_header_is_dockers() {
        let s = PathStat {
            name: "hosts".into(),
            size: 12,
            mode: 0o644,
            mtime: go_time(1_700_000_000, 120_000_000),
            link_target: String::new(),
        };
        assert_eq!(s.mtime, "2023-11-14T22:13:20.12Z");
        assert_eq!(go_time(0, 0), "1970-01-01T00:00:00Z");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(s.header_value())
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "hosts", "size": 12, "mode": 420,
                "mtime": "2023-11-14T22:13:20.12Z", "linkTarget": ""})
        );
        assert!(!s.is_dir());
    }

    #[test]
    fn paths_follow_dockers_rules() {
        assert_eq!(abs_path("etc/app"), "/etc/app");
        assert_eq!(abs_path("/etc//app/"), "/etc/app/");
        assert_eq!(abs_path("/etc/app/."), "/etc/app/.");
        assert_eq!(abs_path("/"), "/");
        assert_eq!(abs_path("/../.."), "/");
        assert_eq!(abs_path("/a/../b"), "/b");
        assert_eq!(base_name("/etc/app"), "app");
        assert_eq!(base_name("/etc/app/"), "app");
        assert_eq!(base_name("/etc/app/."), ".");
        assert_eq!(base_name("/"), "/");
        assert!(follows_last("/etc/app/") && follows_last("/etc/app/."));
        assert!(!follows_last("/etc/app"));
    }

    #[test]
    fn paths_route_to_the_innermost_mount() {
        let m = vec!["/".to_string(), "/data".into(), "/data/sub".into()];
        assert_eq!(route(&m, "/etc/hosts"), Some((0, "/etc/hosts".into())));
        assert_eq!(route(&m, "/data"), Some((1, "/".into())));
        assert_eq!(route(&m, "/data/x"), Some((1, "/x".into())));
        assert_eq!(route(&m, "/data/sub/y/"), Some((2, "/y".into())));
        assert_eq!(route(&m, "/database"), Some((0, "/database".into())));
        assert_eq!(route(&m, "/data/../etc"), Some((0, "/etc".into())));
        assert_eq!(route(&m[1..], "/etc"), None);
    }

    #[test]
    fn entries_never_climb_out() {
        assert_eq!(entry_rel("./").unwrap(), None);
        assert_eq!(entry_rel(".").unwrap(), None);
        assert_eq!(entry_rel("app/conf").unwrap(), Some("app/conf".into()));
        assert_eq!(entry_rel("./app/../x").unwrap(), Some("x".into()));
        assert_eq!(entry_rel("/abs/x").unwrap(), Some("abs/x".into()));
        assert!(entry_rel("../evil").is_err());
        assert!(entry_rel("a/../../evil").is_err());
    }
}
