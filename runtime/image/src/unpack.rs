//! Safe unpacking of one layer tarball into a snapshot directory, turning
//! Docker/OCI whiteouts into overlayfs ones.
//!
//! Every path is resolved relative to a directory fd of the snapshot root,
//! one component at a time with `O_NOFOLLOW`, and every final operation is an
//! `*at` call that does not follow a final symlink. Nothing is ever looked up
//! by an absolute host path built from layer data. So a hostile layer cannot
//! reach outside its snapshot:
//!
//! - `../x` names are refused, absolute names are taken relative to the
//!   snapshot root (as Docker does).
//! - A symlink in the layer followed by a write through it (`link -> /etc`,
//!   then `link/passwd`) is refused: a parent component that is a symlink
//!   is never followed. This is the class of CVE-2014-9356 (Docker's
//!   extraction followed symlinks out of the root) and CVE-2021-32760
//!   (containerd's chmod through a symlink in a layer).
//! - A hard link to a path outside (`/etc/passwd`, `../../x`) resolves the
//!   same way, inside the snapshot, so it links to nothing outside.
//! - A whiteout through a symlinked parent (`link/.wh.x`) is refused for the
//!   same reason: deleting through a symlink is the escape of
//!   CVE-2025-47290 (containerd removing host files via a whiteout).
//! - `trusted.overlay.*` xattrs from the tarball are dropped: only the
//!   unpacker decides what overlayfs sees as opaque or redirected.

use std::ffi::{CString, OsStr};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use crate::timing::{self, Phase};

const WHITEOUT_PREFIX: &str = ".wh.";
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("layer entry {entry:?} refused: {reason}")]
    Refused { entry: String, reason: String },
    #[error("layer entry {entry:?}: {op}: {source}")]
    Io {
        entry: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("reading the layer tarball: {0}")]
    Tar(#[source] io::Error),
}

/// What an unpack did, for progress and tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnpackStats {
    pub entries: u64,
    pub whiteouts: u64,
}

