//! The container's init: the runtime, re-executed from a sealed copy (or,
//! in a shim that runs from a read-only binary, only forked: see
//! [`forked`]), that builds the container from inside, in two stages (see
//! [`super::channel`] for the protocol).
//!
//! Stage 1 joins or creates the namespaces. A new pid namespace only takes
//! effect for children, so stage 1 forks stage 2, which is pid 1 of the
//! container, sets up its root, waits for `start` on the exec fifo, and
//! finally becomes the user program.

use super::channel::{Channel, FromInit, ToInit};
use super::{hooks, rootfs, security};
use crate::spec::mounts;
use anyhow::{anyhow, bail, Context, Result};
use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::{fork, setsid, ForkResult};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use pathrs::flags::OpenFlags;
use pathrs::procfs::{ProcfsBase, ProcfsHandle, ProcfsHandleBuilder};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// The fd number the sync socket has in the init, when no fd is preserved
/// (`--preserve-fds N` puts it at 3 + N, past the preserved ones).
pub const SYNC_FD: i32 = 3;

/// What the init is asked to do.
#[derive(Debug, Serialize, Deserialize)]
pub enum Mode {
    /// A new container: build its root, then wait on the fifo for `start`.
    Create {
        fifo: PathBuf,
        no_pivot: bool,
        no_new_keyring: bool,
    },
    /// A new process in a running container's namespaces.
    Exec,
}

/// A namespace to join (with a path) or to create.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Namespace {
    pub typ: LinuxNamespaceType,
    pub path: Option<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct InitConfig {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// The container's spec; for exec, its process is the exec'd one.
    pub spec: Spec,
    /// The spec's seccomp profile as the program to load, made by the
    /// runtime before the fork (`linux::seccomp_bpf`).
    pub seccomp: Option<super::seccomp_bpf::SeccompProgram>,
    pub namespaces: Vec<Namespace>,
    pub mode: Mode,
    /// fds 3 .. 3 + preserve_fds are the caller's, passed to the program.
    pub preserve_fds: u32,
}

impl InitConfig {
    fn creates(&self, t: LinuxNamespaceType) -> bool {
        self.namespaces
            .iter()
            .any(|n| n.typ == t && n.path.is_none())
    }
    fn terminal(&self) -> bool {
        self.spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false)
    }
}

fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    CloneFlags::from_bits_retain(t as i32)
}

/// Entry point of `rrun-oci init`. Never returns: the process becomes the
/// user program or exits.
pub fn main() -> ! {
    // `rrun-oci init <fd>`: the parent put the sync socket there.
    let sync_fd = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(SYNC_FD);
    run(sync_fd, None)
}

/// The init as a fork of a runtime that runs from a read-only binary
/// (`launch` decides): what [`main`] does, without executing the binary
/// again. The runtime's own descriptors are still open, close-on-exec:
/// the init closes them before the user program runs, as it does any
/// (`security::close_runtime_fds`). With `cfg` (the fork's copy; the init
/// moved itself into its cgroup) it starts at once.
pub fn forked(sync_fd: i32, cfg: Option<Box<InitConfig>>) -> ! {
    run(sync_fd, cfg)
}

