//! A container's networking, as the daemon drives it through `netd`: its
//! network namespace (a bind-mounted file under `<exec-root>/../netns/`, made
//! before the container starts so the veths, the address and the resolver
//! are in place when its first process runs), its attachments, published
//! ports, the embedded resolver, and the files bind-mounted at `/etc/hosts`
//! and `/etc/resolv.conf`.
//!
//! Network modes, as Docker's: `bridge` (the default network), a user
//! network's name, `host`, `none`, `container:<name|id>`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use netd::netns::NetNs;
use netd::resolv::{DnsOptions, ExtraHost};
use netd::store::{Driver, Network, PortBinding};
use netd::{ConnectOptions, ContainerRef, NetdError};
use serde_json::{json, Value};

use super::models::EndpointSettings;
use super::store::{Container, NetworkRequest};
use super::{ApiError, ApiResult, Daemon};

/// How a container is networked, from its `NetworkMode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Host,
    None,
    /// Shares another container's namespace.
    Container(String),
    /// One or more bridge networks (the default `bridge` or user networks).
    Bridge,
}

pub fn mode_of(network_mode: &str) -> Mode {
    match network_mode {
        "host" => Mode::Host,
        "none" => Mode::None,
        m => match m.strip_prefix("container:") {
            Some(c) => Mode::Container(c.to_string()),
            None => Mode::Bridge,
        },
    }
}

/// A port wanted by `-p`/`-P`, before a host port is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedPort {
    pub host_ip: Option<Ipv4Addr>,
    /// None: any free port; else the first free port of the range.
    pub host_ports: Option<(u16, u16)>,
    pub container_port: u16,
    pub protocol: String,
}

/// `80/tcp` (or `80`) → (80, "tcp").
pub fn parse_port_key(key: &str) -> Result<(u16, String), String> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("invalid containerPort: {port}"))?;
    Ok((port, proto))
}

fn parse_host_ports(s: &str) -> Result<Option<(u16, u16)>, String> {
    if s.is_empty() || s == "0" {
        return Ok(None);
    }
    let bad = || format!("invalid hostPort: {s}");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok(Some((a, b)))
}

/// Pure: the ports to publish from `PortBindings`, and with `-P` every
/// exposed port (the image's and the container's) not bound explicitly.
pub fn wanted_ports(
    bindings: &BTreeMap<String, Vec<super::models::PortBinding>>,
    publish_all: bool,
    exposed: &[String],
) -> Result<Vec<WantedPort>, String> {
    let mut out = Vec::new();
    for (key, list) in bindings {
        let (container_port, protocol) = parse_port_key(key)?;
        let list: Vec<super::models::PortBinding> = if list.is_empty() {
            vec![Default::default()]
        } else {
            list.clone()
        };
        for b in list {
            let host_ip = match b.host_ip.as_str() {
                "" | "0.0.0.0" => None,
                ip => Some(ip.parse::<Ipv4Addr>().map_err(|_| {
                    if ip.contains(':') {
                        format!("IPv6 host address {ip} is not supported yet")
                    } else {
                        format!("invalid IP address: {ip}")
                    }
                })?),
            };
            out.push(WantedPort {
                host_ip,
                host_ports: parse_host_ports(&b.host_port)?,
                container_port,
                protocol: protocol.clone(),
            });
        }
    }
    if publish_all {
        for key in exposed {
            let (container_port, protocol) = parse_port_key(key)?;
            let bound = out
                .iter()
                .any(|w| w.container_port == container_port && w.protocol == protocol);
            if !bound {
                out.push(WantedPort {
                    host_ip: None,
                    host_ports: None,
                    container_port,
                    protocol,
                });
            }
        }
    }
    Ok(out)
}

/// What the container's network setup wrote and made.
pub struct NetFiles {
    /// The namespace to join; None shares the host's.
    pub netns: Option<PathBuf>,
    pub hostname: String,
    pub hosts: String,
    pub resolv: String,
}

/// The host's resolv.conf as it is (`host` and `none` containers get it,
/// as with Docker).
fn host_resolv_conf() -> String {
    std::fs::read_to_string(netd::resolv::host_resolv_conf_path(Path::new("/"))).unwrap_or_default()
}

