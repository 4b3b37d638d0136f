//! `extends`: a service built on another one of the same file or of
//! another file (`extends: {file: common.yml, service: base}`), resolved in
//! each file before the files are merged, with Compose's merge rules. The
//! relative paths of a service taken from another directory are made
//! absolute there, so they keep pointing where that file meant.

use crate::error::LoadError;
use crate::merge::merge_service;
use crate::node::Node;
use crate::{parse_file, FileTree};
use indexmap::IndexMap;
use serde_yaml_ng::{Mapping, Value};
use std::path::Path;

/// Replaces every service of `file` that has `extends` by its resolved form.
pub(crate) fn apply(file: &mut FileTree, env: &IndexMap<String, String>) -> Result<(), LoadError> {
    let names: Vec<Value> = match file.tree.get("services") {
        Some(Value::Mapping(m)) => m.keys().cloned().collect(),
        _ => return Ok(()),
    };
    for name in names {
        let Some(name) = name.as_str() else { continue };
        let mut chain = Vec::new();
        let resolved = resolve(file, name, env, &mut chain)?;
        file.tree["services"][name] = resolved;
    }
    Ok(())
}

/// The service `name` of `file` with its `extends` chain merged in.
fn resolve(
    file: &FileTree,
    name: &str,
    env: &IndexMap<String, String>,
    chain: &mut Vec<String>,
) -> Result<Value, LoadError> {
    let path = format!("services.{name}");
    let link = format!("{}:{name}", file.label);
    if chain.contains(&link) {
        chain.push(link);
        return Err(LoadError::ExtendsCycle {
            file: file.label.clone(),
            path: format!("{path}.extends"),
            cycle: chain.join(" -> "),
        });
    }
    chain.push(link);
    let Some(service) = file.tree.get("services").and_then(|s| s.get(name)) else {
        return Err(LoadError::Undefined {
            file: file.label.clone(),
            path: chain_path(chain),
            kind: "service",
            name: name.to_string(),
            hint: "extends must name a service of that file".into(),
        });
    };
    let Some(extends) = service.get("extends") else {
        return Ok(service.clone());
    };
    let node = Node {
        v: extends,
        path: format!("{path}.extends"),
        file: &file.label,
    };
    let (other_file, base_name) = target(&node)?;
    let mut local = service.clone();
    if let Value::Mapping(m) = &mut local {
        m.remove("extends");
    }
    let mut base = match other_file {
        None => resolve(file, &base_name, env, chain)?,
        Some(rel) => {
            let other = read_other(file, &rel, env, &node)?;
            let mut base = resolve(&other, &base_name, env, chain)?;
            absolutize(&mut base, &other.dir);
            base
        }
    };
    merge_service(&mut base, &local);
    Ok(base)
}

fn chain_path(chain: &[String]) -> String {
    format!("extends ({})", chain.join(" -> "))
}

/// `extends: name` or `extends: {service: name, file: path}`.
fn target(node: &Node) -> Result<(Option<String>, String), LoadError> {
    match node.v {
        Value::String(s) => Ok((None, s.clone())),
        _ => {
            node.map(&["service", "file"])?;
            let service = node
                .get("service")
                .ok_or_else(|| {
                    node.invalid("extends", "", "name the service to extend with `service:`")
                })?
                .str()?;
            let file = node.get("file").map(|f| f.str()).transpose()?;
            Ok((file, service))
        }
    }
}

fn read_other(
    from: &FileTree,
    rel: &str,
    env: &IndexMap<String, String>,
    node: &Node,
) -> Result<FileTree, LoadError> {
    let path = from.dir.join(rel);
    let text = crate::files::read_host(&path).map_err(|e| {
        node.invalid(
            "extends file",
            rel,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let dir = path.parent().unwrap_or(&from.dir).to_path_buf();
    parse_file(&text, &path.display().to_string(), &dir, env)
}

/// Relative `build` contexts, `env_file`s and bind sources of a service made
/// absolute against `dir`.
fn absolutize(service: &mut Value, dir: &Path) {
    let abs = |s: &str| -> String {
        if s.starts_with('.') && !s.contains("://") {
            dir.join(s).display().to_string()
        } else {
            s.to_string()
        }
    };
    let Value::Mapping(m) = service else { return };
    match m.get_mut("build") {
        Some(Value::String(s)) => *s = abs(s),
        Some(Value::Mapping(b)) => rewrite(b, "context", &abs),
        _ => {}
    }
    match m.get_mut("env_file") {
        Some(Value::String(s)) => *s = abs(s),
        Some(Value::Sequence(items)) => items.iter_mut().for_each(|i| match i {
            Value::String(s) => *s = abs(s),
            Value::Mapping(e) => rewrite(e, "path", &abs),
            _ => {}
        }),
        _ => {}
    }
    if let Some(Value::Sequence(items)) = m.get_mut("volumes") {
        for item in items {
            match item {
                Value::String(s) if s.starts_with('.') => {
                    let (src, rest) = s.split_once(':').unwrap_or((s.as_str(), ""));
                    *s = format!("{}:{rest}", abs(src));
                }
                Value::Mapping(v) => rewrite(v, "source", &abs),
                _ => {}
            }
        }
    }
}

fn rewrite(m: &mut Mapping, key: &str, abs: &dyn Fn(&str) -> String) {
    if let Some(Value::String(s)) = m.get_mut(key) {
        *s = abs(s);
    }
}
