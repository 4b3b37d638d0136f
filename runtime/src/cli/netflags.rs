//! The networking and mount flags of `rrun run`/`create` (`-p`,
//! `--network-alias`, `--ip`, `--mount`, `--tmpfs`, …) as the docker CLI
//! turns them into the API's create body.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::collections::HashMap;

use crate::apimodel::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Mount, MountBindOptions,
    MountTmpfsOptions, MountType, MountVolumeOptions, MountVolumeOptionsDriverConfig,
    NetworkingConfig, PortBinding,
};

// Networking and mount flags of `run` and `create`.
#[derive(Debug, Args, Default, Clone)]
pub struct NetFlags {
    /// Add network-scoped alias for the container.
    #[arg(long = "network-alias", alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104).
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33).
    #[arg(long)]
    pub ip6: Option<String>,
    /// Publish a container's port(s) to the host ([ip:][hostPort:]containerPort[/proto];
    /// an IPv6 ip in brackets: [::1]:8080:80).
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports.
    #[arg(long)]
    pub expose: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Attach a filesystem mount to the container.
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory.
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s).
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Add link to another container (name[:alias]).
    #[arg(long)]
    pub link: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33).
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
}

/// One parsed `-p`: the container port key and a binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub key: String,
    pub host_ip: String,
    pub host_port: String,
}

fn range(s: &str) -> Result<(u16, u16)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().with_context(|| format!("invalid port: {s}"))?;
    let b: u16 = b.parse().with_context(|| format!("invalid port: {s}"))?;
    if b < a {
        bail!("invalid range specified for port: {s}");
    }
    Ok((a, b))
}

/// Docker's `-p` grammar: `[ip:][hostPort:]containerPort[/proto]`, with
/// ranges (`8000-8001:80-81`, or a host range for one container port).
pub fn parse_publish(raw: &str) -> Result<Vec<Publish>> {
    let (spec, proto) = match raw.rsplit_once('/') {
        Some((s, p)) => (s, p.to_ascii_lowercase()),
        None => (raw, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp") {
        bail!("invalid proto: {proto}");
    }
    // An IPv6 host address is bracketed: [::1]:80:80.
    let (ip, rest) = if let Some(r) = spec.strip_prefix('[') {
        let (ip, rest) = r.split_once("]:").context("invalid IP address")?;
        (ip.to_string(), rest.to_string())
    } else {
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.as_slice() {
            [c] => (String::new(), c.to_string()),
            [h, c] => (String::new(), format!("{h}:{c}")),
            [ip, h, c] => (ip.to_string(), format!("{h}:{c}")),
            _ => bail!("invalid port format for --publish: {raw}"),
        }
    };
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        bail!("invalid IP address: {ip}");
    }
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h.to_string(), c.to_string()),
        None => (String::new(), rest.clone()),
    };
    if container.is_empty() {
        bail!("no port specified: {raw}<empty>");
    }
    let (c1, c2) = range(&container)?;
    if c1 == 0 {
        bail!("invalid containerPort: {container}");
    }
    let n = (c2 - c1) as usize + 1;
    let mut out = Vec::new();
    if host.is_empty() {
        for p in c1..=c2 {
            out.push(Publish {
                key: format!("{p}/{proto}"),
                host_ip: ip.clone(),
                host_port: String::new(),
            });
        }
        return Ok(out);
    }
    let (h1, h2) = range(&host)?;
    let hn = (h2 - h1) as usize + 1;
    if n == 1 {
        out.push(Publish {
            key: format!("{c1}/{proto}"),
            host_ip: ip,
            host_port: if hn == 1 {
                h1.to_string()
            } else {
                format!("{h1}-{h2}")
            },
        });
        return Ok(out);
    }
    if hn != n {
        bail!("invalid ranges specified for container and host Ports: {container} and {host}");
    }
    for i in 0..n {
        out.push(Publish {
            key: format!("{}/{proto}", c1 + i as u16),
            host_ip: ip.clone(),
            host_port: (h1 + i as u16).to_string(),
        });
    }
    Ok(out)
}

