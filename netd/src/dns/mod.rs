//! The embedded DNS resolver: answers (pure) and the server (sockets).

pub mod records;
pub mod server;

pub use records::{Answer, Asker, DnsEndpoint, Snapshot};
