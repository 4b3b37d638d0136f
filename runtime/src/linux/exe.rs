//! What the container's init is executed from.
//!
//! CVE-2019-5736: a process inside the container could open
//! `/proc/<init pid>/exe` while the init is still the runtime binary and
//! overwrite the runtime on the host. So the init never runs from a
//! writable path:
//!
//! - preferred: a detached, read-only bind mount of this binary
//!   (`open_tree` + `mount_setattr`, Linux 5.12+). It is attached nowhere,
//!   so no one can remount it writable, and a write through `/proc/<pid>/exe`
//!   fails with EROFS. It costs two syscalls and no copy.
//! - otherwise: a copy in a memfd sealed against writes (what runc did
//!   before 1.2), a few milliseconds for a copy of the binary.
//!
//! The daemon starts its shims from such a bind ([`readonly_self`], made
//! once): a shim running from a read-only binary forks its init without
//! executing anything ([`runs_read_only`], `launch`).

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub fn sealed_self() -> std::io::Result<OwnedFd> {
    match readonly_bind(c"/proc/self/exe") {
        Ok(fd) => Ok(fd),
        Err(e) => {
            tracing::debug!("read-only bind of the runtime binary unavailable ({e}); copying it to a sealed memfd");
            memfd_copy_of_self()
        }
    }
}

/// A detached read-only bind of this binary, for starting processes that
/// may fork a container's init without executing it again (the daemon's
/// shims): `None` on kernels without the mount API, where they run from
/// `/proc/self/exe` and the init is executed from a sealed copy.
pub fn readonly_self() -> Option<OwnedFd> {
    readonly_bind(c"/proc/self/exe")
        .map_err(|e| tracing::debug!("no read-only bind of the runtime binary ({e})"))
        .ok()
}

/// Whether this process runs from a binary on a read-only mount (started
/// through [`readonly_self`], or installed on a read-only filesystem):
/// then a write through `/proc/<pid>/exe` fails with EROFS, and a fork of
/// it may become a container's init without being executed from a sealed
/// copy first (CVE-2019-5736 needs that write).
pub fn runs_read_only() -> bool {
    File::open("/proc/self/exe")
        .and_then(|f| Ok(nix::sys::statvfs::fstatvfs(&f)?))
        .is_ok_and(|st| st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

/// A detached read-only bind mount of the file at `path`.
fn readonly_bind(path: &std::ffi::CStr) -> std::io::Result<OwnedFd> {
    // SAFETY: open_tree with a valid path; the result is a new fd we own.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this fd.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr on our fd with a properly sized struct.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // Trust, but verify: the mount must really be read-only.
    let st = nix::sys::statvfs::fstatvfs(&fd)?;
    if !st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Err(std::io::Error::other(
            "bind of the runtime binary is not read-only",
        ));
    }
    Ok(fd)
}

fn memfd_copy_of_self() -> std::io::Result<OwnedFd> {
    let mut src = File::open("/proc/self/exe")?;
    let fd = memfd_create(
        c"rrun-init",
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )?;
    let mut dst = File::from(fd);
    std::io::copy(&mut src, &mut dst)?;
    fcntl(
        dst.as_raw_fd(),
        FcntlArg::F_ADD_SEALS(
            SealFlag::F_SEAL_SEAL
                | SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_WRITE,
        ),
    )?;
    Ok(dst.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readonly_bind_refuses_writes() {
        // Needs root (open_tree with OPEN_TREE_CLONE); the CI runs as root.
        // A file nobody executes, so the write would otherwise succeed.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bin");
        std::fs::write(&file, b"#!/bin/sh\n").unwrap();
        let c = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
        let fd = readonly_bind(&c).expect("open_tree + mount_setattr");
        let err = std::fs::OpenOptions::new()
            .append(true)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
    }

    #[test]
    fn a_process_started_from_the_read_only_bind_knows_it() {
        // This test binary runs from target/, a writable mount.
        assert!(!runs_read_only());
        let fd = readonly_self().expect("open_tree + mount_setattr (root)");
        let out = std::process::Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .args([
                "--exact",
                "linux::exe::tests::print_runs_read_only",
                "--nocapture",
            ])
            .env("RRUN_PRINT_READ_ONLY", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("runs_read_only=true"), "{text}");
    }

    /// Run by the test above, from the read-only bind.
    #[test]
    fn print_runs_read_only() {
        if std::env::var_os("RRUN_PRINT_READ_ONLY").is_some() {
            println!("runs_read_only={}", runs_read_only());
        }
    }

    #[test]
    fn memfd_copy_is_sealed() {
        let fd = memfd_copy_of_self().unwrap();
        let seals = fcntl(fd.as_raw_fd(), FcntlArg::F_GET_SEALS).unwrap();
        assert_ne!(seals & libc::F_SEAL_WRITE, 0);
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        if let Ok(mut f) = err {
            use std::io::Write;
            assert!(f.write_all(b"x").is_err(), "a sealed memfd took a write");
        }
    }
}
