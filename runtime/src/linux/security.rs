//! The last steps before the user program runs: resource limits, user and
//! groups, capabilities, no_new_privs, seccomp, the working directory, and
//! closing every descriptor of the runtime. Order matters and is explained
//! at each step.

use crate::spec::capabilities::{self, CapSets};
use anyhow::{anyhow, bail, Context, Result};
use caps::CapSet;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::Process;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Finds the program to run the way execvp would, but before the
/// container is reported ready, so `create` fails with a clear message.
pub fn lookup(process: &Process) -> Result<PathBuf> {
    let args = process.args().as_deref().unwrap_or_default();
    let prog = args
        .first()
        .ok_or_else(|| anyhow!("process.args is empty"))?;
    let is_exec = |p: &Path| {
        std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false)
            && nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok()
    };
    if prog.contains('/') {
        let p = if Path::new(prog).is_absolute() {
            PathBuf::from(prog)
        } else {
            process.cwd().join(prog)
        };
        if !std::fs::exists(&p).unwrap_or(false) {
            bail!("exec: {prog:?}: no such file or directory");
        }
        if !is_exec(&p) {
            bail!("exec: {prog:?}: permission denied");
        }
        return Ok(p);
    }
    let path = process
        .env()
        .iter()
        .flatten()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
        .to_string();
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(prog);
        if is_exec(&p) {
            return Ok(p);
        }
    }
    bail!("exec: {prog:?}: executable file not found in $PATH")
}

pub fn set_rlimits(process: &Process) -> Result<()> {
    for r in process.rlimits().iter().flatten() {
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: plain syscall with a valid pointer.
        let rc = unsafe { libc::setrlimit(crate::spec::rlimits::resource(r.typ()), &lim) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("setrlimit {:?}", r.typ()));
        }
    }
    Ok(())
}

/// The container's seccomp filter, made by the runtime before the fork (so
/// a bad profile fails `create`), loaded by the init later.
pub struct Seccomp(Option<super::seccomp_bpf::SeccompProgram>);

impl Seccomp {
    /// The init's filter. A profile without its program is refused, never
    /// run unfiltered.
    pub fn of(cfg: &super::init::InitConfig) -> Result<Seccomp> {
        let profile = cfg.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
        if profile.is_some() && cfg.seccomp.is_none() {
            anyhow::bail!("the spec has a seccomp profile but the runtime sent no filter");
        }
        Ok(Seccomp(cfg.seccomp.clone()))
    }

    /// Loads the filter. Every system call after this one must be allowed
    /// by the profile, so callers make as few as they can.
    fn load(&self) -> Result<()> {
        if let Some(p) = &self.0 {
            p.load()?;
        }
        Ok(())
    }
}

fn apply_caps(sets: &CapSets) -> Result<()> {
    // Bounding first: dropping from it needs CAP_SETPCAP, which the later
    // steps may take away.
    for cap in caps::all() {
        if !sets.bounding.contains(&cap)
            && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false)
        {
            caps::drop(None, CapSet::Bounding, cap)
                .with_context(|| format!("drop {cap} from the bounding set"))?;
        }
    }
    Ok(())
}

fn apply_caps_after_setuid(sets: &CapSets) -> Result<()> {
    // Inheritable first, while the permitted set still covers it; effective
    // before permitted, so effective stays inside permitted at every step.
    caps::set(None, CapSet::Inheritable, &sets.inheritable)
        .context("set inheritable capabilities")?;
    caps::set(None, CapSet::Effective, &sets.effective).context("set effective capabilities")?;
    caps::set(None, CapSet::Permitted, &sets.permitted).context("set permitted capabilities")?;
    caps::clear(None, CapSet::Ambient).context("clear ambient capabilities")?;
    for cap in &sets.ambient {
        caps::raise(None, CapSet::Ambient, *cap).with_context(|| format!("raise ambient {cap}"))?;
    }
    Ok(())
}

fn set_user(process: &Process) -> Result<()> {
    let u = process.user();
    let gids: Vec<Gid> = u
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    // setgroups is refused in a user namespace whose setgroups file says
    // deny; then there is nothing to set anyway.
    if let Err(e) = setgroups(&gids) {
        if !gids.is_empty() || e != nix::Error::EPERM {
            return Err(e).context("setgroups");
        }
    }
    setresgid(
        Gid::from_raw(u.gid()),
        Gid::from_raw(u.gid()),
        Gid::from_raw(u.gid()),
    )
    .context("setgid")?;
    setresuid(
        Uid::from_raw(u.uid()),
        Uid::from_raw(u.uid()),
        Uid::from_raw(u.uid()),
    )
    .context("setuid")?;
    Ok(())
}

/// The descriptors that survive [`close_runtime_fds`].
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    /// fds 3 .. 3 + preserved, the caller's (`--preserve-fds`).
    pub preserved: u32,
    /// The exec fifo, close-on-exec: it tells `start` how the exec went.
    /// A FIFO in the state directory, never a directory or an executable,
    /// so naming it through /proc/self/fd/N gains nothing (CVE-2024-21626).
    pub fifo: Option<i32>,
}

