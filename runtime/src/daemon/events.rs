//! Docker-shaped events: published in-process by the lifecycle code,
//! kept in a short history for `since`, and streamed by `GET /events`.
//!
//! The matching of `filters`, `since` and `until` is pure and unit-tested.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

/// How many past events `since` can reach back to.
const HISTORY: usize = 1024;

/// One event, in Docker's `events.Message` shape.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    /// The old fields (containers and images only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    pub fn new(typ: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        let now = chrono::Utc::now();
        let nanos = now.timestamp_nanos_opt().unwrap_or(0);
        let old = matches!(typ, "container" | "image");
        Event {
            status: old.then(|| action.to_string()),
            id: old.then(|| id.to_string()),
            from: (typ == "container")
                .then(|| attributes.get("image").cloned())
                .flatten(),
            typ: typ.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
        }
    }
}

/// The daemon's event bus.
pub struct Events {
    tx: broadcast::Sender<Event>,
    history: Mutex<VecDeque<Event>>,
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl Events {
    pub fn new() -> Events {
        Events {
            tx: broadcast::channel(HISTORY).0,
            history: Mutex::new(VecDeque::new()),
        }
    }

    pub fn publish(&self, e: Event) {
        tracing::debug!(r#type = %e.typ, action = %e.action, id = %e.actor.id, "event");
        let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if h.len() == HISTORY {
            h.pop_front();
        }
        h.push_back(e.clone());
        // Sent under the history lock, so a subscriber that takes the
        // history and then listens misses nothing and sees nothing twice.
        let _ = self.tx.send(e);
    }

    /// The history so far and a receiver of what comes next.
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        (h.iter().cloned().collect(), self.tx.subscribe())
    }

    /// `attrs` as `k=v` pairs.
    pub fn emit(&self, typ: &str, action: &str, id: &str, attrs: &[(&str, &str)]) {
        let a = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.publish(Event::new(typ, action, id, a));
    }
}

impl super::Daemon {
    /// A container event with Docker's attributes (image, name, labels).
    pub fn container_event(
        &self,
        c: &super::store::Container,
        action: &str,
        extra: &[(&str, &str)],
    ) {
        let mut a: BTreeMap<String, String> = c.config.labels.clone().into_iter().collect();
        a.insert("image".into(), c.image_name.clone());
        a.insert("name".into(), c.name.clone());
        for (k, v) in extra {
            a.insert(k.to_string(), v.to_string());
        }
        self.events
            .publish(Event::new("container", action, &c.id, a));
    }
}

/// Docker's `since`/`until`: seconds, with an optional fraction
/// (`1700000000.5`), or RFC 3339; returns nanoseconds since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt();
    }
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let frac = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        digits.parse::<i64>().ok()?
    };
    Some(secs * 1_000_000_000 + frac)
}

/// A prune's `until`: a time as [`parse_time`] reads it, or a Go
/// duration (`24h`) counted back from `now_ns`, as dockerd takes it.
pub fn parse_until(s: &str, now_ns: i64) -> Option<i64> {
    parse_time(s).or_else(|| {
        rrun_units::parse_go_duration(s.trim())
            .ok()
            .map(|d| now_ns - d)
    })
}

/// A prune filter's `until` (None when absent), in nanoseconds.
pub fn until_of(f: &super::Filters) -> Result<Option<i64>, super::FilterError> {
    let Some(u) = f.get("until").first() else {
        return Ok(None);
    };
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    parse_until(u, now)
        .map(Some)
        .ok_or_else(|| super::FilterError::BadPattern {
            key: "until".into(),
            value: u.clone(),
            reason: "not a time or duration".into(),
        })
}

/// The event filters dockerd knows (swarm's are accepted and match
/// nothing here, as a daemon outside a swarm).
pub const FILTERS: &[&str] = &[
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// Whether a container event's image is `v` (with or without its tag).
fn image_of(e: &Event, v: &str) -> bool {
    e.actor.attributes.get("image").is_some_and(|i| {
        i == v
            || i.rsplit_once(':')
                .is_some_and(|(repo, tag)| repo == v && !tag.contains('/'))
    })
}

/// Whether `e` passes Docker's event filters: values of one key are
/// alternatives, keys must all hold, every `label` must hold.
pub fn matches(e: &Event, f: &super::Filters) -> bool {
    let object = |key: &str| {
        !f.contains(key)
            || (e.typ == key
                && f.get(key).iter().any(|v| {
                    e.actor.id.starts_with(v.as_str()) || e.actor.attributes.get("name") == Some(v)
                }))
            || (key == "image" && f.get(key).iter().any(|v| image_of(e, v)))
    };
    let action = |v: &String| e.action == *v || e.action.split(':').next() == Some(v.as_str());
    f.exact("type", &e.typ)
        && (!f.contains("event") || f.get("event").iter().any(action))
        && ["container", "network", "volume", "image"]
            .iter()
            .all(|k| object(k))
        && ["config", "daemon", "node", "plugin", "secret", "service"]
            .iter()
            .all(|k| !f.contains(k))
        && f.match_labels("label", &e.actor.attributes)
        && f.exact("scope", &e.scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(typ: &str, action: &str, id: &str, name: &str) -> Event {
        let mut a = BTreeMap::new();
        a.insert("name".to_string(), name.to_string());
        Event::new(typ, action, id, a)
    }

    #[test]
    fn events_are_dockers_shape() {
        let e = ev("container", "start", "abc", "web");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["status"], "start");
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Actor"]["Attributes"]["name"], "web");
        assert_eq!(v["scope"], "local");
        assert!(v["timeNano"].as_i64().unwrap() / 1_000_000_000 == v["time"].as_i64().unwrap());
        let n = serde_json::to_value(ev("network", "create", "n1", "net")).unwrap();
        assert!(n.get("status").is_none());
    }

    #[test]
    fn filters_select() {
        let e = ev("container", "die", "abcdef", "web");
        let f = |j: &str| crate::apimodel::Filters::parse(j).unwrap();
        assert!(matches(
            &e,
            &f(r#"{"type":["container"],"event":["die","start"]}"#)
        ));
        assert!(matches(&e, &f(r#"{"container":["web"]}"#)));
        assert!(matches(&e, &f(r#"{"container":["abc"]}"#)));
        assert!(!matches(&e, &f(r#"{"network":["web"]}"#)));
        assert!(!matches(&e, &f(r#"{"event":["stop"]}"#)));
        let mut run = ev("container", "start", "abcdef", "web");
        run.actor
            .attributes
            .insert("image".into(), "busybox:latest".into());
        run.actor.attributes.insert("app".into(), "todo".into());
        assert!(matches(&run, &f(r#"{"image":["busybox"]}"#)));
        assert!(matches(&run, &f(r#"{"label":["app=todo","name=web"]}"#)));
        assert!(!matches(&run, &f(r#"{"label":["app=todo","name=db"]}"#)));
        assert!(!matches(&run, &f(r#"{"service":["x"]}"#)));
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("10"), Some(10_000_000_000));
        assert_eq!(parse_time("10.5"), Some(10_500_000_000));
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(1_000_000_000));
        assert_eq!(parse_time("x"), None);
        let now = 100_000_000_000;
        assert_eq!(parse_until("1m", now), Some(40_000_000_000));
        assert_eq!(parse_until("10", now), Some(10_000_000_000));
        assert_eq!(parse_until("soon", now), None);
    }
}
