//! `docker pause`/`unpause` (the cgroup freezer, through the executor) and
//! `docker update` (resources and the restart policy, live through the
//! executor when the container runs).

use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::daemon::runopts::{self, RestartPolicy, RunOptions};
use crate::daemon::*;

/// The paused state's `Status`.
pub const PAUSED: &str = "paused";

impl Daemon {
    /// Runs `rrun-oci --root … ARGS`; its stderr is the error.
    pub(crate) fn oci_run(&self, args: &[&str]) -> Result<(), String> {
        let out = Command::new(&self.opts.oci_bin)
            .arg("--root")
            .arg(&self.opts.exec_root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", self.opts.oci_bin.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// `POST /containers/{id}/pause`.
    pub fn pause(&self, name: &str) -> Result<(), ContainerError> {
        let c = self.container(name)?;
        if !c.state.running {
            return Err(ContainerError::NotRunning(c.id));
        }
        if c.state.status == PAUSED {
            return Err(ContainerError::AlreadyPaused(c.id));
        }
        self.oci_run(&["pause", &c.id])
            .map_err(|reason| ContainerError::PauseFailed {
                id: c.id.clone(),
                reason,
            })?;
        let c = self.update(&c.id, |c| c.state.status = PAUSED.into())?;
        self.container_event(&c, "pause", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/unpause`.
    pub fn unpause(&self, name: &str) -> Result<(), ContainerError> {
        let c = self.container(name)?;
        if c.state.status != PAUSED {
            return Err(ContainerError::NotPaused(c.id));
        }
        self.oci_run(&["resume", &c.id])
            .map_err(|reason| ContainerError::UnpauseFailed {
                id: c.id.clone(),
                reason,
            })?;
        let c = self.update(&c.id, |c| {
            if c.state.status == PAUSED {
                c.state.status = "running".into();
            }
        })?;
        self.container_event(&c, "unpause", &[]);
        Ok(())
    }

    /// After a signal to a paused container: thawed, so it can act on it
    /// (dockerd does the same for a stop or a kill).
    pub(crate) fn thaw_after_signal(&self, id: &str) {
        if self.container(id).is_ok_and(|c| c.state.status == PAUSED) {
            if let Err(e) = self.unpause(id) {
                tracing::warn!(container = %id, error = %e, "thaw after signal");
            }
        }
    }

    /// `POST /containers/{id}/update`.
    pub fn update_resources(
        &self,
        name: &str,
        body: UpdateBody,
    ) -> Result<Vec<String>, ContainerError> {
        let c = self.container(name)?;
        let mut run = c.host_config.run.clone();
        body.merge_into(&mut run);
        let facts = runopts::Host::cached();
        let warnings =
            runopts::validate(&mut run, facts).map_err(|e| ContainerError::InvalidUpdate {
                id: c.id.clone(),
                reason: e.to_string(),
            })?;
        if body.restart_policy.is_some()
            && c.host_config.auto_remove
            && !run.restart_policy.is_none()
        {
            return Err(ContainerError::InvalidUpdate {
                id: c.id,
                reason: "Restart policy cannot be updated because AutoRemove is enabled for the container".into(),
            });
        }
        if c.state.running {
            let res = runopts::resources(&run, facts);
            let file = self.dir(&c.id).join("update.json");
            let json = serde_json::to_vec(&res).map_err(ContainerError::internal)?;
            store::atomic_write(&file, &json).map_err(ContainerError::internal)?;
            let r = self.oci_run(&["update", "--resources", &file.to_string_lossy(), &c.id]);
            let _ = std::fs::remove_file(&file);
            r.map_err(|reason| ContainerError::UpdateFailed {
                id: c.id.clone(),
                reason,
            })?;
        }
        let c = self.update(&c.id, |c| c.host_config.run = run)?;
        self.container_event(&c, "update", &[]);
        Ok(warnings)
    }
}

/// The body of `POST /containers/{id}/update`: every field optional, an
/// absent one left as it is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateBody {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    pub restart_policy: Option<RestartPolicy>,
}

impl UpdateBody {
    /// Docker's rule: a zero (or empty) value leaves the setting alone.
    fn merge_into(&self, o: &mut RunOptions) {
        let set = |dst: &mut i64, v: Option<i64>| {
            if let Some(v) = v.filter(|v| *v != 0) {
                *dst = v;
            }
        };
        set(&mut o.memory, self.memory);
        set(&mut o.memory_swap, self.memory_swap);
        set(&mut o.memory_reservation, self.memory_reservation);
        set(&mut o.nano_cpus, self.nano_cpus);
        set(&mut o.cpu_shares, self.cpu_shares);
        set(&mut o.cpu_quota, self.cpu_quota);
        set(&mut o.cpu_period, self.cpu_period);
        if let Some(s) = self.cpuset_cpus.clone().filter(|s| !s.is_empty()) {
            o.cpuset_cpus = s;
        }
        if let Some(s) = self.cpuset_mems.clone().filter(|s| !s.is_empty()) {
            o.cpuset_mems = s;
        }
        if let Some(p) = self.pids_limit.filter(|p| *p != 0) {
            o.pids_limit = Some(p);
        }
        if let Some(w) = self.blkio_weight.filter(|w| *w != 0) {
            o.blkio_weight = w;
        }
        if let Some(p) = self.restart_policy.clone().filter(|p| !p.name.is_empty()) {
            o.restart_policy = p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_leaves_a_setting_alone() {
        let mut o = RunOptions {
            memory: 64 << 20,
            cpu_shares: 512,
            ..Default::default()
        };
        let b: UpdateBody = serde_json::from_str(
            r#"{"Memory":134217728,"CpuShares":0,"PidsLimit":20,"BlkioWeight":300,"RestartPolicy":{"Name":"always"}}"#,
        )
        .unwrap();
        b.merge_into(&mut o);
        assert_eq!(o.memory, 128 << 20);
        assert_eq!(o.cpu_shares, 512);
        assert_eq!(o.pids_limit, Some(20));
        assert_eq!(o.blkio_weight, 300);
        assert_eq!(o.restart_policy.name, "always");
    }
}
