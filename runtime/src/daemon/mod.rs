//! `rrund`: the container lifecycle behind the Docker Engine API.
//!
//! - [`models`]: the API's request and response types (Docker's names).
//! - [`spec`]: pure OCI spec building from image config and options.
//! - [`logs`]: pure `json-file` lines and stdout/stderr framing.
//! - [`store`]: containers on disk under `<data-root>/containers/<id>/`.
//! - [`api`]: the HTTP routes; [`api_more`]: those of images (remove,
//!   inspect, save, import, prune), rename/top/stats/prune, events, df.
//! - [`images`], [`ops`]: the daemon's side of those image and container
//!   operations; [`events`]: the event bus `GET /events` streams.
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
pub mod api_more;
mod bundle_opts;
pub mod config;
pub mod events;
pub mod exec;
pub mod images;
pub mod logs;
pub mod models;
pub mod network;
pub mod ops;
pub mod restart;
pub mod runopts;
pub mod seccomp_profile;
pub mod server;
pub mod spec;
pub mod store;
pub mod tty;
pub mod volume;

use std::collections::HashMap;
use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::sync::watch;

use crate::shim::{self, ExitRecord, ShimArgs, StartReport};
use models::{ContainerSummary, CreateBody, SummaryHostConfig};
use store::{Container, State};

pub use config::Options;

/// An API error: Docker's status code and `{"message": …}`.
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

pub type ApiResult<T> = Result<T, ApiError>;

/// One container in memory: its record and a channel that carries every
/// state change to waiters and log followers.
struct Entry {
    c: Container,
    tx: watch::Sender<State>,
}