fn run(sync_fd: i32, cfg: Option<Box<InitConfig>>) -> ! {
    // Signals blocked by a supervising parent must not stay blocked in the
    // container.
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
    security::reset_signal_dispositions();
    // Non-dumpable until the user program runs (execve makes it dumpable
    // again): a process in the container cannot ptrace the runtime or open
    // its /proc files while it still holds privileges and the sync socket
    // (CVE-2016-9962).
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    // SAFETY: the parent set up this fd as the sync socket.
    let mut ch = unsafe { Channel::from_raw_fd(sync_fd) };
    // Hooks started by the init must not inherit it.
    // SAFETY: fcntl on our own fd.
    unsafe { libc::fcntl(sync_fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // Stage 1 and 2 report errors the same way: over the socket, then exit.
    let err = match stage1(&mut ch, cfg) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    // Before `start`, the runtime is listening; after it, only the
    // container's stderr is left to tell.
    if ch.send(&FromInit::Error(format!("{err:#}"))).is_err() {
        eprintln!("rrun-oci init: {err:#}");
    }
    std::process::exit(1);
}

fn stage1(ch: &mut Channel, cfg: Option<Box<InitConfig>>) -> Result<std::convert::Infallible> {
    // Sent once the runtime has placed this process in its cgroup, unless
    // it came with the fork (the process moved itself: see `launch`).
    let cfg = match cfg {
        Some(c) => c,
        None => match ch.recv::<ToInit>()? {
            ToInit::Config(c) => c,
            other => bail!("init expected its config, got {other:?}"),
        },
    };
    // A user namespace given by path is joined first: joining the others
    // may need the capabilities it grants. The other named namespaces come
    // next, while we still hold the host's capabilities (a new user
    // namespace would take them away), the mount namespace last, as joining
    // it changes our root. Then the new user namespace, so the namespaces
    // created after it are owned by it.
    let user = cfg
        .namespaces
        .iter()
        .find(|n| n.typ == LinuxNamespaceType::User);
    if let Some(Namespace { path: Some(p), .. }) = user {
        join(LinuxNamespaceType::User, p)?;
    }
    let mut joins: Vec<&Namespace> = cfg
        .namespaces
        .iter()
        .filter(|n| n.path.is_some() && n.typ != LinuxNamespaceType::User)
        .collect();
    joins.sort_by_key(|n| n.typ == LinuxNamespaceType::Mount);
    for ns in joins {
        join(ns.typ, ns.path.as_ref().expect("filtered"))?;
    }
    if let Some(Namespace { path: None, .. }) = user {
        unshare(CloneFlags::CLONE_NEWUSER).context("create the user namespace")?;
        ch.send(&FromInit::NeedIdMaps)?;
        match ch.recv::<ToInit>()? {
            ToInit::IdMapsWritten => {}
            other => bail!("init expected IdMapsWritten, got {other:?}"),
        }
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .context("become root in the user namespace")?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .context("become root in the user namespace")?;
    }
    let mut new = CloneFlags::empty();
    for ns in cfg
        .namespaces
        .iter()
        .filter(|n| n.path.is_none() && n.typ != LinuxNamespaceType::User)
    {
        new |= clone_flag(ns.typ);
    }
    if !new.is_empty() {
        unshare(new).with_context(|| format!("create namespaces {new:?}"))?;
    }
    if cfg.creates(LinuxNamespaceType::Time) {
        write_time_offsets(&cfg.spec)?;
    }
    // SAFETY: this process is single-threaded (freshly exec'd, no threads
    // started), so fork is safe.
    match unsafe { fork() }.context("fork the container's init")? {
        ForkResult::Parent { child } => {
            ch.send(&FromInit::Pid(child.as_raw()))?;
            std::process::exit(0);
        }
        ForkResult::Child => stage2(ch, *cfg),
    }
}

fn join(t: LinuxNamespaceType, path: &PathBuf) -> Result<()> {
    let f = File::open(path).with_context(|| format!("open {t} namespace {}", path.display()))?;
    // Joining the user namespace we are already in is EINVAL; skip it.
    if t == LinuxNamespaceType::User {
        use std::os::unix::fs::MetadataExt;
        let ours = std::fs::metadata("/proc/self/ns/user")?;
        let theirs = f.metadata()?;
        if ours.ino() == theirs.ino() && ours.dev() == theirs.dev() {
            return Ok(());
        }
    }
    setns(&f, clone_flag(t)).with_context(|| format!("join {t} namespace {}", path.display()))
}

fn write_time_offsets(spec: &Spec) -> Result<()> {
    let Some(offsets) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    // Not through pathrs: its procfs handle is cached for the process, and
    // one made here, still in the host's pid namespace, would be inherited
    // by the container's init. The file is checked to be on procfs instead.
    let mut f = File::options()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open("/proc/self/timens_offsets")
        .context("open /proc/self/timens_offsets")?;
    let fs = nix::sys::statfs::fstatfs(&f)?;
    if fs.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        bail!("/proc/self/timens_offsets is not on procfs");
    }
    for (clock, off) in offsets {
        let line = format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        );
        f.write_all(line.as_bytes())
            .with_context(|| format!("time offset {line:?}"))?;
    }
    Ok(())
}

