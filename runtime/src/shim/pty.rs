//! The pty side of the shims: the console socket on which `rrun-oci`
//! hands over a pty master (runc's protocol: one message, the fd in
//! SCM_RIGHTS), window sizes, and the small resize control socket.

use anyhow::{bail, Context, Result};
pub use rrun_shim::resize::{parse_resize, serve_resize, set_winsize};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A listening console socket and the path a child process connects to.
pub struct Console {
    listener: UnixListener,
    /// Keeps the directory open: `path` goes through `/proc/<pid>/fd/<n>`,
    /// because the real path may be longer than a socket path can be.
    _dir: std::fs::File,
    pub path: PathBuf,
}

impl Console {
    /// Binds `<dir>/<name>` (replacing a stale one).
    pub fn bind(dir: &Path, name: &str) -> Result<Console> {
        let _ = std::fs::remove_file(dir.join(name));
        let d = std::fs::File::open(dir).with_context(|| format!("open {}", dir.display()))?;
        let path = PathBuf::from(format!(
            "/proc/{}/fd/{}/{name}",
            std::process::id(),
            d.as_raw_fd()
        ));
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("bind {}", dir.join(name).display()))?;
        Ok(Console {
            listener,
            _dir: d,
            path,
        })
    }

    /// Takes the pty master the runtime sent (it connected and sent before
    /// it exited; `timeout` bounds a runtime that never did).
    pub fn receive(&self, timeout: Duration) -> Result<OwnedFd> {
        self.listener.set_nonblocking(true)?;
        let deadline = std::time::Instant::now() + timeout;
        let conn = loop {
            match self.listener.accept() {
                Ok((c, _)) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if std::time::Instant::now() > deadline {
                        bail!("the runtime sent no pty master");
                    }
                    let mut fds = [nix::poll::PollFd::new(
                        self.listener.as_fd(),
                        nix::poll::PollFlags::POLLIN,
                    )];
                    let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
                }
                Err(e) => return Err(e).context("accept on the console socket"),
            }
        };
        conn.set_nonblocking(false)?;
        recv_fd(&conn)
    }
}

fn recv_fd(conn: &std::os::unix::net::UnixStream) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .context("receive the pty master")?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: SCM_RIGHTS gave us a new fd that we now own.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    bail!("the console socket message carried no fd")
}
