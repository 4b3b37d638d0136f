//! Pure: a create's every check, before anything on the host changes.
//!
//! [`plan`] takes the create request, the host's facts ([`Facts`]) and a
//! read-only view of the daemon's images, networks and containers
//! ([`Lookup`]), and returns a [`ContainerPlan`]: the record to save and
//! the checked values it was made from (the name, the networks with their
//! aliases and addresses, the published ports, the mounts, the limits),
//! or one [`PlanError`] with Docker's message and status. The [`Lookup`]
//! has no method that changes anything, so a refused create has made
//! nothing; [`crate::daemon::Daemon::create`] then takes the name, attaches
//! the volumes and saves the record, undoing each if a later one fails.

use volumes::plan::PlannedMount;
use volumes::VolumeName;

use crate::daemon::containers::ports::{wanted_ports, WantedPort};
use crate::daemon::models::{ContainerConfig, CreateBody, HostConfig, LogConfig};
use crate::daemon::store::{self, Container, State};
use crate::daemon::{logs, runopts, spec, ApiError};

mod networks;
mod types;

pub use networks::plan_networks;
pub use types::{Alias, ContainerName, Limits, NetworkAttachment, NetworkRef};

#[cfg(test)]
mod tests;

/// Why a create is refused; each maps to Docker's status and message.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("config cannot be empty in order to create a container")]
    NoImage,
    #[error("no command specified")]
    NoCommand,
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    /// 409: the name index says another container holds the name.
    #[error("the container name {name} is in use by {holder}")]
    NameInUse { name: ContainerName, holder: String },
    #[error("network-scoped alias is supported only for containers in user defined networks")]
    AliasOnDefaultBridge,
    #[error("user specified IP address is supported on user defined networks only")]
    AddressOnDefaultBridge,
    /// 404: a `--link` to a container that does not exist.
    #[error("could not get container for {name}: {reason}")]
    NoSuchLink { name: String, reason: String },
    /// 400: an option's value, with Docker's message for it.
    #[error("{0}")]
    Invalid(String),
    /// What a lookup refused (no such image, network or container), with
    /// its own status.
    #[error("{}", .0.message)]
    Lookup(ApiError),
}

impl From<ApiError> for PlanError {
    fn from(e: ApiError) -> PlanError {
        PlanError::Lookup(e)
    }
}

/// An image as a create needs it.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    pub id: String,
    pub manifest_digest: String,
    pub config: rrun_image::manifest::ContainerConfig,
}

/// What the planner may ask of the daemon: reads only.
pub trait Lookup {
    /// An image by reference or id (404 `No such image: …`).
    fn image(&self, reference: &str) -> Result<ImageFacts, ApiError>;
    /// A network by name or id (404 `network … not found`).
    fn network(&self, name: &str) -> Result<netd::store::Network, ApiError>;
    /// A container by name, id or id prefix (404 `No such container: …`).
    fn container(&self, name: &str) -> Result<Container, ApiError>;
    /// The id of the container that holds (or is being created with) a name.
    fn name_holder(&self, name: &ContainerName) -> Option<String>;
    /// The major and minor numbers of a block device on the host.
    fn block_device(&self, path: &str) -> Result<(i64, i64), String>;
    /// That each bind's propagation is one its source's host mount can give.
    fn check_propagation(&self, mounts: &[PlannedMount]) -> Result<(), ApiError>;
    /// The container's log config with the daemon's defaults filled in.
    fn log_config(&self, own: Option<LogConfig>) -> Result<Option<LogConfig>, String>;
}

/// The host's facts a create's checks use.
#[derive(Debug, Clone)]
pub struct Facts {
    pub host: runopts::Host,
    /// The host's hostname (`--uts host` containers take it).
    pub hostname: String,
    /// The daemon's `--default-cgroupns-mode`.
    pub default_cgroupns_mode: String,
}

/// A create, checked: the record to save and the checked values in it.
#[derive(Debug, Clone)]
pub struct ContainerPlan {
    record: Container,
    name: Option<ContainerName>,
    networks: Vec<NetworkAttachment>,
    ports: Vec<WantedPort>,
    mounts: Vec<PlannedMount>,
    limits: Limits,
    warnings: Vec<String>,
}

