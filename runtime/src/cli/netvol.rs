//! `rrun network …`, `rrun volume …`, and the networking and mount flags
//! of `rrun run`/`create` (`-p`, `--network-alias`, `--mount`, …) as the
//! docker CLI turns them into the API's create body.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::client::{enc, Client};
use super::{filters_json, table};

/// Networking and mount flags of `run` and `create`.
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

/// Adds the flags' fields to a create body.
pub fn apply(body: &mut Value, f: &NetFlags, network: Option<&str>) -> Result<()> {
    let mut bindings: Map<String, Value> = Map::new();
    let mut exposed: Map<String, Value> = Map::new();
    for p in &f.publish {
        for b in parse_publish(p)? {
            exposed.insert(b.key.clone(), json!({}));
            let list = bindings.entry(b.key).or_insert_with(|| json!([]));
            list.as_array_mut()
                .expect("array")
                .push(json!({"HostIp": b.host_ip, "HostPort": b.host_port}));
        }
    }
    for e in &f.expose {
        let (ports, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        let (a, b) = range(ports)?;
        for p in a..=b {
            exposed.insert(format!("{p}/{proto}"), json!({}));
        }
    }
    body["ExposedPorts"] = Value::Object(exposed);
    let h = &mut body["HostConfig"];
    h["PortBindings"] = Value::Object(bindings);
    h["PublishAllPorts"] = json!(f.publish_all);
    h["Dns"] = json!(f.dns);
    h["DnsSearch"] = json!(f.dns_search);
    h["DnsOptions"] = json!(f.dns_option);
    h["ExtraHosts"] = json!(f.add_host);
    h["Tmpfs"] = Value::Object(
        f.tmpfs
            .iter()
            .map(|t| match t.split_once(':') {
                Some((p, o)) => (p.to_string(), json!(o)),
                None => (t.clone(), json!("")),
            })
            .collect(),
    );
    h["VolumesFrom"] = json!(f.volumes_from);
    h["Mounts"] = Value::Array(
        f.mount
            .iter()
            .map(|m| mount_object(m))
            .collect::<Result<_>>()?,
    );
    if !f.network_alias.is_empty() || f.ip.is_some() || f.ip6.is_some() {
        let net = network.unwrap_or("bridge").to_string();
        let mut ep = json!({"Aliases": f.network_alias});
        if let Some(ipam) = endpoint_ipam(f.ip.as_deref(), f.ip6.as_deref())? {
            ep["IPAMConfig"] = ipam;
        }
        body["NetworkingConfig"] = json!({"EndpointsConfig": {net: ep}});
    }
    Ok(())
}

/// `--ip`/`--ip6` as an endpoint's `IPAMConfig`, each checked for its
/// family as docker/cli does (`--ip6 172.30.0.2` is an error).
fn endpoint_ipam(ip: Option<&str>, ip6: Option<&str>) -> Result<Option<Value>> {
    let mut m = Map::new();
    if let Some(ip) = ip {
        ip.parse::<std::net::Ipv4Addr>()
            .with_context(|| format!("invalid IPv4 address: {ip}"))?;
        m.insert("IPv4Address".into(), json!(ip));
    }
    if let Some(ip) = ip6 {
        ip.parse::<std::net::Ipv6Addr>()
            .with_context(|| format!("invalid IPv6 address: {ip}"))?;
        m.insert("IPv6Address".into(), json!(ip));
    }
    Ok((!m.is_empty()).then_some(Value::Object(m)))
}

/// `network create`'s repeatable `--subnet`, `--gateway` and `--ip-range`
/// as `IPAM.Config`, as docker/cli pairs them: one entry per subnet, each
/// gateway and range in the entry of the subnet holding it.
pub fn ipam_configs(
    subnets: &[String],
    gateways: &[String],
    ranges: &[String],
) -> Result<Vec<Value>> {
    use ipnet::IpNet;
    use std::net::IpAddr;
    if subnets.len() < gateways.len() || subnets.len() < ranges.len() {
        bail!("every ip-range or gateway must have a corresponding subnet");
    }
    let mut nets: Vec<(IpNet, Map<String, Value>)> = Vec::new();
    for s in subnets {
        let net: IpNet = s.parse().with_context(|| format!("invalid subnet: {s}"))?;
        if nets
            .iter()
            .any(|(n, _)| n.contains(&net.network()) || net.contains(&n.network()))
        {
            bail!("multiple overlapping subnet configuration is not supported");
        }
        let mut m = Map::new();
        m.insert("Subnet".into(), json!(s));
        nets.push((net, m));
    }
    for r in ranges {
        let range: IpNet = r
            .parse()
            .with_context(|| format!("invalid ip-range: {r}"))?;
        let (subnet, m) = nets
            .iter_mut()
            .find(|(n, _)| n.contains(&range))
            .with_context(|| format!("no matching subnet for range {r}"))?;
        if let Some(old) = m.get("IPRange") {
            bail!(
                "cannot configure multiple ranges ({r}, {}) on the same subnet ({subnet})",
                old.as_str().unwrap_or_default()
            );
        }
        m.insert("IPRange".into(), json!(r));
    }
    for g in gateways {
        let gw: IpAddr = g.parse().with_context(|| format!("invalid gateway: {g}"))?;
        let (subnet, m) = nets
            .iter_mut()
            .find(|(n, _)| n.contains(&gw))
            .with_context(|| format!("no matching subnet for gateway {g}"))?;
        if let Some(old) = m.get("Gateway") {
            bail!(
                "cannot configure multiple gateways ({g}, {}) for the same subnet ({subnet})",
                old.as_str().unwrap_or_default()
            );
        }
        m.insert("Gateway".into(), json!(g));
    }
    Ok(nets.into_iter().map(|(_, m)| Value::Object(m)).collect())
}

/// `--mount type=…,source=…,target=…` → the API's mount object. The
/// daemon checks it again with the same grammar.
fn mount_object(raw: &str) -> Result<Value> {
    let mut m = json!({"Type": "volume"});
    let mut bind = Map::new();
    let mut vol = Map::new();
    let mut vol_labels = Map::new();
    let mut vol_opts = Map::new();
    let mut tmpfs = Map::new();
    for field in raw.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        let k = k.trim().to_ascii_lowercase();
        match k.as_str() {
            "type" => m["Type"] = json!(v),
            "source" | "src" => m["Source"] = json!(v),
            "target" | "destination" | "dst" => m["Target"] = json!(v),
            "readonly" | "ro" => {
                m["ReadOnly"] = json!(matches!(v, "" | "1" | "true"));
            }
            "bind-propagation" => {
                bind.insert("Propagation".into(), json!(v));
            }
            "bind-nonrecursive" => {
                bind.insert("NonRecursive".into(), json!(v == "true" || v == "1"));
            }
            "volume-nocopy" => {
                vol.insert("NoCopy".into(), json!(matches!(v, "" | "1" | "true")));
            }
            "volume-label" => {
                let (lk, lv) = v.split_once('=').unwrap_or((v, ""));
                vol_labels.insert(lk.into(), json!(lv));
            }
            "volume-opt" => {
                let (ok, ov) = v.split_once('=').unwrap_or((v, ""));
                vol_opts.insert(ok.into(), json!(ov));
            }
            "tmpfs-size" => {
                let bytes = rrun_units::ram_in_bytes(v)
                    .with_context(|| format!("invalid tmpfs-size: {v}"))?;
                tmpfs.insert("SizeBytes".into(), json!(bytes));
            }
            "tmpfs-mode" => {
                let mode = u32::from_str_radix(v, 8)
                    .with_context(|| format!("invalid tmpfs-mode: {v}"))?;
                tmpfs.insert("Mode".into(), json!(mode));
            }
            _ => bail!("invalid field '{k}' must be a key=value pair"),
        }
    }
    if !bind.is_empty() {
        m["BindOptions"] = Value::Object(bind);
    }
    if !vol_labels.is_empty() {
        vol.insert("Labels".into(), Value::Object(vol_labels));
    }
    if !vol_opts.is_empty() {
        vol.insert(
            "DriverConfig".into(),
            json!({"Name": "local", "Options": vol_opts}),
        );
    }
    if !vol.is_empty() {
        m["VolumeOptions"] = Value::Object(vol);
    }
    if !tmpfs.is_empty() {
        m["TmpfsOptions"] = Value::Object(tmpfs);
    }
    Ok(m)
}