fn wait_continue(ch: &mut Channel) -> Result<()> {
    match ch.recv::<ToInit>()? {
        ToInit::Continue => Ok(()),
        other => bail!("init expected Continue, got {other:?}"),
    }
}

fn stage2(ch: &mut Channel, cfg: InitConfig) -> Result<std::convert::Infallible> {
    wait_continue(ch)?;
    setsid().context("setsid")?;
    match &cfg.mode {
        Mode::Create {
            fifo,
            no_pivot,
            no_new_keyring,
        } => {
            if !no_new_keyring {
                join_session_keyring(&cfg.id)?;
            }
            create(ch, &cfg, fifo, *no_pivot)
        }
        Mode::Exec => exec(ch, &cfg),
    }
}

fn process(cfg: &InitConfig) -> Result<&oci_spec::runtime::Process> {
    cfg.spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("config has no process"))
}

fn create(
    ch: &mut Channel,
    cfg: &InitConfig,
    fifo: &PathBuf,
    no_pivot: bool,
) -> Result<std::convert::Infallible> {
    let process = process(cfg)?;
    // Without a new mount namespace (runc's rule): nothing is mounted, the
    // spec was checked to ask for no mount, and the root is entered with
    // chroot, as pivot_root needs a private mount namespace.
    let new_mnt = cfg.creates(LinuxNamespaceType::Mount);
    let plan = mounts::plan(&cfg.spec);
    if new_mnt {
        build_root(cfg, &plan)?;
    }
    set_sysctls(&cfg.spec)?;
    // The fifo lives in the runtime's state directory, which the container
    // cannot see after pivot_root: keep an O_PATH handle to reopen later.
    let fifo_fd: OwnedFd = File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(fifo)
        .with_context(|| format!("open exec fifo {}", fifo.display()))?
        .into();
    let procfs = ProcfsHandle::new().context("open a private procfs")?;

    ch.send(&FromInit::RuntimeHooks)?;
    let state = match ch.recv::<ToInit>()? {
        ToInit::HooksDone { state } => state,
        other => bail!("init expected HooksDone, got {other:?}"),
    };
    let hooks = cfg.spec.hooks().as_ref();
    hooks::run_all(
        "createContainer",
        hooks.and_then(|h| h.create_container().as_ref()),
        &state,
    )?;

    if new_mnt {
        rootfs::switch_root(&cfg.rootfs, no_pivot)?;
        rootfs::root_propagation(&plan)?;
    } else {
        rootfs::chroot(&cfg.rootfs)?;
    }
    if cfg.terminal() {
        let slave = console(ch, process)?;
        if new_mnt {
            rootfs::bind_console(&slave)?;
        }
    }
    if plan.readonly_root && new_mnt {
        rootfs::readonly_root()?;
    }
    set_names(&cfg.spec)?;
    security::set_rlimits(process)?;
    set_oom_score_adj(&procfs, process.oom_score_adj())?;
    // Everything that may fail on the container's content or the profile
    // is done now, so `create` reports it.
    let program = security::lookup(process)?;
    let program = security::Program::new(process, &program)?;
    let seccomp = security::Seccomp::of(cfg)?;
    security::drop_privileges(process, &seccomp)?;
    ch.send(&FromInit::Ready)?;

    // Blocks until `start` opens the fifo for reading.
    let fifo = open_fifo(&procfs, &fifo_fd)?;
    drop(fifo_fd);
    drop(procfs);
    let startup = Startup {
        state,
        program,
        seccomp,
    };
    released(fifo, cfg, process, startup)
}

/// What the init needs once `start` released it.
struct Startup {
    state: String,
    program: security::Program,
    seccomp: security::Seccomp,
}

