//! A tar of one path of a container, for `GET /containers/{id}/archive`.
//!
//! The top is a handle resolved inside the container's root; everything
//! below it is reached with `openat(…, O_NOFOLLOW)` relative to its parent
//! directory's fd, never through a path string, so a directory the
//! container swaps for a symlink while the tar is written makes that entry
//! fail instead of leading the daemon to the host (CVE-2018-15664).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode};
use pathrs::flags::OpenFlags;
use pathrs::{Handle, Root};

fn os(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn path_err(e: pathrs::error::Error) -> io::Error {
    io::Error::other(e.to_string())
}

/// Writes the tar of the resolved `handle` (at `rel` in `root`), its top
/// entry named `top`, into `w`.
pub fn write_tar(
    root: &Root,
    rel: &str,
    handle: &Handle,
    top: &str,
    w: impl Write,
) -> io::Result<()> {
    let mut b = tar::Builder::new(w);
    let st = nix::sys::stat::fstat(handle.as_fd().as_raw_fd()).map_err(os)?;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            let dir = handle
                .reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
                .map_err(path_err)?;
            append_dir(&mut b, dir.as_fd(), top, &st)?;
        }
        libc::S_IFREG => {
            let f = handle.reopen(OpenFlags::O_RDONLY).map_err(path_err)?;
            append_file(&mut b, f, top, &st)?;
        }
        libc::S_IFLNK => {
            let to = root.readlink(rel).map_err(path_err)?;
            b.append_link(&mut header(&st, tar::EntryType::Symlink), top, to)?;
        }
        _ => append_special(&mut b, top, &st)?,
    }
    b.into_inner()?.flush()
}

/// A header with the owner, mode and mtime of `st`.
fn header(st: &FileStat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid.into());
    h.set_gid(st.st_gid.into());
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

fn append_file<W: Write>(
    b: &mut tar::Builder<W>,
    f: File,
    name: &str,
    st: &FileStat,
) -> io::Result<()> {
    let mut h = header(st, tar::EntryType::Regular);
    h.set_size(st.st_size as u64);
    // A file that grows meanwhile is cut at the size the header says.
    b.append_data(&mut h, name, f.take(st.st_size as u64))
}

/// Fifos and devices: a header alone; sockets are left out, as Docker's.
fn append_special<W: Write>(b: &mut tar::Builder<W>, name: &str, st: &FileStat) -> io::Result<()> {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFIFO => tar::EntryType::Fifo,
        libc::S_IFCHR => tar::EntryType::Char,
        libc::S_IFBLK => tar::EntryType::Block,
        _ => return Ok(()),
    };
    let mut h = header(st, kind);
    if kind != tar::EntryType::Fifo {
        h.set_device_major(libc::major(st.st_rdev))?;
        h.set_device_minor(libc::minor(st.st_rdev))?;
    }
    b.append_data(&mut h, name, io::empty())
}

/// A directory and everything under it, each child opened relative to
/// `dir` without following symlinks.
fn append_dir<W: Write>(
    b: &mut tar::Builder<W>,
    dir: std::os::fd::BorrowedFd<'_>,
    name: &str,
    st: &FileStat,
) -> io::Result<()> {
    let mut h = header(st, tar::EntryType::Directory);
    b.append_data(&mut h, format!("{name}/"), io::empty())?;
    append_children(b, dir, Some(name))
}

/// `docker export`: every entry under the directory `handle`, named from
/// it (`bin/`, `bin/sh`, as Docker's export tar has them, no `./`).
pub fn write_tree(handle: &Handle, w: impl Write) -> io::Result<()> {
    let mut b = tar::Builder::new(w);
    let dir = handle
        .reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
        .map_err(path_err)?;
    append_children(&mut b, dir.as_fd(), None)?;
    b.finish()
}

/// The entries of `dir`, sorted, each under `prefix/` (or at the top).
fn append_children<W: Write>(
    b: &mut tar::Builder<W>,
    dir: std::os::fd::BorrowedFd<'_>,
    prefix: Option<&str>,
) -> io::Result<()> {
    let fd = dir.as_raw_fd();
    let mut names: Vec<_> = std::fs::read_dir(format!("/proc/self/fd/{fd}"))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    for n in names {
        let child = match prefix {
            Some(p) => format!("{p}/{}", n.to_string_lossy()),
            None => n.to_string_lossy().into_owned(),
        };
        let st = nix::sys::stat::fstatat(Some(fd), n.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(os)?;
        let open = |flags: OFlag| -> io::Result<OwnedFd> {
            let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let raw =
                nix::fcntl::openat(Some(fd), n.as_os_str(), flags, Mode::empty()).map_err(os)?;
            // SAFETY: openat just returned this fd; nothing else owns it.
            Ok(unsafe { OwnedFd::from_raw_fd(raw) })
        };
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                let sub = open(OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
                append_dir(b, sub.as_fd(), &child, &st)?;
            }
            libc::S_IFREG => {
                let f = File::from(open(OFlag::O_RDONLY)?);
                append_file(b, f, &child, &st)?;
            }
            libc::S_IFLNK => {
                let to = nix::fcntl::readlinkat(Some(fd), n.as_os_str()).map_err(os)?;
                b.append_link(&mut header(&st, tar::EntryType::Symlink), &child, to)?;
            }
            _ => append_special(b, &child, &st)?,
        }
    }
    Ok(())
}
