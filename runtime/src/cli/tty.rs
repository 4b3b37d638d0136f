//! The client side of an attached session (`run -i/-t`, `exec`, `attach`):
//! the terminal in raw mode (restored however the session ends), its size
//! sent on start and on SIGWINCH, Docker's detach keys (Ctrl-P Ctrl-Q),
//! stdin copied until EOF, and the output copied raw (tty) or demultiplexed
//! into stdout and stderr.

use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;

use super::client::Hijacked;
use crate::apimodel::detach::Escape;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Docker's message when the detach keys were read.
pub const DETACHED: &str = "read escape sequence";

fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(0) }
}

fn stdout_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 1 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(1) }
}

pub fn stdin_is_tty() -> bool {
    nix::unistd::isatty(0).unwrap_or(false)
}

/// The terminal's size (rows, columns), from stdout else stdin.
pub fn size() -> Option<(u16, u16)> {
    [stdout_fd(), stdin_fd()].into_iter().find_map(|fd| {
        // SAFETY: winsize is plain integers; all zeroes is a valid value.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes a winsize into the pointer we pass.
        let rc = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                libc::TIOCGWINSZ,
                &mut ws,
            )
        };
        (rc == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
    })
}

/// `[height, width]` for a create or exec body when `tty` and known.
pub fn console_size(tty: bool) -> Option<Vec<usize>> {
    match size() {
        Some((h, w)) if tty => Some(vec![h.into(), w.into()]),
        _ => None,
    }
}

/// Stdin in raw mode until dropped.
pub struct RawMode {
    saved: nix::sys::termios::Termios,
}

impl RawMode {
    /// None when stdin is not a terminal.
    pub fn enter() -> Option<RawMode> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let saved = tcgetattr(stdin_fd()).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = nix::sys::termios::tcsetattr(
            stdin_fd(),
            nix::sys::termios::SetArg::TCSANOW,
            &self.saved,
        );
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The daemon closed the stream (the process ended).
    Eof,
    /// The user typed the detach keys.
    Detached,
}

/// One attached session over a hijacked connection.
pub struct Session {
    pub conn: Hijacked,
    pub tty: bool,
    pub stdin: bool,
    /// The detach keys (`--detach-keys`, parsed); empty: none.
    pub detach_keys: Vec<u8>,
    /// Sends the terminal's size (rows, columns) to the daemon.
    pub resize: Option<Box<dyn Fn(u16, u16) + Send + Sync>>,
}

impl Session {
    pub fn run(self) -> Result<Ended> {
        let Session {
            conn,
            tty,
            stdin,
            detach_keys,
            resize,
        } = self;
        let terminal = tty && stdin_is_tty();
        // SIGWINCH is blocked here before any thread starts, so every
        // thread inherits the mask and only the watcher takes it.
        if tty {
            if let Some(resize) = resize {
                let resize = Arc::new(resize);
                if let Some((h, w)) = size() {
                    resize(h, w);
                }
                watch_winch(resize);
            }
        }
        let raw = if terminal && stdin {
            RawMode::enter()
        } else {
            None
        };
        let detached = Arc::new(AtomicBool::new(false));
        if stdin {
            let mut to_daemon = conn.stream.try_clone()?;
            let flag = detached.clone();
            let keys = Escape::new(if terminal { detach_keys } else { vec![] });
            std::thread::spawn(move || copy_input(&mut to_daemon, keys, &flag));
        }
        let out = if tty {
            copy_raw(conn.reader()?)
        } else {
            demux(Box::new(conn.reader()?))
        };
        drop(raw);
        if detached.load(Ordering::SeqCst) {
            return Ok(Ended::Detached);
        }
        out.map(|_| Ended::Eof)
    }
}

/// Copies stdin to the daemon until EOF (then half-closes) or the detach
/// keys (then closes the whole connection, which ends the output too).
fn copy_input(to: &mut UnixStream, mut esc: Escape, detached: &AtomicBool) {
    let mut buf = [0u8; 32768];
    let mut input = std::io::stdin().lock();
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let (bytes, detach) = esc.feed(&buf[..n]);
        if to.write_all(&bytes).is_err() {
            return;
        }
        if detach {
            detached.store(true, Ordering::SeqCst);
            let _ = to.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// Copies a stream body to stdout as is (`raw`), else demultiplexed.
pub fn output(body: Box<dyn Read + Send>, raw: bool) -> Result<()> {
    if raw {
        copy_raw(body)
    } else {
        demux(body)
    }
}

fn copy_raw(mut conn: impl Read) -> Result<()> {
    let mut buf = [0u8; 32768];
    let mut out = std::io::stdout().lock();
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // A connection shut down by a detach.
            Err(_) => return Ok(()),
        };
        if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
            return Ok(());
        }
    }
}

/// Calls `resize` with the new size on each SIGWINCH, from a thread of its
/// own (the signal is blocked in the calling thread and those it starts).
fn watch_winch(resize: Arc<Box<dyn Fn(u16, u16) + Send + Sync>>) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGWINCH);
    if set.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || loop {
        if set.wait().is_err() {
            return;
        }
        if let Some((h, w)) = size() {
            resize(h, w);
        }
    });
}

/// Copies a multiplexed stream to stdout and stderr as frames arrive.
pub fn demux(mut body: Box<dyn Read>) -> Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 32768];
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    loop {
        let n = body.read(&mut chunk).context("read the log stream")?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let (frames, used) = crate::state::logs::deframe(&buf);
        buf.drain(..used);
        for (stream, payload) in frames {
            if stream == crate::state::logs::STDERR {
                let mut e = stderr.lock();
                let _ = e.write_all(&payload);
                let _ = e.flush();
            } else {
                let mut o = stdout.lock();
                // A closed stdout (rrun logs | head) ends the copy quietly.
                if o.write_all(&payload).and_then(|_| o.flush()).is_err() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}
