//! The shim once the container runs: copies its output into the log,
//! feeds its stdin, sizes its terminal and waits for its init, with no more
//! than that in memory.
//!
//! The shim (`rrund shim …`) creates and starts the container with the
//! executor's code in-process, which maps and touches much of rrund. It then
//! replaces itself ([`exec_monitor`]) with `rrun-shim`, a binary holding only
//! this module: the same process (its pid, session, subreaper role, children
//! and the fds it passes on), a fraction of the memory for the container's
//! whole life. When the init has exited and its output is logged, `rrun-shim`
//! writes `exit.json` and executes rrund again from the fd the shim kept
//! (`rrund shim … end`: the executor's delete and the rootfs unmount).
//! Without `rrun-shim` next to rrund, the shim pumps in-process as before.
//!
//! The argv of every stage starts `<exe> shim <id>`, which the daemon reads
//! to know a shim from a reused pid.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::logs::{self, LogLine};
use crate::{logfile, oom, resize, ExitRecord, EXIT_FILE};

/// The name of the monitor's binary, next to rrund's.
pub const BINARY: &str = "rrun-shim";
/// The environment variable that names [`BINARY`]'s path, for a shim
/// whose own /proc/self/exe does not lead to it (the daemon starts shims
/// from a detached bind of its binary); else it is found beside rrund.
pub const MONITOR_ENV: &str = "RRUN_SHIM_MONITOR";

/// What `rrun-shim` is handed, as one JSON argument: the fds it inherits
/// by number, and how to end.
#[derive(Debug, Serialize, Deserialize)]
pub struct MonitorArgs {
    pub dir: PathBuf,
    pub log: PathBuf,
    pub rotation: Option<logfile::Rotation>,
    pub init: i32,
    /// `(fd, "stdout" | "stderr", logged a read at a time)`.
    pub streams: Vec<(RawFd, String, bool)>,
    pub stdin_pipe: Option<RawFd>,
    pub stdin_listener: Option<RawFd>,
    pub stdin_once: bool,
    /// The resize socket and the pty master it sizes.
    pub ctl: Option<(RawFd, RawFd)>,
    /// An `O_PATH` fd of rrund, and the argv it is executed with to end.
    pub end_exe: RawFd,
    pub end_argv: Vec<String>,
    /// The init's OOM-kill counter (`oom::watch`), found by the shim
    /// while the init lived.
    #[serde(default)]
    pub oom_file: Option<PathBuf>,
    /// The container's mount namespace (see [`Pump::mnt_ns`]).
    #[serde(default)]
    pub mnt_ns: Option<RawFd>,
}

/// The pump's inputs while still in rrund.
pub struct Pump {
    pub streams: Vec<Stream>,
    pub stdin: Stdin,
    pub ctl: Option<(std::os::unix::net::UnixListener, OwnedFd)>,
    /// The container's mount namespace, held until its exit is reported.
    /// The init that drops the last reference to it tears it down inside
    /// its own exit, before it can be reaped: the kernel unmounts the
    /// container's mounts and waits for an RCU grace period there
    /// (`namespace_unlock`), 1-3 ms on this path. Held, that happens when
    /// the fd is closed, after the daemon has the exit.
    pub mnt_ns: Option<OwnedFd>,
}

/// Replaces the shim with `rrun-shim` (next to rrund's binary), handing it
/// the pump's fds; returns the pump and why when it could not, so the
/// caller pumps in-process. `id` and `end_argv` are the shim's own argv
/// (`<exe> shim <id> …`), to which the end adds `end`.
pub fn exec_monitor(
    id: &str,
    dir: &Path,
    log: &Path,
    init: (i32, Option<PathBuf>),
    pump: Pump,
    end_argv: Vec<String>,
) -> (Pump, anyhow::Error) {
    let err = match try_exec(id, dir, log, init, &pump, end_argv) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    (pump, err)
}

