//! The runc commands on top of the executor.

use super::cgroup::Cgroup;
use super::drivers::{CreateDriver, ExecDriver};
use super::state::{self, Saved, FIFO};
use super::supervise::{self, Signals};
use super::{info, live, Cli, Command, CreateArgs, ExecArgs};
use crate::linux::seccomp_bpf::SeccompProgram;
use crate::linux::{cgroup_self_move, cgroups, hooks, init, launch};
use crate::spec::state::{check, Operation, Status};
use crate::spec::validate;
use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

pub fn dispatch(cli: &Cli) -> Result<i32> {
    let root = &cli.root;
    match &cli.command {
        Command::Create(a) => create(root, a, cli.systemd_cgroup, true).map(|_| 0),
        Command::Start { id } => start(root, id).map(|_| 0),
        Command::State { id } => {
            let c = Saved::load(root, id)?;
            println!("{}", serde_json::to_string_pretty(&c.oci(c.status(root)))?);
            Ok(0)
        }
        Command::Kill { all, id, signal } => {
            kill_cmd(root, id, signal.as_deref().unwrap_or("SIGTERM"), *all).map(|_| 0)
        }
        Command::Delete { force, id } => delete(root, id, *force).map(|_| 0),
        Command::Run {
            create: a,
            detach,
            keep,
        } => run(root, a, *detach, *keep, cli.systemd_cgroup),
        Command::Exec(a) => exec(root, a),
        Command::Ps {
            format,
            id,
            ps_args,
        } => ps(root, id, format, ps_args).map(|_| 0),
        Command::List { format, quiet } => info::list(root, format, *quiet).map(|_| 0),
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&info::features())?);
            Ok(0)
        }
        Command::Spec { bundle } => info::write_default_spec(bundle.as_deref()).map(|_| 0),
        Command::Pause { id } => live::pause(root, id, true).map(|_| 0),
        Command::Resume { id } => live::pause(root, id, false).map(|_| 0),
        Command::Update { resources, id } => {
            live::update(root, id, resources.as_deref()).map(|_| 0)
        }
        Command::Events {
            stats,
            interval,
            id,
        } => live::events(root, id, *stats, interval).map(|_| 0),
        Command::Checkpoint { .. } | Command::Restore { .. } => {
            bail!("checkpoint and restore are not supported: rrun-oci has no CRIU support")
        }
    }
}

fn load_spec(bundle: &Path) -> Result<Spec> {
    let p = bundle.join("config.json");
    read_spec(&p).with_context(|| format!("load {}", p.display()))
}

/// The spec in the JSON file at `path`, read whole and parsed from memory:
/// oci-spec's `Spec::load` parses from a reader, and serde_json's reader
/// path counts lines and columns byte by byte (about 0.3 ms of CPU for a
/// 16 KiB spec, in the shim before it forks the init).
pub fn read_spec(path: &Path) -> Result<Spec> {
    let text = std::fs::read(path)?;
    Ok(serde_json::from_slice(&text)?)
}

/// The namespaces of a spec, as the init takes them.
fn namespaces(spec: &Spec) -> Vec<init::Namespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .map(|n| init::Namespace {
            typ: n.typ(),
            path: n.path().clone(),
        })
        .collect()
}

fn proc_ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// A created container, with what `run` needs to carry on.
struct Created {
    saved: Saved,
    pty: Option<OwnedFd>,
    cgroup: Cgroup,
}

/// A bundle checked for `create`: its path, spec and root, canonical.
struct Checked {
    bundle: PathBuf,
    spec: Spec,
    rootfs: PathBuf,
    cgroup_path: PathBuf,
    terminal: bool,
}