impl ContainerPlan {
    /// The record, with its mounts and networks, and without a name when
    /// none was asked (the name index picks one).
    pub fn record(&self) -> &Container {
        &self.record
    }
    pub fn name(&self) -> Option<&ContainerName> {
        self.name.as_ref()
    }
    pub fn networks(&self) -> &[NetworkAttachment] {
        &self.networks
    }
    /// `-p`/`-P` as the create asked (the image's EXPOSE counts with `-P`).
    pub fn ports(&self) -> &[WantedPort] {
        &self.ports
    }
    pub fn mounts(&self) -> &[PlannedMount] {
        &self.mounts
    }
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// Options the host cannot apply, dropped as dockerd drops them.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    /// The record to save and the warnings.
    pub fn into_record(self) -> (Container, Vec<String>) {
        (self.record, self.warnings)
    }
}

/// Every check of a create, with nothing changed.
pub fn plan(
    name: Option<&str>,
    body: CreateBody,
    look: &dyn Lookup,
    facts: &Facts,
) -> Result<ContainerPlan, PlanError> {
    let mut config = body.config;
    let mut host = body.host_config;
    if config.image.is_empty() {
        return Err(PlanError::NoImage);
    }
    let image = look.image(&config.image)?;
    let endpoints =
        networks::own_network_settings(&config, &host, body.networking_config.endpoints_config);
    let (mode, attachments) = networks::plan_networks(look, &host.network_mode, &endpoints)?;
    host.network_mode = mode;
    let ic = &image.config;
    // The image's EXPOSE, as Docker merges it into the container's.
    for p in ic.exposed_ports.iter().flat_map(|m| m.keys()) {
        config.exposed_ports.entry(p.clone()).or_default();
    }
    let exposed: Vec<String> = config.exposed_ports.keys().cloned().collect();
    let ports = wanted_ports(&host.port_bindings, host.publish_all_ports, &exposed)
        .map_err(PlanError::Invalid)?;
    networks::check_port_families(look, &attachments, &ports)?;
    host.log_config = look
        .log_config(host.log_config.take())
        .map_err(PlanError::Invalid)?;
    if host.run.cgroupns_mode.is_empty() {
        host.run.cgroupns_mode = facts.default_cgroupns_mode.clone();
    }
    let warnings = check_host_config(&mut host, &config.hostname, &facts.host)?;
    let limits = Limits::check(&host.run, &|p: &str| look.block_device(p))?;
    // The containers `--pid`/`--ipc container:` join must exist now
    // (that they run is checked at start).
    for mode in [&host.run.pid_mode, &host.run.ipc_mode] {
        if let Some(donor) = runopts::donor(mode) {
            look.container(donor)?;
        }
    }
    let name = ContainerName::from_request(name)?;
    if let Some(holder) = name.as_ref().and_then(|n| look.name_holder(n)) {
        let name = name.expect("held");
        return Err(PlanError::NameInUse { name, holder });
    }
    if let Some(hc) = &config.healthcheck {
        crate::daemon::containers::health::validate(hc).map_err(PlanError::Invalid)?;
    }
    let image_volumes: Vec<String> = ic.volumes.iter().flat_map(|m| m.keys()).cloned().collect();
    let mounts = plan_mounts(look, &config, &host, &image_volumes)?;
    let record = new_record(config, host, &image, facts)?;
    let record = Container {
        name: name.as_ref().map(ToString::to_string).unwrap_or_default(),
        networks: attachments
            .iter()
            .map(NetworkAttachment::to_request)
            .collect(),
        mounts: mounts.clone(),
        ..record
    };
    Ok(ContainerPlan {
        record,
        name,
        networks: attachments,
        ports,
        mounts,
        limits,
        warnings,
    })
}

