//! The per-container shim: one small single-threaded process that starts
//! the container with the executor's code in-process (what `rrun-oci
//! create`, `start` and `delete` do, without a process each), holds its
//! stdout and stderr, writes the `json-file` log, records the exit status,
//! and outlives the daemon.
//!
//! Protocol with the daemon (who holds which end):
//! - The daemon runs `rrund shim --id … --dir … --oci-root … --oci-bin …`
//!   with stdout a pipe, stderr `<dir>/shim.log`, before any container
//!   process exists. The shim's first act is `setsid`, so a signal to the
//!   daemon's process group does not reach it.
//! - The shim writes exactly one JSON line to that pipe, [`StartReport`],
//!   once the container's program runs (or failed to). After a failure it
//!   points its stdout at /dev/null at once: the daemon reads one line then
//!   EOF.
//! - When the container's init exits, the shim writes `<dir>/exit.json`
//!   ([`ExitRecord`]) atomically and points its stdout at /dev/null (the
//!   pipe's end tells the daemon that started it the exit is recorded),
//!   then deletes the container from the executor, unmounts
//!   `<dir>/rootfs`, and exits. The daemon (this one or a later one)
//!   learns of that through a pidfd on the shim and reads the file.
//!
//! - With `Config.Tty` the container's init gets a pty: create with
//!   `--console-socket <dir>/console.sock` hands the master to the shim
//!   ([`pty`]), whose output is logged as stdout, a chunk per read (as a
//!   prompt has no newline); `attach.sock` feeds it (a client's EOF leaves
//!   it open) and `ctl.sock` sizes it.
//! - `docker exec` processes run under a helper of their own ([`exec`]).
//!
//! It must run before any async runtime or thread exists: it forks.

pub use rrun_shim::{logfile, monitor, oom, ExitRecord, EXIT_FILE, SUBCOMMAND};

use monitor::{Stdin, Stream};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod exec;
pub mod pty;
pub mod spare;

/// The shim's last argument when `rrun-shim` executes it to clean up.
pub const END: &str = "end";

/// What the shim tells the daemon once the container runs or failed to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartReport {
    pub ok: bool,
    #[serde(default)]
    pub pid: i32,
    #[serde(default)]
    pub error: String,
}

pub const INIT_PID_FILE: &str = "init.pid";
pub const SHIM_PID_FILE: &str = "shim.pid";
pub const OCI_LOG_FILE: &str = "oci.log";
/// Unix socket on which the shim takes the container's stdin.
pub const ATTACH_SOCKET: &str = "attach.sock";
/// Unix socket on which the shim of a container with a terminal takes
/// resize requests (one line, `<rows> <cols>`, per connection).
pub const CTL_SOCKET: &str = "ctl.sock";

/// The log file of a container (Docker's name).
pub fn log_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}-json.log"))
}

#[derive(Debug, Clone)]
pub struct ShimArgs {
    pub id: String,
    pub dir: PathBuf,
    pub oci_root: PathBuf,
    pub oci_bin: PathBuf,
    /// `rrun-oci --systemd-cgroup` (daemon.json's native.cgroupdriver).
    pub systemd_cgroup: bool,
}

impl ShimArgs {
    /// The arguments after the subcommand, as the daemon passes them.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            SUBCOMMAND.into(),
            self.id.clone(),
            self.dir.display().to_string(),
            self.oci_root.display().to_string(),
            self.oci_bin.display().to_string(),
            if self.systemd_cgroup {
                "systemd"
            } else {
                "cgroupfs"
            }
            .into(),
        ]
    }

    pub fn parse(args: &[String]) -> Option<ShimArgs> {
        match args {
            [id, dir, root, bin, driver] => Some(ShimArgs {
                id: id.clone(),
                dir: dir.into(),
                oci_root: root.into(),
                oci_bin: bin.into(),
                systemd_cgroup: driver == "systemd",
            }),
            _ => None,
        }
    }
}

/// Runs the shim; returns the process exit code.
pub fn main(args: ShimArgs) -> i32 {
    let _ = nix::unistd::setsid();
    crate::linux::launch::fork_init_if_read_only();
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let _ = std::fs::write(args.dir.join(SHIM_PID_FILE), std::process::id().to_string());
    match run(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("shim {}: {e:#}", args.id);
            1
        }
    }
}