/// Everything about the bundle and the flags that can be checked before
/// the host changes.
fn check_create(a: &CreateArgs, systemd_cgroup: bool) -> Result<Checked> {
    validate::container_id(&a.id)?;
    check_preserved_fds(a.preserve_fds)?;
    let bundle = std::fs::canonicalize(&a.bundle)
        .with_context(|| format!("bundle {}", a.bundle.display()))?;
    let spec = load_spec(&bundle)?;
    validate::spec(&spec)?;
    check_host_support(&spec)?;
    let rootfs = validate::rootfs(&bundle, &spec)?;
    let rootfs =
        std::fs::canonicalize(&rootfs).with_context(|| format!("rootfs {}", rootfs.display()))?;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if a.console_socket.is_some() && !terminal {
        bail!("--console-socket is given but process.terminal is false");
    }
    let cgroup_path = cgroups::path(&spec, &a.id, systemd_cgroup)?;
    Ok(Checked {
        bundle,
        spec,
        rootfs,
        cgroup_path,
        terminal,
    })
}

/// The container's state directory, which must not exist yet.
fn make_state_dir(root: &Path, id: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(root)
        .with_context(|| format!("create state root {}", root.display()))?;
    let dir = Saved::dir(root, id);
    match std::fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("container with id {id} already exists")
        }
        Err(e) => Err(e).with_context(|| format!("create {}", dir.display())),
    }
}

/// Creates a container. Everything it made is removed again if a step
/// fails, so a failed create leaves nothing behind. `detached`: the
/// runtime does not stay (`create`, `run --detach`), so a terminal needs
/// a console socket.
fn create(root: &Path, a: &CreateArgs, systemd_cgroup: bool, detached: bool) -> Result<Created> {
    let c = check_create(a, systemd_cgroup)?;
    if detached && a.console_socket.is_none() && c.terminal {
        bail!("cannot allocate a tty when the runtime detaches without --console-socket");
    }
    let dir = make_state_dir(root, &a.id)?;
    let saved = Saved {
        id: a.id.clone(),
        bundle: c.bundle.clone(),
        rootfs: c.rootfs.clone(),
        pid: 0,
        start_time: 0,
        created: state::now_rfc3339(),
        owner: state::owner(),
        cgroup_path: c.cgroup_path.clone(),
        spec: c.spec.clone(),
    };
    let mut driver = CreateDriver {
        cgroup: None,
        spec: &c.spec,
        saved: saved.clone(),
        hooks_started: false,
        moved: false,
    };
    let result = start_init(root, a, &c, &dir, saved, &mut driver);
    match (result, driver.cgroup.take()) {
        (Ok((saved, pty)), Some(cgroup)) => Ok(Created { saved, pty, cgroup }),
        (Ok(_), None) => unreachable!("launch places the init in its cgroup before it succeeds"),
        (Err(e), cgroup) => {
            // Directories the init's self-move made before a failure that
            // came before `place` are the container's too.
            let made = || match driver.moved {
                true => cgroup_self_move::v1_dirs_known(&c.cgroup_path)
                    .map(|(dirs, _)| Cgroup::V1(dirs)),
                false => None,
            };
            if let Some(m) = cgroup.or_else(made) {
                // A step after the launch that failed (the pid file, the
                // console socket, the state) leaves the init waiting on its
                // FIFO there: killed first (libcgroups' remove did it too).
                for pid in m.pids() {
                    let _ = kill(pid, Signal::SIGKILL);
                }
                let _ = remove_cgroup(&m);
            }
            if driver.hooks_started {
                let state = driver.saved.hook_state(Status::Stopped);
                let poststop = c.spec.hooks().as_ref().and_then(|h| h.poststop().as_ref());
                hooks::run_all_warn("poststop", poststop, &state);
            }
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// Starts the init, drives it until it is ready, and records the
/// container; the caller undoes it all on error.
fn start_init(
    root: &Path,
    a: &CreateArgs,
    c: &Checked,
    dir: &Path,
    mut saved: Saved,
    driver: &mut CreateDriver,
) -> Result<(Saved, Option<OwnedFd>)> {
    let fifo = dir.join(FIFO);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .context("create exec fifo")?;
    // Past the umask: an init in a user namespace is "other" to it.
    std::fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622))?;
    let linux = c.spec.linux().as_ref();
    let maps = namespaces(&c.spec)
        .iter()
        .any(|n| n.typ == LinuxNamespaceType::User && n.path.is_none())
        .then(|| {
            (
                linux
                    .and_then(|l| l.uid_mappings().clone())
                    .unwrap_or_default(),
                linux
                    .and_then(|l| l.gid_mappings().clone())
                    .unwrap_or_default(),
            )
        });
    let cfg = init::InitConfig {
        id: a.id.clone(),
        bundle: c.bundle.clone(),
        rootfs: c.rootfs.clone(),
        seccomp: SeccompProgram::for_spec(root, &c.spec)?,
        spec: c.spec.clone(),
        namespaces: namespaces(&c.spec),
        mode: init::Mode::Create {
            fifo,
            no_pivot: a.no_pivot,
            no_new_keyring: a.no_new_keyring,
        },
        preserve_fds: a.preserve_fds,
    };
    let launched = launch::launch(cfg, maps, driver)?;
    saved.pid = launched.pid.as_raw();
    saved.start_time = state::proc_stat(saved.pid)
        .map(|s| s.1)
        .ok_or_else(|| anyhow!("the container's init died during create"))?;
    let mut pty = launched.pty_master;
    if let (Some(sock), Some(master)) = (&a.console_socket, &pty) {
        send_console(sock, master)?;
        pty = None;
    }
    // The pid is in the state before create returns: readers never see 0.
    saved.save(root)?;
    if let Some(p) = &a.pid_file {
        state::write_atomic(&absolute(p)?, saved.pid.to_string().as_bytes())?;
    }
    Ok((saved, pty))
}

/// `--preserve-fds N`: fds 3 .. 3 + N must be open (runc passes what is
/// there; a missing one would be filled by a runtime fd of ours).
fn check_preserved_fds(n: u32) -> Result<()> {
    for fd in 3..3 + n as i32 {
        nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD)
            .with_context(|| format!("--preserve-fds {n}: fd {fd} is not open"))?;
    }
    Ok(())
}

