//! The parts of `docker inspect`'s view of a container that are more than
//! what it was created with.

use std::path::PathBuf;

use serde::Serialize;

use super::health::Health;
use crate::apimodel::models::MountPoint;
use crate::apimodel::network::NetworkSettings;
use crate::daemon::models::{ContainerConfig, HostConfig};

/// `GET /containers/{id}/json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect<'a> {
    pub id: &'a str,
    pub created: &'a str,
    pub path: &'a str,
    pub args: &'a [String],
    pub state: InspectState<'a>,
    pub image: &'a str,
    pub resolv_conf_path: PathBuf,
    pub hostname_path: PathBuf,
    pub hosts_path: PathBuf,
    pub log_path: PathBuf,
    pub name: String,
    /// `null` when the container has no exec, as dockerd.
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub restart_count: i64,
    pub driver: &'static str,
    pub platform: &'static str,
    pub config: &'a ContainerConfig,
    pub host_config: HostConfigView<'a>,
    pub mounts: Vec<MountPoint>,
    pub network_settings: NetworkSettings,
}

/// `State` of `docker inspect`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectState<'a> {
    pub status: &'a str,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: &'a str,
    pub started_at: &'a str,
    pub finished_at: &'a str,
    /// As Docker's, present once a container with a check has started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<&'a Health>,
}

/// `HostConfig` as `docker inspect` shows it: what was asked, and dockerd's
/// values for the fields rrun has no option for (clients such as docker-py
/// and compose read them by key).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfigView<'a> {
    #[serde(flatten)]
    pub asked: &'a HostConfig,
    pub runtime: &'static str,
    pub device_cgroup_rules: Option<Vec<String>>,
    pub isolation: &'static str,
    pub memory_swappiness: Option<i64>,
    pub volume_driver: &'static str,
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: &'static str,
    pub cgroup_parent: &'static str,
    pub cgroup: &'static str,
    pub oom_kill_disable: bool,
}

impl<'a> HostConfigView<'a> {
    pub fn new(asked: &'a HostConfig) -> HostConfigView<'a> {
        HostConfigView {
            asked,
            runtime: "rrun-oci",
            device_cgroup_rules: None,
            isolation: "",
            memory_swappiness: None,
            volume_driver: "",
            container_id_file: "",
            cgroup_parent: "",
            cgroup: "",
            oom_kill_disable: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_has_dockers_keys_once() {
        let mut h = HostConfig::default();
        h.run.pid_mode = "host".into();
        let v = serde_json::to_value(HostConfigView::new(&h)).unwrap();
        for k in [
            "PidMode",
            "IpcMode",
            "UTSMode",
            "Runtime",
            "CgroupnsMode",
            "BlkioWeight",
            "BlkioDeviceReadBps",
            "DeviceCgroupRules",
            "Isolation",
            "MemorySwappiness",
            "VolumeDriver",
            "Privileged",
            "ReadonlyRootfs",
            "RestartPolicy",
            "ShmSize",
            "NetworkMode",
        ] {
            assert!(v.get(k).is_some(), "{k} missing: {v}");
        }
        assert_eq!(v["PidMode"], "host");
        let text = serde_json::to_string(&HostConfigView::new(&h)).unwrap();
        assert_eq!(text.matches("\"PidMode\"").count(), 1);
        assert_eq!(text.matches("\"CgroupnsMode\"").count(), 1);
    }

    #[test]
    fn state_has_dockers_keys_and_health_only_when_checked() {
        let st = InspectState {
            status: "exited",
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 0,
            exit_code: 3,
            error: "",
            started_at: "0001-01-01T00:00:00Z",
            finished_at: "0001-01-01T00:00:00Z",
            health: None,
        };
        let v = serde_json::to_value(&st).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys.len(),
            11,
            "Status, Running, Paused, Restarting, OOMKilled, Dead, Pid, ExitCode, Error, StartedAt, FinishedAt: {v}"
        );
        assert_eq!(v["OOMKilled"], false);
        assert_eq!(v["ExitCode"], 3);
        assert!(v.get("Health").is_none());
    }
}
