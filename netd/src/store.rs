//! The network store: one JSON file per network, `networks/<id>.json`,
//! written atomically (temp file, fsync, rename, fsync of the directory), so a
//! crash leaves either the old or the new file, never a torn one.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::name::{NetworkId, NetworkName};

/// Docker's network drivers that rrun implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Bridge,
    Host,
    None,
}

/// One IPAM pool entry, as in `docker network inspect`: an IPv4 or an IPv6
/// subnet, with a gateway and range of the same family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    pub subnet: IpNet,
    pub gateway: IpAddr,
    #[serde(rename = "IPRange", default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<IpNet>,
    /// `--aux-address name=ip`: addresses of the subnet IPAM never gives
    /// a container (a router's, a host's already on the segment).
    #[serde(
        rename = "AuxiliaryAddresses",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub aux_addresses: BTreeMap<String, IpAddr>,
}

impl IpamConfig {
    pub fn is_v6(&self) -> bool {
        matches!(self.subnet, IpNet::V6(_))
    }

    /// The gateway with the subnet's prefix, as on the bridge.
    pub fn gateway_net(&self) -> IpNet {
        IpNet::new(self.gateway, self.subnet.prefix_len()).expect("prefix from a subnet")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: String,
    pub config: Vec<IpamConfig>,
}

/// A container attached to the network, with the address IPAM gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    pub name: String,
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: Ipv4Addr,
    /// Set on networks with IPv6 enabled.
    #[serde(
        rename = "IPv6Address",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_address: Option<Ipv6Addr>,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The container's hostname, also resolvable on this network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The interface inside the container: `eth0`, `eth1`, … in attach order.
    #[serde(default)]
    pub interface: String,
    /// Ports published through this endpoint (`-p`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortBinding>,
    /// `--link`s: names only this container resolves, each to another
    /// container on this network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// `--mac-address`; None: derived from the address ([`crate::link::mac_for`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<[u8; 6]>,
}

impl Endpoint {
    /// The interface's MAC address: the one asked for, else Docker's
    /// `02:42` and the IPv4 address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac_address
            .unwrap_or_else(|| crate::link::mac_for(self.ipv4_address))
    }
}

/// `--link name:alias`: `alias` resolves, for the linking container only,
/// to the container `name` (its address on the network they share).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Link {
    pub name: String,
    pub alias: String,
}

/// One `-p [host_ip:]host_port:container_port[/proto]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    /// None: every host address of the families the container has.
    #[serde(rename = "HostIp", default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// A network, with Docker's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    pub name: NetworkName,
    pub id: NetworkId,
    pub driver: Driver,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    #[serde(default)]
    pub internal: bool,
    #[serde(rename = "EnableIPv6", default)]
    pub enable_ipv6: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Attached containers by container id.
    #[serde(default)]
    pub containers: BTreeMap<String, Endpoint>,
    /// When it was made (RFC 3339; empty for networks stored before rrun
    /// kept it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created: String,
}

/// Docker's option naming the bridge device.
pub const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";
/// Docker's option setting the MTU of the bridge and veths.
pub const MTU_OPTION: &str = "com.docker.network.driver.mtu";

impl Network {
    /// The bridge device: the `com.docker.network.bridge.name` option, else
    /// `rr-` and the short id (Docker uses `br-`; ours is distinct so the two
    /// engines can run side by side).
    pub fn bridge_name(&self) -> String {
        self.options
            .get(BRIDGE_NAME_OPTION)
            .cloned()
            .unwrap_or_else(|| format!("rr-{}", self.id.short()))
    }

    pub fn mtu(&self) -> Option<u32> {
        self.options.get(MTU_OPTION).and_then(|m| m.parse().ok())
    }

    /// The IPv4 pool entry (every bridge network has one).
    pub fn ipv4(&self) -> Option<&IpamConfig> {
        self.ipam.config.iter().find(|c| !c.is_v6())
    }

    /// The IPv6 pool entry of a network created with `--ipv6`.
    pub fn ipv6(&self) -> Option<&IpamConfig> {
        self.ipam.config.iter().find(|c| c.is_v6())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("network store {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("network file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("network {0} not found")]
    NotFound(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn is_temp(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// The directory `networks/` of the state directory.
#[derive(Debug, Clone)]
pub struct NetworkStore {
    dir: PathBuf,
}

impl NetworkStore {
    /// Opens the store; temp files a crash left are removed here, once,
    /// before any writer of this process can have one in flight.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))?.flatten() {
            if is_temp(&entry.file_name().to_string_lossy()) {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(Self { dir })
    }

    fn path_of(&self, id: &NetworkId) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Write `net` atomically.
    pub fn save(&self, net: &Network) -> Result<(), StoreError> {
        self.save_endpoints(net)?;
        sync_dir(&self.dir)
    }

    /// Write `net` atomically after a change of its endpoints only (a
    /// container's connect or disconnect): the file is synced before its
    /// rename, so it is whole, but the rename is not waited for. A host
    /// crash may keep the file before the change: every container stopped
    /// with the host, and the daemon's start reconciles each container's
    /// endpoints with its record, whichever file survived. Saves a
    /// directory sync on every start and exit.
    pub fn save_endpoints(&self, net: &Network) -> Result<(), StoreError> {
        let path = self.path_of(&net.id);
        let tmp = self.dir.join(format!(".{}.json.tmp", net.id));
        let data = serde_json::to_vec_pretty(net).expect("network serializes");
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&data).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(io_err(&path))
    }

    pub fn remove(&self, id: &NetworkId) -> Result<(), StoreError> {
        let path = self.path_of(id);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::NotFound(id.to_string()))
            }
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Every network, sorted by name. Temp files are skipped: one may be a
    /// concurrent `save` between its write and its rename (deleting it
    /// there made that save fail). So is a file that does not parse (torn
    /// or damaged outside rrun): every other network stays usable, and
    /// [`NetworkStore::unreadable`] names it.
    pub fn load_all(&self) -> Result<Vec<Network>, StoreError> {
        let (mut nets, _) = self.load_split()?;
        nets.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nets)
    }

    /// The network files that do not parse, each with its error.
    pub fn unreadable(&self) -> Result<Vec<StoreError>, StoreError> {
        Ok(self.load_split()?.1)
    }

    fn load_split(&self) -> Result<(Vec<Network>, Vec<StoreError>), StoreError> {
        let (mut nets, mut bad) = (Vec::new(), Vec::new());
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            let path = entry.path();
            let fname = entry.file_name();
            let fname = fname.to_string_lossy();
            if is_temp(&fname) || !fname.ends_with(".json") {
                continue;
            }
            let data = fs::read(&path).map_err(io_err(&path))?;
            match serde_json::from_slice::<Network>(&data) {
                Ok(net) => nets.push(net),
                Err(source) => bad.push(StoreError::Parse { path, source }),
            }
        }
        Ok((nets, bad))
    }