fn try_exec(
    id: &str,
    dir: &Path,
    log: &Path,
    (init, oom_file): (i32, Option<PathBuf>),
    pump: &Pump,
    end_argv: Vec<String>,
) -> Result<std::convert::Infallible> {
    let monitor = match std::env::var_os(MONITOR_ENV) {
        Some(p) => std::path::PathBuf::from(p),
        None => std::env::current_exe()
            .context("find rrund")?
            .with_file_name(BINARY),
    };
    let monitor_c = std::ffi::CString::new(monitor.as_os_str().as_encoded_bytes())?;
    if !monitor.exists() {
        anyhow::bail!("{} is missing", monitor.display());
    }
    // rrund itself, for the end: the file may be replaced (an upgrade)
    // while the container runs.
    let end_exe: OwnedFd = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open("/proc/self/exe")
        .context("open rrund for the end")?
        .into();
    let args = MonitorArgs {
        dir: dir.to_path_buf(),
        log: log.to_path_buf(),
        rotation: logfile::current(),
        init,
        streams: pump
            .streams
            .iter()
            .filter_map(|s| Some((s.fd.as_ref()?.as_raw_fd(), s.name.to_string(), s.chunks)))
            .collect(),
        stdin_pipe: pump.stdin.pipe.as_ref().map(|f| f.as_raw_fd()),
        stdin_listener: pump.stdin.listener.as_ref().map(|l| l.as_raw_fd()),
        stdin_once: pump.stdin.close_on_eof,
        ctl: pump
            .ctl
            .as_ref()
            .map(|(l, m)| (l.as_raw_fd(), m.as_raw_fd())),
        end_exe: end_exe.as_raw_fd(),
        end_argv,
        oom_file,
        mnt_ns: pump.mnt_ns.as_ref().map(|f| f.as_raw_fd()),
    };
    let mut inherit: Vec<RawFd> = args.streams.iter().map(|s| s.0).collect();
    inherit.extend(args.stdin_pipe.iter().chain(&args.stdin_listener));
    inherit.extend(args.ctl.iter().flat_map(|(l, m)| [*l, *m]));
    inherit.extend(args.mnt_ns);
    inherit.push(args.end_exe);
    for fd in &inherit {
        set_cloexec(*fd, false)?;
    }
    let json = serde_json::to_string(&args)?;
    let argv =
        [BINARY, crate::SUBCOMMAND, id, &json].map(|a| std::ffi::CString::new(a).expect("no NUL"));
    let err = nix::unistd::execv(&monitor_c, &argv).unwrap_err();
    for fd in &inherit {
        let _ = set_cloexec(*fd, true);
    }
    Err(anyhow::anyhow!("execute {}: {err}", monitor.display()))
}

fn set_cloexec(fd: RawFd, on: bool) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let flags = if on {
        FdFlag::FD_CLOEXEC
    } else {
        FdFlag::empty()
    };
    fcntl(fd, FcntlArg::F_SETFD(flags)).context("set close-on-exec")?;
    Ok(())
}

/// `rrun-shim shim <id> <MonitorArgs as JSON>`: pumps until the init has
/// exited, records its end, and executes rrund to clean up. Returns only
/// on failure (the exit code).
pub fn main() -> i32 {
    let argv: Vec<String> = std::env::args().collect();
    let parsed = match argv.as_slice() {
        [_, sub, _id, json] if sub == crate::SUBCOMMAND => {
            serde_json::from_str::<MonitorArgs>(json).ok()
        }
        _ => None,
    };
    let Some(args) = parsed else {
        eprintln!("rrun-shim: started by rrund's shim only");
        return 2;
    };
    match monitor(&args) {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("rrun-shim {}: {e:#}", argv[2]);
            1
        }
    }
}

fn monitor(args: &MonitorArgs) -> Result<std::convert::Infallible> {
    // SAFETY: the shim passed these fds to us, open, and nothing else here
    // owns them.
    let own = |fd: RawFd| -> Result<OwnedFd> {
        set_cloexec(fd, true)?;
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let end_exe = own(args.end_exe)?;
    if let Some(r) = &args.rotation {
        logfile::set(r.clone());
    }
    let mut streams = Vec::new();
    for (fd, name, chunks) in &args.streams {
        let name = if name == "stderr" { "stderr" } else { "stdout" };
        streams.push(Stream::new(own(*fd)?, name, *chunks));
    }
    let mut stdin = Stdin {
        close_on_eof: args.stdin_once,
        pipe: args.stdin_pipe.map(own).transpose()?,
        ..Default::default()
    };
    if let Some(fd) = args.stdin_listener {
        stdin.listener = Some(std::os::unix::net::UnixListener::from(own(fd)?));
    }
    let ctl = match args.ctl {
        Some((l, m)) => Some((std::os::unix::net::UnixListener::from(own(l)?), own(m)?)),
        None => None,
    };
    let oom_file = args.oom_file.clone().or_else(|| oom::watch(args.init));
    let daemon_reads = record_end(
        &args.dir,
        &args.log,
        (args.init, oom_file),
        Pump {
            streams,
            stdin,
            ctl,
            mnt_ns: args.mnt_ns.map(own).transpose()?,
        },
    )?;
    if daemon_reads {
        // The daemon that started this shim ends the container (the
        // executor's delete, the unmount) when it sees the shim gone,
        // without a process of rrund's for it.
        std::process::exit(0);
    }
    let argv: Vec<std::ffi::CString> = args
        .end_argv
        .iter()
        .map(|a| std::ffi::CString::new(a.as_str()))
        .collect::<Result<_, _>>()?;
    let env: Vec<std::ffi::CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend(v.into_encoded_bytes());
            std::ffi::CString::new(kv).ok()
        })
        .collect();
    let err = nix::unistd::execveat(
        Some(end_exe.as_raw_fd()),
        c"",
        &argv,
        &env,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .unwrap_err();
    Err(anyhow::anyhow!("execute rrund to clean up: {err}"))
}

