//! The Docker Engine API types this daemon serves, with Docker's exact field
//! names. Only the fields rrund acts on are typed; unknown fields sent by
//! clients are ignored, as Docker ignores them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::apimodel::models::PortSummary;
use crate::apimodel::network;
use crate::apimodel::EmptyObject;

/// `Config` of a container (the create body minus HostConfig).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default)]
    pub hostname: String,
    /// `--mac-address` as API 1.43 and older send it (newer ones put it in
    /// the endpoint's settings); kept as given, shown by inspect.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    #[serde(default)]
    pub domainname: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub attach_stdin: bool,
    #[serde(default)]
    pub attach_stdout: bool,
    #[serde(default)]
    pub attach_stderr: bool,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub open_stdin: bool,
    /// Close the container's stdin when the attached client's input ends
    /// (`docker run -i` sets it; a later `docker attach` does not close).
    #[serde(default)]
    pub stdin_once: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub env: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub working_dir: String,
    #[serde(default, deserialize_with = "null_default")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// `-p`'s container ports and `EXPOSE`: `"80/tcp": {}`.
    #[serde(default, deserialize_with = "null_default")]
    pub exposed_ports: BTreeMap<String, EmptyObject>,
    /// Anonymous volumes (`-v /path`, as the docker CLI sends them).
    #[serde(default, deserialize_with = "null_default")]
    pub volumes: BTreeMap<String, EmptyObject>,
    /// `--health-*`, merged over the image's `HEALTHCHECK` at create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<rrun_image::Healthcheck>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    #[serde(default, deserialize_with = "null_default")]
    pub binds: Vec<String>,
    #[serde(default)]
    pub network_mode: String,
    #[serde(default)]
    pub auto_remove: bool,
    /// `--log-driver`/`--log-opt` (json-file with max-size, max-file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_config: Option<LogConfig>,
    /// `-p`: `"80/tcp": [{"HostIp": "", "HostPort": "8080"}]`.
    #[serde(default, deserialize_with = "null_default")]
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    /// `-P`.
    #[serde(default)]
    pub publish_all_ports: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub dns: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub dns_search: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub dns_options: Vec<String>,
    /// `--add-host name:ip`.
    #[serde(default, deserialize_with = "null_default")]
    pub extra_hosts: Vec<String>,
    /// `--mount`, in the API's object form.
    #[serde(default, deserialize_with = "null_default")]
    pub mounts: Vec<ApiMount>,
    /// `--tmpfs /path:opts`.
    #[serde(default, deserialize_with = "null_default")]
    pub tmpfs: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    pub volumes_from: Vec<String>,
    /// `--link name[:alias]`; `null` when none, as dockerd shows it.
    #[serde(
        default,
        deserialize_with = "null_default",
        serialize_with = "empty_as_null"
    )]
    pub links: Vec<String>,
    /// `[height, width]` of the terminal at start (API 1.42+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u16; 2]>,
    /// Resources, security, devices, restart policy…: [`super::runopts`].
    #[serde(flatten)]
    pub run: super::runopts::RunOptions,
}

/// `HostConfig.LogConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LogConfig {
    #[serde(default, rename = "Type")]
    pub typ: String,
    #[serde(default, rename = "Config", deserialize_with = "null_default")]
    pub config: BTreeMap<String, String>,
}

/// One host binding of a published port.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    #[serde(default, rename = "HostIp")]
    pub host_ip: String,
    #[serde(default)]
    pub host_port: String,
}

/// `HostConfig.Mounts[]` (`--mount`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiMount {
    #[serde(default, rename = "Type")]
    pub typ: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub bind_options: Option<BindOptions>,
    #[serde(default)]
    pub volume_options: Option<VolumeOptions>,
    #[serde(default)]
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// `Mounts[].BindOptions`. `Propagation` stays text (bollard's enum would
/// refuse a bad value as a JSON error): the `--mount` grammar checks it,
/// with Docker's message. Every field may be absent or null.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BindOptions {
    #[serde(default)]
    pub propagation: Option<String>,
    #[serde(default)]
    pub non_recursive: Option<bool>,
}

