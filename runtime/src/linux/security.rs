//! The last steps before the user program runs: resource limits, user and
//! groups, capabilities, no_new_privs, seccomp, the working directory, and
//! closing every descriptor of the runtime. Order matters and is explained
//! at each step.

use crate::spec::capabilities::{self, CapSets};
use anyhow::{anyhow, bail, Context, Result};
use caps::CapSet;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{Process, Spec};
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

fn load_seccomp(spec: &Spec) -> Result<()> {
    if let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        let ctx = crate::spec::seccomp::compile(s)?;
        ctx.load().context("load the seccomp filter")?;
    }
    Ok(())
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
    // Effective before permitted: the new effective set must stay inside the
    // permitted set at every step.
    caps::set(None, CapSet::Effective, &sets.effective).context("set effective capabilities")?;
    caps::set(None, CapSet::Permitted, &sets.permitted).context("set permitted capabilities")?;
    caps::set(None, CapSet::Inheritable, &sets.inheritable)
        .context("set inheritable capabilities")?;
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

/// Marks every descriptor above stderr close-on-exec, so nothing of the
/// runtime reaches the container (CVE-2024-21626: a leaked directory fd let
/// a container set its cwd to a host directory through /proc/self/fd).
pub fn close_runtime_fds() -> Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes flags of our own descriptors.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.11: walk the fd table.
    for entry in std::fs::read_dir("/proc/self/fd").context("list /proc/self/fd")? {
        let fd: i32 = entry?.file_name().to_string_lossy().parse().unwrap_or(-1);
        if fd > 2 {
            // SAFETY: setting FD_CLOEXEC on an fd number is harmless even if
            // the fd was the directory iterator's own.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
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

/// Checks, before the container is reported ready, that its cwd can be
/// entered and lies inside its root, so `create` fails with the reason. A
/// directory closed to root is left for the final check after setuid.
pub fn check_cwd(process: &Process) -> Result<()> {
    match chdir_checked(process.cwd()) {
        Err(e) if e.root_cause().downcast_ref::<nix::Error>() == Some(&nix::Error::EACCES) => {
            Ok(())
        }
        r => r,
    }
}

/// Runs the user program: drops privileges in the only safe order, then
/// execve. Returns only on error.
pub fn finalize_and_exec(
    spec: &Spec,
    process: &Process,
    program: &Path,
) -> Result<std::convert::Infallible> {
    let (sets, notes) = capabilities::from_spec(process.capabilities().as_ref());
    for n in notes {
        tracing::warn!("capability {n} ignored");
    }
    let nnp = process.no_new_privileges().unwrap_or(false);

    // SAFETY: umask cannot fail.
    unsafe { libc::umask(process.user().umask().unwrap_or(0o022) as libc::mode_t) };

    // chdir while still root: the directory may be closed to the user, in
    // which case it is tried again after setuid (as runc does).
    let cwd_done = chdir_checked(process.cwd()).is_ok();

    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, so it has
    // to happen before the capabilities go; everything after it must then
    // be allowed by the filter.
    if !nnp {
        load_seccomp(spec)?;
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
    if nnp {
        // SAFETY: as above.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error()).context("set no_new_privs");
        }
        // Last, so the filter needs to allow only execve from here on.
        load_seccomp(spec)?;
    }
    close_runtime_fds()?;

    let args: Vec<CString> = process
        .args()
        .iter()
        .flatten()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .context("an argument holds a NUL byte")?;
    let env: Vec<CString> = process
        .env()
        .iter()
        .flatten()
        .map(|e| CString::new(e.as_bytes()))
        .collect::<Result<_, _>>()
        .context("an environment variable holds a NUL byte")?;
    let prog = CString::new(program.as_os_str().as_bytes())?;
    let err = nix::unistd::execve(&prog, &args, &env).unwrap_err();
    Err(anyhow!("exec {:?}: {err}", program.display()))
}
