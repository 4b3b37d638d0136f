//! The model and the current state → the actions that bring one to the
//! other. Pure: no daemon, no clock; `apply` carries the plan out.
//!
//! A container is left alone when its config-hash label matches the
//! service's hash (started when stopped), recreated when it differs, and
//! created when its number is missing; numbers above the scale go.
//! Services come in start order: a service after everything it depends
//! on (`depends_on` and `network_mode: service:x`), in levels, so the
//! services of one level start in parallel.

use anyhow::{bail, Result};
use indexmap::{IndexMap, IndexSet};
use std::collections::{HashMap, HashSet};

use rrun_compose::model::{DependsCondition, NetworkMode, Project, Service};

use super::labels;
use super::state::{Current, Existing, RunState};

/// `up`/`create`'s choices.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// The services named on the command line (empty: all).
    pub services: Vec<String>,
    pub no_deps: bool,
    pub force_recreate: bool,
    pub no_recreate: bool,
    /// `--scale svc=N`, over the file's replicas.
    pub scale: HashMap<String, u32>,
    pub remove_orphans: bool,
    /// `false` for `create`: containers are made, not started.
    pub start: bool,
}

/// What happens to one container of a service.
#[derive(Debug, Clone, PartialEq)]
pub enum ContainerAction {
    Create {
        number: u32,
    },
    /// Stop and remove `old`, then create its number anew.
    Recreate {
        old: Existing,
    },
    Start {
        existing: Existing,
    },
    /// Running and up to date.
    Keep {
        existing: Existing,
    },
    /// Up to date, but a dependency with `restart: true` was recreated.
    Restart {
        existing: Existing,
    },
    /// Above the scale, or a duplicate number.
    Remove {
        existing: Existing,
    },
}

/// A service's actions and what it waits for first.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePlan {
    pub name: String,
    pub depends_on: Vec<(String, DependsCondition)>,
    pub actions: Vec<ContainerAction>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Keys of `networks:` to create (missing, not external).
    pub networks: Vec<String>,
    /// Keys of `volumes:` to create.
    pub volumes: Vec<String>,
    /// Containers of services the project no longer has.
    pub orphans: Vec<Existing>,
    /// Removed only with `--remove-orphans` (else a warning).
    pub remove_orphans: bool,
    /// Start levels: every service of a level depends only on earlier ones.
    pub levels: Vec<Vec<ServicePlan>>,
}

impl Plan {
    pub fn services(&self) -> impl Iterator<Item = &ServicePlan> {
        self.levels.iter().flatten()
    }
}

/// What a service waits for: its `depends_on`, and the service whose
/// network namespace it joins.
pub fn dependencies(s: &Service) -> Vec<(String, DependsCondition)> {
    let mut deps: Vec<(String, DependsCondition)> = s
        .depends_on
        .iter()
        .map(|(n, d)| (n.clone(), d.condition))
        .collect();
    if let Some(NetworkMode::Service(n)) = &s.network_mode {
        if !deps.iter().any(|(d, _)| d == n) {
            deps.push((n.clone(), DependsCondition::ServiceStarted));
        }
    }
    deps
}

/// The named services and (unless `no_deps`) everything they depend on.
pub fn select(p: &Project, names: &[String], no_deps: bool) -> Result<IndexSet<String>> {
    for n in names {
        if !p.services.contains_key(n) {
            bail!("no such service: {n}");
        }
    }
    if names.is_empty() {
        return Ok(p.services.keys().cloned().collect());
    }
    let mut out: IndexSet<String> = IndexSet::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(n) = todo.pop() {
        if !out.insert(n.clone()) || no_deps {
            continue;
        }
        if let Some(s) = p.services.get(&n) {
            todo.extend(dependencies(s).into_iter().map(|(d, _)| d));
        }
    }
    Ok(out)
}

