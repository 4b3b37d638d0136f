//! The normalized project: what the loader produces and the engine reads.
//!
//! Every field is in its long form (ports, volumes, depends_on, networks,
//! environment, build), relative paths are absolute, variables are
//! interpolated, `extends` and several `-f` files are merged, and services
//! outside the active profiles are gone (kept apart in
//! [`Project::disabled_services`] so `down --remove-orphans` can tell them
//! from orphans). Maps keep the order of the file (`IndexMap`).
//!
//! Durations are kept as Compose wrote them (`"1m30s"`) and sizes as
//! strings or numbers as written; the engine converts them with
//! `rrun_units`, the same parser the CLI flags use.

use indexmap::IndexMap;
use serde::Serialize;
use std::path::PathBuf;

/// A loaded, interpolated, merged and checked Compose project.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Project {
    /// `name:` at the top, `-p`, `COMPOSE_PROJECT_NAME`, or the directory's
    /// base name, normalized as Compose does (lower case, `[a-z0-9_-]`).
    pub name: String,
    /// `--project-directory`, or the directory of the first file.
    pub working_dir: PathBuf,
    /// The files read, in order, as absolute paths (the
    /// `com.docker.compose.project.config_files` label joins them with `,`).
    pub config_files: Vec<PathBuf>,
    /// The variables interpolation saw (shell over `.env`/`--env-file`).
    #[serde(skip)]
    pub environment: IndexMap<String, String>,
    pub services: IndexMap<String, Service>,
    /// Services whose profiles are not active: not run, but still the
    /// project's (not orphans).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub disabled_services: IndexMap<String, Service>,
    /// Always holds `default` when a service uses the default network.
    pub networks: IndexMap<String, Network>,
    pub volumes: IndexMap<String, Volume>,
    pub secrets: IndexMap<String, FileObject>,
    pub configs: IndexMap<String, FileObject>,
    /// Keys read but not acted on by rrun (`links`, Swarm's `deploy`
    /// settings, ...), one line each, for the engine to print.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Service {
    /// The key under `services:`.
    pub name: String,
    pub image: Option<String>,
    pub build: Option<Build>,
    pub pull_policy: Option<String>,
    pub platform: Option<String>,
    pub container_name: Option<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// `None`: the image's. `Some(vec![])`: explicitly empty.
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `env_file` contents first, then `environment` over them. A `None`
    /// value is a variable named without a value and not set anywhere
    /// (Compose leaves it out of the container).
    pub environment: IndexMap<String, Option<String>>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub labels: IndexMap<String, String>,
    pub depends_on: IndexMap<String, DependsOn>,
    pub ports: Vec<Port>,
    pub expose: Vec<String>,
    pub volumes: Vec<ServiceVolume>,
    pub tmpfs: Vec<String>,
    /// Empty when `network_mode` is set.
    pub networks: IndexMap<String, ServiceNetwork>,
    pub network_mode: Option<NetworkMode>,
    /// `host:ip` pairs, in file order.
    pub extra_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_opt: Vec<String>,
    pub mac_address: Option<String>,
    pub restart: Option<String>,
    pub healthcheck: Option<Healthcheck>,
    pub stdin_open: bool,
    pub tty: bool,
    pub privileged: bool,
    pub read_only: bool,
    pub init: Option<bool>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub devices: Vec<String>,
    pub ulimits: IndexMap<String, Ulimit>,
    pub sysctls: IndexMap<String, String>,
    pub shm_size: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<String>,
    pub mem_limit: Option<String>,
    pub memswap_limit: Option<String>,
    pub mem_reservation: Option<String>,
    /// As written (`0.5`); `deploy.resources.limits.cpus` lands here too.
    pub cpus: Option<String>,
    pub cpu_shares: Option<i64>,
    pub pids_limit: Option<i64>,
    pub pid: Option<String>,
    pub ipc: Option<String>,
    pub logging: Option<Logging>,
    pub profiles: Vec<String>,
    /// `deploy.replicas` or `scale`; 1 when neither is set.
    pub replicas: u32,
    pub secrets: Vec<FileReference>,
    pub configs: Vec<FileReference>,
    /// `x-` keys of the service, untouched.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub extensions: IndexMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Build {
    /// Absolute (relative ones are taken from the project directory).
    pub context: PathBuf,
    /// As written, relative to the context (`Dockerfile` when not set).
    pub dockerfile: String,
    /// A `None` value takes the variable from the environment at build
    /// time, as `--build-arg NAME` does.
    pub args: IndexMap<String, Option<String>>,
    pub target: Option<String>,
    pub labels: IndexMap<String, String>,
    pub network: Option<String>,
    pub extra_hosts: Vec<String>,
    pub no_cache: bool,
    pub pull: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DependsCondition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DependsOn {
    pub condition: DependsCondition,
    /// Restart this service when the dependency is restarted by compose.
    pub restart: bool,
    /// `false`: a missing or disabled dependency only warns.
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

/// One container port and where it is published; a short form with ranges
/// becomes one `Port` per container port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    pub target: u16,
    /// `None`: an ephemeral host port. May be a range (`"8000-8010"`) when
    /// the file gave one container port and a host range.
    pub published: Option<String>,
    /// `None`: all addresses.
    pub host_ip: Option<String>,
    pub protocol: Protocol,
    /// `ingress` or `host`; rrun treats both as `host`.
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeType {
    Volume,
    Bind,
    Tmpfs,
    Npipe,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceVolume {
    pub kind: VolumeType,
    /// Volume: the key under top-level `volumes:` (`None`: anonymous).
    /// Bind: an absolute host path (`./x` and `~/x` resolved).
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    /// Bind: create the host path when it is missing (the short form's
    /// behaviour; the long form's `bind.create_host_path`, default true).
    pub create_host_path: bool,
    /// Bind: `rprivate`, `shared`, ...
    pub propagation: Option<String>,
    /// Bind: SELinux `z`/`Z`.
    pub selinux: Option<String>,
    /// Volume: `volume.nocopy`.
    pub nocopy: bool,
    /// Tmpfs: `tmpfs.size` as written.
    pub tmpfs_size: Option<String>,
    pub tmpfs_mode: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
    pub priority: i64,
    pub mac_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    Host,
    None,
    Bridge,
    /// `service:name`: join the network namespace of that service's
    /// (first) container; an implicit dependency.
    Service(String),
    /// `container:name-or-id`.
    Container(String),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Healthcheck {
    /// `disable: true` or `test: ["NONE"]`.
    pub disable: bool,
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]`; a string becomes
    /// `["CMD-SHELL", string]`. `None`: the image's test.
    pub test: Option<Vec<String>>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Logging {
    pub driver: Option<String>,
    pub options: IndexMap<String, String>,
}

/// A service's use of a top-level secret or config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReference {
    /// The key under top-level `secrets:`/`configs:`.
    pub source: String,
    /// Absolute in the container: `/run/secrets/<source>` for a secret
    /// without a target, `/<source>` for a config.
    pub target: String,
    pub uid: Option<String>,
    pub gid: Option<String>,
    pub mode: Option<u32>,
}

/// A top-level secret or config. A file is bound read-only; a variable's
/// value or a config's `content:` is written into the container by the
/// engine before it starts; `external` ones need Swarm and are refused by
/// the loader with a clear line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum FileObject {
    /// Absolute host path.
    File(PathBuf),
    /// The value of this variable from the project's environment.
    Environment(String),
    /// Inline `content:` (configs).
    Content(String),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Network {
    /// The Docker network's name: `name:`, or `<project>_<key>`; for an
    /// external network, `name:` or the key.
    pub name: String,
    pub external: bool,
    pub driver: Option<String>,
    pub driver_opts: IndexMap<String, String>,
    pub ipam: Option<Ipam>,
    pub internal: bool,
    pub enable_ipv6: bool,
    pub attachable: bool,
    pub labels: IndexMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ipam {
    pub driver: Option<String>,
    pub config: Vec<IpamPool>,
    pub options: IndexMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IpamPool {
    pub subnet: Option<String>,
    pub ip_range: Option<String>,
    pub gateway: Option<String>,
    pub aux_addresses: IndexMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Volume {
    /// The Docker volume's name: `name:`, or `<project>_<key>`; for an
    /// external volume, `name:` or the key.
    pub name: String,
    pub external: bool,
    pub driver: Option<String>,
    pub driver_opts: IndexMap<String, String>,
    pub labels: IndexMap<String, String>,
}