/// Unpacks the tar stream `reader` into the existing directory `dest`.
pub fn unpack_layer<R: Read>(reader: R, dest: &Path) -> Result<UnpackStats, UnpackError> {
    let root = open_root(dest)?;
    let mut archive = tar::Archive::new(reader);
    let mut stats = UnpackStats::default();
    // Directory mtimes are set last: creating entries inside a directory
    // would change them again.
    let mut dir_times: Vec<(Vec<Vec<u8>>, i64)> = Vec::new();
    // The last parent directory opened, by path. Tar streams list a
    // directory's entries together, so most entries reuse it instead of
    // walking from the root again (one openat per component is the
    // dominant cost of unpacking many small files).
    let mut cache: Option<(Vec<Vec<u8>>, OwnedFd)> = None;
    // File data goes through one large buffer: a few large writes per file
    // instead of io::copy's 8 KiB ones.
    let mut buf = vec![0u8; COPY_BUF];
    for entry in archive.entries().map_err(UnpackError::Tar)? {
        let mut entry = entry.map_err(UnpackError::Tar)?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let comps = clean_path(&raw).map_err(|reason| refused(&name, reason))?;
        let Some((last, parents)) = comps.split_last() else {
            continue; // "./": the snapshot root itself keeps its own metadata
        };
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        stats.entries += 1;
        // The path this entry may remove or replace: any cached directory
        // at or below it could stop being what its path names.
        let changed: Vec<Vec<u8>> = match last.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            Some(t) if !last.starts_with(WHITEOUT_META_PREFIX.as_bytes()) => {
                parents.iter().cloned().chain([t.to_vec()]).collect()
            }
            _ => comps.clone(),
        };
        if cache.as_ref().is_some_and(|(c, _)| c.starts_with(&changed)) {
            cache = None;
        }
        if cache.as_ref().is_none_or(|(c, _)| c.as_slice() != parents) {
            let fd = match &cache {
                Some((c, fd)) if parents.starts_with(c) => {
                    walk_from(fd, c.len(), parents, true, &name)?
                }
                _ => walk_from(&root, 0, parents, true, &name)?,
            };
            cache = Some((parents.to_vec(), fd));
        }
        let parent = &cache.as_ref().expect("just filled").1;
        let last_str = String::from_utf8_lossy(last);

        if last_str == WHITEOUT_OPAQUE {
            timing::timed(Phase::Xattrs, || {
                set_xattr_fd(parent.as_raw_fd(), "trusted.overlay.opaque", b"y")
            })
            .map_err(io_at(&name, "set trusted.overlay.opaque"))?;
            stats.whiteouts += 1;
            continue;
        }
        if last_str.starts_with(WHITEOUT_META_PREFIX) {
            continue; // aufs bookkeeping (.wh..wh.plnk etc.), never content
        }
        if let Some(target) = last.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            if target.is_empty() || target == b"." || target == b".." {
                return Err(refused(&name, "whiteout of an empty or dot name".into()));
            }
            let target = cstr(target, &name)?;
            remove_at(parent.as_raw_fd(), &target)
                .map_err(io_at(&name, "remove whited-out entry"))?;
            // An overlayfs whiteout is a 0/0 character device.
            check(unsafe { libc::mknodat(parent.as_raw_fd(), target.as_ptr(), libc::S_IFCHR, 0) })
                .map_err(io_at(&name, "mknod whiteout"))?;
            stats.whiteouts += 1;
            continue;
        }

        let c_last = cstr(last, &name)?;
        let pfd = parent.as_raw_fd();
        let hdr = entry.header().clone();
        let mode = hdr.mode().map_err(UnpackError::Tar)? & 0o7777;
        let uid = hdr.uid().map_err(UnpackError::Tar)? as libc::uid_t;
        let gid = hdr.gid().map_err(UnpackError::Tar)? as libc::gid_t;
        let mtime = hdr.mtime().map_err(UnpackError::Tar)? as i64;
        let xattrs = pax_xattrs(&mut entry, &name)?;
        let existing = lstat_at(pfd, &c_last);

        match kind {
            tar::EntryType::Directory => {
                if existing
                    .as_ref()
                    .is_some_and(|st| st.st_mode & libc::S_IFMT != libc::S_IFDIR)
                {
                    remove_at(pfd, &c_last).map_err(io_at(&name, "replace with directory"))?;
                }
                if existing
                    .as_ref()
                    .is_none_or(|st| st.st_mode & libc::S_IFMT != libc::S_IFDIR)
                {
                    check(unsafe { libc::mkdirat(pfd, c_last.as_ptr(), 0o700) })
                        .map_err(io_at(&name, "mkdir"))?;
                }
                let dir = open_at(pfd, &c_last, libc::O_RDONLY | libc::O_DIRECTORY)
                    .map_err(io_at(&name, "open dir"))?;
                fd_metadata(dir.as_raw_fd(), uid, gid, mode, &xattrs, None, &name)?;
                dir_times.push((comps.clone(), mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                if existing.is_some() {
                    remove_at(pfd, &c_last).map_err(io_at(&name, "replace"))?;
                }
                let _write = timing::span(Phase::FileWrite);
                let fd = check(unsafe {
                    libc::openat(
                        pfd,
                        c_last.as_ptr(),
                        libc::O_WRONLY
                            | libc::O_CREAT
                            | libc::O_EXCL
                            | libc::O_NOFOLLOW
                            | libc::O_CLOEXEC,
                        0o600,
                    )
                })
                .map_err(io_at(&name, "create"))?;
                // SAFETY: openat just returned this descriptor, owned here.
                let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
                copy_data(&mut entry, &mut file, &mut buf).map_err(UnpackError::Tar)?;
                drop(_write);
                fd_metadata(
                    file.as_raw_fd(),
                    uid,
                    gid,
                    mode,
                    &xattrs,
                    Some(mtime),
                    &name,
                )?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| refused(&name, "symlink without a target".into()))?;
                let target = cstr(&target, &name)?;
                if existing.is_some() {
                    remove_at(pfd, &c_last).map_err(io_at(&name, "replace"))?;
                }
                // The target is stored as text; it is never followed here.
                check(unsafe { libc::symlinkat(target.as_ptr(), pfd, c_last.as_ptr()) })
                    .map_err(io_at(&name, "symlink"))?;
                path_metadata(pfd, &c_last, uid, gid, None, &xattrs, mtime, &name)?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| refused(&name, "hard link without a target".into()))?;
                let tcomps = clean_path(&target)
                    .map_err(|reason| refused(&name, format!("hard link target: {reason}")))?;
                let Some((tlast, tparents)) = tcomps.split_last() else {
                    return Err(refused(&name, "hard link to the root directory".into()));
                };
                let tparent = walk(&root, tparents, false, &name)?;
                let tlast = cstr(tlast, &name)?;
                match lstat_at(tparent.as_raw_fd(), &tlast) {
                    None => {
                        return Err(refused(
                            &name,
                            format!(
                                "hard link target {:?} is not in this layer's snapshot",
                                String::from_utf8_lossy(&target)
                            ),
                        ))
                    }
                    Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
                        return Err(refused(&name, "hard link to a directory".into()))
                    }
                    Some(_) => {}
                }
                if existing.is_some() {
                    remove_at(pfd, &c_last).map_err(io_at(&name, "replace"))?;
                }
                // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink.
                check(unsafe {
                    libc::linkat(tparent.as_raw_fd(), tlast.as_ptr(), pfd, c_last.as_ptr(), 0)
                })
                .map_err(io_at(&name, "link"))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let fmt = match kind {
                    tar::EntryType::Char => libc::S_IFCHR,
                    tar::EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                let major = hdr.device_major().map_err(UnpackError::Tar)?.unwrap_or(0);
                let minor = hdr.device_minor().map_err(UnpackError::Tar)?.unwrap_or(0);
                if existing.is_some() {
                    remove_at(pfd, &c_last).map_err(io_at(&name, "replace"))?;
                }
                let dev = libc::makedev(major, minor);
                check(unsafe { libc::mknodat(pfd, c_last.as_ptr(), fmt | 0o600, dev) })
                    .map_err(io_at(&name, "mknod"))?;
                path_metadata(pfd, &c_last, uid, gid, Some(mode), &xattrs, mtime, &name)?;
            }
            other => {
                return Err(refused(
                    &name,
                    format!("unsupported tar entry type {other:?}"),
                ));
            }
        }
    }
    // Deepest first, so setting a child's time cannot disturb its parent's.
    dir_times.sort_by_key(|(c, _)| std::cmp::Reverse(c.len()));
    for (comps, mtime) in dir_times {
        let name = String::from_utf8_lossy(&comps.join(&b'/')).into_owned();
        if let Ok(dir) = walk(&root, &comps, false, &name) {
            set_times_fd(dir.as_raw_fd(), mtime).map_err(io_at(&name, "set mtime"))?;
        }
    }
    Ok(stats)
}

