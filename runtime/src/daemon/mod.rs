//! `rrund`: the container lifecycle behind the Docker Engine API.
//!
//! Services by domain, each a room of its own:
//!
//! - [`containers`]: the name index (create, rename and remove atomic),
//!   create as a plan then a record, start as a plan then an apply with
//!   recorded undo ([`containers::start`]), the lifecycle after it, the
//!   list, start-up reconciliation, a container's networking and ports.
//! - [`networks`], [`volume`], [`images`], [`exec`], [`events`]: the other
//!   services; [`ops`]: rename, top, stats, prune, df.
//! - [`api`]: the HTTP routes, one file per domain as above.
//! - [`errors`]: each service's error enum, and the one place a kind of
//!   failure becomes Docker's status; handlers turn them into [`ApiError`]
//!   with `?`.
//! - [`models`]: the API's request and response types (Docker's names).
//! - [`spec`], [`runopts`]: pure OCI spec building from image config and
//!   options; [`store`]: containers on disk; [`containers::filter`]: Docker's container filters.
//! - Below the daemon and the shim: [`crate::state`] (atomic writes, the
//!   shim's configuration, log framing).
//!
//! A container runs under a shim ([`crate::shim`]) that this daemon starts
//! and that outlives it; the daemon watches each shim through a pidfd, and a
//! new daemon finds the shims again from `container.json` at start-up.
//!
//! On disk, `<data-root>/containers/<id>/` holds:
//!
//! | file | written by | what |
//! | --- | --- | --- |
//! | `container.json` | daemon, atomically | the [`store::Container`] record (config, host config, state, shim pid) |
//! | `config.json` | daemon, at each start | the OCI bundle's spec ([`spec::build`]); the bundle dir is this dir |
//! | `upper/`, `work/`, `rootfs/` | daemon | overlay of the image's snapshots, mounted at start, unmounted at exit |
//! | `hostname`, `hosts`, `resolv.conf` | daemon | bind-mounted into the container |
//! | `<id>-json.log` | shim | Docker's json-file log, appended across restarts |
//! | `shim.pid`, `init.pid`, `shim.log`, `oci.log` | shim | the shim's pid, the container's init pid, the shim's and rrun-oci's logs |
//! | `exit.json` | shim, atomically | [`crate::shim::ExitRecord`], written before the shim exits |
//! | `attach.sock` | shim | stdin of an OpenStdin container (one client; its EOF closes stdin, except a terminal's) |
//! | `ctl.sock` | shim | resize of a container with a terminal (`<rows> <cols>` per connection) |
//! | `exec/<exec id>/` | daemon, exec helper | `process.json` of one exec while it runs ([`exec`]) |
//!
//! The executor's state is `rrun-oci --root <exec-root>` (default
//! `/run/rrun/oci`); the daemon itself only runs `rrun-oci kill` and
//! `delete --force` there, the shim runs `create` and `start`.
//!
//! A state change goes through `Daemon::update`: it saves the record and
//! publishes the new [`store::State`] on the container's watch channel, which
//! `wait`, `logs -f`, `attach` and `stop` listen to.

pub mod api;
pub mod build;
pub mod bundle_opts;
pub mod commit;
pub mod config;
pub mod containers;
pub mod errors;
pub mod events;
pub mod exec;
pub mod images;
pub mod logwatch;
pub use crate::state::logs;
pub mod models;
pub mod networks;
pub mod ops;
pub mod push;
pub mod restart;
pub mod runopts;
pub mod seccomp_profile;
pub mod server;
pub mod spec;
pub mod stats;
pub mod store;
pub mod tty;
pub mod volume;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;

pub use crate::apimodel::{start_error_code, FilterError, Filters};
pub use config::Options;
pub(crate) use containers::lifecycle::reap;
pub use containers::list::human_status;
pub use errors::{ContainerError, ExecError, ImageError, NetworkError, VolumeError};

