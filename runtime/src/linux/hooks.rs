//! OCI hooks: each gets the container's state on stdin, runs with its
//! `args`, `env` and `timeout`, and fails when it exits non-zero or runs out
//! of time.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs hooks in order, stopping at the first failure.
pub fn run_all(kind: &str, hooks: Option<&Vec<Hook>>, state: &str) -> Result<()> {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        run(h, state).with_context(|| format!("{kind} hook #{i} ({})", h.path().display()))?;
    }
    Ok(())
}

/// Runs hooks in order, reporting failures without stopping (poststart
/// and poststop hooks: the spec says their failure is only logged).
pub fn run_all_warn(kind: &str, hooks: Option<&Vec<Hook>>, state: &str) {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        if let Err(e) = run(h, state) {
            tracing::warn!("{kind} hook #{i} ({}) failed: {e:#}", h.path().display());
            eprintln!(
                "warning: {kind} hook #{i} ({}) failed: {e:#}",
                h.path().display()
            );
        }
    }
}

fn run(h: &Hook, state: &str) -> Result<()> {
    let mut cmd = Command::new(h.path());
    let args = h.args().as_deref().unwrap_or_default();
    if let Some(arg0) = args.first() {
        cmd.arg0(arg0);
    }
    cmd.args(args.iter().skip(1));
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    // stderr goes to a memfd, not a pipe: a hook writing more than a pipe
    // holds would otherwise block until its timeout (or forever).
    let errfile = std::fs::File::from(nix::sys::memfd::memfd_create(
        c"rrun-hook-stderr",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )?);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::from(errfile.try_clone()?));
    let mut child = cmd.spawn().context("start")?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its stdin; that is its right.
        let _ = stdin.write_all(state.as_bytes());
    }
    let timeout = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64));
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {}s", timeout.unwrap_or_default().as_secs());
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    if !status.success() {
        use std::io::{Read, Seek};
        let mut err = String::new();
        let mut f = errfile;
        f.rewind()?;
        // The last few KiB say what went wrong.
        let len = f.metadata()?.len();
        f.seek(std::io::SeekFrom::Start(len.saturating_sub(4096)))?;
        let _ = f.read_to_string(&mut err);
        bail!("{status}: {}", err.trim());
    }
    Ok(())
}
