//! The daemon's errors: one enum per service, each variant a kind of
//! failure whose text is the message Docker clients see, and the one place
//! where a kind becomes an HTTP status ([`ContainerError::status`] and its
//! siblings, all below).
//!
//! Services return these; the API handlers return [`ApiError`] (the wire
//! shape, `{"message": …}` with a status) and convert at the edge with `?`.
//! An error of netd, the volumes crate or rrun-image is mapped by kind in
//! one `From`, so one underlying failure has one status wherever it
//! surfaces (a volume that cannot be attached answers the same at create
//! and at start).
//!
//! Statuses are dockerd's (its `errdefs` kinds): 400 invalid parameter,
//! 401 unauthorized, 403 forbidden, 404 not found, 409 conflict,
//! 501 not implemented, 500 system.
//!
//! The create planner's `PlanError` (containers/plan) is mapped here too
//! (`PlanError::status`); what its lookups refused keeps the lookup's own
//! status. Not yet here: the handlers' own checks of a request's query and
//! body (api/) build their 400s in place.

use axum::http::StatusCode;
use netd::NetdError;
use rrun_image::images::ImageError as StoreImageError;
use volumes::attach::AttachError;
use volumes::plan::PlanError;
use volumes::StoreError as VolumeStoreError;

use super::containers::plan::PlanError as CreatePlanError;
use super::{ApiError, FilterError};

