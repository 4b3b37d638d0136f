//! The plan carried out through the API client: networks and volumes
//! first, then the services level by level (the services of a level in
//! parallel, each after its dependencies' conditions hold).

use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::sync::Mutex;

use rrun_compose::model::{NetworkMode, Project, Service};

use crate::apimodel::models::{
    ContainerCreateResponse, ContainerInspectResponse, Ipam, IpamConfig, NetworkCreateRequest,
    VolumeCreateRequest,
};
use crate::apimodel::query::{CreateQuery, RemoveQuery, StopQuery};

use super::super::client::{enc, url, ApiError, Client};
use super::super::containers::start;
use super::plan::{ContainerAction, Plan, ServicePlan};
use super::spec::{create_body, Instance};
use super::state::{Current, Existing, RunState};
use super::status::Status;
use super::{labels, parallel, wait};

/// A 409 (already there) is no error for a create.
fn exists(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApiError>()
        .is_some_and(|a| a.status == 409)
}

/// A 404 (already gone) is no error for a removal.
pub fn gone(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApiError>()
        .is_some_and(|a| a.status == 404)
}

/// Checks the external networks and volumes, then creates what is missing.
pub fn resources(c: &Client, p: &Project, plan: &Plan, st: &Status) -> Result<()> {
    for n in p.networks.values().filter(|n| n.external) {
        c.get_raw(&format!("/networks/{}", enc(&n.name)))
            .map_err(|_| anyhow!("network {} declared as external, but could not be found: create it with `rrun network create {}`", n.name, n.name))?;
    }
    for v in p.volumes.values().filter(|v| v.external) {
        c.get_raw(&format!("/volumes/{}", enc(&v.name)))
            .map_err(|_| {
                anyhow!(
                    "external volume {:?} not found: create it with `rrun volume create {}`",
                    v.name,
                    v.name
                )
            })?;
    }
    for key in &plan.networks {
        let n = &p.networks[key];
        st.set("Network", &n.name, "Creating", false);
        let r = c.post_json("/networks/create", &network_request(p, key));
        match r {
            Err(e) if !exists(&e) => {
                st.fail("Network", &n.name);
                return Err(e.context(format!("create network {}", n.name)));
            }
            _ => st.set("Network", &n.name, "Created", true),
        }
    }
    for key in &plan.volumes {
        let v = &p.volumes[key];
        let mut l: HashMap<String, String> = v.labels.clone().into_iter().collect();
        l.insert(labels::PROJECT.into(), p.name.clone());
        l.insert(labels::VOLUME.into(), key.clone());
        l.insert(labels::VERSION.into(), labels::COMPOSE_VERSION.into());
        let body = VolumeCreateRequest {
            name: Some(v.name.clone()),
            driver: Some(v.driver.clone().unwrap_or_else(|| "local".into())),
            driver_opts: Some(v.driver_opts.clone().into_iter().collect()),
            labels: Some(l),
            ..Default::default()
        };
        st.set("Volume", &v.name, "Creating", false);
        c.post_json("/volumes/create", &body)
            .with_context(|| format!("create volume {}", v.name))?;
        st.set("Volume", &v.name, "Created", true);
    }
    Ok(())
}

fn network_request(p: &Project, key: &str) -> NetworkCreateRequest {
    let n = &p.networks[key];
    let mut l: HashMap<String, String> = n.labels.clone().into_iter().collect();
    l.insert(labels::PROJECT.into(), p.name.clone());
    l.insert(labels::NETWORK.into(), key.into());
    l.insert(labels::VERSION.into(), labels::COMPOSE_VERSION.into());
    let ipam = n.ipam.as_ref().map(|i| Ipam {
        driver: i.driver.clone(),
        config: Some(
            i.config
                .iter()
                .map(|c| IpamConfig {
                    subnet: c.subnet.clone(),
                    ip_range: c.ip_range.clone(),
                    gateway: c.gateway.clone(),
                    auxiliary_addresses: Some(c.aux_addresses.clone().into_iter().collect()),
                })
                .collect(),
        ),
        options: Some(i.options.clone().into_iter().collect()),
    });
    NetworkCreateRequest {
        name: n.name.clone(),
        driver: Some(n.driver.clone().unwrap_or_else(|| "bridge".into())),
        internal: Some(n.internal),
        attachable: Some(n.attachable),
        enable_ipv6: Some(n.enable_ipv6),
        options: Some(n.driver_opts.clone().into_iter().collect()),
        labels: Some(l),
        ipam,
        ..Default::default()
    }
}

