//! Networks as dockerd shows them: `GET /networks`, `GET /networks/{id}`
//! (Go's `NetworkResource`) and a container's endpoints (`EndpointSettings`
//! of `NetworkSettings.Networks`). bollard-stubs has these types, but it
//! omits unset fields where dockerd sends `null` (`IPAM.Options`, an
//! endpoint's `IPAMConfig`, `Links`, `Aliases`, `DriverOpts`, `DNSNames`)
//! and keeps maps in hash order where dockerd sorts them. The create
//! request and its answer are bollard's (`NetworkCreateRequest`,
//! `NetworkCreateResponse`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One network (`docker network inspect`, an item of `GET /networks`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkResource {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: NetworkIpam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigReference,
    pub config_only: bool,
    pub containers: BTreeMap<String, NetworkContainer>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// `IPAM` of a network: `Options` `null` unless set, as dockerd.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkIpam {
    pub driver: String,
    pub options: Option<BTreeMap<String, String>>,
    pub config: Vec<IpamPool>,
}

/// One `IPAM.Config` entry; every field `omitempty` in dockerd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamPool {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    #[serde(rename = "IPRange", default, skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub auxiliary_addresses: BTreeMap<String, String>,
}

/// `ConfigFrom`: `{"Network": ""}` for a network that is not built from
/// a config-only one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigReference {
    pub network: String,
}

/// One attached container in `Containers` of a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkContainer {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// A container's endpoint on one network (`NetworkSettings.Networks.<n>`),
/// every field present: the lists and maps `null` when unset, the
/// addresses `""` and the prefixes 0, as dockerd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    #[serde(rename = "Links")]
    pub links: Option<Vec<String>>,
    #[serde(rename = "Aliases")]
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "DriverOpts")]
    pub driver_opts: Option<BTreeMap<String, String>>,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(flatten)]
    pub addresses: EndpointAddresses,
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
}

/// An endpoint's addresses: in each `EndpointSettings`, and (the default
/// network's) at the top of `NetworkSettings`, as Go's
/// `DefaultNetworkSettings`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointAddresses {
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(rename = "Gateway")]
    pub gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
}

/// An endpoint's `IPAMConfig`: what was asked (`--ip`, `--ip6`), each key
/// only when given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointIpamConfig {
    #[serde(
        rename = "IPv4Address",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv4_address: Option<String>,
    #[serde(
        rename = "IPv6Address",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_address: Option<String>,
}

/// A container's `NetworkSettings` (`docker inspect`): the top-level
/// address fields are the default network's endpoint (deprecated in
/// Docker, still read by scripts); `Ports` maps each exposed or published
/// port to `null` or its bindings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSettings {
    #[serde(rename = "Bridge")]
    pub bridge: String,
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    #[serde(rename = "SandboxKey")]
    pub sandbox_key: String,
    #[serde(rename = "HairpinMode")]
    pub hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: u8,
    #[serde(rename = "Ports")]
    pub ports: BTreeMap<String, Option<Vec<HostPortBinding>>>,
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<String>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<String>>,
    #[serde(flatten)]
    pub addresses: EndpointAddresses,
    #[serde(rename = "Networks")]
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// One binding of `NetworkSettings.Ports`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPortBinding {
    #[serde(rename = "HostIp")]
    pub host_ip: String,
    #[serde(rename = "HostPort")]
    pub host_port: String,
}

/// `POST /networks/prune`'s answer (bollard's omits an empty list; dockerd
/// sends `null` then, rrun `[]` as it always has).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPruneReport {
    #[serde(rename = "NetworksDeleted")]
    pub networks_deleted: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_network_has_every_field_dockerd_sends() {
        let n = NetworkResource {
            name: "web".into(),
            driver: "bridge".into(),
            scope: "local".into(),
            ipam: NetworkIpam {
                driver: "default".into(),
                options: None,
                config: vec![IpamPool {
                    subnet: "10.1.0.0/24".into(),
                    gateway: "10.1.0.1".into(),
                    ..Default::default()
                }],
            },
            ..Default::default()
        };
        let v = serde_json::to_value(&n).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "Name",
            "Id",
            "Created",
            "Scope",
            "Driver",
            "EnableIPv6",
            "IPAM",
            "Internal",
            "Attachable",
            "Ingress",
            "ConfigFrom",
            "ConfigOnly",
            "Containers",
            "Options",
            "Labels",
        ] {
            assert!(keys.contains(&k), "{k} missing in {v}");
        }
        assert_eq!(
            v["IPAM"],
            json!({"Driver": "default", "Options": null,
                   "Config": [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"}]})
        );
        assert_eq!(v["ConfigFrom"], json!({"Network": ""}));
        assert_eq!(v["Containers"], json!({}));
        assert_eq!(v["Labels"], json!({}));
        let back: NetworkResource = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, n);
        // The CLI reads it with bollard's model.
        let b: crate::apimodel::models::Network = serde_json::from_value(v).unwrap();
        assert_eq!(b.name.as_deref(), Some("web"));
    }

    #[test]
    fn an_unset_endpoint_is_nulls_and_empties() {
        let v = serde_json::to_value(EndpointSettings::default()).unwrap();
        assert_eq!(
            v,
            json!({
                "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "",
                "DriverOpts": null, "NetworkID": "", "EndpointID": "", "Gateway": "",
                "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
                "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null,
            })
        );
        let ipam = EndpointIpamConfig {
            ipv6_address: Some("fd00::2".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(ipam).unwrap(),
            json!({"IPv6Address": "fd00::2"})
        );
    }
}
