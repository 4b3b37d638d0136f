//! A tar extracted into a container's directory, for
//! `PUT /containers/{id}/archive`.
//!
//! Every entry is created through libpathrs inside the container's root:
//! a `../` name is refused ([`super::entry_rel`]), and a symlink the
//! container has (or an earlier entry made) is resolved inside the root,
//! so nothing lands on the host (CVE-2018-15664). Modes and mtimes are the
//! tar's; owners the tar's only with `copyUIDGID`, else root's (Docker's
//! rule). Files are created with `O_EXCL | O_NOFOLLOW` after what was there
//! is removed, so a symlink at the name is replaced, never written through.

use std::fs::Permissions;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use pathrs::flags::OpenFlags;
use pathrs::{Handle, InodeType, Root};

use super::{entry_rel, PutOptions};

/// Extracts `tar` into `dir` (a directory, relative to `root`).
pub fn extract(root: &Root, dir: &Path, tar: impl Read, opts: PutOptions) -> Result<(), String> {
    let mut ar = tar::Archive::new(tar);
    // Directory mtimes last: the entries written into them change them.
    let mut dir_times: Vec<(PathBuf, u64)> = Vec::new();
    let entries = ar.entries().map_err(|e| format!("read the archive: {e}"))?;
    for e in entries {
        let mut e = e.map_err(|e| format!("read the archive: {e}"))?;
        let raw = e.path_bytes();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let Some(rel) = entry_rel(&name)? else {
            continue;
        };
        let to = dir.join(&rel);
        let h = e.header().clone();
        let owner = match opts.copy_uid_gid {
            true => (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32),
            false => (0, 0),
        };
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let mtime = h.mtime().unwrap_or(0);
        let w = Writer { root, opts };
        match h.entry_type() {
            tar::EntryType::Directory => {
                let d = w
                    .dir(&to, &name)?
                    .reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
                    .map_err(|e| format!("{name}: {e}"))?;
                set_attrs(&d, owner, mode, None).map_err(|e| format!("{name}: {e}"))?;
                dir_times.push((to, mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                w.file(&to, &name, &mut e, owner, mode, mtime)?
            }
            tar::EntryType::Symlink => {
                let target = e.link_name().ok().flatten().unwrap_or_default();
                w.make(&to, &name, &InodeType::Symlink(target.into_owned()))?;
                lchown(root, &to, owner).map_err(|e| format!("{name}: {e}"))?;
            }
            tar::EntryType::Link => {
                let target = e.link_name().ok().flatten().unwrap_or_default();
                let target = entry_rel(&target.to_string_lossy())?.unwrap_or_default();
                w.make(&to, &name, &InodeType::Hardlink(dir.join(target)))?;
            }
            tar::EntryType::Fifo => {
                w.make(&to, &name, &InodeType::Fifo(Permissions::from_mode(mode)))?;
            }
            // Devices, as in a container with a user namespace, are not
            // made; pax and GNU long-name headers are read by the tar crate.
            other => tracing::debug!(entry = %name, kind = ?other, "archive entry skipped"),
        }
    }
    for (d, mtime) in dir_times.iter().rev() {
        if let Ok(h) = root.resolve(d) {
            let _ = futimes(&h, mtime_spec(*mtime));
        }
    }
    Ok(())
}

struct Writer<'r> {
    root: &'r Root,
    opts: PutOptions,
}

impl Writer<'_> {
    fn parent(&self, to: &Path, name: &str) -> Result<(), String> {
        if let Some(p) = to.parent() {
            self.root
                .mkdir_all(p, &Permissions::from_mode(0o755))
                .map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(())
    }

    /// Whether something is at `to`, and whether it is a directory.
    fn existing(&self, to: &Path) -> Option<bool> {
        let h = self.root.resolve_nofollow(to).ok()?;
        let st = nix::sys::stat::fstat(h.as_fd().as_raw_fd()).ok()?;
        Some(st.st_mode & libc::S_IFMT == libc::S_IFDIR)
    }

    fn dir(&self, to: &Path, name: &str) -> Result<Handle, String> {
        if self.existing(to) == Some(false) {
            if self.opts.no_overwrite_dir_non_dir {
                return Err(format!(
                    "cannot overwrite non-directory \"{}\" with directory \"{name}\"",
                    to.display()
                ));
            }
            let _ = self.root.remove_file(to);
        }
        self.root
            .mkdir_all(to, &Permissions::from_mode(0o755))
            .map_err(|e| format!("{name}: {e}"))
    }

    /// Makes room at `to` for a non-directory.
    fn clear(&self, to: &Path, name: &str) -> Result<(), String> {
        self.parent(to, name)?;
        match self.existing(to) {
            Some(true) if self.opts.no_overwrite_dir_non_dir => Err(format!(
                "cannot overwrite directory \"{}\" with non-directory \"{name}\"",
                to.display()
            )),
            Some(true) => self.root.remove_all(to).map_err(|e| format!("{name}: {e}")),
            Some(false) => self
                .root
                .remove_file(to)
                .map_err(|e| format!("{name}: {e}")),
            None => Ok(()),
        }
    }

    fn make(&self, to: &Path, name: &str, kind: &InodeType) -> Result<(), String> {
        self.clear(to, name)?;
        self.root
            .create(to, kind)
            .map_err(|e| format!("{name}: {e}"))
    }

    fn file(
        &self,
        to: &Path,
        name: &str,
        data: &mut dyn Read,
        owner: (u32, u32),
        mode: u32,
        mtime: u64,
    ) -> Result<(), String> {
        self.clear(to, name)?;
        let mut f = self
            .root
            .create_file(
                to,
                OpenFlags::O_WRONLY | OpenFlags::O_EXCL | OpenFlags::O_NOFOLLOW,
                &Permissions::from_mode(0o600),
            )
            .map_err(|e| format!("{name}: {e}"))?;
        io::copy(data, &mut f).map_err(|e| format!("write {name}: {e}"))?;
        set_attrs(&f, owner, mode, Some(mtime)).map_err(|e| format!("{name}: {e}"))
    }
}

fn mtime_spec(mtime: u64) -> nix::sys::time::TimeSpec {
    nix::sys::time::TimeSpec::new(mtime as i64, 0)
}

/// Owner, then mode (a chown clears set-id bits), then mtime.
fn set_attrs(
    f: &impl AsFd,
    (uid, gid): (u32, u32),
    mode: u32,
    mtime: Option<u64>,
) -> nix::Result<()> {
    let fd = f.as_fd().as_raw_fd();
    nix::unistd::fchown(fd, Some(uid.into()), Some(gid.into()))?;
    nix::sys::stat::fchmod(fd, nix::sys::stat::Mode::from_bits_truncate(mode))?;
    if let Some(t) = mtime {
        futimes(f, mtime_spec(t))?;
    }
    Ok(())
}

fn futimes(f: &impl AsFd, t: nix::sys::time::TimeSpec) -> nix::Result<()> {
    // Through /proc for an O_PATH handle (futimens needs a real open).
    let path = format!("/proc/self/fd/{}", f.as_fd().as_raw_fd());
    nix::sys::stat::utimensat(
        None,
        path.as_str(),
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::FollowSymlink,
    )
}

/// The owner of the symlink itself (never of what it points to).
fn lchown(root: &Root, to: &Path, (uid, gid): (u32, u32)) -> nix::Result<()> {
    let h = root.resolve_nofollow(to).map_err(|_| nix::Error::ENOENT)?;
    // SAFETY: a valid fd and an empty, NUL-terminated path.
    let r = unsafe {
        libc::fchownat(
            h.as_fd().as_raw_fd(),
            c"".as_ptr(),
            uid,
            gid,
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    nix::errno::Errno::result(r).map(|_| ())
}
