//! A shim started ahead of the start that needs it.
//!
//! Starting a shim is an execve of rrund (14 MB, linked statically) and the
//! C library's start: 1.5–3 ms on a 2-core VM, where each process's start
//! probes the CPU's caches through CPUID, which traps. The daemon keeps one
//! shim started and waiting (`daemon::containers::shim_pool`); a start hands
//! it its arguments instead of starting one.
//!
//! Protocol: the spare runs as `<rrund> shim <MARK> <room>` with stdin a
//! pipe from the daemon, stdout the pipe its start report will go through,
//! and stderr /dev/null. It reads one line, the JSON array of the
//! arguments a shim is started with ([`ShimArgs::to_args`]), then rewrites
//! its command line to them, so that it is `<rrund> shim <id> …` as any
//! shim (the daemon finds a container's shim again by it: `is_shim_of`),
//! points stderr at `<dir>/shim.log` and stdin at /dev/null, and is that
//! shim. At EOF without a line (the daemon is gone) it exits.

use std::io::BufRead;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{ShimArgs, SUBCOMMAND};

/// The spare's argument where a shim's container id is (64 hex digits).
pub const MARK: &str = "spare----------------------------------------------------------";
/// The room the spare's command line keeps for the arguments it is given.
const ROOM: usize = 4096;

/// The arguments a spare is started with, after rrund's path.
pub fn spare_args() -> Vec<String> {
    vec![SUBCOMMAND.into(), MARK.into(), "-".repeat(ROOM)]
}

/// The command line a spare started from `exe` would have as the shim of
/// `args` (argv[0] is `exe`, as the daemon starts it), when it fits in the
/// room the spare keeps.
pub fn command_line(exe: &Path, args: &[String]) -> Option<Vec<u8>> {
    let mut line = exe.as_os_str().as_encoded_bytes().to_vec();
    line.push(0);
    for a in args {
        line.extend_from_slice(a.as_bytes());
        line.push(0);
    }
    // The spare's own command line: `exe`, then `spare_args()`, each with
    // its NUL.
    let room = exe.as_os_str().len() + SUBCOMMAND.len() + MARK.len() + ROOM + 4;
    (line.len() <= room).then_some(line)
}

/// The spare: waits for its arguments, then runs as the shim they name.
pub fn main() -> i32 {
    // What a start would look up that does not depend on its container.
    crate::linux::cgroup_self_move::warm();
    crate::oci::state::owner();
    // sha2's CPU feature detection (CPUID, which traps in a VM), made at
    // its first digest (the seccomp program cache's), which a perf profile
    // showed on the start's path.
    std::hint::black_box(<sha2::Sha256 as sha2::Digest>::digest(b""));
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) => return 0,
        Ok(_) => {}
        Err(e) => {
            eprintln!("rrund shim (spare): {e}");
            return 1;
        }
    }
    let Some(args) = serde_json::from_str::<Vec<String>>(line.trim())
        .ok()
        .filter(|a| a.first().map(String::as_str) == Some(SUBCOMMAND))
    else {
        eprintln!("rrund shim (spare): bad arguments {line:?}");
        return 2;
    };
    let Some(shim_args) = ShimArgs::parse(&args[1..]) else {
        eprintln!("rrund shim (spare): bad arguments {args:?}");
        return 2;
    };
    if let Err(e) = become_shim_of(&args, &shim_args.dir) {
        eprintln!("rrund shim {}: {e:#}", shim_args.id);
        return 1;
    }
    super::main(shim_args)
}

/// The command line, stderr and stdin of the shim `args` start.
fn become_shim_of(args: &[String], dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::os::fd::AsRawFd;
    let log = std::fs::File::options()
        .append(true)
        .open(dir.join("shim.log"))
        .context("open shim.log")?;
    nix::unistd::dup2(log.as_raw_fd(), 2).context("stderr to shim.log")?;
    let null = std::fs::File::open("/dev/null").context("open /dev/null")?;
    nix::unistd::dup2(null.as_raw_fd(), 0).context("stdin from /dev/null")?;
    let exe = std::env::args_os().next().unwrap_or_default();
    let line = command_line(Path::new(&exe), args).context("the arguments do not fit")?;
    set_command_line(&line).context("rewrite the command line")
}

/// Writes `line` over this process's argument area (what
/// /proc/<pid>/cmdline shows), zero-filling the rest, as setproctitle does.
fn set_command_line(line: &[u8]) -> std::io::Result<()> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let area = crate::oci::state::parse_stat(&stat).and_then(|(_, f)| {
        let field = |i: usize| f.get(i)?.parse::<u64>().ok();
        Some((field(45)?, field(46)?))
    });
    let Some((start, end)) = area else {
        return Err(std::io::Error::other("no argument area in /proc/self/stat"));
    };
    let room = end.saturating_sub(start) as usize;
    if line.len() > room {
        return Err(std::io::Error::other("the command line does not fit"));
    }
    let mut area = line.to_vec();
    area.resize(room, 0);
    let mem = std::fs::File::options()
        .write(true)
        .open("/proc/self/mem")?;
    mem.write_all_at(&area, start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shims_command_line_fits_the_room_of_a_spare() {
        let exe = Path::new("/usr/local/bin/rrund");
        let args: Vec<String> = [SUBCOMMAND, &"a".repeat(64), "/var/lib/rrun/containers/x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let line = command_line(exe, &args).unwrap();
        assert!(line.starts_with(b"/usr/local/bin/rrund\0shim\0aaaa"));
        assert!(line.ends_with(b"/containers/x\0"));
        let long = vec!["x".repeat(ROOM + 100)];
        assert_eq!(command_line(exe, &long), None);
        // The room is the spare's own command line, to the byte.
        let mut own = spare_args();
        assert!(command_line(exe, &own).is_some());
        own[2].push('-');
        assert_eq!(command_line(exe, &own), None);
    }
}