/// The services in start levels (Kahn's algorithm); a cycle is an error
/// naming the services on it.
pub fn levels(p: &Project, selected: &IndexSet<String>) -> Result<Vec<Vec<String>>> {
    let mut left: IndexMap<&str, Vec<String>> = selected
        .iter()
        .filter_map(|n| p.services.get_key_value(n))
        .map(|(n, s)| {
            let deps = dependencies(s)
                .into_iter()
                .map(|(d, _)| d)
                .filter(|d| selected.contains(d))
                .collect();
            (n.as_str(), deps)
        })
        .collect();
    let mut done: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| done.contains(d)))
            .map(|(n, _)| n.to_string())
            .collect();
        if ready.is_empty() {
            let names: Vec<&str> = left.keys().copied().collect();
            bail!("dependency cycle between services: {}", names.join(", "));
        }
        for n in &ready {
            left.shift_remove(n.as_str());
            done.insert(n.clone());
        }
        out.push(ready);
    }
    Ok(out)
}

/// The actions for one service's containers.
fn container_actions(
    s: &Service,
    replicas: u32,
    have: &[&Existing],
    o: &UpOptions,
    dependency_recreated: bool,
    image_id: Option<&String>,
) -> Vec<ContainerAction> {
    let hash = labels::config_hash(s);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for c in have {
        if c.number == 0 || c.number > replicas || !seen.insert(c.number) {
            out.push(ContainerAction::Remove {
                existing: (*c).clone(),
            });
            continue;
        }
        let old_image = match (image_id, &c.summary.image_id) {
            (Some(want), Some(has)) => want != has,
            _ => false,
        };
        let changed = c.config_hash != hash || dependency_recreated || old_image;
        let recreate = o.force_recreate || (changed && !o.no_recreate);
        out.push(if recreate {
            ContainerAction::Recreate { old: (*c).clone() }
        } else if c.state == RunState::Running || !o.start {
            ContainerAction::Keep {
                existing: (*c).clone(),
            }
        } else {
            ContainerAction::Start {
                existing: (*c).clone(),
            }
        });
    }
    for number in 1..=replicas {
        if !seen.contains(&number) {
            out.push(ContainerAction::Create { number });
        }
    }
    out
}

/// Project + current state → the plan of `up` (or `create`).
pub fn plan_up(p: &Project, cur: &Current, o: &UpOptions) -> Result<Plan> {
    let selected = select(p, &o.services, o.no_deps)?;
    let by_service = cur.by_service();
    let mut recreated: HashSet<String> = HashSet::new();
    let mut out_levels = Vec::new();
    for level in levels(p, &selected)? {
        let mut plans = Vec::new();
        for name in level {
            let s = &p.services[&name];
            let replicas = o.scale.get(&name).copied().unwrap_or(s.replicas);
            if let (Some(fixed), 2..) = (&s.container_name, replicas) {
                bail!(
                    "service {name:?}: container_name {fixed:?} names one container, \
                     not {replicas}: remove container_name to scale it"
                );
            }
            let mut have: Vec<&Existing> = by_service
                .get(name.as_str())
                .map(|v| v.iter().copied().filter(|c| !c.oneoff).collect())
                .unwrap_or_default();
            have.sort_by_key(|c| c.number);
            // A joined network namespace goes with the container that
            // held it: the joiner is made again too.
            let ns_gone = matches!(&s.network_mode,
                Some(NetworkMode::Service(d)) if recreated.contains(d));
            let image_id = cur.images.get(&image_of(&p.name, s));
            let mut actions = container_actions(s, replicas, &have, o, ns_gone, image_id);
            let restart = s
                .depends_on
                .iter()
                .any(|(d, dep)| dep.restart && recreated.contains(d));
            if restart && o.start {
                for a in &mut actions {
                    if let ContainerAction::Keep { existing } = a {
                        *a = ContainerAction::Restart {
                            existing: existing.clone(),
                        };
                    }
                }
            }
            if actions
                .iter()
                .any(|a| matches!(a, ContainerAction::Recreate { .. }))
            {
                recreated.insert(name.clone());
            }
            // `--no-deps`: what is not planned is not waited for.
            let mut depends_on = dependencies(s);
            depends_on.retain(|(d, _)| selected.contains(d));
            plans.push(ServicePlan {
                depends_on,
                name,
                actions,
            });
        }
        out_levels.push(plans);
    }
    Ok(Plan {
        networks: missing(
            p.networks.iter().map(|(k, n)| (k, &n.name, n.external)),
            &cur.networks,
        ),
        volumes: missing(
            p.volumes.iter().map(|(k, v)| (k, &v.name, v.external)),
            &cur.volumes,
        ),
        orphans: orphans(p, cur),
        remove_orphans: o.remove_orphans,
        levels: out_levels,
    })
}

