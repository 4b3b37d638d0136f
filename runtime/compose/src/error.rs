//! The loader's errors. Each one displays as one line: the file, the key
//! path (`services.web.ports[0]`), what is wrong and what to do.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(
        "no Compose file in {dir} or its parents (compose.yaml, compose.yml, \
         docker-compose.yml, docker-compose.yaml): create one or name it with -f"
    )]
    NoFile { dir: PathBuf },
    #[error("{file}: cannot read it: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not valid YAML: {message}")]
    Yaml { file: String, message: String },
    #[error(
        "{file}: {path}: unknown key `{key}`: check its spelling against the \
         Compose file reference (free-form keys must start with `x-`)"
    )]
    UnknownKey {
        file: String,
        path: String,
        key: String,
    },
    #[error("{file}: {path}: must be {expected}, not {found}")]
    WrongType {
        file: String,
        path: String,
        expected: &'static str,
        found: String,
    },
    #[error("{file}: {path}: invalid {what} `{value}`: {hint}")]
    InvalidValue {
        file: String,
        path: String,
        what: &'static str,
        value: String,
        hint: String,
    },
    #[error(
        "{file}: {path}: required variable {name} is missing a value: {message} \
         (set it in the environment or in .env)"
    )]
    MissingVariable {
        file: String,
        path: String,
        name: String,
        message: String,
    },
    #[error("{file}: {path}: invalid interpolation in `{template}`: {hint}")]
    BadTemplate {
        file: String,
        path: String,
        template: String,
        hint: &'static str,
    },
    #[error("{file}: line {line}: {message}")]
    EnvFile {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: {path}: {kind} `{name}` is not defined: {hint}")]
    Undefined {
        file: String,
        path: String,
        kind: &'static str,
        name: String,
        hint: String,
    },
    #[error(
        "{file}: dependency cycle between services: {cycle}: remove one of these \
         depends_on (or network_mode: service:) links"
    )]
    Cycle { file: String, cycle: String },
    #[error("{file}: {path}: extends cycle: {cycle}: a service cannot extend itself")]
    ExtendsCycle {
        file: String,
        path: String,
        cycle: String,
    },
    #[error("{file}: services.{service}: has neither `image` nor `build`: give one of them")]
    NoImage { file: String, service: String },
    #[error(
        "{file}: services.{service}: container_name `{name}` with {replicas} replicas: \
         container names are unique; drop container_name or use one replica"
    )]
    ContainerNameReplicas {
        file: String,
        service: String,
        name: String,
        replicas: u32,
    },
    #[error(
        "{file}: container_name `{name}` is given to both services {first} and {second}: \
         container names are unique; rename one"
    )]
    DuplicateContainerName {
        file: String,
        name: String,
        first: String,
        second: String,
    },
    #[error(
        "invalid project name `{name}` (from {origin}): use only lower-case letters, \
         digits, `_` and `-`, starting with a letter or digit"
    )]
    ProjectName { name: String, origin: &'static str },
    #[error("no such service: {name} (the project's services: {known})")]
    NoSuchService { name: String, known: String },
    #[error("{file}: {path}: {what} is not supported by rrun: {hint}")]
    Unsupported {
        file: String,
        path: String,
        what: String,
        hint: &'static str,
    },
}