/// Stops (within `timeout` seconds) and removes a container.
pub fn stop_remove(
    c: &Client,
    e: &Existing,
    timeout: Option<i64>,
    volumes: bool,
    st: &Status,
) -> Result<()> {
    if e.state != RunState::Stopped {
        st.set("Container", &e.name, "Stopping", false);
        let q = StopQuery { t: timeout };
        c.post(&url(&format!("/containers/{}/stop", e.id), &q)?)
            .with_context(|| format!("stop container {}", e.name))?;
        st.set("Container", &e.name, "Stopped", false);
    }
    st.set("Container", &e.name, "Removing", false);
    let q = RemoveQuery {
        force: true,
        v: volumes,
        link: false,
    };
    match c.request("DELETE", &url(&format!("/containers/{}", e.id), &q)?, None) {
        Err(e2) if !gone(&e2) => {
            st.fail("Container", &e.name);
            return Err(e2.context(format!("remove container {}", e.name)));
        }
        _ => st.set("Container", &e.name, "Removed", true),
    }
    Ok(())
}

/// Orphans: removed with `--remove-orphans`, else one warning.
pub fn orphans(
    c: &Client,
    p: &Project,
    plan: &Plan,
    timeout: Option<i64>,
    st: &Status,
) -> Result<()> {
    if plan.orphans.is_empty() {
        return Ok(());
    }
    if !plan.remove_orphans {
        let names: Vec<&str> = plan.orphans.iter().map(|o| o.name.as_str()).collect();
        st.note(&format!(
            "Found orphan containers ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(", ")
        ));
        return Ok(());
    }
    let _ = p;
    for r in parallel::each(c, &plan.orphans, |c, o| {
        stop_remove(c, o, timeout, false, st)
    }) {
        r?;
    }
    Ok(())
}

/// The anonymous volumes of a container being replaced (`(volume,
/// target)`), which its successor mounts again, as Compose does: an
/// image's `VOLUME` (a database's data directory) survives a changed
/// `environment`.
fn anonymous_volumes(c: &Client, id: &str, s: &Service) -> Result<Vec<(String, String)>> {
    let v: ContainerInspectResponse = c.get(&format!("/containers/{id}/json"))?;
    // Named volumes and binds are the file's to mount, not carried over.
    let given: Vec<&str> = s
        .volumes
        .iter()
        .filter(|v| v.source.is_some())
        .map(|v| v.target.as_str())
        .collect();
    Ok(v.mounts
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.typ.as_deref() == Some("volume"))
        .filter_map(|m| Some((m.name?, m.destination?)))
        .filter(|(_, dest)| !given.contains(&dest.as_str()))
        .collect())
}

/// How the services' containers are handled.
pub struct Apply<'a> {
    pub project: &'a Project,
    pub status: &'a Status,
    /// `false` for `create`.
    pub start: bool,
    pub timeout: Option<i64>,
    /// Service → its containers' ids by number, as they become known.
    pub ids: Mutex<HashMap<String, Vec<String>>>,
}

