//! The service keys with a structure of their own: `build`, `depends_on`,
//! `networks`, `healthcheck`, `ulimits`, `logging`, `deploy`, `env_file`,
//! `extra_hosts`, `devices`, `secrets`/`configs`.

use super::Cx;
use crate::error::LoadError;
use crate::model::{
    Build, DependsCondition, DependsOn, FileReference, Healthcheck, Logging, Service,
    ServiceNetwork, Ulimit,
};
use crate::node::Node;
use indexmap::IndexMap;
use serde_yaml_ng::Value;
use std::path::PathBuf;

const BUILD_KEYS: &[&str] = &[
    "context",
    "dockerfile",
    "dockerfile_inline",
    "args",
    "target",
    "labels",
    "network",
    "extra_hosts",
    "no_cache",
    "pull",
    "cache_from",
    "cache_to",
    "shm_size",
    "ssh",
    "secrets",
    "tags",
    "platforms",
    "isolation",
    "privileged",
    "additional_contexts",
    "ulimits",
    "entitlements",
    "provenance",
    "sbom",
];
const HEALTH_KEYS: &[&str] = &[
    "test",
    "interval",
    "timeout",
    "start_period",
    "start_interval",
    "retries",
    "disable",
];
const DEPLOY_KEYS: &[&str] = &[
    "replicas",
    "resources",
    "mode",
    "labels",
    "restart_policy",
    "update_config",
    "rollback_config",
    "placement",
    "endpoint_mode",
];

/// `env_file:` (a path, a list of paths, or `{path, required}` items), read
/// in order, later files over earlier ones.
pub(super) fn env_files(n: &Node, cx: &Cx) -> Result<IndexMap<String, Option<String>>, LoadError> {
    let items: Vec<Node> = match n.v {
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| n.item(i, v))
            .collect(),
        _ => vec![n.clone()],
    };
    let mut env = IndexMap::new();
    for item in items {
        let (path, required) = match item.v {
            Value::Mapping(_) => {
                item.map(&["path", "required", "format"])?;
                let path = item
                    .get("path")
                    .ok_or_else(|| item.invalid("env_file", "", "give `path:`"))?
                    .str()?;
                (
                    path,
                    item.get("required")
                        .map(|r| r.bool())
                        .transpose()?
                        .unwrap_or(true),
                )
            }
            _ => (item.str()?, true),
        };
        let full = cx.host_path(&path);
        let text = match crate::files::read_host(&full) {
            Ok(text) => text,
            // `required: false` forgives a missing file, not a wrong one.
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(item.invalid(
                    "env_file",
                    &path,
                    format!("cannot read {}: {e}", full.display()),
                ))
            }
        };
        let lookup = |name: &str| cx.env.get(name).cloned();
        for (k, v) in crate::dotenv::parse(&text, &full.display().to_string(), &lookup)? {
            env.insert(k, Some(v));
        }
    }
    Ok(env)
}

pub(super) fn replicas(n: &Node) -> Result<u32, LoadError> {
    let count = n.int()?;
    u32::try_from(count).map_err(|_| n.invalid("replica count", &count.to_string(), "0 or more"))
}

/// `devices:` strings, or long `{source, target, permissions}` items.
pub(super) fn devices(n: &Node) -> Result<Vec<String>, LoadError> {
    let mut out = Vec::new();
    for (i, item) in n.seq()?.iter().enumerate() {
        let node = n.item(i, item);
        if item.is_mapping() {
            node.map(&["source", "target", "permissions"])?;
            let get = |k: &str| node.get(k).map(|v| v.str()).transpose();
            let source =
                get("source")?.ok_or_else(|| node.invalid("device", "", "give `source:`"))?;
            let target = get("target")?.unwrap_or_else(|| source.clone());
            let perms = get("permissions")?.unwrap_or_else(|| "rwm".into());
            out.push(format!("{source}:{target}:{perms}"));
        } else {
            out.push(node.str()?);
        }
    }
    Ok(out)
}

/// `host:ip` / `host=ip` list or `host: ip` mapping → `host:ip` strings.
pub(super) fn extra_hosts(n: &Node) -> Result<Vec<String>, LoadError> {
    let mut out = Vec::new();
    let mut push = |node: &Node, host: &str, ip: &str| {
        let ip = ip.trim().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || ip.is_empty() {
            return Err(node.invalid(
                "extra host",
                &format!("{host}:{ip}"),
                "write HOST:IP or HOST=IP",
            ));
        }
        out.push(format!("{host}:{ip}"));
        Ok(())
    };
    match n.v {
        Value::Mapping(m) => {
            for (host, v) in m {
                let host = crate::node::scalar_string(host)
                    .ok_or_else(|| n.wrong("a mapping of host names"))?;
                let node = n.at(&host, v);
                for ip in node.str_list()? {
                    push(&node, &host, &ip)?;
                }
            }
        }
        _ => {
            for (i, item) in n.seq()?.iter().enumerate() {
                let node = n.item(i, item);
                let text = node.str()?;
                let (host, ip) = text
                    .split_once('=')
                    .or_else(|| text.split_once(':'))
                    .unwrap_or((&text, ""));
                push(&node, host, ip)?;
            }
        }
    }
    Ok(out)
}

