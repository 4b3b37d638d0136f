//! The per-exec helper: a small single-threaded process that runs one
//! `docker exec` process through `rrun-oci exec --detach`, adopts it (it is
//! a child subreaper), carries its stdio, and reports its exit. It outlives
//! the daemon, so an exec'd process keeps running when `rrund` restarts.
//!
//! Who holds which end (all set up by the daemon before the helper runs):
//! - fd 0: the data socket when the exec is attached, else /dev/null. The
//!   helper writes the process's output there (raw with a tty, else in
//!   Docker's 8-byte-header stdout/stderr frames, so the daemon copies
//!   bytes to the client untouched) and reads its stdin from there; the
//!   daemon's half-close is the stdin's EOF.
//! - fd 1: the control socket. The helper writes [`Event`] lines: one
//!   `started` or `failed`, then `exited` once the process is gone and its
//!   output is sent. The daemon writes resize lines, `<rows> <cols>`.
//! - fd 2: `<exec dir>/helper.log`.
//!
//! `<exec dir>` holds `process.json` (written by the daemon), `oci.log`,
//! `pid` and `console.sock` while a tty is being set up; the helper removes
//! it when it is done.
//!
//! It must run before any async runtime or thread exists: it forks.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::pty;
use crate::state::logs;

/// The helper's hidden subcommand name.
pub const SUBCOMMAND: &str = "exec-shim";
pub const PROCESS_FILE: &str = "process.json";

/// What the helper tells the daemon on its control socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    Started { pid: i32 },
    Failed { error: String },
    Exited { exit_code: i32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecShimArgs {
    /// The container's id in the executor.
    pub id: String,
    pub dir: PathBuf,
    pub oci_root: PathBuf,
    pub oci_bin: PathBuf,
    pub tty: bool,
    pub stdin: bool,
    /// Which outputs the client attached (the others go to /dev/null).
    pub stdout: bool,
    pub stderr: bool,
    pub attached: bool,
}

impl ExecShimArgs {
    pub fn to_args(&self) -> Vec<String> {
        let b = |x: bool| if x { "1" } else { "0" }.to_string();
        vec![
            SUBCOMMAND.into(),
            self.id.clone(),
            self.dir.display().to_string(),
            self.oci_root.display().to_string(),
            self.oci_bin.display().to_string(),
            b(self.tty),
            b(self.stdin),
            b(self.stdout),
            b(self.stderr),
            b(self.attached),
        ]
    }

    pub fn parse(args: &[String]) -> Option<ExecShimArgs> {
        let b = |s: &String| match s.as_str() {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        };
        match args {
            [id, dir, root, bin, tty, stdin, stdout, stderr, attached] => Some(ExecShimArgs {
                id: id.clone(),
                dir: dir.into(),
                oci_root: root.into(),
                oci_bin: bin.into(),
                tty: b(tty)?,
                stdin: b(stdin)?,
                stdout: b(stdout)?,
                stderr: b(stderr)?,
                attached: b(attached)?,
            }),
            _ => None,
        }
    }
}

/// Runs the helper; returns the process exit code.
pub fn main(args: ExecShimArgs) -> i32 {
    let _ = nix::unistd::setsid();
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    // Take fds 0 and 1 for ourselves, and leave /dev/null in their place so
    // nothing printed by accident lands in a protocol.
    let take = |fd: i32| -> Option<OwnedFd> {
        let new = nix::unistd::dup(fd).ok()?;
        // SAFETY: dup returned a new fd that we own.
        let owned = unsafe { OwnedFd::from_raw_fd(new) };
        let _ = nix::fcntl::fcntl(
            owned.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
        if let Ok(null) = std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
        {
            let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
        }
        Some(owned)
    };
    let data = if args.attached {
        take(0).map(UnixStream::from)
    } else {
        None
    };
    let Some(ctl) = take(1).map(UnixStream::from) else {
        eprintln!("exec helper: no control socket");
        return 1;
    };
    let mut h = Helper { args, data, ctl };
    match h.run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("exec helper {}: {e:#}", h.args.id);
            h.send(&Event::Failed {
                error: format!("{e:#}"),
            });
            1
        }
    }
}

struct Helper {
    args: ExecShimArgs,
    data: Option<UnixStream>,
    ctl: UnixStream,
}

/// Where the process's stdio goes once it runs.
struct Io {
    /// Output fds with their stream number (a pty is stdout).
    outputs: Vec<(OwnedFd, u8)>,
    /// Where the client's stdin goes: the pipe, or the pty master.
    stdin: Option<OwnedFd>,
    master: Option<OwnedFd>,
}

