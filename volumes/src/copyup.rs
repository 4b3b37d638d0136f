//! Copy-up: fill an empty volume with what the image has at the mount path.
//!
//! Everything is walked through directory file descriptors, one component
//! at a time, with `O_NOFOLLOW`: a symlink in the image is copied as a
//! symlink and never followed, so an image cannot make the copy read a host
//! file or write outside the volume. The starting directory is resolved
//! inside the rootfs with `openat2(RESOLVE_IN_ROOT)`, so an absolute or
//! `..` symlink on the way to `/var/lib/mysql` stays inside the image.
//!
//! Owners, modes, timestamps, extended attributes (including file
//! capabilities, set after the chown that would clear them), symlinks,
//! device nodes, fifos and hard links are preserved, and so are the owner
//! and mode of the source directory itself, given to the volume's root.

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{
    fchmod, fstat, fstatat, futimens, mkdirat, mknodat, utimensat, FileStat, Mode, SFlag,
    UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, Gid, Uid};

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("copy-up: open {path:?} in {root:?}: {source}")]
    OpenSource {
        root: PathBuf,
        path: String,
        source: Errno,
    },
    #[error("copy-up: open volume directory {path:?}: {source}")]
    OpenDest { path: PathBuf, source: io::Error },
    #[error("copy-up: {op} {path:?}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// What [`copy_up_from_rootfs`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyOutcome {
    Copied,
    /// The image has nothing (or no directory) at the path.
    NoSource,
    /// The volume already has content; it was left alone.
    DestNotEmpty,
}

fn errno_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: every caller passes a descriptor it just received from a
    // successful open call and owns nothing else referring to it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Open `path` (as seen inside the container) as a directory, resolving it
