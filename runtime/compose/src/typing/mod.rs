//! The merged tree → the typed [`Project`]: every key checked against the
//! Compose specification (unknown keys are errors, `x-` keys are free),
//! every short form turned into its long form, relative paths made
//! absolute, object names given their `<project>_` prefix.

mod parts;
mod ports;
mod service;
mod shell;
mod top;
mod volumes;

use crate::error::LoadError;
use crate::model::Project;
use crate::node::Node;
use indexmap::IndexMap;
use serde_yaml_ng::Value;
use std::cell::RefCell;
use std::path::{Path, PathBuf};

pub(crate) use shell::split as split_command;

const TOP_KEYS: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "secrets", "configs", "include",
];

/// What typing needs besides the tree.
pub(crate) struct Cx<'a> {
    /// Names the files in errors.
    pub file: &'a str,
    pub dir: &'a Path,
    pub env: &'a IndexMap<String, String>,
    /// The project's name, for `<project>_<key>` names.
    pub project: &'a str,
    /// Keys rrun reads but does not act on.
    pub warnings: RefCell<Vec<String>>,
}

impl Cx<'_> {
    pub fn warn(&self, path: &str, what: &str) {
        self.warnings
            .borrow_mut()
            .push(format!("{}: {path}: {what}", self.file));
    }

    /// A host path of the file made absolute (`~` is `$HOME`).
    pub fn host_path(&self, p: &str) -> PathBuf {
        if p == "~" || p.starts_with("~/") {
            let home = self.env.get("HOME").map_or("/root", String::as_str);
            return Path::new(home).join(p.trim_start_matches('~').trim_start_matches('/'));
        }
        let joined = self.dir.join(p);
        clean(&joined)
    }
}

/// `a/./b/../c` → `a/c`, without touching the file system.
pub(crate) fn clean(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Types the whole merged tree.
pub(crate) fn project(tree: &Value, cx: &Cx) -> Result<Project, LoadError> {
    let root = Node::root(tree, cx.file);
    let mut p = Project {
        name: cx.project.to_string(),
        ..Default::default()
    };
    for (key, node) in root.fields(TOP_KEYS)? {
        match key.as_str() {
            "version" => cx.warn(
                &node.path,
                "obsolete, ignored: remove it to avoid confusion",
            ),
            "name" => {}
            "include" => {
                return Err(LoadError::Unsupported {
                    file: cx.file.to_string(),
                    path: node.path,
                    what: "include".into(),
                    hint: "name the files with several -f instead",
                })
            }
            "services" => {
                for (name, svc) in named(&node)? {
                    let valid = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
                    if name.is_empty() || !name.chars().all(valid) {
                        let hint = "use only letters, digits, `.`, `_` and `-`";
                        return Err(node.invalid("service name", &name, hint));
                    }
                    p.services
                        .insert(name.clone(), service::service(&name, &svc, cx)?);
                }
            }
            "networks" => {
                for (name, n) in named(&node)? {
                    p.networks
                        .insert(name.clone(), top::network(&name, &n, cx)?);
                }
            }
            "volumes" => {
                for (name, n) in named(&node)? {
                    p.volumes.insert(name.clone(), top::volume(&name, &n, cx)?);
                }
            }
            "secrets" | "configs" => {
                let secret = key == "secrets";
                let mut objects = IndexMap::new();
                for (name, n) in named(&node)? {
                    objects.insert(name, top::file_object(&n, cx, secret)?);
                }
                *(if secret {
                    &mut p.secrets
                } else {
                    &mut p.configs
                }) = objects;
            }
            _ => unreachable!("fields() keeps only TOP_KEYS"),
        }
    }
    Ok(p)
}

/// The entries of a mapping of named objects; null is an empty mapping
/// (`volumes:` with nothing under it).
fn named<'a>(node: &Node<'a>) -> Result<Vec<(String, Node<'a>)>, LoadError> {
    if node.v.is_null() {
        return Ok(vec![]);
    }
    let m = node
        .v
        .as_mapping()
        .ok_or_else(|| node.wrong("a mapping of names"))?;
    let mut out = Vec::new();
    for (k, v) in m {
        let Some(name) = crate::node::scalar_string(k) else {
            return Err(node.wrong("a mapping with string keys"));
        };
        if !name.starts_with("x-") || node.path == "services" {
            out.push((name.clone(), node.at(&name, v)));
        }
    }
    Ok(out)
}
