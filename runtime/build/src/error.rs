//! Build errors. Every one that comes from the Dockerfile names its line
//! (`Dockerfile:LINE: …`), as the docker CLI's users expect.

use crate::words::WordError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("Dockerfile:{line}: {message}")]
    Parse { line: usize, message: String },
    /// An instruction's arguments are wrong (a bad flag, a bad port, …).
    #[error("Dockerfile:{line}: {keyword}: {detail}")]
    Invalid {
        line: usize,
        keyword: &'static str,
        detail: String,
    },
    #[error("Dockerfile:{line}: {keyword}: {source}")]
    Word {
        line: usize,
        keyword: &'static str,
        #[source]
        source: WordError,
    },
    #[error("target stage {target:?} could not be found; the stages are: {known}")]
    UnknownTarget { target: String, known: String },
    #[error("Dockerfile:{line}: circular dependency between stages: {cycle}")]
    Cycle { line: usize, cycle: String },
    #[error(".dockerignore:{line}: {detail}")]
    Ignore { line: usize, detail: String },
    /// What the host failed at, with the step that asked.
    #[error("Dockerfile:{line}: {step}: {source}")]
    Host {
        line: usize,
        step: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