impl NetFlags {
    /// Puts the flags into a create body and its `HostConfig`.
    pub fn apply(
        &self,
        body: &mut ContainerCreateBody,
        h: &mut HostConfig,
        network: Option<&str>,
    ) -> Result<()> {
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        let mut exposed: Vec<String> = Vec::new();
        for p in &self.publish {
            for b in parse_publish(p)? {
                exposed.push(b.key.clone());
                let list = bindings
                    .entry(b.key)
                    .or_default()
                    .get_or_insert_with(Vec::new);
                list.push(PortBinding {
                    host_ip: Some(b.host_ip),
                    host_port: Some(b.host_port),
                });
            }
        }
        for e in &self.expose {
            let (ports, proto) = e.split_once('/').unwrap_or((e, "tcp"));
            let (a, b) = range(ports)?;
            exposed.extend((a..=b).map(|p| format!("{p}/{proto}")));
        }
        exposed.sort();
        exposed.dedup();
        body.exposed_ports = Some(exposed);
        h.port_bindings = Some(bindings);
        h.publish_all_ports = Some(self.publish_all);
        h.dns = Some(self.dns.clone());
        h.dns_search = Some(self.dns_search.clone());
        h.dns_options = Some(self.dns_option.clone());
        h.extra_hosts = Some(self.add_host.clone());
        h.tmpfs = Some(
            self.tmpfs
                .iter()
                .map(|t| match t.split_once(':') {
                    Some((p, o)) => (p.to_string(), o.to_string()),
                    None => (t.clone(), String::new()),
                })
                .collect(),
        );
        h.volumes_from = Some(self.volumes_from.clone());
        if !self.link.is_empty() {
            h.links = Some(self.link.clone());
        }
        h.mounts = Some(
            self.mount
                .iter()
                .map(|m| mount_object(m))
                .collect::<Result<_>>()?,
        );
        if let Some(mac) = &self.mac_address {
            netd::link::parse_mac(mac).map_err(|e| anyhow::anyhow!(e))?;
        }
        if !self.network_alias.is_empty()
            || self.ip.is_some()
            || self.ip6.is_some()
            || self.mac_address.is_some()
        {
            let net = network.unwrap_or("bridge").to_string();
            let mut ep = endpoint(&self.network_alias, self.ip.as_deref(), self.ip6.as_deref())?;
            ep.mac_address = self.mac_address.clone();
            body.networking_config = Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(net, ep)])),
            });
        }
        Ok(())
    }
}

/// An endpoint's settings from `--network-alias`/`--alias`, `--ip` and
/// `--ip6` (`run` and `network connect`).
pub fn endpoint(
    aliases: &[String],
    ip: Option<&str>,
    ip6: Option<&str>,
) -> Result<EndpointSettings> {
    Ok(EndpointSettings {
        aliases: Some(aliases.to_vec()),
        ipam_config: endpoint_ipam(ip, ip6)?,
        ..Default::default()
    })
}

/// `--ip`/`--ip6` as an endpoint's `IPAMConfig`, each checked for its
/// family as docker/cli does (`--ip6 172.30.0.2` is an error).
fn endpoint_ipam(ip: Option<&str>, ip6: Option<&str>) -> Result<Option<EndpointIpamConfig>> {
    if let Some(ip) = ip {
        ip.parse::<std::net::Ipv4Addr>()
            .with_context(|| format!("invalid IPv4 address: {ip}"))?;
    }
    if let Some(ip) = ip6 {
        ip.parse::<std::net::Ipv6Addr>()
            .with_context(|| format!("invalid IPv6 address: {ip}"))?;
    }
    Ok((ip.is_some() || ip6.is_some()).then(|| EndpointIpamConfig {
        ipv4_address: ip.map(String::from),
        ipv6_address: ip6.map(String::from),
        link_local_ips: None,
    }))
}

