//! The Linux executor.
