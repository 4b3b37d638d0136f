//! The runtime's side of starting a container's init (or an exec'd
//! process): spawn it from the sealed binary, put it in its cgroup, answer
//! its requests, and clean up if anything fails on the way.

use super::channel::{Channel, FromInit, ToInit};
use super::init::{InitConfig, SYNC_FD};
use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::LinuxIdMapping;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};

/// What the runtime's side must do while the init builds the container.
pub trait Driver {
    /// Puts the init (its first stage, `pid`) in the container's cgroup,
    /// before it creates any namespace.
    fn place(&mut self, pid: Pid) -> Result<()>;
    /// Before the fork: the `tasks` files the init writes `0` to right
    /// after it, moving itself into the container's cgroup without the
    /// kernel's global lock (see `cgroup_self_move`); `place` then only
    /// applies the resources. `None`: `place` moves it by pid.
    fn self_move(&mut self) -> Option<Vec<CString>> {
        None
    }
    /// Runs the prestart and createRuntime hooks for the container whose
    /// init is `pid`, and returns the state the container-side hooks get.
    fn runtime_hooks(&mut self, pid: Pid) -> Result<String>;
}

/// The first stage's exit status when it could not move itself into its
/// cgroup.
const SELF_MOVE_FAILED: i32 = 124;

/// A started init.
pub struct Launched {
    pub pid: Pid,
    pub pty_master: Option<OwnedFd>,
}

/// Starts the init and drives it until it reports ready.
pub fn launch(
    cfg: InitConfig,
    maps: Option<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)>,
    driver: &mut dyn Driver,
) -> Result<Launched> {
    // The caller's fds 3 .. 3 + N go to the container; the sync socket
    // comes right after them.
    let sync_fd = SYNC_FD + cfg.preserve_fds as i32;
    let exe = init_exe(sync_fd)?;
    let (mut parent, child) = Channel::pair()?;
    // Prepared before fork: after it, the child only calls dup2 and execve.
    let argv = [
        CString::new("rrun-oci")?,
        CString::new("init")?,
        CString::new(sync_fd.to_string())?,
    ];
    let envp: Vec<CString> = std::env::vars()
        .filter(|(k, _)| k == "RUST_LOG" || k == "RUST_BACKTRACE")
        .map(|(k, v)| CString::new(format!("{k}={v}")))
        .collect::<Result<_, _>>()?;

    let moves = driver.self_move().unwrap_or_default();
    // Forked, and in its cgroup already (it moves itself), the init has
    // its config from the fork and goes on at once; its resources are
    // applied while it builds the root (see `drive`).
    let config_from_fork = exe.is_none() && !moves.is_empty();
    let parent_fd = parent.as_raw_fd();
    // SAFETY: the child only makes async-signal-safe calls before execve,
    // or runs the init in a copy of a single-threaded process.
    let stage1 = match unsafe { fork() }.context("fork the init")? {
        ForkResult::Child => {
            let fd = child.as_raw_fd();
            // SAFETY: raw syscalls on fds we own; _exit on failure.
            unsafe {
                for tasks in &moves {
                    let t = libc::open(tasks.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if t < 0 || libc::write(t, c"0".as_ptr().cast(), 1) != 1 {
                        libc::_exit(SELF_MOVE_FAILED);
                    }
                    libc::close(t);
                }
                if exe.is_none() {
                    // Forked, the init holds the runtime's fds until its
                    // user program runs; not this end of the socket, or
                    // neither side would see the other's end.
                    libc::close(parent_fd);
                }
                if fd == sync_fd {
                    libc::fcntl(fd, libc::F_SETFD, 0);
                } else if libc::dup2(fd, sync_fd) < 0 {
                    libc::_exit(126);
                }
                for keep in SYNC_FD..sync_fd {
                    libc::fcntl(keep, libc::F_SETFD, 0);
                }
                let Some(exe) = &exe else {
                    super::init::forked(sync_fd, config_from_fork.then(|| Box::new(cfg)));
                };
                let argv_p: Vec<*const libc::c_char> = argv
                    .iter()
                    .map(|a| a.as_ptr())
                    .chain(std::iter::once(std::ptr::null()))
                    .collect();
                let envp_p: Vec<*const libc::c_char> = envp
                    .iter()
                    .map(|a| a.as_ptr())
                    .chain(std::iter::once(std::ptr::null()))
                    .collect();
                libc::fexecve(exe.as_raw_fd(), argv_p.as_ptr(), envp_p.as_ptr());
                libc::_exit(127);
            }
        }
        ForkResult::Parent { child } => child,
    };
    drop(child);
    let cfg = (!config_from_fork).then_some(cfg);
    drop(exe);

    let mut pid: Option<Pid> = None;
    let result = drive(&mut parent, cfg, maps, driver, stage1, &mut pid);
    match result {
        Ok(pty_master) => Ok(Launched {
            pid: pid.expect("Ready comes after Pid"),
            pty_master,
        }),
        Err(e) => {
            // Undo: nothing of a half-made container may stay running.
            if let Some(p) = pid {
                let _ = kill(p, Signal::SIGKILL);
                let _ = waitpid(p, None);
            }
            let _ = kill(stage1, Signal::SIGKILL);
            let _ = waitpid(stage1, None);
            Err(e)
        }
    }
}

/// Set by a shim (see [`fork_init_if_read_only`]).
static FORK_INIT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Lets this process fork its inits without executing them when it runs
/// from a read-only binary (see `init_exe`): the daemon's shims, which it
/// starts from a read-only bind of itself. `rrun-oci` does not: installed
/// on a read-only `/usr`, it still executes a sealed copy, as it is tested.
pub fn fork_init_if_read_only() {
    FORK_INIT.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// What the init is executed from: `None` when it is forked and not
/// executed. A shim that runs from a read-only binary (the daemon
/// started it from one) and alone forks the init and runs it without an
/// execve: the init's /proc/self/exe cannot be written (CVE-2019-5736),
/// and an execve, with the C library's start, is a millisecond or more.
/// Otherwise the init is executed from a sealed copy of this binary, at an
/// fd number clear of the ones the child sets up (up to `sync_fd`).
fn init_exe(sync_fd: i32) -> Result<Option<OwnedFd>> {
    if FORK_INIT.load(std::sync::atomic::Ordering::Relaxed)
        && super::exe::runs_read_only()
        && single_threaded()
    {
        return Ok(None);
    }
    let exe = super::exe::sealed_self().context("seal the runtime binary for the init")?;
    let exe = nix::fcntl::fcntl(
        exe.as_raw_fd(),
        nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(sync_fd + 1),
    )
    // SAFETY: F_DUPFD_CLOEXEC returned a new fd that we now own.
    .map(|fd| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })?;
    Ok(Some(exe))
}

/// Whether this process has one thread (it may then fork and go on).
fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|d| d.count() == 1)
}