/// Where a container's namespace file lives.
pub fn netns_dir(exec_root: &Path) -> PathBuf {
    exec_root.parent().unwrap_or(exec_root).join("netns")
}

/// A new, empty network namespace kept alive by a bind mount at `path`.
/// Made on a thread of its own that ends right after, so no other thread
/// of the daemon ever runs in it.
fn create_netns(path: &Path) -> std::io::Result<()> {
    use nix::mount::{mount, MsFlags};
    use nix::sched::{unshare, CloneFlags};
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::File::create(path)?;
    let p = path.to_path_buf();
    std::thread::spawn(move || -> std::io::Result<()> {
        unshare(CloneFlags::CLONE_NEWNET)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &p,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
        Ok(())
    })
    .join()
    .map_err(|_| std::io::Error::other("netns thread panicked"))?
}

/// Unmounts and removes a namespace file. Idempotent.
pub fn remove_netns(path: &Path) {
    let _ = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(path);
}

fn net_err(e: NetdError) -> ApiError {
    use netd::store::StoreError;
    match e {
        NetdError::Store(StoreError::NotFound(n)) => {
            ApiError::not_found(format!("network {n} not found"))
        }
        NetdError::Exists(n) => ApiError::conflict(format!("network with name {n} already exists")),
        e @ (NetdError::InUse { .. }
        | NetdError::AlreadyConnected { .. }
        | NetdError::BridgeInUse { .. }) => ApiError::conflict(e.to_string()),
        e @ (NetdError::NotConnected { .. }
        | NetdError::Name(_)
        | NetdError::Protocol(_)
        | NetdError::Ipv6Unsupported
        | NetdError::Ipam(_)) => ApiError::bad(e.to_string()),
        e => ApiError::internal(e),
    }
}

impl Daemon {
    pub(super) fn netns_path(&self, id: &str) -> PathBuf {
        netns_dir(&self.opts.exec_root).join(id)
    }

    /// At create: the networks a container asks for, checked. Returns the
    /// normalised `NetworkMode` and the networks in attach order.
    pub(super) fn plan_networks(
        &self,
        network_mode: &str,
        endpoints: &BTreeMap<String, EndpointSettings>,
    ) -> ApiResult<(String, Vec<NetworkRequest>)> {
        let mode = match network_mode {
            "" | "default" => "bridge".to_string(),
            m => m.to_string(),
        };
        match mode_of(&mode) {
            Mode::Host | Mode::None => {
                if endpoints.keys().any(|k| *k != mode) {
                    return Err(ApiError::bad(
                        "container cannot be disconnected from host network or connected to host network"
                            .replace("host", &mode),
                    ));
                }
                return Ok((mode, vec![]));
            }
            Mode::Container(other) => {
                self.resolve(&other)?;
                return Ok((mode, vec![]));
            }
            Mode::Bridge => {}
        }
        // The mode's network first, then the others of EndpointsConfig.
        let mut names: Vec<&str> = vec![mode.as_str()];
        // Docker 23+ CLIs name the mode's network `default` in EndpointsConfig.
        names.extend(
            endpoints
                .keys()
                .map(String::as_str)
                .filter(|k| *k != mode && *k != "default"),
        );
        let mut out = Vec::new();
        for name in names {
            let net = self.netd.inspect(name).map_err(net_err)?;
            if net.driver != Driver::Bridge {
                return Err(ApiError::bad(format!(
                    "container cannot be connected to network {} with other networks",
                    net.name
                )));
            }
            let ep = endpoints
                .get(name)
                .or_else(|| (name == mode).then(|| endpoints.get("default")).flatten())
                .cloned()
                .unwrap_or_default();
            let default_net = net.name.as_str() == netd::manager::DEFAULT_NETWORK;
            if default_net && !ep.aliases.is_empty() {
                return Err(ApiError::bad(
                    "network-scoped alias is supported only for containers in user defined networks",
                ));
            }
            let ipv4 = match ep.ipam_config.ipv4_address.as_str() {
                "" => None,
                ip => {
                    if default_net {
                        return Err(ApiError::bad(
                            "user specified IP address is supported on user defined networks only",
                        ));
                    }
                    Some(
                        ip.parse::<Ipv4Addr>()
                            .map_err(|_| ApiError::bad(format!("invalid IPv4 address: {ip}")))?,
                    )
                }
            };
            out.push(NetworkRequest {
                name: net.name.to_string(),
                aliases: ep.aliases,
                ipv4,
            });
        }
        Ok((mode, out))
    }

