//! Compose files → a project model. Pure but for reading the files it is
//! given (standard input for `-`), `.env` and `env_file`s.
//!
//! The loader reads the files as untyped YAML, interpolates variables on
//! that tree (so `"${PORT}:80"` works), merges `-f` files and `extends`,
//! applies profiles, turns every short form into its long form, and checks
//! the result. What comes out is [`model::Project`]: the one shape the
//! engine (`rrun compose`) works from, in which nothing is ambiguous.
//!
//! The steps, each a module taking data and giving data:
//! `files` (which files, which directory, which variables) →
//! `parse` (YAML, anchors and `<<` merge keys) → `interpolate` →
//! `extends` → `merge` (several `-f`) → `typing` (long forms, unknown keys,
//! types) → `profiles` → `validate` (references, cycles).

mod dotenv;
mod error;
mod extends;
mod files;
mod interpolate;
mod merge;
pub mod model;
mod node;
mod profiles;
mod typing;
mod validate;
mod yaml_out;

pub use error::LoadError;
pub use model::Project;
pub use profiles::with_services;
pub use yaml_out::to_yaml;

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

/// Loads the project `opts` names from its files (`-` is standard input,
/// read to its end).
pub fn load(opts: &LoadOptions) -> Result<Project, LoadError> {
    let setup = files::setup(opts, false)?;
    let mut trees = Vec::new();
    for file in &setup.files {
        let label = file
            .strip_prefix(&opts.working_dir)
            .unwrap_or(file)
            .display()
            .to_string();
        let read = if file == Path::new("-") {
            files::capped(std::io::stdin())
        } else {
            files::read_host(file)
        };
        let text = read.map_err(|source| LoadError::Read {
            file: label.clone(),
            source,
        })?;
        let dir = match file.parent() {
            Some(dir) if file != Path::new("-") => dir.to_path_buf(),
            _ => setup.project_dir.clone(),
        };
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
    /// Variables used but not set.
    pub warnings: Vec<String>,
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
        message: node::one_line(&message),
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
    let unset = interpolate::interpolate_tree(&mut tree, label, &lookup)?;
    let warnings = unset
        .iter()
        .map(|v| format!("{label}: the {v} variable is not set: defaulting to a blank string"))
        .collect();
    Ok(FileTree {
        label: label.to_string(),
        dir: dir.to_path_buf(),
        tree,
        warnings,
    })
}

/// Merged, typed, selected and checked.
fn assemble(
    trees: Vec<FileTree>,
    setup: files::Setup,
    opts: &LoadOptions,
) -> Result<Project, LoadError> {
    let label = files_label(
        &trees
            .iter()
            .map(|t| PathBuf::from(&t.label))
            .collect::<Vec<_>>(),
    );
    let mut merged = serde_yaml_ng::Mapping::new();
    let mut warnings = setup.warnings.clone();
    for mut t in trees {
        warnings.append(&mut t.warnings);
        extends::apply(&mut t, &setup.env)?;
        if let Value::Mapping(m) = &t.tree {
            merge::merge_top(&mut merged, m);
        }
    }
    let tree = Value::Mapping(merged);
    let name = project_name(opts, &setup, &tree, &label)?;
    let cx = typing::Cx {
        file: &label,
        dir: &setup.project_dir,
        env: &setup.env,
        project: &name,
        warnings: Default::default(),
    };
    let mut project = typing::project(&tree, &cx)?;
    warnings.append(&mut cx.warnings.take());
    project.warnings = warnings;
    profiles::apply(&mut project, &profiles::active(&opts.profiles, &setup.env));
    profiles::default_network(&mut project);
    validate::check(&project, &label)?;
    project.working_dir = setup.project_dir;
    project.config_files = setup.files;
    project.environment = setup.env;
    Ok(project)
}

/// How errors after the merge name the files: `a.yml` or `a.yml + b.yml`.
pub(crate) fn files_label(files: &[PathBuf]) -> String {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join(" + ")
    }
}

/// `-p`, else `COMPOSE_PROJECT_NAME`, else `name:`, each checked; else the
/// project directory's name made valid, as Compose does.
fn project_name(
    opts: &LoadOptions,
    setup: &files::Setup,
    tree: &Value,
    label: &str,
) -> Result<String, LoadError> {
    let given = [
        (opts.project_name.clone(), "-p"),
        (
            setup.env.get("COMPOSE_PROJECT_NAME").cloned(),
            "COMPOSE_PROJECT_NAME",
        ),
    ];
    for (name, origin) in given {
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            return valid_name(name, origin);
        }
    }
    if let Some(v) = tree.get("name") {
        let node = node::Node {
            v,
            path: "name".into(),
            file: label,
        };
        return valid_name(node.str()?, "the top-level name:");
    }
    let base = setup
        .project_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let name: String = base
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    let name = name.trim_start_matches(['_', '-']).to_string();
    valid_name(name, "the project directory's name (give -p)")
}

fn valid_name(name: String, origin: &'static str) -> Result<String, LoadError> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(name)
    } else {
        Err(LoadError::ProjectName { name, origin })
    }
}
