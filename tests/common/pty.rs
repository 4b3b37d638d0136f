//! A program run on a pseudo-terminal, driven as a user at a keyboard
//! would: wait for some text, type a line. Every wait has a deadline; the
//! program is killed on drop.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PtySession {
    master: std::fs::File,
    child: Child,
    /// Everything read so far.
    pub output: String,
}

impl PtySession {
    /// Starts `program args…` with a new session whose controlling
    /// terminal is the slave end of a fresh pty (24x120).
    pub fn spawn(program: &Path, args: &[&str]) -> PtySession {
        let ws = nix::pty::Winsize {
            ws_row: 24,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&ws), None).expect("openpty");
        let slave: OwnedFd = pty.slave;
        let io = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the pty slave"));
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(io(&slave))
            .stdout(io(&slave))
            .stderr(io(&slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on the pty");
        drop(slave);
        let master = std::fs::File::from(pty.master);
        nix::fcntl::fcntl(
            master.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .expect("non-blocking master");
        PtySession {
            master,
            child,
            output: String::new(),
        }
    }

    /// Reads what is there, waiting up to `wait` for something.
    fn read_some(&mut self, wait: Duration) -> bool {
        let mut fds = [nix::poll::PollFd::new(
            self.master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = wait.as_millis().min(u16::MAX as u128) as u16;
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
            Ok(n) if n > 0 => {}
            _ => return false,
        }
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            Ok(n) if n > 0 => {
                self.output.push_str(&String::from_utf8_lossy(&buf[..n]));
                true
            }
            _ => false,
        }
    }

    /// Waits until the output since `from` contains `needle`; returns the
    /// output from `from` on. Panics with the whole transcript at the
    /// deadline.
    pub fn expect_from(&mut self, from: usize, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(tail) = self.output.get(from..) {
                if tail.contains(needle) {
                    return tail.to_string();
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out waiting for {needle:?} on the terminal; transcript:\n{}",
                    self.output
                );
            }
            self.read_some(Duration::from_millis(200));
        }
    }

    /// Waits for `needle` anywhere after what was already matched before.
    pub fn expect(&mut self, needle: &str, limit: Duration) -> String {
        self.expect_from(0, needle, limit)
    }

    /// Types `text` (include the `\n`).
    pub fn send(&mut self, text: &str) {
        self.master
            .write_all(text.as_bytes())
            .expect("write to the pty");
    }

    /// Marks where the next `expect_from` should start.
    pub fn mark(&self) -> usize {
        self.output.len()
    }

    /// Waits for the program to end, draining its output; its exit code.
    pub fn wait(mut self, limit: Duration) -> i32 {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                // What the program wrote just before it exited may reach
                // the master a moment after the slave's hangup (the tty
                // layer pushes it from a work queue): a hangup or an empty
                // read is retried a few times before the transcript ends.
                let mut quiet = 0;
                while quiet < 5 {
                    if self.read_some(Duration::from_millis(50)) {
                        quiet = 0;
                    } else {
                        quiet += 1;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                return st.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                panic!(
                    "the program on the pty did not end; transcript:\n{}",
                    self.output
                );
            }
            self.read_some(Duration::from_millis(100));
        }
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
