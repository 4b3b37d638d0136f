//! A service's `volumes:`: the short form (`./rel:/x:ro`, `~/x:/x`,
//! `name:/x`, anonymous `/x`) and the long form (`type`, `source`,
//! `target`, `read_only`, `bind.create_host_path`, `volume.nocopy`,
//! `tmpfs.size`), bind sources made absolute.

use super::Cx;
use crate::error::LoadError;
use crate::model::{ServiceVolume, VolumeType};
use crate::node::Node;
use serde_yaml_ng::Value;

const SHORT_HINT: &str =
    "write [SOURCE:]TARGET[:ro|rw|z|Z|nocopy|shared|...] with an absolute TARGET";
const LONG_KEYS: &[&str] = &[
    "type",
    "source",
    "target",
    "read_only",
    "consistency",
    "bind",
    "volume",
    "tmpfs",
    "image",
];
const PROPAGATIONS: &[&str] = &[
    "shared", "slave", "private", "rshared", "rslave", "rprivate",
];

pub(super) fn volumes(n: &Node, cx: &Cx) -> Result<Vec<ServiceVolume>, LoadError> {
    let mut out = Vec::new();
    for (i, item) in n.seq()?.iter().enumerate() {
        let node = n.item(i, item);
        out.push(match item {
            Value::String(text) => {
                short(text, cx).ok_or_else(|| node.invalid("volume", text, SHORT_HINT))?
            }
            Value::Mapping(_) => long(&node, cx)?,
            _ => return Err(node.wrong("a volume string or a mapping")),
        });
    }
    Ok(out)
}

fn empty(kind: VolumeType, source: Option<String>, target: String) -> ServiceVolume {
    ServiceVolume {
        kind,
        source,
        target,
        read_only: false,
        create_host_path: kind == VolumeType::Bind,
        propagation: None,
        selinux: None,
        nocopy: false,
        tmpfs_size: None,
        tmpfs_mode: None,
    }
}

fn is_path(source: &str) -> bool {
    source.starts_with(['.', '/', '~'])
}

/// `None` when `text` is not a short form.
fn short(text: &str, cx: &Cx) -> Option<ServiceVolume> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, None),
        [source, target] => (Some(*source), *target, None),
        [source, target, mode] => (Some(*source), *target, Some(*mode)),
        _ => return None,
    };
    if !target.starts_with('/') || source == Some("") {
        return None;
    }
    let mut v = match source {
        None => empty(VolumeType::Volume, None, target.to_string()),
        Some(s) if is_path(s) => {
            let path = cx.host_path(s).display().to_string();
            empty(VolumeType::Bind, Some(path), target.to_string())
        }
        Some(name) => empty(
            VolumeType::Volume,
            Some(name.to_string()),
            target.to_string(),
        ),
    };
    for opt in mode.into_iter().flat_map(|m| m.split(',')) {
        match opt {
            "ro" => v.read_only = true,
            "rw" => v.read_only = false,
            "z" | "Z" => v.selinux = Some(opt.to_string()),
            "nocopy" => v.nocopy = true,
            "consistent" | "cached" | "delegated" => {}
            p if PROPAGATIONS.contains(&p) => v.propagation = Some(p.to_string()),
            _ => return None,
        }
    }
    Some(v)
}

fn long(n: &Node, cx: &Cx) -> Result<ServiceVolume, LoadError> {
    n.map(LONG_KEYS)?;
    let kind_node = n
        .get("type")
        .ok_or_else(|| n.invalid("volume", "", "the long form needs `type:`"))?;
    let kind = match kind_node.str()?.as_str() {
        "volume" => VolumeType::Volume,
        "bind" => VolumeType::Bind,
        "tmpfs" => VolumeType::Tmpfs,
        "npipe" => VolumeType::Npipe,
        other => return Err(kind_node.invalid("volume type", other, "use volume, bind or tmpfs")),
    };
    let target = n
        .get("target")
        .ok_or_else(|| n.invalid("volume", "", "the long form needs `target:`"))?;
    let mut v = empty(kind, None, target.str()?);
    if let Some(src) = n.get("source") {
        let text = src.str()?;
        v.source = Some(match kind {
            VolumeType::Bind => cx.host_path(&text).display().to_string(),
            _ => text,
        });
    }
    if kind == VolumeType::Bind && v.source.is_none() {
        return Err(n.invalid("volume", "", "a bind mount needs `source:` (a host path)"));
    }
    if let Some(ro) = n.get("read_only") {
        v.read_only = ro.bool()?;
    }
    long_options(n, &mut v)?;
    Ok(v)
}

/// `bind:`, `volume:` and `tmpfs:` of a long form.
fn long_options(n: &Node, v: &mut ServiceVolume) -> Result<(), LoadError> {
    if let Some(bind) = n.get("bind") {
        for (key, o) in bind.fields(&["propagation", "create_host_path", "selinux"])? {
            match key.as_str() {
                "propagation" => v.propagation = Some(o.str()?),
                "create_host_path" => v.create_host_path = o.bool()?,
                _ => v.selinux = Some(o.str()?),
            }
        }
    }
    if let Some(volume) = n.get("volume") {
        for (key, o) in volume.fields(&["nocopy", "subpath"])? {
            if key == "nocopy" {
                v.nocopy = o.bool()?;
            }
        }
    }
    if let Some(tmpfs) = n.get("tmpfs") {
        for (key, o) in tmpfs.fields(&["size", "mode"])? {
            if key == "size" {
                v.tmpfs_size = Some(o.scalar()?);
            } else {
                let text = o.scalar()?;
                let mode = u32::from_str_radix(&text, 8)
                    .map_err(|_| o.invalid("mode", &text, "an octal mode like 1777"))?;
                v.tmpfs_mode = Some(mode);
            }
        }
    }
    Ok(())
}