/// What the spec asks for that this host and runtime cannot give: refused,
/// never silently dropped (confinement must not fail open).
fn check_host_support(spec: &Spec) -> Result<()> {
    let process = spec.process().as_ref();
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    if process
        .and_then(|p| p.apparmor_profile().as_deref())
        .is_some_and(|p| !p.is_empty())
        && read("/sys/module/apparmor/parameters/enabled").trim() == "Y"
    {
        bail!("process.apparmorProfile is set, but AppArmor profiles are not supported yet");
    }
    let selinux = Path::new("/sys/fs/selinux/enforce").exists();
    let label = process
        .and_then(|p| p.selinux_label().as_deref())
        .is_some_and(|l| !l.is_empty())
        || spec
            .linux()
            .as_ref()
            .and_then(|l| l.mount_label().as_deref())
            .is_some_and(|l| !l.is_empty());
    if selinux && label {
        bail!("SELinux labels are set, but SELinux labelling is not supported yet");
    }
    let time_ns = namespaces(spec)
        .iter()
        .any(|n| n.typ == LinuxNamespaceType::Time);
    if time_ns && !Path::new("/proc/self/ns/time").exists() {
        bail!("a time namespace is asked for, but this kernel has none");
    }
    Ok(())
}

fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// Sends the pty master over the console socket, as runc does.
fn send_console(sock: &Path, master: &OwnedFd) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let s = std::os::unix::net::UnixStream::connect(sock)
        .with_context(|| format!("connect to console socket {}", sock.display()))?;
    let fds = [master.as_raw_fd()];
    let name = b"/dev/ptmx";
    sendmsg::<()>(
        s.as_raw_fd(),
        &[std::io::IoSlice::new(name)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context("send the pty master over the console socket")?;
    Ok(())
}

fn start(root: &Path, id: &str) -> Result<()> {
    let c = Saved::load(root, id)?;
    check(id, c.status(root), Operation::Start)?;
    let fifo = Saved::dir(root, id).join(FIFO);
    let f = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo)
        .with_context(|| format!("open {}", fifo.display()))?;
    // The init, blocked opening the fifo for writing, is released by our
    // open and answers with one byte.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 1];
    loop {
        match nix::unistd::read(f.as_raw_fd(), &mut buf) {
            Ok(1) => break,
            Ok(_) if !state::alive(c.pid, c.start_time) => {
                bail!("container {id}'s init exited before it could start")
            }
            Ok(_) | Err(nix::Error::EAGAIN) => {}
            Err(e) => return Err(e).context("read exec fifo"),
        }
        if Instant::now() > deadline {
            bail!("container {id} did not start within 10s");
        }
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&f),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
    }
    std::fs::remove_file(&fifo).context("remove exec fifo")?;
    // The init keeps its end open until execve closes it, and writes there
    // why it failed if it did: read to the end.
    let failure = read_until_exec(&f, c.pid, c.start_time)?;
    if !failure.is_empty() {
        bail!("container {id} failed to start: {failure}");
    }
    let state = c.hook_state(Status::Running);
    hooks::run_all_warn(
        "poststart",
        c.spec.hooks().as_ref().and_then(|h| h.poststart().as_ref()),
        &state,
    );
    Ok(())
}

