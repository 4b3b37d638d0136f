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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::IpNet;
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
    /// None: every host address (`-p 8080:80`), of each family the
    /// container has.
    pub host_ip: Option<IpAddr>,
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

/// A binding's `HostIp`: IPv4 or IPv6 (`::1`, also accepted bracketed as
/// `[::1]`). Empty is every host address of each family the container
/// has; `0.0.0.0` and `::` are every address of that family only, as with
/// Docker.
pub fn parse_host_ip(s: &str) -> Result<Option<IpAddr>, String> {
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if bare.is_empty() {
        return Ok(None);
    }
    let ip: IpAddr = bare
        .parse()
        .map_err(|_| format!("invalid IP address: {s}"))?;
    Ok(Some(ip))
}

/// `ip:port` as Docker writes it, IPv6 addresses bracketed.
pub fn host_port(ip: IpAddr, port: impl std::fmt::Display) -> String {
    match ip {
        IpAddr::V4(ip) => format!("{ip}:{port}"),
        IpAddr::V6(ip) => format!("[{ip}]:{port}"),
    }
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
            out.push(WantedPort {
                host_ip: parse_host_ip(&b.host_ip)?,
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

/// `--ip6` for `net`, checked before anything is made: an IPv6 address of
/// the network's IPv6 subnet (netd checks again, and that it is free, when
/// the container is connected).
fn check_ip6(net: &Network, ip: &str) -> Result<Ipv6Addr, String> {
    let ip: Ipv6Addr = ip
        .parse()
        .map_err(|_| format!("invalid IPv6 address: {ip}"))?;
    let Some(cfg) = net.ipv6() else {
        return Err(format!(
            "cannot assign {ip} (--ip6): network {} has no IPv6 (create it with --ipv6)",
            net.name
        ));
    };
    if !cfg.subnet.contains(&IpAddr::V6(ip)) {
        return Err(format!(
            "cannot assign {ip} (--ip6): it is not in network {}'s subnet {}",
            net.name, cfg.subnet
        ));
    }
    Ok(ip)
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
        | NetdError::Ipv6(_)
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
            let ipam = &ep.ipam_config;
            if default_net && !(ipam.ipv4_address.is_empty() && ipam.ipv6_address.is_empty()) {
                return Err(ApiError::bad(
                    "user specified IP address is supported on user defined networks only",
                ));
            }
            let ipv4 = match ipam.ipv4_address.as_str() {
                "" => None,
                ip => Some(
                    ip.parse::<Ipv4Addr>()
                        .map_err(|_| ApiError::bad(format!("invalid IPv4 address: {ip}")))?,
                ),
            };
            let ipv6 = match ipam.ipv6_address.as_str() {
                "" => None,
                ip => Some(check_ip6(&net, ip).map_err(ApiError::bad)?),
            };
            out.push(NetworkRequest {
                name: net.name.to_string(),
                aliases: ep.aliases,
                ipv4,
                ipv6,
            });
        }
        Ok((mode, out))
    }

    /// At create, so that nothing is made: an IPv6 host address in `-p`
    /// needs IPv6 on the network the ports go with (the first), and cannot
    /// be `::1` (netd checks both again at connect).
    pub(super) fn check_port_families(
        &self,
        networks: &[NetworkRequest],
        wanted: &[WantedPort],
    ) -> ApiResult<()> {
        let Some(first) = networks.first() else {
            // host, none, container:…: no ports of its own.
            return Ok(());
        };
        let mut net = None;
        for w in wanted {
            let Some(ip) = w.host_ip.filter(IpAddr::is_ipv6) else {
                continue;
            };
            let port = match w.host_ports {
                Some((a, b)) if a != b => format!("port {a}-{b}"),
                Some((a, _)) => format!("port {a}"),
                None => format!("container port {}/{}", w.container_port, w.protocol),
            };
            if net.is_none() {
                net = Some(self.netd.inspect(&first.name).map_err(net_err)?);
            }
            let net = net.as_ref().expect("just read");
            netd::manager::check_host_ip(net, Some(ip), &port).map_err(net_err)?;
        }
        Ok(())
    }

    /// At a start's planning, with nothing changed: the network namespace
    /// the container will join (None: the host's) and its hostname; checks
    /// what the network step would refuse (a `container:` mode whose
    /// container does not run, bad extra hosts or DNS servers).
    pub(super) fn net_identity(&self, c: &Container) -> ApiResult<(Option<PathBuf>, String)> {
        for h in &c.host_config.extra_hosts {
            h.parse::<ExtraHost>()
                .map_err(|e| ApiError::bad(e.to_string()))?;
        }
        self.dns_options(c)?;
        match mode_of(&c.host_config.network_mode) {
            Mode::Host => Ok((
                None,
                nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )),
            Mode::Container(other) => {
                let o = self.get(&other)?;
                if !o.state.running {
                    return Err(ApiError::conflict(format!(
                        "cannot join network of a non running container: {}",
                        o.id
                    )));
                }
                let hostname = std::fs::read_to_string(self.dir(&o.id).join("hostname"))
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                let netns = match mode_of(&o.host_config.network_mode) {
                    Mode::Host => None,
                    Mode::Container(_) => {
                        Some(PathBuf::from(format!("/proc/{}/ns/net", o.state.pid)))
                    }
                    Mode::Bridge | Mode::None => Some(self.netns_path(&o.id)),
                };
                Ok((netns, hostname))
            }
            Mode::None | Mode::Bridge => {
                Ok((Some(self.netns_path(&c.id)), c.config.hostname.clone()))
            }
        }
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
                ipv6: req.ipv6,
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
            own.extend(got.address.map(|a| IpAddr::V4(a.addr())));
            own.extend(got.address6.map(|a| IpAddr::V6(a.addr())));
            if gateway.is_none() {
                gateway = got.gateway.map(IpAddr::V4).or_else(|| {
                    self.netd
                        .inspect(&req.name)
                        .ok()
                        .and_then(|n| n.ipv4().map(|c| c.gateway))
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
                        && netd::manager::host_ips_overlap(b.host_ip, w.host_ip)
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
                        let ip = w.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                        let ports = if a == b {
                            a.to_string()
                        } else {
                            format!("{a}-{b}")
                        };
                        ApiError::internal(format!(
                            "driver failed programming external connectivity on endpoint {}: Bind for {} failed: port is already allocated",
                            c.name,
                            host_port(ip, ports)
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
        let mut top = endpoint_json(None, None, None);
        let mode = mode_of(&c.host_config.network_mode);
        if matches!(mode, Mode::Host | Mode::None) {
            let mut v = endpoint_json(None, None, None);
            v["NetworkID"] = json!(nets
                .iter()
                .find(|n| n.name.as_str() == c.host_config.network_mode)
                .map(|n| n.id.to_string())
                .unwrap_or_default());
            networks.insert(c.host_config.network_mode.clone(), v);
        }
        for req in &c.networks {
            let net = nets.iter().find(|n| n.name.as_str() == req.name);
            let mut v = endpoint_json(net, Some(&c.id), Some(req));
            if req.name == netd::manager::DEFAULT_NETWORK {
                top = v.clone();
            } else {
                let mut dns_names = vec![c.name.clone()];
                dns_names.extend(req.aliases.iter().cloned());
                dns_names.push(c.id[..12].to_string());
                v["DNSNames"] = json!(dns_names);
            }
            networks.insert(req.name.clone(), v);
        }
        let mut ports = serde_json::Map::new();
        for key in c.config.exposed_ports.keys() {
            ports.insert(key.clone(), Value::Null);
        }
        if c.state.running {
            for (ip, p) in shown_bindings(&c.ports, ports_have_ipv6(&c.id, nets)) {
                let key = format!("{}/{}", p.container_port, p.protocol);
                let entry = ports.entry(key).or_insert(Value::Null);
                if entry.is_null() {
                    *entry = json!([]);
                }
                entry.as_array_mut().unwrap().push(json!({
                    "HostIp": ip.to_string(),
                    "HostPort": p.host_port.to_string(),
                }));
            }
        }
        let sandbox = if c.state.running && matches!(mode, Mode::Bridge | Mode::None) {
            self.netns_path(&c.id).display().to_string()
        } else {
            String::new()
        };
        // The top-level fields are the default network's, as Docker's
        // (deprecated there, still read by scripts).
        json!({
            "Bridge": "",
            "SandboxID": if sandbox.is_empty() { String::new() } else { c.id.clone() },
            "SandboxKey": sandbox,
            "HairpinMode": false,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "Ports": ports,
            "SecondaryIPAddresses": null,
            "SecondaryIPv6Addresses": null,
            "EndpointID": top["EndpointID"],
            "Gateway": top["Gateway"],
            "GlobalIPv6Address": top["GlobalIPv6Address"],
            "GlobalIPv6PrefixLen": top["GlobalIPv6PrefixLen"],
            "IPAddress": top["IPAddress"],
            "IPPrefixLen": top["IPPrefixLen"],
            "IPv6Gateway": top["IPv6Gateway"],
            "MacAddress": top["MacAddress"],
            "Networks": networks,
        })
    }

    /// `Ports` of `docker ps`.
    pub(super) fn port_summary(c: &Container, nets: &[Network]) -> Vec<Value> {
        let mut v: Vec<Value> = Vec::new();
        if c.state.running {
            for (ip, p) in shown_bindings(&c.ports, ports_have_ipv6(&c.id, nets)) {
                v.push(json!({
                    "IP": ip.to_string(),
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

/// One entry of `NetworkSettings.Networks` of `docker inspect`: the
/// container's endpoint on `net` (None: not connected, or a host/none
/// container), with its IPv6 fields empty (`""`, 0) when it has none, as
/// Docker's.
fn endpoint_json(
    net: Option<&Network>,
    container: Option<&str>,
    req: Option<&NetworkRequest>,
) -> Value {
    let ep = net.zip(container).and_then(|(n, id)| n.containers.get(id));
    let (ip, prefix, gw) = match (ep, net.and_then(Network::ipv4)) {
        (Some(e), Some(cfg)) => (
            e.ipv4_address.to_string(),
            cfg.subnet.prefix_len(),
            cfg.gateway.to_string(),
        ),
        _ => (String::new(), 0, String::new()),
    };
    let (ip6, prefix6, gw6) = match (ep.and_then(|e| e.ipv6_address), net.and_then(Network::ipv6)) {
        (Some(a), Some(cfg)) => (
            a.to_string(),
            cfg.subnet.prefix_len(),
            cfg.gateway.to_string(),
        ),
        _ => (String::new(), 0, String::new()),
    };
    let mac = ep
        .filter(|e| !e.ipv4_address.is_unspecified())
        .map(|e| netd::link::mac_string(netd::link::mac_for(e.ipv4_address)))
        .unwrap_or_default();
    let endpoint_id = match (ep, net, container) {
        (Some(_), Some(n), Some(id)) => netd::link::veth_name(id, n.id.as_str()),
        _ => String::new(),
    };
    // `IPAMConfig` holds what was asked (`--ip`, `--ip6`), each key only
    // when given, as Docker's.
    let ipam = req.and_then(|r| {
        let mut m = serde_json::Map::new();
        if let Some(ip) = r.ipv4 {
            m.insert("IPv4Address".into(), json!(ip.to_string()));
        }
        if let Some(ip) = r.ipv6 {
            m.insert("IPv6Address".into(), json!(ip.to_string()));
        }
        (!m.is_empty()).then_some(Value::Object(m))
    });
    let aliases = req
        .filter(|r| !r.aliases.is_empty())
        .map(|r| json!(r.aliases));
    json!({
        "IPAMConfig": ipam,
        "Links": null,
        "Aliases": aliases,
        "NetworkID": net.map(|n| n.id.to_string()).unwrap_or_default(),
        "EndpointID": endpoint_id,
        "Gateway": gw,
        "IPAddress": ip,
        "IPPrefixLen": prefix,
        "IPv6Gateway": gw6,
        "GlobalIPv6Address": ip6,
        "GlobalIPv6PrefixLen": prefix6,
        "MacAddress": mac,
        "DNSNames": null,
    })
}

/// Whether the container's published ports are on an endpoint with IPv6
/// (netd publishes `-p 8080:80` on both families there).
fn ports_have_ipv6(id: &str, nets: &[Network]) -> bool {
    nets.iter()
        .filter_map(|n| n.containers.get(id))
        .find(|e| !e.ports.is_empty())
        .is_some_and(|e| e.ipv6_address.is_some())
}

/// The host addresses a container's ports are published on, as `docker
/// inspect` and `docker ps` show them: a port on every address (`-p
/// 8080:80`) is on `0.0.0.0` and, when the container has IPv6 there, on
/// `::` too; one on a given address, on that one.
pub fn shown_bindings(ports: &[PortBinding], ipv6: bool) -> Vec<(IpAddr, &PortBinding)> {
    let mut out = Vec::new();
    for p in ports {
        match p.host_ip {
            Some(ip) => out.push((ip, p)),
            None => {
                out.push((IpAddr::V4(Ipv4Addr::UNSPECIFIED), p));
                if ipv6 {
                    out.push((IpAddr::V6(Ipv6Addr::UNSPECIFIED), p));
                }
            }
        }
    }
    out
}

/// `docker network inspect` of one network, with its containers' names.
pub fn network_json(n: &Network) -> Value {
    let containers: serde_json::Map<String, Value> = n
        .containers
        .iter()
        .map(|(id, e)| {
            let prefix = n.ipv4().map(|c| c.subnet.prefix_len()).unwrap_or(0);
            let ipv6 = match (e.ipv6_address, n.ipv6()) {
                (Some(a), Some(c)) => format!("{a}/{}", c.subnet.prefix_len()),
                _ => String::new(),
            };
            (
                id.clone(),
                json!({
                    "Name": e.name,
                    "EndpointID": netd::link::veth_name(id, n.id.as_str()),
                    "MacAddress": netd::link::mac_string(netd::link::mac_for(e.ipv4_address)),
                    "IPv4Address": format!("{}/{prefix}", e.ipv4_address),
                    "IPv6Address": ipv6,
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
        if body["EnableIPv4"] == json!(false) {
            return Err(ApiError::bad(
                "IPv6-only networks (EnableIPv4 false, --ipv4=false) are not supported by rrun yet",
            ));
        }
        let mut req = netd::CreateNetwork::bridge(name);
        req.internal = body["Internal"].as_bool().unwrap_or(false);
        // A JSON null (API 1.48's optional field) is false.
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
        let config = body["IPAM"]["Config"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        ipam_request(&config, &mut req).map_err(ApiError::bad)?;
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
                        ipv6: req.ipv6,
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

/// `IPAM.Config` of `POST /networks/create` into `req`: at most one entry
/// per family, each entry's family that of its subnet, and its gateway and
/// range of the same family (netd checks that they lie in the subnet).
pub fn ipam_request(config: &[Value], req: &mut netd::CreateNetwork) -> Result<(), String> {
    fn field<T: std::str::FromStr>(cfg: &Value, key: &str) -> Result<Option<T>, String> {
        match cfg[key].as_str() {
            None | Some("") => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| format!("invalid {}: {s}", key.to_lowercase())),
        }
    }
    let (mut seen4, mut seen6) = (false, false);
    for cfg in config {
        let subnet: Option<IpNet> = field(cfg, "Subnet")?;
        let gateway: Option<IpAddr> = field(cfg, "Gateway")?;
        let ip_range: Option<IpNet> = field(cfg, "IPRange")?;
        let Some(subnet) = subnet else {
            if gateway.is_some() || ip_range.is_some() {
                return Err("no matching subnet for gateway or range".into());
            }
            continue;
        };
        let v6 = subnet.addr().is_ipv6();
        let family = if v6 { "IPv6" } else { "IPv4" };
        let mismatch = gateway
            .filter(|g| g.is_ipv6() != v6)
            .map(|g| format!("gateway {g}"))
            .or_else(|| {
                ip_range
                    .filter(|r| r.addr().is_ipv6() != v6)
                    .map(|r| format!("ip range {r}"))
            });
        if let Some(what) = mismatch {
            return Err(format!(
                "{what} is not in subnet {subnet}: not an {family} address"
            ));
        }
        let seen = if v6 { &mut seen6 } else { &mut seen4 };
        if std::mem::replace(seen, true) {
            return Err(format!(
                "more than one {family} subnet in IPAM.Config: an rrun network has at most one IPv4 and one IPv6 subnet"
            ));
        }
        // The families match (checked above): the other arms never match.
        match subnet {
            IpNet::V4(s) => {
                req.subnet = Some(s);
                req.gateway = gateway.and_then(|g| match g {
                    IpAddr::V4(g) => Some(g),
                    IpAddr::V6(_) => None,
                });
                req.ip_range = ip_range.and_then(|r| match r {
                    IpNet::V4(r) => Some(r),
                    IpNet::V6(_) => None,
                });
            }
            IpNet::V6(s) => {
                req.subnet6 = Some(s);
                req.gateway6 = gateway.and_then(|g| match g {
                    IpAddr::V6(g) => Some(g),
                    IpAddr::V4(_) => None,
                });
                req.ip_range6 = ip_range.and_then(|r| match r {
                    IpNet::V6(r) => Some(r),
                    IpNet::V4(_) => None,
                });
            }
        }
    }
    Ok(())
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
        assert_eq!(w[1].host_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
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

    fn one(host_ip: &str) -> BTreeMap<String, Vec<ApiPort>> {
        let mut b = BTreeMap::new();
        b.insert(
            "80/udp".to_string(),
            vec![ApiPort {
                host_ip: host_ip.into(),
                host_port: "8080".into(),
            }],
        );
        b
    }

    #[test]
    fn ipv6_host_addresses_are_accepted() {
        let ip = |s: &str| wanted_ports(&one(s), false, &[]).map(|w| w[0].host_ip);
        assert_eq!(ip("::1"), Ok(Some("::1".parse().unwrap())));
        assert_eq!(ip("[::1]"), Ok(Some("::1".parse().unwrap())));
        assert_eq!(ip("2001:db8::1"), Ok(Some("2001:db8::1".parse().unwrap())));
        // The unspecified addresses are every address of their family.
        assert_eq!(ip("::"), Ok(Some("::".parse().unwrap())));
        assert_eq!(ip("0.0.0.0"), Ok(Some("0.0.0.0".parse().unwrap())));
        assert_eq!(ip(""), Ok(None));
        assert!(ip("fd00::zz").unwrap_err().contains("invalid IP address"));
        assert_eq!(host_port("::1".parse().unwrap(), 80), "[::1]:80");
        assert_eq!(host_port("0.0.0.0".parse().unwrap(), "1-2"), "0.0.0.0:1-2");
    }

    fn binding(host_ip: Option<&str>, port: u16) -> PortBinding {
        PortBinding {
            host_ip: host_ip.map(|i| i.parse().unwrap()),
            host_port: port,
            container_port: 80,
            protocol: "tcp".into(),
        }
    }

    #[test]
    fn ports_on_every_address_are_shown_per_family() {
        let ports = [binding(None, 8080), binding(Some("::1"), 8081)];
        let shown = |v6| -> Vec<String> {
            shown_bindings(&ports, v6)
                .iter()
                .map(|(ip, p)| host_port(*ip, p.host_port))
                .collect()
        };
        assert_eq!(shown(false), ["0.0.0.0:8080", "[::1]:8081"]);
        assert_eq!(shown(true), ["0.0.0.0:8080", "[::]:8080", "[::1]:8081"]);
    }

    fn ipam(config: Value) -> Result<netd::CreateNetwork, String> {
        let mut req = netd::CreateNetwork::bridge(netd::name::NetworkName::try_from("n").unwrap());
        ipam_request(config.as_array().unwrap(), &mut req).map(|()| req)
    }

    #[test]
    fn ipam_config_takes_one_entry_per_family() {
        let req = ipam(json!([
            {"Subnet": "fd00:1::/64", "Gateway": "fd00:1::1", "IPRange": "fd00:1::/80"},
            {"Subnet": "172.30.0.0/16", "Gateway": "172.30.0.254"},
        ]))
        .unwrap();
        assert_eq!(req.subnet, Some("172.30.0.0/16".parse().unwrap()));
        assert_eq!(req.gateway, Some("172.30.0.254".parse().unwrap()));
        assert_eq!(req.ip_range, None);
        assert_eq!(req.subnet6, Some("fd00:1::/64".parse().unwrap()));
        assert_eq!(req.gateway6, Some("fd00:1::1".parse().unwrap()));
        assert_eq!(req.ip_range6, Some("fd00:1::/80".parse().unwrap()));
        // Docker's empty entry, and none at all.
        assert_eq!(ipam(json!([{}])).unwrap().subnet, None);
        assert_eq!(ipam(json!([])).unwrap().subnet6, None);

        let err = ipam(json!([{"Subnet": "fd00:1::/64"}, {"Subnet": "fd00:2::/64"}])).unwrap_err();
        assert!(err.contains("more than one IPv6 subnet"), "{err}");
        let err = ipam(json!([{"Subnet": "10.1.0.0/16"}, {"Subnet": "10.2.0.0/16"}])).unwrap_err();
        assert!(err.contains("more than one IPv4 subnet"), "{err}");
        let err = ipam(json!([{"Subnet": "fd00:1::/64", "Gateway": "10.0.0.1"}])).unwrap_err();
        assert!(
            err.contains("gateway 10.0.0.1 is not in subnet fd00:1::/64"),
            "{err}"
        );
        let err = ipam(json!([{"Subnet": "10.0.0.0/8", "IPRange": "fd00::/80"}])).unwrap_err();
        assert!(err.contains("ip range fd00::/80"), "{err}");
        let err = ipam(json!([{"Gateway": "fd00::1"}])).unwrap_err();
        assert!(err.contains("no matching subnet"), "{err}");
        let err = ipam(json!([{"Subnet": "fd00::/129"}])).unwrap_err();
        assert!(err.contains("invalid subnet"), "{err}");
    }

    fn dual_stack() -> Network {
        use netd::store::{Endpoint, Ipam, IpamConfig};
        let mut containers = BTreeMap::new();
        for (id, v6) in [("c1", Some("fd00:1::2")), ("c2", None)] {
            containers.insert(
                id.to_string(),
                Endpoint {
                    name: id.into(),
                    ipv4_address: "172.30.0.2".parse().unwrap(),
                    ipv6_address: v6.map(|a| a.parse().unwrap()),
                    aliases: vec![],
                    hostname: None,
                    interface: "eth0".into(),
                    ports: vec![],
                },
            );
        }
        Network {
            name: netd::name::NetworkName::try_from("v6net").unwrap(),
            id: netd::name::NetworkId::random().unwrap(),
            driver: Driver::Bridge,
            ipam: Ipam {
                driver: "default".into(),
                config: vec![
                    IpamConfig {
                        subnet: "172.30.0.0/16".parse().unwrap(),
                        gateway: "172.30.0.1".parse().unwrap(),
                        ip_range: None,
                    },
                    IpamConfig {
                        subnet: "fd00:1::/64".parse().unwrap(),
                        gateway: "fd00:1::1".parse().unwrap(),
                        ip_range: None,
                    },
                ],
            },
            internal: false,
            enable_ipv6: true,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            containers,
        }
    }

    #[test]
    fn inspect_shows_both_families() {
        let n = dual_stack();
        let v = network_json(&n);
        assert_eq!(v["EnableIPv6"], true);
        assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "172.30.0.0/16");
        assert_eq!(v["IPAM"]["Config"][1]["Subnet"], "fd00:1::/64");
        assert_eq!(v["IPAM"]["Config"][1]["Gateway"], "fd00:1::1");
        assert_eq!(v["Containers"]["c1"]["IPv6Address"], "fd00:1::2/64");
        assert_eq!(v["Containers"]["c2"]["IPv6Address"], "");

        let req = NetworkRequest {
            name: "v6net".into(),
            aliases: vec![],
            ipv4: None,
            ipv6: Some("fd00:1::2".parse().unwrap()),
        };
        let e = endpoint_json(Some(&n), Some("c1"), Some(&req));
        assert_eq!(e["GlobalIPv6Address"], "fd00:1::2");
        assert_eq!(e["GlobalIPv6PrefixLen"], 64);
        assert_eq!(e["IPv6Gateway"], "fd00:1::1");
        assert_eq!(e["IPAMConfig"], json!({"IPv6Address": "fd00:1::2"}));
        let e = endpoint_json(Some(&n), Some("c2"), None);
        assert_eq!(e["IPAddress"], "172.30.0.2");
        assert_eq!(e["GlobalIPv6Address"], "");
        assert_eq!(e["GlobalIPv6PrefixLen"], 0);
        assert_eq!(e["IPv6Gateway"], "");
        assert_eq!(e["IPAMConfig"], Value::Null);

        assert_eq!(
            check_ip6(&n, "fd00:1::42"),
            Ok("fd00:1::42".parse().unwrap())
        );
        assert!(check_ip6(&n, "fd00:2::42").unwrap_err().contains("not in"));
        assert!(check_ip6(&n, "172.30.0.9")
            .unwrap_err()
            .contains("invalid IPv6"));
        let mut v4 = n.clone();
        v4.ipam.config.pop();
        assert!(check_ip6(&v4, "fd00:1::42")
            .unwrap_err()
            .contains("has no IPv6"));
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
