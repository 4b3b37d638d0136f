//! rrun's Dockerfile builds, the part that needs no host: a Dockerfile is
//! parsed ([`dockerfile`]), its variables substituted ([`words`]), the
//! stages the target needs chosen ([`stages`]), the context filtered by
//! `.dockerignore` ([`ignore`]) and hashed for COPY's cache keys
//! ([`context`]), each metadata instruction turned into image config
//! ([`instructions`]), and the whole build driven step by step
//! ([`driver::build`]) over a [`driver::BuildHost`] that the daemon
//! implements: find or pull a base image, run a RUN in a container, copy
//! files, commit a layer, look up the cache, tag.

pub mod context;
pub mod copy;
pub mod dockerfile;
pub mod driver;
pub mod error;
mod heredoc_wrap;
pub mod ignore;
pub mod instructions;
pub mod stages;
pub mod words;

pub use driver::{
    build, BuildEvent, BuildHost, BuildOptions, BuildOutput, Commit, ContextSource, CopyFrom,
    CopySpec, HostError, HostImage, RunSpec,
};
pub use error::BuildError;
