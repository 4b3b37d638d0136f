//! `rrun ps`: Docker's columns, and the fields of `ps --format`.

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use crate::apimodel::query::ListQuery;
use crate::apimodel::Filters;

use super::client::{url, Client};
use super::containers::join_host_port;
use super::format::{print_formatted, short_id, table};

#[derive(Debug, Args)]
/// `rrun ps`'s flags.
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
    let q = ListQuery {
        all: a.all,
        filters: Filters::from_flags(&a.filter)?,
    };
    let list: Vec<Value> = c.get(&url("/containers/json", &q)?)?;
    match &a.format {
        Some(f) if !a.quiet => {
            let rows: Vec<Value> = list.iter().map(|v| ps_fields(v, a.no_trunc)).collect();
            print_formatted(f, &rows, PS_HEADERS);
            Ok(0)
        }
        _ => ps_table(&list, a.quiet, a.no_trunc),
    }
}

/// Docker's `ps` NAMES cell: the names without their leading `/`, joined
/// with commas.
pub fn ps_names(names: &Value) -> String {
    names
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(|x| x.as_str())
                .map(|x| x.trim_start_matches('/'))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
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
pub fn ps_ports(ports: &Value) -> String {
    let mut cells: Vec<String> = ports
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let private = format!(
                        "{}/{}",
                        p["PrivatePort"],
                        p["Type"].as_str().unwrap_or("tcp")
                    );
                    match p["PublicPort"].as_u64() {
                        Some(public) => format!(
                            "{}->{private}",
                            join_host_port(p["IP"].as_str().unwrap_or("0.0.0.0"), public)
                        ),
                        None => private,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    cells.sort();
    cells.dedup();
    cells.join(", ")
}

fn ps_table(list: &[Value], quiet: bool, no_trunc: bool) -> Result<i32> {
    let short = |id: &str| short_id(id, no_trunc);
    if quiet {
        for v in list {
            println!("{}", short(v["Id"].as_str().unwrap_or("")));
        }
        return Ok(0);
    }
    let now = chrono::Utc::now().timestamp();
    let mut rows = vec![[
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    .map(String::from)
    .to_vec()];
    for v in list {
        let created = v["Created"].as_i64().unwrap_or(now);
        rows.push(vec![
            short(v["Id"].as_str().unwrap_or("")),
            v["Image"].as_str().unwrap_or("").to_string(),
            ps_command(v["Command"].as_str().unwrap_or(""), no_trunc),
            format!("{} ago", rrun_units::human_duration_secs(now - created)),
            v["Status"].as_str().unwrap_or("").to_string(),
            ps_ports(&v["Ports"]),
            ps_names(&v["Names"]),
        ]);
    }
    print!("{}", table(&rows));
    Ok(0)
}

/// The fields of `ps --format`: Docker's names, as strings.
pub fn ps_fields(v: &Value, no_trunc: bool) -> Value {
    let id = v["Id"].as_str().unwrap_or("");
    let now = chrono::Utc::now().timestamp();
    let created = v["Created"].as_i64().unwrap_or(now);
    let names = ps_names(&v["Names"]);
    let labels = v["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let networks = v["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let mounts = v["Mounts"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|x| x["Name"].as_str().or(x["Source"].as_str()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "ID": if no_trunc { id.to_string() } else { id.chars().take(12).collect() },
        "Image": v["Image"],
        "Command": ps_command(v["Command"].as_str().unwrap_or(""), no_trunc),
        "CreatedAt": chrono::DateTime::from_timestamp(created, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
            .unwrap_or_default(),
        "RunningFor": format!("{} ago", rrun_units::human_duration_secs(now - created)),
        "Ports": ps_ports(&v["Ports"]),
        "State": v["State"],
        "Status": v["Status"],
        "Size": "0B",
        "Names": names,
        "Labels": labels,
        "Mounts": mounts,
        "Networks": networks,
        "LocalVolumes": v["Mounts"].as_array().map(|m| m.iter().filter(|x| x["Type"] == "volume").count()).unwrap_or(0).to_string(),
    })
}

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
        let ports = json!([
            {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"PrivatePort": 443, "Type": "tcp"},
        ]);
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