/// Reads the exec fifo until the init's execve (or its death) closes it;
/// returns what the init wrote there (its error, or nothing).
fn read_until_exec(f: &std::fs::File, pid: i32, start_time: u64) -> Result<String> {
    let mut msg = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(f.as_raw_fd(), &mut buf) {
            Ok(0) => break,
            Ok(n) => msg.extend_from_slice(&buf[..n]),
            Err(nix::Error::EAGAIN) => {
                // A hook may still run; the init cannot be gone without
                // closing its end, but a zombie is checked all the same.
                if !state::alive(pid, start_time) {
                    break;
                }
                let mut fds = [nix::poll::PollFd::new(
                    std::os::fd::AsFd::as_fd(f),
                    nix::poll::PollFlags::POLLIN,
                )];
                let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
            }
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(e).context("read exec fifo"),
        }
    }
    Ok(String::from_utf8_lossy(&msg).trim().to_string())
}

use std::os::unix::fs::OpenOptionsExt;

fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| anyhow!("invalid signal {s:?}"));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    Signal::from_str(&name).map_err(|_| anyhow!("invalid signal {s:?}"))
}

fn kill_cmd(root: &Path, id: &str, sig: &str, all: bool) -> Result<()> {
    let sig = parse_signal(sig)?;
    let c = Saved::load(root, id)?;
    check(id, c.status(root), Operation::Kill)?;
    if all {
        let m = cgroups::manager(&c.cgroup_path, id)?;
        for p in cgroups::pids(&m)? {
            let _ = kill(p, sig);
        }
        Ok(())
    } else {
        kill(Pid::from_raw(c.pid), sig).with_context(|| format!("send {sig} to container {id}"))
    }
}

/// `kill <id> <signal>` in the calling process (the daemon's: a process
/// of rrun-oci for each `kill`, `stop` or `rm -f` was a millisecond or two
/// of CPU each).
pub fn kill_init(root: &Path, id: &str, sig: &str) -> Result<()> {
    kill_cmd(root, id, sig, false)
}

