//! `POST /containers/create`: every check and the new record first
//! ([`Daemon::plan_create`], nothing changed), then the name taken, the
//! mounts planned and the record saved, each undone if a later one fails.

use crate::daemon::models::{ContainerConfig, CreateBody, EndpointSettings, HostConfig};
use crate::daemon::store::{Container, State};
use crate::daemon::*;
use std::collections::BTreeMap;

impl Daemon {
    /// `POST /containers/create`: the new container's id and the warnings
    /// (options the host cannot apply, dropped as dockerd drops them).
    pub fn create(&self, name: Option<&str>, body: CreateBody) -> ApiResult<(String, Vec<String>)> {
        let (mut c, image_volumes, warnings) = self.plan_create(name, body)?;
        let id = c.id.clone();
        // The name is checked and taken in one critical section; a create
        // that fails from here on gives it back.
        self.reserve_name(&mut c)?;
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
        Ok((id, warnings))
    }

    /// Every check of a create, with nothing changed: the new container's
    /// record (without its name when none was given, and without mounts),
    /// the image's volumes and the create's warnings.
    pub fn plan_create(
        &self,
        name: Option<&str>,
        body: CreateBody,
    ) -> ApiResult<(Container, Vec<String>, Vec<String>)> {
        let mut config = body.config;
        let mut host = body.host_config;
        if config.image.is_empty() {
            return Err(ApiError::bad(
                "config cannot be empty in order to create a container",
            ));
        }
        let image = find_image(&self.images, &config.image)?;
        let endpoints =
            own_network_settings(&config, &host, body.networking_config.endpoints_config);
        let (mode, networks) = self.plan_networks(&host.network_mode, &endpoints)?;
        host.network_mode = mode;
        let ic = &image.config.config;
        // The image's EXPOSE, as Docker merges it into the container's.
        for p in ic.exposed_ports.iter().flat_map(|m| m.keys()) {
            config.exposed_ports.entry(p.clone()).or_default();
        }
        let wanted =
            containers::ports::wanted_ports(&host.port_bindings, host.publish_all_ports, &[])
                .map_err(ApiError::bad)?;
        self.check_port_families(&networks, &wanted)?;
        host.log_config =
            containers::logopts::with_defaults(host.log_config.take(), &self.opts.config_file)
                .map_err(ApiError::bad)?;
        if host.run.cgroupns_mode.is_empty() {
            host.run.cgroupns_mode = self.opts.default_cgroupns_mode.clone();
        }
        let warnings = check_host_config(&mut host, &config.hostname, &runopts::Host::probe())?;
        // The block IO options' devices must be block devices now.
        runopts::block_io(&host.run, &crate::daemon::bundle_opts::block_device)
            .map_err(ApiError::bad)?;
        // The containers `--pid`/`--ipc container:` join must exist now
        // (that they run is checked at start).
        for mode in [&host.run.pid_mode, &host.run.ipc_mode] {
            if let Some(donor) = runopts::donor(mode) {
                self.get(donor)?;
            }
        }
        let name = container_name(name)?;
        if let Some(hc) = &config.healthcheck {
            containers::health::validate(hc).map_err(ApiError::bad)?;
        }
        merge_image_config(&mut config, ic);
        let args = spec::command(
            ic.entrypoint.as_deref().unwrap_or(&[]),
            ic.cmd.as_deref().unwrap_or(&[]),
            config.entrypoint.as_deref(),
            config.cmd.as_deref(),
        );
        if args.is_empty() {
            return Err(ApiError::bad("no command specified"));
        }
        let id = store::new_id();
        if config.hostname.is_empty() && host.run.uts_mode == "host" {
            config.hostname = nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default();
        } else if config.hostname.is_empty() {
            config.hostname = id[..12].to_string();
        }
        if config.stop_signal.is_none() {
            config.stop_signal = ic.stop_signal.clone();
        }
        let image_volumes = ic.volumes.iter().flat_map(|m| m.keys()).cloned().collect();
        let c = Container {
            id,
            name: name.unwrap_or_default(),
            created: logs::now(),
            image_name: config.image.clone(),
            image: image.id.to_string(),
            manifest: image.manifest_digest.to_string(),
            path: args[0].clone(),
            args: args[1..].to_vec(),
            networks,
            ..new_record(config, host)
        };
        Ok((c, image_volumes, warnings))
    }
}