#[derive(Debug, Subcommand)]
pub enum NetworkCmd {
    /// Create a network.
    Create {
        /// Driver to manage the Network (bridge).
        #[arg(short, long, default_value = "bridge")]
        driver: String,
        /// Subnet in CIDR format that represents a network segment (one
        /// IPv4 and, with --ipv6, one IPv6).
        #[arg(long)]
        subnet: Vec<String>,
        /// IPv4 or IPv6 Gateway for the master subnet.
        #[arg(long)]
        gateway: Vec<String>,
        /// Allocate container ip from a sub-range.
        #[arg(long = "ip-range")]
        ip_range: Vec<String>,
        /// Restrict external access to the network.
        #[arg(long)]
        internal: bool,
        /// Enable IPv6 networking (an IPv6 --subnet, or a unique local /64).
        #[arg(long)]
        ipv6: bool,
        /// Enable manual container attachment (accepted; always true).
        #[arg(long)]
        attachable: bool,
        /// Set metadata on a network.
        #[arg(long)]
        label: Vec<String>,
        /// Set driver specific options.
        #[arg(short = 'o', long = "opt")]
        opt: Vec<String>,
        name: String,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls {
        #[arg(short, long)]
        quiet: bool,
        #[arg(long)]
        no_trunc: bool,
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        /// Format output using a template ('{{json .}}' or a Go-template of fields).
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more networks.
    Inspect {
        #[arg(required = true)]
        networks: Vec<String>,
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm {
        /// Do not error if the network does not exist.
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Connect a container to a network.
    Connect {
        /// Add network-scoped alias for the container.
        #[arg(long)]
        alias: Vec<String>,
        /// IPv4 address (e.g., 172.30.100.104).
        #[arg(long)]
        ip: Option<String>,
        /// IPv6 address (e.g., 2001:db8::33).
        #[arg(long)]
        ip6: Option<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network.
    Disconnect {
        #[arg(short, long)]
        force: bool,
        network: String,
        container: String,
    },
    /// Remove all unused networks.
    Prune {
        #[arg(short, long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum VolumeCmd {
    /// Create a volume.
    Create {
        #[arg(short, long, default_value = "local")]
        driver: String,
        #[arg(short = 'o', long = "opt")]
        opt: Vec<String>,
        #[arg(long)]
        label: Vec<String>,
        name: Option<String>,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        #[arg(short, long)]
        quiet: bool,
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more volumes.
    Inspect {
        #[arg(required = true)]
        volumes: Vec<String>,
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Remove one or more volumes.
    #[command(alias = "remove")]
    Rm {
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove unused local volumes.
    Prune {
        /// Remove all unused volumes, not just anonymous ones.
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        force: bool,
        #[arg(long = "filter")]
        filter: Vec<String>,
    },
}

fn kv(list: &[String]) -> Map<String, Value> {
    list.iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), json!(v)),
            None => (l.clone(), json!("")),
        })
        .collect()
}

/// `--format`: `{{json .}}`, `{{.Field}}`, `{{.A.B}}` and literal text.
pub fn format_value(tpl: &str, v: &Value) -> String {
    let mut out = String::new();
    let mut rest = tpl;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("}}") else {
            out.push_str(&rest[i..]);
            return out;
        };
        let expr = rest[i + 2..i + j].trim();
        rest = &rest[i + j + 2..];
        let (json_out, path) = match expr.strip_prefix("json ") {
            Some(p) => (true, p.trim()),
            None => (false, expr),
        };
        let mut cur = v;
        for part in path
            .trim_start_matches('.')
            .split('.')
            .filter(|p| !p.is_empty())
        {
            cur = &cur[part];
        }
        if json_out {
            out.push_str(&cur.to_string());
        } else {
            match cur {
                Value::String(s) => out.push_str(s),
                Value::Null => out.push_str("<no value>"),
                other => out.push_str(&other.to_string()),
            }
        }
    }
    out.push_str(rest);
    out.replace("\\t", "\t").replace("\\n", "\n")
}

pub fn confirm(force: bool, what: &str) -> Result<bool> {
    if force {
        return Ok(true);
    }
    eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

pub fn network(c: &Client, cmd: NetworkCmd) -> Result<i32> {
    match cmd {
        NetworkCmd::Create {
            driver,
            subnet,
            gateway,
            ip_range,
            internal,
            ipv6,
            attachable: _,
            label,
            opt,
            name,
        } => {
            let ipam = json!({
                "Driver": "default",
                "Config": ipam_configs(&subnet, &gateway, &ip_range)?,
            });
            let body = json!({
                "Name": name, "Driver": driver, "Internal": internal, "EnableIPv6": ipv6,
                "IPAM": ipam, "Labels": kv(&label), "Options": kv(&opt), "CheckDuplicate": true,
            });
            let v = c.post("/networks/create", Some(body))?.json()?;
            println!("{}", v["Id"].as_str().unwrap_or_default());
            Ok(0)
        }
        NetworkCmd::Ls {
            quiet,
            no_trunc,
            filter,
            format,
        } => {
            let filters = filters_json(&filter)?;
            let v = c.get(&format!("/networks?filters={}", enc(&filters)))?;
            let mut nets = v.as_array().cloned().unwrap_or_default();
            nets.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
            let id = |n: &Value| {
                let id = n["Id"].as_str().unwrap_or_default().to_string();
                if no_trunc {
                    id
                } else {
                    id.chars().take(12).collect()
                }
            };
            if quiet {
                for n in &nets {
                    println!("{}", id(n));
                }
                return Ok(0);
            }
            if let Some(f) = format {
                for n in &nets {
                    let mut row = n.clone();
                    row["ID"] = json!(id(n));
                    println!("{}", format_value(&f, &row));
                }
                return Ok(0);
            }
            let mut rows = vec![vec![
                "NETWORK ID".to_string(),
                "NAME".into(),
                "DRIVER".into(),
                "SCOPE".into(),
            ]];
            for n in &nets {
                rows.push(vec![
                    id(n),
                    n["Name"].as_str().unwrap_or_default().into(),
                    n["Driver"].as_str().unwrap_or_default().into(),
                    n["Scope"].as_str().unwrap_or_default().into(),
                ]);
            }
            print!("{}", table(&rows));
            Ok(0)
        }
        NetworkCmd::Inspect { networks, format } => {
            inspect_each(c, &networks, "/networks/", format.as_deref())
        }
        NetworkCmd::Rm { force, networks } => {
            let mut failed = false;
            for n in &networks {
                match c.request("DELETE", &format!("/networks/{}", enc(n)), None) {
                    Ok(_) => println!("{n}"),
                    Err(e) => {
                        let missing = e
                            .downcast_ref::<super::client::ApiError>()
                            .is_some_and(|a| a.status == 404);
                        if !(force && missing) {
                            eprintln!("{e:#}");
                            failed = true;
                        }
                    }
                }
            }
            Ok(if failed { 1 } else { 0 })
        }
        NetworkCmd::Connect {
            alias,
            ip,
            ip6,
            network,
            container,
        } => {
            let mut ep = json!({"Aliases": alias});
            if let Some(ipam) = endpoint_ipam(ip.as_deref(), ip6.as_deref())? {
                ep["IPAMConfig"] = ipam;
            }
            c.post(
                &format!("/networks/{}/connect", enc(&network)),
                Some(json!({"Container": container, "EndpointConfig": ep})),
            )?;
            Ok(0)
        }
        NetworkCmd::Disconnect {
            force,
            network,
            container,
        } => {
            c.post(
                &format!("/networks/{}/disconnect", enc(&network)),
                Some(json!({"Container": container, "Force": force})),
            )?;
            Ok(0)
        }
        NetworkCmd::Prune { force } => {
            if !confirm(
                force,
                "all custom networks not used by at least one container",
            )? {
                return Ok(0);
            }
            let v = c.post("/networks/prune", None)?.json()?;
            let gone = v["NetworksDeleted"].as_array().cloned().unwrap_or_default();
            if !gone.is_empty() {
                println!("Deleted Networks:");
                for n in gone {
                    println!("{}", n.as_str().unwrap_or_default());
                }
            }
            Ok(0)
        }
    }
}

/// `host:port`, an IPv6 host in brackets (Go's `net.JoinHostPort`).
pub fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `docker port`'s lines from `NetworkSettings.Ports`: every mapping as
/// `80/tcp -> 0.0.0.0:8080`, or only the host side of `private`'s
/// (`80` or `80/udp`); None when `private` is not published.
pub fn port_lines(ports: &Value, private: Option<&str>) -> Option<Vec<String>> {
    let bindings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                join_host_port(
                    b["HostIp"].as_str().unwrap_or_default(),
                    b["HostPort"].as_str().unwrap_or_default(),
                )
            })
            .collect()
    };
    let Some(private) = private else {
        let mut keys: Vec<(&String, &Value)> = ports.as_object().into_iter().flatten().collect();
        // By port number, then protocol (docker/cli sorts naturally).
        keys.sort_by_key(|(k, _)| {
            let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
            (port.parse::<u32>().unwrap_or(u32::MAX), proto.to_string())
        });
        let lines = keys
            .into_iter()
            .flat_map(|(k, v)| bindings(v).into_iter().map(move |h| format!("{k} -> {h}")))
            .collect();
        return Some(lines);
    };
    let key = if private.contains('/') {
        private.to_string()
    } else {
        format!("{private}/tcp")
    };
    let lines = bindings(&ports[&key]);
    (!lines.is_empty()).then_some(lines)
}

/// `rrun port CONTAINER [PRIVATE_PORT[/PROTO]]`.
pub fn port(c: &Client, container: &str, private: Option<&str>) -> Result<i32> {
    let v = c.get(&format!("/containers/{}/json", enc(container)))?;
    match port_lines(&v["NetworkSettings"]["Ports"], private) {
        Some(lines) => {
            for l in lines {
                println!("{l}");
            }
            Ok(0)
        }
        None => {
            let p = private.unwrap_or_default();
            let key = if p.contains('/') {
                p.to_string()
            } else {
                format!("{p}/tcp")
            };
            eprintln!("Error: No public port '{key}' published for {container}");
            Ok(1)
        }
    }
}

fn inspect_each(c: &Client, names: &[String], prefix: &str, format: Option<&str>) -> Result<i32> {
    let mut out = Vec::new();
    let mut failed = false;
    for n in names {
        match c.get(&format!("{prefix}{}", enc(n))) {
            Ok(v) => out.push(v),
            Err(e) => {
                eprintln!("{e:#}");
                failed = true;
            }
        }
    }
    match format {
        Some(f) => {
            for v in &out {
                println!("{}", format_value(f, v));
            }
        }
        None => println!("{}", serde_json::to_string_pretty(&Value::Array(out))?),
    }
    Ok(if failed { 1 } else { 0 })
}

pub fn volume(c: &Client, cmd: VolumeCmd) -> Result<i32> {
    match cmd {
        VolumeCmd::Create {
            driver,
            opt,
            label,
            name,
        } => {
            let body = json!({
                "Name": name.unwrap_or_default(), "Driver": driver,
                "DriverOpts": kv(&opt), "Labels": kv(&label),
            });
            let v = c.post("/volumes/create", Some(body))?.json()?;
            println!("{}", v["Name"].as_str().unwrap_or_default());
            Ok(0)
        }
        VolumeCmd::Ls {
            quiet,
            filter,
            format,
        } => {
            let filters = filters_json(&filter)?;
            let v = c.get(&format!("/volumes?filters={}", enc(&filters)))?;
            let mut vols = v["Volumes"].as_array().cloned().unwrap_or_default();
            vols.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
            if quiet {
                for v in &vols {
                    println!("{}", v["Name"].as_str().unwrap_or_default());
                }
                return Ok(0);
            }
            if let Some(f) = format {
                for v in &vols {
                    println!("{}", format_value(&f, v));
                }
                return Ok(0);
            }
            let mut rows = vec![vec!["DRIVER".to_string(), "VOLUME NAME".into()]];
            for v in &vols {
                rows.push(vec![
                    v["Driver"].as_str().unwrap_or_default().into(),
                    v["Name"].as_str().unwrap_or_default().into(),
                ]);
            }
            print!("{}", table(&rows));
            Ok(0)
        }
        VolumeCmd::Inspect { volumes, format } => {
            inspect_each(c, &volumes, "/volumes/", format.as_deref())
        }
        VolumeCmd::Rm { force, volumes } => {
            let mut failed = false;
            for n in &volumes {
                match c.request(
                    "DELETE",
                    &format!("/volumes/{}?force={force}", enc(n)),
                    None,
                ) {
                    Ok(_) => println!("{n}"),
                    Err(e) => {
                        eprintln!("{e:#}");
                        failed = true;
                    }
                }
            }
            Ok(if failed { 1 } else { 0 })
        }
        VolumeCmd::Prune { all, force, filter } => {
            let what = if all {
                "all local volumes not used by at least one container"
            } else {
                "all anonymous local volumes not used by at least one container"
            };
            if !confirm(force, what)? {
                return Ok(0);
            }
            let mut filter = filter;
            if all {
                filter.push("all=true".into());
            }
            let filters = filters_json(&filter)?;
            let v = c
                .post(&format!("/volumes/prune?filters={}", enc(&filters)), None)?
                .json()?;
            let gone = v["VolumesDeleted"].as_array().cloned().unwrap_or_default();
            if !gone.is_empty() {
                println!("Deleted Volumes:");
                for n in gone {
                    println!("{}", n.as_str().unwrap_or_default());
                }
                println!();
            }
            println!(
                "Total reclaimed space: {}",
                human_size(v["SpaceReclaimed"].as_u64().unwrap_or(0))
            );
            Ok(0)
        }
    }
}

/// Docker's `units.HumanSize` of a byte count.
pub fn human_size(b: u64) -> String {
    rrun_units::human_size(b as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut body = json!({"HostConfig": {}});
        apply(&mut body, &f, Some("v6net")).unwrap();
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
        assert!(apply(&mut body, &f, None).is_err());
    }

    #[test]
    fn subnets_gateways_and_ranges_pair_by_family() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let c = ipam_configs(
            &s(&["172.30.0.0/16", "fd00:abcd::/64"]),
            &s(&["fd00:abcd::1", "172.30.0.1"]),
            &s(&["fd00:abcd::/80"]),
        )
        .unwrap();
        assert_eq!(
            c,
            vec![
                json!({"Subnet": "172.30.0.0/16", "Gateway": "172.30.0.1"}),
                json!({"Subnet": "fd00:abcd::/64", "Gateway": "fd00:abcd::1", "IPRange": "fd00:abcd::/80"}),
            ]
        );
        assert!(ipam_configs(&[], &[], &[]).unwrap().is_empty());
        let err = |sub: &[&str], gw: &[&str], r: &[&str]| {
            ipam_configs(&s(sub), &s(gw), &s(r))
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[], &["10.0.0.1"], &[]).contains("corresponding subnet"));
        assert!(err(&["10.0.0.0/8", "10.1.0.0/16"], &[], &[]).contains("overlapping"));
        assert!(err(&["10.0.0.0/8"], &["fd00::1"], &[]).contains("no matching subnet for gateway"));
        assert!(
            err(&["fd00::/64", "10.0.0.0/8"], &["fd00::1", "fd00::2"], &[])
                .contains("multiple gateways")
        );
        assert!(err(&["fd00::/64"], &[], &["fd01::/80"]).contains("no matching subnet for range"));
    }