/// Kills everything in the container and waits (bounded) until its init is
/// gone.
fn kill_all_and_wait(c: &Saved, m: &Cgroup) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = m.pids();
        for p in &pids {
            let _ = kill(*p, Signal::SIGKILL);
        }
        // A paused container's processes die only once thawed.
        if c.frozen(pids.first().map_or(c.pid, |p| p.as_raw())) {
            m.thaw();
        }
        if state::alive(c.pid, c.start_time) {
            let _ = kill(Pid::from_raw(c.pid), Signal::SIGKILL);
        }
        if pids.is_empty() && !state::alive(c.pid, c.start_time) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("container {} still has processes after SIGKILL", c.id);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `delete --force <id>` in the calling process (the daemon's, after a
/// shim that left its container's end to it): its processes killed, its
/// cgroups and state removed. Nothing to do when no state is kept for it.
pub fn force_delete(root: &Path, id: &str) -> Result<()> {
    if !Saved::dir(root, id).exists() {
        return Ok(());
    }
    delete(root, id, true)
}

fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let dir = Saved::dir(root, id);
    if validate::container_id(id).is_ok() && dir.is_dir() && !dir.join(state::STATE_FILE).exists() {
        // A create that was killed before it saved its state: nothing runs
        // under this id, so its directory is removed (as runc does).
        return std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()));
    }
    let c = Saved::load(root, id)?;
    let status = c.status(root);
    check(id, status, Operation::Delete { force })?;
    destroy(root, &c, None)
}

