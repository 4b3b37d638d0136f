//! `docker-init`: the reaper `--init` runs as the container's pid 1.
//!
//! `docker-init -- <cmd> [args…]` starts the command as its child,
//! forwards every signal it receives to that child, reaps every zombie the
//! container leaves (orphans are re-parented to pid 1), and exits with the
//! child's exit code (128 + signal when the child was killed).
//!
//! It is bind-mounted into images that may have no libc at all, so it is
//! built statically by `build.rs` with nothing but std: the few libc calls
//! std does not wrap are declared here.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// glibc's `sigset_t` (1024 bits).
#[repr(C)]
struct SigSet([u64; 16]);

/// `siginfo_t` is 128 bytes; only `si_signo` (the first int) is read.
#[repr(C)]
struct SigInfo {
    signo: i32,
    _rest: [i32; 31],
}

const SIG_SETMASK: i32 = 2;
const SIGCHLD: i32 = 17;
const WNOHANG: i32 = 1;
const ECHILD: i32 = 10;

extern "C" {
    fn sigfillset(set: *mut SigSet) -> i32;
    fn sigprocmask(how: i32, set: *const SigSet, old: *mut SigSet) -> i32;
    fn sigwaitinfo(set: *const SigSet, info: *mut SigInfo) -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    fn kill(pid: i32, sig: i32) -> i32;
    fn __errno_location() -> *mut i32;
}

fn errno() -> i32 {
    // SAFETY: glibc's errno location is valid for the calling thread.
    unsafe { *__errno_location() }
}

/// A wait status as a shell exit code.
fn exit_code(status: i32) -> i32 {
    let sig = status & 0x7f;
    if sig == 0 {
        (status >> 8) & 0xff
    } else {
        128 + sig
    }
}

/// Collects every exited child; returns the child's exit code once it is
/// among them.
fn reap(child: i32) -> Option<i32> {
    let mut code = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into our local.
        let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
        if pid <= 0 {
            if pid < 0 && errno() != ECHILD {
                eprintln!("docker-init: waitpid: error {}", errno());
            }
            return code;
        }
        if pid == child {
            code = Some(exit_code(status));
        }
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--") {
        args.remove(0);
    }
    if args.is_empty() {
        eprintln!("usage: docker-init -- <command> [args…]");
        std::process::exit(1);
    }
    let mut all = SigSet([0; 16]);
    // Block every signal before the child exists, so none is lost between
    // its start and our first wait; the child unblocks them before its exec.
    // SAFETY: plain libc calls on a local set.
    unsafe {
        sigfillset(&mut all);
        sigprocmask(SIG_SETMASK, &all, std::ptr::null_mut());
    }
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]);
    // SAFETY: the closure only calls async-signal-safe sigprocmask.
    unsafe {
        cmd.pre_exec(|| {
            // The child starts with nothing blocked, whatever std does.
            let none = SigSet([0; 16]);
            sigprocmask(SIG_SETMASK, &none, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c.id() as i32,
        Err(e) => {
            eprintln!("docker-init: exec {} failed: {e}", args[0]);
            let code = match e.kind() {
                std::io::ErrorKind::NotFound => 127,
                _ => 126,
            };
            std::process::exit(code);
        }
    };
    loop {
        let mut info = SigInfo {
            signo: 0,
            _rest: [0; 31],
        };
        // SAFETY: waits for one of the blocked signals; fills our local.
        let sig = unsafe { sigwaitinfo(&all, &mut info) };
        if sig < 0 {
            continue;
        }
        if sig == SIGCHLD {
            if let Some(code) = reap(child) {
                std::process::exit(code);
            }
        } else {
            // SAFETY: signals our own child.
            unsafe { kill(child, sig) };
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wait_statuses_become_exit_codes() {
        assert_eq!(super::exit_code(3 << 8), 3);
        assert_eq!(super::exit_code(15), 143);
        assert_eq!(super::exit_code(0), 0);
    }
}
