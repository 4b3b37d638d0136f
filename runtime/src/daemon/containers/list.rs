//! `GET /containers/json`: the list, its filters and Docker's summary.

use crate::daemon::models::{ContainerSummary, SummaryHostConfig};
use crate::daemon::store::{Container, State};
use crate::daemon::*;

impl Daemon {
    /// `GET /containers/json`.
    pub fn list(&self, all: bool, filters: &Filters) -> Vec<ContainerSummary> {
        // A status filter shows stopped containers without `all`, as Docker.
        let all = all || filters.contains_key("status");
        let mut v: Vec<Container> = self
            .all()
            .into_iter()
            .filter(|c| all || c.state.running || c.state.status == restart::RESTARTING)
            .filter(|c| matches_filters(c, filters))
            .collect();
        v.sort_by(|a, b| b.created.cmp(&a.created));
        let nets = self.netd.networks().unwrap_or_default();
        v.iter().map(|c| summary(self, c, &nets)).collect()
    }
}

/// True if `c` passes every filter (values of one key are alternatives).
pub fn matches_filters(c: &Container, f: &Filters) -> bool {
    f.iter().all(|(k, vals)| {
        vals.iter().any(|v| match k.as_str() {
            "id" => c.id.starts_with(v.as_str()),
            "name" => c.name.contains(v.trim_start_matches('/')),
            "status" => c.state.status == *v,
            "ancestor" => c.image_name == *v || c.image.contains(v.as_str()),
            "label" => match v.split_once('=') {
                Some((lk, lv)) => c.config.labels.get(lk).is_some_and(|x| x == lv),
                None => c.config.labels.contains_key(v),
            },
            _ => false,
        })
    })
}

fn summary(d: &Daemon, c: &Container, nets: &[netd::store::Network]) -> ContainerSummary {
    let created = chrono::DateTime::parse_from_rfc3339(&c.created)
        .map(|t| t.timestamp())
        .unwrap_or(0);
    let mut cmd = vec![c.path.clone()];
    cmd.extend(c.args.iter().cloned());
    ContainerSummary {
        id: c.id.clone(),
        names: vec![format!("/{}", c.name)],
        image: c.image_name.clone(),
        image_id: c.image.clone(),
        command: cmd.join(" "),
        created,
        state: c.state.status.clone(),
        status: human_status(&c.state, chrono::Utc::now()),
        ports: Daemon::port_summary(c, nets),
        labels: c.config.labels.clone(),
        host_config: SummaryHostConfig {
            network_mode: c.host_config.network_mode.clone(),
        },
        mounts: volume::mounts_json(&c.mounts, |n| d.volumes.data_path(n)),
        network_settings: serde_json::json!({
            "Networks": d.network_settings_in(c, nets)["Networks"],
        }),
    }
}

/// Docker's `Status` column: `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`.
pub fn human_status(s: &State, now: chrono::DateTime<chrono::Utc>) -> String {
    let since = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| {
                rrun_units::human_duration_secs((now - t.with_timezone(&chrono::Utc)).num_seconds())
            })
            .unwrap_or_default()
    };
    match s.status.as_str() {
        "running" => format!("Up {}", since(&s.started_at)),
        "exited" => format!("Exited ({}) {} ago", s.exit_code, since(&s.finished_at)),
        "created" => "Created".into(),
        restart::RESTARTING => {
            format!("Restarting ({}) {} ago", s.exit_code, since(&s.finished_at))
        }
        other => other.to_string(),
    }
}
