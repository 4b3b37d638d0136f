//! `rrun ps`: Docker's columns, and the fields of `ps --format`.

use anyhow::Result;
use clap::Args;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::apimodel::models::{ContainerSummary, PortSummary};
use crate::apimodel::query::ListQuery;
use crate::apimodel::Filters;

use super::client::{url, Client};
use super::containers::join_host_port;
use super::format::{fail, print_rows, short_id};
use super::template::{Format, Reader};

#[derive(Debug, Args)]
// `rrun ps`'s flags.
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (name=, id=, status=, label=, ancestor=).
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a template ('table …', '{{json .}}', '{{.Names}}').
    #[arg(long)]
    pub format: Option<String>,
}

pub fn ps(c: &Client, a: &PsArgs) -> Result<i32> {
    // docker/cli's ps checks its template before listing, in these words.
    let format = Format::parse(
        a.format.as_deref().unwrap_or(PS_TABLE),
        Reader::List,
        PS_TABLE,
    )
    .map_err(|e| {
        fail(
            1,
            e.to_string()
                .replace("template parsing error", "failed to parse template"),
        )
    })?;
    let q = ListQuery {
        all: a.all,
        filters: Filters::from_flags(&a.filter)?,
    };
    let list: Vec<ContainerSummary> = c.get(&url("/containers/json", &q)?)?;
    if a.quiet {
        for v in &list {
            println!("{}", short_id(v.id.as_deref().unwrap_or(""), a.no_trunc));
        }
        return Ok(0);
    }
    let rows = list
        .iter()
        .map(|v| serde_json::to_value(PsRow::new(v, a.no_trunc)))
        .collect::<Result<Vec<Value>, _>>()?;
    print_rows(&format, &rows, PS_HEADERS)?;
    Ok(0)
}

/// Docker's `ps` NAMES cell: the names without their leading `/`, joined
/// with commas.
pub fn ps_names(names: &[String]) -> String {
    names
        .iter()
        .map(|x| x.trim_start_matches('/'))
        .collect::<Vec<_>>()
        .join(",")
}

/// Docker's `ps` COMMAND cell: quoted, cut to 20 characters with `…`.
pub fn ps_command(cmd: &str, no_trunc: bool) -> String {
    let cut = if !no_trunc && cmd.chars().count() > 20 {
        let s: String = cmd.chars().take(19).collect();
        format!("{s}…")
    } else {
        cmd.to_string()
    };
    format!("\"{cut}\"")
}

/// Docker's `ps` PORTS cell: `0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 443/tcp`.
pub fn ps_ports(ports: &[PortSummary]) -> String {
    let mut cells: Vec<String> = ports
        .iter()
        .map(|p| {
            let proto = match &p.typ {
                Some(t) if !t.as_ref().is_empty() => t.as_ref(),
                _ => "tcp",
            };
            let private = format!("{}/{proto}", p.private_port);
            match p.public_port {
                Some(public) => format!(
                    "{}->{private}",
                    join_host_port(p.ip.as_deref().unwrap_or("0.0.0.0"), public)
                ),
                None => private,
            }
        })
        .collect();
    cells.sort();
    cells.dedup();
    cells.join(", ")
}

/// One `ps` row: the fields a `--format` template sees (Docker's names,
/// as strings); the default table shows some of them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PsRow {
    #[serde(rename = "ID")]
    id: String,
    image: String,
    command: String,
    created_at: String,
    running_for: String,
    ports: String,
    state: String,
    status: String,
    size: String,
    names: String,
    labels: String,
    mounts: String,
    networks: String,
    local_volumes: String,
}

impl PsRow {
    pub fn new(v: &ContainerSummary, no_trunc: bool) -> PsRow {
        let now = chrono::Utc::now().timestamp();
        let created = v.created.unwrap_or(now);
        let labels: BTreeMap<&String, &String> = v.labels.iter().flatten().collect();
        let labels: Vec<String> = labels.iter().map(|(k, x)| format!("{k}={x}")).collect();
        let mut networks: Vec<&str> = v
            .network_settings
            .iter()
            .flat_map(|n| n.networks.iter().flatten())
            .map(|(k, _)| k.as_str())
            .collect();
        networks.sort();
        let mounts = v.mounts.as_deref().unwrap_or_default();
        let state = v.state.map(|s| s.as_ref().to_string());
        PsRow {
            id: short_id(v.id.as_deref().unwrap_or(""), no_trunc),
            image: v.image.clone().unwrap_or_default(),
            command: ps_command(v.command.as_deref().unwrap_or(""), no_trunc),
            created_at: chrono::DateTime::from_timestamp(created, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
                .unwrap_or_default(),
            running_for: format!("{} ago", rrun_units::human_duration_secs(now - created)),
            ports: ps_ports(v.ports.as_deref().unwrap_or_default()),
            state: state.unwrap_or_default(),
            status: v.status.clone().unwrap_or_default(),
            size: "0B".into(),
            names: ps_names(v.names.as_deref().unwrap_or_default()),
            labels: labels.join(","),
            mounts: mounts
                .iter()
                .filter_map(|m| m.name.as_deref().or(m.source.as_deref()))
                .collect::<Vec<_>>()
                .join(","),
            networks: networks.join(","),
            local_volumes: mounts
                .iter()
                .filter(|m| m.typ.as_deref() == Some("volume"))
                .count()
                .to_string(),
        }
    }
}

/// Docker's default `ps` table.
const PS_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

pub const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_ports_bracket_ipv6() {
        let ports: Vec<PortSummary> = serde_json::from_value(serde_json::json!([
            {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"PrivatePort": 443, "Type": "tcp"},
        ]))
        .unwrap();
        assert_eq!(
            ps_ports(&ports),
            "0.0.0.0:8080->80/tcp, 443/tcp, [::]:8080->80/tcp"
        );
    }

    #[test]
    fn ps_commands_are_cut_like_dockers() {
        assert_eq!(ps_command("echo hi", false), "\"echo hi\"");
        assert_eq!(
            ps_command("sh -c 'while true; do sleep 1; done'", false),
            "\"sh -c 'while true; …\""
        );
    }
}
