//! What the daemon holds of a project, read with one labelled list query
//! per kind (`label=com.docker.compose.project=<p>`) and indexed in
//! memory: every command plans from this snapshot, never by asking the
//! daemon container by container (docker/compose#11881: 24 s at 500).

use anyhow::Result;
use std::collections::HashMap;

use crate::apimodel::models::{
    ContainerSummary, ContainerSummaryStateEnum, Network, VolumeListResponse,
};
use crate::apimodel::query::{FiltersQuery, ListQuery};
use crate::apimodel::Filters;

use super::super::client::{url, Client};
use super::labels;

/// A container's run state, as far as planning cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    Paused,
    /// Created, exited or dead: started again by `up`.
    Stopped,
}

/// One of the project's containers as the daemon listed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Existing {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub service: String,
    pub number: u32,
    pub oneoff: bool,
    pub config_hash: String,
    pub state: RunState,
    pub image: String,
    /// `Up 3 seconds`, `Exited (0) 2 minutes ago`.
    pub status: String,
    /// The whole summary, for `ps --format` and the port columns.
    pub summary: ContainerSummary,
}

impl Existing {
    /// A listed container, or `None` when it lacks the service label
    /// (not made by a Compose).
    pub fn from_summary(s: &ContainerSummary) -> Option<Existing> {
        let labels = s.labels.as_ref()?;
        let service = labels.get(labels::SERVICE)?.clone();
        let state = match s.state {
            Some(ContainerSummaryStateEnum::RUNNING | ContainerSummaryStateEnum::RESTARTING) => {
                RunState::Running
            }
            Some(ContainerSummaryStateEnum::PAUSED) => RunState::Paused,
            _ => RunState::Stopped,
        };
        let name = s
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default();
        Some(Existing {
            id: s.id.clone().unwrap_or_default(),
            name,
            service,
            number: labels
                .get(labels::NUMBER)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            // docker-compose 1.29 writes `False`/`True`, v2 the same.
            oneoff: labels
                .get(labels::ONEOFF)
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            config_hash: labels.get(labels::CONFIG_HASH).cloned().unwrap_or_default(),
            state,
            image: s.image.clone().unwrap_or_default(),
            status: s.status.clone().unwrap_or_default(),
            summary: s.clone(),
        })
    }
}

/// The project's objects on the daemon.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Current {
    pub containers: Vec<Existing>,
    /// Network names.
    pub networks: Vec<String>,
    /// Volume names.
    pub volumes: Vec<String>,
    /// The services' image references → the id each names now (a
    /// container of an older id is recreated: `up --build`, a newer pull).
    pub images: HashMap<String, String>,
}

impl Current {
    /// The service's containers (not one-off ones), by number.
    pub fn of_service(&self, service: &str) -> Vec<&Existing> {
        let mut v: Vec<&Existing> = self
            .containers
            .iter()
            .filter(|c| c.service == service && !c.oneoff)
            .collect();
        v.sort_by_key(|c| c.number);
        v
    }

    /// The containers by service, one pass over the list.
    pub fn by_service(&self) -> HashMap<&str, Vec<&Existing>> {
        let mut m: HashMap<&str, Vec<&Existing>> = HashMap::new();
        for c in &self.containers {
            m.entry(c.service.as_str()).or_default().push(c);
        }
        m
    }
}

fn project_filters(project: &str) -> Filters {
    let mut f = Filters::default();
    f.0.insert("label".into(), vec![labels::project_filter(project)]);
    f
}

/// The project's containers (all states): one list query.
pub fn containers(c: &Client, project: &str) -> Result<Vec<Existing>> {
    let q = ListQuery {
        all: true,
        filters: project_filters(project),
    };
    let list: Vec<ContainerSummary> = c.get(&url("/containers/json", &q)?)?;
    Ok(list.iter().filter_map(Existing::from_summary).collect())
}

/// The project's containers, networks and volumes: three list queries.
pub fn read(c: &Client, project: &str) -> Result<Current> {
    let q = FiltersQuery {
        filters: project_filters(project),
    };
    let networks: Vec<Network> = c.get(&url("/networks", &q)?)?;
    let volumes: VolumeListResponse = c.get(&url("/volumes", &q)?)?;
    Ok(Current {
        containers: containers(c, project)?,
        networks: networks.into_iter().filter_map(|n| n.name).collect(),
        volumes: volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect(),
        images: HashMap::new(),
    })
}

/// The ids `refs` name now (one request each, all at once); a missing
/// image is left out.
pub fn image_ids(c: &Client, refs: &[String]) -> HashMap<String, String> {
    let paths: Vec<String> = refs
        .iter()
        .map(|r| format!("/images/{}/json", super::super::images::encode_path(r)))
        .collect();
    let answers = c.get_all::<crate::apimodel::models::ImageInspect>(&paths);
    refs.iter()
        .zip(answers)
        .filter_map(|(r, a)| Some((r.clone(), a.ok()?.id?)))
        .collect()
}
