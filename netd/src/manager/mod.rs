//! `Netd`: what the daemon calls. It ties the store, IPAM, links, the
//! firewall and the DNS snapshot together: check everything, then change
//! the system, and undo what was done when a later step fails.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

mod default_network;
pub use default_network::{configured_ipv4, ipv4_change, Ipv4Change};

use crate::dns::server::{DnsServer, Records, ServerConfig};
use crate::dns::{DnsEndpoint, Snapshot};
use crate::firewall::{self, FirewallError, FwNetwork, Proto, PublishedPort};
use crate::instance::{Instance, DEFAULT_BRIDGE, DEFAULT_TABLE};
use crate::ipam::{self, AddressPool, IpamError, SubnetAllocator};
use crate::link::{self, Attachment, BridgeSpec, LinkError};
use crate::name::{NameError, NetworkId, NetworkName};
use crate::netns::NetNs;
use crate::resolv::{self, DnsOptions, ResolvConf};
use crate::store::{
    Driver, Endpoint, Ipam, IpamConfig, Link, Network, NetworkStore, PortBinding, StoreError,
    BRIDGE_NAME_OPTION,
};

/// The default network's name, as Docker's (its bridge is the
/// [`Instance`]'s, `rrun0` for the daemon on the default data root).
pub const DEFAULT_NETWORK: &str = "bridge";

#[derive(Debug, thiserror::Error)]
pub enum NetdError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ipam(#[from] IpamError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    Firewall(#[from] FirewallError),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("network namespace: {0}")]
    Io(#[from] std::io::Error),
    #[error("network with name {0} already exists")]
    Exists(String),
    #[error("bridge {bridge} is already used by network {network}")]
    BridgeInUse { bridge: String, network: String },
    #[error("network {network} has active endpoints ({containers}); disconnect them first")]
    InUse { network: String, containers: String },
    #[error("container {container} is already connected to network {network}")]
    AlreadyConnected { container: String, network: String },
    #[error("container {container} is not connected to network {network}")]
    NotConnected { container: String, network: String },
    #[error("protocol {0:?} is not supported; use tcp or udp")]
    Protocol(String),
    #[error("{0}")]
    Ipv6(String),
    #[error("cannot publish a port on {0}: it is not an address of this host")]
    HostAddress(IpAddr),
    #[error("{0}")]
    DefaultNetwork(String),
    #[error("{0}; and undoing it failed too: {1}")]
    Undo(Box<NetdError>, Box<NetdError>),
}

/// How rrund's networking is set up (daemon.json and flags).
#[derive(Debug, Clone)]
pub struct NetdConfig {
    /// `<data-root>/networks`.
    pub networks_dir: PathBuf,
    /// `default-address-pools`; Docker's defaults when not configured.
    pub pools: Vec<AddressPool>,
    /// Where bridges live: the daemon's namespace when None.
    pub host_netns: Option<PathBuf>,
    /// daemon.json `dns`: upstreams for every container; else the host's.
    pub upstreams: Option<Vec<SocketAddr>>,
    /// `/` except in tests: where to read the host's resolv.conf.
    pub host_root: PathBuf,
    /// daemon.json `ipv6`: IPv6 on the default `bridge` network.
    pub default_ipv6: bool,
    /// daemon.json `fixed-cidr-v6`: its IPv6 subnet (else one from the pools).
    pub default_subnet6: Option<Ipv6Net>,
    /// This daemon's table and default bridge, apart from any other
    /// rrund's on the host (daemon.json `bridge` names the bridge).
    pub instance: Instance,
    /// daemon.json `bip`: the default bridge's address and prefix, e.g.
    /// 10.9.0.1/24 (else the first pool subnet no interface routes,
    /// chosen once and kept in the store).
    pub default_bip: Option<Ipv4Net>,
    /// daemon.json `fixed-cidr`: where the default network's container
    /// addresses come from, inside its subnet.
    pub default_ip_range: Option<Ipv4Net>,
}

impl NetdConfig {
    pub fn new(networks_dir: impl Into<PathBuf>) -> Self {
        Self {
            networks_dir: networks_dir.into(),
            pools: ipam::default_pools(),
            host_netns: None,
            upstreams: None,
            host_root: PathBuf::from("/"),
            default_ipv6: false,
            default_subnet6: None,
            instance: Instance::default(),
            default_bip: None,
            default_ip_range: None,
        }
    }
}

/// `docker network create`'s options.
#[derive(Debug, Clone)]
pub struct CreateNetwork {
    pub name: NetworkName,
    pub driver: Driver,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Ipv4Net>,
    pub internal: bool,
    /// `--ipv6`; implied by an IPv6 `--subnet`.
    pub enable_ipv6: bool,
    pub subnet6: Option<Ipv6Net>,
    pub gateway6: Option<Ipv6Addr>,
    pub ip_range6: Option<Ipv6Net>,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// `--aux-address`es, each put with the subnet that holds it.
    pub aux_addresses: BTreeMap<String, IpAddr>,
}

impl CreateNetwork {
    pub fn bridge(name: NetworkName) -> Self {
        Self {
            name,
            driver: Driver::Bridge,
            subnet: None,
            gateway: None,
            ip_range: None,
            internal: false,
            enable_ipv6: false,
            subnet6: None,
            gateway6: None,
            ip_range6: None,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            aux_addresses: BTreeMap::new(),
        }
    }
}

/// The container being connected.
#[derive(Debug, Clone, Copy)]
pub struct ContainerRef<'a> {
    pub id: &'a str,
    /// Without Docker's leading `/`.
    pub name: &'a str,
    pub hostname: Option<&'a str>,
    pub netns: &'a NetNs,
}