/// Pumps until the container's init exits and its output is logged, then
/// writes `exit.json` (atomically: the daemon may read it at any time).
/// Returns whether a daemon was reading the start report's pipe then: the
/// one that started this shim, which ends the container itself once the
/// shim is gone.
/// `init` is the container's pid 1 and its OOM-kill counter
/// (`oom::watch`, read while it lived: an exited init's `/proc/<pid>/cgroup`
/// names the root).
pub fn record_end(
    dir: &Path,
    log: &Path,
    (init, oom_file): (i32, Option<PathBuf>),
    p: Pump,
) -> Result<bool> {
    let code = pump(log, init, p.streams, p.stdin, p.ctl)?;
    let mnt_ns = p.mnt_ns;
    let rec = ExitRecord {
        exit_code: code,
        finished_at: logs::now(),
        oom_killed: oom::killed(oom_file.as_deref()),
    };
    // Replaced atomically (a reader sees the whole record or none), and
    // synced only once the daemon is told: its wait for the exit does not
    // include the disk's (a millisecond or more). A host crash in between
    // leaves no record, which the daemon takes as an exit it cannot know.
    let file = dir.join(EXIT_FILE);
    crate::replace_unsynced(&file, &serde_json::to_vec(&rec)?)?;
    let daemon_reads = report_pipe_read();
    // The daemon reads the start report's pipe to its end: the end tells
    // it the exit is recorded, before the cleanup that follows.
    close_report_pipe();
    drop(mnt_ns);
    crate::sync_file_and_dir(&file)?;
    Ok(daemon_reads)
}

/// Whether stdout, the start report's pipe, still has its reader (the
/// daemon that started this shim): a pipe whose read end is closed polls
/// POLLERR.
fn report_pipe_read() -> bool {
    let mut p = libc::pollfd {
        fd: 1,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll on one pollfd we own, without waiting.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n >= 0 && p.revents & (libc::POLLERR | libc::POLLNVAL) == 0
}

/// Points stdout, the pipe the shim's start report went through, at
/// /dev/null: the daemon sees its end.
pub fn close_report_pipe() {
    if let Ok(null) = std::fs::File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
}

/// One output stream of the container: its pipe and the partial line read.
pub struct Stream {
    fd: Option<OwnedFd>,
    name: &'static str,
    partial: Vec<u8>,
    /// A terminal: each read is logged as it comes (a prompt has no
    /// newline, and attach follows the log).
    chunks: bool,
}

impl Stream {
    pub fn new(fd: OwnedFd, name: &'static str, chunks: bool) -> Stream {
        Stream {
            fd: Some(fd),
            name,
            partial: Vec::new(),
            chunks,
        }
    }

    /// Reads what is there; false at EOF.
    fn read(&mut self, log: &mut std::fs::File) -> bool {
        let Some(fd) = &self.fd else { return false };
        let mut buf = [0u8; 16384];
        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) => {
                self.flush(log);
                self.fd = None;
                false
            }
            Ok(n) if self.chunks => {
                self.partial.extend_from_slice(&buf[..n]);
                // A character cut by the read waits for its other bytes.
                let keep = incomplete_utf8_tail(&self.partial);
                let whole = self.partial.len() - keep;
                if whole > 0 {
                    let chunk: Vec<u8> = self.partial.drain(..whole).collect();
                    write_line(log, self.name, &chunk);
                }
                true
            }
            Ok(n) => {
                self.partial.extend_from_slice(&buf[..n]);
                while let Some(pos) = self.partial.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.partial.drain(..=pos).collect();
                    write_line(log, self.name, &line);
                }
                // Docker cuts lines at 16 KiB.
                if self.partial.len() >= 16384 {
                    self.flush(log);
                }
                true
            }
            Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => true,
            Err(_) => {
                self.flush(log);
                self.fd = None;
                false
            }
        }
    }

    fn flush(&mut self, log: &mut std::fs::File) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            write_line(log, self.name, &line);
        }
    }
}