const COPY_BUF: usize = 256 << 10;

/// io::copy with the caller's buffer, filled as far as the reader gives
/// before each write.
fn copy_data(r: &mut impl Read, w: &mut impl Write, buf: &mut [u8]) -> io::Result<()> {
    loop {
        let mut n = 0;
        while n < buf.len() {
            match r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if n == 0 {
            return Ok(());
        }
        w.write_all(&buf[..n])?;
    }
}

fn refused(entry: &str, reason: String) -> UnpackError {
    UnpackError::Refused {
        entry: entry.to_string(),
        reason,
    }
}

fn io_at<'a>(entry: &'a str, op: &'static str) -> impl FnOnce(io::Error) -> UnpackError + 'a {
    move |source| UnpackError::Io {
        entry: entry.to_string(),
        op,
        source,
    }
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cstr(b: &[u8], entry: &str) -> Result<CString, UnpackError> {
    CString::new(b).map_err(|_| refused(entry, "name contains a NUL byte".into()))
}

/// Splits a tar name into components: `.` and empty components dropped, a
/// leading `/` ignored (names are relative to the snapshot root), and `..`
/// refused outright.
pub(crate) fn clean_path(raw: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(n) => out.push(n.as_bytes().to_vec()),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                return Err("the name contains '..', which could escape the snapshot".into())
            }
            Component::Prefix(_) => return Err("unexpected path prefix".into()),
        }
    }
    Ok(out)
}