/// with the rootfs as `/`.
pub fn open_in_root(rootfs: &Path, path: &str) -> Result<Option<OwnedFd>, CopyError> {
    let root = File::open(rootfs).map_err(|e| CopyError::OpenSource {
        root: rootfs.into(),
        path: "/".into(),
        source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    match openat2(root.as_raw_fd(), rel, how) {
        Ok(fd) => Ok(Some(owned(fd))),
        Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
        Err(source) => Err(CopyError::OpenSource {
            root: rootfs.into(),
            path: path.into(),
            source,
        }),
    }
}

/// Whether a directory has no entries.
pub fn dir_is_empty(dir: &Path) -> Result<bool, CopyError> {
    let mut entries = std::fs::read_dir(dir).map_err(|source| CopyError::Io {
        op: "read",
        path: dir.into(),
        source,
    })?;
    Ok(entries.next().is_none())
}

/// Copy the image's content at `container_path` into `dest` if `dest` is
/// empty. `dest` itself is opened with `O_NOFOLLOW`.
pub fn copy_up_from_rootfs(
    rootfs: &Path,
    container_path: &str,
    dest: &Path,
) -> Result<CopyOutcome, CopyError> {
    let Some(src) = open_in_root(rootfs, container_path)? else {
        return Ok(CopyOutcome::NoSource);
    };
    let dst = open_dir_nofollow(dest)?;
    if !dir_is_empty(dest)? {
        return Ok(CopyOutcome::DestNotEmpty);
    }
    copy_tree(src.as_fd(), dst.as_fd(), dest)?;
    Ok(CopyOutcome::Copied)
}

fn open_dir_nofollow(path: &Path) -> Result<OwnedFd, CopyError> {
    openat(
        None,
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(owned)
    .map_err(|e| CopyError::OpenDest {
        path: path.into(),
        source: errno_io(e),
    })
}

/// Copy the content of directory `src` into the (empty) directory `dst`,
/// then give `dst` the owner, mode, xattrs and times of `src`.
/// `dst_path` is only used in error messages.
pub fn copy_tree(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    dst_path: &Path,
) -> Result<(), CopyError> {
    let mut walker = Walker {
        links: HashMap::new(),
        dst_root: dst,
        dst_path,
    };
    let st = fstat(src.as_raw_fd()).map_err(|e| walker.err("stat", &[], e))?;
    walker.copy_dir_contents(src, dst, &mut Vec::new())?;
    walker.copy_metadata_fd(src, dst, &st, &[])
}

struct Walker<'a> {
    /// (dev, ino) of a multiply-linked source file → its copy, relative to
    /// the destination root.
    links: HashMap<(u64, u64), Vec<OsString>>,
    dst_root: BorrowedFd<'a>,
    dst_path: &'a Path,
}

impl Walker<'_> {
    fn err(&self, op: &'static str, rel: &[OsString], e: Errno) -> CopyError {
        let mut path = self.dst_path.to_path_buf();
        path.extend(rel);
        CopyError::Io {
            op,
            path,
            source: errno_io(e),
        }
    }

    fn copy_dir_contents(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        rel: &mut Vec<OsString>,
    ) -> Result<(), CopyError> {
        for name in list_dir(src).map_err(|e| self.err("read directory", rel, e))? {
            rel.push(name.clone());
            let result = self.copy_entry(src, dst, &name, rel);
            rel.pop();
            result?;
        }
        Ok(())
    }

    fn copy_entry(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &OsStr,
        rel: &mut Vec<OsString>,
    ) -> Result<(), CopyError> {
        let st = fstatat(Some(src.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| self.err("stat", rel, e))?;
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        let key = (st.st_dev, st.st_ino);
        if kind != SFlag::S_IFDIR && st.st_nlink > 1 {
            if let Some(first) = self.links.get(&key).cloned() {
                return self.hard_link(&first, dst, name, rel);
            }
            self.links.insert(key, rel.clone());
        }
        match kind {
            SFlag::S_IFDIR => {
                mkdirat(Some(dst.as_raw_fd()), name, Mode::from_bits_truncate(0o700))
                    .map_err(|e| self.err("mkdir", rel, e))?;
                let s = open_child(src, name, OFlag::O_DIRECTORY)
                    .map_err(|e| self.err("open", rel, e))?;
                let d = open_child(dst, name, OFlag::O_DIRECTORY)
                    .map_err(|e| self.err("open", rel, e))?;
                same_file(&s, &st).map_err(|e| self.err("open", rel, e))?;
                self.copy_dir_contents(s.as_fd(), d.as_fd(), rel)?;
                self.copy_metadata_fd(s.as_fd(), d.as_fd(), &st, rel)
            }
            SFlag::S_IFREG => {
                let s =
                    open_child(src, name, OFlag::empty()).map_err(|e| self.err("open", rel, e))?;
                same_file(&s, &st).map_err(|e| self.err("open", rel, e))?;
                let d = openat(
                    Some(dst.as_raw_fd()),
                    name,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map(owned)
                .map_err(|e| self.err("create", rel, e))?;
                let (mut sf, mut df) = (File::from(s), File::from(d));
                io::copy(&mut sf, &mut df).map_err(|source| CopyError::Io {
                    op: "copy",
                    path: self.dst_path.join(rel.iter().collect::<PathBuf>()),
                    source,
                })?;
                self.copy_metadata_fd(sf.as_fd(), df.as_fd(), &st, rel)
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(src.as_raw_fd()), name)
                    .map_err(|e| self.err("readlink", rel, e))?;
                symlinkat(target.as_os_str(), Some(dst.as_raw_fd()), name)
                    .map_err(|e| self.err("symlink", rel, e))?;
                self.copy_metadata_at(src, dst, name, &st, rel)
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO | SFlag::S_IFSOCK => {
                mknodat(
                    Some(dst.as_raw_fd()),
                    name,
                    kind,
                    Mode::from_bits_truncate(0o600),
                    st.st_rdev,
                )
                .map_err(|e| self.err("mknod", rel, e))?;
                self.copy_metadata_at(src, dst, name, &st, rel)
            }
            _ => Ok(()),
        }
    }

    fn hard_link(
        &self,
        first: &[OsString],
        dst: BorrowedFd<'_>,
        name: &OsStr,
        rel: &[OsString],
    ) -> Result<(), CopyError> {
        // The first copy's parent is opened beneath the volume root with no
        // symlink allowed, then linked by name: nothing is resolved outside.
        let (first_name, parent) = first.split_last().expect("a copied entry has a name");
        let parent: PathBuf = parent.iter().collect();
        let parent = if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent
        };
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
        let pfd = openat2(self.dst_root.as_raw_fd(), &parent, how)
            .map(owned)
            .map_err(|e| self.err("open", rel, e))?;
        linkat(
            Some(pfd.as_raw_fd()),
            first_name.as_os_str(),
            Some(dst.as_raw_fd()),
            name,
            AtFlags::empty(),
        )
        .map_err(|e| self.err("link", rel, e))
    }

    /// Owner, mode, xattrs, times of an open file or directory.
    fn copy_metadata_fd(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        st: &FileStat,
        rel: &[OsString],
    ) -> Result<(), CopyError> {
        let (s, d) = (src.as_raw_fd(), dst.as_raw_fd());
        fchown(
            d,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
        )
        .map_err(|e| self.err("chown", rel, e))?;
        // After chown, which clears set-id bits and file capabilities.
        fchmod(d, Mode::from_bits_truncate(st.st_mode & 0o7777))
            .map_err(|e| self.err("chmod", rel, e))?;
        copy_xattrs(&XattrTarget::Fd(s), &XattrTarget::Fd(d))
            .map_err(|e| self.err("xattr", rel, e))?;
        futimens(d, &atime(st), &mtime(st)).map_err(|e| self.err("utimes", rel, e))
    }

    /// The same for something that cannot be opened safely (a symlink, a
    /// device, a fifo), addressed by name in its parent directory.
    fn copy_metadata_at(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &OsStr,
        st: &FileStat,
        rel: &[OsString],
    ) -> Result<(), CopyError> {
        let d = dst.as_raw_fd();
        fchownat(
            Some(d),
            name,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.err("chown", rel, e))?;
        let is_link = st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFLNK.bits();
        if !is_link {
            // fchmodat cannot refuse to follow a symlink, but this is the
            // device or fifo we made a moment ago, not a symlink.
            nix::sys::stat::fchmodat(
                Some(d),
                name,
                Mode::from_bits_truncate(st.st_mode & 0o7777),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| self.err("chmod", rel, e))?;
        }
        copy_xattrs(
            &XattrTarget::At(src.as_raw_fd(), name),
            &XattrTarget::At(d, name),
        )
        .map_err(|e| self.err("xattr", rel, e))?;
        utimensat(
            Some(d),
            name,
            &atime(st),
            &mtime(st),
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| self.err("utimes", rel, e))
    }
}

fn atime(st: &FileStat) -> TimeSpec {
    TimeSpec::new(st.st_atime, st.st_atime_nsec)
}

fn mtime(st: &FileStat) -> TimeSpec {
    TimeSpec::new(st.st_mtime, st.st_mtime_nsec)
}

fn open_child(dir: BorrowedFd<'_>, name: &OsStr, extra: OFlag) -> nix::Result<OwnedFd> {
    openat(
        Some(dir.as_raw_fd()),
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | extra,
        Mode::empty(),
    )
    .map(owned)
}

/// Refuse a file swapped between the stat and the open.
fn same_file(fd: &OwnedFd, st: &FileStat) -> nix::Result<()> {
    let now = fstat(fd.as_raw_fd())?;
    if now.st_dev == st.st_dev && now.st_ino == st.st_ino {
        Ok(())
    } else {
        Err(Errno::ESTALE)
    }
}

fn list_dir(dir: BorrowedFd<'_>) -> nix::Result<Vec<OsString>> {
    // A fresh descriptor: nix's Dir takes ownership and moves the offset.
    let fd = openat(
        Some(dir.as_raw_fd()),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut d = nix::dir::Dir::from_fd(fd)?;
    let mut names = Vec::new();
    for entry in d.iter() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    names.sort();
    Ok(names)
}

fn proc_path(dirfd: RawFd, name: &OsStr) -> PathBuf {
    Path::new(&format!("/proc/self/fd/{dirfd}")).join(name)
}

enum XattrTarget<'a> {
    /// An open regular file or directory.
    Fd(RawFd),
    /// A name in an open directory, not followed if it is a symlink: the
    /// `/proc/self/fd/N` prefix only names the directory we hold, and the
    /// `l*xattr` calls do not follow the last component.
    At(RawFd, &'a OsStr),
}

impl XattrTarget<'_> {
    fn cpath(&self) -> Option<CString> {
        match self {
            XattrTarget::Fd(_) => None,
            XattrTarget::At(dir, name) => Some(
                CString::new(proc_path(*dir, name).as_os_str().as_bytes())
                    .expect("no NUL in a path"),
            ),
        }
    }

    fn list(&self) -> nix::Result<Vec<u8>> {
        let path = self.cpath();
        let call = |buf: *mut libc::c_char, len: usize| -> isize {
            // SAFETY: buf is valid for len bytes (or null with len 0).
            unsafe {
                match (self, &path) {
                    (XattrTarget::Fd(fd), _) => libc::flistxattr(*fd, buf, len),
                    (_, Some(p)) => libc::llistxattr(p.as_ptr(), buf, len),
                    _ => unreachable!(),
                }
            }
        };
        read_sized(call)
    }

    fn get(&self, key: &CString) -> nix::Result<Vec<u8>> {
        let path = self.cpath();
        let call = |buf: *mut libc::c_char, len: usize| -> isize {
            // SAFETY: as above; key is NUL-terminated.
            unsafe {
                match (self, &path) {
                    (XattrTarget::Fd(fd), _) => libc::fgetxattr(*fd, key.as_ptr(), buf.cast(), len),
                    (_, Some(p)) => libc::lgetxattr(p.as_ptr(), key.as_ptr(), buf.cast(), len),
                    _ => unreachable!(),
                }
            }
        };
        read_sized(call)
    }

    fn set(&self, key: &CString, value: &[u8]) -> nix::Result<()> {
        let path = self.cpath();
        // SAFETY: value is valid for its length; key and path are NUL-terminated.
        let rc = unsafe {
            match (self, &path) {
                (XattrTarget::Fd(fd), _) => {
                    libc::fsetxattr(*fd, key.as_ptr(), value.as_ptr().cast(), value.len(), 0)
                }
                (_, Some(p)) => libc::lsetxattr(
                    p.as_ptr(),
                    key.as_ptr(),
                    value.as_ptr().cast(),
                    value.len(),
                    0,
                ),
                _ => unreachable!(),
            }
        };
        Errno::result(rc).map(drop)
    }
}

/// Call a size-probing xattr function until the buffer is large enough.
fn read_sized(call: impl Fn(*mut libc::c_char, usize) -> isize) -> nix::Result<Vec<u8>> {
    loop {
        let size = Errno::result(call(std::ptr::null_mut(), 0))?;
        let mut buf = vec![0u8; size as usize];
        if size == 0 {
            return Ok(buf);
        }
        match Errno::result(call(buf.as_mut_ptr().cast(), buf.len())) {
            Ok(n) => {
                buf.truncate(n as usize);
                return Ok(buf);
            }
            // It grew between the two calls: probe again.
            Err(Errno::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn copy_xattrs(src: &XattrTarget<'_>, dst: &XattrTarget<'_>) -> nix::Result<()> {
    let names = match src.list() {
        Ok(n) => n,
        Err(Errno::EOPNOTSUPP) => return Ok(()),
        Err(e) => return Err(e),
    };
    for key in names.split(|&b| b == 0).filter(|k| !k.is_empty()) {
        let key = CString::new(key).expect("split on NUL");
        let value = match src.get(&key) {
            Ok(v) => v,
            Err(Errno::ENODATA) => continue,
            Err(e) => return Err(e),
        };
        match dst.set(&key, &value) {
            Ok(()) => {}
            // The volume's filesystem cannot hold this namespace (for
            // example security.selinux without SELinux): the data still
            // matters more than the label.
            Err(Errno::EOPNOTSUPP) => {
                tracing::warn!(xattr = ?key, "copy-up: extended attribute not supported by the volume's filesystem");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
