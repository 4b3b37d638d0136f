//! `GET /containers/json`: the list, its filters and Docker's summary.

use super::filter::{ContainerFilter, Lookup};
use crate::daemon::models::{ContainerSummary, SummaryHostConfig, SummaryNetworkSettings};
use crate::daemon::store::{Container, State};
use crate::daemon::*;

impl Daemon {
    /// `GET /containers/json`.
    pub fn list(
        &self,
        all: bool,
        filters: Filters,
    ) -> Result<Vec<ContainerSummary>, ContainerError> {
        let nets = self.netd.networks().unwrap_or_default();
        let look = Looks {
            d: self,
            nets: &nets,
        };
        let f = ContainerFilter::new(filters, &look)?;
        // A status filter shows stopped containers without `all`, as Docker.
        let all = all || f.shows_stopped();
        let mut v: Vec<Container> = self
            .all()
            .into_iter()
            .filter(|c| all || c.state.running || c.state.status == restart::RESTARTING)
            .filter(|c| f.matches(c, &look))
            .collect();
        v.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(v.iter().map(|c| summary(self, c, &nets)).collect())
    }
}

/// The daemon's objects as the container filters look them up.
struct Looks<'a> {
    d: &'a Daemon,
    nets: &'a [netd::store::Network],
}

impl Lookup for Looks<'_> {
    fn container(&self, name_or_id: &str) -> Option<Container> {
        self.d.container(name_or_id).ok()
    }
    fn image_ids(&self, reference: &str) -> Vec<String> {
        find_image(&self.d.images, reference)
            .map(|i| vec![i.id.to_string()])
            .unwrap_or_default()
    }
    fn network_id(&self, name: &str) -> Option<String> {
        self.nets
            .iter()
            .find(|n| n.name.as_str() == name)
            .map(|n| n.id.as_str().to_string())
    }
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
        network_settings: SummaryNetworkSettings {
            networks: d.network_settings_in(c, nets).networks,
        },
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
        "running" => match &s.health {
            Some(h) => format!("Up {} ({})", since(&s.started_at), super::health::column(h)),
            None => format!("Up {}", since(&s.started_at)),
        },
        super::pause::PAUSED => format!("Up {} (Paused)", since(&s.started_at)),
        "exited" => format!("Exited ({}) {} ago", s.exit_code, since(&s.finished_at)),
        "created" => "Created".into(),
        restart::RESTARTING => {
            format!("Restarting ({}) {} ago", s.exit_code, since(&s.finished_at))
        }
        other => other.to_string(),
    }
}
