//! Checks on the typed, selected project: every name a service uses is
//! defined, the dependency graph has no cycle, each service has an image
//! or a build, container names are unique.

use crate::error::LoadError;
use crate::model::{NetworkMode, Project, Service, VolumeType};

/// Checks `p`'s enabled services; `file` names the files in errors.
pub(crate) fn check(p: &Project, file: &str) -> Result<(), LoadError> {
    let mut names: Vec<(&str, &str)> = Vec::new();
    for s in p.services.values() {
        references(p, s, file)?;
        if s.image.is_none() && s.build.is_none() {
            return Err(LoadError::NoImage {
                file: file.into(),
                service: s.name.clone(),
            });
        }
        if let Some(name) = &s.container_name {
            if s.replicas > 1 {
                return Err(LoadError::ContainerNameReplicas {
                    file: file.into(),
                    service: s.name.clone(),
                    name: name.clone(),
                    replicas: s.replicas,
                });
            }
            if let Some((_, first)) = names.iter().find(|(n, _)| n == name) {
                return Err(LoadError::DuplicateContainerName {
                    file: file.into(),
                    name: name.clone(),
                    first: first.to_string(),
                    second: s.name.clone(),
                });
            }
            names.push((name, &s.name));
        }
    }
    cycles(p, file)
}

fn undefined(file: &str, path: String, kind: &'static str, name: &str, hint: String) -> LoadError {
    LoadError::Undefined {
        file: file.into(),
        path,
        kind,
        name: name.into(),
        hint,
    }
}

/// Services, networks, volumes, secrets and configs named by `s`.
fn references(p: &Project, s: &Service, file: &str) -> Result<(), LoadError> {
    let at = |rest: &str| format!("services.{}.{rest}", s.name);
    for (dep, d) in &s.depends_on {
        if p.services.contains_key(dep) || !d.required {
            continue;
        }
        let hint = match p.disabled_services.get(dep) {
            Some(off) => format!(
                "its profiles ({}) are not active: enable one with --profile",
                off.profiles.join(", ")
            ),
            None => "define it under services: or remove the dependency".into(),
        };
        return Err(undefined(
            file,
            at(&format!("depends_on.{dep}")),
            "service",
            dep,
            hint,
        ));
    }
    if let Some(NetworkMode::Service(other)) = &s.network_mode {
        if !p.services.contains_key(other) {
            let hint = "network_mode: service: must name an enabled service of the project".into();
            return Err(undefined(file, at("network_mode"), "service", other, hint));
        }
    }
    for net in s.networks.keys() {
        if !p.networks.contains_key(net) {
            let hint = "declare it under the top-level networks:".into();
            return Err(undefined(
                file,
                at(&format!("networks.{net}")),
                "network",
                net,
                hint,
            ));
        }
    }
    mount_references(p, s, file)
}

/// Named volumes, secrets and configs a service mounts.
fn mount_references(p: &Project, s: &Service, file: &str) -> Result<(), LoadError> {
    let at = |rest: &str| format!("services.{}.{rest}", s.name);
    for (i, v) in s.volumes.iter().enumerate() {
        match (&v.kind, &v.source) {
            (VolumeType::Volume, Some(src)) if !p.volumes.contains_key(src) => {
                let hint =
                    "declare it under the top-level volumes: (or write ./path for a bind mount)"
                        .into();
                return Err(undefined(
                    file,
                    at(&format!("volumes[{i}]")),
                    "volume",
                    src,
                    hint,
                ));
            }
            _ => {}
        }
    }
    for (kind, refs, defined) in [
        ("secret", &s.secrets, &p.secrets),
        ("config", &s.configs, &p.configs),
    ] {
        for (i, r) in refs.iter().enumerate() {
            if !defined.contains_key(&r.source) {
                let hint = format!("declare it under the top-level {kind}s:");
                return Err(undefined(
                    file,
                    at(&format!("{kind}s[{i}]")),
                    kind,
                    &r.source,
                    hint,
                ));
            }
        }
    }
    Ok(())
}

/// The services `s` must start after: `depends_on` and `network_mode: service:`.
pub(crate) fn dependencies(s: &Service) -> Vec<&str> {
    let mut deps: Vec<&str> = s.depends_on.keys().map(String::as_str).collect();
    if let Some(NetworkMode::Service(other)) = &s.network_mode {
        if !deps.contains(&other.as_str()) {
            deps.push(other);
        }
    }
    deps
}

/// A depth-first walk; the first cycle found is named in file order.
fn cycles(p: &Project, file: &str) -> Result<(), LoadError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit<'a>(
        p: &'a Project,
        name: &'a str,
        marks: &mut indexmap::IndexMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        match marks.get(name).copied().unwrap_or(Mark::New) {
            Mark::Done => return None,
            Mark::Open => {
                let from = stack.iter().position(|n| *n == name).unwrap_or(0);
                let mut cycle = stack[from..].to_vec();
                cycle.push(name);
                return Some(cycle);
            }
            Mark::New => {}
        }
        marks.insert(name, Mark::Open);
        stack.push(name);
        let service = p.services.get(name)?;
        for dep in dependencies(service) {
            if p.services.contains_key(dep) {
                if let Some(cycle) = visit(p, dep, marks, stack) {
                    return Some(cycle);
                }
            }
        }
        stack.pop();
        marks.insert(name, Mark::Done);
        None
    }
    let mut marks = indexmap::IndexMap::new();
    for name in p.services.keys() {
        if let Some(cycle) = visit(p, name, &mut marks, &mut Vec::new()) {
            return Err(LoadError::Cycle {
                file: file.into(),
                cycle: cycle.join(" -> "),
            });
        }
    }
    Ok(())
}
