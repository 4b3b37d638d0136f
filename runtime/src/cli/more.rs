//! `rrun rename`, `top`, `stats`, `events`, `container prune`,
//! `system prune` and `completion`, with Docker's output.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::BufRead;

use super::client::{enc, Client};
use super::images::print_formatted;
use super::netvol::{confirm, format_value, human_size};

/// `run`/`create`'s logging flags.
#[derive(Debug, Args)]
pub struct LogFlags {
    /// Logging driver for the container (json-file).
    #[arg(long)]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=10m, max-file=3).
    #[arg(long)]
    pub log_opt: Vec<String>,
}

/// Puts `--log-driver`/`--log-opt` into `HostConfig.LogConfig`.
pub fn apply_log_flags(body: &mut Value, f: &LogFlags) -> Result<()> {
    if f.log_driver.is_none() && f.log_opt.is_empty() {
        return Ok(());
    }
    let mut cfg = serde_json::Map::new();
    for o in &f.log_opt {
        let (k, v) = o
            .split_once('=')
            .with_context(|| format!("invalid log opt {o:?}: expected key=value"))?;
        cfg.insert(k.to_string(), json!(v));
    }
    body["HostConfig"]["LogConfig"] = json!({
        "Type": f.log_driver.clone().unwrap_or_else(|| "json-file".into()),
        "Config": cfg,
    });
    Ok(())
}

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

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show all events created since timestamp (Unix time, RFC 3339, or a duration like 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp.
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided (type=, event=, container=, …).
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a template ('{{json .}}', '{{.Action}}').
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ContainerCmd {
    /// Remove all stopped containers.
    Prune {
        #[arg(short, long)]
        force: bool,
        #[arg(long = "filter")]
        filter: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SystemCmd {
    /// Show rrun disk usage.
    Df,
    /// Remove unused data.
    Prune {
        /// Remove all unused images not just dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        /// Prune anonymous volumes.
        #[arg(long)]
        volumes: bool,
    },
}

pub fn rename(c: &Client, container: &str, new_name: &str) -> Result<i32> {
    c.post(
        &format!(
            "/containers/{}/rename?name={}",
            enc(container),
            enc(new_name)
        ),
        None,
    )?;
    Ok(0)
}

pub fn top(c: &Client, container: &str) -> Result<i32> {
    let v = c.get(&format!("/containers/{}/top", enc(container)))?;
    let mut rows = vec![v["Titles"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|x| x.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()];
    for p in v["Processes"].as_array().into_iter().flatten() {
        rows.push(
            p.as_array()
                .map(|r| {
                    r.iter()
                        .map(|x| x.as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default(),
        );
    }
    print!("{}", super::table(&rows));
    Ok(0)
}

/// One `docker stats` row from a stats sample, as Docker's CLI computes it.
pub fn stats_row(v: &Value, no_trunc: bool) -> Value {
    let id = v["id"].as_str().unwrap_or("");
    let id = if no_trunc {
        id.to_string()
    } else {
        id.chars().take(12).collect()
    };
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
        let list = c.get(&format!("/containers/json?all={}", a.all))?;
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["Id"].as_str().map(String::from))
            .collect()
    } else {
        a.containers.clone()
    };
    let tpl = a.format.clone().unwrap_or_else(|| STATS_TABLE.to_string());
    loop {
        // One sample per container, taken in parallel (each takes half a
        // second for its CPU delta).
        let samples: Vec<Result<Value>> = std::thread::scope(|s| {
            let hs: Vec<_> = names
                .iter()
                .map(|n| s.spawn(move || c.get(&format!("/containers/{}/stats?stream=0", enc(n)))))
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("stats thread")))
                })
                .collect()
        });
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

/// Docker's default event line:
/// `2024-01-01T00:00:00.000000000Z container start <id> (image=…, name=…)`.
pub fn event_line(v: &Value) -> String {
    let nanos = v["timeNano"].as_i64().unwrap_or(0);
    let t = chrono::DateTime::from_timestamp(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        })
        .unwrap_or_default();
    let attrs: Vec<String> = v["Actor"]["Attributes"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    let mut line = format!(
        "{t} {} {} {}",
        v["Type"].as_str().unwrap_or(""),
        v["Action"].as_str().unwrap_or(""),
        v["Actor"]["ID"].as_str().unwrap_or("")
    );
    if !attrs.is_empty() {
        line.push_str(&format!(" ({})", attrs.join(", ")));
    }
    line
}

/// The fields `--format` templates see (Go's names of `events.Message`).
fn event_fields(v: &Value) -> Value {
    json!({
        "Status": v["status"], "ID": v["id"], "From": v["from"],
        "Type": v["Type"], "Action": v["Action"], "Actor": v["Actor"],
        "Scope": v["scope"], "Time": v["time"], "TimeNano": v["timeNano"],
    })
}

pub fn events(c: &Client, a: &EventsArgs) -> Result<i32> {
    let now = chrono::Utc::now().timestamp();
    let mut q = format!("filters={}", enc(&super::filters_json(&a.filter)?));
    for (k, v) in [("since", &a.since), ("until", &a.until)] {
        if let Some(v) = v {
            let t = crate::daemon::events::absolute_time(v, now);
            q.push_str(&format!("&{k}={}", enc(&t)));
        }
    }
    let body = c.request("GET", &format!("/events?{q}"), None)?.body;
    for l in std::io::BufReader::new(body).lines() {
        let l = l.context("read the event stream")?;
        if l.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&l).context("parse an event")?;
        let out = match a.format.as_deref() {
            Some("{{json .}}") => l.clone(),
            Some(f) => format_value(f, &event_fields(&v)),
            None => event_line(&v),
        };
        println!("{out}");
    }
    Ok(0)
}

/// `POST /containers/prune`: ids removed and bytes reclaimed.
fn prune_containers(c: &Client, filter: &[String]) -> Result<(Vec<String>, u64)> {
    let f = super::filters_json(filter)?;
    let v = c
        .post(&format!("/containers/prune?filters={}", enc(&f)), None)?
        .json()?;
    let ids = v["ContainersDeleted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(String::from))
        .collect();
    Ok((ids, v["SpaceReclaimed"].as_u64().unwrap_or(0)))
}

pub fn container(c: &Client, cmd: ContainerCmd) -> Result<i32> {
    match cmd {
        ContainerCmd::Prune { force, filter } => {
            if !confirm(force, "all stopped containers")? {
                return Ok(0);
            }
            let (ids, space) = prune_containers(c, &filter)?;
            if !ids.is_empty() {
                println!("Deleted Containers:");
                ids.iter().for_each(|i| println!("{i}"));
                println!();
            }
            println!("Total reclaimed space: {}", human_size(space));
            Ok(0)
        }
    }
}

/// Docker's `system prune` warning list.
pub fn system_prune_warning(all: bool, volumes: bool) -> String {
    let mut w = String::from("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n");
    if volumes {
        w.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    if all {
        w.push_str("  - all images without at least one container associated to them\n");
    } else {
        w.push_str("  - all dangling images\n");
    }
    w
}

/// `system df`'s rows: TYPE, TOTAL, ACTIVE, SIZE, RECLAIMABLE.
pub fn df_rows(v: &Value) -> Vec<Vec<String>> {
    let n = |x: &Value| x.as_u64().unwrap_or(0);
    let pct = |r: u64, t: u64| match (r * 100).checked_div(t) {
        Some(p) => format!("{} ({p}%)", human_size(r)),
        None => human_size(r),
    };
    let list = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let (imgs, ctrs, vols) = (list("Images"), list("Containers"), list("Volumes"));
    let img_active = imgs
        .iter()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) > 0)
        .count();
    let img_size = n(&v["LayersSize"]);
    let img_free: u64 = imgs
        .iter()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) == 0)
        .map(|i| n(&i["Size"]))
        .sum();
    let running = |c: &&Value| c["State"] == "running";
    let ctr_size: u64 = ctrs.iter().map(|c| n(&c["SizeRw"])).sum();
    let ctr_free: u64 = ctrs
        .iter()
        .filter(|c| !running(c))
        .map(|c| n(&c["SizeRw"]))
        .sum();
    let used = |x: &&Value| x["UsageData"]["RefCount"].as_u64().unwrap_or(0) > 0;
    let vol_size: u64 = vols.iter().map(|x| n(&x["UsageData"]["Size"])).sum();
    let vol_free: u64 = vols
        .iter()
        .filter(|x| !used(x))
        .map(|x| n(&x["UsageData"]["Size"]))
        .sum();
    vec![
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
            .map(String::from)
            .to_vec(),
        vec![
            "Images".into(),
            imgs.len().to_string(),
            img_active.to_string(),
            human_size(img_size),
            pct(img_free, img_size),
        ],
        vec![
            "Containers".into(),
            ctrs.len().to_string(),
            ctrs.iter().filter(running).count().to_string(),
            human_size(ctr_size),
            pct(ctr_free, ctr_size),
        ],
        vec![
            "Local Volumes".into(),
            vols.len().to_string(),
            vols.iter().filter(used).count().to_string(),
            human_size(vol_size),
            pct(vol_free, vol_size),
        ],
        vec![
            "Build Cache".into(),
            "0".into(),
            "0".into(),
            "0B".into(),
            "0B".into(),
        ],
    ]
}

