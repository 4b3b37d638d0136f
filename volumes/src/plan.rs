//! Pure: from what the user asked for (`-v`, `--mount`, `--tmpfs`,
//! `--volumes-from`) and what the image declares (`VOLUME`) to the list of
//! mounts a container gets, then to OCI mounts.
//!
//! Precedence is Docker's: mounts taken from `--volumes-from` come first
//! (a later container wins over an earlier one at the same destination), the
//! user's own mounts replace them, two of the user's own mounts at one
//! destination are an error ("Duplicate mount point: /x"), and an image
//! `VOLUME` becomes an anonymous volume only where nothing else is mounted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;
use serde::{Deserialize, Serialize};

use crate::mountspec::{self, MountKind, MountSpec, Propagation, Relabel, SpecError, VolumesFrom};
use crate::name::VolumeName;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("Duplicate mount point: {0}")]
    DuplicateMountPoint(String),
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("invalid image volume {path:?}: {source}")]
    ImageVolume { path: String, source: SpecError },
}

/// Where a planned mount's content comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum PlannedSource {
    Bind {
        source: PathBuf,
        create_source: bool,
        nonrecursive: bool,
    },
    /// A volume of the store. `anonymous` volumes are the ones `rm -v`
    /// removes; `driver_opts`/`labels` apply only if the volume is created.
    Volume {
        name: VolumeName,
        anonymous: bool,
        nocopy: bool,
        /// `None` for the default (`local`).
        driver: Option<String>,
        driver_opts: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
    },
    Tmpfs {
        options: Vec<String>,
    },
}

/// One mount of a container, resolved. Serialisable, so the daemon can
/// keep it with the container (for `--volumes-from`, release and `rm -v`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedMount {
    pub destination: String,
    pub source: PlannedSource,
    pub readonly: bool,
    pub propagation: Option<Propagation>,
    pub relabel: Option<Relabel>,
}