    /// At start: the namespace, its attachments and resolver, and the
    /// contents of its hostname, hosts and resolv.conf. On failure
    /// everything made is undone.
    pub(super) fn setup_network(&self, c: &Container) -> ApiResult<(NetFiles, Vec<PortBinding>)> {
        let extra: Vec<ExtraHost> = c
            .host_config
            .extra_hosts
            .iter()
            .map(|h| {
                h.parse()
                    .map_err(|e: netd::resolv::ExtraHostError| ApiError::bad(e.to_string()))
            })
            .collect::<ApiResult<_>>()?;
        match mode_of(&c.host_config.network_mode) {
            Mode::Host => {
                let hostname = nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
                hosts.push_str(&netd::resolv::extra_hosts(&extra, None));
                return Ok((
                    NetFiles {
                        netns: None,
                        hostname,
                        hosts,
                        resolv: host_resolv_conf(),
                    },
                    vec![],
                ));
            }
            Mode::Container(other) => {
                let o = self.get(&other)?;
                if !o.state.running {
                    return Err(ApiError::conflict(format!(
                        "cannot join network of a non running container: {}",
                        o.id
                    )));
                }
                let dir = self.dir(&o.id);
                let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
                let netns = match mode_of(&o.host_config.network_mode) {
                    Mode::Host => None,
                    Mode::Container(_) => {
                        Some(PathBuf::from(format!("/proc/{}/ns/net", o.state.pid)))
                    }
                    Mode::Bridge | Mode::None => Some(self.netns_path(&o.id)),
                };
                return Ok((
                    NetFiles {
                        netns,
                        hostname: read("hostname").trim().to_string(),
                        hosts: read("hosts"),
                        resolv: read("resolv.conf"),
                    },
                    vec![],
                ));
            }
            Mode::None | Mode::Bridge => {}
        }
        let path = self.netns_path(&c.id);
        remove_netns(&path);
        create_netns(&path).map_err(|e| ApiError::internal(format!("network namespace: {e}")))?;
        match self.wire(c, &path, &extra) {
            Ok(r) => Ok(r),
            Err(e) => {
                self.teardown_network(&c.id);
                Err(e)
            }
        }
    }

    fn wire(
        &self,
        c: &Container,
        path: &Path,
        extra: &[ExtraHost],
    ) -> ApiResult<(NetFiles, Vec<PortBinding>)> {
        let ns = NetNs::open(path).map_err(ApiError::internal)?;
        netd::link::loopback_up(&ns).map_err(|e| ApiError::internal(e.to_string()))?;
        let hostname = c.config.hostname.clone();
        if mode_of(&c.host_config.network_mode) == Mode::None {
            let hosts = netd::resolv::container_hosts(&hostname, &[], extra, None);
            let resolv = host_resolv_conf();
            return Ok((
                NetFiles {
                    netns: Some(path.to_path_buf()),
                    hostname,
                    hosts,
                    resolv,
                },
                vec![],
            ));
        }
        let ports = self.choose_ports(c)?;
        let mut own: Vec<IpAddr> = Vec::new();
        let mut gateway: Option<IpAddr> = None;
        for (i, req) in c.networks.iter().enumerate() {
            let cref = ContainerRef {
                id: &c.id,
                name: &c.name,
                hostname: Some(&hostname),
                netns: &ns,
            };
            let opts = ConnectOptions {
                aliases: req.aliases.clone(),
                ipv4: req.ipv4,
                // Published ports go with the first network, as Docker's.
                ports: if i == 0 { ports.clone() } else { vec![] },
            };
            let got = self
                .netd
                .connect(&req.name, cref, opts)
                .map_err(|e| match e {
                    NetdError::Ipam(e) => ApiError::bad(e.to_string()),
                    e => net_err(e),
                })?;
            if let Some(a) = got.address {
                own.push(IpAddr::V4(a.addr()));
            }
            if gateway.is_none() {
                gateway = got.gateway.map(IpAddr::V4).or_else(|| {
                    self.netd
                        .inspect(&req.name)
                        .ok()
                        .and_then(|n| n.ipv4().map(|c| IpAddr::V4(c.gateway)))
                });
            }
        }
        let dns = self.dns_options(c)?;
        let server = self
            .netd
            .start_dns(&c.id, &ns, &dns)
            .map_err(|e| ApiError::internal(format!("start the embedded DNS server: {e}")))?;
        self.dns.lock().unwrap().insert(c.id.clone(), server);
        let hosts = netd::resolv::container_hosts(&hostname, &own, extra, gateway);
        Ok((
            NetFiles {
                netns: Some(path.to_path_buf()),
                hostname,
                hosts,
                resolv: self.netd.resolv_conf(&dns),
            },
            ports,
        ))
    }