fn open_root(dest: &Path) -> Result<OwnedFd, UnpackError> {
    let c = CString::new(dest.as_os_str().as_bytes())
        .map_err(|_| refused("/", "snapshot path has NUL".into()))?;
    let fd = check(unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })
    .map_err(io_at("/", "open snapshot root"))?;
    // SAFETY: fresh descriptor from open.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn open_at(dirfd: RawFd, name: &CString, flags: libc::c_int) -> io::Result<OwnedFd> {
    let fd = check(unsafe {
        libc::openat(
            dirfd,
            name.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: fresh descriptor from openat.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn lstat_at(dirfd: RawFd, name: &CString) -> Option<libc::stat> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::fstatat(dirfd, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    (r == 0).then_some(st)
}

/// Opens the directory `comps` below `root` one component at a time. A
/// component that is a symlink is refused, never followed; a missing one is
/// created (0755, root-owned, as Docker does) when `create` is set.
fn walk(
    root: &OwnedFd,
    comps: &[Vec<u8>],
    create: bool,
    entry: &str,
) -> Result<OwnedFd, UnpackError> {
    walk_from(root, 0, comps, create, entry)
}

/// [`walk`] starting at `start`, an open directory for `comps[..skip]`.
fn walk_from(
    start: &OwnedFd,
    skip: usize,
    comps: &[Vec<u8>],
    create: bool,
    entry: &str,
) -> Result<OwnedFd, UnpackError> {
    let mut cur = start.try_clone().map_err(io_at(entry, "dup"))?;
    for (i, comp) in comps.iter().enumerate().skip(skip) {
        let c = cstr(comp, entry)?;
        let shown = || String::from_utf8_lossy(&comps[..=i].join(&b'/')).into_owned();
        match lstat_at(cur.as_raw_fd(), &c) {
            Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                return Err(refused(
                    entry,
                    format!(
                    "its parent {:?} is a symlink; writing through it could escape the snapshot",
                    shown()
                ),
                ))
            }
            Some(st) if st.st_mode & libc::S_IFMT != libc::S_IFDIR => {
                return Err(refused(
                    entry,
                    format!("its parent {:?} is not a directory", shown()),
                ))
            }
            Some(_) => {}
            None if create => {
                check(unsafe { libc::mkdirat(cur.as_raw_fd(), c.as_ptr(), 0o755) })
                    .or_else(|e| {
                        if e.raw_os_error() == Some(libc::EEXIST) {
                            Ok(0)
                        } else {
                            Err(e)
                        }
                    })
                    .map_err(io_at(entry, "create parent directory"))?;
            }
            None => {
                return Err(refused(
                    entry,
                    format!("{:?} is not in this layer's snapshot", shown()),
                ))
            }
        }
        // O_NOFOLLOW closes the race between the lstat and the open.
        cur = open_at(cur.as_raw_fd(), &c, libc::O_RDONLY | libc::O_DIRECTORY)
            .map_err(io_at(entry, "open parent"))?;
    }
    Ok(cur)
}

/// Removes `name` in `dirfd`, recursively for a directory, never following
/// symlinks.
fn remove_at(dirfd: RawFd, name: &CString) -> io::Result<()> {
    let Some(st) = lstat_at(dirfd, name) else {
        return Ok(());
    };
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let dir = open_at(dirfd, name, libc::O_RDONLY | libc::O_DIRECTORY)?;
        let mut children = Vec::new();
        // SAFETY: fdopendir takes ownership of a dup'd descriptor; closedir frees it.
        let dup = check(unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) })?;
        let dp = unsafe { libc::fdopendir(dup) };
        if dp.is_null() {
            unsafe { libc::close(dup) };
            return Err(io::Error::last_os_error());
        }
        loop {
            let ent = unsafe { libc::readdir(dp) };
            if ent.is_null() {
                break;
            }
            let n = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) };
            if n.to_bytes() != b"." && n.to_bytes() != b".." {
                children.push(n.to_owned());
            }
        }
        unsafe { libc::closedir(dp) };
        for child in children {
            remove_at(dir.as_raw_fd(), &child)?;
        }
        check(unsafe { libc::unlinkat(dirfd, name.as_ptr(), libc::AT_REMOVEDIR) })?;
    } else {
        check(unsafe { libc::unlinkat(dirfd, name.as_ptr(), 0) })?;
    }
    Ok(())
}

fn pax_xattrs<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &str,
) -> Result<Vec<(CString, Vec<u8>)>, UnpackError> {
    let mut out = Vec::new();
    if let Some(exts) = entry.pax_extensions().map_err(UnpackError::Tar)? {
        for ext in exts {
            let ext = ext.map_err(UnpackError::Tar)?;
            let Some(key) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else {
                continue;
            };
            if key.starts_with(b"trusted.overlay.") {
                continue; // see the module comment
            }
            out.push((cstr(key, name)?, ext.value_bytes().to_vec()));
        }
    }
    Ok(out)
}

