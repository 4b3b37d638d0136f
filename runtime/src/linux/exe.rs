//! The container init runs from a sealed in-memory copy of this binary.
//!
//! CVE-2019-5736: a process inside the container could open
//! `/proc/<init pid>/exe` while the init is still the runtime binary and
//! overwrite the runtime on the host. The init is therefore re-executed from
//! a memfd sealed against writes, so that link leads to a copy nothing can
//! change.

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};

pub fn sealed_self() -> std::io::Result<OwnedFd> {
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