    fn dns_options(&self, c: &Container) -> ApiResult<DnsOptions> {
        let servers = c
            .host_config
            .dns
            .iter()
            .map(|s| {
                s.parse::<IpAddr>()
                    .map_err(|_| ApiError::bad(format!("{s} is not an ip address")))
            })
            .collect::<ApiResult<_>>()?;
        Ok(DnsOptions {
            servers,
            search: c.host_config.dns_search.clone(),
            options: c.host_config.dns_options.clone(),
        })
    }

    /// Host ports for `-p`/`-P`: the asked one if free, else an error
    /// naming it; a free one when none was asked.
    fn choose_ports(&self, c: &Container) -> ApiResult<Vec<PortBinding>> {
        let exposed: Vec<String> = c.config.exposed_ports.keys().cloned().collect();
        let wanted = wanted_ports(
            &c.host_config.port_bindings,
            c.host_config.publish_all_ports,
            &exposed,
        )
        .map_err(ApiError::bad)?;
        let mut out: Vec<PortBinding> = Vec::new();
        for w in wanted {
            let taken_here = |p: u16| {
                out.iter().any(|b| {
                    b.host_port == p
                        && b.protocol == w.protocol
                        && (b.host_ip.is_none() || w.host_ip.is_none() || b.host_ip == w.host_ip)
                })
            };
            let port = match w.host_ports {
                None => self
                    .netd
                    .choose_host_port(w.host_ip, &w.protocol)
                    .map_err(net_err)?,
                Some((a, b)) => {
                    let mut found = None;
                    for p in a..=b {
                        if !taken_here(p)
                            && self
                                .netd
                                .port_available(w.host_ip, p, &w.protocol)
                                .map_err(net_err)?
                        {
                            found = Some(p);
                            break;
                        }
                    }
                    found.ok_or_else(|| {
                        let ip = w.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
                        let ports = if a == b {
                            a.to_string()
                        } else {
                            format!("{a}-{b}")
                        };
                        ApiError::internal(format!(
                            "driver failed programming external connectivity on endpoint {}: Bind for {ip}:{ports} failed: port is already allocated",
                            c.name
                        ))
                    })?
                }
            };
            out.push(PortBinding {
                host_ip: w.host_ip,
                host_port: port,
                container_port: w.container_port,
                protocol: w.protocol,
            });
        }
        Ok(out)
    }

    /// After the container stopped (or a failed start, or reconciliation):
    /// its resolver, its attachments, its namespace. Idempotent.
    pub(super) fn teardown_network(&self, id: &str) {
        if let Some(server) = self.dns.lock().unwrap().remove(id) {
            drop(server);
        }
        if let Ok(nets) = self.netd.networks() {
            for n in nets.iter().filter(|n| n.containers.contains_key(id)) {
                if let Err(e) = self.netd.disconnect(n.id.as_str(), id) {
                    tracing::warn!(container = %id, network = %n.name, error = %e, "disconnect");
                }
            }
        }
        remove_netns(&self.netns_path(id));
    }

