//! One service: each key to its field of [`Service`], in long form.

use super::{parts, ports, volumes, Cx};
use crate::error::LoadError;
use crate::model::{NetworkMode, Service};
use crate::node::Node;
use indexmap::IndexMap;

/// Every key of the Compose specification's service.
const KEYS: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "label_file",
    "labels",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volumes",
    "volumes_from",
    "working_dir",
];

/// Keys rrun accepts and does not act on: a warning each.
const IGNORED: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpuset",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "external_links",
    "gpus",
    "group_add",
    "isolation",
    "label_file",
    "links",
    "mem_swappiness",
    "models",
    "oom_kill_disable",
    "oom_score_adj",
    "post_start",
    "pre_stop",
    "provider",
    "runtime",
    "storage_opt",
    "use_api_socket",
    "userns_mode",
    "uts",
    "volumes_from",
];

pub(super) fn service(name: &str, node: &Node, cx: &Cx) -> Result<Service, LoadError> {
    if node.v.is_null() {
        return Ok(Service {
            name: name.to_string(),
            replicas: 1,
            ..Default::default()
        });
    }
    let fields = node.fields(KEYS)?;
    let mut s = Service {
        name: name.to_string(),
        replicas: 1,
        ..Default::default()
    };
    let (mut env_file, mut environment) = (None, None);
    for (key, n) in &fields {
        if IGNORED.contains(&key.as_str()) {
            cx.warn(&n.path, "not supported by rrun, ignored");
        } else if key == "env_file" {
            env_file = Some(n);
        } else if key == "environment" {
            environment = Some(n);
        } else if !scalar_key(&mut s, key, n)? && !list_key(&mut s, key, n)? {
            complex_key(&mut s, key, n, cx)?;
        }
    }
    if let Some(n) = env_file {
        s.environment = parts::env_files(n, cx)?;
    }
    if let Some(n) = environment {
        // A name without a value takes the project's variable; unset, it
        // leaves an env_file value alone (Compose resolves, then drops).
        for (k, v) in n.key_values('=')? {
            match v.or_else(|| cx.env.get(&k).cloned()) {
                Some(v) => {
                    s.environment.insert(k, Some(v));
                }
                None => {
                    s.environment.entry(k).or_insert(None);
                }
            }
        }
    }
    if s.network_mode.is_some() && !s.networks.is_empty() {
        let mode = node.get("network_mode").map(|m| m.scalar()).transpose()?;
        let hint = "network_mode and networks exclude each other: keep one";
        return Err(node.invalid("network settings", &mode.unwrap_or_default(), hint));
    }
    s.extensions = extensions(node);
    Ok(s)
}

/// The `x-` keys of a service.
fn extensions(node: &Node) -> IndexMap<String, serde_json::Value> {
    let Some(m) = node.v.as_mapping() else {
        return IndexMap::new();
    };
    m.iter()
        .filter_map(|(k, v)| {
            let k = k.as_str().filter(|k| k.starts_with("x-"))?;
            Some((
                k.to_string(),
                serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
            ))
        })
        .collect()
}

/// Strings, booleans and numbers. `false` when `key` is not one of them.
fn scalar_key(s: &mut Service, key: &str, n: &Node) -> Result<bool, LoadError> {
    let text = match key {
        "image" => &mut s.image,
        "pull_policy" => &mut s.pull_policy,
        "platform" => &mut s.platform,
        "container_name" => &mut s.container_name,
        "hostname" => &mut s.hostname,
        "domainname" => &mut s.domainname,
        "working_dir" => &mut s.working_dir,
        "user" => &mut s.user,
        "restart" => &mut s.restart,
        "mac_address" => &mut s.mac_address,
        "shm_size" => &mut s.shm_size,
        "stop_signal" => &mut s.stop_signal,
        "stop_grace_period" => &mut s.stop_grace_period,
        "mem_limit" => &mut s.mem_limit,
        "memswap_limit" => &mut s.memswap_limit,
        "mem_reservation" => &mut s.mem_reservation,
        "cpus" => &mut s.cpus,
        "pid" => &mut s.pid,
        "ipc" => &mut s.ipc,
        _ => return flag_key(s, key, n),
    };
    *text = if n.v.is_null() {
        None
    } else {
        Some(n.scalar()?)
    };
    Ok(true)
}