/// The record of a new container in Docker's `created` state, its
/// config merged with the image's: a command, a hostname, a stop signal.
fn new_record(
    mut config: ContainerConfig,
    host_config: HostConfig,
    image: &ImageFacts,
    facts: &Facts,
) -> Result<Container, PlanError> {
    let ic = &image.config;
    merge_image_config(&mut config, ic);
    let args = spec::command(
        ic.entrypoint.as_deref().unwrap_or(&[]),
        ic.cmd.as_deref().unwrap_or(&[]),
        config.entrypoint.as_deref(),
        config.cmd.as_deref(),
    );
    if args.is_empty() {
        return Err(PlanError::NoCommand);
    }
    let id = store::new_id();
    if config.hostname.is_empty() && host_config.run.uts_mode == "host" {
        config.hostname = facts.hostname.clone();
    } else if config.hostname.is_empty() {
        config.hostname = id[..12].to_string();
    }
    if config.stop_signal.is_none() {
        config.stop_signal = ic.stop_signal.clone();
    }
    Ok(Container {
        id,
        created: logs::now(),
        image_name: config.image.clone(),
        image: image.id.clone(),
        manifest: image.manifest_digest.clone(),
        path: args[0].clone(),
        args: args[1..].to_vec(),
        config,
        host_config,
        state: State {
            status: "created".into(),
            started_at: store::ZERO_TIME.into(),
            finished_at: store::ZERO_TIME.into(),
            ..Default::default()
        },
        ..Default::default()
    })
}

/// The container's mounts (`-v`, `--mount`, `--tmpfs`, `--volumes-from`,
/// the image's `VOLUME`s), resolved; anonymous volumes named, not made.
fn plan_mounts(
    look: &dyn Lookup,
    config: &ContainerConfig,
    host: &HostConfig,
    image_volumes: &[String],
) -> Result<Vec<PlannedMount>, PlanError> {
    use volumes::plan::PlanError as MountError;
    let req = crate::daemon::volume::mount_request(config, host, image_volumes)
        .map_err(|e| PlanError::Invalid(e.to_string()))?;
    let planned = volumes::plan::plan_mounts(
        &req,
        |other| look.container(other).ok().map(|c| c.mounts),
        VolumeName::random,
    )
    .map_err(|e| match e {
        MountError::NoSuchContainer(c) => {
            PlanError::Lookup(ApiError::not_found(format!("No such container: {c}")))
        }
        e => PlanError::Invalid(e.to_string()),
    })?;
    look.check_propagation(&planned)?;
    Ok(planned)
}

/// The host config's own checks (pure but for the host facts given):
/// extra hosts, the run options with Docker's messages and defaults, and
/// auto-remove against a restart policy. Returns the warnings.
pub fn check_host_config(
    host: &mut HostConfig,
    hostname: &str,
    facts: &runopts::Host,
) -> Result<Vec<String>, PlanError> {
    for h in &host.extra_hosts {
        h.parse::<netd::resolv::ExtraHost>()
            .map_err(|e| PlanError::Invalid(e.to_string()))?;
    }
    let warnings = runopts::validate(&mut host.run, facts).map_err(PlanError::Invalid)?;
    runopts::validate_modes(&mut host.run, hostname).map_err(PlanError::Invalid)?;
    if host.auto_remove && !host.run.restart_policy.is_none() {
        return Err(PlanError::Invalid(
            "can't create 'AutoRemove' container with restart policy".into(),
        ));
    }
    Ok(warnings)
}

/// The image's run config under the request's, as dockerd merges them at
/// create (so inspect shows them, and a later image change does not
/// change the container): `User`, `WorkingDir`, the `Env` variables the
/// request does not set, the `Labels` it does not set, the `Healthcheck`
/// under the request's, and `Entrypoint`/`Cmd` by Docker's rule (the
/// image's `Cmd` only when the request names neither).
pub fn merge_image_config(
    config: &mut ContainerConfig,
    ic: &rrun_image::manifest::ContainerConfig,
) {
    if config.user.is_empty() {
        config.user = ic.user.clone().unwrap_or_default();
    }
    if config.working_dir.is_empty() {
        config.working_dir = ic.working_dir.clone().unwrap_or_default();
    }
    let key = |e: &String| e.split('=').next().unwrap_or_default().to_string();
    let set: std::collections::BTreeSet<String> = config.env.iter().map(key).collect();
    for e in ic.env.iter().flatten() {
        if !set.contains(&key(e)) {
            config.env.push(e.clone());
        }
    }
    for (k, v) in ic.labels.iter().flatten() {
        config.labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    config.healthcheck = crate::daemon::containers::health::merge(
        config.healthcheck.take(),
        ic.healthcheck.as_ref(),
    );
    if config.entrypoint.as_ref().is_none_or(Vec::is_empty) {
        if config.cmd.as_ref().is_none_or(Vec::is_empty) {
            config.cmd = ic.cmd.clone();
        }
        if config.entrypoint.is_none() {
            config.entrypoint = ic.entrypoint.clone();
        }
    }
}