/// `--network-alias`, `--ip`, `--ip6`, `-p`, `--link`.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub aliases: Vec<String>,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    pub ports: Vec<PortBinding>,
    pub links: Vec<Link>,
    /// `--mac-address` (checked with [`link::parse_mac`]).
    pub mac: Option<[u8; 6]>,
}

/// What a connect did inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// None for `host` and `none` networks.
    pub interface: Option<String>,
    pub address: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    /// On a network with IPv6.
    pub address6: Option<Ipv6Net>,
    pub gateway6: Option<Ipv6Addr>,
}

/// rrund's networking. All changes are serialized by one lock; DNS readers
/// never take it.
#[derive(Debug)]
pub struct Netd {
    cfg: NetdConfig,
    store: NetworkStore,
    host: NetNs,
    records: Arc<Records>,
    lock: Mutex<()>,
    /// The firewall plan last applied: a change that leaves it as it is
    /// (a container without published ports joining or leaving) runs no
    /// `nft` at all. None until the first apply.
    applied: Mutex<Option<firewall::Plan>>,
}

impl Netd {
    /// Open the store and restore what a restart lost or a crash left half
    /// made: every bridge, rrun's firewall table, the DNS snapshot.
    pub fn open(cfg: NetdConfig) -> Result<Self, NetdError> {
        let store = NetworkStore::open(&cfg.networks_dir)?;
        let host = match &cfg.host_netns {
            Some(p) => NetNs::open(p)?,
            None => NetNs::open("/proc/self/ns/net")?,
        };
        let netd = Self {
            cfg,
            store,
            host,
            records: Records::new(Snapshot::default()),
            lock: Mutex::new(()),
            applied: Mutex::new(None),
        };
        netd.restore()?;
        Ok(netd)
    }

    fn restore(&self) -> Result<(), NetdError> {
        let _g = self.guard();
        for e in self.store.unreadable()? {
            tracing::error!(
                "{e}; that network is not loaded (fix or remove the file), the others are"
            );
        }
        let nets = self.store.load_all()?;
        ipam::subnets_in_use(&nets)?;
        for n in &nets {
            SubnetAllocator::for_network(n)?;
            if let Some(spec) = bridge_spec(n) {
                link::ensure_bridge(&self.host, &spec)?;
                self.remove_stray_veths(n, &spec.name)?;
            }
        }
        self.refresh(&nets)
    }

    /// A crash between attaching a veth and saving the endpoint leaves a
    /// veth the store does not know: remove it (it holds no user data).
    fn remove_stray_veths(&self, n: &Network, bridge: &str) -> Result<(), NetdError> {
        let expected: Vec<String> = n
            .containers
            .keys()
            .map(|c| link::veth_name(c, n.id.as_str()))
            .collect();
        for port in link::bridge_ports(&self.host, bridge)? {
            if port.starts_with("ve") && port.len() == 15 && !expected.contains(&port) {
                tracing::info!(network = %n.name, veth = %port, "removing a veth left by a crash");
                link::remove_link(&self.host, &port)?;
            }
        }
        Ok(())
    }