/// The containers service: lookup, names, lifecycle, update, links,
/// archives, and a start's own failures.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("Multiple IDs found with provided prefix: {0}")]
    AmbiguousPrefix(String),
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{holder}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, holder: String },
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    #[error("Neither old nor new names may be empty")]
    EmptyName,
    #[error("Renaming a container with the same name as its current name")]
    SameName,
    #[error("Container {0} is not running")]
    NotRunning(String),
    #[error("Cannot kill container: {name}: Container {id} is not running")]
    KillNotRunning { name: String, id: String },
    #[error("Container {0} is already paused")]
    AlreadyPaused(String),
    #[error("Container {0} is not paused")]
    NotPaused(String),
    #[error("You cannot remove a running container {0}. Stop the container before attempting removal or force remove")]
    RemoveRunning(String),
    #[error("You cannot remove a restarting container {0}. Stop the container before attempting removal or force remove")]
    RemoveRestarting(String),
    /// `--network/--pid/--ipc container:<id>` whose container does not run.
    #[error("cannot join {what} of a non running container: {id}")]
    JoinNotRunning { what: &'static str, id: String },
    #[error("cannot join IPC of container {0}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)")]
    IpcNotShareable(String),
    #[error("Cannot link to a non running container: {0}")]
    LinkNotRunning(String),
    #[error("could not get container for {0}: No such container")]
    NoSuchLinkTarget(String),
    #[error("Cannot get parent /{parent} for link name /{parent}/{alias}")]
    NoSuchLinkParent { parent: String, alias: String },
    #[error("No such container: {parent}/{alias}")]
    NoSuchLink { parent: String, alias: String },
    /// `docker rm --link` of a bare name (the container's own name).
    #[error("Conflict, cannot remove the default link name of the container")]
    DefaultLink,
    /// `docker update` options the container cannot take.
    #[error("Cannot update container {id}: {reason}")]
    InvalidUpdate { id: String, reason: String },
    /// `docker update` options the cgroup refused.
    #[error("Cannot update container {id}: {reason}")]
    UpdateFailed { id: String, reason: String },
    #[error("Cannot pause container {id}: {reason}")]
    PauseFailed { id: String, reason: String },
    #[error("Cannot unpause container {id}: {reason}")]
    UnpauseFailed { id: String, reason: String },
    #[error("Could not find the file {path} in container {id}")]
    NoSuchPath { path: String, id: String },
    #[error("extraction point is not a directory")]
    NotADirectory,
    #[error("container rootfs is marked read-only")]
    ReadOnlyRootfs,
    #[error("mounted volume is marked read-only: {0}")]
    ReadOnlyVolume(String),
    /// `docker logs` of a container whose log driver keeps nothing to read.
    #[error("{}", super::containers::logopts::NOT_READABLE)]
    LogsUnreadable,
    /// A host port asked for is taken (dockerd's 500).
    #[error("driver failed programming external connectivity on endpoint {endpoint}: Bind for {address} failed: port is already allocated")]
    PortAllocated { endpoint: String, address: String },
    /// The executor refused the container (its report's error).
    #[error("{0}")]
    Refused(String),
    /// A bad option, found when it is used (a spec, DNS or host entry).
    #[error("{0}")]
    InvalidOption(String),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Volume(#[from] VolumeError),
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// An error of the create planning (containers/create.rs, runopts,
    /// ports, plan_networks), still an [`ApiError`] until that code is
    /// converted.
    #[error(transparent)]
    Planning(#[from] ApiError),
    /// The host failed (a file, a mount, a process): what was done, on what.
    #[error("{0}")]
    Internal(String),
}

impl ContainerError {
    /// Docker's status for this failure.
    pub fn status(&self) -> StatusCode {
        use ContainerError::*;
        match self {
            NoSuchContainer(_)
            | AmbiguousPrefix(_)
            | NoSuchLinkTarget(_)
            | NoSuchLinkParent { .. }
            | NoSuchLink { .. }
            | NoSuchPath { .. } => StatusCode::NOT_FOUND,
            NameInUse { .. }
            | NotRunning(_)
            | KillNotRunning { .. }
            | AlreadyPaused(_)
            | NotPaused(_)
            | RemoveRunning(_)
            | RemoveRestarting(_)
            | JoinNotRunning { .. }
            | IpcNotShareable(_)
            | LinkNotRunning(_)
            | DefaultLink => StatusCode::CONFLICT,
            InvalidName(_)
            | EmptyName
            | SameName
            | InvalidUpdate { .. }
            | NotADirectory
            | ReadOnlyRootfs
            | ReadOnlyVolume(_)
            | Refused(_)
            | InvalidOption(_) => StatusCode::BAD_REQUEST,
            UpdateFailed { .. }
            | PauseFailed { .. }
            | UnpauseFailed { .. }
            | PortAllocated { .. }
            | Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Image(e) => e.status(),
            Network(e) => e.status(),
            Volume(e) => e.status(),
            LogsUnreadable => StatusCode::NOT_IMPLEMENTED,
            Filter(e) => filter_status(e),
            Planning(e) => e.status,
        }
    }
}

/// The networks service (and netd's failures wherever they surface).
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    #[error("network with name {0} already exists")]
    NameInUse(String),
    #[error("plugin \"{0}\" not found")]
    NoSuchPlugin(String),
    #[error("IPv6-only networks (EnableIPv4 false, --ipv4=false) are not supported by rrun yet")]
    Ipv6Only,
    #[error("{0} is a pre-defined network and cannot be removed")]
    Predefined(String),
    #[error("endpoint with name {container} already exists in network {network}")]
    EndpointExists { container: String, network: String },
    #[error("container {container} is not connected to network {network}")]
    NotConnected { container: String, network: String },
    #[error("container sharing network namespace with another container or host cannot be connected to any other network")]
    SharedNamespace,
    /// A bad name, IPAM config, address, DNS server or host entry.
    #[error("{0}")]
    InvalidOption(String),
    #[error(transparent)]
    Netd(NetdError),
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error("{0}")]
    Internal(String),
}

