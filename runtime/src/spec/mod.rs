//! Pure logic over OCI runtime specs.
