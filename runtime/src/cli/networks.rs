//! `rrun network …`.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde::Serialize;

use crate::apimodel::models::{
    Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse,
    NetworkDisconnectRequest, NetworkPruneResponse, NetworkSummary,
};
use crate::apimodel::query::FiltersQuery;
use crate::apimodel::Filters;

use super::client::{enc, url, ApiError, Client};
use super::format::{
    confirm, go_time, kv, labels_text, list_format, print_inspected, print_rows, rows_of, short_id,
};
use super::netflags::endpoint;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
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
        /// Auxiliary IPv4 or IPv6 addresses used by Network driver (name=ip).
        #[arg(long = "aux-address")]
        aux_address: Vec<String>,
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
        /// Provide filter values (e.g. `until=<timestamp>`, `label=k=v`).
        #[arg(long = "filter")]
        filter: Vec<String>,
    },
}

/// `network create`'s repeatable `--subnet`, `--gateway` and `--ip-range`
/// as `IPAM.Config`, as docker/cli pairs them: one entry per subnet, each
/// gateway and range in the entry of the subnet holding it.
pub fn ipam_configs(
    subnets: &[String],
    gateways: &[String],
    ranges: &[String],
) -> Result<Vec<IpamConfig>> {
    use ipnet::IpNet;
    use std::net::IpAddr;
    if subnets.len() < gateways.len() || subnets.len() < ranges.len() {
        bail!("every ip-range or gateway must have a corresponding subnet");
    }
    let mut nets: Vec<(IpNet, IpamConfig)> = Vec::new();
    for s in subnets {
        let net: IpNet = s.parse().with_context(|| format!("invalid subnet: {s}"))?;
        if nets
            .iter()
            .any(|(n, _)| n.contains(&net.network()) || net.contains(&n.network()))
        {
            bail!("multiple overlapping subnet configuration is not supported");
        }
        let c = IpamConfig {
            subnet: Some(s.clone()),
            ..Default::default()
        };
        nets.push((net, c));
    }
    for r in ranges {
        let range: IpNet = r
            .parse()
            .with_context(|| format!("invalid ip-range: {r}"))?;
        let (subnet, c) = nets
            .iter_mut()
            .find(|(n, _)| n.contains(&range))
            .with_context(|| format!("no matching subnet for range {r}"))?;
        if let Some(old) = &c.ip_range {
            bail!("cannot configure multiple ranges ({r}, {old}) on the same subnet ({subnet})");
        }
        c.ip_range = Some(r.clone());
    }
    for g in gateways {
        let gw: IpAddr = g.parse().with_context(|| format!("invalid gateway: {g}"))?;
        let (subnet, c) = nets
            .iter_mut()
            .find(|(n, _)| n.contains(&gw))
            .with_context(|| format!("no matching subnet for gateway {g}"))?;
        if let Some(old) = &c.gateway {
            bail!("cannot configure multiple gateways ({g}, {old}) for the same subnet ({subnet})");
        }
        c.gateway = Some(g.clone());
    }
    Ok(nets.into_iter().map(|(_, c)| c).collect())
}

/// `--aux-address name=ip`s, each in the entry of the subnet holding it.
fn with_aux_addresses(mut configs: Vec<IpamConfig>, aux: &[String]) -> Result<Vec<IpamConfig>> {
    use std::net::IpAddr;
    for a in aux {
        let (name, ip) = a
            .split_once('=')
            .with_context(|| format!("invalid aux-address {a}: use name=ip"))?;
        let addr: IpAddr = ip
            .parse()
            .with_context(|| format!("invalid aux-address {a}: {ip} is not an IP address"))?;
        let entry = configs
            .iter_mut()
            .find(|c| {
                c.subnet
                    .as_deref()
                    .and_then(|s| s.parse::<ipnet::IpNet>().ok())
                    .is_some_and(|n| n.contains(&addr))
            })
            .with_context(|| format!("no matching subnet for aux-address {ip}"))?;
        entry
            .auxiliary_addresses
            .get_or_insert_with(Default::default)
            .insert(name.to_string(), ip.to_string());
    }
    Ok(configs)
}