/// Drives the init until it is ready. With `cfg`, the init is placed in
/// its cgroup, then sent its config, before it does anything. Without
/// (forked with it, in its cgroup already), it is placed once its second
/// stage, the container's pid 1, is known and released (`place` reads the
/// cgroup of the pid it is given, which an exited first stage shows as the
/// root): the resources are set while it builds the container's root, and
/// before it reports ready, long before the user's program runs.
fn drive(
    ch: &mut Channel,
    cfg: Option<InitConfig>,
    maps: Option<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)>,
    driver: &mut dyn Driver,
    stage1: Pid,
    pid: &mut Option<Pid>,
) -> Result<Option<OwnedFd>> {
    let place_late = cfg.is_none();
    if let Some(cfg) = cfg {
        driver.place(stage1)?;
        ch.send(&ToInit::Config(Box::new(cfg)))?;
    }
    let mut pty = None;
    loop {
        let (msg, fd) = match ch.recv_with_fd::<FromInit>() {
            Ok(m) => m,
            Err(super::channel::ChannelError::Closed) => {
                bail!(
                    "the container's init exited before it was ready{}",
                    exit_note(stage1, *pid)
                )
            }
            Err(e) => return Err(e.into()),
        };
        match msg {
            FromInit::NeedIdMaps => {
                let (u, g) = maps
                    .as_ref()
                    .ok_or_else(|| anyhow!("init asked for id maps, none configured"))?;
                write_id_maps(stage1, u, g)?;
                ch.send(&ToInit::IdMapsWritten)?;
            }
            FromInit::Pid(p) => {
                *pid = Some(Pid::from_raw(p));
                // Stage 1 is done; reap it so no zombie is left.
                match waitpid(stage1, None) {
                    Ok(WaitStatus::Exited(_, 0)) => {}
                    other => bail!("the init's first stage failed: {other:?}"),
                }
                ch.send(&ToInit::Continue)?;
                if place_late {
                    driver.place(Pid::from_raw(p))?;
                }
            }
            FromInit::RuntimeHooks => {
                let p =
                    pid.ok_or_else(|| anyhow!("init asked for hooks before its pid was known"))?;
                let state = driver.runtime_hooks(p)?;
                ch.send(&ToInit::HooksDone { state })?;
            }
            FromInit::PtyMaster => {
                pty = Some(fd.ok_or_else(|| anyhow!("init sent no pty master"))?);
            }
            FromInit::Ready => {
                if pid.is_none() {
                    bail!("init reported ready before its pid");
                }
                return Ok(pty);
            }
            FromInit::Error(msg) => bail!("{msg}"),
        }
    }
}

fn exit_note(stage1: Pid, pid: Option<Pid>) -> String {
    let who = pid.unwrap_or(stage1);
    match waitpid(who, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, SELF_MOVE_FAILED)) if pid.is_none() => {
            " (it could not join its cgroup)".to_string()
        }
        Ok(WaitStatus::Exited(_, c)) => format!(" (exit status {c})"),
        Ok(WaitStatus::Signaled(_, s, _)) => format!(" (killed by {s})"),
        _ => String::new(),
    }
}

fn write_id_maps(pid: Pid, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<()> {
    use pathrs::flags::OpenFlags;
    use pathrs::procfs::{ProcfsBase, ProcfsHandle};
    let procfs = ProcfsHandle::new()?;
    for (file, maps) in [("uid_map", uid), ("gid_map", gid)] {
        let text: String = maps
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect();
        let mut f = procfs
            .open(
                ProcfsBase::ProcPid(pid.as_raw() as u32),
                file,
                OpenFlags::O_WRONLY | OpenFlags::O_CLOEXEC,
            )
            .with_context(|| format!("open /proc/{pid}/{file}"))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("write /proc/{pid}/{file}"))?;
    }
    Ok(())
}
