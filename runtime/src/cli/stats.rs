//! `rrun stats`: one sample per container, computed as Docker's CLI does.

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{json, Value};

use crate::apimodel::query::{ListQuery, StatsQuery};

use super::client::{enc, url, Client};
use super::format::{print_formatted, short_id};

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a template.
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

/// One `docker stats` row from a stats sample, as Docker's CLI computes it.
pub fn stats_row(v: &Value, no_trunc: bool) -> Value {
    let id = v["id"].as_str().unwrap_or("");
    let id = short_id(id, no_trunc);
    let f = |p: &Value| p.as_f64().unwrap_or(0.0);
    let cpu = &v["cpu_stats"];
    let pre = &v["precpu_stats"];
    let cpu_delta = f(&cpu["cpu_usage"]["total_usage"]) - f(&pre["cpu_usage"]["total_usage"]);
    let sys_delta = f(&cpu["system_cpu_usage"]) - f(&pre["system_cpu_usage"]);
    let online = cpu["online_cpus"].as_f64().unwrap_or(1.0);
    let cpu_pct = if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    };
    let mem = &v["memory_stats"];
    let usage = f(&mem["usage"]);
    let inactive = mem["stats"]["total_inactive_file"]
        .as_f64()
        .or_else(|| mem["stats"]["inactive_file"].as_f64())
        .unwrap_or(0.0);
    let used = if inactive < usage {
        usage - inactive
    } else {
        usage
    };
    let limit = f(&mem["limit"]);
    let mem_pct = if limit > 0.0 {
        used / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    for n in v["networks"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        rx += f(&n["rx_bytes"]);
        tx += f(&n["tx_bytes"]);
    }
    let (mut rd, mut wr) = (0.0, 0.0);
    for b in v["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match b["op"].as_str().map(str::to_lowercase).as_deref() {
            Some("read") => rd += f(&b["value"]),
            Some("write") => wr += f(&b["value"]),
            _ => {}
        }
    }
    let name = v["name"].as_str().unwrap_or("").trim_start_matches('/');
    json!({
        "Container": id,
        "ID": id,
        "Name": name,
        "CPUPerc": format!("{cpu_pct:.2}%"),
        "MemUsage": format!("{} / {}", rrun_units::bytes_size(used), rrun_units::bytes_size(limit)),
        "MemPerc": format!("{mem_pct:.2}%"),
        "NetIO": format!("{} / {}", rrun_units::human_size_with_precision(rx, 3), rrun_units::human_size_with_precision(tx, 3)),
        "BlockIO": format!("{} / {}", rrun_units::human_size_with_precision(rd, 3), rrun_units::human_size_with_precision(wr, 3)),
        "PIDs": v["pids_stats"]["current"].as_u64().unwrap_or(0).to_string(),
    })
}

const STATS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

const STATS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

pub fn stats(c: &Client, a: &StatsArgs) -> Result<i32> {
    let names: Vec<String> = if a.containers.is_empty() {
        let q = ListQuery {
            all: a.all,
            ..Default::default()
        };
        let list: Vec<Value> = c.get(&url("/containers/json", &q)?)?;
        list.iter()
            .filter_map(|v| v["Id"].as_str().map(String::from))
            .collect()
    } else {
        a.containers.clone()
    };
    let tpl = a.format.clone().unwrap_or_else(|| STATS_TABLE.to_string());
    loop {
        // One sample per container, taken in parallel (each takes half a
        // second for its CPU delta).
        let paths: Vec<String> = names
            .iter()
            .map(|n| {
                url(
                    &format!("/containers/{}/stats", enc(n)),
                    &StatsQuery::default(),
                )
            })
            .collect::<Result<_>>()?;
        let samples: Vec<Result<Value>> = c.get_all(&paths);
        let mut rows = Vec::new();
        for (n, s) in names.iter().zip(samples) {
            match s {
                Ok(v) => rows.push(stats_row(&v, a.no_trunc)),
                Err(e) if !a.containers.is_empty() => {
                    return Err(e).with_context(|| format!("stats of {n}"));
                }
                Err(_) => {}
            }
        }
        if !a.no_stream {
            // Clear the screen, as Docker's live view does.
            print!("\x1b[2J\x1b[H");
        }
        print_formatted(&tpl, &rows, STATS_HEADERS);
        if a.no_stream {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_rows_compute_like_dockers_cli() {
        let v = json!({"id": "0123456789abcdef", "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 200}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 3 << 20, "limit": 100 << 20, "stats": {"inactive_file": 1 << 20}},
            "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 0}},
            "pids_stats": {"current": 3}});
        let r = stats_row(&v, false);
        assert_eq!(r["ID"], "0123456789ab");
        assert_eq!(r["Name"], "web");
        assert_eq!(r["CPUPerc"], "20.00%");
        assert_eq!(r["MemUsage"], "2MiB / 100MiB");
        assert_eq!(r["MemPerc"], "2.00%");
        assert_eq!(r["NetIO"], "1kB / 0B");
        assert_eq!(r["PIDs"], "3");
    }
}