/// Tells `start` the init is released, runs the startContainer hooks and
/// becomes the user program. The fifo stays open until execve closes it:
/// `start` reads to its end, so an error on the way there reaches it.
fn released(
    fifo: OwnedFd,
    cfg: &InitConfig,
    process: &oci_spec::runtime::Process,
    s: Startup,
) -> Result<std::convert::Infallible> {
    let mut fifo = File::from(fifo);
    fifo.write_all(b"0").context("write to exec fifo")?;
    let err = match (|| {
        hooks::run_all(
            "startContainer",
            cfg.spec
                .hooks()
                .as_ref()
                .and_then(|h| h.start_container().as_ref()),
            &with_status(&s.state, "created"),
        )?;
        let keep = security::Keep {
            preserved: cfg.preserve_fds,
            fifo: Some(fifo.as_raw_fd()),
        };
        security::exec(process, &s.program, &s.seccomp, keep)
    })() {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = fifo.write_all(format!("{err:#}").as_bytes());
    std::process::exit(1)
}

/// The container's own root: mounts and /dev, in the new mount namespace.
fn build_root(cfg: &InitConfig, plan: &mounts::Plan) -> Result<()> {
    let devices = mounts::devices(&cfg.spec);
    let devnull = rootfs::DevNull::open()?;
    rootfs::prepare(
        &cfg.rootfs,
        &cfg.bundle,
        plan,
        &devices,
        &devnull,
        cfg.creates(LinuxNamespaceType::Cgroup),
    )
}

/// Opens the process's terminal and sends its master to the runtime;
/// returns the slave.
fn console(ch: &mut Channel, process: &oci_spec::runtime::Process) -> Result<OwnedFd> {
    let (master, slave) = open_pty()?;
    // process.consoleSize (runc honours it): the size is right before the
    // program's first look at its terminal.
    if let Some(size) = process.console_size() {
        set_winsize(&master, size.height() as u16, size.width() as u16);
    }
    ch.send_with_fd(&FromInit::PtyMaster, Some(master.as_raw_fd()))?;
    Ok(slave)
}

/// Opens the exec fifo for writing through its O_PATH handle, with one
/// openat in our private procfs (no path the container controls, and a
/// single system call: a non-no_new_privs seccomp filter is loaded by now,
/// and runc makes the same open at this point).
fn open_fifo(procfs: &ProcfsHandle, fifo: &OwnedFd) -> Result<OwnedFd> {
    use std::os::fd::AsFd;
    let path = std::ffi::CString::new(format!("self/fd/{}", fifo.as_raw_fd()))?;
    // SAFETY: openat on a directory fd we hold, with a valid C string.
    let fd = unsafe {
        libc::openat(
            procfs.as_fd().as_raw_fd(),
            path.as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("open exec fifo for writing");
    }
    // SAFETY: the kernel just gave us this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The hooks' state with another status.
fn with_status(state: &str, status: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(state) {
        Ok(mut v) => {
            v["status"] = status.into();
            v.to_string()
        }
        Err(_) => state.to_string(),
    }
}

/// Gives the container a session keyring of its own instead of the
/// caller's (runc joins `_ses.<id>` the same way). Kernels without keyrings
/// have nothing to share.
fn join_session_keyring(id: &str) -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = std::ffi::CString::new(format!("_ses.{id}"))?;
    // SAFETY: keyctl with a valid C string.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(e).context("join a session keyring of the container's own");
        }
    }
    Ok(())
}

fn exec(ch: &mut Channel, cfg: &InitConfig) -> Result<std::convert::Infallible> {
    let process = process(cfg)?;
    if cfg.terminal() {
        console(ch, process)?;
    }
    security::set_rlimits(process)?;
    if process.oom_score_adj().is_some() {
        set_oom_score_adj(&ProcfsHandle::new()?, process.oom_score_adj())?;
    }
    let program = security::lookup(process)?;
    let program = security::Program::new(process, &program)?;
    let seccomp = security::Seccomp::of(cfg)?;
    security::drop_privileges(process, &seccomp)?;
    ch.send(&FromInit::Ready)?;
    let keep = security::Keep {
        preserved: cfg.preserve_fds,
        fifo: None,
    };
    security::exec(process, &program, &seccomp, keep)
}