/// `build: ./dir` or the mapping; a relative context is from the project
/// directory, a URL stays as written.
pub(super) fn build(n: &Node, cx: &Cx) -> Result<Build, LoadError> {
    let context_of = |text: &str| -> PathBuf {
        if text.contains("://") || text.starts_with("git@") {
            PathBuf::from(text)
        } else {
            cx.host_path(text)
        }
    };
    let mut b = Build {
        context: cx.dir.to_path_buf(),
        dockerfile: "Dockerfile".into(),
        ..Default::default()
    };
    if let Value::String(text) = n.v {
        b.context = context_of(text);
        return Ok(b);
    }
    for (key, v) in n.fields(BUILD_KEYS)? {
        match key.as_str() {
            "context" => b.context = context_of(&v.str()?),
            "dockerfile" => b.dockerfile = v.str()?,
            "args" => b.args = v.key_values('=')?,
            "target" => b.target = Some(v.str()?),
            "labels" => b.labels = v.string_map('=')?,
            "network" => b.network = Some(v.str()?),
            "extra_hosts" => b.extra_hosts = extra_hosts(&v)?,
            "no_cache" => b.no_cache = v.bool()?,
            "pull" => b.pull = v.bool()?,
            _ => cx.warn(&v.path, "not supported by rrun's build, ignored"),
        }
    }
    Ok(b)
}

/// A list of network names or a mapping of them to their options.
pub(super) fn networks(n: &Node) -> Result<IndexMap<String, ServiceNetwork>, LoadError> {
    let mut out = IndexMap::new();
    if let Value::Sequence(_) = n.v {
        for name in n.str_list()? {
            out.insert(name, ServiceNetwork::default());
        }
        return Ok(out);
    }
    for (name, _) in n.entries()? {
        let v = n.at(&name, n.v.get(&name).unwrap_or(&Value::Null));
        let mut net = ServiceNetwork::default();
        if !v.v.is_null() {
            let keys = [
                "aliases",
                "ipv4_address",
                "ipv6_address",
                "priority",
                "mac_address",
                "link_local_ips",
                "driver_opts",
                "gw_priority",
            ];
            for (key, o) in v.fields(&keys)? {
                match key.as_str() {
                    "aliases" => net.aliases = o.str_list()?,
                    "ipv4_address" => net.ipv4_address = Some(o.str()?),
                    "ipv6_address" => net.ipv6_address = Some(o.str()?),
                    "priority" => net.priority = o.int()?,
                    "mac_address" => net.mac_address = Some(o.str()?),
                    _ => {}
                }
            }
        }
        out.insert(name, net);
    }
    Ok(out)
}

/// A list of names (`service_started`, required) or the long mapping.
pub(super) fn depends_on(n: &Node) -> Result<IndexMap<String, DependsOn>, LoadError> {
    let started = DependsOn {
        condition: DependsCondition::ServiceStarted,
        restart: false,
        required: true,
    };
    let mut out = IndexMap::new();
    if let Value::Sequence(_) = n.v {
        for name in n.str_list()? {
            out.insert(name, started.clone());
        }
        return Ok(out);
    }
    for (name, _) in n.entries()? {
        let v = n.at(&name, n.v.get(&name).unwrap_or(&Value::Null));
        let mut dep = started.clone();
        if !v.v.is_null() {
            for (key, o) in v.fields(&["condition", "restart", "required"])? {
                match key.as_str() {
                    "condition" => dep.condition = condition(&o)?,
                    "restart" => dep.restart = o.bool()?,
                    _ => dep.required = o.bool()?,
                }
            }
        }
        out.insert(name, dep);
    }
    Ok(out)
}

fn condition(n: &Node) -> Result<DependsCondition, LoadError> {
    let text = n.str()?;
    Ok(match text.as_str() {
        "service_started" => DependsCondition::ServiceStarted,
        "service_healthy" => DependsCondition::ServiceHealthy,
        "service_completed_successfully" => DependsCondition::ServiceCompletedSuccessfully,
        _ => {
            return Err(n.invalid(
                "condition",
                &text,
                "use service_started, service_healthy or service_completed_successfully",
            ))
        }
    })
}

