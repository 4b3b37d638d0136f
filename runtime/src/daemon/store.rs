//! Containers on disk: `<data-root>/containers/<id>/container.json`, written
//! atomically (temp file, fsync, rename, fsync of the directory).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::models::{ContainerConfig, HostConfig};

/// Everything the daemon knows of a container, as saved.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    pub created: String,
    /// The image as the user named it.
    pub image_name: String,
    /// The image id (`sha256:…`).
    pub image: String,
    /// The image's manifest digest, to find its snapshots again.
    pub manifest: String,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub state: State,
    /// Pid of the shim while the container runs.
    #[serde(default)]
    pub shim_pid: i32,
    /// `Path` and `Args` as Docker reports them.
    pub path: String,
    pub args: Vec<String>,
    /// The networks it is connected to, in attach order (the first is the
    /// one `NetworkMode` names); kept while stopped, as Docker does.
    #[serde(default)]
    pub networks: Vec<NetworkRequest>,
    /// Its mounts as planned at create (volumes, binds, tmpfs).
    #[serde(default)]
    pub mounts: Vec<volumes::plan::PlannedMount>,
    /// The image's content was copied into its new volumes (first start).
    #[serde(default)]
    pub copied_up: bool,
    /// Published ports with the host ports chosen at start.
    #[serde(default)]
    pub ports: Vec<netd::store::PortBinding>,
    /// Restart-policy bookkeeping: [`super::restart::Restarts`].
    #[serde(default)]
    pub restarts: super::restart::Restarts,
}