impl Helper {
    fn send(&mut self, e: &Event) {
        if let Ok(mut line) = serde_json::to_vec(e) {
            line.push(b'\n');
            let _ = self.ctl.write_all(&line);
        }
    }

    fn oci(&self) -> Command {
        let mut c = Command::new(&self.args.oci_bin);
        c.arg("--root")
            .arg(&self.args.oci_root)
            .arg("--log")
            .arg(self.args.dir.join(super::OCI_LOG_FILE))
            .arg("--log-format")
            .arg("json");
        c
    }

    fn run(&mut self) -> Result<()> {
        let dir = self.args.dir.clone();
        let pid_file = dir.join("pid");
        let mut cmd = self.oci();
        cmd.arg("exec")
            .arg("--detach")
            .arg("--process")
            .arg(dir.join(PROCESS_FILE))
            .arg("--pid-file")
            .arg(&pid_file);
        let mut io = Io {
            outputs: vec![],
            stdin: None,
            master: None,
        };
        let console = self.stdio(&mut cmd, &mut io)?;
        let status = cmd
            .arg(&self.args.id)
            .status()
            .context("run rrun-oci exec")?;
        // Our copies of the child's ends go now, so EOF comes with its exit.
        drop(cmd);
        if !status.success() {
            let error = super::last_oci_error(&dir);
            self.send(&Event::Failed { error });
            let _ = std::fs::remove_dir_all(&dir);
            return Ok(());
        }
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .context("read the exec pid")?
            .trim()
            .parse()
            .context("parse the exec pid")?;
        if let Some(c) = console {
            let master = c.receive(Duration::from_secs(10))?;
            if self.args.stdin {
                io.stdin = Some(master.try_clone()?);
            }
            io.outputs = vec![(master.try_clone()?, logs::STDOUT)];
            io.master = Some(master);
            let _ = std::fs::remove_file(dir.join("console.sock"));
        }
        self.send(&Event::Started { pid });
        let code = self.pump(pid, io);
        if let Some(d) = &self.data {
            let _ = d.shutdown(std::net::Shutdown::Both);
        }
        self.send(&Event::Exited { exit_code: code });
        // Exec records live in the daemon's memory only: nothing here is
        // read again.
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    /// Gives the exec its stdio: a console socket for a terminal, else
    /// pipes for what the client asked (their other ends go into `io`).
    fn stdio(&self, cmd: &mut Command, io: &mut Io) -> Result<Option<pty::Console>> {
        if self.args.tty {
            let c = pty::Console::bind(&self.args.dir, "console.sock")?;
            cmd.arg("--console-socket").arg(&c.path);
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            return Ok(Some(c));
        }
        let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe");
        if self.args.stdin {
            let (r, w) = pipe()?;
            cmd.stdin(Stdio::from(r));
            io.stdin = Some(w);
        } else {
            cmd.stdin(Stdio::null());
        }
        for (wanted, stream) in [
            (self.args.stdout, logs::STDOUT),
            (self.args.stderr, logs::STDERR),
        ] {
            let to = if wanted {
                let (r, w) = pipe()?;
                io.outputs.push((r, stream));
                Stdio::from(w)
            } else {
                Stdio::null()
            };
            if stream == logs::STDOUT {
                cmd.stdout(to);
            } else {
                cmd.stderr(to);
            }
        }
        Ok(None)
    }

    /// Carries stdio and resizes until the process exits and its output is
    /// read; returns Docker's exit code (128+signal when killed).
    fn pump(&mut self, pid: i32, mut io: Io) -> i32 {
        let mut outputs: Vec<Option<(OwnedFd, u8)>> = io.outputs.drain(..).map(Some).collect();
        let mut stdin_open = self.args.stdin && self.data.is_some();
        let mut ctl_open = true;
        let mut code: Option<i32> = None;
        let mut exited_at: Option<Instant> = None;
        let mut ctl_buf = Vec::new();
        // Readable once the process has exited (see the container shim's).
        let exit = crate::linux::pidfd_open(pid);
        loop {
            let live: Vec<usize> = (0..outputs.len())
                .filter(|i| outputs[*i].is_some())
                .collect();
            if code.is_some() && live.is_empty() {
                break;
            }
            // Background children of the process may hold its output open;
            // give them a moment after it exits, as the container shim does.
            if exited_at.is_some_and(|t| t.elapsed() > Duration::from_secs(1)) {
                break;
            }
            let waiting = exit.as_ref().filter(|_| code.is_none());
            let (ready, data_ready, ctl_ready) =
                self.poll_once(&outputs, &live, stdin_open, ctl_open, waiting);
            for i in ready {
                if !self.forward_output(&mut outputs[i]) {
                    outputs[i] = None;
                }
            }
            if data_ready && !self.forward_stdin(&mut io) {
                stdin_open = false;
                // The client's EOF closes a pipe; a terminal stays open.
                if !self.args.tty {
                    io.stdin = None;
                }
            }
            if ctl_ready {
                ctl_open = self.read_ctl(&mut ctl_buf, io.master.as_ref());
            }
            if let Some(c) = super::monitor::reap(pid) {
                code = Some(c);
                exited_at = Some(Instant::now());
            }
            if code.is_none() && !crate::state::pid_alive(pid) {
                code = Some(255);
                exited_at = Some(Instant::now());
            }
        }
        code.unwrap_or(255)
    }

    /// Waits up to 100 ms for the live outputs, the process's exit, the
    /// client's input and the control socket; returns which outputs (by
    /// index) and which of the other two are ready.
    fn poll_once(
        &self,
        outputs: &[Option<(OwnedFd, u8)>],
        live: &[usize],
        stdin_open: bool,
        ctl_open: bool,
        exit: Option<&OwnedFd>,
    ) -> (Vec<usize>, bool, bool) {
        let mut set = super::monitor::PollSet::default();
        let output_at: Vec<usize> = live
            .iter()
            .map(|i| set.add(outputs[*i].as_ref().expect("live").0.as_fd()))
            .collect();
        let data_at = match (&self.data, stdin_open) {
            (Some(d), true) => Some(set.add(d.as_fd())),
            _ => None,
        };
        let ctl_at = ctl_open.then(|| set.add(self.ctl.as_fd()));
        if let Some(fd) = exit {
            set.add(fd.as_fd());
        }
        set.wait(Some(100));
        (
            set.ready_of(live, &output_at),
            data_at.is_some_and(|i| set.ready(i)),
            ctl_at.is_some_and(|i| set.ready(i)),
        )
    }

    /// Moves what one output has to the client; false at its EOF.
    fn forward_output(&mut self, out: &mut Option<(OwnedFd, u8)>) -> bool {
        let Some((fd, stream)) = out else {
            return false;
        };
        let mut buf = [0u8; 32768];
        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) => false,
            Ok(n) => {
                let bytes = if self.args.tty {
                    buf[..n].to_vec()
                } else {
                    logs::frame(*stream, &buf[..n])
                };
                if let Some(d) = &mut self.data {
                    if d.write_all(&bytes).is_err() {
                        // The daemon or its client went away: keep reading
                        // so the process never blocks on a full pipe.
                        self.data = None;
                    }
                }
                true
            }
            Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => true,
            // EIO: a pty whose other side is all closed.
            Err(_) => false,
        }
    }

    /// Moves the client's input to the process; false at its EOF.
    fn forward_stdin(&mut self, io: &mut Io) -> bool {
        let Some(d) = &mut self.data else {
            return false;
        };
        let mut buf = [0u8; 32768];
        match d.read(&mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                if let Some(fd) = &io.stdin {
                    if nix::unistd::write(fd, &buf[..n]).is_err() {
                        io.stdin = None;
                    }
                }
                true
            }
        }
    }

    /// Applies resize lines; false when the daemon closed the socket.
    fn read_ctl(&mut self, buf: &mut Vec<u8>, master: Option<&OwnedFd>) -> bool {
        let mut b = [0u8; 256];
        let n = match self.ctl.read(&mut b) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        buf.extend_from_slice(&b[..n]);
        while let Some(pos) = buf.iter().position(|c| *c == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            if let (Some(m), Some((h, w))) =
                (master, pty::parse_resize(&String::from_utf8_lossy(&line)))
            {
                pty::set_winsize(m, h, w);
            }
        }
        if buf.len() > 1024 {
            buf.clear();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_round_trip() {
        let a = ExecShimArgs {
            id: "c1".into(),
            dir: "/d/e".into(),
            oci_root: "/run/x".into(),
            oci_bin: "/bin/rrun-oci".into(),
            tty: true,
            stdin: false,
            stdout: true,
            stderr: false,
            attached: true,
        };
        let argv = a.to_args();
        assert_eq!(argv[0], SUBCOMMAND);
        assert_eq!(ExecShimArgs::parse(&argv[1..]), Some(a));
        assert_eq!(ExecShimArgs::parse(&argv[2..]), None);
    }

    #[test]
    fn events_are_tagged_lines() {
        let e = Event::Exited { exit_code: 3 };
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(s, r#"{"event":"exited","exit_code":3}"#);
        assert_eq!(serde_json::from_str::<Event>(&s).unwrap(), e);
    }
}
