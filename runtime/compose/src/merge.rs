//! Compose's merge of several `-f` files (and of `extends`): mappings merge
//! key by key; `command`, `entrypoint` and `healthcheck.test` replace;
//! `environment`, `labels`, `depends_on`, `networks`, `ulimits`, `sysctls`,
//! `build.args` merge by key whether written as lists or mappings; `ports`,
//! `expose`, `dns` and the other lists of strings append what is new;
//! `volumes` merge by container path, `secrets`/`configs` by target. The
//! YAML tags `!reset` (drop the base's value) and `!override` (replace it
//! whole) work as in Compose.

use serde_yaml_ng::{Mapping, Value};

/// Lists whose items are appended when new.
const APPEND_UNIQUE: &[&str] = &[
    "ports",
    "expose",
    "dns",
    "dns_search",
    "dns_opt",
    "cap_add",
    "cap_drop",
    "security_opt",
    "devices",
    "tmpfs",
    "env_file",
    "extra_hosts",
    "external_links",
    "links",
    "group_add",
    "device_cgroup_rules",
    "volumes_from",
    "profiles",
];
/// `KEY=VALUE` lists or mappings, merged by key.
const KEY_VALUE: &[&str] = &["environment", "labels", "annotations", "sysctls", "args"];
/// Lists of names or mappings, merged by name.
const BY_NAME: &[&str] = &["depends_on", "networks"];

/// The top-level trees of several files, the later over the earlier.
pub(crate) fn merge_top(base: &mut Mapping, over: &Mapping) {
    for (k, v) in over {
        let key = k.as_str().unwrap_or_default();
        match (key, base.get_mut(k)) {
            (_, Some(_)) if tag_of(v) == Some("reset") => {
                base.remove(k);
            }
            ("services", Some(Value::Mapping(b))) if untag(v).is_mapping() => {
                merge_entries(b, v, merge_service)
            }
            ("networks" | "volumes" | "secrets" | "configs", Some(Value::Mapping(b)))
                if untag(v).is_mapping() =>
            {
                merge_entries(b, v, merge_mapping)
            }
            _ => {
                base.insert(k.clone(), resolve_tags(v));
            }
        }
    }
}

/// Merges each entry of `over` (a mapping of named things) into `base`.
fn merge_entries(base: &mut Mapping, over: &Value, merge: fn(&mut Value, &Value)) {
    let Value::Mapping(over) = untag(over) else {
        return;
    };
    for (k, v) in over {
        match base.get_mut(k) {
            Some(_) if tag_of(v) == Some("reset") => {
                base.remove(k);
            }
            Some(b) if tag_of(v) != Some("override") => merge(b, v),
            _ => {
                base.insert(k.clone(), resolve_tags(v));
            }
        }
    }
}

/// One service over another (files, or `extends`).
pub(crate) fn merge_service(base: &mut Value, over: &Value) {
    let (Value::Mapping(b), Value::Mapping(o)) = (&mut *base, untag(over)) else {
        *base = resolve_tags(over);
        return;
    };
    for (k, v) in o {
        let key = k.as_str().unwrap_or_default().to_string();
        let Some(slot) = b.get_mut(k) else {
            b.insert(k.clone(), resolve_tags(v));
            continue;
        };
        match tag_of(v) {
            Some("reset") => {
                b.remove(k);
                continue;
            }
            Some("override") => {
                *slot = resolve_tags(v);
                continue;
            }
            _ => {}
        }
        merge_service_key(&key, slot, v);
    }
}

fn merge_service_key(key: &str, slot: &mut Value, v: &Value) {
    match key {
        "build" => {
            build_as_mapping(slot);
            let mut over = resolve_tags(v);
            build_as_mapping(&mut over);
            merge_mapping(slot, &over);
        }
        "volumes" => merge_by(slot, v, volume_target),
        "secrets" | "configs" => merge_by(slot, v, file_target),
        // Another log driver's options mean nothing to this one.
        "logging" if driver_changes(slot, v) => *slot = resolve_tags(v),
        "ulimits" | "deploy" | "healthcheck" | "logging" | "blkio_config" | "develop" => {
            merge_mapping(slot, v)
        }
        _ => merge_value(key, slot, v),
    }
}

fn driver_changes(base: &Value, over: &Value) -> bool {
    let driver = |v: &Value| untag(v).get("driver").cloned();
    matches!((driver(base), driver(over)), (Some(a), Some(b)) if a != b)
}

