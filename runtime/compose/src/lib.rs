//! Compose files → a project model, with no side effects.
//!
//! The loader reads the files as untyped YAML, interpolates variables on
//! that tree (so `"${PORT}:80"` works), merges `-f` files and `extends`,
//! applies profiles, turns every short form into its long form, and checks
//! the result. What comes out is [`model::Project`]: the one shape the
//! engine (`rrun compose`) works from, in which nothing is ambiguous.

pub mod model;

pub use model::Project;
