//! Waiting on containers: `depends_on` conditions before a service starts,
//! `up --wait`, and the `wait` command. A dependency that exits or turns unhealthy fails the
//! wait at once, naming the service (docker/compose#10042 hangs instead).

use anyhow::{bail, Result};
use std::time::Duration;

use rrun_compose::model::DependsCondition;

use crate::apimodel::models::{ContainerInspectResponse, ContainerWaitResponse, HealthStatusEnum};

use rrun_compose::Project;

use super::super::client::{enc, Client};
use super::apply::Apply;
use super::args::{DownArgs, WaitArgs};

/// How often a health status is read again.
const POLL: Duration = Duration::from_millis(100);

/// What a container's inspect says, as far as waiting cares.
#[derive(Debug, PartialEq)]
pub enum Seen {
    Healthy,
    /// Running, health still `starting`.
    Starting,
    /// Running without a healthcheck.
    RunningNoCheck,
    Unhealthy,
    Exited(i64),
}

pub fn seen(v: &ContainerInspectResponse) -> Seen {
    let st = v.state.clone().unwrap_or_default();
    if !st.running.unwrap_or(false) {
        return Seen::Exited(st.exit_code.unwrap_or(0));
    }
    match st.health.and_then(|h| h.status) {
        Some(HealthStatusEnum::HEALTHY) => Seen::Healthy,
        Some(HealthStatusEnum::UNHEALTHY) => Seen::Unhealthy,
        Some(HealthStatusEnum::STARTING) => Seen::Starting,
        _ => Seen::RunningNoCheck,
    }
}

fn name_of(v: &ContainerInspectResponse, id: &str) -> String {
    v.name
        .as_deref()
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_else(|| id.to_string())
}

/// Until the container is healthy (or, with `need_check` false, running
/// without a healthcheck).
pub fn healthy(c: &Client, id: &str, service: &str, need_check: bool) -> Result<()> {
    loop {
        let v: ContainerInspectResponse = c.get(&format!("/containers/{id}/json"))?;
        let name = name_of(&v, id);
        match seen(&v) {
            Seen::Healthy => return Ok(()),
            Seen::RunningNoCheck if !need_check => return Ok(()),
            Seen::RunningNoCheck => bail!(
                "dependency failed to start: container {name} (service {service:?}) has no healthcheck configured"
            ),
            Seen::Unhealthy => {
                bail!("dependency failed to start: container {name} (service {service:?}) is unhealthy")
            }
            Seen::Exited(code) => bail!(
                "dependency failed to start: container {name} (service {service:?}) exited ({code})"
            ),
            Seen::Starting => std::thread::sleep(POLL),
        }
    }
}

/// Until `dep`'s containers meet `cond`, before `service` starts.
pub fn dependency(
    c: &Client,
    ap: &Apply,
    service: &str,
    dep: &str,
    cond: DependsCondition,
) -> Result<()> {
    let ids = ap.ids_of(dep);
    if ids.is_empty() {
        let required = ap.project.services[service]
            .depends_on
            .get(dep)
            .is_none_or(|d| d.required);
        if required && ap.project.services.contains_key(dep) {
            bail!("service {service:?} depends on service {dep:?}, which has no container");
        }
        return Ok(());
    }
    for id in ids {
        match cond {
            DependsCondition::ServiceStarted => {}
            DependsCondition::ServiceHealthy => {
                ap.status.set("Service", dep, "Waiting", false);
                healthy(c, &id, dep, true)?;
                ap.status.set("Service", dep, "Healthy", true);
            }
            DependsCondition::ServiceCompletedSuccessfully => {
                ap.status.set("Service", dep, "Waiting", false);
                let v: ContainerWaitResponse = c.post(&format!("/containers/{id}/wait"))?.json()?;
                if v.status_code != 0 {
                    bail!(
                        "service {dep:?} didn't complete successfully: exit {}",
                        v.status_code
                    );
                }
                ap.status.set("Service", dep, "Exited", true);
            }
        }
    }
    Ok(())
}

/// `wait [SERVICE…]`: as Compose v2, blocks until the containers of the
/// services (all when none is named; one-off ones too) stop, printing each
/// exit; the exit code is the last one's. `--down-project`: the project is
/// taken down once the first one stops, and its code is returned.
pub fn wait_command(c: &Client, p: &Project, a: &WaitArgs) -> Result<i32> {
    let mut list = super::state::containers(c, &p.name)?;
    list.retain(|e| a.services.is_empty() || a.services.contains(&e.service));
    if list.is_empty() {
        bail!("no containers for project {:?}", p.name);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| -> Result<i32> {
        for e in &list {
            let tx = tx.clone();
            s.spawn(move || {
                let own = Client::new(c.socket.clone()).unwrap_or_else(|_| c.clone());
                let r = own
                    .post(&format!("/containers/{}/wait", enc(&e.id)))
                    .and_then(|r| r.json::<ContainerWaitResponse>());
                let _ = tx.send((e.id.clone(), r.map(|v| v.status_code)));
            });
        }
        drop(tx);
        let mut code = 0;
        for (id, r) in rx {
            let status = r?;
            println!("container {id:?} exited with status code {status}");
            code = status;
            if a.down_project {
                let down = DownArgs {
                    rmi: None,
                    volumes: false,
                    remove_orphans: false,
                    timeout: None,
                };
                super::down::down(c, p, &down)?;
                return Ok(status as i32);
            }
        }
        Ok(code as i32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apimodel::models::{ContainerState, Health};

    fn state(
        running: bool,
        health: Option<HealthStatusEnum>,
        code: i64,
    ) -> ContainerInspectResponse {
        ContainerInspectResponse {
            state: Some(ContainerState {
                running: Some(running),
                exit_code: Some(code),
                health: health.map(|s| Health {
                    status: Some(s),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn states_read_as_waiting_needs() {
        assert_eq!(
            seen(&state(true, Some(HealthStatusEnum::HEALTHY), 0)),
            Seen::Healthy
        );
        assert_eq!(
            seen(&state(true, Some(HealthStatusEnum::STARTING), 0)),
            Seen::Starting
        );
        assert_eq!(
            seen(&state(true, Some(HealthStatusEnum::UNHEALTHY), 0)),
            Seen::Unhealthy
        );
        assert_eq!(seen(&state(true, None, 0)), Seen::RunningNoCheck);
        // Exited wins over a last health status.
        assert_eq!(
            seen(&state(false, Some(HealthStatusEnum::HEALTHY), 3)),
            Seen::Exited(3)
        );
    }
}