/// Generic merge by key name: key-value lists, name lists, append-unique
/// lists, nested mappings; anything else replaces.
fn merge_value(key: &str, slot: &mut Value, v: &Value) {
    if KEY_VALUE.contains(&key) {
        let mut merged = key_value_mapping(slot);
        merged.extend(key_value_mapping(v));
        *slot = Value::Mapping(merged);
    } else if BY_NAME.contains(&key) {
        let mut merged = Value::Mapping(name_mapping(slot, key));
        merge_mapping(&mut merged, &Value::Mapping(name_mapping(v, key)));
        *slot = merged;
    } else if APPEND_UNIQUE.contains(&key) {
        let mut items = as_list(slot);
        for item in as_list(v) {
            if !items.contains(&item) {
                items.push(item);
            }
        }
        *slot = Value::Sequence(items);
    } else if let (Value::Mapping(_), Value::Mapping(_)) = (&*slot, untag(v)) {
        if key == "test" || key == "command" || key == "entrypoint" {
            *slot = resolve_tags(v);
        } else {
            merge_mapping(slot, v);
        }
    } else {
        *slot = resolve_tags(v);
    }
}

/// Mapping over mapping, key by key, with the rules of [`merge_value`].
pub(crate) fn merge_mapping(base: &mut Value, over: &Value) {
    let (Value::Mapping(b), Value::Mapping(o)) = (&mut *base, untag(over)) else {
        *base = resolve_tags(over);
        return;
    };
    for (k, v) in o {
        match b.get_mut(k) {
            Some(_) if tag_of(v) == Some("reset") => {
                b.remove(k);
            }
            Some(slot) if tag_of(v) != Some("override") => {
                let key = k.as_str().unwrap_or_default().to_string();
                merge_value(&key, slot, v);
            }
            _ => {
                b.insert(k.clone(), resolve_tags(v));
            }
        }
    }
}

/// Lists merged by a key of their items: an item of `over` replaces the
/// base's with the same key, new ones are appended.
fn merge_by(slot: &mut Value, over: &Value, key_of: fn(&Value) -> Option<String>) {
    let mut items = as_list(slot);
    for item in as_list(over) {
        let key = key_of(&item);
        match items.iter().position(|i| key.is_some() && key_of(i) == key) {
            Some(at) => items[at] = item,
            None => items.push(item),
        }
    }
    *slot = Value::Sequence(items);
}

/// A service volume's container path, short or long form.
fn volume_target(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            Some(parts.get(1).unwrap_or(&parts[0]).to_string())
        }
        Value::Mapping(m) => m.get("target").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// A service secret's or config's target (its source when none).
fn file_target(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Mapping(m) => m
            .get("target")
            .or_else(|| m.get("source"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

fn build_as_mapping(v: &mut Value) {
    if let Value::String(s) = v {
        let mut m = Mapping::new();
        m.insert("context".into(), Value::String(s.clone()));
        *v = Value::Mapping(m);
    }
}

/// `KEY=VALUE` list or mapping → mapping (`KEY` alone → null).
fn key_value_mapping(v: &Value) -> Mapping {
    match untag(v) {
        Value::Mapping(m) => m.clone(),
        Value::Sequence(items) => items
            .iter()
            .map(|item| {
                let text = crate::node::scalar_string(item).unwrap_or_default();
                match text.split_once('=') {
                    Some((k, v)) => (k.into(), Value::String(v.to_string())),
                    None => (text.into(), Value::Null),
                }
            })
            .collect(),
        _ => Mapping::new(),
    }
}

/// A list of names or a mapping → mapping (`depends_on` names get their
/// default condition, network names null).
fn name_mapping(v: &Value, key: &str) -> Mapping {
    match untag(v) {
        Value::Mapping(m) => m.clone(),
        Value::Sequence(items) => items
            .iter()
            .map(|item| {
                let entry = if key == "depends_on" {
                    let mut m = Mapping::new();
                    m.insert("condition".into(), "service_started".into());
                    Value::Mapping(m)
                } else {
                    Value::Null
                };
                (item.clone(), entry)
            })
            .collect(),
        _ => Mapping::new(),
    }
}

/// A list, or a lone value as a list of one.
fn as_list(v: &Value) -> Vec<Value> {
    match untag(v) {
        Value::Sequence(items) => items.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    }
}

fn tag_of(v: &Value) -> Option<&str> {
    match v {
        Value::Tagged(t) => {
            let tag = &t.tag;
            if *tag == "reset" {
                Some("reset")
            } else if *tag == "override" {
                Some("override")
            } else {
                None
            }
        }
        _ => None,
    }
}

fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

/// A value with `!override` tags unwrapped and `!reset` entries dropped
/// (what a tag means when there is nothing under it to reset).
pub(crate) fn resolve_tags(v: &Value) -> Value {
    match v {
        Value::Tagged(t) if tag_of(v) == Some("reset") => match &t.value {
            Value::Sequence(_) => Value::Sequence(vec![]),
            Value::Mapping(_) => Value::Mapping(Mapping::new()),
            _ => Value::Null,
        },
        Value::Tagged(t) if tag_of(v).is_some() => resolve_tags(&t.value),
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .filter(|(_, v)| tag_of(v) != Some("reset"))
                .map(|(k, v)| (k.clone(), resolve_tags(v)))
                .collect(),
        ),
        Value::Sequence(items) => Value::Sequence(items.iter().map(resolve_tags).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
