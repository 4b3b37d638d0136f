//! The parts of `docker inspect`'s view of a container that are more than
//! what it was created with.

use serde::Serialize;

use crate::daemon::models::HostConfig;

/// `HostConfig` as `docker inspect` shows it: what was asked, and dockerd's
/// values for the fields rrun has no option for (clients such as docker-py
/// and compose read them by key).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfigView<'a> {
    #[serde(flatten)]
    pub asked: &'a HostConfig,
    pub runtime: &'static str,
    pub cgroupns_mode: &'static str,
    pub device_cgroup_rules: Option<Vec<String>>,
    pub isolation: &'static str,
    pub memory_swappiness: Option<i64>,
    pub volume_driver: &'static str,
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: &'static str,
    pub cgroup_parent: &'static str,
    pub cgroup: &'static str,
    pub blkio_weight: u16,
    pub oom_kill_disable: bool,
}

impl<'a> HostConfigView<'a> {
    pub fn new(asked: &'a HostConfig) -> HostConfigView<'a> {
        let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        HostConfigView {
            asked,
            runtime: "rrun-oci",
            // dockerd's default: a cgroup namespace of its own on cgroup v2.
            cgroupns_mode: if v2 { "private" } else { "host" },
            device_cgroup_rules: None,
            isolation: "",
            memory_swappiness: None,
            volume_driver: "",
            container_id_file: "",
            cgroup_parent: "",
            cgroup: "",
            blkio_weight: 0,
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
    }
}
