//! The planner without root and without a daemon: a fake [`Lookup`] over
//! fixed images, networks and containers that logs every question asked.
//! The trait has no method that makes anything, so a refused plan has
//! made nothing; the log shows the planner stopped at the refused check.

use std::cell::RefCell;
use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{json, Value};
use volumes::plan::{PlannedMount, PlannedSource};
use volumes::VolumeName;

use super::*;
use crate::daemon::models::LogConfig;

mod bad;
mod good;

pub const DB_ID: &str = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";

pub struct Fake {
    images: BTreeMap<String, ImageFacts>,
    networks: Vec<netd::store::Network>,
    containers: Vec<Container>,
    /// Names held in the index → holder id.
    names: BTreeMap<String, String>,
    block_devices: BTreeMap<String, (i64, i64)>,
    /// Every question, in order: `image busybox`, `network appnet`, …
    pub asked: RefCell<Vec<String>>,
}

fn network(name: &str, n: u8, driver: &str, subnets: &[(&str, &str)]) -> netd::store::Network {
    let config: Vec<Value> = subnets
        .iter()
        .map(|(s, g)| json!({"Subnet": s, "Gateway": g}))
        .collect();
    serde_json::from_value(json!({
        "Name": name, "Id": format!("{n:02x}").repeat(32), "Driver": driver,
        "IPAM": {"Driver": "default", "Config": config},
        "EnableIPv6": subnets.len() > 1,
    }))
    .unwrap()
}

fn volume_mount(name: &str, dest: &str) -> PlannedMount {
    PlannedMount {
        destination: dest.into(),
        source: PlannedSource::Volume {
            name: VolumeName::try_from(name).unwrap(),
            anonymous: false,
            nocopy: false,
            driver: None,
            driver_opts: Default::default(),
            labels: Default::default(),
        },
        readonly: false,
        propagation: None,
        relabel: None,
    }
}

impl Fake {
    /// Images `busybox` (`Cmd ["sh"]`, `EXPOSE 80`), `withvol` (`VOLUME
    /// /cache`) and `nocmd`; networks `bridge` (the default), `appnet`
    /// (IPv4), `v6net` (IPv4 and IPv6) and `host`; a container `db` with
    /// the volume `dbdata` at /data; the name `taken` held.
    pub fn new() -> Fake {
        let image = |cfg: Value| ImageFacts {
            id: "sha256:".to_string() + &"ab".repeat(32),
            manifest_digest: "sha256:".to_string() + &"cd".repeat(32),
            config: serde_json::from_value(cfg).unwrap(),
        };
        let images = BTreeMap::from([
            (
                "busybox".to_string(),
                image(json!({"Cmd": ["sh"], "ExposedPorts": {"80/tcp": {}}})),
            ),
            (
                "withvol".to_string(),
                image(json!({"Cmd": ["sh"], "Volumes": {"/cache": {}}})),
            ),
            ("nocmd".to_string(), image(json!({}))),
        ]);
        let networks = vec![
            network("bridge", 1, "bridge", &[("172.17.0.0/16", "172.17.0.1")]),
            network("appnet", 2, "bridge", &[("172.30.0.0/24", "172.30.0.1")]),
            network(
                "v6net",
                3,
                "bridge",
                &[
                    ("172.31.0.0/24", "172.31.0.1"),
                    ("fd00:1::/64", "fd00:1::1"),
                ],
            ),
            network("host", 4, "host", &[]),
        ];
        let db = Container {
            id: DB_ID.into(),
            name: "db".into(),
            mounts: vec![volume_mount("dbdata", "/data")],
            ..Default::default()
        };
        Fake {
            images,
            networks,
            containers: vec![db],
            names: BTreeMap::from([("taken".to_string(), "abc123".to_string())]),
            block_devices: BTreeMap::from([("/dev/sda".to_string(), (8, 0))]),
            asked: RefCell::default(),
        }
    }

    fn ask(&self, q: String) {
        self.asked.borrow_mut().push(q);
    }

    /// The questions asked, and nothing else happened.
    pub fn asked(&self) -> Vec<String> {
        self.asked.borrow().clone()
    }
}

impl Lookup for Fake {
    fn image(&self, reference: &str) -> Result<ImageFacts, ApiError> {
        self.ask(format!("image {reference}"));
        self.images
            .get(reference)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such image: {reference}")))
    }

    fn network(&self, name: &str) -> Result<netd::store::Network, ApiError> {
        self.ask(format!("network {name}"));
        let missing = netd::NetdError::Store(netd::store::StoreError::NotFound(name.into()));
        self.networks
            .iter()
            .find(|n| n.name.as_str() == name || n.id.as_str() == name)
            .cloned()
            .ok_or_else(|| crate::daemon::networks::net_err(missing).into())
    }

    fn container(&self, name: &str) -> Result<Container, ApiError> {
        self.ask(format!("container {name}"));
        let bare = name.trim_start_matches('/');
        self.containers
            .iter()
            .find(|c| c.name == bare || c.id.starts_with(bare))
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such container: {bare}")))
    }

    fn name_holder(&self, name: &ContainerName) -> Option<String> {
        self.ask(format!("name {name}"));
        self.names.get(name.as_str()).cloned()
    }

    fn block_device(&self, path: &str) -> Result<(i64, i64), String> {
        self.ask(format!("block device {path}"));
        self.block_devices
            .get(path)
            .copied()
            .ok_or_else(|| "No such file or directory".to_string())
    }

    fn check_propagation(&self, mounts: &[PlannedMount]) -> Result<(), ApiError> {
        self.ask(format!("propagation of {} mounts", mounts.len()));
        Ok(())
    }

    fn log_config(&self, own: Option<LogConfig>) -> Result<Option<LogConfig>, String> {
        self.ask("log config".into());
        crate::daemon::containers::logopts::with_defaults(
            own,
            std::path::Path::new("/nonexistent/daemon.json"),
        )
    }
}

/// A 2-CPU amd64 host on kernel 6.1 with swap limits and every block IO
/// limit.
pub fn facts() -> Facts {
    Facts {
        host: runopts::Host {
            ncpu: 2,
            caps: runopts::grantable_caps(40, u64::MAX),
            arch: "amd64".into(),
            kernel: (6, 1),
            swap_limit: true,
            io: runopts::IoSupport {
                weight: true,
                weight_device: true,
                throttle: true,
            },
        },
        hostname: "testhost".into(),
        default_cgroupns_mode: "private".into(),
    }
}

/// A create body: `{"Image": "busybox"}` under the fields given.
pub fn body(fields: Value) -> CreateBody {
    let mut b = json!({"Image": "busybox"});
    for (k, v) in fields.as_object().unwrap() {
        b[k] = v.clone();
    }
    serde_json::from_value(b).unwrap()
}

/// The plan of a create that must pass.
pub fn ok(name: Option<&str>, fields: Value) -> ContainerPlan {
    let fake = Fake::new();
    plan(name, body(fields.clone()), &fake, &facts()).unwrap_or_else(|e| panic!("{fields}: {e}"))
}

/// A create that must be refused: its status and message as a client
/// sees them, and the questions asked.
pub fn refused(name: Option<&str>, fields: Value) -> (StatusCode, String, Vec<String>) {
    let fake = Fake::new();
    let e = plan(name, body(fields.clone()), &fake, &facts())
        .err()
        .unwrap_or_else(|| panic!("{fields}: planned"));
    let e = ApiError::from(e);
    (e.status, e.message, fake.asked())
}