    /// After a daemon restart: the resolver of a container that still runs.
    pub(super) fn restart_dns(&self, c: &Container) {
        if mode_of(&c.host_config.network_mode) != Mode::Bridge {
            return;
        }
        let path = self.netns_path(&c.id);
        let started = NetNs::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|ns| {
                let dns = self.dns_options(c).map_err(|e| e.message)?;
                self.netd
                    .start_dns(&c.id, &ns, &dns)
                    .map_err(|e| e.to_string())
            });
        match started {
            Ok(server) => {
                self.dns.lock().unwrap().insert(c.id.clone(), server);
            }
            Err(e) => tracing::warn!(container = %c.id, error = %e, "restart the DNS server"),
        }
    }

    /// `NetworkSettings` of `docker inspect`.
    pub(super) fn network_settings(&self, c: &Container) -> Value {
        self.network_settings_in(c, &self.netd.networks().unwrap_or_default())
    }

    /// As [`Self::network_settings`], from networks already read (a list of
    /// containers reads the store once, not once per container).
    pub(super) fn network_settings_in(&self, c: &Container, nets: &[Network]) -> Value {
        let mut networks = serde_json::Map::new();
        let mut top = json!({"IPAddress": "", "IPPrefixLen": 0, "Gateway": "", "MacAddress": ""});
        let mode = mode_of(&c.host_config.network_mode);
        if matches!(mode, Mode::Host | Mode::None) {
            networks.insert(
                c.host_config.network_mode.clone(),
                json!({"IPAMConfig": null, "Links": null, "Aliases": null, "NetworkID": nets.iter().find(|n| n.name.as_str() == c.host_config.network_mode).map(|n| n.id.to_string()).unwrap_or_default(), "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": "", "DNSNames": null}),
            );
        }
        for req in &c.networks {
            let net = nets.iter().find(|n| n.name.as_str() == req.name);
            let ep = net.and_then(|n| n.containers.get(&c.id));
            let cfg = net.and_then(|n| n.ipv4());
            let (ip, prefix, gw) = match (ep, cfg) {
                (Some(e), Some(cfg)) => (
                    e.ipv4_address.to_string(),
                    cfg.subnet.prefix_len(),
                    cfg.gateway.to_string(),
                ),
                _ => (String::new(), 0, String::new()),
            };
            let endpoint_id = ep
                .map(|_| netd::link::veth_name(&c.id, net.map(|n| n.id.as_str()).unwrap_or("")))
                .unwrap_or_default();
            let mut dns_names = vec![c.name.clone()];
            dns_names.extend(req.aliases.iter().cloned());
            dns_names.push(c.id[..12].to_string());
            let v = json!({
                "IPAMConfig": req.ipv4.map(|ip| json!({"IPv4Address": ip.to_string()})),
                "Links": null,
                "Aliases": if req.aliases.is_empty() { Value::Null } else { json!(req.aliases) },
                "NetworkID": net.map(|n| n.id.to_string()).unwrap_or_default(),
                "EndpointID": endpoint_id,
                "Gateway": gw,
                "IPAddress": ip,
                "IPPrefixLen": prefix,
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "MacAddress": "",
                "DNSNames": if req.name == netd::manager::DEFAULT_NETWORK { Value::Null } else { json!(dns_names) },
            });
            if req.name == netd::manager::DEFAULT_NETWORK {
                top = json!({"IPAddress": v["IPAddress"], "IPPrefixLen": v["IPPrefixLen"], "Gateway": v["Gateway"], "MacAddress": ""});
            }
            networks.insert(req.name.clone(), v);
        }
        let mut ports = serde_json::Map::new();
        for key in c.config.exposed_ports.keys() {
            ports.insert(key.clone(), Value::Null);
        }
        if c.state.running {
            for p in &c.ports {
                let key = format!("{}/{}", p.container_port, p.protocol);
                let entry = ports.entry(key).or_insert(Value::Null);
                if entry.is_null() {
                    *entry = json!([]);
                }
                entry.as_array_mut().unwrap().push(json!({
                    "HostIp": p.host_ip.map(|i| i.to_string()).unwrap_or_else(|| "0.0.0.0".into()),
                    "HostPort": p.host_port.to_string(),
                }));
            }
        }
        let sandbox = if c.state.running && matches!(mode, Mode::Bridge | Mode::None) {
            self.netns_path(&c.id).display().to_string()
        } else {
            String::new()
        };
        json!({
            "Bridge": "",
            "SandboxID": if sandbox.is_empty() { String::new() } else { c.id.clone() },
            "SandboxKey": sandbox,
            "HairpinMode": false,
            "Ports": ports,
            "IPAddress": top["IPAddress"],
            "IPPrefixLen": top["IPPrefixLen"],
            "Gateway": top["Gateway"],
            "MacAddress": top["MacAddress"],
            "Networks": networks,
        })
    }

    /// `Ports` of `docker ps`.
    pub(super) fn port_summary(c: &Container) -> Vec<Value> {
        let mut v: Vec<Value> = Vec::new();
        if c.state.running {
            for p in &c.ports {
                v.push(json!({
                    "IP": p.host_ip.map(|i| i.to_string()).unwrap_or_else(|| "0.0.0.0".into()),
                    "PrivatePort": p.container_port,
                    "PublicPort": p.host_port,
                    "Type": p.protocol,
                }));
            }
        }
        for key in c.config.exposed_ports.keys() {
            if let Ok((port, proto)) = parse_port_key(key) {
                let published = v
                    .iter()
                    .any(|x| x["PrivatePort"] == port && x["Type"] == proto);
                if !published {
                    v.push(json!({"PrivatePort": port, "Type": proto}));
                }
            }
        }
        v
    }
}