pub fn network(c: &Client, cmd: NetworkCmd) -> Result<i32> {
    match cmd {
        NetworkCmd::Create {
            driver,
            subnet,
            gateway,
            ip_range,
            aux_address,
            internal,
            ipv6,
            attachable: _,
            label,
            opt,
            name,
        } => {
            let body = NetworkCreateRequest {
                name,
                driver: Some(driver),
                internal: Some(internal),
                enable_ipv6: Some(ipv6),
                ipam: Some(Ipam {
                    driver: Some("default".into()),
                    config: Some(with_aux_addresses(
                        ipam_configs(&subnet, &gateway, &ip_range)?,
                        &aux_address,
                    )?),
                    options: None,
                }),
                labels: Some(kv(&label)),
                options: Some(kv(&opt)),
                ..Default::default()
            };
            let v: NetworkCreateResponse = c.post_json("/networks/create", &body)?.json()?;
            println!("{}", v.id);
            Ok(0)
        }
        NetworkCmd::Ls {
            quiet,
            no_trunc,
            filter,
            format,
        } => ls(c, quiet, no_trunc, &filter, format.as_deref()),
        NetworkCmd::Inspect { networks, format } => {
            print_inspected(&networks, format.as_deref(), |n| {
                c.get_raw(&format!("/networks/{}", enc(n)))
            })
        }
        NetworkCmd::Rm { force, networks } => rm(c, force, &networks),
        NetworkCmd::Connect {
            alias,
            ip,
            ip6,
            network,
            container,
        } => {
            let body = NetworkConnectRequest {
                container,
                endpoint_config: Some(endpoint(&alias, ip.as_deref(), ip6.as_deref())?),
            };
            c.post_json(&format!("/networks/{}/connect", enc(&network)), &body)?;
            Ok(0)
        }
        NetworkCmd::Disconnect {
            force,
            network,
            container,
        } => {
            let body = NetworkDisconnectRequest {
                container,
                force: Some(force),
            };
            c.post_json(&format!("/networks/{}/disconnect", enc(&network)), &body)?;
            Ok(0)
        }
        NetworkCmd::Prune { force, filter } => prune(c, force, &filter),
    }
}

/// One `network ls` row: the fields a `--format` template sees (Docker's
/// names, as strings).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkRow {
    #[serde(rename = "ID")]
    id: String,
    name: String,
    driver: String,
    scope: String,
    #[serde(rename = "IPv6")]
    ipv6: String,
    internal: String,
    labels: String,
    created_at: String,
}

impl NetworkRow {
    fn new(n: &NetworkSummary, no_trunc: bool) -> NetworkRow {
        let s = |f: &Option<String>| f.clone().unwrap_or_default();
        NetworkRow {
            id: short_id(n.id.as_deref().unwrap_or_default(), no_trunc),
            name: s(&n.name),
            driver: s(&n.driver),
            scope: s(&n.scope),
            ipv6: n.enable_ipv6.unwrap_or(false).to_string(),
            internal: n.internal.unwrap_or(false).to_string(),
            labels: labels_text(n.labels.as_ref()),
            created_at: n.created.as_deref().map(go_time).unwrap_or_default(),
        }
    }
}

const NETWORK_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

const NETWORK_HEADERS: &[(&str, &str)] = &[
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("CreatedAt", "CREATED AT"),
];

/// `rrun network ls`: sorted by name.
fn ls(
    c: &Client,
    quiet: bool,
    no_trunc: bool,
    filter: &[String],
    format: Option<&str>,
) -> Result<i32> {
    let format = list_format(format, NETWORK_TABLE)?;
    let q = FiltersQuery {
        filters: Filters::from_flags(filter)?,
    };
    let mut nets: Vec<NetworkSummary> = c.get(&url("/networks", &q)?)?;
    nets.sort_by(|a, b| a.name.cmp(&b.name));
    if quiet {
        let id = |n: &NetworkSummary| short_id(n.id.as_deref().unwrap_or_default(), no_trunc);
        nets.iter().for_each(|n| println!("{}", id(n)));
        return Ok(0);
    }
    let rows: Vec<NetworkRow> = nets.iter().map(|n| NetworkRow::new(n, no_trunc)).collect();
    print_rows(&format, &rows_of(&rows)?, NETWORK_HEADERS)?;
    Ok(0)
}

/// `rrun network rm`; with `-f`, a missing network is no error.
fn rm(c: &Client, force: bool, networks: &[String]) -> Result<i32> {
    let mut failed = false;
    for n in networks {
        match c.request("DELETE", &format!("/networks/{}", enc(n)), None) {
            Ok(_) => println!("{n}"),
            Err(e) => {
                let missing = e
                    .downcast_ref::<ApiError>()
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

fn prune(c: &Client, force: bool, filter: &[String]) -> Result<i32> {
    if !confirm(
        force,
        "all custom networks not used by at least one container",
    )? {
        return Ok(0);
    }
    let q = FiltersQuery {
        filters: Filters::from_flags(filter)?,
    };
    let v: NetworkPruneResponse = c.post(&url("/networks/prune", &q)?)?.json()?;
    let gone = v.networks_deleted.unwrap_or_default();
    if !gone.is_empty() {
        println!("Deleted Networks:");
        gone.iter().for_each(|n| println!("{n}"));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
            serde_json::to_value(c).unwrap(),
            json!([
                json!({"Subnet": "172.30.0.0/16", "Gateway": "172.30.0.1"}),
                json!({"Subnet": "fd00:abcd::/64", "Gateway": "fd00:abcd::1", "IPRange": "fd00:abcd::/80"}),
            ])
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
}
