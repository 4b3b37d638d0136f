//! Starting `rrund` when no daemon answers, so a first `rrun run` on a new
//! machine just works. Said once on stderr. `RRUN_DATA_ROOT`,
//! `RRUN_EXEC_ROOT` and `RRUN_CONFIG_FILE` are passed on to the daemon as
//! `--data-root`, `--exec-root` and `--config-file`; `RRUN_NO_AUTOSTART=1`
//! turns it off.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started daemon has to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The rrund next to this rrun, else the one in PATH.
fn rrund() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("rrund")))
        .filter(|p| p.exists());
    beside.or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("rrund"))
                .find(|p| p.exists())
        })
    })
}

/// The daemon's arguments: the same host, and the pass-through variables.
pub fn daemon_args(host: &str, env: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut args = vec!["-H".to_string(), host.to_string()];
    for (var, flag) in [
        ("RRUN_DATA_ROOT", "--data-root"),
        ("RRUN_EXEC_ROOT", "--exec-root"),
        ("RRUN_CONFIG_FILE", "--config-file"),
    ] {
        if let Some(v) = env(var).filter(|v| !v.is_empty()) {
            args.push(flag.into());
            args.push(v);
        }
    }
    args
}

fn answers(socket: &Path) -> bool {
    super::client::Client::new(socket.to_path_buf()).is_ok_and(|c| c.ping(Duration::from_secs(2)))
}

/// Starts rrund in the background if nothing answers on `socket`; failures
/// are left for the request that follows to report.
pub fn ensure(socket: &Path, host: &str) {
    let off = std::env::var("RRUN_NO_AUTOSTART").is_ok_and(|v| !v.is_empty() && v != "0");
    // Only for the default socket, or where the caller said which state the
    // daemon is to use: a script that starts its own rrund on a socket of
    // its own and polls it must never get a default daemon (default state,
    // the host's network) in the moment before its own one listens.
    let explicit = std::env::var_os("RRUN_DATA_ROOT").is_some();
    let default =
        crate::apimodel::socket_path(crate::apimodel::DEFAULT_HOST).is_ok_and(|d| d == socket);
    if !default && !explicit {
        return;
    }
    // Something listens (a daemon, or one starting up): leave it be.
    if off || UnixStream::connect(socket).is_ok() {
        return;
    }
    // The daemon needs root; without it the usual "Cannot connect" stands.
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let Some(exe) = rrund() else { return };
    let args = daemon_args(host, |v| std::env::var(v).ok());
    let log_path = socket.with_extension("log");
    if let Some(dir) = socket.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&log_path)
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let mut cmd = Command::new(&exe);
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; the daemon leaves our session so
    // the terminal's signals and hangup never reach it.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let Ok(mut child) = cmd.spawn() else { return };
    eprintln!(
        "rrun: no daemon answered on unix://{}; started {} in the background (pid {}, log {})",
        socket.display(),
        exe.display(),
        child.id(),
        log_path.display()
    );
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            eprintln!("rrun: rrund exited at once; see {}", log_path.display());
            return;
        }
        if answers(socket) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_become_daemon_flags() {
        let env = |v: &str| match v {
            "RRUN_DATA_ROOT" => Some("/tmp/d".to_string()),
            "RRUN_EXEC_ROOT" => Some(String::new()),
            _ => None,
        };
        assert_eq!(
            daemon_args("unix:///tmp/s.sock", env),
            vec!["-H", "unix:///tmp/s.sock", "--data-root", "/tmp/d"]
        );
    }
}
