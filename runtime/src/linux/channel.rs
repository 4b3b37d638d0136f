//! The typed protocol between the runtime (parent) and the container's init.
//!
//! ```text
//!   parent (rrun-oci create/run/exec)          init (re-executed from a sealed memfd)
//!   ---------------------------------          --------------------------------------
//!   socketpair ─────────── fd 3 ──────────────▶ stage 1 "intermediate" (host pid ns)
//!   adds stage 1 to the cgroup
//!   ToInit::Config ───────────────────────────▶ joins / creates namespaces
//!                  ◀────── FromInit::NeedIdMaps  (only for a new user namespace)
//!   writes uid_map/gid_map
//!   ToInit::IdMapsWritten ────────────────────▶ unshares the rest, forks stage 2
//!                  ◀────── FromInit::Pid(pid)    stage 1 exits
//!   ToInit::Continue ─────────────────────────▶ stage 2 = pid 1 of the container:
//!                                                mounts, devices
//!                  ◀────── FromInit::RuntimeHooks
//!   prestart + createRuntime hooks
//!   ToInit::HooksDone ────────────────────────▶ createContainer hooks, pivot_root,
//!                                                masks, console
//!                  ◀────── FromInit::PtyMaster   (with the pty master fd, -t only)
//!                  ◀────── FromInit::Ready       then waits on exec.fifo for `start`
//!   any time       ◀────── FromInit::Error(msg)  and the init exits
//! ```
//!
//! Messages are JSON framed by a 4-byte length over a SOCK_STREAM unix
//! socket; a file descriptor travels with the frame header (SCM_RIGHTS).
//! Each side checks it gets the message it expects, so an out-of-order
//! message is an error, never silently skipped.

use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// Frames bigger than this are refused: a config never gets near it.
const MAX_FRAME: u32 = 16 << 20;

/// Messages from the runtime to the init.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToInit {
    Config(Box<super::init::InitConfig>),
    IdMapsWritten,
    Continue,
    /// The state (as the hooks see it) for the createContainer and
    /// startContainer hooks.
    HooksDone {
        state: String,
    },
}

/// Messages from the init to the runtime.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromInit {
    NeedIdMaps,
    Pid(i32),
    RuntimeHooks,
    /// Sent with the pty master attached.
    PtyMaster,
    Ready,
    Error(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("sync socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("sync socket: {0}")]
    Sys(#[from] nix::Error),
    #[error("sync socket closed by the other side")]
    Closed,
    #[error("sync socket: bad message: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("sync socket: frame of {0} bytes is too large")]
    TooLarge(u32),
}

/// One end of the sync socket.
pub struct Channel {
    sock: UnixStream,
}

impl Channel {
    /// A connected pair (parent end, init end), both close-on-exec.
    pub fn pair() -> Result<(Channel, Channel), ChannelError> {
        let (a, b) = UnixStream::pair()?;
        Ok((Channel { sock: a }, Channel { sock: b }))
    }

    /// Takes over an inherited fd.
    ///
    /// # Safety
    /// `fd` must be an open unix stream socket owned by nobody else.
    pub unsafe fn from_raw_fd(fd: RawFd) -> Channel {
        Channel {
            sock: unsafe { UnixStream::from_raw_fd(fd) },
        }
    }

    pub fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    pub fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), ChannelError> {
        self.send_with_fd(msg, None)
    }

    pub fn send_with_fd<T: Serialize>(
        &mut self,
        msg: &T,
        fd: Option<RawFd>,
    ) -> Result<(), ChannelError> {
        let body = serde_json::to_vec(msg)?;
        let len = u32::try_from(body.len()).map_err(|_| ChannelError::TooLarge(u32::MAX))?;
        if len > MAX_FRAME {
            return Err(ChannelError::TooLarge(len));
        }
        let header = len.to_le_bytes();
        let Some(fd) = fd else {
            // Plain writes without a descriptor: after a seccomp filter is
            // loaded the init makes only the calls runc makes (write).
            // (write(2), not the socket's send: Rust's sends are sendto).
            write_all(&self.sock, &header)?;
            write_all(&self.sock, &body)?;
            return Ok(());
        };
        let fds = Some([fd]);
        let cmsgs: Vec<ControlMessage> = fds
            .as_ref()
            .map(|f| ControlMessage::ScmRights(f))
            .into_iter()
            .collect();
        let iov = [IoSlice::new(&header)];
        let sent = socket::sendmsg::<()>(
            self.sock.as_raw_fd(),
            &iov,
            &cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        if sent != header.len() {
            self.sock.write_all(&header[sent..])?;
        }
        self.sock.write_all(&body)?;
        Ok(())
    }

    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T, ChannelError> {
        Ok(self.recv_with_fd()?.0)
    }

    pub fn recv_with_fd<T: DeserializeOwned>(
        &mut self,
    ) -> Result<(T, Option<OwnedFd>), ChannelError> {
        let mut header = [0u8; 4];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (got, fd) = {
            let mut iov = [IoSliceMut::new(&mut header)];
            let msg = loop {
                match socket::recvmsg::<()>(
                    self.sock.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::MSG_CMSG_CLOEXEC,
                ) {
                    Err(nix::Error::EINTR) => continue,
                    r => break r?,
                }
            };
            let mut fd = None;
            for c in msg.cmsgs()? {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    for f in fds {
                        // SAFETY: the kernel just installed this fd for us.
                        let owned = unsafe { OwnedFd::from_raw_fd(f) };
                        if fd.is_none() {
                            fd = Some(owned);
                        }
                    }
                }
            }
            (msg.bytes, fd)
        };
        if got == 0 {
            return Err(ChannelError::Closed);
        }
        if got < header.len() {
            self.sock
                .read_exact(&mut header[got..])
                .map_err(eof_is_closed)?;
        }
        let len = u32::from_le_bytes(header);
        if len > MAX_FRAME {
            return Err(ChannelError::TooLarge(len));
        }
        let mut body = vec![0u8; len as usize];
        self.sock.read_exact(&mut body).map_err(eof_is_closed)?;
        Ok((serde_json::from_slice(&body)?, fd))
    }
}

/// write(2) until all of `buf` is written.
fn write_all(sock: &UnixStream, mut buf: &[u8]) -> Result<(), ChannelError> {
    while !buf.is_empty() {
        match nix::unistd::write(sock, buf) {
            Ok(n) => buf = &buf[n..],
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn eof_is_closed(e: std::io::Error) -> ChannelError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        ChannelError::Closed
    } else {
        ChannelError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_fds_cross() {
        let (mut a, mut b) = Channel::pair().unwrap();
        let f = tempfile::tempfile().unwrap();
        a.send_with_fd(&FromInit::PtyMaster, Some(f.as_raw_fd()))
            .unwrap();
        a.send(&FromInit::Pid(42)).unwrap();
        let (m, fd) = b.recv_with_fd::<FromInit>().unwrap();
        assert!(matches!(m, FromInit::PtyMaster));
        assert!(fd.is_some());
        assert!(matches!(b.recv::<FromInit>().unwrap(), FromInit::Pid(42)));
        drop(a);
        assert!(matches!(b.recv::<FromInit>(), Err(ChannelError::Closed)));
    }
}
