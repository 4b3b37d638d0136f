//! `rrun stats`: one sample per container, computed as Docker's CLI does.

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use serde_json::Value;

use crate::apimodel::models::{ContainerCpuStats, ContainerStatsResponse};
use crate::apimodel::query::{ListQuery, StatsQuery};

use super::client::{enc, url, Client};
use super::format::{list_format, print_rows, short_id};

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

/// One `docker stats` row: the fields a `--format` template sees.
#[derive(Debug, Serialize)]
pub struct StatsRow {
    #[serde(rename = "Container")]
    container: String,
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "CPUPerc")]
    cpu_perc: String,
    #[serde(rename = "MemUsage")]
    mem_usage: String,
    #[serde(rename = "MemPerc")]
    mem_perc: String,
    #[serde(rename = "NetIO")]
    net_io: String,
    #[serde(rename = "BlockIO")]
    block_io: String,
    #[serde(rename = "PIDs")]
    pids: String,
}

/// CPU use in percent of one CPU, as Docker's CLI computes it from the
/// sample and the one before it.
fn cpu_percent(v: &ContainerStatsResponse) -> f64 {
    let total = |c: &Option<ContainerCpuStats>| {
        let usage = c.as_ref().and_then(|c| c.cpu_usage.as_ref());
        usage.and_then(|u| u.total_usage).unwrap_or(0) as f64
    };
    let system = |c: &Option<ContainerCpuStats>| {
        c.as_ref().and_then(|c| c.system_cpu_usage).unwrap_or(0) as f64
    };
    let cpu_delta = total(&v.cpu_stats) - total(&v.precpu_stats);
    let sys_delta = system(&v.cpu_stats) - system(&v.precpu_stats);
    let online = v
        .cpu_stats
        .as_ref()
        .and_then(|c| c.online_cpus)
        .unwrap_or(1) as f64;
    if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    }
}

/// Memory in use (without the inactive file cache, as Docker's CLI
/// counts it) and the limit.
fn memory(v: &ContainerStatsResponse) -> (f64, f64) {
    let mem = v.memory_stats.clone().unwrap_or_default();
    let usage = mem.usage.unwrap_or(0) as f64;
    let stats = mem.stats.unwrap_or_default();
    let inactive = stats
        .get("total_inactive_file")
        .or_else(|| stats.get("inactive_file"))
        .copied()
        .unwrap_or(0) as f64;
    let used = if inactive < usage {
        usage - inactive
    } else {
        usage
    };
    (used, mem.limit.unwrap_or(0) as f64)
}

pub fn stats_row(v: &ContainerStatsResponse, no_trunc: bool) -> StatsRow {
    let id = short_id(v.id.as_deref().unwrap_or(""), no_trunc);
    let (used, limit) = memory(v);
    let mem_pct = if limit > 0.0 {
        used / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    for n in v.networks.iter().flat_map(|m| m.values()) {
        rx += n.rx_bytes.unwrap_or(0) as f64;
        tx += n.tx_bytes.unwrap_or(0) as f64;
    }
    let (mut rd, mut wr) = (0.0, 0.0);
    let blkio = v.blkio_stats.as_ref();
    for b in blkio
        .and_then(|b| b.io_service_bytes_recursive.as_ref())
        .into_iter()
        .flatten()
    {
        let value = b.value.unwrap_or(0) as f64;
        match b.op.as_deref().map(str::to_lowercase).as_deref() {
            Some("read") => rd += value,
            Some("write") => wr += value,
            _ => {}
        }
    }
    let io = |a: f64, b: f64| {
        let h = |x| rrun_units::human_size_with_precision(x, 3);
        format!("{} / {}", h(a), h(b))
    };
    StatsRow {
        container: id.clone(),
        id,
        name: v
            .name
            .as_deref()
            .unwrap_or("")
            .trim_start_matches('/')
            .into(),
        cpu_perc: format!("{:.2}%", cpu_percent(v)),
        mem_usage: format!(
            "{} / {}",
            rrun_units::bytes_size(used),
            rrun_units::bytes_size(limit)
        ),
        mem_perc: format!("{mem_pct:.2}%"),
        net_io: io(rx, tx),
        block_io: io(rd, wr),
        pids: v
            .pids_stats
            .as_ref()
            .and_then(|p| p.current)
            .unwrap_or(0)
            .to_string(),
    }
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
    let format = list_format(a.format.as_deref(), STATS_TABLE)?;
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
        let samples: Vec<Result<ContainerStatsResponse>> = c.get_all(&paths);
        let mut rows = Vec::new();
        for (n, s) in names.iter().zip(samples) {
            match s {
                Ok(v) => {
                    let mut row = stats_row(&v, a.no_trunc);
                    // `.Container` is the name or id as the command line gave it.
                    if !a.containers.is_empty() {
                        row.container = n.clone();
                    }
                    rows.push(serde_json::to_value(row)?)
                }
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
        print_rows(&format, &rows, STATS_HEADERS)?;
        if a.no_stream {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stats_rows_compute_like_dockers_cli() {
        let v = json!({"id": "0123456789abcdef", "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 200}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 3 << 20, "limit": 100 << 20, "stats": {"inactive_file": 1 << 20}},
            "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 0}},
            "pids_stats": {"current": 3}});
        let v: ContainerStatsResponse = serde_json::from_value(v).unwrap();
        let r = serde_json::to_value(stats_row(&v, false)).unwrap();
        assert_eq!(r["ID"], "0123456789ab");
        assert_eq!(r["Name"], "web");
        assert_eq!(r["CPUPerc"], "20.00%");
        assert_eq!(r["MemUsage"], "2MiB / 100MiB");
        assert_eq!(r["MemPerc"], "2.00%");
        assert_eq!(r["NetIO"], "1kB / 0B");
        assert_eq!(r["PIDs"], "3");
    }
}
