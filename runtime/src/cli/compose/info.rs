//! `config` (the loaded model), `version`, `events` (the daemon's
//! container events of the project, as Compose prints them).

use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::io::{BufRead, Write};

use rrun_compose::Project;

use crate::apimodel::query::EventsQuery;
use crate::apimodel::Filters;

use super::super::client::{url, Client};
use super::args::{ConfigArgs, EventsArgs, VersionArgs};
use super::labels;

pub fn config(p: &Project, a: &ConfigArgs) -> Result<i32> {
    if a.quiet {
        return Ok(0);
    }
    if a.services {
        p.services.keys().for_each(|s| println!("{s}"));
        return Ok(0);
    }
    if a.volumes {
        p.volumes.keys().for_each(|v| println!("{v}"));
        return Ok(0);
    }
    print!("{}", rrun_compose::to_yaml(p));
    Ok(0)
}

pub fn version(a: &VersionArgs) -> Result<i32> {
    let v = format!("v{}", labels::COMPOSE_VERSION);
    if a.short {
        println!("{}", labels::COMPOSE_VERSION);
    } else if a.format.as_deref() == Some("json") {
        println!("{}", json!({ "version": v }));
    } else {
        println!(
            "rrun compose version {v} (rrun {})",
            env!("CARGO_PKG_VERSION")
        );
    }
    Ok(0)
}

/// One event as Compose's line or JSON object; `None`: not a container
/// event of the asked services.
pub fn event(v: &Value, services: &[String], json_out: bool) -> Option<String> {
    if v["Type"] != "container" {
        return None;
    }
    let attrs = &v["Actor"]["Attributes"];
    let service = attrs[labels::SERVICE].as_str().unwrap_or("");
    if !services.is_empty() && !services.iter().any(|s| s == service) {
        return None;
    }
    let id = v["Actor"]["ID"].as_str().unwrap_or("");
    let action = v["Action"].as_str().unwrap_or("");
    let name = attrs["name"].as_str().unwrap_or("");
    let image = attrs["image"].as_str().unwrap_or("");
    let nanos = v["timeNano"].as_i64().unwrap_or(0);
    let time =
        chrono::DateTime::from_timestamp(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .unwrap_or_default();
    if json_out {
        let o = json!({"time": time, "type": "container", "action": action, "id": id,
            "service": service, "attributes": {"name": name, "image": image}});
        return Some(o.to_string());
    }
    Some(format!(
        "{time} container {action} {id} (image={image}, name={name})"
    ))
}

pub fn events(c: &Client, p: &Project, a: &EventsArgs) -> Result<i32> {
    let mut f = Filters::default();
    f.0.insert("label".into(), vec![labels::project_filter(&p.name)]);
    let q = EventsQuery {
        filters: f,
        ..Default::default()
    };
    let body = c.request("GET", &url("/events", &q)?, None)?.body;
    let out = std::io::stdout();
    for line in std::io::BufReader::new(body).lines() {
        let line = line.context("read the event stream")?;
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(text) = event(&v, &a.services, a.json) {
            let mut o = out.lock();
            if writeln!(o, "{text}").and_then(|_| o.flush()).is_err() {
                break;
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_events_of_the_asked_services_only() {
        let v = json!({
            "Type": "container", "Action": "start", "timeNano": 1_700_000_000_000_000_000i64,
            "Actor": {"ID": "abc", "Attributes": {
                "name": "p-db-1", "image": "busybox", "com.docker.compose.service": "db"}}
        });
        assert_eq!(
            event(&v, &[], false).unwrap(),
            "2023-11-14T22:13:20.000000Z container start abc (image=busybox, name=p-db-1)"
        );
        let j: Value = serde_json::from_str(&event(&v, &[], true).unwrap()).unwrap();
        assert_eq!(
            (j["service"].as_str(), j["action"].as_str()),
            (Some("db"), Some("start"))
        );
        assert!(event(&v, &["app".into()], false).is_none());
        let net = json!({"Type": "network", "Action": "create"});
        assert!(event(&net, &[], false).is_none());
    }
}
