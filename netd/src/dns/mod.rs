//! The embedded DNS resolver: answers (pure) and the server (sockets).

pub mod cache;
pub mod records;
pub mod server;
mod udp;

pub use records::{Answer, Asker, DnsEndpoint, Snapshot};