/// One network a container is connected to, and how.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkRequest {
    /// The network's name.
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip`.
    #[serde(default, rename = "IPv4Address")]
    pub ipv4: Option<std::net::Ipv4Addr>,
    /// `--ip6`.
    #[serde(
        default,
        rename = "IPv6Address",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6: Option<std::net::Ipv6Addr>,
    /// `--link`s on this network, their targets checked at create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<netd::store::Link>,
    /// `--mac-address` on this network, checked at create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<[u8; 6]>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    /// created, running, exited, removing, dead
    pub status: String,
    pub running: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(default, rename = "OOMKilled")]
    pub oom_killed: bool,
    /// `State.Health` of a container with a healthcheck, once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<super::containers::health::Health>,
}

pub use crate::state::{atomic_write, pid_alive, CONTAINER_FILE};
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub fn containers_dir(data_root: &Path) -> PathBuf {
    data_root.join("containers")
}

/// Writes a new container's record: it exists once this returns.
///
/// An auto-remove container's records are never synced ([`durable`]).
pub fn save(data_root: &Path, c: &Container) -> std::io::Result<()> {
    let dir = containers_dir(data_root).join(&c.id);
    let path = dir.join(CONTAINER_FILE);
    let data = serde_json::to_vec_pretty(c).map_err(std::io::Error::other)?;
    match durable(c) {
        true => atomic_write(&path, &data),
        false => {
            std::fs::File::create(dir.join(AUTO_REMOVE_MARK))?;
            rrun_shim::replace_unsynced(&path, &data)
        }
    }
}

/// An empty file beside an auto-remove container's record, made before
/// it: a host crash can leave the unsynced record empty or torn, never
/// this file missing once the record's name is there (a journaled file
/// system commits the two names in order). Start-up removes a container
/// whose record does not load when this file is there.
pub const AUTO_REMOVE_MARK: &str = ".auto-remove";

/// Replaces an existing container's record (a start, an exit, any
/// change): whole, the new one or, after a host crash before the rename
/// is committed, the old one (`rrun_shim::replace_synced`). A directory
/// sync less on every start and exit.
pub fn resave(data_root: &Path, c: &Container) -> std::io::Result<()> {
    let dir = containers_dir(data_root).join(&c.id);
    let path = dir.join(CONTAINER_FILE);
    let data = serde_json::to_vec_pretty(c).map_err(std::io::Error::other)?;
    match durable(c) {
        true => rrun_shim::replace_synced(&path, &data),
        false => rrun_shim::replace_unsynced(&path, &data),
    }
}

/// Whether a container's record must survive a crash of the host: not an
/// auto-remove container's (`--rm`). Whatever of it a host crash leaves,
/// start-up removes the container, as Docker's restore does: no record (a
/// half-made directory), a record that does not load ([`AUTO_REMOVE_MARK`]),
/// a record of a container not running, or one running whose shim is
/// gone (its exit is recorded, then it is removed). Not its anonymous
/// volumes when the record is lost: those stay, as unused volumes.
/// A daemon crash loses nothing unsynced (the page cache keeps it). So a
/// `run --rm` writes its record three times without waiting for the disk
/// (0.2 to 4 ms a sync on the benchmark's host, more when the shim syncs
/// beside it).
pub fn durable(c: &Container) -> bool {
    !c.host_config.auto_remove
}

/// The containers on disk, sorted by what start-up does with them.
#[derive(Default)]
pub struct OnDisk {
    pub containers: Vec<Container>,
    /// Directories without a record: a create that crashed before saving
    /// it, or a removal that crashed after deleting it. Removed.
    pub half_made: Vec<PathBuf>,
    /// Directories whose record is there but does not parse (torn or
    /// damaged outside rrun), with the reason. Left alone: the record
    /// cannot say what the directory holds, and it may be the user's data.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Every saved container, and the directories that are not one.
pub fn load_all(data_root: &Path) -> OnDisk {
    let mut disk = OnDisk::default();
    let Ok(rd) = std::fs::read_dir(containers_dir(data_root)) else {
        return disk;
    };
    for e in rd.flatten() {
        let p = e.path();
        match std::fs::read(p.join(CONTAINER_FILE)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => disk.half_made.push(p),
            Err(e) => disk.unreadable.push((p, e.to_string())),
            Ok(b) => match serde_json::from_slice::<Container>(&b) {
                Ok(c) => disk.containers.push(c),
                // An auto-remove container's unsynced record, torn by a
                // host crash: removed as it would have been.
                Err(_) if p.join(AUTO_REMOVE_MARK).exists() => disk.half_made.push(p),
                Err(e) => disk.unreadable.push((p, e.to_string())),
            },
        }
    }
    disk
}

/// True if `pid` is a shim of container `id` (guards against pid reuse).
pub fn is_shim_of(pid: i32, id: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            let args: Vec<&[u8]> = b.split(|c| *c == 0).collect();
            args.len() > 2 && args[1] == b"shim" && args[2] == id.as_bytes()
        })
        .unwrap_or(false)
}

/// A new 64-hex-digit container id.
pub fn new_id() -> String {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).expect("getrandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Checks a container name the way Docker does: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A Docker-style random name (`adjective_surname`).
pub fn random_name() -> String {
    const LEFT: &[&str] = &[
        "admiring",
        "brave",
        "clever",
        "dazzling",
        "eager",
        "festive",
        "gallant",
        "happy",
        "jolly",
        "keen",
        "lucid",
        "modest",
        "nifty",
        "optimistic",
        "quirky",
        "serene",
    ];
    const RIGHT: &[&str] = &[
        "turing", "hopper", "lovelace", "curie", "noether", "ritchie", "thompson", "torvalds",
        "hamilton", "knuth", "liskov", "dijkstra", "babbage", "shannon", "perlman", "wozniak",
    ];
    let mut b = [0u8; 2];
    getrandom::getrandom(&mut b).expect("getrandom");
    format!(
        "{}_{}",
        LEFT[b[0] as usize % LEFT.len()],
        RIGHT[b[1] as usize % RIGHT.len()]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_docker() {
        assert!(valid_name("web-1"));
        assert!(valid_name("a.b_c"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a"));
        assert!(!valid_name("a/b"));
        assert!(valid_name(&random_name()));
    }

    #[test]
    fn ids_are_64_hex() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn a_missing_record_is_half_made_and_a_torn_one_unreadable() {
        let root = tempfile::tempdir().unwrap();
        let dir = containers_dir(root.path());
        std::fs::create_dir_all(dir.join("half")).unwrap();
        std::fs::create_dir_all(dir.join("torn")).unwrap();
        std::fs::write(dir.join("torn").join(CONTAINER_FILE), b"{\"Id\": \"ab").unwrap();
        let disk = load_all(root.path());
        assert!(disk.containers.is_empty());
        assert_eq!(disk.half_made, [dir.join("half")]);
        assert_eq!(disk.unreadable.len(), 1);
        assert_eq!(disk.unreadable[0].0, dir.join("torn"));
        assert!(
            disk.unreadable[0].1.contains("EOF"),
            "{:?}",
            disk.unreadable
        );
    }

    #[test]
    fn atomic_write_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.json");
        atomic_write(&p, b"1").unwrap();
        atomic_write(&p, b"2").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"2");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