/// `docker network inspect` of one network, with its containers' names.
pub fn network_json(n: &Network) -> Value {
    let containers: serde_json::Map<String, Value> = n
        .containers
        .iter()
        .map(|(id, e)| {
            let prefix = n.ipv4().map(|c| c.subnet.prefix_len()).unwrap_or(0);
            (
                id.clone(),
                json!({
                    "Name": e.name,
                    "EndpointID": netd::link::veth_name(id, n.id.as_str()),
                    "MacAddress": "",
                    "IPv4Address": format!("{}/{prefix}", e.ipv4_address),
                    "IPv6Address": "",
                }),
            )
        })
        .collect();
    let config: Vec<Value> = n
        .ipam
        .config
        .iter()
        .map(|c| {
            let mut v = json!({"Subnet": c.subnet.to_string(), "Gateway": c.gateway.to_string()});
            if let Some(r) = c.ip_range {
                v["IPRange"] = json!(r.to_string());
            }
            v
        })
        .collect();
    let driver = match n.driver {
        Driver::Bridge => "bridge",
        Driver::Host => "host",
        Driver::None => "null",
    };
    json!({
        "Name": n.name.as_str(),
        "Id": n.id.as_str(),
        "Created": "0001-01-01T00:00:00Z",
        "Scope": "local",
        "Driver": driver,
        "EnableIPv6": n.enable_ipv6,
        "IPAM": {"Driver": "default", "Options": null, "Config": config},
        "Internal": n.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": n.options,
        "Labels": n.labels,
    })
}

/// Network API handlers' logic (the routes are in `api`).
impl Daemon {
    pub fn network_list(&self, filters: &super::Filters) -> ApiResult<Vec<Value>> {
        let nets = self.netd.networks().map_err(net_err)?;
        Ok(nets
            .iter()
            .filter(|n| network_matches(n, filters))
            .map(network_json)
            .collect())
    }

    pub fn network_inspect(&self, key: &str) -> ApiResult<Value> {
        self.netd
            .inspect(key)
            .map(|n| network_json(&n))
            .map_err(net_err)
    }