/// Runs one `rrun-oci` command in this process, as `rrun-oci --root …
/// --log <dir>/oci.log --log-format json [--systemd-cgroup] <command>`
/// would, without a process of its own (the executor is the same code;
/// the container's init is forked from here and executed from this binary,
/// sealed: see `linux::exe`). The command is given as the value its
/// arguments parse to, not parsed (clap builds the whole command tree each
/// time: 0.3 ms). `stdio` are the fds the command runs with as 0, 1 and 2
/// (the container's init inherits them from create); None is /dev/null
/// for all three. True if it succeeded; its error is in oci.log, where
/// rrun-oci writes it.
fn oci(args: &ShimArgs, command: crate::oci::Command, stdio: Option<Stdio3>) -> bool {
    let cli = crate::oci::Cli {
        root: args.oci_root.clone(),
        log: Some(args.dir.join(OCI_LOG_FILE)),
        log_format: crate::oci::LogFormat::Json,
        debug: false,
        systemd_cgroup: args.systemd_cgroup,
        rootless: None,
        command,
    };
    let null;
    let stdio = match stdio {
        Some(stdio) => stdio,
        None => {
            null = match null_device() {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("shim {}: {e:#}", args.id);
                    return false;
                }
            };
            [null.as_fd(); 3]
        }
    };
    match with_stdio(stdio, || crate::oci::run(cli)) {
        Ok(code) => code == 0,
        Err(e) => {
            eprintln!("shim {}: {e:#}", args.id);
            false
        }
    }
}

/// The fds a command runs with as 0, 1 and 2.
type Stdio3<'a> = [std::os::fd::BorrowedFd<'a>; 3];

/// Runs `f` with `stdio` as fds 0, 1 and 2, then puts the shim's own back
/// (also when setting them failed half-way: fd 1 is the daemon's pipe).
fn with_stdio<T>(stdio: Stdio3, f: impl FnOnce() -> T) -> Result<T> {
    use nix::fcntl::{fcntl, FcntlArg};
    let mut saved = Vec::with_capacity(3);
    for fd in 0..3 {
        // Above 2 and close-on-exec: nothing the command forks keeps them.
        let copy = fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(3)).context("keep the shim's stdio")?;
        // SAFETY: F_DUPFD_CLOEXEC returned a new fd that we now own.
        saved.push(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(copy) });
    }
    let set = stdio
        .iter()
        .enumerate()
        .try_for_each(|(fd, from)| nix::unistd::dup2(from.as_raw_fd(), fd as i32).map(drop));
    let out = set.map(|()| f()).context("set the command's stdio");
    for (fd, from) in saved.iter().enumerate() {
        nix::unistd::dup2(from.as_raw_fd(), fd as i32).context("restore the shim's stdio")?;
    }
    out
}

/// /dev/null, for stdio nobody reads or writes.
fn null_device() -> Result<OwnedFd> {
    Ok(std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("open /dev/null")?
        .into())
}

/// The last error `rrun-oci` logged (its JSON log has runc's format).
pub(crate) fn last_oci_error(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join(OCI_LOG_FILE)).unwrap_or_default();
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["level"] == "error")
        .and_then(|v| v["msg"].as_str().map(String::from))
        .unwrap_or_else(|| "the OCI runtime failed; see oci.log".into())
}

fn report(r: &StartReport) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default());
    let _ = out.flush();
    drop(out);
    // After a failure the daemon reads one line and then EOF; after a
    // start, the pipe stays open until the exit is recorded (see
    // `monitor::record_end`).
    if !r.ok {
        monitor::close_report_pipe();
    }
}

/// A unix socket path may be longer than sun_path (108 bytes): reach it
/// through `/proc/self/fd/<dir fd>/<name>` instead.
pub fn short_path(path: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let f = std::fs::File::open(dir)?;
    let name = path.file_name().unwrap_or_default();
    let p = PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd())).join(name);
    Ok((f, p))
}

fn bind_long(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    let (_dir, p) = short_path(path)?;
    std::os::unix::net::UnixListener::bind(p)
}