pub(super) fn healthcheck(n: &Node) -> Result<Healthcheck, LoadError> {
    let mut h = Healthcheck::default();
    for (key, v) in n.fields(HEALTH_KEYS)? {
        match key.as_str() {
            "test" => {
                let test = match v.v {
                    Value::String(s) => vec!["CMD-SHELL".to_string(), s.clone()],
                    _ => v.str_list()?,
                };
                match test.first().map(String::as_str) {
                    Some("NONE") => h.disable = true,
                    Some("CMD" | "CMD-SHELL") => {}
                    _ => {
                        let hint = "a list starts with CMD, CMD-SHELL or NONE (a string is run by the shell)";
                        return Err(v.invalid("healthcheck test", &test.join(" "), hint));
                    }
                }
                h.test = Some(test);
            }
            "interval" => h.interval = Some(v.scalar()?),
            "timeout" => h.timeout = Some(v.scalar()?),
            "start_period" => h.start_period = Some(v.scalar()?),
            "start_interval" => h.start_interval = Some(v.scalar()?),
            "retries" => {
                let r = v.int()?;
                h.retries = Some(
                    u32::try_from(r)
                        .map_err(|_| v.invalid("retries", &r.to_string(), "0 or more"))?,
                );
            }
            _ => h.disable = h.disable || v.bool()?,
        }
    }
    Ok(h)
}

/// `nofile: 1024` or `nofile: {soft: 1024, hard: 2048}`.
pub(super) fn ulimits(n: &Node) -> Result<IndexMap<String, Ulimit>, LoadError> {
    let mut out = IndexMap::new();
    for (name, _) in n.entries()? {
        let v = n.at(&name, n.v.get(&name).unwrap_or(&Value::Null));
        let limit = if v.v.is_mapping() {
            v.map(&["soft", "hard"])?;
            let get = |k: &str| {
                v.get(k)
                    .ok_or_else(|| v.invalid("ulimit", &name, "give both `soft:` and `hard:`"))
            };
            Ulimit {
                soft: get("soft")?.int()?,
                hard: get("hard")?.int()?,
            }
        } else {
            let value = v.int()?;
            Ulimit {
                soft: value,
                hard: value,
            }
        };
        out.insert(name, limit);
    }
    Ok(out)
}

pub(super) fn logging(n: &Node) -> Result<Logging, LoadError> {
    let mut l = Logging::default();
    for (key, v) in n.fields(&["driver", "options"])? {
        match key.as_str() {
            "driver" => l.driver = Some(v.str()?),
            _ if v.v.is_null() => {}
            _ => l.options = v.string_map('=')?,
        }
    }
    Ok(l)
}

/// `deploy.replicas` and `deploy.resources.limits.{cpus,memory,pids}`;
/// the rest is Swarm's and only warned about.
pub(super) fn deploy(s: &mut Service, n: &Node, cx: &Cx) -> Result<(), LoadError> {
    for (key, v) in n.fields(DEPLOY_KEYS)? {
        match key.as_str() {
            "replicas" => s.replicas = replicas(&v)?,
            "resources" => {
                for (key, r) in v.fields(&["limits", "reservations"])? {
                    if key == "reservations" {
                        cx.warn(&r.path, "not supported by rrun, ignored");
                        continue;
                    }
                    for (key, l) in r.fields(&["cpus", "memory", "pids", "devices"])? {
                        match key.as_str() {
                            "cpus" => s.cpus = Some(l.scalar()?),
                            "memory" => s.mem_limit = Some(l.scalar()?),
                            "pids" => s.pids_limit = Some(l.int()?),
                            _ => cx.warn(&l.path, "not supported by rrun, ignored"),
                        }
                    }
                }
            }
            "mode" if v.str()? == "global" => {
                cx.warn(&v.path, "global mode needs Swarm: one replica is run")
            }
            "mode" => {}
            _ => cx.warn(&v.path, "a Swarm setting, ignored by rrun"),
        }
    }
    Ok(())
}

/// A service's `secrets:`/`configs:`: names, or `{source, target, uid,
/// gid, mode}`.
pub(super) fn file_refs(n: &Node, secret: bool) -> Result<Vec<FileReference>, LoadError> {
    let default_target = |source: &str| {
        if secret {
            format!("/run/secrets/{source}")
        } else {
            format!("/{source}")
        }
    };
    let mut out = Vec::new();
    for (i, item) in n.seq()?.iter().enumerate() {
        let node = n.item(i, item);
        if !item.is_mapping() {
            let source = node.str()?;
            out.push(FileReference {
                target: default_target(&source),
                source,
                uid: None,
                gid: None,
                mode: None,
            });
            continue;
        }
        node.map(&["source", "target", "uid", "gid", "mode"])?;
        let source = node
            .get("source")
            .ok_or_else(|| node.invalid("reference", "", "give `source:`"))?
            .str()?;
        let target = match node.get("target").map(|t| t.str()).transpose()? {
            Some(t) if t.starts_with('/') => t,
            Some(t) if secret => format!("/run/secrets/{t}"),
            Some(t) => format!("/{t}"),
            None => default_target(&source),
        };
        let mode = match node.get("mode") {
            None => None,
            Some(m) => {
                let text = m.scalar()?;
                Some(
                    u32::from_str_radix(&text, 8)
                        .map_err(|_| m.invalid("mode", &text, "an octal mode like 0440"))?,
                )
            }
        };
        let uid = node.get("uid").map(|u| u.scalar()).transpose()?;
        let gid = node.get("gid").map(|g| g.scalar()).transpose()?;
        out.push(FileReference {
            source,
            target,
            uid,
            gid,
            mode,
        });
    }
    Ok(out)
}
