//! `POST /containers/create`: the checks, the name, the record.

use crate::daemon::models::CreateBody;
use crate::daemon::store::{Container, State};
use crate::daemon::*;

impl Daemon {
    /// `POST /containers/create`.
    pub fn create(&self, name: Option<&str>, body: CreateBody) -> ApiResult<String> {
        let mut config = body.config;
        let mut host = body.host_config;
        if config.image.is_empty() {
            return Err(ApiError::bad(
                "config cannot be empty in order to create a container",
            ));
        }
        let image = find_image(&self.images, &config.image)?;
        let (mode, networks) =
            self.plan_networks(&host.network_mode, &body.networking_config.endpoints_config)?;
        host.network_mode = mode;
        let ic = &image.config.config;
        // The image's EXPOSE, as Docker merges it into the container's.
        for p in ic.exposed_ports.iter().flat_map(|m| m.keys()) {
            config
                .exposed_ports
                .entry(p.clone())
                .or_insert_with(|| serde_json::json!({}));
        }
        let wanted =
            containers::ports::wanted_ports(&host.port_bindings, host.publish_all_ports, &[])
                .map_err(ApiError::bad)?;
        self.check_port_families(&networks, &wanted)?;
        host.log_config =
            containers::logopts::with_defaults(host.log_config.take(), &self.opts.config_file)
                .map_err(ApiError::bad)?;
        for h in &host.extra_hosts {
            h.parse::<netd::resolv::ExtraHost>()
                .map_err(|e| ApiError::bad(e.to_string()))?;
        }
        runopts::validate(&mut host.run, &runopts::Host::probe()).map_err(ApiError::bad)?;
        if host.auto_remove && !host.run.restart_policy.is_none() {
            return Err(ApiError::bad(
                "can't create 'AutoRemove' container with restart policy",
            ));
        }
        let id = store::new_id();
        let name = match name {
            Some(n) if !n.is_empty() => {
                let n = n.trim_start_matches('/');
                if !store::valid_name(n) {
                    return Err(ApiError::bad(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                Some(n.to_string())
            }
            _ => None,
        };
        let args = spec::command(
            ic.entrypoint.as_deref().unwrap_or(&[]),
            ic.cmd.as_deref().unwrap_or(&[]),
            config.entrypoint.as_deref(),
            config.cmd.as_deref(),
        );
        if args.is_empty() {
            return Err(ApiError::bad("no command specified"));
        }
        if config.hostname.is_empty() {
            config.hostname = id[..12].to_string();
        }
        if config.stop_signal.is_none() {
            config.stop_signal = ic.stop_signal.clone();
        }
        let mut c = Container {
            id: id.clone(),
            name: name.unwrap_or_default(),
            created: logs::now(),
            image_name: config.image.clone(),
            image: image.id.to_string(),
            manifest: image.manifest_digest.to_string(),
            path: args[0].clone(),
            args: args[1..].to_vec(),
            config,
            host_config: host,
            state: State {
                status: "created".into(),
                started_at: store::ZERO_TIME.into(),
                finished_at: store::ZERO_TIME.into(),
                ..Default::default()
            },
            shim_pid: 0,
            networks,
            mounts: vec![],
            copied_up: false,
            ports: vec![],
            restarts: Default::default(),
        };
        // The name is checked and taken in one critical section; a create
        // that fails from here on gives it back.
        self.reserve_name(&mut c)?;
        let image_volumes: Vec<String> =
            ic.volumes.iter().flat_map(|m| m.keys()).cloned().collect();
        c.mounts = match self.plan_mounts(&id, &c.config, &c.host_config, &image_volumes) {
            Ok(m) => m,
            Err(e) => {
                self.containers.lock().unwrap().release(&c.name, &id);
                return Err(e);
            }
        };
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
        Ok(id)
    }
}
