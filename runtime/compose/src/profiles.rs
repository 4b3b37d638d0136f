//! Profiles: a service with `profiles:` runs only when one of them is
//! active (`--profile`, `COMPOSE_PROFILES`, `*` for all) or when it is named
//! on the command line; the others are kept in
//! [`Project::disabled_services`], still the project's, not orphans.

use crate::error::LoadError;
use crate::model::{Network, Project, Service};
use crate::validate::dependencies;
use indexmap::IndexMap;

/// Moves the services of inactive profiles to `disabled_services`.
pub(crate) fn apply(p: &mut Project, active: &[String]) {
    let all = active.iter().any(|a| a == "*");
    let services = std::mem::take(&mut p.services);
    for (name, s) in services {
        if s.profiles.is_empty() || all || s.profiles.iter().any(|sp| active.contains(sp)) {
            p.services.insert(name, s);
        } else {
            p.disabled_services.insert(name, s);
        }
    }
}

/// `--profile` values and `COMPOSE_PROFILES` (comma-separated) together.
pub(crate) fn active(flags: &[String], env: &IndexMap<String, String>) -> Vec<String> {
    let from_env = env
        .get("COMPOSE_PROFILES")
        .map(String::as_str)
        .unwrap_or_default();
    flags
        .iter()
        .map(String::as_str)
        .chain(from_env.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Services without `networks:` or `network_mode` join `default`, which
/// the project then declares.
pub(crate) fn default_network(p: &mut Project) {
    for s in p
        .services
        .values_mut()
        .chain(p.disabled_services.values_mut())
    {
        if s.networks.is_empty() && s.network_mode.is_none() {
            s.networks.insert("default".into(), Default::default());
        }
    }
    let used = p
        .services
        .values()
        .any(|s| s.networks.contains_key("default"));
    if used && !p.networks.contains_key("default") {
        let name = format!("{}_default", p.name);
        p.networks.insert(
            "default".into(),
            Network {
                name,
                ..Default::default()
            },
        );
    }
}

/// `project` with `names` and everything they depend on enabled.
pub fn with_services(project: &Project, names: &[String]) -> Result<Project, LoadError> {
    let mut p = project.clone();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(name) = todo.pop() {
        if p.services.contains_key(&name) {
            continue;
        }
        let Some(s) = p.disabled_services.shift_remove(&name) else {
            let known: Vec<&str> = p
                .services
                .keys()
                .chain(p.disabled_services.keys())
                .map(String::as_str)
                .collect();
            return Err(LoadError::NoSuchService {
                name,
                known: known.join(", "),
            });
        };
        let known = |d: &&str| p.services.contains_key(*d) || p.disabled_services.contains_key(*d);
        todo.extend(
            dependencies(&s)
                .into_iter()
                .filter(known)
                .map(str::to_string),
        );
        p.services.insert(name, s);
    }
    sort_like(&mut p.services, project);
    default_network(&mut p);
    crate::validate::check(&p, &crate::files_label(&p.config_files))?;
    Ok(p)
}

/// Services back in the order of the file.
fn sort_like(services: &mut IndexMap<String, Service>, original: &Project) {
    let order: Vec<&String> = original
        .services
        .keys()
        .chain(original.disabled_services.keys())
        .collect();
    services.sort_by_key(|k, _| order.iter().position(|o| *o == k).unwrap_or(usize::MAX));
}