/// Writes sysctls through a verified procfs handle (CVE-2025-52881: a
/// container-controlled /proc could redirect the write elsewhere). Network
/// and IPC sysctls act on the writer's own namespaces.
fn set_sysctls(spec: &Spec) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    if sysctl.is_empty() {
        return Ok(());
    }
    let procfs = ProcfsHandleBuilder::new()
        .unmasked()
        .build()
        .context("open a private procfs")?;
    for (k, v) in sysctl {
        let rel = format!("sys/{}", k.replace('.', "/"));
        let mut f = procfs
            .open(
                ProcfsBase::ProcRoot,
                &rel,
                OpenFlags::O_WRONLY | OpenFlags::O_CLOEXEC,
            )
            .with_context(|| format!("sysctl {k}"))?;
        f.write_all(v.as_bytes())
            .with_context(|| format!("sysctl {k}={v}"))?;
    }
    Ok(())
}

fn set_oom_score_adj(procfs: &ProcfsHandle, adj: Option<i32>) -> Result<()> {
    let Some(adj) = adj else { return Ok(()) };
    let mut f = procfs.open(
        ProcfsBase::ProcSelf,
        "oom_score_adj",
        OpenFlags::O_WRONLY | OpenFlags::O_CLOEXEC,
    )?;
    f.write_all(adj.to_string().as_bytes())
        .context("write oom_score_adj")
}

fn set_names(spec: &Spec) -> Result<()> {
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).context("set hostname")?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        // SAFETY: pointer and length of a live string.
        if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
            return Err(std::io::Error::last_os_error()).context("set domainname");
        }
    }
    Ok(())
}

/// Opens a pty in the container's devpts and makes its slave our
/// controlling terminal and stdio. Returns the master (for the runtime) and
/// the slave's path.
/// TIOCSWINSZ on a pty (best effort: a size is a nicety, not a failure).
pub use rrun_shim::resize::set_winsize;

fn open_pty() -> Result<(OwnedFd, OwnedFd)> {
    use nix::pty::{grantpt, posix_openpt, unlockpt};
    let master = posix_openpt(
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
    )
    .context("open /dev/ptmx (is devpts mounted on /dev/pts with ptmxmode=0666?)")?;
    // The master must be a devpts pty, not whatever the image put at
    // /dev/ptmx.
    if nix::sys::statfs::fstatfs(&master)?.filesystem_type() != nix::sys::statfs::DEVPTS_SUPER_MAGIC
        && !is_ptmx_char_device(&master)
    {
        bail!("/dev/ptmx is not a pseudo-terminal multiplexer");
    }
    grantpt(&master)?;
    unlockpt(&master)?;
    // The slave is opened from the master (TIOCGPTPEER), never by a
    // /dev/pts path the container could swap (the pattern behind
    // CVE-2025-52565).
    // SAFETY: ioctl on our pty master; returns a new fd.
    let sfd = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if sfd < 0 {
        return Err(std::io::Error::last_os_error())
            .context("open the terminal's slave (TIOCGPTPEER)");
    }
    // SAFETY: the kernel gave us this fd.
    let slave = unsafe { OwnedFd::from_raw_fd(sfd) };
    // SAFETY: ioctl on a valid terminal fd.
    if unsafe { libc::ioctl(sfd, libc::TIOCSCTTY, 0) } != 0 {
        return Err(std::io::Error::last_os_error())
            .context("make the terminal the controlling one");
    }
    for target in 0..=2 {
        nix::unistd::dup2(sfd, target)?;
    }
    use std::os::fd::IntoRawFd;
    // SAFETY: into_raw_fd hands over the only owner of this fd.
    let master = unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) };
    Ok((master, slave))
}

/// /dev/ptmx itself is a character device 5:2 on the devtmpfs or tmpfs.
fn is_ptmx_char_device(master: &impl std::os::fd::AsFd) -> bool {
    nix::sys::stat::fstat(master.as_fd().as_raw_fd()).is_ok_and(|st| {
        st.st_mode & libc::S_IFMT == libc::S_IFCHR
            && libc::major(st.st_rdev) == 5
            && libc::minor(st.st_rdev) == 2
    })
}
