//! rrun networking: network store, IPAM, bridges and veths, firewall, ports, DNS.
//!
//! Pure modules (`name`, `store`, `ipam`, `firewall::plan`, `dns::records`,
//! `resolv`) decide; `netns`, `link`, `firewall::apply` and `dns::server` act.

pub mod dns;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod manager;
pub mod name;
pub mod netns;
pub mod resolv;
pub mod store;

pub use manager::{
    ConnectOptions, Connected, ContainerRef, CreateNetwork, Netd, NetdConfig, NetdError,
};