fn run(args: &ShimArgs) -> Result<()> {
    let cfg = crate::state::ShimConfig::load(&args.dir);
    logfile::configure(&cfg.log_opts, &log_path(&args.dir, &args.id));
    let open_stdin = cfg.open_stdin;
    if cfg.tty {
        return run_tty(args, open_stdin);
    }
    let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    // With OpenStdin the container reads a pipe whose write end we hold;
    // one client at a time sends it data through <dir>/attach.sock, and its
    // EOF closes the container's stdin with StdinOnce.
    let mut stdin = Stdin {
        close_on_eof: cfg.stdin_once,
        ..Default::default()
    };
    let container_stdin = if open_stdin {
        let (in_r, in_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
        stdin.listener = Some(listen(&args.dir, ATTACH_SOCKET)?);
        stdin.pipe = Some(in_w);
        in_r
    } else {
        null_device()?
    };
    let pid_file = args.dir.join(INIT_PID_FILE);
    // The container's init inherits create's stdio: our pipes.
    let stdio = [container_stdin.as_fd(), out_w.as_fd(), err_w.as_fd()];
    let created = create(args, &pid_file, None, Some(stdio));
    // Only the container holds the write ends now: EOF when it is gone.
    drop((container_stdin, out_w, err_w));
    if !created {
        report_failure(last_oci_error(&args.dir));
        // A create that failed half-way may have saved its state and
        // made the init: the executor ends what it knows of.
        cleanup(args);
        return Ok(());
    }
    let pid = read_init_pid(&pid_file)?;
    let mut mnt_ns = mount_namespace(pid);
    if !start_created(args, pid, &mut mnt_ns)? {
        return Ok(());
    }
    let streams = vec![
        Stream::new(out_r, "stdout", false),
        Stream::new(err_r, "stderr", false),
    ];
    finish(args, (pid, mnt_ns), streams, stdin, None)
}

/// `create --bundle <dir> --pid-file … [--console-socket …] <id>`.
fn create(args: &ShimArgs, pid_file: &Path, console: Option<&Path>, stdio: Option<Stdio3>) -> bool {
    let command = crate::oci::Command::Create(crate::oci::CreateArgs {
        bundle: args.dir.clone(),
        pid_file: Some(pid_file.to_path_buf()),
        console_socket: console.map(Path::to_path_buf),
        no_pivot: false,
        no_new_keyring: false,
        preserve_fds: 0,
        id: args.id.clone(),
    });
    oci(args, command, stdio)
}

/// Tells the daemon the container did not start.
fn report_failure(error: String) {
    report(&StartReport {
        ok: false,
        pid: 0,
        error,
    });
}

fn read_init_pid(pid_file: &Path) -> Result<i32> {
    std::fs::read_to_string(pid_file)
        .context("read init pid")?
        .trim()
        .parse()
        .context("parse init pid")
}

/// `start` of the created container, and the report to the
/// daemon either way; on failure the container is cleaned up. True if it
/// started.
fn start_created(args: &ShimArgs, pid: i32, mnt_ns: &mut Option<OwnedFd>) -> Result<bool> {
    let start = crate::oci::Command::Start {
        id: args.id.clone(),
    };
    let started = oci(args, start, None);
    if !started {
        report_failure(last_oci_error(&args.dir));
        // The namespace goes with the container, not after its cleanup.
        drop(mnt_ns.take());
        cleanup(args);
        return Ok(false);
    }
    report(&StartReport {
        ok: true,
        pid,
        error: String::new(),
    });
    Ok(true)
}

/// A non-blocking listener on `<dir>/<name>` (replacing a stale one).
fn listen(dir: &Path, name: &str) -> Result<std::os::unix::net::UnixListener> {
    let sock = dir.join(name);
    let _ = std::fs::remove_file(&sock);
    let l = bind_long(&sock).with_context(|| format!("bind {}", sock.display()))?;
    l.set_nonblocking(true)
        .with_context(|| format!("nonblocking {}", sock.display()))?;
    Ok(l)
}

/// A container with a terminal: create hands the pty master
/// over the console socket before the program starts; the shim logs what
/// the master gives as stdout (as Docker does), takes stdin for it through
/// attach.sock (a client's EOF does not close a terminal), and sizes it on
/// request through ctl.sock.
fn run_tty(args: &ShimArgs, open_stdin: bool) -> Result<()> {
    let console = pty::Console::bind(&args.dir, "console.sock")?;
    let mut stdin = Stdin::default();
    if open_stdin {
        stdin.listener = Some(listen(&args.dir, ATTACH_SOCKET)?);
    }
    let ctl = listen(&args.dir, CTL_SOCKET)?;
    let pid_file = args.dir.join(INIT_PID_FILE);
    let created = create(args, &pid_file, Some(&console.path), None);
    if !created {
        report_failure(last_oci_error(&args.dir));
        cleanup(args);
        return Ok(());
    }
    let master = match console.receive(Duration::from_secs(10)) {
        Ok(m) => m,
        Err(e) => {
            report_failure(format!("{e:#}"));
            cleanup(args);
            return Ok(());
        }
    };
    drop(console);
    let _ = std::fs::remove_file(args.dir.join("console.sock"));
    let pid = read_init_pid(&pid_file)?;
    if open_stdin {
        stdin.pipe = Some(master.try_clone().context("dup the pty master")?);
    }
    let mut mnt_ns = mount_namespace(pid);
    if !start_created(args, pid, &mut mnt_ns)? {
        return Ok(());
    }
    let resize = master.try_clone().context("dup the pty master")?;
    let streams = vec![Stream::new(master, "stdout", true)];
    finish(args, (pid, mnt_ns), streams, stdin, Some((ctl, resize)))
}

/// Hands the running container to `rrun-shim` (see [`monitor`]), or
/// pumps in-process when that cannot be; then records its end and cleans up.
fn finish(
    args: &ShimArgs,
    (pid, mnt_ns): (i32, Option<OwnedFd>),
    streams: Vec<Stream>,
    stdin: Stdin,
    ctl: Option<(std::os::unix::net::UnixListener, OwnedFd)>,
) -> Result<()> {
    let log = log_path(&args.dir, &args.id);
    let pump = monitor::Pump {
        streams,
        stdin,
        ctl,
        mnt_ns,
    };
    let mut end_argv = vec![std::env::args().next().unwrap_or_else(|| "rrund".into())];
    end_argv.extend(args.to_args());
    end_argv.push(END.into());
    // A container that ends at once (a `true`) is recorded here: the
    // monitor's execve and start, a millisecond or two of CPU, would come
    // before its exit is known. Any other waits that long for its monitor
    // (its output meanwhile in the pipes, 64 KiB each).
    let oom_file = rrun_shim::oom::watch(pid);
    let pump = match exits_within(pid, QUICK_EXIT) {
        true => pump,
        false => {
            let init = (pid, oom_file.clone());
            let (pump, why) =
                monitor::exec_monitor(&args.id, &args.dir, &log, init, pump, end_argv);
            eprintln!("shim {}: pumping in rrund: {why:#}", args.id);
            pump
        }
    };
    // As the monitor: the daemon that reads the report ends the container.
    if !monitor::record_end(&args.dir, &log, (pid, oom_file), pump)? {
        cleanup(args);
    }
    Ok(())
}

/// The created container's mount namespace, opened before its program
/// runs (see `monitor::Pump::mnt_ns`); `None` if it cannot be (the exit
/// then only takes longer).
fn mount_namespace(pid: i32) -> Option<OwnedFd> {
    std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(OwnedFd::from)
}

/// How long a shim waits for its container's exit before it becomes the
/// monitor.
const QUICK_EXIT: Duration = Duration::from_millis(5);

/// Whether the child `pid` exits within `wait` (it is left to be reaped).
fn exits_within(pid: i32, wait: Duration) -> bool {
    if let Some(fd) = rrun_shim::pidfd_open(pid) {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one pollfd we own; a pidfd is readable once its
        // process has exited.
        let n = unsafe { libc::poll(&mut p, 1, wait.as_millis() as libc::c_int) };
        return n == 1;
    }
    // Without pidfds (before Linux 5.3): looked at every millisecond.
    let deadline = std::time::Instant::now() + wait;
    loop {
        // SAFETY: a zeroed siginfo_t is valid; waitid fills it in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid writes only `info`; WNOWAIT leaves the child as it is.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: si_pid is set by waitid (0 when nothing has exited).
        if rc == 0 && unsafe { info.si_pid() } == pid {
            return true;
        }
        if rc != 0 || std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The last stage, executed by `rrun-shim` once `exit.json` is written:
/// the executor's delete and the rootfs unmount.
pub fn end(args: ShimArgs) -> i32 {
    cleanup(&args);
    0
}

fn cleanup(args: &ShimArgs) {
    let delete = crate::oci::Command::Delete {
        force: true,
        id: args.id.clone(),
    };
    oci(args, delete, None);
    let _ = nix::mount::umount2(&args.dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
}