impl PlannedMount {
    /// The volume this mount uses, if any.
    pub fn volume(&self) -> Option<&VolumeName> {
        match &self.source {
            PlannedSource::Volume { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Whether the image's content at the destination should be copied
    /// into the volume (the store still only copies into an empty volume).
    pub fn wants_copy_up(&self) -> bool {
        matches!(self.source, PlannedSource::Volume { nocopy: false, .. })
    }
}

/// Everything that decides a container's mounts.
#[derive(Debug, Clone, Default)]
pub struct MountRequest {
    /// `-v`, `--mount` and `--tmpfs`, parsed, in the order given.
    pub specs: Vec<MountSpec>,
    /// The image config's `Volumes` keys.
    pub image_volumes: Vec<String>,
    pub volumes_from: Vec<VolumesFrom>,
}

/// Plan a container's mounts.
///
/// `mounts_of` returns the planned mounts of another container (for
/// `--volumes-from`), `None` if there is no such container. `new_name`
/// names each anonymous volume (the daemon passes [`VolumeName::random`]).
/// The result is ordered so a parent directory is mounted before what is
/// mounted under it.
pub fn plan_mounts(
    request: &MountRequest,
    mounts_of: impl Fn(&str) -> Option<Vec<PlannedMount>>,
    mut new_name: impl FnMut() -> VolumeName,
) -> Result<Vec<PlannedMount>, PlanError> {
    let mut by_dest: BTreeMap<String, PlannedMount> = BTreeMap::new();

    for from in &request.volumes_from {
        let mounts = mounts_of(&from.container)
            .ok_or_else(|| PlanError::NoSuchContainer(from.container.clone()))?;
        for mut m in mounts {
            // A tmpfs belongs to its container; there is nothing to share.
            if matches!(m.source, PlannedSource::Tmpfs { .. }) {
                continue;
            }
            m.readonly |= from.force_readonly;
            by_dest.insert(m.destination.clone(), m);
        }
    }

    let mut user_dests = std::collections::BTreeSet::new();
    for spec in &request.specs {
        if !user_dests.insert(spec.target.clone()) {
            return Err(PlanError::DuplicateMountPoint(spec.target.clone()));
        }
        let source = match &spec.kind {
            MountKind::Bind {
                source,
                create_source,
                nonrecursive,
            } => PlannedSource::Bind {
                source: source.clone(),
                create_source: *create_source,
                nonrecursive: *nonrecursive,
            },
            MountKind::Volume {
                name,
                nocopy,
                driver,
                driver_opts,
                labels,
            } => PlannedSource::Volume {
                anonymous: name.is_none(),
                name: name.clone().unwrap_or_else(&mut new_name),
                nocopy: *nocopy,
                driver: driver.clone(),
                driver_opts: driver_opts.clone(),
                labels: labels.clone(),
            },
            MountKind::Tmpfs { options } => PlannedSource::Tmpfs {
                options: options.clone(),
            },
        };
        by_dest.insert(
            spec.target.clone(),
            PlannedMount {
                destination: spec.target.clone(),
                source,
                readonly: spec.readonly,
                propagation: spec.propagation,
                relabel: spec.relabel,
            },
        );
    }

    for path in &request.image_volumes {
        let dest = image_volume_target(path)?;
        by_dest.entry(dest.clone()).or_insert_with(|| PlannedMount {
            destination: dest,
            source: PlannedSource::Volume {
                name: new_name(),
                anonymous: true,
                nocopy: false,
                driver: None,
                driver_opts: BTreeMap::new(),
                labels: BTreeMap::new(),
            },
            readonly: false,
            propagation: None,
            relabel: None,
        });
    }

    let mut mounts: Vec<PlannedMount> = by_dest.into_values().collect();
    // Parents before children; the BTreeMap already made the order stable.
    mounts.sort_by_key(|m| depth(&m.destination));
    Ok(mounts)
}

fn image_volume_target(path: &str) -> Result<String, PlanError> {
    let err = |source| PlanError::ImageVolume {
        path: path.to_string(),
        source,
    };
    if !path.starts_with('/') {
        return Err(err(SpecError::NotAbsolute(path.to_string())));
    }
    let clean = mountspec::clean_path(path);
    if clean == "/" {
        return Err(err(SpecError::TargetIsRoot));
    }
    Ok(clean)
}

fn depth(path: &str) -> usize {
    path.split('/').filter(|p| !p.is_empty()).count()
}

/// Docker's defaults for a tmpfs in a container.
const TMPFS_DEFAULTS: [&str; 3] = ["nosuid", "nodev", "noexec"];

/// Turn planned mounts into OCI mounts. `volume_path` gives the host
/// directory of a volume (the store's [`crate::VolumeStore::data_path`]).
pub fn to_oci_mounts(
    mounts: &[PlannedMount],
    volume_path: impl Fn(&VolumeName) -> PathBuf,
) -> Vec<Mount> {
    mounts
        .iter()
        .map(|m| to_oci_mount(m, &volume_path))
        .collect()
}

fn to_oci_mount(m: &PlannedMount, volume_path: &impl Fn(&VolumeName) -> PathBuf) -> Mount {
    let rw = if m.readonly { "ro" } else { "rw" };
    let (typ, source, options): (&str, PathBuf, Vec<String>) = match &m.source {
        PlannedSource::Bind {
            source,
            nonrecursive,
            ..
        } => {
            let bind = if *nonrecursive { "bind" } else { "rbind" };
            let prop = m.propagation.unwrap_or(Propagation::RPrivate).as_str();
            (
                "bind",
                source.clone(),
                vec![bind.to_string(), prop.to_string(), rw.to_string()],
            )
        }
        PlannedSource::Volume { name, .. } => (
            "bind",
            volume_path(name),
            vec![
                "rbind".into(),
                Propagation::RPrivate.as_str().into(),
                rw.into(),
            ],
        ),
        PlannedSource::Tmpfs { options } => {
            let mut all: Vec<String> = TMPFS_DEFAULTS
                .iter()
                .filter(|d| {
                    // An explicit `exec`/`suid`/`dev` overrides the default.
                    let opposite = d.trim_start_matches("no");
                    !options.iter().any(|o| o == opposite)
                })
                .map(|d| d.to_string())
                .collect();
            all.extend(options.iter().cloned());
            all.push(rw.to_string());
            ("tmpfs", PathBuf::from("tmpfs"), all)
        }
    };
    let mut mount = Mount::default();
    mount.set_destination(PathBuf::from(&m.destination));
    mount.set_typ(Some(typ.to_string()));
    mount.set_source(Some(source));
    mount.set_options(Some(options));
    mount
}

/// Convenience for callers holding a volumes directory.
pub fn volume_data_path(volumes_dir: &Path, name: &VolumeName) -> PathBuf {
    volumes_dir.join(name.as_str()).join("_data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mountspec::{
        parse_mount_flag, parse_tmpfs_flag, parse_volume_flag, parse_volumes_from,
    };

    fn names() -> impl FnMut() -> VolumeName {
        let mut n = 0;
        move || {
            n += 1;
            VolumeName::try_from(format!("anon{n}")).unwrap()
        }
    }

    fn no_containers(_: &str) -> Option<Vec<PlannedMount>> {
        None
    }

    fn request(specs: &[&str]) -> MountRequest {
        let specs = specs
            .iter()
            .map(|s| {
                if let Some(t) = s.strip_prefix("tmpfs ") {
                    parse_tmpfs_flag(t)
                } else if s.contains('=') {
                    parse_mount_flag(s)
                } else {
                    parse_volume_flag(s)
                }
                .unwrap()
            })
            .collect();
        MountRequest {
            specs,
            ..Default::default()
        }
    }

    #[test]
    fn duplicate_destinations_are_refused() {
        for pair in [
            ["a:/x", "b:/x"],
            ["a:/x", "/h:/x/"],
            ["type=bind,src=/h,dst=/x", "c:/x"],
            ["a:/x", "tmpfs /x"],
        ] {
            let err = plan_mounts(&request(&pair), no_containers, names()).unwrap_err();
            assert_eq!(err.to_string(), "Duplicate mount point: /x", "{pair:?}");
        }
    }

    #[test]
    fn image_volumes_become_anonymous_unless_covered() {
        let mut req = request(&["data:/var/lib/mysql"]);
        req.image_volumes = vec!["/var/lib/mysql".into(), "/logs/".into()];
        let plan = plan_mounts(&req, no_containers, names()).unwrap();
        assert_eq!(plan.len(), 2);
        let logs = plan.iter().find(|m| m.destination == "/logs").unwrap();
        assert!(
            matches!(&logs.source, PlannedSource::Volume { name, anonymous: true, .. } if name.as_str() == "anon1")
        );
        let db = plan
            .iter()
            .find(|m| m.destination == "/var/lib/mysql")
            .unwrap();
        assert!(
            matches!(&db.source, PlannedSource::Volume { name, anonymous: false, .. } if name.as_str() == "data")
        );
        assert!(db.wants_copy_up());
    }

    #[test]
    fn anonymous_v_gets_a_fresh_name() {
        let plan = plan_mounts(&request(&["/a", "/b"]), no_containers, names()).unwrap();
        let names: Vec<_> = plan
            .iter()
            .map(|m| m.volume().unwrap().to_string())
            .collect();
        assert_eq!(names, ["anon1", "anon2"]);
    }

    #[test]
    fn volumes_from_copies_volumes_and_binds() {
        let donor = plan_mounts(
            &request(&["data:/data", "/host:/bind:ro", "/anon", "tmpfs /scratch"]),
            no_containers,
            names(),
        )
        .unwrap();
        let lookup = |c: &str| (c == "donor").then(|| donor.clone());

        let mut req = MountRequest {
            volumes_from: vec![parse_volumes_from("donor").unwrap()],
            ..Default::default()
        };
        let plan = plan_mounts(&req, lookup, names()).unwrap();
        let dests: Vec<_> = plan
            .iter()
            .map(|m| (m.destination.as_str(), m.readonly))
            .collect();
        assert_eq!(dests, [("/anon", false), ("/bind", true), ("/data", false)]);
        assert_eq!(
            plan[0].volume().unwrap().as_str(),
            "anon1",
            "the donor's own volume is shared"
        );

        req.volumes_from = vec![parse_volumes_from("donor:ro").unwrap()];
        let plan = plan_mounts(&req, lookup, names()).unwrap();
        assert!(plan.iter().all(|m| m.readonly));

        // :rw does not make a read-only mount writable (Docker's rule).
        req.volumes_from = vec![parse_volumes_from("donor:rw").unwrap()];
        let plan = plan_mounts(&req, lookup, names()).unwrap();
        assert!(
            plan.iter()
                .find(|m| m.destination == "/bind")
                .unwrap()
                .readonly
        );

        // The user's own mount wins over the imported one, without error.
        let mut req = request(&["other:/data"]);
        req.volumes_from = vec![parse_volumes_from("donor").unwrap()];
        let plan = plan_mounts(&req, lookup, names()).unwrap();
        let data = plan.iter().find(|m| m.destination == "/data").unwrap();
        assert_eq!(data.volume().unwrap().as_str(), "other");

        req.volumes_from = vec![parse_volumes_from("ghost").unwrap()];
        let err = plan_mounts(&req, lookup, names()).unwrap_err();
        assert_eq!(err.to_string(), "No such container: ghost");
    }

    #[test]
    fn parents_are_mounted_first() {
        let plan = plan_mounts(
            &request(&["a:/x/y/z", "b:/x", "c:/x/y"]),
            no_containers,
            names(),
        )
        .unwrap();
        let d: Vec<_> = plan.iter().map(|m| m.destination.as_str()).collect();
        assert_eq!(d, ["/x", "/x/y", "/x/y/z"]);
    }

    #[test]
    fn oci_mounts() {
        let plan = plan_mounts(
            &request(&[
                "data:/data:ro",
                "/host:/h:rshared",
                "type=bind,src=/h2,dst=/h2,bind-nonrecursive",
                "tmpfs /t:size=1m,exec",
            ]),
            no_containers,
            names(),
        )
        .unwrap();
        let oci = to_oci_mounts(&plan, |n| volume_data_path(Path::new("/state/volumes"), n));
        let find = |d: &str| {
            oci.iter()
                .find(|m| m.destination() == Path::new(d))
                .unwrap()
        };
        let data = find("/data");
        assert_eq!(data.typ().as_deref(), Some("bind"));
        assert_eq!(
            data.source().as_deref(),
            Some(Path::new("/state/volumes/data/_data"))
        );
        assert_eq!(data.options().clone().unwrap(), ["rbind", "rprivate", "ro"]);
        assert_eq!(
            find("/h").options().clone().unwrap(),
            ["rbind", "rshared", "rw"]
        );
        assert_eq!(
            find("/h2").options().clone().unwrap(),
            ["bind", "rprivate", "rw"]
        );
        let t = find("/t");
        assert_eq!(t.typ().as_deref(), Some("tmpfs"));
        assert_eq!(
            t.options().clone().unwrap(),
            ["nosuid", "nodev", "size=1m", "exec", "rw"]
        );
    }
}