impl<'a> Apply<'a> {
    pub fn new(project: &'a Project, cur: &Current, status: &'a Status, start: bool) -> Apply<'a> {
        let mut ids: HashMap<String, Vec<String>> = HashMap::new();
        for name in project.services.keys() {
            ids.insert(
                name.clone(),
                cur.of_service(name).iter().map(|c| c.id.clone()).collect(),
            );
        }
        Apply {
            project,
            status,
            start,
            timeout: None,
            ids: Mutex::new(ids),
        }
    }

    pub fn ids_of(&self, service: &str) -> Vec<String> {
        self.ids
            .lock()
            .map(|m| m.get(service).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Every level in turn, the services of a level in parallel; the first
    /// failure ends it after its level (every error printed once).
    pub fn run(&self, c: &Client, plan: &Plan) -> Result<()> {
        for level in &plan.levels {
            let results = parallel::each(c, level, |c, sp| self.service(c, sp));
            let mut failed = None;
            for (sp, r) in level.iter().zip(results) {
                if let Err(e) = r {
                    if failed.is_some() {
                        eprintln!("service {:?}: {e:#}", sp.name);
                    } else {
                        failed = Some(e);
                    }
                }
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(())
    }

    fn service(&self, c: &Client, sp: &ServicePlan) -> Result<()> {
        if self.start {
            for (dep, cond) in &sp.depends_on {
                wait::dependency(c, self, &sp.name, dep, *cond)?;
            }
        }
        let mut ids = Vec::new();
        for a in &sp.actions {
            match a {
                ContainerAction::Remove { existing } => {
                    stop_remove(c, existing, self.timeout, false, self.status)?;
                }
                ContainerAction::Keep { existing } => {
                    self.status
                        .set("Container", &existing.name, "Running", true);
                    ids.push(existing.id.clone());
                }
                ContainerAction::Restart { existing } => {
                    self.status
                        .set("Container", &existing.name, "Restarting", false);
                    let q = StopQuery { t: self.timeout };
                    c.post(&url(&format!("/containers/{}/restart", existing.id), &q)?)
                        .with_context(|| format!("restart container {}", existing.name))?;
                    self.status
                        .set("Container", &existing.name, "Started", true);
                    ids.push(existing.id.clone());
                }
                ContainerAction::Start { existing } => {
                    self.start_one(c, &existing.id, &existing.name)?;
                    ids.push(existing.id.clone());
                }
                ContainerAction::Recreate { old } => {
                    self.status.set("Container", &old.name, "Recreate", false);
                    let kept = anonymous_volumes(c, &old.id, &self.project.services[&sp.name])?;
                    stop_remove(c, old, self.timeout, false, &Status::silent())?;
                    ids.push(self.create_one(c, &sp.name, old.number, &kept)?);
                }
                ContainerAction::Create { number } => {
                    ids.push(self.create_one(c, &sp.name, *number, &[])?);
                }
            }
        }
        if let Ok(mut m) = self.ids.lock() {
            m.insert(sp.name.clone(), ids);
        }
        Ok(())
    }

    fn start_one(&self, c: &Client, id: &str, name: &str) -> Result<()> {
        if !self.start {
            self.status.set("Container", name, "Created", true);
            return Ok(());
        }
        self.status.set("Container", name, "Starting", false);
        if let Err(e) = start(c, id) {
            self.status.fail("Container", name);
            return Err(e.context(format!("start container {name}")));
        }
        self.status.set("Container", name, "Started", true);
        Ok(())
    }

    /// Creates (and starts) container `number` of `service`; its id.
    /// `kept`: `(volume, target)` of the replaced container's anonymous
    /// volumes, mounted again.
    fn create_one(
        &self,
        c: &Client,
        service: &str,
        number: u32,
        kept: &[(String, String)],
    ) -> Result<String> {
        let p = self.project;
        let s = &p.services[service];
        let name = s
            .container_name
            .clone()
            .unwrap_or_else(|| labels::container_name(&p.name, service, number));
        let joined = match &s.network_mode {
            Some(NetworkMode::Service(d)) => self.ids_of(d).first().cloned(),
            _ => None,
        };
        let inst = Instance {
            number,
            oneoff: false,
            name: name.clone(),
            joined,
            publish: true,
        };
        let mut body = create_body(p, s, &inst)?;
        let files = super::inject::archive(p, s)?;
        if let Some(h) = body.host_config.as_mut() {
            let targets: Vec<&String> = kept.iter().map(|(_, t)| t).collect();
            if let Some(m) = h.mounts.as_mut() {
                m.retain(|m| m.target.as_ref().is_none_or(|t| !targets.contains(&t)));
            }
            let binds = h.binds.get_or_insert_with(Vec::new);
            binds.extend(kept.iter().map(|(v, t)| format!("{v}:{t}")));
        }
        self.status.set("Container", &name, "Creating", false);
        let q = CreateQuery {
            name: Some(name.clone()),
            platform: None,
        };
        let created: ContainerCreateResponse =
            match c.post_json(&url("/containers/create", &q)?, &body) {
                Ok(r) => r.json()?,
                Err(e) => {
                    self.status.fail("Container", &name);
                    bail!("create container {name}: {e:#}");
                }
            };
        if let Err(e) = super::inject::put(c, &created.id, files) {
            self.status.fail("Container", &name);
            return Err(e.context(format!("create container {name}")));
        }
        self.status.set("Container", &name, "Created", !self.start);
        if self.start {
            self.start_one(c, &created.id, &name)?;
        }
        Ok(created.id)
    }
}