/// Keys of the objects that are neither external nor there.
fn missing<'a>(
    wanted: impl Iterator<Item = (&'a String, &'a String, bool)>,
    have: &[String],
) -> Vec<String> {
    wanted
        .filter(|(_, name, external)| !external && !have.contains(name))
        .map(|(k, _, _)| k.clone())
        .collect()
}

/// Service containers whose service is neither in the project nor one of
/// its disabled (inactive profile) services.
pub fn orphans(p: &Project, cur: &Current) -> Vec<Existing> {
    cur.containers
        .iter()
        .filter(|c| {
            !c.oneoff
                && !p.services.contains_key(&c.service)
                && !p.disabled_services.contains_key(&c.service)
        })
        .cloned()
        .collect()
}

/// `down`'s choices.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    pub remove_orphans: bool,
    pub volumes: bool,
    /// `--rmi all` (`Some(true)`) or `--rmi local` (`Some(false)`).
    pub rmi: Option<bool>,
}

/// What `down` removes, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DownPlan {
    /// Dependents before their dependencies; one-off containers first.
    pub containers: Vec<Existing>,
    /// Network names.
    pub networks: Vec<String>,
    /// Volume names.
    pub volumes: Vec<String>,
    pub images: Vec<String>,
}

/// Project + current state → the plan of `down`.
pub fn plan_down(p: &Project, cur: &Current, o: &DownOptions) -> Result<DownPlan> {
    let all: IndexSet<String> = p.services.keys().cloned().collect();
    let order = levels(p, &all)?;
    let mut containers: Vec<Existing> = cur
        .containers
        .iter()
        .filter(|c| c.oneoff)
        .cloned()
        .collect();
    for name in order.iter().rev().flatten() {
        containers.extend(cur.of_service(name).into_iter().cloned());
    }
    // Disabled services' containers are the project's: `down` takes them
    // (docker/compose#8432); true orphans only with `--remove-orphans`.
    // A project known by name only (`down -p x`, no file): everything
    // labelled with it is its own.
    let bare = p.services.is_empty() && p.disabled_services.is_empty();
    for c in &cur.containers {
        let known = p.services.contains_key(&c.service);
        let disabled = p.disabled_services.contains_key(&c.service);
        if !c.oneoff && !known && (disabled || o.remove_orphans || bare) {
            containers.push(c.clone());
        }
    }
    if bare {
        return Ok(DownPlan {
            containers,
            networks: cur.networks.clone(),
            volumes: if o.volumes {
                cur.volumes.clone()
            } else {
                Vec::new()
            },
            images: Vec::new(),
        });
    }
    let owned = |name: &String, external: bool| !external && cur_has(&cur.networks, name);
    let networks = p
        .networks
        .values()
        .filter(|n| owned(&n.name, n.external))
        .map(|n| n.name.clone())
        .collect();
    let volumes = match o.volumes {
        true => p
            .volumes
            .values()
            .filter(|v| !v.external && cur_has(&cur.volumes, &v.name))
            .map(|v| v.name.clone())
            .collect(),
        false => Vec::new(),
    };
    Ok(DownPlan {
        containers,
        networks,
        volumes,
        images: o.rmi.map(|all| images(p, all)).unwrap_or_default(),
    })
}

fn cur_has(have: &[String], name: &str) -> bool {
    have.iter().any(|h| h == name)
}

/// The image a service runs: its `image:`, or the one `build:` makes
/// (`<project>-<service>`, Compose v2's name).
pub fn image_of(project: &str, s: &Service) -> String {
    s.image
        .clone()
        .unwrap_or_else(|| format!("{project}-{}", s.name))
}

/// `--rmi all`: every service's image; `--rmi local`: those without an
/// `image:` of their own (built under the default name).
fn images(p: &Project, all: bool) -> Vec<String> {
    let mut out: IndexSet<String> = IndexSet::new();
    for s in p.services.values().chain(p.disabled_services.values()) {
        if all || s.image.is_none() {
            out.insert(image_of(&p.name, s));
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