pub fn system(c: &Client, cmd: SystemCmd) -> Result<i32> {
    let (all, force, volumes) = match cmd {
        SystemCmd::Df => {
            let v = c.get("/system/df")?;
            print!("{}", super::table(&df_rows(&v)));
            return Ok(0);
        }
        SystemCmd::Prune {
            all,
            force,
            volumes,
        } => (all, force, volumes),
    };
    if !force {
        eprint!(
            "{}\nAre you sure you want to continue? [y/N] ",
            system_prune_warning(all, volumes)
        );
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let (ids, mut space) = prune_containers(c, &[])?;
    if !ids.is_empty() {
        println!("Deleted Containers:");
        ids.iter().for_each(|i| println!("{i}"));
        println!();
    }
    let nets = c.post("/networks/prune", None)?.json()?;
    let nets: Vec<&str> = nets["NetworksDeleted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str())
        .collect();
    if !nets.is_empty() {
        println!("Deleted Networks:");
        nets.iter().for_each(|n| println!("{n}"));
        println!();
    }
    if volumes {
        let v = c.post("/volumes/prune", None)?.json()?;
        let vols: Vec<&str> = v["VolumesDeleted"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str())
            .collect();
        if !vols.is_empty() {
            println!("Deleted Volumes:");
            vols.iter().for_each(|n| println!("{n}"));
            println!();
        }
        space += v["SpaceReclaimed"].as_u64().unwrap_or(0);
    }
    let (imgs, s) = super::images::prune_images(c, all, &[])?;
    space += s;
    if !imgs.is_empty() {
        println!("Deleted Images:");
        for it in &imgs {
            if let Some(n) = it["Untagged"].as_str() {
                println!("untagged: {n}");
            }
            if let Some(n) = it["Deleted"].as_str() {
                println!("deleted: {n}");
            }
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(space));
    Ok(0)
}

/// `rrun completion bash|zsh|fish`.
pub fn completion(shell: clap_complete::Shell) -> Result<i32> {
    use clap::CommandFactory;
    let mut cmd = super::Cli::command();
    clap_complete::generate(shell, &mut cmd, "rrun", &mut std::io::stdout());
    Ok(0)
}

/// The fields of `ps --format`: Docker's names, as strings.
pub fn ps_fields(v: &Value, no_trunc: bool) -> Value {
    let id = v["Id"].as_str().unwrap_or("");
    let now = chrono::Utc::now().timestamp();
    let created = v["Created"].as_i64().unwrap_or(now);
    let names = super::ps_names(&v["Names"]);
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
        "Command": super::ps_command(v["Command"].as_str().unwrap_or(""), no_trunc),
        "CreatedAt": chrono::DateTime::from_timestamp(created, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
            .unwrap_or_default(),
        "RunningFor": format!("{} ago", rrun_units::human_duration_secs(now - created)),
        "Ports": super::ps_ports(&v["Ports"]),
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

    #[test]
    fn event_lines() {
        let v = json!({"Type": "container", "Action": "start", "Actor": {"ID": "abc", "Attributes": {"name": "web", "image": "busybox"}}, "timeNano": 0});
        let l = event_line(&v);
        assert!(
            l.ends_with(" container start abc (image=busybox, name=web)"),
            "{l}"
        );
        assert!(system_prune_warning(false, true).contains("anonymous volumes"));
        let df = df_rows(
            &json!({"LayersSize": 2000, "Images": [{"Size": 1000, "Containers": 0}, {"Size": 1000, "Containers": 1}],
            "Containers": [{"State": "running", "SizeRw": 10}], "Volumes": []}),
        );
        assert_eq!(df[1], vec!["Images", "2", "1", "2kB", "1kB (50%)"]);
        assert_eq!(df[2][2], "1");
    }
}