/// `--mount type=…,source=…,target=…` → the API's mount object. The
/// daemon checks it again with the same grammar.
fn mount_object(raw: &str) -> Result<Mount> {
    let mut m = Mount {
        typ: Some(MountType::VOLUME),
        ..Default::default()
    };
    let mut bind = MountBindOptions::default();
    let mut vol = MountVolumeOptions::default();
    let mut tmpfs = MountTmpfsOptions::default();
    let truthy = |v: &str| matches!(v, "" | "1" | "true");
    for field in raw.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        let k = k.trim().to_ascii_lowercase();
        match k.as_str() {
            "type" => {
                let t = v.to_ascii_lowercase().parse().ok();
                m.typ = Some(t.with_context(|| format!("invalid mount type '{v}'"))?);
            }
            "source" | "src" => m.source = Some(v.into()),
            "target" | "destination" | "dst" => m.target = Some(v.into()),
            "readonly" | "ro" => m.read_only = Some(truthy(v)),
            "bind-propagation" => {
                let p = v.parse().ok();
                bind.propagation =
                    Some(p.with_context(|| format!("invalid bind-propagation '{v}'"))?);
            }
            "bind-nonrecursive" => bind.non_recursive = Some(v == "true" || v == "1"),
            "volume-nocopy" => vol.no_copy = Some(truthy(v)),
            "volume-label" => {
                let (lk, lv) = v.split_once('=').unwrap_or((v, ""));
                vol.labels
                    .get_or_insert_with(HashMap::new)
                    .insert(lk.into(), lv.into());
            }
            "volume-opt" => {
                let (ok, ov) = v.split_once('=').unwrap_or((v, ""));
                let d = vol
                    .driver_config
                    .get_or_insert_with(|| MountVolumeOptionsDriverConfig {
                        name: Some("local".into()),
                        options: Some(HashMap::new()),
                    });
                d.options
                    .get_or_insert_with(HashMap::new)
                    .insert(ok.into(), ov.into());
            }
            "tmpfs-size" => {
                let bytes = rrun_units::ram_in_bytes(v)
                    .with_context(|| format!("invalid tmpfs-size: {v}"))?;
                tmpfs.size_bytes = Some(bytes);
            }
            "tmpfs-mode" => {
                let mode = u32::from_str_radix(v, 8)
                    .with_context(|| format!("invalid tmpfs-mode: {v}"))?;
                tmpfs.mode = Some(mode.into());
            }
            _ => bail!("invalid field '{k}' must be a key=value pair"),
        }
    }
    m.bind_options = (bind != MountBindOptions::default()).then_some(bind);
    m.volume_options = (vol != MountVolumeOptions::default()).then_some(vol);
    m.tmpfs_options = (tmpfs != MountTmpfsOptions::default()).then_some(tmpfs);
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(key: &str, ip: &str, hp: &str) -> Publish {
        Publish {
            key: key.into(),
            host_ip: ip.into(),
            host_port: hp.into(),
        }
    }

    #[test]
    fn publish_follows_docker() {
        assert_eq!(parse_publish("80").unwrap(), vec![p("80/tcp", "", "")]);
        assert_eq!(
            parse_publish("8080:80").unwrap(),
            vec![p("80/tcp", "", "8080")]
        );
        assert_eq!(
            parse_publish("127.0.0.1:8080:80/udp").unwrap(),
            vec![p("80/udp", "127.0.0.1", "8080")]
        );
        assert_eq!(
            parse_publish("127.0.0.1::80").unwrap(),
            vec![p("80/tcp", "127.0.0.1", "")]
        );
        assert_eq!(
            parse_publish("8000-8001:80-81").unwrap(),
            vec![p("80/tcp", "", "8000"), p("81/tcp", "", "8001")]
        );
        assert_eq!(
            parse_publish("8000-8010:80").unwrap(),
            vec![p("80/tcp", "", "8000-8010")]
        );
        assert!(parse_publish("8000-8002:80-81").is_err());
        assert!(parse_publish("a:b").is_err());
        assert!(parse_publish("80/sctp").is_err());
        assert!(parse_publish("1.2.3:80:80").is_err());
    }

    #[test]
    fn publish_takes_bracketed_ipv6_hosts() {
        assert_eq!(
            parse_publish("[::1]:8080:80").unwrap(),
            vec![p("80/tcp", "::1", "8080")]
        );
        assert_eq!(
            parse_publish("[::]:8080:80").unwrap(),
            vec![p("80/tcp", "::", "8080")]
        );
        assert_eq!(
            parse_publish("[2001:db8::1]:8080:80/udp").unwrap(),
            vec![p("80/udp", "2001:db8::1", "8080")]
        );
        assert_eq!(
            parse_publish("[::1]::80").unwrap(),
            vec![p("80/tcp", "::1", "")]
        );
        assert!(parse_publish("[::1:8080:80").is_err());
        assert!(parse_publish("[fd00::zz]:8080:80").is_err());
    }

    #[test]
    fn ipv6_flags_become_the_create_body() {
        let f = NetFlags {
            ip6: Some("fd00:1::42".into()),
            publish: vec!["[::1]:8080:80".into()],
            ..Default::default()
        };
        let (mut b, mut h) = (ContainerCreateBody::default(), HostConfig::default());
        f.apply(&mut b, &mut h, Some("v6net")).unwrap();
        b.host_config = Some(h.clone());
        let body = serde_json::to_value(&b).unwrap();
        assert_eq!(
            body["NetworkingConfig"]["EndpointsConfig"]["v6net"]["IPAMConfig"],
            json!({"IPv6Address": "fd00:1::42"})
        );
        assert_eq!(
            body["HostConfig"]["PortBindings"]["80/tcp"],
            json!([{"HostIp": "::1", "HostPort": "8080"}])
        );
        let f = NetFlags {
            ip6: Some("172.30.0.2".into()),
            ..Default::default()
        };
        assert!(f.apply(&mut b, &mut h, None).is_err());
    }

    #[test]
    fn mounts_become_api_objects() {
        let json = |m: Mount| serde_json::to_value(m).unwrap();
        let m = json(mount_object("type=volume,source=data,target=/data,readonly").unwrap());
        assert_eq!(m["Source"], "data");
        assert_eq!(m["ReadOnly"], true);
        let t = json(mount_object("type=tmpfs,dst=/run,tmpfs-size=64m").unwrap());
        assert_eq!(t["TmpfsOptions"]["SizeBytes"], 64 << 20);
        assert!(mount_object("type=bind,bogus=1").is_err());
    }
}