    /// `POST /networks/create`.
    pub fn network_create(&self, body: &Value) -> ApiResult<Value> {
        let name = body["Name"].as_str().unwrap_or_default();
        let name =
            netd::name::NetworkName::try_from(name).map_err(|e| ApiError::bad(e.to_string()))?;
        if matches!(name.as_str(), "host" | "none" | "bridge")
            && body["Driver"].as_str().unwrap_or("bridge") == "bridge"
            && self.netd.inspect(name.as_str()).is_ok()
        {
            return Err(ApiError::conflict(format!(
                "network with name {name} already exists"
            )));
        }
        let driver = body["Driver"].as_str().unwrap_or("bridge");
        if !matches!(driver, "" | "bridge") {
            return Err(ApiError::bad(format!("plugin \"{driver}\" not found")));
        }
        let mut req = netd::CreateNetwork::bridge(name);
        req.internal = body["Internal"].as_bool().unwrap_or(false);
        req.enable_ipv6 = body["EnableIPv6"].as_bool().unwrap_or(false);
        if let Some(l) = body["Labels"].as_object() {
            req.labels = l
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect();
        }
        if let Some(o) = body["Options"].as_object() {
            req.options = o
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect();
        }
        if let Some(cfg) = body["IPAM"]["Config"].as_array().and_then(|a| a.first()) {
            let parse_net = |k: &str| -> ApiResult<Option<ipnet::Ipv4Net>> {
                match cfg[k].as_str() {
                    None | Some("") => Ok(None),
                    Some(s) => s
                        .parse()
                        .map(Some)
                        .map_err(|_| ApiError::bad(format!("invalid {}: {s}", k.to_lowercase()))),
                }
            };
            req.subnet = parse_net("Subnet")?;
            req.ip_range = parse_net("IPRange")?;
            req.gateway = match cfg["Gateway"].as_str() {
                None | Some("") => None,
                Some(s) => Some(
                    s.parse()
                        .map_err(|_| ApiError::bad(format!("invalid gateway: {s}")))?,
                ),
            };
            if req.subnet.is_none() && (req.gateway.is_some() || req.ip_range.is_some()) {
                return Err(ApiError::bad("no matching subnet for gateway or range"));
            }
        }
        let n = self.netd.create_network(req).map_err(net_err)?;
        self.events.emit(
            "network",
            "create",
            n.id.as_str(),
            &[("name", n.name.as_str()), ("type", "bridge")],
        );
        tracing::info!(network = %n.name, id = %n.id, "network created");
        Ok(json!({"Id": n.id.as_str(), "Warning": ""}))
    }

    /// `DELETE /networks/{id}`.
    pub fn network_remove(&self, key: &str) -> ApiResult<()> {
        let n = self.netd.inspect(key).map_err(net_err)?;
        if matches!(n.name.as_str(), "bridge" | "host" | "none") {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                format!("{} is a pre-defined network and cannot be removed", n.name),
            ));
        }
        // As Docker: refused while a running container is attached (netd
        // knows its endpoints); stopped containers that name it do not
        // hold it, and fail to start until it exists again.
        self.netd.remove_network(n.id.as_str()).map_err(net_err)?;
        self.events.emit(
            "network",
            "destroy",
            n.id.as_str(),
            &[("name", n.name.as_str()), ("type", "bridge")],
        );
        tracing::info!(network = %n.name, "network removed");
        Ok(())
    }

    /// `POST /networks/prune`: user networks no container names.
    pub fn network_prune(&self) -> ApiResult<Vec<String>> {
        let nets = self.netd.networks().map_err(net_err)?;
        let mut removed = Vec::new();
        for n in nets {
            if matches!(n.name.as_str(), "bridge" | "host" | "none") {
                continue;
            }
            if self.network_remove(n.id.as_str()).is_ok() {
                removed.push(n.name.to_string());
            }
        }
        Ok(removed)
    }

    /// `POST /networks/{id}/connect`.
    pub fn network_connect(self: &Arc<Self>, key: &str, body: &Value) -> ApiResult<()> {
        let net = self.netd.inspect(key).map_err(net_err)?;
        let cname = body["Container"].as_str().unwrap_or_default();
        let c = self.get(cname)?;
        if mode_of(&c.host_config.network_mode) != Mode::Bridge || net.driver != Driver::Bridge {
            return Err(ApiError::bad(
                "container sharing network namespace with another container or host cannot be connected to any other network",
            ));
        }
        if c.networks.iter().any(|r| r.name == net.name.as_str()) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                format!(
                    "endpoint with name {} already exists in network {}",
                    c.name, net.name
                ),
            ));
        }
        let mut eps = BTreeMap::new();
        let ep: EndpointSettings =
            serde_json::from_value(body["EndpointConfig"].clone()).unwrap_or_default();
        eps.insert(net.name.to_string(), ep);
        let (_, mut reqs) = self.plan_networks(net.name.as_str(), &eps)?;
        let req = reqs.remove(0);
        if c.state.running {
            let ns = NetNs::open(self.netns_path(&c.id)).map_err(ApiError::internal)?;
            let cref = ContainerRef {
                id: &c.id,
                name: &c.name,
                hostname: Some(&c.config.hostname),
                netns: &ns,
            };
            self.netd
                .connect(
                    &req.name,
                    cref,
                    ConnectOptions {
                        aliases: req.aliases.clone(),
                        ipv4: req.ipv4,
                        ports: vec![],
                    },
                )
                .map_err(net_err)?;
        }
        self.update(&c.id, |c| c.networks.push(req))?;
        self.events.emit(
            "network",
            "connect",
            net.id.as_str(),
            &[
                ("container", &c.id),
                ("name", net.name.as_str()),
                ("type", "bridge"),
            ],
        );
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub fn network_disconnect(&self, key: &str, body: &Value) -> ApiResult<()> {
        let net = self.netd.inspect(key).map_err(net_err)?;
        let cname = body["Container"].as_str().unwrap_or_default();
        let c = self.get(cname)?;
        if !c.networks.iter().any(|r| r.name == net.name.as_str()) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                format!(
                    "container {} is not connected to network {}",
                    c.id, net.name
                ),
            ));
        }
        if net.containers.contains_key(&c.id) {
            self.netd
                .disconnect(net.id.as_str(), &c.id)
                .map_err(net_err)?;
        }
        self.update(&c.id, |c| {
            c.networks.retain(|r| r.name != net.name.as_str())
        })?;
        self.events.emit(
            "network",
            "disconnect",
            net.id.as_str(),
            &[
                ("container", &c.id),
                ("name", net.name.as_str()),
                ("type", "bridge"),
            ],
        );
        Ok(())
    }
}