pub struct Daemon {
    pub opts: Options,
    pub images: rrun_image::Store,
    pub registry: rrun_image::registry::RegistryClient,
    pub netd: netd::Netd,
    pub volumes: volumes::VolumeStore,
    /// The embedded resolver of each running container on a bridge network.
    dns: Mutex<HashMap<String, netd::dns::server::DnsServer>>,
    containers: Mutex<HashMap<String, Entry>>,
    execs: exec::Execs,
    /// Docker-shaped events for `GET /events`.
    pub events: events::Events,
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
        let images = rrun_image::Store::open(&opts.data_root).context("open the image store")?;
        let mut reg = rrun_image::registry::RegistryOptions::default();
        if opts.config_file.exists() {
            reg.load_daemon_json(&opts.config_file)
                .with_context(|| format!("read {}", opts.config_file.display()))?;
        }
        let registry =
            rrun_image::registry::RegistryClient::new(reg).context("set up the registry client")?;
        let mut ncfg = netd::NetdConfig::new(opts.data_root.join("networks"));
        if !opts.address_pools.is_empty() {
            ncfg.pools = opts.address_pools.clone();
        }
        if !opts.dns.is_empty() {
            ncfg.upstreams = Some(opts.dns.clone());
        }
        ncfg.host_netns = opts.host_netns.clone();
        // As Docker's, `fixed-cidr-v6` counts only with `ipv6` on.
        ncfg.default_ipv6 = opts.ipv6;
        match (opts.ipv6, opts.fixed_cidr_v6) {
            (true, subnet6) => ncfg.default_subnet6 = subnet6,
            (false, Some(subnet6)) => {
                tracing::warn!(%subnet6, "daemon.json fixed-cidr-v6 is ignored without \"ipv6\": true")
            }
            (false, None) => {}
        }
        let netd = netd::Netd::open(ncfg).context("open the network store")?;
        netd.ensure_predefined_networks()
            .context("create the predefined networks")?;
        let volumes = volumes::VolumeStore::open(opts.data_root.join("volumes"))
            .context("open the volume store")?;
        Ok(Arc::new(Daemon {
            opts,
            images,
            registry,
            netd,
            volumes,
            dns: Mutex::new(HashMap::new()),
            containers: Mutex::new(HashMap::new()),
            execs: Default::default(),
            events: events::Events::new(),
        }))
    }

    fn dir(&self, id: &str) -> PathBuf {
        store::containers_dir(&self.opts.data_root).join(id)
    }

    /// Finds a container by full id, name, or unique id prefix.
    pub fn resolve(&self, name: &str) -> ApiResult<String> {
        let map = self.containers.lock().unwrap();
        let name = name.trim_start_matches('/');
        if map.contains_key(name) {
            return Ok(name.to_string());
        }
        if let Some(e) = map.values().find(|e| e.c.name == name) {
            return Ok(e.c.id.clone());
        }
        let matches: Vec<&String> = map.keys().filter(|k| k.starts_with(name)).collect();
        match matches.as_slice() {
            [one] if !name.is_empty() => Ok((*one).clone()),
            [] | [_] => Err(ApiError::not_found(format!("No such container: {name}"))),
            _ => Err(ApiError::not_found(format!(
                "Multiple IDs found with provided prefix: {name}"
            ))),
        }
    }

    /// Every container's record.
    pub fn all(&self) -> Vec<Container> {
        self.containers
            .lock()
            .unwrap()
            .values()
            .map(|e| e.c.clone())
            .collect()
    }

    pub fn get(&self, id: &str) -> ApiResult<Container> {
        let id = self.resolve(id)?;
        Ok(self.containers.lock().unwrap()[&id].c.clone())
    }

    pub fn subscribe(&self, id: &str) -> ApiResult<watch::Receiver<State>> {
        let id = self.resolve(id)?;
        Ok(self.containers.lock().unwrap()[&id].tx.subscribe())
    }

    /// Changes a container's record, saves it, and tells the waiters.
    fn update(&self, id: &str, f: impl FnOnce(&mut Container)) -> ApiResult<Container> {
        let mut map = self.containers.lock().unwrap();
        let e = map
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found(format!("No such container: {id}")))?;
        f(&mut e.c);
        store::save(&self.opts.data_root, &e.c).map_err(ApiError::internal)?;
        e.tx.send_replace(e.c.state.clone());
        Ok(e.c.clone())
    }

    fn insert(&self, c: Container) {
        let (tx, _) = watch::channel(c.state.clone());
        self.containers
            .lock()
            .unwrap()
            .insert(c.id.clone(), Entry { c, tx });
    }

    /// `POST /containers/create`.
    pub fn create(&self, name: Option<&str>, body: CreateBody) -> ApiResult<String> {
        let mut config = body.config;
        let mut host = body.host_config;
        if config.image.is_empty() {
            return Err(ApiError::bad(
                "config cannot be empty in order to create a container",
            ));
        }
        let image = find_image(&self.images, &config.image)?;
        let (mode, networks) =
            self.plan_networks(&host.network_mode, &body.networking_config.endpoints_config)?;
        host.network_mode = mode;
        let ic = &image.config.config;
        // The image's EXPOSE, as Docker merges it into the container's.
        for p in ic.exposed_ports.iter().flat_map(|m| m.keys()) {
            config
                .exposed_ports
                .entry(p.clone())
                .or_insert_with(|| serde_json::json!({}));
        }
        let wanted = network::wanted_ports(&host.port_bindings, host.publish_all_ports, &[])
            .map_err(ApiError::bad)?;
        self.check_port_families(&networks, &wanted)?;
        host.log_config =
            shim::logfile::with_defaults(host.log_config.take(), &self.opts.config_file)
                .map_err(ApiError::bad)?;
        for h in &host.extra_hosts {
            h.parse::<netd::resolv::ExtraHost>()
                .map_err(|e| ApiError::bad(e.to_string()))?;
        }
        runopts::validate(&mut host.run, &runopts::Host::probe()).map_err(ApiError::bad)?;
        if host.auto_remove && !host.run.restart_policy.is_none() {
            return Err(ApiError::bad(
                "can't create 'AutoRemove' container with restart policy",
            ));
        }
        let id = store::new_id();
        let name = match name {
            Some(n) if !n.is_empty() => {
                let n = n.trim_start_matches('/');
                if !store::valid_name(n) {
                    return Err(ApiError::bad(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                n.to_string()
            }
            _ => loop {
                let n = store::random_name();
                if self.resolve(&n).is_err() {
                    break n;
                }
            },
        };
        let args = spec::command(
            ic.entrypoint.as_deref().unwrap_or(&[]),
            ic.cmd.as_deref().unwrap_or(&[]),
            config.entrypoint.as_deref(),
            config.cmd.as_deref(),
        );
        if args.is_empty() {
            return Err(ApiError::bad("no command specified"));
        }
        if config.hostname.is_empty() {
            config.hostname = id[..12].to_string();
        }
        if config.stop_signal.is_none() {
            config.stop_signal = ic.stop_signal.clone();
        }
        let c = Container {
            id: id.clone(),
            name: name.clone(),
            created: logs::now(),
            image_name: config.image.clone(),
            image: image.id.to_string(),
            manifest: image.manifest_digest.to_string(),
            path: args[0].clone(),
            args: args[1..].to_vec(),
            config,
            host_config: host,
            state: State {
                status: "created".into(),
                started_at: store::ZERO_TIME.into(),
                finished_at: store::ZERO_TIME.into(),
                ..Default::default()
            },
            shim_pid: 0,
            networks,
            mounts: vec![],
            copied_up: false,
            ports: vec![],
            restarts: Default::default(),
        };
        {
            // The name is taken under the same lock that inserts it.
            let map = self.containers.lock().unwrap();
            if let Some(other) = map.values().find(|e| e.c.name == name) {
                return Err(ApiError::conflict(format!(
                    "Conflict. The container name \"/{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    other.c.id
                )));
            }
        }
        let image_volumes: Vec<String> =
            ic.volumes.iter().flat_map(|m| m.keys()).cloned().collect();
        let mut c = c;
        c.mounts = self.plan_mounts(&id, &c.config, &c.host_config, &image_volumes)?;
        let dir = self.dir(&id);
        let saved =
            std::fs::create_dir_all(&dir).and_then(|()| store::save(&self.opts.data_root, &c));
        if let Err(e) = saved {
            self.volumes.detach(&id, &c.mounts);
            self.volumes.remove_anonymous(&c.mounts);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(ApiError::internal(e));
        }
        self.container_event(&c, "create", &[]);
        self.insert(c);
        tracing::info!(container = %id, name = %name, "created");
        Ok(id)
    }

    /// `rrun-oci delete --force`: ends whatever the executor still holds of
    /// the container. Nothing to run when the executor keeps no state for
    /// it (a fresh container, or one its shim already deleted), which is
    /// the common case and saves a process per start and per removal.
    fn oci_force_delete(&self, id: &str) {
        if !self.opts.exec_root.join(id).exists() {
            return;
        }
        let _ = Command::new(&self.opts.oci_bin)
            .arg("--root")
            .arg(&self.opts.exec_root)
            .args(["delete", "--force", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// `POST /containers/{id}/start`: mounts the root, writes the bundle,
    /// starts the shim and waits for its report. Blocking.
    pub fn start(self: &Arc<Self>, name: &str) -> ApiResult<bool> {
        let c = self.get(name)?;
        if c.state.running {
            return Ok(false);
        }
        self.reset_restarts_on_user_start(&c);
        let dir = self.dir(&c.id);
        // A previous run's leftovers.
        let _ = std::fs::remove_file(dir.join(shim::EXIT_FILE));
        self.oci_force_delete(&c.id);
        let ports = match self.prepare_bundle(&c, &dir) {
            Ok(p) => p,
            Err(e) => {
                self.teardown_network(&c.id);
                let _ = nix::mount::umount2(&dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
                return Err(e);
            }
        };
        let report = self.spawn_shim(&c, &dir);
        match report {
            Ok((shim_pid, r)) if r.ok => {
                self.update(&c.id, |c| {
                    c.state = State {
                        status: "running".into(),
                        running: true,
                        pid: r.pid,
                        exit_code: 0,
                        error: String::new(),
                        started_at: logs::now(),
                        finished_at: store::ZERO_TIME.into(),
                        oom_killed: false,
                    };
                    c.shim_pid = shim_pid;
                    c.ports = ports;
                    c.copied_up = true;
                })?;
                self.container_event(&c, "start", &[]);
                tracing::info!(container = %c.id, pid = r.pid, "started");
                self.watch_shim(c.id.clone(), shim_pid);
                Ok(true)
            }
            Ok((shim_pid, r)) => {
                reap(shim_pid);
                self.teardown_network(&c.id);
                let _ = nix::mount::umount2(&dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
                let code = start_error_code(&r.error);
                self.update(&c.id, |c| {
                    c.state.status = "created".into();
                    c.state.exit_code = code;
                    c.state.error = r.error.clone();
                })?;
                // As Docker: an auto-remove container that cannot start goes.
                if c.host_config.auto_remove {
                    let _ = self.remove(&c.id, true, true);
                }
                Err(ApiError::bad(r.error))
            }
            Err(e) => {
                self.teardown_network(&c.id);
                let _ = nix::mount::umount2(&dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
                // Attached clients learn of the failure from the state.
                let _ = self.update(&c.id, |c| c.state.error = e.message.clone());
                Err(e)
            }
        }
    }

    /// Mounts the root, fills new volumes, wires the network and writes
    /// config.json. Returns the published ports.
    fn prepare_bundle(
        &self,
        c: &Container,
        dir: &Path,
    ) -> ApiResult<Vec<netd::store::PortBinding>> {
        let image = find_image(&self.images, &c.image)
            .map_err(|_| ApiError::not_found(format!("No such image: {}", c.image_name)))?;
        let (upper, work, rootfs) = (dir.join("upper"), dir.join("work"), dir.join("rootfs"));
        for d in [&upper, &work, &rootfs] {
            std::fs::create_dir_all(d).map_err(ApiError::internal)?;
        }
        let _ = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH);
        rrun_image::rootfs::mount_rootfs(&self.images, &image, &upper, &work, &rootfs)
            .map_err(ApiError::internal)?;
        let read = |p: &str| std::fs::read_to_string(rootfs.join(p)).unwrap_or_default();
        let (uid, gid) =
            spec::resolve_user(&c.config.user, &read("etc/passwd"), &read("etc/group"))
                .map_err(ApiError::bad)?;
        // The image's content goes into new volumes once, at the first start.
        let copy_from = (!c.copied_up).then_some(rootfs.as_path());
        self.volumes
            .attach(&c.id, &c.mounts, copy_from)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        for (m, v) in c.mounts.iter().filter_map(|m| Some((m, m.volume()?))) {
            let dest = [
                ("container", c.id.as_str()),
                ("destination", &m.destination),
            ];
            self.events.emit("volume", "mount", v.as_ref(), &dest);
        }
        let (files, ports) = self.setup_network(c)?;
        let hostname = files.hostname.clone();
        for (f, text) in [
            ("hostname", format!("{hostname}\n")),
            ("hosts", files.hosts),
            ("resolv.conf", files.resolv),
        ] {
            store::atomic_write(&dir.join(f), text.as_bytes()).map_err(ApiError::internal)?;
        }
        let ic = &image.config.config;
        let cwd = if c.config.working_dir.is_empty() {
            ic.working_dir.clone().unwrap_or_default()
        } else {
            c.config.working_dir.clone()
        };
        let mut args = vec![c.path.clone()];
        args.extend(c.args.iter().cloned());
        let input = spec::SpecInput {
            args,
            image_env: ic.env.clone().unwrap_or_default(),
            env: c.config.env.clone(),
            cwd,
            uid,
            gid,
            additional_gids: vec![],
            hostname,
            rootfs: rootfs.display().to_string(),
            network_mode: c.host_config.network_mode.clone(),
            hostname_file: dir.join("hostname").display().to_string(),
            hosts_file: dir.join("hosts").display().to_string(),
            resolv_file: dir.join("resolv.conf").display().to_string(),
            netns_path: files.netns.map(|p| p.display().to_string()),
            mounts: self.oci_mounts(&c.mounts),
            cgroups_path: if self.opts.systemd_cgroup {
                format!("system.slice:rrun:{}", c.id)
            } else {
                format!("/rrun/{}", c.id)
            },
        };
        let mut spec = spec::build(&input).map_err(ApiError::bad)?;
        self.apply_run_options(&mut spec, c, &read("etc/group"))?;
        tty::apply_terminal(&mut spec, c.config.tty, c.host_config.console_size);
        store::atomic_write(
            &dir.join("config.json"),
            &serde_json::to_vec_pretty(&spec).map_err(ApiError::internal)?,
        )
        .map_err(ApiError::internal)?;
        Ok(ports)
    }

    /// Starts the shim and reads its one-line report.
    fn spawn_shim(&self, c: &Container, dir: &Path) -> ApiResult<(i32, StartReport)> {
        let args = ShimArgs {
            id: c.id.clone(),
            dir: dir.to_path_buf(),
            oci_root: self.opts.exec_root.clone(),
            oci_bin: self.opts.oci_bin.clone(),
            systemd_cgroup: self.opts.systemd_cgroup,
        };
        let log = std::fs::File::create(dir.join("shim.log")).map_err(ApiError::internal)?;
        let exe = std::env::current_exe().map_err(ApiError::internal)?;
        // Through /proc/self/exe, as the exec helper: a binary replaced on
        // disk (an upgrade) while this daemon runs still starts shims.
        let mut child = Command::new("/proc/self/exe")
            .arg0(&exe)
            .args(args.to_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| ApiError::internal(format!("start the shim: {e}")))?;
        let pid = child.id() as i32;
        let mut line = String::new();
        let out = child.stdout.take().expect("piped");
        let _ = std::io::BufReader::new(out).read_line(&mut line);
        match serde_json::from_str::<StartReport>(line.trim()) {
            Ok(r) => Ok((pid, r)),
            Err(_) => {
                let _ = child.wait();
                let why = std::fs::read_to_string(dir.join("shim.log")).unwrap_or_default();
                Err(ApiError::internal(format!(
                    "the shim failed: {}",
                    why.trim()
                )))
            }
        }
    }

    /// Learns of the shim's exit through a pidfd (works for a shim an
    /// earlier daemon started, too).
    fn watch_shim(self: &Arc<Self>, id: String, shim_pid: i32) {
        let d = self.clone();
        tokio::spawn(async move {
            if let Some(fd) = pidfd_open(shim_pid) {
                // SAFETY: the AsyncFd owns the pidfd, so the fd stays open
                // (and is not reused) until it is deregistered on drop.
                if let Ok(afd) = unsafe { tokio::io::unix::AsyncFd::register(fd) } {
                    let _ = afd.readable().await;
                }
            } else {
                // No pidfd (the shim is already gone, or an old kernel).
                while store::pid_alive(shim_pid) && store::is_shim_of(shim_pid, &id) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            reap(shim_pid);
            let d2 = d.clone();
            let _ = tokio::task::spawn_blocking(move || d2.on_exit(&id)).await;
        });
    }

    /// The shim is gone: record how the container ended.
    fn on_exit(self: &Arc<Self>, id: &str) {
        let dir = self.dir(id);
        let rec: Option<ExitRecord> = std::fs::read(dir.join(shim::EXIT_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let oom_killed = rec.as_ref().is_some_and(|r| r.oom_killed);
        let (code, finished, error) = match rec {
            Some(r) => (r.exit_code, r.finished_at, String::new()),
            None => {
                // The shim died (killed, or crashed): nobody holds the
                // container's output any more, so end the container too,
                // as Docker does when its shim is gone.
                self.oci_force_delete(id);
                (
                    255,
                    logs::now(),
                    "the container's shim died; its exit status is unknown".to_string(),
                )
            }
        };
        self.teardown_network(id);
        let _ = nix::mount::umount2(&dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
        let Ok(c) = self.update(id, |c| {
            c.state.status = "exited".into();
            c.state.running = false;
            c.state.pid = 0;
            c.state.exit_code = code;
            c.state.finished_at = finished;
            c.state.error = error;
            c.state.oom_killed = oom_killed;
            c.shim_pid = 0;
        }) else {
            return;
        };
        self.container_event(&c, "die", &[("exitCode", &code.to_string())]);
        tracing::info!(container = %id, exit_code = code, "exited");
        self.after_exit(&c);
        if c.host_config.auto_remove {
            if let Err(e) = self.remove(id, true, true) {
                tracing::warn!(container = %id, error = %e.message, "auto-remove");
            }
        }
    }

    /// Sends a signal to the container's init through the executor.
    pub fn kill(&self, name: &str, signal: &str) -> ApiResult<()> {
        let c = self.get(name)?;
        if !c.state.running {
            return Err(ApiError::conflict(format!(
                "Cannot kill container: {}: Container {} is not running",
                name, c.id
            )));
        }
        self.note_user_stop(&c, signal);
        let out = Command::new(&self.opts.oci_bin)
            .arg("--root")
            .arg(&self.opts.exec_root)
            .args(["kill", &c.id, signal])
            .stdin(Stdio::null())
            .output()
            .map_err(ApiError::internal)?;
        self.container_event(&c, "kill", &[("signal", signal)]);
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
            // Exited meanwhile: nothing left to signal.
            if !self.get(&c.id)?.state.running {
                return Ok(());
            }
            return Err(ApiError::internal(format!("kill {}: {msg}", c.id)));
        }
        Ok(())
    }

    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after
    /// the timeout. Returns false if it was not running (304).
    pub async fn stop(self: &Arc<Self>, name: &str, timeout: Option<i64>) -> ApiResult<bool> {
        let c = self.get(name)?;
        if c.state.status == restart::RESTARTING {
            self.note_user_stop(&c, "SIGKILL");
        }
        if !c.state.running {
            return Ok(false);
        }
        let mut rx = self.subscribe(&c.id)?;
        let sig = c
            .config
            .stop_signal
            .clone()
            .unwrap_or_else(|| "SIGTERM".into());
        let t = timeout.or(c.config.stop_timeout).unwrap_or(10).max(0) as u64;
        let d = self.clone();
        let id = c.id.clone();
        let _ = tokio::task::spawn_blocking(move || d.kill(&id, &sig)).await;
        let stopped = tokio::time::timeout(Duration::from_secs(t), rx.wait_for(|s| !s.running))
            .await
            .is_ok();
        if !stopped {
            let d = self.clone();
            let id = c.id.clone();
            let _ = tokio::task::spawn_blocking(move || d.kill(&id, "SIGKILL")).await;
            let _ =
                tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|s| !s.running)).await;
        }
        self.container_event(&c, "stop", &[]);
        Ok(true)
    }

    /// `DELETE /containers/{id}`. Blocking; kills first with `force`;
    /// removes its anonymous volumes with `volumes` (`rm -v`, `--rm`).
    pub fn remove(&self, name: &str, force: bool, volumes: bool) -> ApiResult<()> {
        let c = self.get(name)?;
        restart::check_removable(&c, force)?;
        if c.state.running {
            if !force {
                return Err(ApiError::conflict(format!(
                    "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                    c.id
                )));
            }
            let _ = self.kill(&c.id, "SIGKILL");
            let mut rx = self.subscribe(&c.id)?;
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while rx.borrow_and_update().running && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let dir = self.dir(&c.id);
        let _ = nix::mount::umount2(&dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
        self.oci_force_delete(&c.id);
        self.teardown_network(&c.id);
        // The record goes first, so a crash leaves a directory start-up
        // reconciliation recognises as half-removed.
        let _ = std::fs::remove_file(dir.join(store::CONTAINER_FILE));
        for e in self.volumes.detach(&c.id, &c.mounts) {
            tracing::warn!(container = %c.id, error = %e, "release a volume");
        }
        if volumes {
            let (_, errors) = self.volumes.remove_anonymous(&c.mounts);
            for e in errors {
                tracing::warn!(container = %c.id, error = %e, "remove an anonymous volume");
            }
        }
        match std::fs::remove_dir_all(&dir) {
            // Another remover (auto-remove racing a client's DELETE) won.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            r => r.map_err(ApiError::internal)?,
        }
        if let Some(e) = self.containers.lock().unwrap().remove(&c.id) {
            e.tx.send_replace(State {
                status: REMOVED.into(),
                ..e.c.state.clone()
            });
        }
        self.exec_forget(&c.id);
        self.container_event(&c, "destroy", &[]);
        tracing::info!(container = %c.id, "removed");
        Ok(())
    }

    /// `GET /containers/json`.
    pub fn list(&self, all: bool, filters: &Filters) -> Vec<ContainerSummary> {
        // A status filter shows stopped containers without `all`, as Docker.
        let all = all || filters.contains_key("status");
        let mut v: Vec<Container> = self
            .all()
            .into_iter()
            .filter(|c| all || c.state.running || c.state.status == restart::RESTARTING)
            .filter(|c| matches_filters(c, filters))
            .collect();
        v.sort_by(|a, b| b.created.cmp(&a.created));
        let nets = self.netd.networks().unwrap_or_default();
        v.iter().map(|c| summary(self, c, &nets)).collect()
    }

    /// Start-up: finds the containers on disk, re-attaches to the shims that
    /// still run, and records the end of those whose shim is gone.
    pub fn reconcile(self: &Arc<Self>) {
        let (all, broken) = store::load_all(&self.opts.data_root);
        for dir in broken {
            tracing::warn!(dir = %dir.display(), "removing a half-made container");
            let _ = nix::mount::umount2(&dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
            if let Some(id) = dir.file_name().and_then(|n| n.to_str()) {
                self.teardown_network(id);
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        // Volume users and network endpoints of containers that no longer
        // exist (a crash between their create and their record) go; no
        // volume's data is touched.
        let known: std::collections::BTreeSet<String> = all.iter().map(|c| c.id.clone()).collect();
        if let Err(e) = self.volumes.reconcile(&known) {
            tracing::warn!(error = %e, "reconcile the volume store");
        }
        if let Ok(nets) = self.netd.networks() {
            for n in nets {
                for id in n.containers.keys().filter(|id| !known.contains(*id)) {
                    tracing::info!(container = %id, network = %n.name, "removing an endpoint left by a crash");
                    let _ = self.netd.disconnect(n.id.as_str(), id);
                }
            }
        }
        for mut c in all {
            if !c.state.running {
                self.adopt_started(&mut c);
            }
            let running = c.state.running;
            let shim_pid = c.shim_pid;
            let id = c.id.clone();
            if !running {
                // A start that a crash cut short may have wired it already.
                self.teardown_network(&id);
            }
            self.insert(c);
            if running {
                if store::pid_alive(shim_pid) && store::is_shim_of(shim_pid, &id) {
                    tracing::info!(container = %id, shim = shim_pid, "re-attached to the shim");
                    if let Ok(c) = self.get(&id) {
                        self.restart_dns(&c);
                    }
                    self.watch_shim(id, shim_pid);
                } else {
                    let d = self.clone();
                    tokio::task::spawn_blocking(move || d.on_exit(&id));
                }
            }
        }
        self.restart_at_startup();
    }
}

impl Daemon {
    /// A daemon killed during `start` left the record saying "created" while
    /// the shim it had started runs the container: take it as running. A
    /// shim that is gone too leaves nothing but its mount to clean.
    fn adopt_started(&self, c: &mut Container) {
        let dir = self.dir(&c.id);
        let read_pid = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
        };
        let Some(shim_pid) = read_pid(shim::SHIM_PID_FILE) else {
            return;
        };
        if !(store::pid_alive(shim_pid) && store::is_shim_of(shim_pid, &c.id)) {
            return;
        }
        let pid = read_pid(shim::INIT_PID_FILE).unwrap_or(0);
        tracing::info!(container = %c.id, shim = shim_pid, "adopting a container started before a crash");
        c.state = State {
            status: "running".into(),
            running: true,
            pid,
            exit_code: 0,
            error: String::new(),
            started_at: logs::now(),
            finished_at: store::ZERO_TIME.into(),
            oom_killed: false,
        };
        c.shim_pid = shim_pid;
        if let Err(e) = store::save(&self.opts.data_root, c) {
            tracing::warn!(container = %c.id, error = %e, "save");
        }
    }
}

/// Finds an image by reference or id, including untagged images (a loaded
/// archive without names), which `rrun_image::images::find_image` only
/// finds through a reference.
pub fn find_image(
    store: &rrun_image::Store,
    name: &str,
) -> ApiResult<rrun_image::images::LocalImage> {
    use rrun_image::images::{self, ImageError};
    let missing = || ApiError::not_found(format!("No such image: {name}"));
    match images::find_image(store, name) {
        Ok(i) => return Ok(i),
        Err(ImageError::NoSuchImage(_)) => {}
        Err(e) => return Err(ApiError::internal(e)),
    }
    let hexpart = name.strip_prefix("sha256:").unwrap_or(name);
    if hexpart.len() < 4 || !hexpart.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(missing());
    }
    let blobs = store.list_blobs().map_err(ApiError::internal)?;
    blobs
        .iter()
        .filter_map(|d| images::load_image(store, d).ok())
        .find(|i| i.id.hex().starts_with(hexpart) || i.manifest_digest.hex() == hexpart)
        .ok_or_else(missing)
}

/// Docker's `filters` query parameter: key → accepted values.
pub type Filters = std::collections::BTreeMap<String, Vec<String>>;

/// Parses `filters` in either of Docker's forms (`{"k":["v"]}` or the old
/// `{"k":{"v":true}}`).
pub fn parse_filters(json: &str) -> ApiResult<Filters> {
    if json.trim().is_empty() {
        return Ok(Filters::new());
    }
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| ApiError::bad(format!("invalid filter: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad("invalid filter: not an object"))?;
    let mut out = Filters::new();
    for (k, vals) in obj {
        let list: Vec<String> = match vals {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            _ => return Err(ApiError::bad(format!("invalid filter '{k}'"))),
        };
        match k.as_str() {
            "id" | "name" | "status" | "label" | "ancestor" => {}
            _ => return Err(ApiError::bad(format!("invalid filter '{k}'"))),
        }
        out.insert(k.clone(), list);
    }
    Ok(out)
}

/// True if `c` passes every filter (values of one key are alternatives).
pub fn matches_filters(c: &Container, f: &Filters) -> bool {
    f.iter().all(|(k, vals)| {
        vals.iter().any(|v| match k.as_str() {
            "id" => c.id.starts_with(v.as_str()),
            "name" => c.name.contains(v.trim_start_matches('/')),
            "status" => c.state.status == *v,
            "ancestor" => c.image_name == *v || c.image.contains(v.as_str()),
            "label" => match v.split_once('=') {
                Some((lk, lv)) => c.config.labels.get(lk).is_some_and(|x| x == lv),
                None => c.config.labels.contains_key(v),
            },
            _ => false,
        })
    })
}

/// Docker's mapping of a failed start to an exit code: 127 when the
/// program does not exist, 126 when it cannot be run.
pub fn start_error_code(msg: &str) -> i32 {
    let m = msg.to_lowercase();
    if m.contains("not found") || m.contains("no such file") {
        127
    } else if m.contains("permission denied") || m.contains("not executable") {
        126
    } else {
        128
    }
}

fn summary(d: &Daemon, c: &Container, nets: &[netd::store::Network]) -> ContainerSummary {
    let created = chrono::DateTime::parse_from_rfc3339(&c.created)
        .map(|t| t.timestamp())
        .unwrap_or(0);
    let mut cmd = vec![c.path.clone()];
    cmd.extend(c.args.iter().cloned());
    ContainerSummary {
        id: c.id.clone(),
        names: vec![format!("/{}", c.name)],
        image: c.image_name.clone(),
        image_id: c.image.clone(),
        command: cmd.join(" "),
        created,
        state: c.state.status.clone(),
        status: human_status(&c.state, chrono::Utc::now()),
        ports: Daemon::port_summary(c, nets),
        labels: c.config.labels.clone(),
        host_config: SummaryHostConfig {
            network_mode: c.host_config.network_mode.clone(),
        },
        mounts: volume::mounts_json(&c.mounts, |n| d.volumes.data_path(n)),
        network_settings: serde_json::json!({
            "Networks": d.network_settings_in(c, nets)["Networks"],
        }),
    }
}

/// Docker's `Status` column: `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`.
pub fn human_status(s: &State, now: chrono::DateTime<chrono::Utc>) -> String {
    let since = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| human_duration((now - t.with_timezone(&chrono::Utc)).num_seconds()))
            .unwrap_or_default()
    };
    match s.status.as_str() {
        "running" => format!("Up {}", since(&s.started_at)),
        "exited" => format!("Exited ({}) {} ago", s.exit_code, since(&s.finished_at)),
        "created" => "Created".into(),
        restart::RESTARTING => {
            format!("Restarting ({}) {} ago", s.exit_code, since(&s.finished_at))
        }
        other => other.to_string(),
    }
}

/// Docker's `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        120..=3599 => format!("{} minutes", s / 60),
        3600..=7199 => "About an hour".into(),
        _ if s < 48 * 3600 => format!("{} hours", s / 3600),
        _ => format!("{} days", s / 86400),
    }
}

fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative return is a new fd that we own.
    (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// Collects a shim this daemon started (ECHILD for an adopted one is fine).
fn reap(pid: i32) {
    let _ = nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn filters_select_like_docker() {
        let mut c: Container = serde_json::from_value(serde_json::json!({
            "Id": "abcdef", "Name": "web-1", "Created": "", "ImageName": "busybox",
            "Image": "sha256:1234", "Manifest": "", "Config": {"Labels": {"tier": "front"}},
            "HostConfig": {}, "State": {"Status": "running", "Running": true, "Pid": 1,
            "ExitCode": 0, "Error": "", "StartedAt": "", "FinishedAt": ""},
            "Path": "sh", "Args": []
        }))
        .unwrap();
        let f = parse_filters(r#"{"name":["web"],"label":{"tier=front":true}}"#).unwrap();
        assert!(matches_filters(&c, &f));
        let f = parse_filters(r#"{"status":["exited","created"]}"#).unwrap();
        assert!(!matches_filters(&c, &f));
        c.state.status = "exited".into();
        assert!(matches_filters(&c, &f));
        assert!(matches_filters(
            &c,
            &parse_filters(r#"{"id":["abc"]}"#).unwrap()
        ));
        assert!(!matches_filters(
            &c,
            &parse_filters(r#"{"label":["nope"]}"#).unwrap()
        ));
        assert!(parse_filters(r#"{"bogus":["x"]}"#).is_err());
    }

    #[test]
    fn start_errors_map_to_dockers_codes() {
        assert_eq!(
            start_error_code("exec: \"nope\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_error_code("exec /etc/passwd: permission denied"), 126);
    }
}
