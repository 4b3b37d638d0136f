//! A container's mounts and the volume API, through the `volumes` crate:
//! `-v`, `--mount`, `--tmpfs`, `--volumes-from` and the image's `VOLUME`s
//! are planned at create (named volumes are created then, as Docker does),
//! the image's content is copied into new volumes at the first start, and
//! the container stays a user of its volumes until it is removed.

use volumes::mountspec::{self, MountSpec, SpecError};
use volumes::plan::{self, MountRequest, PlannedMount, PlannedSource};
use volumes::{StoreError, VolumeName};

#[cfg(test)]
use super::models::TmpfsOptions;
use super::models::{ApiMount, ContainerConfig, HostConfig, VolumeCreateBody, VolumeList};
use super::{Daemon, Filters, VolumeError};
use crate::apimodel::models::MountPoint;

/// A bad name, option or filter, in its own words.
fn invalid(e: impl std::fmt::Display) -> VolumeError {
    VolumeError::InvalidOption(e.to_string())
}

/// `HostConfig.Mounts[]` back to the `--mount` grammar the volumes crate
/// parses, so both paths share one set of checks.
pub fn api_mount_to_spec(m: &ApiMount) -> Result<MountSpec, SpecError> {
    let mut parts = vec![format!(
        "type={}",
        if m.typ.is_empty() { "volume" } else { &m.typ }
    )];
    if !m.source.is_empty() {
        parts.push(format!("source={}", m.source));
    }
    parts.push(format!("target={}", m.target));
    if m.read_only {
        parts.push("readonly".into());
    }
    if let Some(b) = &m.bind_options {
        if let Some(p) = b.propagation.as_deref().filter(|p| !p.is_empty()) {
            parts.push(format!("bind-propagation={p}"));
        }
        if b.non_recursive == Some(true) {
            parts.push("bind-nonrecursive=true".into());
        }
    }
    if let Some(v) = &m.volume_options {
        if v.no_copy == Some(true) {
            parts.push("volume-nocopy=true".into());
        }
        for (k, val) in v.labels.iter().flatten() {
            parts.push(format!("volume-label={k}={val}"));
        }
        let opts = v.driver_config.as_ref().and_then(|d| d.options.as_ref());
        for (k, val) in opts.into_iter().flatten() {
            parts.push(format!("volume-opt={k}={val}"));
        }
    }
    if let Some(t) = &m.tmpfs_options {
        if let Some(s) = t.size_bytes {
            parts.push(format!("tmpfs-size={s}"));
        }
        if let Some(mode) = t.mode {
            parts.push(format!("tmpfs-mode={mode:o}"));
        }
    }
    // Values with commas would need the CSV quoting the CLI uses.
    let raw = parts
        .iter()
        .map(|p| {
            if p.contains(',') {
                format!("\"{}\"", p.replace('"', "\"\""))
            } else {
                p.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    mountspec::parse_mount_flag(&raw)
}

/// Pure: every mount flag of a create body, parsed.
pub fn mount_request(
    config: &ContainerConfig,
    host: &HostConfig,
    image_volumes: &[String],
) -> Result<MountRequest, SpecError> {
    let mut specs = Vec::new();
    for b in &host.binds {
        specs.push(mountspec::parse_volume_flag(b)?);
    }
    // `-v /path` arrives as Config.Volumes from the docker CLI.
    for path in config.volumes.keys() {
        let bound = specs
            .iter()
            .any(|s: &MountSpec| s.target == mountspec::clean_path(path));
        if !bound {
            specs.push(mountspec::parse_volume_flag(path)?);
        }
    }
    for m in &host.mounts {
        specs.push(api_mount_to_spec(m)?);
    }
    for (path, opts) in &host.tmpfs {
        let raw = if opts.is_empty() {
            path.clone()
        } else {
            format!("{path}:{opts}")
        };
        specs.push(mountspec::parse_tmpfs_flag(&raw)?);
    }
    let volumes_from = host
        .volumes_from
        .iter()
        .map(|v| mountspec::parse_volumes_from(v))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MountRequest {
        specs,
        image_volumes: image_volumes.to_vec(),
        volumes_from,
    })
}

/// `Mounts` of `docker inspect` and `docker ps`: `Name` and `Driver`
/// only for a volume (`omitempty` in dockerd).
pub fn mounts_json(
    mounts: &[PlannedMount],
    data_path: impl Fn(&VolumeName) -> std::path::PathBuf,
) -> Vec<MountPoint> {
    mounts
        .iter()
        .map(|m| {
            let rw = !m.readonly;
            let point = |typ: &str, source: String, mode: &str, propagation: &str| MountPoint {
                typ: Some(typ.into()),
                source: Some(source),
                destination: Some(m.destination.clone()),
                mode: Some(mode.into()),
                rw: Some(rw),
                propagation: Some(propagation.into()),
                ..Default::default()
            };
            match &m.source {
                PlannedSource::Bind { source, .. } => point(
                    "bind",
                    source.display().to_string(),
                    if rw { "" } else { "ro" },
                    m.propagation.map(|p| p.as_str()).unwrap_or("rprivate"),
                ),
                PlannedSource::Volume { name, driver, .. } => MountPoint {
                    name: Some(name.to_string()),
                    driver: Some(driver.as_deref().unwrap_or("local").to_string()),
                    ..point(
                        "volume",
                        data_path(name).display().to_string(),
                        if rw { "z" } else { "ro" },
                        "",
                    )
                },
                PlannedSource::Tmpfs { .. } => point("tmpfs", String::new(), "", ""),
            }
        })
        .collect()
}

/// Each bind's propagation is one its source's host mount can give
/// (checked at create, nothing made, and again at start: the host's mounts
/// may have changed).
pub(super) fn check_propagation(mounts: &[PlannedMount]) -> Result<(), VolumeError> {
    for m in mounts {
        if let (plan::PlannedSource::Bind { source, .. }, Some(p)) = (&m.source, m.propagation) {
            volumes::propagation::check(source, p).map_err(VolumeError::InvalidOption)?;
        }
    }
    Ok(())
}

/// The container root's propagation the binds need (`shared` for a
/// shared bind, `rslave` for a slave one), as Docker sets it.
pub(super) fn root_propagation(mounts: &[PlannedMount]) -> Option<&'static str> {
    volumes::propagation::root_propagation(mounts.iter().filter_map(|m| match m.source {
        plan::PlannedSource::Bind { .. } => m.propagation,
        _ => None,
    }))
}

impl Daemon {
    /// The OCI mounts of a container's planned mounts.
    pub(super) fn oci_mounts(&self, mounts: &[PlannedMount]) -> Vec<oci_spec::runtime::Mount> {
        plan::to_oci_mounts(mounts, |n| self.volumes.data_path(n))
    }

    pub fn volume_create(&self, body: VolumeCreateBody) -> Result<volumes::Volume, VolumeError> {
        let name = match body.name.as_deref() {
            None | Some("") => None,
            Some(n) => Some(VolumeName::try_from(n).map_err(invalid)?),
        };
        let req = volumes::CreateRequest {
            name,
            driver: body.driver.filter(|d| !d.is_empty()),
            driver_opts: body.driver_opts.unwrap_or_default(),
            labels: body.labels.unwrap_or_default(),
        };
        let v = self.volumes.create(&req).map_err(VolumeError::from)?;
        self.events.emit(
            "volume",
            "create",
            &v.name.to_string(),
            &[("driver", "local")],
        );
        tracing::info!(volume = %v.name, "volume created");
        Ok(v)
    }

    pub fn volume_list(&self, filters: &Filters) -> Result<VolumeList, VolumeError> {
        let f = volumes::filters::ListFilters::parse(&filters.0).map_err(invalid)?;
        let list = self.volumes.list(&f).map_err(VolumeError::from)?;
        Ok(VolumeList {
            volumes: list,
            warnings: Vec::new(),
        })
    }

    pub fn volume_inspect(&self, name: &str) -> Result<volumes::Volume, VolumeError> {
        let n =
            VolumeName::try_from(name).map_err(|_| VolumeError::NoSuchVolume(name.to_string()))?;
        self.volumes.get(&n).map_err(VolumeError::from)
    }

    pub fn volume_remove(&self, name: &str, force: bool) -> Result<(), VolumeError> {
        let n =
            VolumeName::try_from(name).map_err(|_| VolumeError::NoSuchVolume(name.to_string()))?;
        match self.volumes.remove(&n, force) {
            Err(StoreError::NotFound(_)) if force => Ok(()),
            r => r.map_err(VolumeError::from),
        }?;
        self.events
            .emit("volume", "destroy", name, &[("driver", "local")]);
        tracing::info!(volume = %name, "volume removed");
        Ok(())
    }

    pub fn volume_prune(&self, filters: &Filters) -> Result<volumes::PruneReport, VolumeError> {
        let f = volumes::filters::PruneFilters::parse(&filters.0).map_err(invalid)?;
        self.volumes.prune(&f).map_err(VolumeError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_mounts_parse_like_the_flag() {
        let m = ApiMount {
            typ: "volume".into(),
            source: "data".into(),
            target: "/data".into(),
            read_only: true,
            ..Default::default()
        };
        let s = api_mount_to_spec(&m).unwrap();
        assert_eq!(s.target, "/data");
        assert!(s.readonly);
        let m = ApiMount {
            typ: "tmpfs".into(),
            target: "/run".into(),
            tmpfs_options: Some(TmpfsOptions {
                size_bytes: Some(1048576),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(api_mount_to_spec(&m).unwrap().kind.type_name(), "tmpfs");
        let bad = ApiMount {
            typ: "volume".into(),
            source: "../x".into(),
            target: "/x".into(),
            ..Default::default()
        };
        assert!(api_mount_to_spec(&bad).is_err());
    }

    #[test]
    fn mount_options_are_read_from_the_body_as_docker_clients_send_them() {
        let m: ApiMount = serde_json::from_value(json!({
            "Type": "volume", "Source": "v", "Target": "/v",
            "VolumeOptions": {"NoCopy": true, "Labels": {"a": "1"},
                              "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs", "device": "tmpfs"}}},
            "BindOptions": null, "TmpfsOptions": {"SizeBytes": null, "Mode": null}
        }))
        .unwrap();
        match api_mount_to_spec(&m).unwrap().kind {
            volumes::mountspec::MountKind::Volume {
                nocopy,
                driver_opts,
                labels,
                ..
            } => {
                assert!(nocopy);
                assert_eq!(driver_opts["type"], "tmpfs");
                assert_eq!(labels["a"], "1");
            }
            k => panic!("{k:?}"),
        }
        let m: ApiMount = serde_json::from_value(json!({
            "Type": "bind", "Source": "/srv", "Target": "/srv",
            "BindOptions": {"Propagation": "upward"}
        }))
        .unwrap();
        let err = api_mount_to_spec(&m).unwrap_err().to_string();
        assert!(err.contains("upward"), "{err}");
        let m: ApiMount = serde_json::from_value(json!({
            "Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 65536, "Mode": 448}
        }))
        .unwrap();
        assert_eq!(api_mount_to_spec(&m).unwrap().kind.type_name(), "tmpfs");
    }

    #[test]
    fn anonymous_volumes_from_config_volumes() {
        let mut c = ContainerConfig::default();
        c.volumes
            .insert("/var/lib/mysql".into(), Default::default());
        let h = HostConfig {
            binds: vec!["db:/data".into()],
            tmpfs: [("/run".to_string(), "size=1m".to_string())].into(),
            ..Default::default()
        };
        let r = mount_request(&c, &h, &["/image-vol".into()]).unwrap();
        assert_eq!(r.specs.len(), 3);
        assert_eq!(r.image_volumes, vec!["/image-vol".to_string()]);
        let bad = HostConfig {
            binds: vec!["bad name:/data".into()],
            ..Default::default()
        };
        assert!(mount_request(&c, &bad, &[]).is_err());
    }
}
