//! The pty side of the shims: the console socket on which `rrun-oci`
//! hands over a pty master (runc's protocol: one message, the fd in
//! SCM_RIGHTS), window sizes, and the small resize control socket.

use anyhow::{bail, Context, Result};
use std::io::Read;
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

/// Sets the window size of a pty (rows, columns).
pub fn set_winsize(fd: &impl AsRawFd, rows: u16, cols: u16) {
    crate::linux::init::set_winsize(fd, rows, cols);
}

/// A resize request on a control socket: one line `<rows> <cols>`.
pub fn parse_resize(line: &str) -> Option<(u16, u16)> {
    let mut it = line.split_whitespace();
    let h = it.next()?.parse().ok()?;
    let w = it.next()?.parse().ok()?;
    it.next().is_none().then_some((h, w))
}

/// Serves one connection of a resize control socket: reads its line
/// (bounded) and applies it to `master`.
pub fn serve_resize(listener: &UnixListener, master: &impl AsRawFd) {
    let Ok((mut c, _)) = listener.accept() else {
        return;
    };
    let _ = c.set_nonblocking(false);
    let _ = c.set_read_timeout(Some(Duration::from_secs(1)));
    let mut line = Vec::new();
    let mut b = [0u8; 64];
    while !line.contains(&b'\n') && line.len() < 64 {
        match c.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => line.extend_from_slice(&b[..n]),
        }
    }
    if let Some((h, w)) = parse_resize(&String::from_utf8_lossy(&line)) {
        set_winsize(master, h, w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_lines_parse() {
        assert_eq!(parse_resize("24 80\n"), Some((24, 80)));
        assert_eq!(parse_resize("24"), None);
        assert_eq!(parse_resize("24 80 1"), None);
        assert_eq!(parse_resize("-1 80"), None);
    }
}