/// The image's run config under the request's, as dockerd merges them at
/// create (so inspect shows them, and a later image change does not
/// change the container): `User`, `WorkingDir`, the `Env` variables the
/// request does not set, the `Labels` it does not set, the `Healthcheck`
/// under the request's, and `Entrypoint`/`Cmd` by Docker's rule (the
/// image's `Cmd` only when the request names neither).
pub fn merge_image_config(
    config: &mut ContainerConfig,
    ic: &rrun_image::manifest::ContainerConfig,
) {
    if config.user.is_empty() {
        config.user = ic.user.clone().unwrap_or_default();
    }
    if config.working_dir.is_empty() {
        config.working_dir = ic.working_dir.clone().unwrap_or_default();
    }
    let key = |e: &String| e.split('=').next().unwrap_or_default().to_string();
    let set: std::collections::BTreeSet<String> = config.env.iter().map(key).collect();
    for e in ic.env.iter().flatten() {
        if !set.contains(&key(e)) {
            config.env.push(e.clone());
        }
    }
    for (k, v) in ic.labels.iter().flatten() {
        config.labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    config.healthcheck = super::health::merge(config.healthcheck.take(), ic.healthcheck.as_ref());
    if config.entrypoint.as_ref().is_none_or(Vec::is_empty) {
        if config.cmd.as_ref().is_none_or(Vec::is_empty) {
            config.cmd = ic.cmd.clone();
        }
        if config.entrypoint.is_none() {
            config.entrypoint = ic.entrypoint.clone();
        }
    }
}

/// A record in Docker's `created` state.
fn new_record(config: ContainerConfig, host_config: HostConfig) -> Container {
    Container {
        config,
        host_config,
        state: State {
            status: "created".into(),
            started_at: store::ZERO_TIME.into(),
            finished_at: store::ZERO_TIME.into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The host config's own checks (pure but for the host facts given):
/// extra hosts, the run options with Docker's messages and defaults, and
/// auto-remove against a restart policy. Returns the warnings.
pub fn check_host_config(
    host: &mut HostConfig,
    hostname: &str,
    facts: &runopts::Host,
) -> ApiResult<Vec<String>> {
    for h in &host.extra_hosts {
        h.parse::<netd::resolv::ExtraHost>()
            .map_err(|e| ApiError::bad(e.to_string()))?;
    }
    let warnings = runopts::validate(&mut host.run, facts).map_err(ApiError::bad)?;
    runopts::validate_modes(&mut host.run, hostname).map_err(ApiError::bad)?;
    if host.auto_remove && !host.run.restart_policy.is_none() {
        return Err(ApiError::bad(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    Ok(warnings)
}

/// The name asked for (without its `/`), checked; None for a random one.
pub fn container_name(name: Option<&str>) -> ApiResult<Option<String>> {
    match name.map(|n| n.trim_start_matches('/')) {
        Some(n) if !n.is_empty() => {
            if !store::valid_name(n) {
                return Err(ApiError::bad(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
            Ok(Some(n.to_string()))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    #[test]
    fn the_images_config_fills_what_the_request_leaves_out() {
        let ic: rrun_image::manifest::ContainerConfig = serde_json::from_value(serde_json::json!({
            "User": "nobody", "WorkingDir": "/srv", "Env": ["PATH=/bin", "A=image", "B=image"],
            "Labels": {"from": "image", "both": "image"}, "Entrypoint": ["/init"], "Cmd": ["serve"]
        }))
        .unwrap();
        let mut c = ContainerConfig {
            env: vec!["A=user".into()],
            labels: [("both".to_string(), "user".to_string())].into(),
            ..Default::default()
        };
        merge_image_config(&mut c, &ic);
        assert_eq!(c.user, "nobody");
        assert_eq!(c.working_dir, "/srv");
        assert_eq!(c.env, ["A=user", "PATH=/bin", "B=image"]);
        assert_eq!(c.labels["both"], "user");
        assert_eq!(c.labels["from"], "image");
        assert_eq!(c.entrypoint, Some(vec!["/init".to_string()]));
        assert_eq!(c.cmd, Some(vec!["serve".to_string()]));
        // A command of the request's own keeps the image's entrypoint only.
        let mut c = ContainerConfig {
            user: "0".into(),
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        merge_image_config(&mut c, &ic);
        assert_eq!(c.user, "0");
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(c.entrypoint, Some(vec!["/init".to_string()]));
        // `--entrypoint ""`: no entrypoint, the image's command.
        let mut c = ContainerConfig {
            entrypoint: Some(vec![]),
            ..Default::default()
        };
        merge_image_config(&mut c, &ic);
        assert_eq!(c.entrypoint, Some(vec![]));
        assert_eq!(c.cmd, Some(vec!["serve".to_string()]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_config(json: serde_json::Value) -> HostConfig {
        serde_json::from_value(json).unwrap()
    }

    fn facts() -> runopts::Host {
        runopts::Host {
            ncpu: 2,
            caps: runopts::grantable_caps(40, u64::MAX),
            arch: "amd64".into(),
            kernel: (6, 1),
            swap_limit: true,
            io: Default::default(),
        }
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(container_name(Some("/web")).unwrap(), Some("web".into()));
        assert_eq!(container_name(Some("")).unwrap(), None);
        assert_eq!(container_name(None).unwrap(), None);
        let e = container_name(Some("bad name")).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(
            e.message.contains("Invalid container name (bad name)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn host_config_errors_are_clear_and_400() {
        for (json, want) in [
            (
                serde_json::json!({"CapAdd": ["NOPE"]}),
                "unknown capability: \"CAP_NOPE\"",
            ),
            (
                serde_json::json!({"Ulimits": [{"Name": "nofile", "Soft": 3, "Hard": 2}]}),
                "ulimit soft limit must be less than or equal to hard limit",
            ),
            (serde_json::json!({"ExtraHosts": ["nocolon"]}), "nocolon"),
            (
                serde_json::json!({"AutoRemove": true, "RestartPolicy": {"Name": "always"}}),
                "can't create 'AutoRemove' container with restart policy",
            ),
            (
                serde_json::json!({"Memory": 1024}),
                "Minimum memory limit allowed is 6MB",
            ),
        ] {
            let mut h = host_config(json.clone());
            let e = check_host_config(&mut h, "", &facts()).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{json}");
            assert!(e.message.contains(want), "{json}: {}", e.message);
        }
        let mut ok = host_config(serde_json::json!({"CapAdd": ["NET_ADMIN"], "Memory": 64 << 20}));
        check_host_config(&mut ok, "", &facts()).unwrap();
    }
}

/// The endpoint settings with HostConfig.Links and an old API's
/// Config.MacAddress put on the container's own network, where Docker
/// applies them.
fn own_network_settings(
    config: &ContainerConfig,
    host: &HostConfig,
    mut endpoints: BTreeMap<String, EndpointSettings>,
) -> BTreeMap<String, EndpointSettings> {
    if host.links.is_empty() && config.mac_address.is_empty() {
        return endpoints;
    }
    let mode = match host.network_mode.as_str() {
        "" | "default" => "bridge",
        m => m,
    };
    let key = if endpoints.contains_key("default") {
        "default"
    } else {
        mode
    };
    let ep = endpoints.entry(key.to_string()).or_default();
    ep.links.extend(host.links.iter().cloned());
    if ep.mac_address.is_empty() {
        ep.mac_address = config.mac_address.clone();
    }
    endpoints
}
