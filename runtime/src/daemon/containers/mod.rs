//! The containers service: the name index, create, rename and remove.

pub mod index;
pub mod logopts;
pub mod network;
pub mod ports;
pub mod start;