/// The container's stdin: the pipe's write end, the socket clients attach
/// to, and the attached clients. Every attached client's input goes in, as
/// Docker merges its attached clients' stdin: a new attach is never turned
/// away because an earlier one has not been seen to close yet (a detach
/// followed at once by a new attach left the new one's input unread).
#[derive(Default)]
pub struct Stdin {
    /// A client's EOF closes the pipe (StdinOnce, never for a pty master:
    /// a terminal is closed by what is typed at it).
    pub close_on_eof: bool,
    pub pipe: Option<OwnedFd>,
    pub listener: Option<std::os::unix::net::UnixListener>,
    pub clients: Vec<std::os::unix::net::UnixStream>,
}

impl Stdin {
    fn accept(&mut self) {
        if let Some(l) = &self.listener {
            if let Ok((c, _)) = l.accept() {
                let _ = c.set_nonblocking(true);
                if self.pipe.is_some() {
                    self.clients.push(c);
                }
            }
        }
    }

    /// Moves what the clients at `ready` (indexes into `clients`) sent
    /// into the container; a client's EOF closes stdin (StdinOnce).
    fn forward(&mut self, ready: &[usize]) {
        use std::io::Read;
        let mut gone = Vec::new();
        for &i in ready {
            let Some(c) = self.clients.get_mut(i) else {
                continue;
            };
            let mut buf = [0u8; 32768];
            match c.read(&mut buf) {
                Ok(0) => {
                    gone.push(i);
                    if self.close_on_eof {
                        self.pipe = None;
                    }
                }
                Ok(n) => {
                    let ok = self.pipe.as_ref().is_some_and(|p| {
                        let mut f = std::fs::File::from(p.try_clone().expect("dup stdin pipe"));
                        f.write_all(&buf[..n]).is_ok()
                    });
                    if !ok {
                        // The container closed its stdin.
                        self.pipe = None;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    gone.push(i);
                    if self.close_on_eof {
                        self.pipe = None;
                    }
                }
            }
        }
        if self.pipe.is_none() {
            self.clients.clear();
            return;
        }
        gone.sort_unstable();
        for i in gone.into_iter().rev() {
            self.clients.remove(i);
        }
    }
}

/// How many bytes at the end of `b` are the start of a UTF-8 character
/// whose other bytes have not come yet (0 to 3).
pub fn incomplete_utf8_tail(b: &[u8]) -> usize {
    match std::str::from_utf8(b) {
        Err(e) if e.error_len().is_none() => b.len() - e.valid_up_to(),
        _ => 0,
    }
}

fn write_line(log: &mut std::fs::File, stream: &str, bytes: &[u8]) {
    let l = LogLine {
        log: String::from_utf8_lossy(bytes).into_owned(),
        stream: stream.into(),
        time: logs::now(),
    };
    if let Ok(mut s) = serde_json::to_vec(&l) {
        s.push(b'\n');
        logfile::before_write(log, s.len());
        logfile::append_line(log, &s);
    }
}

/// Copies the container's output into the log until its init exits and
/// its pipes close; returns Docker's exit code (128+signal if killed).
pub fn pump(
    log_file: &Path,
    init: i32,
    mut streams: Vec<Stream>,
    mut stdin: Stdin,
    ctl: Option<(std::os::unix::net::UnixListener, OwnedFd)>,
) -> Result<i32> {
    let mut log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log_file)
        .context("open the container log")?;
    let mut code: Option<i32> = None;
    let mut exited_at: Option<Instant> = None;
    // Readable once the init has exited: its end wakes the poll at once,
    // even when its pipes reach EOF before it can be reaped.
    let exit = crate::pidfd_open(init);
    loop {
        let open: Vec<usize> = (0..streams.len())
            .filter(|i| streams[*i].fd.is_some())
            .collect();
        if open.is_empty() && code.is_some() {
            break;
        }
        // Every process of the container dies with its init (its own pid
        // namespace), closing the pipes; give stragglers a moment anyway.
        if let Some(t) = exited_at {
            if t.elapsed() > Duration::from_secs(2) {
                for s in &mut streams {
                    s.flush(&mut log);
                }
                break;
            }
        }
        let waiting = exit.as_ref().filter(|_| code.is_none());
        let (ready, accept, clients, resize) =
            poll_streams(&streams, &open, &stdin, ctl.as_ref(), waiting);
        if let (true, Some((l, master))) = (resize, &ctl) {
            resize::serve_resize(l, master);
        }
        for i in ready {
            streams[i].read(&mut log);
        }
        // The clients first: an earlier client's EOF is seen before a new
        // client is counted.
        stdin.forward(&clients);
        if accept {
            stdin.accept();
        }
        // Reap every child (we are a subreaper); note the init's status.
        if let Some(c) = reap(init) {
            code = Some(c);
            exited_at = Some(Instant::now());
        }
        if code.is_none() && !crate::pid_alive(init) {
            // Not our child after all (should not happen): it is gone.
            code = Some(255);
            exited_at = Some(Instant::now());
        }
    }
    Ok(code.unwrap_or(255))
}