fn set_xattr_fd(fd: RawFd, key: &str, value: &[u8]) -> io::Result<()> {
    let k = CString::new(key).expect("static key");
    check(unsafe { libc::fsetxattr(fd, k.as_ptr(), value.as_ptr().cast(), value.len(), 0) })
        .map(drop)
}

/// Owner, then mode (chown clears setuid/setgid, so mode comes after), then
/// xattrs, then mtime, on an open file or directory.
fn fd_metadata(
    fd: RawFd,
    uid: libc::uid_t,
    gid: libc::gid_t,
    mode: u32,
    xattrs: &[(CString, Vec<u8>)],
    mtime: Option<i64>,
    entry: &str,
) -> Result<(), UnpackError> {
    let _meta = timing::span(Phase::Metadata);
    check(unsafe { libc::fchown(fd, uid, gid) }).map_err(io_at(entry, "chown"))?;
    check(unsafe { libc::fchmod(fd, mode as libc::mode_t) }).map_err(io_at(entry, "chmod"))?;
    let xattr_span = timing::span(Phase::Xattrs);
    for (k, v) in xattrs {
        check(unsafe { libc::fsetxattr(fd, k.as_ptr(), v.as_ptr().cast(), v.len(), 0) })
            .map_err(io_at(entry, "set xattr"))?;
    }
    drop(xattr_span);
    if let Some(t) = mtime {
        set_times_fd(fd, t).map_err(io_at(entry, "set mtime"))?;
    }
    Ok(())
}

/// The same for entries that cannot be opened (symlinks, devices, fifos),
/// all by name relative to the parent fd and without following.
#[allow(clippy::too_many_arguments)]
fn path_metadata(
    pfd: RawFd,
    name: &CString,
    uid: libc::uid_t,
    gid: libc::gid_t,
    mode: Option<u32>,
    xattrs: &[(CString, Vec<u8>)],
    mtime: i64,
    entry: &str,
) -> Result<(), UnpackError> {
    let _meta = timing::span(Phase::Metadata);
    check(unsafe { libc::fchownat(pfd, name.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) })
        .map_err(io_at(entry, "chown"))?;
    if let Some(m) = mode {
        // Only for device nodes and fifos this unpacker just made (never
        // symlinks), so fchmodat's following of a final symlink cannot apply.
        check(unsafe { libc::fchmodat(pfd, name.as_ptr(), m as libc::mode_t, 0) })
            .map_err(io_at(entry, "chmod"))?;
    }
    if !xattrs.is_empty() {
        let _x = timing::span(Phase::Xattrs);
        // lsetxattr through the parent's /proc fd path: the parent is pinned
        // by its fd and the final component is not followed.
        let p = format!("/proc/self/fd/{pfd}/");
        let mut path = p.into_bytes();
        path.extend_from_slice(name.as_bytes());
        let path = CString::new(path).expect("no NUL");
        for (k, v) in xattrs {
            check(unsafe {
                libc::lsetxattr(path.as_ptr(), k.as_ptr(), v.as_ptr().cast(), v.len(), 0)
            })
            .map_err(io_at(entry, "set xattr"))?;
        }
    }
    let ts = [timespec(mtime), timespec(mtime)];
    check(unsafe { libc::utimensat(pfd, name.as_ptr(), ts.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })
        .map_err(io_at(entry, "set mtime"))?;
    Ok(())
}

fn timespec(t: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: t as libc::time_t,
        tv_nsec: 0,
    }
}

fn set_times_fd(fd: RawFd, t: i64) -> io::Result<()> {
    let ts = [timespec(t), timespec(t)];
    check(unsafe { libc::futimens(fd, ts.as_ptr()) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_rules() {
        assert_eq!(
            clean_path(b"./a/b/").unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(
            clean_path(b"/etc/passwd").unwrap(),
            vec![b"etc".to_vec(), b"passwd".to_vec()]
        );
        assert!(clean_path(b"../x").is_err());
        assert!(clean_path(b"a/../../x").is_err());
        assert!(clean_path(b"./").unwrap().is_empty());
    }
}
