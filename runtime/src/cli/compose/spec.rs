//! A service → the create body of one of its containers: the same
//! `ContainerCreateBody` `rrun run` sends, built from the model's long
//! forms. Every value a user wrote is checked here, before anything is
//! created, and an error names the service and the key.

use anyhow::{anyhow, Context, Result};
use std::collections::HashMap;

use rrun_compose::model::{Healthcheck, Project, Service};

use crate::apimodel::models::{ContainerCreateBody, HealthConfig};

use super::labels;
use super::plan::image_of;
use super::{spec_host, spec_net};

/// What one container adds to its service's config.
#[derive(Debug, Clone, Default)]
pub struct Instance {
    pub number: u32,
    /// A `run` container: its name's hex and its overrides.
    pub oneoff: bool,
    pub name: String,
    /// `network_mode: service:x` → x's first container's id.
    pub joined: Option<String>,
    /// `run --service-ports`: publish the service's ports (only `run`
    /// leaves them out by default).
    pub publish: bool,
}

/// The create body of `inst` of service `s`.
pub fn create_body(p: &Project, s: &Service, inst: &Instance) -> Result<ContainerCreateBody> {
    let mut host = spec_host::host_config(p, s, inst.publish)
        .with_context(|| format!("service {:?}", s.name))?;
    let networking = spec_net::networking(p, s, inst, &mut host)?;
    let stop_timeout = s
        .stop_grace_period
        .as_deref()
        .map(|d| seconds(d, &s.name, "stop_grace_period"))
        .transpose()?;
    Ok(ContainerCreateBody {
        image: Some(image_of(&p.name, s)),
        hostname: s.hostname.clone(),
        domainname: s.domainname.clone(),
        user: s.user.clone(),
        working_dir: s.working_dir.clone(),
        entrypoint: s.entrypoint.clone(),
        cmd: s.command.clone(),
        env: Some(env(s)),
        labels: Some(container_labels(p, s, inst)),
        tty: Some(s.tty),
        open_stdin: Some(s.stdin_open),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        exposed_ports: Some(spec_host::exposed(s)),
        stop_signal: s.stop_signal.clone(),
        stop_timeout,
        healthcheck: s
            .healthcheck
            .as_ref()
            .map(|h| health(h, &s.name))
            .transpose()?,
        host_config: Some(host),
        networking_config: networking,
        ..Default::default()
    })
}

/// `KEY=value` lines; a variable named without a value and set nowhere
/// is left out, as Compose does.
pub fn env(s: &Service) -> Vec<String> {
    s.environment
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect()
}

/// The service's labels and Compose's own.
pub fn container_labels(p: &Project, s: &Service, inst: &Instance) -> HashMap<String, String> {
    let mut l: HashMap<String, String> = s
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let files: Vec<String> = p
        .config_files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let ours = [
        (labels::PROJECT, p.name.clone()),
        (labels::SERVICE, s.name.clone()),
        (labels::NUMBER, inst.number.to_string()),
        (
            labels::ONEOFF,
            if inst.oneoff { "True" } else { "False" }.to_string(),
        ),
        (labels::CONFIG_HASH, labels::config_hash(s)),
        (labels::WORKING_DIR, p.working_dir.display().to_string()),
        (labels::CONFIG_FILES, files.join(",")),
        (labels::VERSION, labels::COMPOSE_VERSION.to_string()),
    ];
    for (k, v) in ours {
        l.insert(k.to_string(), v);
    }
    l
}

/// A Compose duration (`1m30s`, Go's syntax) in nanoseconds.
pub fn nanos(d: &str, service: &str, key: &str) -> Result<i64> {
    rrun_units::parse_go_duration(d)
        .map_err(|e| anyhow!("service {service:?}: {key}: invalid duration {d:?}: {e}"))
}

fn seconds(d: &str, service: &str, key: &str) -> Result<i64> {
    Ok(nanos(d, service, key)? / 1_000_000_000)
}

fn health(h: &Healthcheck, service: &str) -> Result<HealthConfig> {
    if h.disable {
        return Ok(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        });
    }
    let d = |v: &Option<String>, key: &str| {
        v.as_deref()
            .map(|v| nanos(v, service, &format!("healthcheck.{key}")))
            .transpose()
    };
    Ok(HealthConfig {
        test: h.test.clone(),
        interval: d(&h.interval, "interval")?,
        timeout: d(&h.timeout, "timeout")?,
        start_period: d(&h.start_period, "start_period")?,
        start_interval: d(&h.start_interval, "start_interval")?,
        retries: h.retries.map(i64::from),
    })
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