/// An API error on the wire: Docker's status code and `{"message": …}`.
/// Services return their own enums ([`errors`]); handlers convert with `?`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, what)
    }
    pub fn conflict(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, what)
    }
    pub fn bad(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, what)
    }
    pub fn internal(what: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, what.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

pub type ApiResult<T> = Result<T, ApiError>;

pub struct Daemon {
    pub opts: Options,
    pub images: rrun_image::Store,
    pub registry: rrun_image::registry::RegistryClient,
    pub netd: netd::Netd,
    pub volumes: volumes::VolumeStore,
    /// The embedded resolver of each running container on a bridge network.
    dns: Mutex<HashMap<String, netd::dns::server::DnsServer>>,
    containers: Mutex<containers::index::Index>,
    execs: exec::Execs,
    /// Docker-shaped events for `GET /events`.
    pub events: events::Events,
    /// Auto-removed containers whose removal's rest has not run yet.
    removing: containers::lifecycle::Pending,
    /// Containers an `rm -f` is killing: their exit is not saved, the
    /// record is removed next.
    killed_for_removal: Mutex<std::collections::HashSet<String>>,
    /// Network namespaces made ahead for the starts.
    netns_pool: Arc<containers::netns_pool::NetnsPool>,
    /// The binary shims and exec helpers are started from (see
    /// [`Daemon::helper_command`]).
    helper_exe: HelperExe,
    /// A shim started ahead of the next start.
    shim_pool: Arc<containers::shim_pool::ShimPool>,
    /// Woken when a shim is gone: a refill of the spares waits for it (see
    /// `Daemon::refill_spares`).
    shim_ended: Arc<tokio::sync::Notify>,
}

/// A detached read-only bind of rrund's binary, made once: a shim started
/// from it forks its container's init without executing the binary again
/// (`linux::launch`). Without one (kernels before 5.12), `/proc/self/exe`.
struct HelperExe {
    ro: Option<std::os::fd::OwnedFd>,
    /// `rrun-shim` beside rrund's binary: a process started from the bind
    /// cannot find it through its own /proc/self/exe, which names "/".
    monitor: std::path::PathBuf,
    /// rrund's binary as installed, the helpers' argv[0].
    path: std::path::PathBuf,
}

/// The state a removed container reports to its last waiters.
pub const REMOVED: &str = "removed";

impl Daemon {
    pub fn open(opts: Options) -> anyhow::Result<Arc<Daemon>> {
        use anyhow::Context;
        std::fs::create_dir_all(store::containers_dir(&opts.data_root))
            .with_context(|| format!("create {}", opts.data_root.display()))?;
        std::fs::create_dir_all(&opts.exec_root)
            .with_context(|| format!("create {}", opts.exec_root.display()))?;
        // CVE-2021-41091: no other user may walk into the containers'
        // roots (their setuid binaries, their files) through the data
        // root or the executor's state: Docker's 0710, runc's 0700.
        use std::os::unix::fs::PermissionsExt;
        for (dir, mode) in [(&opts.data_root, 0o710), (&opts.exec_root, 0o700)] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("chmod {mode:o} {}", dir.display()))?;
        }
        let images = rrun_image::Store::open(&opts.data_root).context("open the image store")?;
        let mut reg = rrun_image::registry::RegistryOptions::default();
        if opts.config_file.exists() {
            reg.load_daemon_json(&opts.config_file)
                .with_context(|| format!("read {}", opts.config_file.display()))?;
        }
        let registry = rrun_image::registry::RegistryClient::new(reg);
        let ncfg = config::netd_config(&opts)?;
        let netd = netd::Netd::open(ncfg).context("open the network store")?;
        netd.ensure_predefined_networks()
            .context("create the predefined networks")?;
        let volumes = volumes::VolumeStore::open(opts.data_root.join("volumes"))
            .context("open the volume store")?;
        let netns_pool =
            containers::netns_pool::NetnsPool::new(containers::network::netns_dir(&opts.exec_root));
        Ok(Arc::new(Daemon {
            opts,
            images,
            registry,
            netd,
            volumes,
            dns: Mutex::new(HashMap::new()),
            containers: Mutex::new(Default::default()),
            execs: Default::default(),
            events: events::Events::new(),
            removing: Default::default(),
            killed_for_removal: Default::default(),
            netns_pool,
            helper_exe: HelperExe::new(),
            shim_pool: Default::default(),
            shim_ended: Default::default(),
        }))
    }

    /// rrund's binary as installed: the helpers' argv[0].
    pub(crate) fn helper_exe_path(&self) -> &std::path::Path {
        &self.helper_exe.path
    }

    /// A command running rrund's binary (as a shim or an exec helper):
    /// through the read-only bind, else /proc/self/exe; either way a
    /// binary replaced on disk (an upgrade) while this daemon runs still
    /// starts them.
    pub(crate) fn helper_command(&self) -> std::process::Command {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let h = &self.helper_exe;
        let program = match &h.ro {
            // execve resolves the path before it closes the close-on-exec
            // descriptor.
            Some(fd) => format!("/proc/self/fd/{}", fd.as_raw_fd()),
            None => "/proc/self/exe".to_string(),
        };
        let mut cmd = std::process::Command::new(program);
        cmd.arg0(&h.path)
            .env(rrun_shim::monitor::MONITOR_ENV, &h.monitor);
        cmd
    }
}

impl HelperExe {
    fn new() -> HelperExe {
        let path = std::env::current_exe().unwrap_or_else(|_| "rrund".into());
        HelperExe {
            ro: crate::linux::exe::readonly_self(),
            monitor: path.with_file_name(rrun_shim::monitor::BINARY),
            path,
        }
    }
}

/// Finds an image by reference or id, including untagged images (a loaded
/// archive without names), which `rrun_image::images::find_image` only
/// finds through a reference.
pub fn find_image(
    store: &rrun_image::Store,
    name: &str,
) -> Result<rrun_image::images::LocalImage, ImageError> {
    use rrun_image::images;
    let missing = || ImageError::NoSuchImage(name.to_string());
    match images::find_image(store, name) {
        Ok(i) => return Ok(i),
        Err(images::ImageError::NoSuchImage(_)) => {}
        Err(e) => return Err(ImageError::Internal(e.to_string())),
    }
    let hexpart = name.strip_prefix("sha256:").unwrap_or(name);
    if hexpart.len() < 4 || !hexpart.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(missing());
    }
    let blobs = store
        .list_blobs()
        .map_err(|e| ImageError::Internal(e.to_string()))?;
    blobs
        .iter()
        .filter_map(|d| images::load_image(store, d).ok())
        .find(|i| i.id.hex().starts_with(hexpart) || i.manifest_digest.hex() == hexpart)
        .ok_or_else(missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::store::State;

    #[test]
    fn status_reads_like_docker() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:01:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let s = State {
            status: "exited".into(),
            exit_code: 3,
            finished_at: "2024-01-01T00:00:50Z".into(),
            ..Default::default()
        };
        assert_eq!(human_status(&s, now), "Exited (3) 10 seconds ago");
        let s = State {
            status: "running".into(),
            started_at: "2024-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        assert_eq!(human_status(&s, now), "Up About a minute");
    }
}