    /// Find by full name, full id, or unique id prefix (as `docker network inspect`).
    pub fn find(&self, key: &str) -> Result<Network, StoreError> {
        let all = self.load_all()?;
        if let Some(n) = all.iter().find(|n| n.name.as_str() == key) {
            return Ok(n.clone());
        }
        let mut by_id = all.into_iter().filter(|n| n.id.as_str().starts_with(key));
        match (by_id.next(), by_id.next()) {
            (Some(n), None) if !key.is_empty() => Ok(n),
            _ => Err(StoreError::NotFound(key.to_string())),
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(name: &str, subnet: &str) -> Network {
        let subnet: IpNet = subnet.parse().unwrap();
        Network {
            name: NetworkName::try_from(name).unwrap(),
            id: NetworkId::random().unwrap(),
            driver: Driver::Bridge,
            ipam: Ipam {
                driver: "default".into(),
                config: vec![IpamConfig {
                    subnet,
                    gateway: subnet.hosts().next().unwrap(),
                    ip_range: None,
                    aux_addresses: Default::default(),
                }],
            },
            internal: false,
            enable_ipv6: false,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            containers: BTreeMap::new(),
            created: String::new(),
        }
    }

    #[test]
    fn save_load_roundtrip_with_docker_field_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = NetworkStore::open(dir.path().join("networks")).unwrap();
        let mut net = sample("todo-app", "172.18.0.0/16");
        net.labels.insert("k".into(), "v".into());
        net.containers.insert(
            "c1".into(),
            Endpoint {
                name: "mysql".into(),
                ipv4_address: "172.18.0.2".parse().unwrap(),
                ipv6_address: None,
                aliases: vec!["db".into()],
                hostname: None,
                interface: "eth0".into(),
                ports: vec![],
                links: vec![],
                mac_address: None,
            },
        );
        store.save(&net).unwrap();
        let text = fs::read_to_string(store.path_of(&net.id)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Name"], "todo-app");
        assert_eq!(v["Driver"], "bridge");
        assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "172.18.0.0/16");
        assert_eq!(v["IPAM"]["Config"][0]["Gateway"], "172.18.0.1");
        assert_eq!(v["Internal"], false);
        assert_eq!(v["EnableIPv6"], false);
        assert_eq!(v["Id"].as_str().unwrap().len(), 64);
        assert_eq!(store.load_all().unwrap(), vec![net.clone()]);
        assert_eq!(store.find("todo-app").unwrap(), net);
        assert_eq!(store.find(net.id.short()).unwrap(), net);
        store.remove(&net.id).unwrap();
        assert!(store.load_all().unwrap().is_empty());
        assert!(matches!(
            store.remove(&net.id),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn save_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = NetworkStore::open(dir.path()).unwrap();
        let mut net = sample("a", "172.18.0.0/16");
        store.save(&net).unwrap();
        net.internal = true;
        store.save(&net).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![format!("{}.json", net.id)]);
        assert!(store.load_all().unwrap()[0].internal);
    }

    #[test]
    fn crash_leftover_temp_is_ignored_and_bad_file_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = NetworkStore::open(dir.path()).unwrap();
        fs::write(dir.path().join(".x.json.tmp"), "{half").unwrap();
        assert!(store.load_all().unwrap().is_empty());
        // A reader leaves it (it may be a save in flight); opening removes it.
        assert!(dir.path().join(".x.json.tmp").exists());
        let store = NetworkStore::open(dir.path()).unwrap();
        assert!(!dir.path().join(".x.json.tmp").exists());
        fs::write(dir.path().join("bad.json"), "{\"Name\":\"../x\"}").unwrap();
        // A file that does not parse is left out and named, not fatal.
        assert!(store.load_all().unwrap().is_empty());
        let bad = store.unreadable().unwrap();
        assert!(matches!(bad[..], [StoreError::Parse { .. }]), "{bad:?}");
        assert!(bad[0].to_string().contains("bad.json"), "{}", bad[0]);
    }
}