/// `Mounts[].VolumeOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeOptions {
    #[serde(default)]
    pub no_copy: Option<bool>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub driver_config: Option<VolumeDriverConfig>,
}

/// `Mounts[].VolumeOptions.DriverConfig` (only `local` exists here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeDriverConfig {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
}

/// `Mounts[].TmpfsOptions`: the size in bytes, the mode as a number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TmpfsOptions {
    #[serde(default)]
    pub size_bytes: Option<u64>,
    #[serde(default)]
    pub mode: Option<u32>,
}

/// The body of `POST /networks/{id}/connect` and `/disconnect`
/// (`Force` is accepted and, as there is no swarm, changes nothing).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkConnectBody {
    #[serde(default)]
    pub container: String,
    #[serde(default)]
    pub endpoint_config: Option<EndpointSettings>,
    #[serde(default)]
    pub force: bool,
}

/// `NetworkingConfig.EndpointsConfig[network]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    #[serde(default, deserialize_with = "null_default")]
    pub aliases: Vec<String>,
    #[serde(default, rename = "IPAMConfig", deserialize_with = "null_default")]
    pub ipam_config: EndpointIpam,
    /// `name[:alias]` links scoped to this network (docker-compose's).
    #[serde(default, deserialize_with = "null_default")]
    pub links: Vec<String>,
    /// `--mac-address` (API 1.44+).
    #[serde(default, deserialize_with = "null_default")]
    pub mac_address: String,
}

/// `EndpointsConfig[network].IPAMConfig`: `--ip` and `--ip6`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndpointIpam {
    #[serde(default, rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(default, rename = "IPv6Address")]
    pub ipv6_address: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkingConfig {
    #[serde(default, deserialize_with = "null_default")]
    pub endpoints_config: BTreeMap<String, EndpointSettings>,
}

/// `POST /containers/create` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBody {
    #[serde(flatten)]
    pub config: ContainerConfig,
    #[serde(default, deserialize_with = "null_default")]
    pub host_config: HostConfig,
    #[serde(default, deserialize_with = "null_default")]
    pub networking_config: NetworkingConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateResponse {
    pub id: String,
    pub warnings: Vec<String>,
}

/// One row of `GET /containers/json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    pub created: i64,
    pub state: String,
    pub status: String,
    pub ports: Vec<PortSummary>,
    pub labels: BTreeMap<String, String>,
    pub host_config: SummaryHostConfig,
    pub mounts: Vec<crate::apimodel::models::MountPoint>,
    pub network_settings: SummaryNetworkSettings,
}

/// `POST /volumes/create` (Docker's `VolumeCreateOptions`): a field of the
/// wrong type is a 400, not silently an anonymous volume (issue 17).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeCreateBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub driver: Option<String>,
    #[serde(default)]
    pub driver_opts: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// `GET /volumes`: `Warnings` `[]` as rrun always sent it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeList {
    pub volumes: Vec<volumes::Volume>,
    pub warnings: Vec<String>,
}

/// `NetworkSettings` of a `GET /containers/json` row: the endpoints only.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SummaryNetworkSettings {
    pub networks: BTreeMap<String, network::EndpointSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SummaryHostConfig {
    pub network_mode: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitResponse {
    pub status_code: i64,
    pub error: Option<WaitError>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitError {
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub message: String,
}

fn empty_as_null<S: serde::Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        s.collect_seq(v)
    }
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_reads_dockers_json() {
        let b: CreateBody = serde_json::from_str(
            r#"{"Image":"busybox","Cmd":["echo","hi"],"Env":null,"Entrypoint":null,
                "Labels":{"a":"b"},"HostConfig":{"AutoRemove":true,"Binds":null,"NetworkMode":"none"},
                "NetworkingConfig":{}}"#,
        )
        .unwrap();
        assert_eq!(b.config.image, "busybox");
        assert_eq!(b.config.cmd, Some(vec!["echo".into(), "hi".into()]));
        assert!(b.config.env.is_empty());
        assert!(b.host_config.auto_remove);
        assert_eq!(b.host_config.network_mode, "none");
        assert_eq!(b.config.labels["a"], "b");
    }
}