impl NetworkError {
    pub fn status(&self) -> StatusCode {
        use NetworkError::*;
        match self {
            NoSuchNetwork(_) => StatusCode::NOT_FOUND,
            NameInUse(_) => StatusCode::CONFLICT,
            NoSuchPlugin(_) | Ipv6Only | SharedNamespace | InvalidOption(_) => {
                StatusCode::BAD_REQUEST
            }
            Predefined(_) | EndpointExists { .. } | NotConnected { .. } => StatusCode::FORBIDDEN,
            Netd(e) => netd_status(e),
            Filter(e) => filter_status(e),
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

fn netd_status(e: &NetdError) -> StatusCode {
    match e {
        NetdError::Store(netd::store::StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
        NetdError::Exists(_)
        | NetdError::InUse { .. }
        | NetdError::AlreadyConnected { .. }
        | NetdError::BridgeInUse { .. } => StatusCode::CONFLICT,
        NetdError::NotConnected { .. }
        | NetdError::Name(_)
        | NetdError::Protocol(_)
        | NetdError::Ipv6(_)
        | NetdError::Ipam(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<NetdError> for NetworkError {
    fn from(e: NetdError) -> NetworkError {
        match e {
            NetdError::Store(netd::store::StoreError::NotFound(n)) => {
                NetworkError::NoSuchNetwork(n)
            }
            NetdError::Exists(n) => NetworkError::NameInUse(n),
            e => NetworkError::Netd(e),
        }
    }
}

/// The volumes service and a container's mounts.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    /// A bad mount, volume name, option or filter.
    #[error("{0}")]
    InvalidOption(String),
    /// A bad `-v`, `--mount`, `--tmpfs` or `--volumes-from`.
    #[error(transparent)]
    Spec(#[from] volumes::mountspec::SpecError),
    #[error(transparent)]
    Store(#[from] VolumeStoreError),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

impl VolumeError {
    pub fn status(&self) -> StatusCode {
        match self {
            VolumeError::NoSuchVolume(_) => StatusCode::NOT_FOUND,
            VolumeError::InvalidOption(_) | VolumeError::Spec(_) => StatusCode::BAD_REQUEST,
            VolumeError::Store(e) => volume_store_status(e),
            VolumeError::Attach(AttachError::BindSourceMissing(_)) => StatusCode::BAD_REQUEST,
            VolumeError::Attach(AttachError::CreateBindSource { .. }) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            VolumeError::Attach(AttachError::Store { error, .. }) => volume_store_status(error),
            VolumeError::Plan(PlanError::NoSuchContainer(_)) => StatusCode::NOT_FOUND,
            VolumeError::Plan(_) => StatusCode::BAD_REQUEST,
        }
    }
}

fn volume_store_status(e: &VolumeStoreError) -> StatusCode {
    match e {
        VolumeStoreError::NotFound(_) => StatusCode::NOT_FOUND,
        VolumeStoreError::InUse { .. } | VolumeStoreError::Conflict(_) => StatusCode::CONFLICT,
        VolumeStoreError::Options { .. } | VolumeStoreError::ContainerId(_) => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The images service: the store, references, commit, registry logins.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// `create --platform` of an image here of another platform.
    #[error("image with reference {name} was found but does not match the specified platform: wanted {wanted}, actual: {actual}")]
    PlatformMismatch {
        name: String,
        wanted: String,
        actual: String,
    },
    #[error("invalid reference format: {reference}: {reason}")]
    InvalidReference { reference: String, reason: String },
    /// A bad option, change, platform or filter.
    #[error("{0}")]
    InvalidOption(String),
    #[error("Cannot pause container {id} to commit it: {reason}")]
    CommitPause { id: String, reason: String },
    #[error("commit {id}: {reason}")]
    Commit { id: String, reason: String },
    #[error("login attempt to {0}/v2/ failed with status: 401 Unauthorized")]
    LoginRefused(String),
    /// A registry has no manifest for the reference.
    #[error("{0}: not found: manifest unknown")]
    NoSuchManifest(String),
    /// A registry refused the credentials (its words).
    #[error("{0}")]
    RegistryDenied(String),
    #[error(transparent)]
    Store(StoreImageError),
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error("{0}")]
    Internal(String),
}

impl ImageError {
    pub fn status(&self) -> StatusCode {
        use ImageError::*;
        match self {
            NoSuchImage(_) | PlatformMismatch { .. } | NoSuchManifest(_) => StatusCode::NOT_FOUND,
            InvalidReference { .. } | InvalidOption(_) => StatusCode::BAD_REQUEST,
            LoginRefused(_) | RegistryDenied(_) => StatusCode::UNAUTHORIZED,
            Store(StoreImageError::Conflict { .. } | StoreImageError::ReferenceInUse { .. }) => {
                StatusCode::CONFLICT
            }
            Store(StoreImageError::Reference(_)) => StatusCode::BAD_REQUEST,
            Filter(e) => filter_status(e),
            CommitPause { .. } | Commit { .. } | Store(_) | Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl From<StoreImageError> for ImageError {
    fn from(e: StoreImageError) -> ImageError {
        match e {
            StoreImageError::NoSuchImage(n) => ImageError::NoSuchImage(n),
            e => ImageError::Store(e),
        }
    }
}

/// The exec service.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("No such exec instance: {0}")]
    NoSuchExec(String),
    #[error("Container {0} is paused, unpause the container before exec")]
    ContainerPaused(String),
    #[error("No exec command specified")]
    NoCommand,
    #[error("Error: Exec command {0} is already running")]
    AlreadyRunning(String),
    #[error("Error: Exec command {0} has already run")]
    AlreadyRan(String),
    #[error("{0}")]
    InvalidOption(String),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error("{0}")]
    Internal(String),
}

impl ExecError {
    pub fn status(&self) -> StatusCode {
        use ExecError::*;
        match self {
            NoSuchExec(_) => StatusCode::NOT_FOUND,
            ContainerPaused(_) | AlreadyRunning(_) | AlreadyRan(_) => StatusCode::CONFLICT,
            NoCommand | InvalidOption(_) => StatusCode::BAD_REQUEST,
            Container(e) => e.status(),
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The create planner's errors: a taken name is dockerd's 409 with its
/// text, a `--link` to no container 404, a lookup's refusal its own
/// status, every other refused option 400.
impl CreatePlanError {
    pub fn status(&self) -> StatusCode {
        match self {
            CreatePlanError::Lookup(e) => e.status,
            CreatePlanError::NameInUse { .. } => StatusCode::CONFLICT,
            CreatePlanError::NoSuchLink { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<CreatePlanError> for ApiError {
    fn from(e: CreatePlanError) -> ApiError {
        let status = e.status();
        match e {
            CreatePlanError::Lookup(e) => e,
            // Docker's text for a taken name, as the index's refusal says it.
            CreatePlanError::NameInUse { name, holder } => {
                let e = super::containers::name_conflict(name.as_str(), &holder);
                ApiError::new(status, e.to_string())
            }
            e => ApiError::new(status, e.to_string()),
        }
    }
}

fn filter_status(e: &FilterError) -> StatusCode {
    match e {
        FilterError::NoSuch { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    }
}

macro_rules! into_api_error {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> ApiError {
                ApiError::new(e.status(), e.to_string())
            }
        }
    )*};
}
into_api_error!(
    ContainerError,
    NetworkError,
    VolumeError,
    ImageError,
    ExecError
);

macro_rules! internal {
    ($($t:ident),*) => {$(
        impl $t {
            /// A host failure, in the words of its error.
            pub fn internal(e: impl std::fmt::Display) -> $t {
                $t::Internal(e.to_string())
            }
        }
    )*};
}
internal!(ContainerError, NetworkError, ImageError, ExecError);

impl From<FilterError> for ApiError {
    fn from(e: FilterError) -> ApiError {
        ApiError::new(filter_status(&e), e.to_string())
    }
}

impl From<NetdError> for ContainerError {
    fn from(e: NetdError) -> ContainerError {
        ContainerError::Network(e.into())
    }
}

impl From<AttachError> for ContainerError {
    fn from(e: AttachError) -> ContainerError {
        ContainerError::Volume(e.into())
    }
}

impl From<StoreImageError> for ContainerError {
    fn from(e: StoreImageError) -> ContainerError {
        ContainerError::Image(e.into())
    }
}

#[cfg(test)]
#[path = "errors_tests.rs"]
mod tests;