fn flag_key(s: &mut Service, key: &str, n: &Node) -> Result<bool, LoadError> {
    match key {
        "stdin_open" => s.stdin_open = n.bool()?,
        "tty" => s.tty = n.bool()?,
        "privileged" => s.privileged = n.bool()?,
        "read_only" => s.read_only = n.bool()?,
        "init" => s.init = Some(n.bool()?),
        "cpu_shares" => s.cpu_shares = Some(n.int()?),
        "pids_limit" => s.pids_limit = Some(n.int()?),
        "scale" => s.replicas = parts::replicas(n)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Lists and mappings of strings.
fn list_key(s: &mut Service, key: &str, n: &Node) -> Result<bool, LoadError> {
    match key {
        "expose" => s.expose = n.str_list()?,
        "dns" => s.dns = n.str_list()?,
        "dns_search" => s.dns_search = n.str_list()?,
        "dns_opt" => s.dns_opt = n.str_list()?,
        "cap_add" => s.cap_add = n.str_list()?,
        "cap_drop" => s.cap_drop = n.str_list()?,
        "security_opt" => s.security_opt = n.str_list()?,
        "tmpfs" => s.tmpfs = n.str_list()?,
        "profiles" => s.profiles = n.str_list()?,
        "devices" => s.devices = parts::devices(n)?,
        "labels" => s.labels = n.string_map('=')?,
        "sysctls" => s.sysctls = n.string_map('=')?,
        "extra_hosts" => s.extra_hosts = parts::extra_hosts(n)?,
        "command" => s.command = command(n)?,
        "entrypoint" => s.entrypoint = command(n)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn complex_key(s: &mut Service, key: &str, n: &Node, cx: &Cx) -> Result<(), LoadError> {
    match key {
        "build" => s.build = Some(parts::build(n, cx)?),
        "ports" => s.ports = ports::ports(n)?,
        "volumes" => s.volumes = volumes::volumes(n, cx)?,
        "networks" => s.networks = parts::networks(n)?,
        "network_mode" => s.network_mode = Some(network_mode(n)?),
        "depends_on" => s.depends_on = parts::depends_on(n)?,
        // An empty one changes nothing: the image's healthcheck.
        "healthcheck" => {
            s.healthcheck = Some(parts::healthcheck(n)?).filter(|h| *h != Default::default())
        }
        "ulimits" => s.ulimits = parts::ulimits(n)?,
        "logging" => s.logging = Some(parts::logging(n)?).filter(|l| *l != Default::default()),
        "deploy" => parts::deploy(s, n, cx)?,
        "secrets" => s.secrets = parts::file_refs(n, true)?,
        "configs" => s.configs = parts::file_refs(n, false)?,
        // Resolved before typing; left here only when it named nothing.
        "extends" => {}
        _ => unreachable!("{key} is in KEYS but has no reader"),
    }
    Ok(())
}

/// A string split into words as Compose does, or a list; null is unset.
fn command(n: &Node) -> Result<Option<Vec<String>>, LoadError> {
    match n.v {
        serde_yaml_ng::Value::Null => Ok(None),
        serde_yaml_ng::Value::String(text) => super::split_command(text)
            .map(Some)
            .map_err(|e| n.invalid("command", text, e)),
        serde_yaml_ng::Value::Sequence(_) => n.str_list().map(Some),
        _ => Err(n.wrong("a string or a list of strings")),
    }
}

fn network_mode(n: &Node) -> Result<NetworkMode, LoadError> {
    let text = n.str()?;
    Ok(match text.as_str() {
        "host" => NetworkMode::Host,
        "none" => NetworkMode::None,
        "bridge" | "default" => NetworkMode::Bridge,
        other => match other.split_once(':') {
            Some(("service", name)) if !name.is_empty() => NetworkMode::Service(name.to_string()),
            Some(("container", name)) if !name.is_empty() => {
                NetworkMode::Container(name.to_string())
            }
            _ => {
                return Err(n.invalid(
                    "network_mode",
                    &text,
                    "use host, none, bridge, service:<name> or container:<name>",
                ))
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Every key of KEYS has a reader (no key reaches `unreachable!`),
    /// whatever its value.
    #[test]
    fn every_key_has_a_reader() {
        let env = IndexMap::new();
        let cx = Cx {
            file: "f",
            dir: std::path::Path::new("/p"),
            env: &env,
            project: "p",
            warnings: RefCell::new(vec![]),
        };
        for key in KEYS {
            for value in ["null", "x", "[x]", "{x: y}", "1", "true"] {
                let yaml = format!("{key}: {value}");
                let tree: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
                let node = Node::root(&tree, "f");
                let _ = service("web", &node, &cx);
            }
        }
    }
}