/// Closes every descriptor above stderr but the ones `keep` names (the
/// caller's `--preserve-fds`, the exec fifo), so nothing of the runtime
/// reaches the container (CVE-2024-21626: a leaked directory fd let a
/// container set its cwd, or name its program, through /proc/self/fd).
/// Closing, not only close-on-exec: execve resolves the program's path
/// before it closes close-on-exec fds, so a path through /proc/self/fd/N
/// would still work.
pub fn close_runtime_fds(keep: Keep) -> Result<()> {
    let close_range = |from: i32, to: i32| {
        if from > to {
            return 0;
        }
        // SAFETY: close_range only closes our own descriptors; nothing in
        // the range is used after this point.
        unsafe {
            libc::syscall(
                libc::SYS_close_range,
                from as libc::c_uint,
                to as libc::c_uint,
                0 as libc::c_uint,
            )
        }
    };
    let first = 3 + keep.preserved as i32;
    let rc = match keep.fifo {
        Some(k) if k >= first => match close_range(first, k - 1) {
            0 => close_range(k + 1, i32::MAX),
            e => e,
        },
        _ => close_range(first, i32::MAX),
    };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.9: walk the fd table.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .context("list /proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first && Some(*fd) != keep.fifo)
        .collect();
    for fd in fds {
        // SAFETY: closing our own descriptors (the directory iterator is gone).
        unsafe { libc::close(fd) };
    }
    Ok(())
}

fn chdir_checked(cwd: &Path) -> Result<()> {
    nix::unistd::chdir(cwd)
        .with_context(|| format!("chdir to cwd {:?} set in config.json", cwd.display()))?;
    // CVE-2024-21626: the cwd must be inside the container's root; getcwd
    // fails (or says "(unreachable)") when it is not.
    match std::env::current_dir() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => bail!(
            "cwd {:?} is outside the container's root filesystem",
            cwd.display()
        ),
    }
}

/// Drops the process's privileges, in the only safe order: umask, cwd, the
/// seccomp filter when it cannot wait for no_new_privs, the bounding set,
/// user and groups (keeping capabilities across setuid), then the
/// capability sets. Done before the container is reported ready, as runc
/// does, so nothing that runs later in the init (the wait for `start`, the
/// startContainer hooks) holds more than the container will.
pub fn drop_privileges(process: &Process, seccomp: &Seccomp) -> Result<()> {
    let (sets, notes) = capabilities::from_spec(process.capabilities().as_ref());
    for n in notes {
        tracing::warn!("capability {n} ignored");
    }
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(process.user().umask().unwrap_or(0o022) as libc::mode_t) };

    // chdir while still root: the directory may be closed to the user, in
    // which case it is tried again after setuid (as runc does).
    let cwd_done = chdir_checked(process.cwd()).is_ok();

    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, so it has
    // to happen before the capabilities go (runc's order); everything after
    // it must then be allowed by the filter, as runc's own steps must be:
    // capset, setgroups, setres[ug]id, prctl, then the fifo's openat and
    // write, close_range and execve.
    if !process.no_new_privileges().unwrap_or(false) {
        seccomp.load()?;
    }
    apply_caps(&sets)?;
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    set_user(process)?;
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    apply_caps_after_setuid(&sets)?;
    if !cwd_done {
        chdir_checked(process.cwd())?;
    }
    Ok(())
}

/// Sets a signal's disposition to the default with the raw system call
/// (glibc refuses its own internal signals, 32 and 33). Best effort.
fn default_disposition(sig: i32) {
    // The kernel's struct sigaction: handler, flags, restorer, mask.
    let act = [0u64; 4];
    // SAFETY: rt_sigaction reads a zeroed (SIG_DFL) kernel sigaction.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            act.as_ptr(),
            std::ptr::null_mut::<u64>(),
            8usize,
        )
    };
}

/// Puts back the default disposition of every signal the runtime's caller
/// left ignored, but SIGHUP and SIGINT (runc's Go init installs handlers
/// for all others, which execve then resets; Go keeps those two ignored)
/// and SIGPIPE, which the init still needs ignored (see [`exec`]).
pub fn reset_signal_dispositions() {
    let max = libc::SIGRTMAX();
    for sig in 1..=max {
        if [
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGPIPE,
        ]
        .contains(&sig)
        {
            continue;
        }
        let mut old = [0u64; 4];
        // SAFETY: rt_sigaction with no new action only reads the current one.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                std::ptr::null::<u64>(),
                old.as_mut_ptr(),
                8usize,
            )
        };
        if rc == 0 && old[0] == libc::SIG_IGN as u64 {
            default_disposition(sig);
        }
    }
}

/// What execve needs, made before the last steps so that nothing between
/// the seccomp filter and execve allocates or touches a file.
pub struct Program {
    prog: CString,
    args: Vec<CString>,
    env: Vec<CString>,
}

impl Program {
    pub fn new(process: &Process, program: &Path) -> Result<Program> {
        let args = process
            .args()
            .iter()
            .flatten()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()
            .context("an argument holds a NUL byte")?;
        let env = process
            .env()
            .iter()
            .flatten()
            .map(|e| CString::new(e.as_bytes()))
            .collect::<Result<_, _>>()
            .context("an environment variable holds a NUL byte")?;
        let prog = CString::new(program.as_os_str().as_bytes())?;
        Ok(Program { prog, args, env })
    }
}

/// Runs the user program. Every runtime fd but `keep` (the fifo is
/// close-on-exec, so execve closes it) is closed first; then no_new_privs and the seccomp
/// filter, as the very last step before execve, so the filter only has to
/// allow execve itself (runc's order). Returns only on error.
pub fn exec(
    process: &Process,
    program: &Program,
    seccomp: &Seccomp,
    keep: Keep,
) -> Result<std::convert::Infallible> {
    // Rust ignores SIGPIPE in its programs, and an ignored signal stays
    // ignored across execve: the user program gets the default back, as
    // under runc (best effort: a filter loaded already may deny the call).
    default_disposition(libc::SIGPIPE);
    close_runtime_fds(keep)?;
    if process.no_new_privileges().unwrap_or(false) {
        // SAFETY: prctl with constant arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error()).context("set no_new_privs");
        }
        seccomp.load()?;
    }
    let err = nix::unistd::execve(&program.prog, &program.args, &program.env).unwrap_err();
    Err(anyhow!("exec {:?}: {err}", program.prog))
}
