//! Foreground supervision for `run` and `exec`: forward signals to the
//! container's process, relay its terminal, reap it, and turn its end into
//! an exit code.

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

const FORWARDED: [Signal; 8] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCHLD,
];

/// Signals are blocked before the container is launched, so none is lost
/// between its start and the supervision loop; the init unblocks them for
/// itself.
pub struct Signals {
    fd: SignalFd,
}

impl Signals {
    pub fn block() -> Result<Signals> {
        let mut set = SigSet::empty();
        for s in FORWARDED {
            set.add(s);
        }
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
        Ok(Signals { fd })
    }
}

/// Restores the terminal's mode when supervision ends.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

fn copy_winsize(from: BorrowedFd<'_>, to: BorrowedFd<'_>) {
    // SAFETY: ioctls on valid fds with a properly sized struct.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Relays bytes; returns false at end of input.
fn relay(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 16384];
    match nix::unistd::read(from.as_raw_fd(), &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            let mut off = 0;
            while off < n {
                match nix::unistd::write(to, &buf[off..n]) {
                    Ok(w) => off += w,
                    Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => continue,
                    Err(_) => return false,
                }
            }
            true
        }
    }
}

pub fn exit_code(ws: WaitStatus) -> i32 {
    match ws {
        WaitStatus::Exited(_, c) => c,
        WaitStatus::Signaled(_, s, _) => 128 + s as i32,
        _ => 255,
    }
}

/// Waits for `pid` (a child of ours, as subreaper), forwarding signals and
/// relaying the pty if there is one. Returns the process's exit code.
pub fn supervise(signals: Signals, pid: Pid, pty: Option<OwnedFd>) -> Result<i32> {
    let _raw = pty.as_ref().and_then(|_| RawMode::enter());
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    if let Some(m) = &pty {
        copy_winsize(stdin.as_fd(), m.as_fd());
    }
    let mut stdin_open = pty.is_some();
    let mut status = None;
    loop {
        // Reap first: SIGCHLD may have come before the loop began.
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(ws) if ws.pid() == Some(pid) => status = Some(ws),
                Ok(_) => {} // an orphan of the container, reparented to us
            }
        }
        if let Some(ws) = status {
            if let Some(m) = &pty {
                // Drain what the process wrote before it exited.
                let mut fds = [PollFd::new(m.as_fd(), PollFlags::POLLIN)];
                while poll(&mut fds, PollTimeout::ZERO).unwrap_or(0) > 0
                    && fds[0]
                        .revents()
                        .is_some_and(|r| r.contains(PollFlags::POLLIN))
                    && relay(m.as_fd(), stdout.as_fd())
                {}
            }
            return Ok(exit_code(ws));
        }
        let mut fds = vec![PollFd::new(signals.fd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = &pty {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            r => r.context("poll")?,
        };
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, pty_ready, stdin_ready) = (ready(0), ready(1), ready(2));
        drop(fds);
        if sig_ready {
            while let Ok(Some(info)) = signals.fd.read_signal() {
                let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                    continue;
                };
                match sig {
                    Signal::SIGCHLD => {}
                    Signal::SIGWINCH => {
                        if let Some(m) = &pty {
                            copy_winsize(stdin.as_fd(), m.as_fd());
                        }
                    }
                    s => {
                        let _ = kill(pid, s);
                    }
                }
            }
        }
        if let Some(m) = &pty {
            if pty_ready && !relay(m.as_fd(), stdout.as_fd()) {
                // EIO: the slave side is gone; the process is exiting.
                let _ = waitpid(pid, None).map(|ws| status = Some(ws));
            }
            if stdin_ready && !relay(stdin.as_fd(), m.as_fd()) {
                stdin_open = false;
            }
        }
    }
}
