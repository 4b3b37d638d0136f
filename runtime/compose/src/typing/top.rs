//! Top-level `networks:`, `volumes:`, `secrets:` and `configs:`.

use super::Cx;
use crate::error::LoadError;
use crate::model::{FileObject, Ipam, IpamPool, Network, Volume};
use crate::node::Node;
use serde_yaml_ng::Value;

const NETWORK_KEYS: &[&str] = &[
    "name",
    "external",
    "driver",
    "driver_opts",
    "ipam",
    "internal",
    "enable_ipv6",
    "enable_ipv4",
    "attachable",
    "labels",
];
const VOLUME_KEYS: &[&str] = &["name", "external", "driver", "driver_opts", "labels"];
const FILE_KEYS: &[&str] = &[
    "file",
    "environment",
    "content",
    "external",
    "name",
    "labels",
    "driver",
    "driver_opts",
    "template_driver",
];

/// `external: true`, or the old `external: {name: x}` (its name).
fn external(n: &Node) -> Result<(bool, Option<String>), LoadError> {
    match n.v {
        Value::Mapping(_) => {
            n.map(&["name"])?;
            Ok((true, n.get("name").map(|v| v.str()).transpose()?))
        }
        _ => Ok((n.bool()?, None)),
    }
}

/// The Docker name of a network or volume: `name:`, else `<project>_<key>`
/// (an external one's key as it is).
fn docker_name(key: &str, name: Option<String>, external: bool, cx: &Cx) -> String {
    name.unwrap_or_else(|| {
        if external {
            key.to_string()
        } else {
            format!("{}_{key}", cx.project)
        }
    })
}

pub(super) fn network(key: &str, n: &Node, cx: &Cx) -> Result<Network, LoadError> {
    let mut net = Network::default();
    let mut name = None;
    if n.v.is_null() {
        net.name = docker_name(key, None, false, cx);
        return Ok(net);
    }
    for (k, v) in n.fields(NETWORK_KEYS)? {
        match k.as_str() {
            "name" => name = Some(v.str()?),
            "external" => {
                let (ext, old_name) = external(&v)?;
                net.external = ext;
                name = name.or(old_name);
            }
            "driver" => net.driver = Some(v.str()?),
            "driver_opts" => net.driver_opts = v.string_map('=')?,
            "ipam" => net.ipam = Some(ipam(&v)?).filter(|i| *i != Ipam::default()),
            "internal" => net.internal = v.bool()?,
            "enable_ipv6" => net.enable_ipv6 = v.bool()?,
            "attachable" => net.attachable = v.bool()?,
            "labels" => net.labels = v.string_map('=')?,
            _ => {}
        }
    }
    net.name = docker_name(key, name, net.external, cx);
    Ok(net)
}

fn ipam(n: &Node) -> Result<Ipam, LoadError> {
    let mut ipam = Ipam::default();
    for (k, v) in n.fields(&["driver", "config", "options"])? {
        match k.as_str() {
            "driver" => ipam.driver = Some(v.str()?),
            "options" => ipam.options = v.string_map('=')?,
            _ => {
                for (i, item) in v.seq()?.iter().enumerate() {
                    let node = v.item(i, item);
                    let mut pool = IpamPool::default();
                    for (k, o) in
                        node.fields(&["subnet", "ip_range", "gateway", "aux_addresses"])?
                    {
                        match k.as_str() {
                            "subnet" => pool.subnet = Some(o.str()?),
                            "ip_range" => pool.ip_range = Some(o.str()?),
                            "gateway" => pool.gateway = Some(o.str()?),
                            _ => pool.aux_addresses = o.string_map('=')?,
                        }
                    }
                    ipam.config.push(pool);
                }
            }
        }
    }
    Ok(ipam)
}

pub(super) fn volume(key: &str, n: &Node, cx: &Cx) -> Result<Volume, LoadError> {
    let mut vol = Volume::default();
    let mut name = None;
    if !n.v.is_null() {
        for (k, v) in n.fields(VOLUME_KEYS)? {
            match k.as_str() {
                "name" => name = Some(v.str()?),
                "external" => {
                    let (ext, old_name) = external(&v)?;
                    vol.external = ext;
                    name = name.or(old_name);
                }
                "driver" => vol.driver = Some(v.str()?),
                "driver_opts" => vol.driver_opts = v.string_map('=')?,
                _ => vol.labels = v.string_map('=')?,
            }
        }
    }
    vol.name = docker_name(key, name, vol.external, cx);
    Ok(vol)
}

/// A top-level secret or config: `file:`, `environment:` or `content:`.
pub(super) fn file_object(n: &Node, cx: &Cx, secret: bool) -> Result<FileObject, LoadError> {
    let kind = if secret { "secret" } else { "config" };
    let mut found = None;
    for (k, v) in n.fields(FILE_KEYS)? {
        match k.as_str() {
            "file" => found = Some(FileObject::File(cx.host_path(&v.str()?))),
            "environment" => found = Some(FileObject::Environment(v.str()?)),
            "content" if !secret => found = Some(FileObject::Content(v.str()?)),
            "external" if external(&v)?.0 => {
                return Err(LoadError::Unsupported {
                    file: cx.file.to_string(),
                    path: v.path,
                    what: format!("an external {kind}"),
                    hint: "external secrets and configs need Swarm; use `file:` or `environment:`",
                })
            }
            "content" => {
                return Err(v.invalid(
                    "secret source",
                    "content",
                    "a secret takes `file:` or `environment:`",
                ))
            }
            _ => {}
        }
    }
    found.ok_or_else(|| n.invalid(kind, "", "give `file:` or `environment:`"))
}
