//! Size-based rotation of the json-file log, as Docker's `max-size` and
//! `max-file` log options do: before a line would take the file past
//! `max-size`, `<log>.{n-1}` → `<log>.n`, …, `<log>` → `<log>.1`, and a new
//! `<log>` starts (with `max-file=1` the log is cut back to empty). Readers
//! take the rotated files oldest first ([`rotated_files`]).
//!
//! The options come from the shim's configuration
//! ([`crate::state::ShimConfig`]), where the daemon put the container's
//! `HostConfig.LogConfig` with daemon.json's `log-opts` as defaults.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The shim's log rotation settings (one container per shim).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rotation {
    pub path: PathBuf,
    /// Bytes; 0 means no rotation.
    pub max_size: u64,
    /// How many files in all, the current one included (at least 1).
    pub max_file: u32,
}

static ROTATION: OnceLock<Rotation> = OnceLock::new();

/// The rotation settings from log options (`max-size`, `max-file`).
pub fn rotation(path: &Path, cfg: &BTreeMap<String, String>) -> Result<Rotation, String> {
    let max_size = match cfg.get("max-size") {
        None => 0,
        Some(s) => {
            rrun_units::ram_in_bytes(s).map_err(|e| format!("invalid max-size: {e}"))? as u64
        }
    };
    let max_file = match cfg.get("max-file") {
        None => 1,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("invalid max-file: {s}"))?,
    };
    // `max-file` without `max-size` is accepted and has no effect, as
    // Docker's json-file driver treats it.
    Ok(Rotation {
        path: path.to_path_buf(),
        max_size,
        max_file,
    })
}

/// Sets the shim's rotation from the container's log options; called once
/// by the shim before it writes.
pub fn configure(log_opts: &BTreeMap<String, String>, log: &Path) {
    if let Ok(r) = rotation(log, log_opts) {
        let _ = ROTATION.set(r);
    }
}

/// The rotation this process configured, to hand on to `rrun-shim`.
pub fn current() -> Option<Rotation> {
    ROTATION.get().cloned()
}

/// Sets the rotation handed on by the shim (once; later calls are ignored).
pub fn set(r: Rotation) {
    let _ = ROTATION.set(r);
}

/// Rotates before `len` more bytes would take the log past `max-size`.
pub fn before_write(log: &mut File, len: usize) {
    let Some(r) = ROTATION.get() else { return };
    if r.max_size == 0 {
        return;
    }
    let size = log.metadata().map(|m| m.len()).unwrap_or(0);
    if size == 0 || size + len as u64 <= r.max_size {
        return;
    }
    match rotate(r) {
        Ok(f) => *log = f,
        Err(e) => note(format_args!("rotate {}: {e}", r.path.display())),
    }
}

/// Lines the log could not take since the last one it did (a full disk).
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Appends one whole line to the log. A write that fails (a full disk)
/// leaves no torn line behind: what part of it got in is cut off again.
/// The first failure is reported on the shim's stderr (`shim.log`), and,
/// once the log takes lines again, how many were lost and why.
pub fn append_line(log: &mut File, line: &[u8]) {
    let mut done = 0;
    let failed = loop {
        if done == line.len() {
            break None;
        }
        match log.write(&line[done..]) {
            Ok(0) => break Some(std::io::Error::from(std::io::ErrorKind::WriteZero)),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Some(e),
        }
    };
    match failed {
        None => {
            let lost = DROPPED.swap(0, Ordering::Relaxed);
            if lost > 0 {
                note(format_args!(
                    "log: writing again; {lost} lines of output were lost"
                ));
            }
        }
        Some(e) => {
            if done > 0 {
                if let Ok(m) = log.metadata() {
                    let _ = log.set_len(m.len().saturating_sub(done as u64));
                }
            }
            if DROPPED.fetch_add(1, Ordering::Relaxed) == 0 {
                note(format_args!(
                    "log: {e}; the container's output is lost until it can be written"
                ));
            }
        }
    }
}

/// A line on the shim's stderr (`shim.log`, on the same disk as the log):
/// never `eprintln!`, which panics when the write fails, and a shim that
/// panics takes its container with it.
fn note(msg: std::fmt::Arguments) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// Shifts the files and opens a new, empty log.
fn rotate(r: &Rotation) -> std::io::Result<File> {
    let numbered = |i: u32| PathBuf::from(format!("{}.{i}", r.path.display()));
    if r.max_file > 1 {
        let _ = std::fs::remove_file(numbered(r.max_file - 1));
        for i in (1..r.max_file - 1).rev() {
            if numbered(i).exists() {
                std::fs::rename(numbered(i), numbered(i + 1))?;
            }
        }
        std::fs::rename(&r.path, numbered(1))?;
    }
    File::options()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&r.path)
        .and_then(|f| {
            // Appending from here on, like the file it replaces.
            drop(f);
            File::options().append(true).open(&r.path)
        })
}

/// The rotated files of `log` that exist, oldest first.
pub fn rotated_files(log: &Path) -> Vec<PathBuf> {
    let mut v: Vec<(u32, PathBuf)> = Vec::new();
    let (Some(dir), Some(name)) = (log.parent(), log.file_name().and_then(|n| n.to_str())) else {
        return vec![];
    };
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let n = e.file_name();
        let Some(n) = n.to_str() else { continue };
        if let Some(i) = n
            .strip_prefix(name)
            .and_then(|r| r.strip_prefix('.'))
            .and_then(|r| r.parse::<u32>().ok())
        {
            v.push((i, e.path()));
        }
    }
    v.sort_by_key(|e| std::cmp::Reverse(e.0));
    v.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_options() {
        let cfg: BTreeMap<String, String> = [
            ("max-size".into(), "1k".into()),
            ("max-file".into(), "3".into()),
        ]
        .into();
        let r = rotation(Path::new("/l"), &cfg).unwrap();
        assert_eq!((r.max_size, r.max_file), (1024, 3));
        let alone: BTreeMap<String, String> = [("max-file".into(), "3".into())].into();
        assert_eq!(
            rotation(Path::new("/l"), &alone).unwrap().max_size,
            0,
            "never rotates"
        );
        let bad: BTreeMap<String, String> = [("max-size".into(), "lots".into())].into();
        assert!(rotation(Path::new("/l"), &bad).is_err());
    }

    #[test]
    fn rotation_keeps_max_file_files() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("c-json.log");
        let r = Rotation {
            path: path.clone(),
            max_size: 10,
            max_file: 3,
        };
        std::fs::write(&path, "0").unwrap();
        for i in 1..=4 {
            rotate(&r).unwrap();
            std::fs::write(&path, i.to_string()).unwrap();
        }
        let files = rotated_files(&path);
        assert_eq!(files.len(), 2);
        assert_eq!(std::fs::read_to_string(&files[0]).unwrap(), "2");
        assert_eq!(std::fs::read_to_string(&files[1]).unwrap(), "3");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4");
        let one = Rotation { max_file: 1, ..r };
        rotate(&one).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }
}
