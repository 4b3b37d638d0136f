//! `POST /containers/create`: every check and the new record first
//! ([`Daemon::plan_create`], the pure [`plan::plan`] over the daemon's
//! facts, nothing changed), then the name taken, the volumes attached and
//! the record saved, each undone if a later one fails.

use super::plan::{self, ContainerName, ContainerPlan, Facts, ImageFacts, Lookup};
use std::collections::BTreeMap;

use crate::daemon::models::{CreateBody, EndpointSettings, LogConfig};
use crate::daemon::store::{Container, NetworkRequest};
use crate::daemon::*;

impl Daemon {
    /// `POST /containers/create`: the new container's id and the warnings
    /// (options the host cannot apply, dropped as dockerd drops them).
    pub fn create(&self, name: Option<&str>, body: CreateBody) -> ApiResult<(String, Vec<String>)> {
        // A start usually follows: see linux::attach_warm.
        crate::linux::attach_warm::warm();
        let (mut c, warnings) = self.plan_create(name, body)?.into_record();
        let id = c.id.clone();
        // The name is checked and taken in one critical section; a create
        // that fails from here on gives it back.
        self.reserve_name(&mut c)?;
        if let Err(e) = self.volumes.attach(&id, &c.mounts, None) {
            self.containers.lock().unwrap().release(&c.name, &id);
            // By its kind, as at start (errors.rs).
            return Err(VolumeError::from(e).into());
        }
        let dir = self.dir(&id);
        let saved =
            std::fs::create_dir_all(&dir).and_then(|()| store::save(&self.opts.data_root, &c));
        if let Err(e) = saved {
            self.volumes.detach(&id, &c.mounts);
            self.volumes.remove_anonymous(&c.mounts);
            let _ = std::fs::remove_dir_all(&dir);
            self.containers.lock().unwrap().release(&c.name, &id);
            return Err(ApiError::internal(e));
        }
        self.container_event(&c, "create", &[]);
        let c_name = c.name.clone();
        self.insert(c);
        tracing::info!(container = %id, name = %c_name, "created");
        Ok((id, warnings))
    }

    /// Every check of a create, with nothing changed: the plan of the new
    /// container (its record without a name when none was given).
    pub fn plan_create(&self, name: Option<&str>, body: CreateBody) -> ApiResult<ContainerPlan> {
        let facts = Facts {
            host: runopts::Host::cached().clone(),
            hostname: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            default_cgroupns_mode: self.opts.default_cgroupns_mode.clone(),
        };
        Ok(plan::plan(name, body, &DaemonLookup(self), &facts)?)
    }

    /// The networks of a `NetworkMode` and endpoint settings, checked as
    /// at create (`network connect` attaches one more this way).
    pub(crate) fn plan_networks(
        &self,
        network_mode: &str,
        endpoints: &BTreeMap<String, EndpointSettings>,
    ) -> ApiResult<(String, Vec<NetworkRequest>)> {
        let (mode, nets) = plan::plan_networks(&DaemonLookup(self), network_mode, endpoints)?;
        Ok((mode, nets.iter().map(|n| n.to_request()).collect()))
    }
}

/// The planner's view of this daemon: its image store, networks and
/// containers, read only.
struct DaemonLookup<'a>(&'a Daemon);

impl Lookup for DaemonLookup<'_> {
    fn image(&self, reference: &str) -> ApiResult<ImageFacts> {
        let image = find_image(&self.0.images, reference)?;
        Ok(ImageFacts {
            id: image.id.to_string(),
            manifest_digest: image.manifest_digest.to_string(),
            config: image.config.config,
        })
    }

    fn network(&self, name: &str) -> ApiResult<netd::store::Network> {
        Ok(self.0.netd.inspect(name).map_err(networks::net_err)?)
    }

    fn container(&self, name: &str) -> ApiResult<Container> {
        self.0.get(name)
    }

    fn name_holder(&self, name: &ContainerName) -> Option<String> {
        let ix = self.0.containers.lock().unwrap();
        ix.holder(name.as_str()).map(str::to_string)
    }

    fn block_device(&self, path: &str) -> Result<(i64, i64), String> {
        bundle_opts::block_device(path)
    }

    fn check_propagation(&self, mounts: &[volumes::plan::PlannedMount]) -> ApiResult<()> {
        Ok(volume::check_propagation(mounts)?)
    }

    fn log_config(&self, own: Option<LogConfig>) -> Result<Option<LogConfig>, String> {
        containers::logopts::with_defaults(own, &self.0.opts.config_file)
    }
}
