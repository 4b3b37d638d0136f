//! `rrun events`: the daemon's event stream, in Docker's line format or
//! through a template.

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{json, Value};
use std::io::BufRead;

use crate::apimodel::query::EventsQuery;
use crate::apimodel::Filters;

use super::client::{url, Client};
use super::format::fail;
use super::template::{Format, Reader};

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

/// How `events` prints each event.
enum EventFormat {
    /// Docker's default line.
    Line,
    /// `{{json .}}`: the event as the daemon sent it, its
    /// lower-case keys (`status`, `id`, `from`, `time`) included.
    Json,
    Template(Box<Format>),
}

/// docker/cli's events makeTemplate: a bad template is `Error parsing
/// format: …` and exit code 64, found before the stream is asked for.
fn event_format(format: Option<&str>) -> Result<EventFormat> {
    Ok(match format {
        None | Some("") => EventFormat::Line,
        // `json` is docker/cli's (23 and later) keyword for a JSON line each.
        Some("json" | "{{json .}}") => EventFormat::Json,
        Some(f) => {
            let parsed = Format::parse(f, Reader::Plain, "");
            let f = parsed.map_err(|e| {
                fail(
                    64,
                    format!("Error parsing format: {e}").replace("template parsing error: ", ""),
                )
            })?;
            EventFormat::Template(Box::new(f))
        }
    })
}

pub fn events(c: &Client, a: &EventsArgs) -> Result<i32> {
    let format = event_format(a.format.as_deref())?;
    let now = chrono::Utc::now().timestamp();
    let q = EventsQuery {
        filters: Filters::from_flags(&a.filter)?,
        since: a.since.as_deref().map(|t| absolute_time(t, now)),
        until: a.until.as_deref().map(|t| absolute_time(t, now)),
    };
    let body = c.request("GET", &url("/events", &q)?, None)?.body;
    for l in std::io::BufReader::new(body).lines() {
        let l = l.context("read the event stream")?;
        if l.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&l).context("parse an event")?;
        let out = match &format {
            EventFormat::Line => event_line(&v),
            EventFormat::Json => l.clone(),
            EventFormat::Template(f) => f.render(&event_fields(&v)).map_err(|e| fail(1, e))?,
        };
        println!("{out}");
    }
    Ok(0)
}

/// `--since`/`--until`: a Go duration (`10m`, `1h30m`) is that long before
/// `now` (Unix seconds), as Docker's CLI takes it; anything else (a Unix
/// time, RFC 3339) goes to the daemon unchanged.
pub fn absolute_time(s: &str, now: i64) -> String {
    match rrun_units::parse_go_duration(s) {
        Ok(nanos) => (now - nanos / 1_000_000_000).to_string(),
        Err(_) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_lines() {
        let v = json!({"Type": "container", "Action": "start", "Actor": {"ID": "abc", "Attributes": {"name": "web", "image": "busybox"}}, "timeNano": 0});
        let l = event_line(&v);
        assert!(
            l.ends_with(" container start abc (image=busybox, name=web)"),
            "{l}"
        );
    }

    #[test]
    fn relative_times_are_go_durations() {
        assert_eq!(absolute_time("10m", 1000), "400");
        assert_eq!(absolute_time("1h30m", 10000), "4600");
        assert_eq!(absolute_time("1.5s", 10), "9");
        assert_eq!(absolute_time("1700000000", 10), "1700000000");
        assert_eq!(
            absolute_time("2024-01-01T00:00:00Z", 10),
            "2024-01-01T00:00:00Z"
        );
    }
}
