//! The checked values of a [`super::ContainerPlan`]: each made only through
//! a constructor that checks it, so an unchecked name, alias, address or
//! limit cannot reach the apply.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use oci_spec::runtime::LinuxBlockIo;

use super::PlanError;
use crate::daemon::runopts::{self, BlockDevice, Rlimit, RunOptions};
use crate::daemon::store::{self, NetworkRequest};

/// A container name by Docker's rule, `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, kept
/// without the API's leading `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerName(String);

impl ContainerName {
    /// The name a create asks for (with or without its `/`), checked;
    /// None when none was given (the daemon picks a random one).
    pub fn from_request(name: Option<&str>) -> Result<Option<ContainerName>, PlanError> {
        match name.map(|n| n.trim_start_matches('/')) {
            Some(n) if !n.is_empty() => n.parse().map(Some),
            _ => Ok(None),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ContainerName {
    type Err = PlanError;
    fn from_str(n: &str) -> Result<ContainerName, PlanError> {
        if store::valid_name(n) {
            Ok(ContainerName(n.to_string()))
        } else {
            Err(PlanError::InvalidName(n.to_string()))
        }
    }
}

impl fmt::Display for ContainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A network-scoped alias (`--network-alias`): a name other containers
/// on the network resolve; not empty, no whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Alias(String);

impl Alias {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Alias {
    type Err = PlanError;
    fn from_str(a: &str) -> Result<Alias, PlanError> {
        if a.is_empty() || a.chars().any(char::is_whitespace) {
            return Err(PlanError::Invalid(format!(
                "invalid network alias {a:?}: an alias is a name without spaces"
            )));
        }
        Ok(Alias(a.to_string()))
    }
}

/// A network as found when planning: its id and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRef {
    pub id: netd::name::NetworkId,
    pub name: netd::name::NetworkName,
}

/// One network the container joins, checked against the network: not the
/// default bridge when it has aliases or fixed addresses, an IPv6 address
/// only in the network's IPv6 subnet, links to containers that exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAttachment {
    pub(super) network: NetworkRef,
    pub(super) aliases: Vec<Alias>,
    pub(super) ipv4: Option<Ipv4Addr>,
    pub(super) ipv6: Option<Ipv6Addr>,
    pub(super) mac: Option<[u8; 6]>,
    pub(super) links: Vec<netd::store::Link>,
}

impl NetworkAttachment {
    pub fn network(&self) -> &NetworkRef {
        &self.network
    }
    pub fn aliases(&self) -> &[Alias] {
        &self.aliases
    }
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        self.ipv4
    }
    pub fn ipv6(&self) -> Option<Ipv6Addr> {
        self.ipv6
    }
    pub fn mac(&self) -> Option<[u8; 6]> {
        self.mac
    }
    pub fn links(&self) -> &[netd::store::Link] {
        &self.links
    }

    /// As the container's record keeps it (and netd connects it at start).
    pub fn to_request(&self) -> NetworkRequest {
        NetworkRequest {
            name: self.network.name.to_string(),
            aliases: self.aliases.iter().map(|a| a.0.clone()).collect(),
            ipv4: self.ipv4,
            ipv6: self.ipv6,
            links: self.links.clone(),
            mac: self.mac,
        }
    }
}

/// The resource limits, as numbers, after the run options' checks: made
/// only by [`Limits::check`] from options [`runopts::validate`] passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    memory: Option<i64>,
    memory_swap: Option<i64>,
    memory_reservation: Option<i64>,
    nano_cpus: Option<i64>,
    cpu_shares: Option<i64>,
    pids: Option<i64>,
    ulimits: Vec<Rlimit>,
    blkio: Option<LinuxBlockIo>,
}

/// Zero is "not set" in Docker's HostConfig.
fn set(v: i64) -> Option<i64> {
    (v != 0).then_some(v)
}

impl Limits {
    /// The limits of validated options; the block IO devices' numbers
    /// come from `dev`, which refuses a path that is not a block device.
    pub(super) fn check(o: &RunOptions, dev: BlockDevice) -> Result<Limits, PlanError> {
        let ulimits = o
            .ulimits
            .iter()
            .map(Rlimit::of)
            .collect::<Result<_, _>>()
            .map_err(PlanError::Invalid)?;
        Ok(Limits {
            memory: set(o.memory),
            memory_swap: set(o.memory_swap),
            memory_reservation: set(o.memory_reservation),
            nano_cpus: set(o.nano_cpus),
            cpu_shares: set(o.cpu_shares),
            pids: o.pids_limit.filter(|p| *p != 0),
            ulimits,
            blkio: runopts::block_io(o, dev).map_err(PlanError::Invalid)?,
        })
    }

    /// Bytes (`-m`).
    pub fn memory(&self) -> Option<i64> {
        self.memory
    }
    /// Memory and swap together, in bytes; -1 unlimited.
    pub fn memory_swap(&self) -> Option<i64> {
        self.memory_swap
    }
    pub fn memory_reservation(&self) -> Option<i64> {
        self.memory_reservation
    }
    /// `--cpus` in billionths of a CPU.
    pub fn nano_cpus(&self) -> Option<i64> {
        self.nano_cpus
    }
    pub fn cpu_shares(&self) -> Option<i64> {
        self.cpu_shares
    }
    /// `--pids-limit`; negative is unlimited.
    pub fn pids(&self) -> Option<i64> {
        self.pids
    }
    pub fn ulimits(&self) -> &[Rlimit] {
        &self.ulimits
    }
    /// `linux.resources.blockIO`, device numbers looked up.
    pub fn blkio(&self) -> Option<&LinuxBlockIo> {
        self.blkio.as_ref()
    }
}
