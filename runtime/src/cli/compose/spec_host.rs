//! A service's `HostConfig`: mounts, ports, resources, security, logging,
//! parsed with the same parsers `rrun run`'s flags use.

use anyhow::{anyhow, Result};
use std::collections::HashMap;

use rrun_compose::model::{Port, Project, Protocol, Service, ServiceVolume, VolumeType};

use crate::apimodel::models::{
    HostConfig, HostConfigLogConfig, Mount, MountType, PortBinding, PortMap, ResourcesUlimits,
};

use super::super::runflags::{parse_cpus, parse_device, parse_restart};

fn size(v: &Option<String>, key: &str) -> Result<Option<i64>> {
    v.as_deref()
        .map(|s| rrun_units::ram_in_bytes(s).map_err(|e| anyhow!("{key}: invalid size {s:?}: {e}")))
        .transpose()
}

/// The host side of the service's container; `publish`: its `ports`.
pub fn host_config(p: &Project, s: &Service, publish: bool) -> Result<HostConfig> {
    let (binds, mounts, tmpfs) = volumes(p, s)?;
    let mut h = HostConfig {
        binds: Some(binds),
        mounts: Some(mounts),
        tmpfs: Some(tmpfs),
        port_bindings: publish.then(|| port_bindings(&s.ports)),
        extra_hosts: Some(s.extra_hosts.clone()),
        dns: Some(s.dns.clone()),
        dns_search: Some(s.dns_search.clone()),
        dns_options: Some(s.dns_opt.clone()),
        cap_add: Some(s.cap_add.clone()),
        cap_drop: Some(s.cap_drop.clone()),
        security_opt: Some(s.security_opt.clone()),
        privileged: Some(s.privileged),
        readonly_rootfs: Some(s.read_only),
        init: s.init,
        sysctls: Some(s.sysctls.clone().into_iter().collect()),
        pid_mode: s.pid.clone(),
        ipc_mode: s.ipc.clone(),
        cpu_shares: s.cpu_shares,
        pids_limit: s.pids_limit,
        shm_size: size(&s.shm_size, "shm_size")?,
        memory: size(&s.mem_limit, "mem_limit")?,
        memory_reservation: size(&s.mem_reservation, "mem_reservation")?,
        memory_swap: size(&s.memswap_limit, "memswap_limit")?,
        ..Default::default()
    };
    if let Some(c) = &s.cpus {
        h.nano_cpus = Some(parse_cpus(c).map_err(|e| anyhow!("cpus: {e}"))?);
    }
    if let Some(r) = &s.restart {
        h.restart_policy = Some(parse_restart(r).map_err(|e| anyhow!("restart: {e}"))?);
    }
    let devices = s.devices.iter().map(|d| parse_device(d));
    h.devices = Some(
        devices
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow!("devices: {e}"))?,
    );
    h.ulimits = Some(
        s.ulimits
            .iter()
            .map(|(name, u)| ResourcesUlimits {
                name: Some(name.clone()),
                soft: Some(u.soft),
                hard: Some(u.hard),
            })
            .collect(),
    );
    if let Some(l) = &s.logging {
        h.log_config = Some(HostConfigLogConfig {
            typ: Some(l.driver.clone().unwrap_or_else(|| "json-file".into())),
            config: Some(l.options.clone().into_iter().collect()),
        });
    }
    Ok(h)
}

/// `Binds`, `Mounts` and `Tmpfs` of a host config.
type Storage = (Vec<String>, Vec<Mount>, HashMap<String, String>);

/// Bind and named volumes as `Binds` (Docker creates a missing host path
/// for these, as the short form promises), anonymous ones as `Mounts`,
/// tmpfs ones as `Tmpfs`; file-based secrets and configs bound read-only.
fn volumes(p: &Project, s: &Service) -> Result<Storage> {
    let mut binds = Vec::new();
    let mut mounts = Vec::new();
    let mut tmpfs: HashMap<String, String> = s
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((path, opts)) => (path.to_string(), opts.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect();
    for v in &s.volumes {
        match (v.kind, &v.source) {
            (VolumeType::Bind, Some(src)) if v.create_host_path => {
                binds.push(bind_line(src, v));
            }
            (VolumeType::Bind, Some(src)) => mounts.push(Mount {
                typ: Some(MountType::BIND),
                source: Some(src.clone()),
                target: Some(v.target.clone()),
                read_only: Some(v.read_only),
                ..Default::default()
            }),
            (VolumeType::Volume, Some(key)) => {
                let name = p.volumes.get(key).map(|d| d.name.clone()).ok_or_else(|| {
                    anyhow!("volume {key:?} is not declared under the top-level volumes")
                })?;
                binds.push(bind_line(&name, v));
            }
            (VolumeType::Volume, None) => mounts.push(Mount {
                typ: Some(MountType::VOLUME),
                target: Some(v.target.clone()),
                ..Default::default()
            }),
            (VolumeType::Tmpfs, _) => {
                let size = v.tmpfs_size.as_ref().map(|s| format!("size={s}"));
                tmpfs.insert(v.target.clone(), size.unwrap_or_default());
            }
            (kind, _) => {
                return Err(anyhow!(
                    "volume {}: type {kind:?} is not supported",
                    v.target
                ))
            }
        }
    }
    for (r, objects) in [(&s.secrets, &p.secrets), (&s.configs, &p.configs)] {
        for f in r {
            match objects.get(&f.source) {
                Some(rrun_compose::model::FileObject::File(path)) => {
                    binds.push(format!("{}:{}:ro", path.display(), f.target));
                }
                // Written into the container before it starts (`inject`).
                Some(_) => {}
                None => return Err(anyhow!("{}: not defined at the top level", f.source)),
            }
        }
    }
    Ok((binds, mounts, tmpfs))
}

/// `source:target[:ro,nocopy,rshared,z]`, the `-v` grammar.
fn bind_line(src: &str, v: &ServiceVolume) -> String {
    let mut opts: Vec<&str> = Vec::new();
    if v.read_only {
        opts.push("ro");
    }
    if v.nocopy {
        opts.push("nocopy");
    }
    if let Some(p) = &v.propagation {
        opts.push(p);
    }
    if let Some(z) = &v.selinux {
        opts.push(z);
    }
    match opts.is_empty() {
        true => format!("{src}:{}", v.target),
        false => format!("{src}:{}:{}", v.target, opts.join(",")),
    }
}

fn proto(p: &Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

/// `80/tcp` for every `expose` and `ports` entry.
pub fn exposed(s: &Service) -> Vec<String> {
    let mut out: Vec<String> = s
        .expose
        .iter()
        .map(|e| match e.contains('/') {
            true => e.clone(),
            false => format!("{e}/tcp"),
        })
        .collect();
    for p in &s.ports {
        let k = format!("{}/{}", p.target, proto(&p.protocol));
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

pub fn port_bindings(ports: &[Port]) -> PortMap {
    let mut m: PortMap = HashMap::new();
    for p in ports {
        let key = format!("{}/{}", p.target, proto(&p.protocol));
        m.entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: p.host_ip.clone(),
                host_port: p.published.clone(),
            });
    }
    m
}
