//! What the shim and the daemon share, below both: the container directory's
//! files, atomic writes, the shim's typed configuration and the log framing.
//! The shim imports nothing of the daemon; it reads only what is here.
//!
//! `<data-root>/containers/<id>/` holds (the daemon's own files are described
//! in [`crate::daemon`]):
//!
//! | file | written by | read by |
//! | --- | --- | --- |
//! | [`CONTAINER_FILE`] | daemon, atomically | daemon |
//! | [`SHIM_CONFIG_FILE`] | daemon, atomically, before each start | shim |
//! | `exit.json`, `shim.pid`, `init.pid` | shim ([`crate::shim`]) | daemon |

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use rrun_shim::logs;

/// The daemon's record of a container.
pub const CONTAINER_FILE: &str = "container.json";
/// The shim's configuration ([`ShimConfig`]).
pub const SHIM_CONFIG_FILE: &str = "shim.json";

/// What the shim needs to know of its container, written by the daemon
/// before it starts the shim.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShimConfig {
    /// `Config.OpenStdin`: keep the container's stdin open for attach.
    pub open_stdin: bool,
    /// `Config.StdinOnce`: a client's EOF closes the container's stdin
    /// (without it, the pipe waits for the next attach).
    #[serde(default)]
    pub stdin_once: bool,
    /// `Config.Tty`: the container gets a terminal.
    pub tty: bool,
    /// The json-file log driver's options (`max-size`, `max-file`, …),
    /// daemon.json's defaults already merged in.
    pub log_opts: BTreeMap<String, String>,
}

impl ShimConfig {
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let data = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        // Written again before each start: nothing to keep over a crash.
        replace_unsynced(&dir.join(SHIM_CONFIG_FILE), &data)
    }

    /// The container's shim configuration; the defaults when it has none.
    pub fn load(dir: &Path) -> ShimConfig {
        std::fs::read(dir.join(SHIM_CONFIG_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

pub use rrun_shim::{atomic_write, pid_alive, replace_unsynced};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_config_round_trips_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ShimConfig::load(dir.path()), ShimConfig::default());
        let c = ShimConfig {
            open_stdin: true,
            stdin_once: true,
            tty: false,
            log_opts: [("max-size".to_string(), "1m".to_string())].into(),
        };
        c.save(dir.path()).unwrap();
        assert_eq!(ShimConfig::load(dir.path()), c);
    }
}
