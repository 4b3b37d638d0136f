//! The runc-compatible command line.