/// Removes a container: its processes, cgroup, and state; then the
/// poststop hooks. Collects every error instead of stopping at the first.
fn destroy(root: &Path, c: &Saved, cgroup: Option<Cgroup>) -> Result<()> {
    let mut errors = Vec::new();
    match cgroup.map_or_else(|| Cgroup::of(c), Ok) {
        Ok(m) => {
            // Processes that survive SIGKILL keep the container on record:
            // forgetting it would lose track of them.
            kill_all_and_wait(c, &m)?;
            if let Err(e) = remove_cgroup(&m) {
                errors.push(e);
            }
        }
        Err(e) => errors.push(e),
    }
    let state = c.hook_state(Status::Stopped);
    hooks::run_all_warn(
        "poststop",
        c.spec.hooks().as_ref().and_then(|h| h.poststop().as_ref()),
        &state,
    );
    if let Err(e) = std::fs::remove_dir_all(Saved::dir(root, &c.id)) {
        errors.push(anyhow!(e).context("remove the container's state"));
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(anyhow!(
            "{}",
            errors
                .iter()
                .map(|e| format!("{e:#}"))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// Removes an emptied cgroup: the kernel may need a moment to let the
/// last task leave (5 s at most).
fn remove_cgroup(m: &Cgroup) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match m.remove() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn set_subreaper() -> Result<()> {
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).context("become a subreaper");
    }
    Ok(())
}

fn run(root: &Path, a: &CreateArgs, detach: bool, keep: bool, systemd_cgroup: bool) -> Result<i32> {
    // The container's init is orphaned when its first stage exits; as a
    // subreaper we get it back and can wait for it.
    set_subreaper()?;
    let signals = if detach {
        None
    } else {
        Some(Signals::block()?)
    };
    let created = create(root, a, systemd_cgroup, detach)?;
    if let Err(e) = start(root, &a.id) {
        let _ = destroy(root, &created.saved, Some(created.cgroup));
        return Err(e);
    }
    let Some(signals) = signals else { return Ok(0) };
    let code = supervise::supervise(signals, Pid::from_raw(created.saved.pid), created.pty)?;
    if !keep {
        destroy(root, &created.saved, Some(created.cgroup))?;
    }
    Ok(code)
}

fn exec_process(c: &Saved, a: &ExecArgs) -> Result<Process> {
    if let Some(p) = &a.process {
        let text = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
        return serde_json::from_slice(&text).with_context(|| format!("parse {}", p.display()));
    }
    if a.command.is_empty() {
        bail!("exec needs a command, or --process with a process.json");
    }
    let mut p = c.spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &a.user {
        let mut user = p.user().clone();
        let (uid, gid) = u
            .split_once(':')
            .map_or((u.as_str(), None), |(a, b)| (a, Some(b)));
        user.set_uid(
            uid.parse()
                .with_context(|| format!("--user {u}: uid must be a number"))?,
        );
        if let Some(g) = gid {
            user.set_gid(
                g.parse()
                    .with_context(|| format!("--user {u}: gid must be a number"))?,
            );
        }
        if !a.additional_gids.is_empty() {
            user.set_additional_gids(Some(a.additional_gids.clone()));
        }
        p.set_user(user);
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

fn exec(root: &Path, a: &ExecArgs) -> Result<i32> {
    check_preserved_fds(a.preserve_fds)?;
    let c = Saved::load(root, &a.id)?;
    check(&a.id, c.status(root), Operation::Exec)?;
    let process = exec_process(&c, a)?;
    let terminal = process.terminal().unwrap_or(false);
    if terminal && a.detach && a.console_socket.is_none() {
        bail!("cannot allocate a tty when the runtime detaches without --console-socket");
    }
    let mut spec = c.spec.clone();
    spec.set_process(Some(process));
    // Open the namespaces now and check the pid is still the container's
    // afterwards, so a recycled pid can never lead the process into someone
    // else's namespaces; the init joins them through the inherited fds.
    let mut ns_fds: Vec<OwnedFd> = Vec::new();
    let mut joins = Vec::new();
    for n in namespaces(&c.spec) {
        let path = format!("/proc/{}/ns/{}", c.pid, proc_ns_name(n.typ));
        let f = std::fs::File::open(&path).with_context(|| format!("open {path}"))?;
        // Inheritable, and clear of the fds the init sets up.
        let fd = nix::fcntl::fcntl(
            f.as_raw_fd(),
            nix::fcntl::FcntlArg::F_DUPFD(init::SYNC_FD + 7),
        )?;
        // SAFETY: F_DUPFD returned a new fd that we now own.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        joins.push(init::Namespace {
            typ: n.typ,
            path: Some(PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))),
        });
        ns_fds.push(fd);
    }
    if !state::alive(c.pid, c.start_time) {
        bail!("container {} stopped", c.id);
    }
    let cfg = init::InitConfig {
        id: c.id.clone(),
        bundle: c.bundle.clone(),
        rootfs: c.rootfs.clone(),
        seccomp: SeccompProgram::for_spec(root, &spec)?,
        spec,
        namespaces: joins,
        mode: init::Mode::Exec,
        preserve_fds: a.preserve_fds,
    };
    if !a.detach {
        set_subreaper()?;
    }
    let signals = if a.detach {
        None
    } else {
        Some(Signals::block()?)
    };
    // The process must join the container's cgroup (its limits and device
    // policy), or not run at all.
    let manager = cgroups::manager(&c.cgroup_path, &c.id)?;
    cgroups::pids(&manager).with_context(|| format!("container {}'s cgroup is gone", c.id))?;
    let mut driver = ExecDriver {
        cgroup: Some(manager),
        path: c.cgroup_path.clone(),
        moved: false,
    };
    let launched = launch::launch(cfg, None, &mut driver)?;
    drop(ns_fds);
    let mut pty = launched.pty_master;
    if let (Some(sock), Some(master)) = (&a.console_socket, &pty) {
        send_console(sock, master)?;
        pty = None;
    }
    if let Some(p) = &a.pid_file {
        state::write_atomic(&absolute(p)?, launched.pid.as_raw().to_string().as_bytes())?;
    }
    match signals {
        None => Ok(0),
        Some(s) => supervise::supervise(s, launched.pid, pty),
    }
}

fn ps(root: &Path, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    let c = Saved::load(root, id)?;
    let m = cgroups::manager(&c.cgroup_path, id)?;
    let pids: Vec<i32> = cgroups::pids(&m)?.into_iter().map(|p| p.as_raw()).collect();
    match format {
        "json" => {
            println!("{}", serde_json::to_string(&pids)?);
            return Ok(());
        }
        "table" => {}
        other => bail!("invalid format {other:?}: use table or json"),
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("run ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow!("ps output has no PID column"))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{header}")?;
    for line in lines {
        if line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            writeln!(stdout, "{line}")?;
        }
    }
    Ok(())
}