fn network_matches(n: &Network, f: &super::Filters) -> bool {
    f.iter().all(|(k, vals)| {
        vals.iter().any(|v| match k.as_str() {
            "name" => n.name.as_str().contains(v.as_str()),
            "id" => n.id.as_str().starts_with(v.as_str()),
            "driver" => {
                let d = match n.driver {
                    Driver::Bridge => "bridge",
                    Driver::Host => "host",
                    Driver::None => "null",
                };
                d == v
            }
            "type" => {
                let builtin = matches!(n.name.as_str(), "bridge" | "host" | "none");
                (v == "builtin") == builtin
            }
            "label" => match v.split_once('=') {
                Some((lk, lv)) => n.labels.get(lk).is_some_and(|x| x == lv),
                None => n.labels.contains_key(v),
            },
            _ => false,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::models::PortBinding as ApiPort;

    #[test]
    fn port_keys_parse() {
        assert_eq!(parse_port_key("80/tcp").unwrap(), (80, "tcp".into()));
        assert_eq!(parse_port_key("53/udp").unwrap(), (53, "udp".into()));
        assert_eq!(parse_port_key("8080").unwrap(), (8080, "tcp".into()));
        assert!(parse_port_key("80/sctp").is_err());
        assert!(parse_port_key("0/tcp").is_err());
        assert!(parse_port_key("x/tcp").is_err());
    }

    #[test]
    fn wanted_ports_follow_bindings_and_publish_all() {
        let mut b = BTreeMap::new();
        b.insert(
            "80/tcp".to_string(),
            vec![ApiPort {
                host_ip: "127.0.0.1".into(),
                host_port: "8080".into(),
            }],
        );
        b.insert("53/udp".to_string(), vec![ApiPort::default()]);
        let w = wanted_ports(&b, true, &["80/tcp".into(), "443/tcp".into()]).unwrap();
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].container_port, 53);
        assert_eq!(w[0].host_ports, None);
        assert_eq!(w[1].host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(w[1].host_ports, Some((8080, 8080)));
        assert_eq!(w[2].container_port, 443);
        let mut b = BTreeMap::new();
        b.insert(
            "80/tcp".to_string(),
            vec![ApiPort {
                host_ip: String::new(),
                host_port: "9000-9010".into(),
            }],
        );
        assert_eq!(
            wanted_ports(&b, false, &[]).unwrap()[0].host_ports,
            Some((9000, 9010))
        );
        b.insert(
            "81/tcp".to_string(),
            vec![ApiPort {
                host_ip: "nope".into(),
                host_port: "1".into(),
            }],
        );
        assert!(wanted_ports(&b, false, &[]).is_err());
    }

    #[test]
    fn modes_parse() {
        assert_eq!(mode_of("host"), Mode::Host);
        assert_eq!(mode_of("none"), Mode::None);
        assert_eq!(mode_of("container:web"), Mode::Container("web".into()));
        assert_eq!(mode_of("todo-app"), Mode::Bridge);
        assert_eq!(mode_of("bridge"), Mode::Bridge);
    }
}
