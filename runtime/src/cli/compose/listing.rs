//! `ps`, `ls`, `images`, `top`, `port`: read from one labelled list query
//! (and, for `images`, one image list), indexed in memory.

use anyhow::{anyhow, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;

use rrun_compose::Project;

use crate::apimodel::models::{ContainerSummary, ImageSummary};
use crate::apimodel::query::ListQuery;
use crate::apimodel::Filters;

use super::super::client::{url, Client};
use super::super::containers;
use super::super::format::{human_size, list_format, print_rows, short_id, table};
use super::super::images::split_tag;
use super::super::ps::PsRow;
use super::args::{ImagesArgs, LsArgs, PortArgs, PsArgs};
use super::labels;
use super::lifecycle::service_containers;
use super::state::{self, Existing, RunState};

const PS_TABLE: &str = "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}";
const PS_HEADERS: &[(&str, &str)] = &[
    ("Name", "NAME"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("Service", "SERVICE"),
    ("RunningFor", "CREATED"),
    ("Status", "STATUS"),
    ("Ports", "PORTS"),
    ("ID", "CONTAINER ID"),
    ("State", "STATE"),
    ("Project", "PROJECT"),
];

/// A `ps` row: `docker ps`'s fields and Compose's (Name, Project,
/// Service, Health, ExitCode).
pub fn ps_row(p: &Project, e: &Existing) -> Value {
    let mut v = serde_json::to_value(PsRow::new(&e.summary, false)).unwrap_or(json!({}));
    let exit = e
        .status
        .strip_prefix("Exited (")
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(0);
    let health = ["healthy", "unhealthy", "health: starting"]
        .into_iter()
        .find(|h| e.status.contains(&format!("({h})")))
        .map(|h| h.trim_start_matches("health: "))
        .unwrap_or("");
    if let Value::Object(m) = &mut v {
        m.insert("Name".into(), json!(e.name));
        m.insert("Project".into(), json!(p.name));
        m.insert("Service".into(), json!(e.service));
        m.insert("Health".into(), json!(health));
        m.insert("ExitCode".into(), json!(exit));
    }
    v
}

pub fn ps(c: &Client, p: &Project, a: &PsArgs) -> Result<i32> {
    let format = list_format(a.format.as_deref(), PS_TABLE)?;
    let mut list = state::containers(c, &p.name)?;
    list.retain(|e| {
        (a.all || e.state != RunState::Stopped)
            && (a.service.is_empty() || a.service.contains(&e.service))
    });
    list.sort_by(|x, y| x.name.cmp(&y.name));
    if a.services {
        let mut names: Vec<&str> = list.iter().map(|e| e.service.as_str()).collect();
        names.dedup();
        names.iter().for_each(|n| println!("{n}"));
        return Ok(0);
    }
    if a.quiet {
        list.iter().for_each(|e| println!("{}", e.id));
        return Ok(0);
    }
    let rows: Vec<Value> = list.iter().map(|e| ps_row(p, e)).collect();
    print_rows(&format, &rows, PS_HEADERS)?;
    Ok(0)
}

/// `ls`: every project on the daemon, from one list query.
pub fn ls(c: &Client, a: &LsArgs) -> Result<i32> {
    let mut f = Filters::default();
    f.0.insert("label".into(), vec![labels::PROJECT.into()]);
    let q = ListQuery {
        all: a.all,
        filters: f,
    };
    let list: Vec<ContainerSummary> = c.get(&url("/containers/json", &q)?)?;
    // project → (state → count, config files)
    let mut projects: BTreeMap<String, (BTreeMap<String, usize>, String)> = BTreeMap::new();
    for s in &list {
        let l = s.labels.clone().unwrap_or_default();
        let Some(name) = l.get(labels::PROJECT) else {
            continue;
        };
        let entry = projects.entry(name.clone()).or_default();
        let state = s.state.map(|s| s.to_string()).unwrap_or_default();
        *entry.0.entry(state).or_default() += 1;
        entry.1 = l.get(labels::CONFIG_FILES).cloned().unwrap_or_default();
    }
    let rows: Vec<Value> = projects
        .iter()
        .map(|(name, (states, files))| {
            let status: Vec<String> = states.iter().map(|(s, n)| format!("{s}({n})")).collect();
            json!({"Name": name, "Status": status.join(", "), "ConfigFiles": files})
        })
        .collect();
    if a.quiet {
        rows.iter()
            .for_each(|r| println!("{}", r["Name"].as_str().unwrap_or("")));
        return Ok(0);
    }
    if a.format == "json" {
        println!("{}", Value::Array(rows));
        return Ok(0);
    }
    let mut t = vec![vec!["NAME".into(), "STATUS".into(), "CONFIG FILES".into()]];
    for r in &rows {
        t.push(
            ["Name", "Status", "ConfigFiles"]
                .iter()
                .map(|k| r[k].as_str().unwrap_or("").to_string())
                .collect(),
        );
    }
    print!("{}", table(&t));
    Ok(0)
}

pub fn images(c: &Client, p: &Project, a: &ImagesArgs) -> Result<i32> {
    let list = service_containers(c, p, &a.services, false)?;
    let all: Vec<ImageSummary> = c.get("/images/json")?;
    let mut rows = vec![vec![
        "CONTAINER".into(),
        "REPOSITORY".into(),
        "TAG".into(),
        "IMAGE ID".into(),
        "SIZE".into(),
    ]];
    for e in &list {
        let id = e.summary.image_id.clone().unwrap_or_default();
        if a.quiet {
            println!("{id}");
            continue;
        }
        let img = all.iter().find(|i| i.id == id);
        let (repo, tag) = split_tag(&e.image);
        rows.push(vec![
            e.name.clone(),
            repo.to_string(),
            if tag.is_empty() {
                "latest".into()
            } else {
                tag.to_string()
            },
            short_id(&id, false),
            img.map(|i| human_size(i.size.max(0) as u64))
                .unwrap_or_default(),
        ]);
    }
    if !a.quiet {
        print!("{}", table(&rows));
    }
    Ok(0)
}

pub fn top(c: &Client, p: &Project, services: &[String]) -> Result<i32> {
    let mut list = service_containers(c, p, services, false)?;
    list.retain(|e| e.state == RunState::Running);
    list.sort_by(|x, y| x.name.cmp(&y.name));
    for e in &list {
        println!("{}", e.name);
        containers::top(c, &e.id)?;
        println!();
    }
    Ok(0)
}

pub fn port(c: &Client, p: &Project, a: &PortArgs) -> Result<i32> {
    let list = service_containers(c, p, std::slice::from_ref(&a.service), false)?;
    let e = list.iter().find(|e| e.number == a.index).ok_or_else(|| {
        anyhow!(
            "service {:?} has no container number {}",
            a.service,
            a.index
        )
    })?;
    let ports = e.summary.ports.clone().unwrap_or_default();
    let found = ports.iter().find(|x| {
        x.private_port == a.private_port
            && x.public_port.is_some()
            && x.typ
                .as_ref()
                .map(|t| t.to_string())
                .unwrap_or_else(|| "tcp".into())
                == a.protocol
    });
    match found {
        Some(x) => println!(
            "{}",
            containers::join_host_port(
                x.ip.as_deref().unwrap_or("0.0.0.0"),
                x.public_port.unwrap_or(0)
            )
        ),
        None => println!(":0"),
    }
    Ok(0)
}