    fn guard(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The snapshot every resolver answers from.
    pub fn records(&self) -> Arc<Records> {
        self.records.clone()
    }

    pub fn networks(&self) -> Result<Vec<Network>, NetdError> {
        Ok(self.store.load_all()?)
    }

    /// By name, id or unique id prefix.
    pub fn inspect(&self, key: &str) -> Result<Network, NetdError> {
        Ok(self.store.find(key)?)
    }

    /// `docker network create`.
    pub fn create_network(&self, req: CreateNetwork) -> Result<Network, NetdError> {
        let _g = self.guard();
        self.create_locked(req, None)
    }

    /// The default `bridge` network on the instance's bridge, created on
    /// first use (on `bip`, else on the first pool subnet no interface
    /// routes), with IPv6 when daemon.json asks for it (`ipv6`,
    /// `fixed-cidr-v6`). Made before, it follows daemon.json again (see
    /// [`Netd::reconcile_default`]).
    pub fn ensure_default_network(&self) -> Result<Network, NetdError> {
        let _g = self.guard();
        if let Ok(n) = self.store.find(DEFAULT_NETWORK) {
            let n = self.reconcile_default(n)?;
            if self.cfg.default_ipv6 && n.ipv6().is_none() {
                return self.add_default_ipv6(n);
            }
            return Ok(n);
        }
        let mut req = CreateNetwork::bridge(NetworkName::try_from(DEFAULT_NETWORK)?);
        req.enable_ipv6 = self.cfg.default_ipv6;
        req.subnet6 = self.cfg.default_subnet6;
        if let Some(c) = configured_ipv4(self.cfg.default_bip, self.cfg.default_ip_range)? {
            let (IpNet::V4(subnet), IpAddr::V4(gateway)) = (c.subnet, c.gateway) else {
                unreachable!("bip and fixed-cidr are IPv4");
            };
            req.subnet = Some(subnet);
            req.gateway = Some(gateway);
            req.ip_range = c.ip_range.and_then(|r| match r {
                IpNet::V4(r) => Some(r),
                IpNet::V6(_) => None,
            });
        }
        let bridge = self.cfg.instance.default_bridge.clone();
        self.create_locked(req, Some(&bridge))
    }

    /// `ipv6` turned on in daemon.json after the default network was made:
    /// it gains an IPv6 subnet in place (as Docker rebuilds it at start-up).
    /// Containers already attached get IPv6 when they next start.
    fn add_default_ipv6(&self, mut n: Network) -> Result<Network, NetdError> {
        let mut nets = self.store.load_all()?;
        let in_use = ipam::subnets_in_use(&nets)?;
        let routes = link::host_routes(&self.host)?;
        let subnet6 = self.cfg.default_subnet6.map(IpNet::V6);
        let entry = self.pool_entry(true, subnet6, None, None, &in_use, &routes)?;
        n.ipam.config.push(entry);
        n.enable_ipv6 = true;
        if let Some(spec) = bridge_spec(&n) {
            link::ensure_bridge(&self.host, &spec)?;
        }
        self.store.save(&n)?;
        for other in nets.iter_mut().filter(|o| o.id == n.id) {
            *other = n.clone();
        }
        self.refresh(&nets)?;
        Ok(n)
    }

    /// Docker's three predefined networks: `bridge` (on `rrun0` or the
    /// instance's bridge), `host`
    /// and `none`, each created on first use.
    pub fn ensure_predefined_networks(&self) -> Result<Vec<Network>, NetdError> {
        let mut out = vec![self.ensure_default_network()?];
        for (name, driver) in [("host", Driver::Host), ("none", Driver::None)] {
            let _g = self.guard();
            match self.store.find(name) {
                Ok(n) => out.push(n),
                Err(StoreError::NotFound(_)) => {
                    let req = CreateNetwork {
                        driver,
                        ..CreateNetwork::bridge(NetworkName::try_from(name)?)
                    };
                    out.push(self.create_locked(req, None)?);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    fn create_locked(
        &self,
        req: CreateNetwork,
        bridge: Option<&str>,
    ) -> Result<Network, NetdError> {
        let enable_ipv6 = req.enable_ipv6 || req.subnet6.is_some();
        if enable_ipv6 && req.driver != Driver::Bridge {
            return Err(NetdError::Ipv6(
                "IPv6 can only be enabled on bridge networks".into(),
            ));
        }
        if !enable_ipv6 && (req.gateway6.is_some() || req.ip_range6.is_some()) {
            return Err(NetdError::Ipv6(
                "an IPv6 gateway or range needs an IPv6 subnet (--ipv6 --subnet)".into(),
            ));
        }
        let nets = self.store.load_all()?;
        if nets.iter().any(|n| n.name == req.name) {
            return Err(NetdError::Exists(req.name.to_string()));
        }
        let id = NetworkId::random()?;
        let mut options = req.options.clone();
        if let Some(b) = bridge {
            options.insert(BRIDGE_NAME_OPTION.into(), b.into());
        }
        let mut net = Network {
            name: req.name,
            id,
            driver: req.driver,
            ipam: Ipam {
                driver: "default".into(),
                config: vec![],
            },
            internal: req.internal,
            enable_ipv6,
            labels: req.labels,
            options,
            containers: BTreeMap::new(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        };
        if req.driver == Driver::Bridge {
            let in_use = ipam::subnets_in_use(&nets)?;
            let routes = link::host_routes(&self.host)?;
            net.ipam.config.push(self.pool_entry(
                false,
                req.subnet.map(IpNet::V4),
                req.gateway.map(IpAddr::V4),
                req.ip_range.map(IpNet::V4),
                &in_use,
                &routes,
            )?);
            if enable_ipv6 {
                net.ipam.config.push(self.pool_entry(
                    true,
                    req.subnet6.map(IpNet::V6),
                    req.gateway6.map(IpAddr::V6),
                    req.ip_range6.map(IpNet::V6),
                    &in_use,
                    &routes,
                )?);
            }
            place_aux_addresses(&mut net.ipam.config, &req.aux_addresses)?;
            let bridge = net.bridge_name();
            if let Some(other) = nets
                .iter()
                .find(|n| n.driver == Driver::Bridge && n.bridge_name() == bridge)
            {
                return Err(NetdError::BridgeInUse {
                    bridge,
                    network: other.name.to_string(),
                });
            }
        }
        let spec = bridge_spec(&net);
        if let Some(spec) = &spec {
            link::ensure_bridge(&self.host, spec)?;
        }
        let mut all = nets;
        all.push(net.clone());
        let done = self
            .store
            .save(&net)
            .map_err(NetdError::from)
            .and_then(|()| self.refresh(&all));
        if let Err(e) = done {
            let mut undo = Vec::new();
            if let Err(u) = self.store.remove(&net.id) {
                undo.push(NetdError::from(u));
            }
            if let Some(spec) = &spec {
                if let Err(u) = link::remove_link(&self.host, &spec.name) {
                    undo.push(u.into());
                }
            }
            return Err(with_undo(e, undo));
        }
        Ok(net)
    }

    /// One IPAM entry of the family `v6` says: the user's subnet, checked,
    /// or a free one from that family's pools; the gateway defaults to the
    /// subnet's first host.
    fn pool_entry(
        &self,
        v6: bool,
        subnet: Option<IpNet>,
        gateway: Option<IpAddr>,
        ip_range: Option<IpNet>,
        in_use: &[IpNet],
        routes: &[IpNet],
    ) -> Result<IpamConfig, NetdError> {
        let subnet = match subnet {
            Some(s) => {
                ipam::check_subnet(s.trunc(), in_use)?;
                s.trunc()
            }
            None => {
                // Configured pools of this family, else the defaults: a
                // daemon.json listing only IPv6 pools keeps Docker's IPv4 ones.
                let mut pools: Vec<AddressPool> = self
                    .cfg
                    .pools
                    .iter()
                    .filter(|p| p.base.addr().is_ipv6() == v6)
                    .copied()
                    .collect();
                if pools.is_empty() && v6 {
                    pools.push(ipam::ula_pool(&self.machine_id()));
                } else if pools.is_empty() {
                    pools = ipam::default_pools();
                }
                ipam::choose_subnet(&pools, in_use, routes, v6)?
            }
        };
        let gateway = gateway
            .or_else(|| subnet.hosts().find(|h| *h != subnet.network()))
            .ok_or(IpamError::SubnetFull(subnet))?;
        // Validates the gateway and range against the subnet.
        SubnetAllocator::new(subnet, gateway, ip_range)?;
        Ok(IpamConfig {
            subnet,
            gateway,
            ip_range,
            aux_addresses: BTreeMap::new(),
        })
    }

    /// What seeds the default IPv6 pool: the host's machine id, else its
    /// hostname.
    fn machine_id(&self) -> Vec<u8> {
        std::fs::read(self.cfg.host_root.join("etc/machine-id"))
            .ok()
            .filter(|m| !m.is_empty())
            .or_else(|| std::fs::read("/proc/sys/kernel/hostname").ok())
            .unwrap_or_default()
    }

    /// `docker network rm`: refused while containers are connected.
    pub fn remove_network(&self, key: &str) -> Result<(), NetdError> {
        let _g = self.guard();
        let net = self.store.find(key)?;
        if !net.containers.is_empty() {
            let containers = net
                .containers
                .values()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(NetdError::InUse {
                network: net.name.to_string(),
                containers,
            });
        }
        self.store.remove(&net.id)?;
        let nets = self.store.load_all()?;
        // Rules first, so no rule names a bridge that is gone.
        let refreshed = self.refresh(&nets);
        if net.driver == Driver::Bridge {
            link::remove_link(&self.host, &net.bridge_name())?;
        }
        refreshed
    }

    /// `docker network connect` (and `run --network`): veth, address,
    /// route, rules, DNS.
    pub fn connect(
        &self,
        key: &str,
        c: ContainerRef<'_>,
        opts: ConnectOptions,
    ) -> Result<Connected, NetdError> {
        let _g = self.guard();
        let mut nets = self.store.load_all()?;
        let pos = nets
            .iter()
            .position(|n| n.name.as_str() == key || n.id.as_str() == key)
            .ok_or_else(|| StoreError::NotFound(key.to_string()))?;
        if nets[pos].containers.contains_key(c.id) {
            return Err(NetdError::AlreadyConnected {
                container: c.id.into(),
                network: nets[pos].name.to_string(),
            });
        }
        for p in &opts.ports {
            proto(&p.protocol)?;
            check_host_ip(&nets[pos], p.host_ip, &format!("port {}", p.host_port))?;
        }
        let mine: Vec<&Endpoint> = nets.iter().filter_map(|n| n.containers.get(c.id)).collect();
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !mine.iter().any(|e| &e.interface == n))
            .expect("a free ethN");
        let has_route = nets
            .iter()
            .any(|n| !n.internal && n.containers.contains_key(c.id));
        let has_route6 = nets
            .iter()
            .any(|n| !n.internal && n.ipv6().is_some() && n.containers.contains_key(c.id));
        let net = &mut nets[pos];
        let mut endpoint = Endpoint {
            name: c.name.to_string(),
            ipv4_address: Ipv4Addr::UNSPECIFIED,
            ipv6_address: None,
            aliases: opts.aliases,
            hostname: c.hostname.map(str::to_string),
            interface: String::new(),
            ports: opts.ports,
            links: opts.links,
            mac_address: opts.mac,
        };
        let (Some(mut alloc), alloc6) = SubnetAllocator::for_network(net)? else {
            // host / none: nothing to wire.
            return Ok(Connected {
                interface: None,
                address: None,
                gateway: None,
                address6: None,
                gateway6: None,
            });
        };
        let ip = match opts.ipv4 {
            Some(ip) => {
                alloc.take(IpAddr::V4(ip))?;
                IpAddr::V4(ip)
            }
            None => alloc.allocate()?,
        };
        let address = IpNet::new(ip, alloc.subnet().prefix_len()).expect("prefix from a subnet");
        let IpNet::V4(address) = address else {
            unreachable!("the first allocator is IPv4");
        };
        let gateway = (!net.internal && !has_route).then(|| match alloc.gateway() {
            IpAddr::V4(g) => g,
            IpAddr::V6(_) => unreachable!("an IPv4 subnet has an IPv4 gateway"),
        });
        let (address6, gateway6) = match (alloc6, opts.ipv6) {
            (None, Some(ip6)) => {
                return Err(NetdError::Ipv6(format!(
                    "cannot assign {ip6} (--ip6): network {} has no IPv6 (create it with --ipv6)",
                    net.name
                )))
            }
            (None, None) => (None, None),
            (Some(mut a6), wanted) => {
                let ip6 = match wanted {
                    Some(ip6) => {
                        a6.take(IpAddr::V6(ip6))?;
                        IpAddr::V6(ip6)
                    }
                    None => a6.allocate()?,
                };
                let (IpAddr::V6(ip6), IpAddr::V6(gw6)) = (ip6, a6.gateway()) else {
                    unreachable!("the second allocator is IPv6");
                };
                let net6 =
                    Ipv6Net::new(ip6, a6.subnet().prefix_len()).expect("prefix from a subnet");
                (Some(net6), (!net.internal && !has_route6).then_some(gw6))
            }
        };
        let mut addresses = vec![IpNet::V4(address)];
        addresses.extend(address6.map(IpNet::V6));
        let attachment = Attachment {
            bridge: net.bridge_name(),
            host_veth: link::veth_name(c.id, net.id.as_str()),
            ifname: ifname.clone(),
            addresses,
            default_gateway: gateway,
            default_gateway6: gateway6,
            mac: Some(opts.mac.unwrap_or_else(|| link::mac_for(address.addr()))),
            mtu: net.mtu(),
        };
        link::attach(&self.host, c.netns, &attachment)?;
        endpoint.ipv4_address = address.addr();
        endpoint.ipv6_address = address6.map(|a| a.addr());
        endpoint.interface = ifname.clone();
        net.containers.insert(c.id.to_string(), endpoint);
        let saved = net.clone();
        let done = self
            .store
            .save_endpoints(&saved)
            .map_err(NetdError::from)
            .and_then(|()| self.refresh(&nets));
        if let Err(e) = done {
            let mut undo = Vec::new();
            let mut back = saved;
            back.containers.remove(c.id);
            if let Err(u) = self.store.save_endpoints(&back) {
                undo.push(u.into());
            }
            if let Err(u) = link::detach(&self.host, &attachment.host_veth) {
                undo.push(u.into());
            }
            return Err(with_undo(e, undo));
        }
        Ok(Connected {
            interface: Some(ifname),
            address: Some(address),
            gateway,
            address6,
            gateway6,
        })
    }

    /// `docker network disconnect` (and container removal). The veth goes
    /// even if the container's namespace is already gone.
    pub fn disconnect(&self, key: &str, container_id: &str) -> Result<(), NetdError> {
        self.remove_endpoint(key, container_id, true)
    }

    /// [`Self::disconnect`] of a container whose network namespace is gone
    /// or going (its processes ended and its mount removed): its address
    /// and names are released at once, and its veth pair is left to go
    /// with the namespace. The kernel removes it a moment later, in the
    /// background, where deleting it here would wait for an RCU grace
    /// period (about 18 ms) on the path of every exit; a pair still there
    /// when the same container starts again is replaced then.
    pub fn release(&self, key: &str, container_id: &str) -> Result<(), NetdError> {
        self.remove_endpoint(key, container_id, false)
    }

    fn remove_endpoint(
        &self,
        key: &str,
        container_id: &str,
        detach: bool,
    ) -> Result<(), NetdError> {
        let _g = self.guard();
        let mut net = self.store.find(key)?;
        if net.containers.remove(container_id).is_none() {
            return Err(NetdError::NotConnected {
                container: container_id.into(),
                network: net.name.to_string(),
            });
        }
        self.store.save_endpoints(&net)?;
        let nets = self.store.load_all()?;
        let refreshed = self.refresh(&nets);
        if detach && net.driver == Driver::Bridge {
            link::detach(&self.host, &link::veth_name(container_id, net.id.as_str()))?;
        }
        refreshed
    }

    /// `docker rename`: the container's endpoints answer to the new name
    /// (the DNS snapshot is rebuilt; aliases and addresses stay).
    pub fn rename_endpoint(&self, container_id: &str, new_name: &str) -> Result<(), NetdError> {
        let _g = self.guard();
        let mut nets = self.store.load_all()?;
        let mut changed = false;
        for n in nets.iter_mut() {
            if let Some(ep) = n.containers.get_mut(container_id) {
                ep.name = new_name.to_string();
                self.store.save(n)?;
                changed = true;
            }
        }
        if changed {
            self.records.replace(snapshot_of(&nets));
        }
        Ok(())
    }

    /// `docker rm --link parent/alias`: the container no longer resolves
    /// `alias` on any network. Returns whether it had such a link.
    pub fn remove_link(&self, container_id: &str, alias: &str) -> Result<bool, NetdError> {
        let _g = self.guard();
        let mut nets = self.store.load_all()?;
        let mut changed = false;
        for n in nets.iter_mut() {
            let Some(ep) = n.containers.get_mut(container_id) else {
                continue;
            };
            let before = ep.links.len();
            ep.links.retain(|l| l.alias != alias);
            if ep.links.len() != before {
                self.store.save(n)?;
                changed = true;
            }
        }
        if changed {
            self.records.replace(snapshot_of(&nets));
        }
        Ok(changed)
    }

    /// Forget the applied plan: the next refresh applies the whole table.
    fn forget_applied(&self) {
        *self.applied.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Rebuild the firewall (when its plan changed) and the DNS snapshot
    /// from `nets`.
    fn refresh(&self, nets: &[Network]) -> Result<(), NetdError> {
        let (fw, ports) = firewall_inputs(nets)?;
        let plan = firewall::plan(&fw, &ports);
        let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        if applied.as_ref() != Some(&plan) {
            // Forgotten first: a failed apply leaves the next one to retry.
            *applied = None;
            firewall::apply_in(&self.host, &plan, &self.cfg.instance.table)?;
            *applied = Some(plan);
        }
        self.records.replace(snapshot_of(nets));
        Ok(())
    }

    /// Check that rrun's rules are still in place and restore them if not:
    /// a firewall reload (`nft flush ruleset`, firewalld, an iptables
    /// restore) removes them while rrund runs, and containers would lose
    /// their way out and their published ports until the next change.
    /// Also puts our rules into Docker's DOCKER-USER chain when Docker
    /// started after rrund. Cheap when all is well (three `nft list`s, no
    /// write, and the lock held only to read the networks); the daemon
    /// calls it every few seconds. Returns whether anything was restored.
    pub fn check_firewall(&self) -> Result<bool, NetdError> {
        let table = &self.cfg.instance.table;
        // The listing runs `nft` three times: not under the lock, so a
        // connect or disconnect meanwhile does not wait for it (a start
        // landing on the check took tens of milliseconds longer).
        let (_, plan) = self.stored_plan(&self.guard())?;
        if !self.host.run(|| firewall::is_applied(&plan, table))?? {
            let g = self.guard();
            // Checked again under the lock: a change between the plan and
            // the listing is not a removal.
            let (nets, plan) = self.stored_plan(&g)?;
            if !self.host.run(|| firewall::is_applied(&plan, table))?? {
                tracing::warn!(
                    "rrun's firewall rules were removed (a firewall reload?); restoring them"
                );
                self.forget_applied();
                self.refresh(&nets)?;
                return Ok(true);
            }
        }
        if self
            .host
            .run(|| firewall::docker_user_in_line(table, &plan.bridges))??
        {
            return Ok(false);
        }
        let g = self.guard();
        let (_, plan) = self.stored_plan(&g)?;
        Ok(self
            .host
            .run(|| firewall::sync_docker_user(table, &plan.bridges))??)
    }

    /// The networks as stored now and their firewall plan; `_held` is the
    /// lock, which the caller holds while it reads them.
    fn stored_plan(
        &self,
        _held: &MutexGuard<'_, ()>,
    ) -> Result<(Vec<Network>, firewall::Plan), NetdError> {
        let nets = self.store.load_all()?;
        let (fw, ports) = firewall_inputs(&nets)?;
        let plan = firewall::plan(&fw, &ports);
        Ok((nets, plan))
    }

    /// Whether `port` can be published on `host_ip` (all addresses when
    /// None): no other container publishes it (another rrund's neither),
    /// and no program on the host has it bound (checked by binding it in
    /// the host's namespace).
    pub fn port_available(
        &self,
        host_ip: Option<IpAddr>,
        port: u16,
        protocol: &str,
    ) -> Result<bool, NetdError> {
        let wanted = proto(protocol)?;
        let nets = self.store.load_all()?;
        let (_, published) = firewall_inputs(&nets)?;
        if published.iter().any(|p| {
            p.host_port == port && p.proto == wanted && host_ips_overlap(p.host_ip, host_ip)
        }) {
            return Ok(false);
        }
        // Another rrund's DNAT for the port would race with ours.
        let table = self.cfg.instance.table.clone();
        let elsewhere = self
            .host
            .run(move || firewall::published_elsewhere(&table))??;
        if elsewhere.iter().any(|p| {
            p.host_port == port && p.proto == wanted && host_ips_overlap(p.host_ip, host_ip)
        }) {
            return Ok(false);
        }
        // No host ip: `[::]` dual-stack, taken if either family's wildcard
        // or any address is (`0.0.0.0` on a host without IPv6). `::` alone:
        // IPv6 only, as `-p [::]:8080:80` publishes.
        let (first, v6_only) = match host_ip {
            Some(ip) => (ip, true),
            None => (IpAddr::V6(Ipv6Addr::UNSPECIFIED), false),
        };
        let bound = self.host.run(move || {
            match try_bind(SocketAddr::new(first, port), wanted, v6_only) {
                Err(e) if host_ip.is_none() && e.kind() != std::io::ErrorKind::AddrInUse => {
                    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
                    try_bind(v4, wanted, false)
                }
                r => r,
            }
        })?;
        match bound {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
                Err(NetdError::HostAddress(first))
            }
            Err(e) => Err(NetdError::Io(e)),
        }
    }

    /// A free host port for `-p 80` (Docker's ephemeral range), asked of
    /// the kernel in the host's namespace and checked against every
    /// published port.
    pub fn choose_host_port(
        &self,
        host_ip: Option<IpAddr>,
        protocol: &str,
    ) -> Result<u16, NetdError> {
        let wanted = proto(protocol)?;
        let ip = host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        for _ in 0..64 {
            let port = self.host.run(move || -> std::io::Result<u16> {
                let addr = SocketAddr::new(ip, 0);
                Ok(match wanted {
                    Proto::Tcp => std::net::TcpListener::bind(addr)?.local_addr()?.port(),
                    Proto::Udp => std::net::UdpSocket::bind(addr)?.local_addr()?.port(),
                })
            })??;
            if self.port_available(host_ip, port, protocol)? {
                return Ok(port);
            }
        }
        Err(NetdError::Io(std::io::Error::other(
            "no free host port for publishing",
        )))
    }

    /// Remove this daemon's firewall table and its DOCKER-USER rules
    /// (uninstall, tests); another rrund's stay.
    pub fn teardown_firewall(&self) -> Result<(), NetdError> {
        let _g = self.guard();
        self.forget_applied();
        Ok(firewall::teardown_in(&self.host, &self.cfg.instance.table)?)
    }

    /// This daemon's names on the host (its table, its default bridge).
    pub fn instance(&self) -> &Instance {
        &self.cfg.instance
    }

    /// The host's resolv.conf as rrun reads it.
    pub fn host_resolv_conf(&self) -> ResolvConf {
        let path = resolv::host_resolv_conf_path(&self.cfg.host_root);
        ResolvConf::parse(&std::fs::read_to_string(path).unwrap_or_default())
    }

    /// A container's `/etc/resolv.conf`.
    pub fn resolv_conf(&self, dns: &DnsOptions) -> String {
        resolv::container_resolv_conf(&self.host_resolv_conf(), dns)
    }

    /// Start the embedded resolver in a container's namespace. Call within
    /// the daemon's tokio runtime; returns once it is listening.
    pub fn start_dns(
        &self,
        container_id: &str,
        netns: &NetNs,
        dns: &DnsOptions,
    ) -> std::io::Result<DnsServer> {
        let upstreams = match (&self.cfg.upstreams, dns.servers.is_empty()) {
            (Some(u), true) => u.clone(),
            _ => resolv::container_upstreams(&self.host_resolv_conf(), dns),
        };
        let cfg = ServerConfig {
            upstreams,
            ..Default::default()
        };
        DnsServer::start_in(netns, container_id, self.records.clone(), cfg)
    }
}

fn with_undo(e: NetdError, undo: Vec<NetdError>) -> NetdError {
    undo.into_iter()
        .fold(e, |e, u| NetdError::Undo(Box::new(e), Box::new(u)))
}

/// Whether `net` can publish a port (named `port` in the error) on
/// `host_ip`: never on `::1` (the kernel does not route IPv6 loopback
/// traffic off `lo`), and on an IPv6 address only with IPv6 on the network.
/// Pure: the daemon checks at create with it, connect again.
pub fn check_host_ip(net: &Network, host_ip: Option<IpAddr>, port: &str) -> Result<(), NetdError> {
    let Some(ip) = host_ip.filter(IpAddr::is_ipv6) else {
        return Ok(());
    };
    if ip == IpAddr::V6(Ipv6Addr::LOCALHOST) {
        return Err(NetdError::Ipv6(format!(
            "cannot publish {port} on [::1]: the kernel does not forward IPv6 loopback \
             traffic to a container; publish on [::] or 127.0.0.1"
        )));
    }
    if net.ipv6().is_none() {
        return Err(NetdError::Ipv6(format!(
            "cannot publish {port} on {ip}: network {} has no IPv6 (create it with --ipv6)",
            net.name
        )));
    }
    Ok(())
}

/// Whether two `-p` host addresses can receive the same packets: either
/// is every address, or they are one family and equal or one is that
/// family's wildcard (`0.0.0.0`, `::`).
pub fn host_ips_overlap(a: Option<IpAddr>, b: Option<IpAddr>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a.is_ipv6() == b.is_ipv6() && (a == b || a.is_unspecified() || b.is_unspecified())
        }
        _ => true,
    }
}

/// Bind `addr` as a published port's listener would, then let it go. An
/// IPv6 socket binds IPv6 only when `v6_only`, else both families.
fn try_bind(addr: SocketAddr, proto: Proto, v6_only: bool) -> std::io::Result<()> {
    use nix::sys::socket::{
        bind, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrStorage,
    };
    use std::os::fd::AsRawFd;
    let (family, ty) = (
        if addr.is_ipv6() {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        },
        match proto {
            Proto::Tcp => SockType::Stream,
            Proto::Udp => SockType::Datagram,
        },
    );
    let fd = socket(family, ty, SockFlag::SOCK_CLOEXEC, None)?;
    if addr.is_ipv6() {
        setsockopt(&fd, sockopt::Ipv6V6Only, &v6_only)?;
    }
    if proto == Proto::Tcp {
        // As a listener would (and std's TcpListener does): a port whose
        // old connections linger in TIME_WAIT is free.
        setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    }
    bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    Ok(())
}

fn proto(p: &str) -> Result<Proto, NetdError> {
    match p {
        "tcp" | "" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        other => Err(NetdError::Protocol(other.into())),
    }
}

fn bridge_spec(n: &Network) -> Option<BridgeSpec> {
    if n.driver != Driver::Bridge {
        return None;
    }
    n.ipv4()?;
    Some(BridgeSpec {
        name: n.bridge_name(),
        gateways: n.ipam.config.iter().map(IpamConfig::gateway_net).collect(),
        mtu: n.mtu(),
    })
}

/// The firewall's view of the store.
pub fn firewall_inputs(
    nets: &[Network],
) -> Result<(Vec<FwNetwork>, Vec<PublishedPort>), NetdError> {
    let mut fw = Vec::new();
    let mut ports = Vec::new();
    for n in nets.iter().filter(|n| n.driver == Driver::Bridge) {
        if n.ipv4().is_none() {
            continue;
        }
        let bridge = n.bridge_name();
        fw.push(FwNetwork {
            bridge: bridge.clone(),
            subnets: n.ipam.config.iter().map(|c| c.subnet).collect(),
            internal: n.internal,
        });
        for e in n.containers.values() {
            for p in &e.ports {
                // `-p 8080:80` publishes on every host address of each
                // family the container has; a host address, on its family.
                let targets = [IpAddr::V4(e.ipv4_address)]
                    .into_iter()
                    .chain(e.ipv6_address.map(IpAddr::V6))
                    .filter(|c| p.host_ip.is_none_or(|h| h.is_ipv6() == c.is_ipv6()));
                for container_ip in targets {
                    ports.push(PublishedPort {
                        host_ip: p.host_ip,
                        host_port: p.host_port,
                        proto: proto(&p.protocol)?,
                        container_ip,
                        container_port: p.container_port,
                        bridge: bridge.clone(),
                    });
                }
            }
        }
    }
    Ok((fw, ports))
}

/// Each `--aux-address` into the IPAM entry whose subnet holds it, as
/// Docker's "no matching subnet for aux-address" check has it.
fn place_aux_addresses(
    config: &mut [IpamConfig],
    aux: &BTreeMap<String, IpAddr>,
) -> Result<(), NetdError> {
    for (name, ip) in aux {
        let entry = config
            .iter_mut()
            .find(|c| c.subnet.contains(ip))
            .ok_or_else(|| NetdError::Ipam(IpamError::NoSubnetForAux(name.clone(), *ip)))?;
        entry.aux_addresses.insert(name.clone(), *ip);
    }
    Ok(())
}

/// The DNS view of the store: every endpoint with its name, aliases and
/// hostname.
pub fn snapshot_of(nets: &[Network]) -> Snapshot {
    let mut eps = Vec::new();
    for n in nets.iter().filter(|n| n.driver == Driver::Bridge) {
        for (id, e) in &n.containers {
            let mut names = vec![e.name.trim_start_matches('/').to_string()];
            names.extend(e.aliases.iter().cloned());
            names.extend(e.hostname.iter().cloned());
            eps.push(DnsEndpoint {
                container_id: id.clone(),
                network: n.name.to_string(),
                internal: n.internal,
                names,
                ipv4: Some(e.ipv4_address),
                ipv6: e.ipv6_address,
                links: e
                    .links
                    .iter()
                    .map(|l| (l.alias.clone(), l.name.clone()))
                    .collect(),
            });
        }
    }
    Snapshot::new(eps)
}

/// Addresses of a container on every network, for its /etc/hosts.
pub fn container_addresses(nets: &[Network], container_id: &str) -> Vec<IpAddr> {
    nets.iter()
        .filter_map(|n| n.containers.get(container_id))
        .flat_map(|e| {
            std::iter::once(IpAddr::V4(e.ipv4_address)).chain(e.ipv6_address.map(IpAddr::V6))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::sample;

    #[test]
    fn aux_addresses_go_with_their_subnet_and_are_reserved() {
        let mut n = sample("aux", "172.30.0.0/16");
        let aux: BTreeMap<String, IpAddr> =
            [("router".to_string(), "172.30.0.2".parse().unwrap())].into();
        place_aux_addresses(&mut n.ipam.config, &aux).unwrap();
        assert_eq!(n.ipam.config[0].aux_addresses, aux);
        let (Some(mut a), _) = SubnetAllocator::for_network(&n).unwrap() else {
            panic!("an IPv4 allocator")
        };
        assert_eq!(
            a.allocate().unwrap(),
            "172.30.0.3".parse::<IpAddr>().unwrap()
        );
        let outside: BTreeMap<String, IpAddr> =
            [("x".to_string(), "10.0.0.1".parse().unwrap())].into();
        let e = place_aux_addresses(&mut n.ipam.config, &outside).unwrap_err();
        assert!(
            e.to_string()
                .contains("no matching subnet for aux-address x=10.0.0.1"),
            "{e}"
        );
    }

    #[test]
    fn snapshot_and_firewall_inputs_follow_the_store() {
        let mut a = sample("todo-app", "172.18.0.0/16");
        a.containers.insert(
            "c1".into(),
            Endpoint {
                name: "/mysql".into(),
                ipv4_address: "172.18.0.2".parse().unwrap(),
                ipv6_address: None,
                aliases: vec!["db".into()],
                hostname: Some("h1".into()),
                interface: "eth0".into(),
                ports: vec![PortBinding {
                    host_ip: None,
                    host_port: 3306,
                    container_port: 3306,
                    protocol: "tcp".into(),
                }],
                links: vec![],
                mac_address: None,
            },
        );
        let mut i = sample("int", "172.19.0.0/16");
        i.internal = true;
        let s = snapshot_of(&[a.clone(), i.clone()]);
        assert_eq!(s.endpoints().len(), 1);
        assert_eq!(s.endpoints()[0].names, vec!["mysql", "db", "h1"]);
        let (fw, ports) = firewall_inputs(&[a.clone(), i]).unwrap();
        assert_eq!(fw.len(), 2);
        assert!(fw[1].internal);
        assert_eq!(
            ports[0].container_ip,
            "172.18.0.2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(ports[0].bridge, a.bridge_name());
        a.containers.get_mut("c1").unwrap().ports[0].protocol = "sctp".into();
        assert!(matches!(firewall_inputs(&[a]), Err(NetdError::Protocol(_))));
    }

    #[test]
    fn host_addresses_overlap_within_a_family_and_through_wildcards() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(host_ips_overlap(None, ip("::1")));
        assert!(host_ips_overlap(ip("10.0.0.1"), None));
        assert!(host_ips_overlap(ip("0.0.0.0"), ip("10.0.0.1")));
        assert!(host_ips_overlap(ip("::"), ip("fd00::1")));
        assert!(!host_ips_overlap(ip("0.0.0.0"), ip("::")), "two families");
        assert!(!host_ips_overlap(ip("::"), ip("127.0.0.1")));
        assert!(!host_ips_overlap(ip("10.0.0.1"), ip("10.0.0.2")));
        assert!(host_ips_overlap(ip("fd00::1"), ip("fd00::1")));
    }

    #[test]
    fn a_wildcard_host_address_publishes_on_its_family_only() {
        let mut a = sample("todo-app", "172.18.0.0/16");
        a.ipam.config.push(IpamConfig {
            subnet: "fd00:18::/64".parse().unwrap(),
            gateway: "fd00:18::1".parse().unwrap(),
            ip_range: None,
            aux_addresses: Default::default(),
        });
        let port = |host_ip: Option<&str>| PortBinding {
            host_ip: host_ip.map(|h| h.parse().unwrap()),
            host_port: 8080,
            container_port: 80,
            protocol: "tcp".into(),
        };
        a.containers.insert(
            "c1".into(),
            Endpoint {
                name: "web".into(),
                ipv4_address: "172.18.0.2".parse().unwrap(),
                ipv6_address: Some("fd00:18::2".parse().unwrap()),
                aliases: vec![],
                hostname: None,
                interface: "eth0".into(),
                ports: vec![port(Some("0.0.0.0")), port(Some("::")), port(None)],
                links: vec![],
                mac_address: None,
            },
        );
        let (_, ports) = firewall_inputs(&[a]).unwrap();
        let targets: Vec<String> = ports.iter().map(|p| p.container_ip.to_string()).collect();
        assert_eq!(
            targets,
            ["172.18.0.2", "fd00:18::2", "172.18.0.2", "fd00:18::2"]
        );
        let plan = firewall::plan(&[], &ports);
        let published = &plan
            .chains
            .iter()
            .find(|c| c.name == "published")
            .unwrap()
            .rules;
        assert!(published
            .iter()
            .all(|r| matches!(r.matches[0], firewall::Match::Ipv6(_))));
    }
}