    #[test]
    fn port_lines_follow_docker_port() {
        let ports = json!({
            "443/tcp": null,
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
            "53/udp": [{"HostIp": "::1", "HostPort": "5353"}],
        });
        assert_eq!(
            port_lines(&ports, None).unwrap(),
            [
                "53/udp -> [::1]:5353",
                "80/tcp -> 0.0.0.0:8080",
                "80/tcp -> [::]:8080"
            ]
        );
        assert_eq!(
            port_lines(&ports, Some("80")).unwrap(),
            ["0.0.0.0:8080", "[::]:8080"]
        );
        assert_eq!(port_lines(&ports, Some("443")), None);
        assert_eq!(
            port_lines(&Value::Null, None).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn mounts_become_api_objects() {
        let m = mount_object("type=volume,source=data,target=/data,readonly").unwrap();
        assert_eq!(m["Source"], "data");
        assert_eq!(m["ReadOnly"], true);
        let t = mount_object("type=tmpfs,dst=/run,tmpfs-size=64m").unwrap();
        assert_eq!(t["TmpfsOptions"]["SizeBytes"], 64 << 20);
        assert!(mount_object("type=bind,bogus=1").is_err());
    }

    #[test]
    fn formats_render() {
        let v = json!({"Name": "n", "IPAM": {"Driver": "default"}});
        assert_eq!(format_value("{{.Name}}", &v), "n");
        assert_eq!(format_value("{{.IPAM.Driver}}/{{.Name}}", &v), "default/n");
        assert_eq!(
            format_value("{{json .IPAM}}", &v),
            r#"{"Driver":"default"}"#
        );
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1_500_000), "1.5MB");
        assert_eq!(human_size(1_035_900), "1.036MB");
        assert_eq!(human_size(123_456_789), "123.5MB");
    }
}