/// Waits up to 100 ms for the open output streams, the init's exit, the
/// attach listener and clients, and the resize socket; returns the ready
/// streams and clients (by index), and whether the listener and the resize
/// socket are ready.
fn poll_streams(
    streams: &[Stream],
    open: &[usize],
    stdin: &Stdin,
    ctl: Option<&(std::os::unix::net::UnixListener, OwnedFd)>,
    exit: Option<&OwnedFd>,
) -> (Vec<usize>, bool, Vec<usize>, bool) {
    let mut set = PollSet::default();
    let stream_at: Vec<usize> = open
        .iter()
        .map(|i| set.add(streams[*i].fd.as_ref().expect("open").as_fd()))
        .collect();
    let listen_at = stdin.listener.as_ref().map(|l| set.add(l.as_fd()));
    let client_at: Vec<usize> = stdin.clients.iter().map(|c| set.add(c.as_fd())).collect();
    let ctl_at = ctl.map(|(l, _)| set.add(l.as_fd()));
    if let Some(fd) = exit {
        set.add(fd.as_fd());
    }
    // The init's pidfd wakes the poll when it exits: until then nothing
    // else is waited for but the fds polled. Without one (before Linux
    // 5.3), and after the exit for the stragglers' 2 s, 100 ms bound how
    // late it is noticed.
    set.wait(if exit.is_some() { None } else { Some(100) });
    (
        set.ready_of(open, &stream_at),
        listen_at.is_some_and(|i| set.ready(i)),
        set.ready_of(&(0..client_at.len()).collect::<Vec<_>>(), &client_at),
        ctl_at.is_some_and(|i| set.ready(i)),
    )
}

/// fds polled for input, each known by the index [`PollSet::add`] gave it.
#[derive(Default)]
pub struct PollSet<'a> {
    fds: Vec<nix::poll::PollFd<'a>>,
}

impl<'a> PollSet<'a> {
    pub fn add(&mut self, fd: std::os::fd::BorrowedFd<'a>) -> usize {
        self.fds
            .push(nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN));
        self.fds.len() - 1
    }

    /// Waits until one is ready (readable, hung up or in error) or `ms`
    /// have passed (`None`: as long as it takes).
    pub fn wait(&mut self, ms: Option<u16>) {
        let timeout = ms.map_or(nix::poll::PollTimeout::NONE, nix::poll::PollTimeout::from);
        let _ = nix::poll::poll(&mut self.fds, timeout);
    }

    pub fn ready(&self, i: usize) -> bool {
        self.fds[i].revents().is_some_and(|r| !r.is_empty())
    }

    /// The `items` whose fd (at the same place in `at`) is ready.
    pub fn ready_of(&self, items: &[usize], at: &[usize]) -> Vec<usize> {
        items
            .iter()
            .zip(at)
            .filter(|(_, i)| self.ready(**i))
            .map(|(item, _)| *item)
            .collect()
    }
}

/// Reaps every exited child without blocking (the shim is a subreaper);
/// `pid`'s Docker exit code (128+signal when killed) if it was among them.
pub fn reap(pid: i32) -> Option<i32> {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let mut code = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, c)) if p.as_raw() == pid => code = Some(c),
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => {
                code = Some(128 + sig as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return code,
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_character_is_held_back() {
        let e = "é".as_bytes();
        assert_eq!(incomplete_utf8_tail(b"abc"), 0);
        assert_eq!(incomplete_utf8_tail(&[b'a', e[0]]), 1);
        assert_eq!(incomplete_utf8_tail(&[b'a', e[0], e[1]]), 0);
        // Invalid bytes are not held (they would never complete).
        assert_eq!(incomplete_utf8_tail(&[0xff, b'a']), 0);
    }
}
