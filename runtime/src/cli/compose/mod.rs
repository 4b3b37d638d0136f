//! `rrun compose`: Compose projects, natively.
//!
//! model + current state → actions (pure), actions carried out through the
//! API client. The loader (`rrun_compose`) gives the model; state reads the
//! project's containers, networks and volumes with one labelled query per
//! kind; plan decides; apply acts.

pub mod labels;
pub mod plan;
pub mod spec;
pub mod spec_host;
pub mod spec_net;
pub mod state;
