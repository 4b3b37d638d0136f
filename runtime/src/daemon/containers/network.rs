//! A container's networking, as the daemon drives it through `netd`: its
//! network namespace (a bind-mounted file under `<exec-root>/../netns/`, made
//! before the container starts so the veths, the address and the resolver
//! are in place when its first process runs), its attachments, published
//! ports, the embedded resolver, and the files bind-mounted at `/etc/hosts`
//! and `/etc/resolv.conf`.
//!
//! Network modes, as Docker's: `bridge` (the default network), a user
//! network's name, `host`, `none`, `container:<name|id>`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use netd::netns::NetNs;
use netd::resolv::{DnsOptions, ExtraHost};
use netd::store::PortBinding;
use netd::{ConnectOptions, ContainerRef};

use super::ports::{host_port, wanted_ports};
use crate::daemon::store::Container;
use crate::daemon::{ContainerError, Daemon};

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

/// `name[:alias]`, or inspect's `/name:/self/alias`: (target name,
/// alias); the alias is the name when not given.
pub(crate) fn parse_link(l: &str) -> (&str, &str) {
    let (name, alias) = l.split_once(':').unwrap_or((l, l));
    // inspect's form names the alias under the linking container.
    let alias = alias.rsplit('/').next().unwrap_or(alias);
    (name.trim_start_matches('/'), alias)
}

impl Daemon {
    pub(crate) fn netns_path(&self, id: &str) -> PathBuf {
        netns_dir(&self.opts.exec_root).join(id)
    }

    /// At a start's planning, with nothing changed: the network namespace
    /// the container will join (None: the host's) and its hostname; checks
    /// what the network step would refuse (a `container:` mode whose
    /// container does not run, bad extra hosts or DNS servers).
    pub(crate) fn net_identity(
        &self,
        c: &Container,
    ) -> Result<(Option<PathBuf>, String), ContainerError> {
        extra_hosts(c)?;
        self.dns_options(c)?;
        match mode_of(&c.host_config.network_mode) {
            Mode::Host => Ok((
                None,
                nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )),
            Mode::Container(other) => {
                let o = self.running_netns_donor(&other)?;
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
    pub(crate) fn setup_network(
        &self,
        c: &Container,
    ) -> Result<(NetFiles, Vec<PortBinding>), ContainerError> {
        let extra = extra_hosts(c)?;
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
                let o = self.running_netns_donor(&other)?;
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
        netd::netns::remove(&path);
        self.netns_pool
            .take(&path)
            .map_err(|e| ContainerError::Internal(format!("network namespace: {e}")))?;
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
    ) -> Result<(NetFiles, Vec<PortBinding>), ContainerError> {
        // Its loopback is up (`netns_pool`).
        let ns = NetNs::open(path).map_err(ContainerError::internal)?;
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
                links: req.links.clone(),
                mac: req.mac,
            };
            let got = self.netd.connect(&req.name, cref, opts)?;
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
            .map_err(|e| ContainerError::Internal(format!("start the embedded DNS server: {e}")))?;
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

    fn dns_options(&self, c: &Container) -> Result<DnsOptions, ContainerError> {
        let servers = c
            .host_config
            .dns
            .iter()
            .map(|s| {
                s.parse::<IpAddr>()
                    .map_err(|_| ContainerError::InvalidOption(format!("{s} is not an ip address")))
            })
            .collect::<Result<_, _>>()?;
        Ok(DnsOptions {
            servers,
            search: c.host_config.dns_search.clone(),
            options: c.host_config.dns_options.clone(),
        })
    }

    /// Host ports for `-p`/`-P`: the asked one if free, else an error
    /// naming it; a free one when none was asked.
    fn choose_ports(&self, c: &Container) -> Result<Vec<PortBinding>, ContainerError> {
        let exposed: Vec<String> = c.config.exposed_ports.keys().cloned().collect();
        let wanted = wanted_ports(
            &c.host_config.port_bindings,
            c.host_config.publish_all_ports,
            &exposed,
        )
        .map_err(ContainerError::InvalidOption)?;
        let mut out: Vec<PortBinding> = Vec::new();
        for w in wanted {
            let (host_ip, protocol) = (w.host_ip(), w.protocol().as_str());
            let taken_here = |p: u16| {
                out.iter().any(|b| {
                    b.host_port == p
                        && b.protocol == protocol
                        && netd::manager::host_ips_overlap(b.host_ip, host_ip)
                })
            };
            let port = match w.host_ports() {
                None => self.netd.choose_host_port(host_ip, protocol)?,
                Some(range) => {
                    let mut found = None;
                    for p in range.ports() {
                        if !taken_here(p) && self.netd.port_available(host_ip, p, protocol)? {
                            found = Some(p);
                            break;
                        }
                    }
                    found.ok_or_else(|| {
                        let ip = host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                        ContainerError::PortAllocated {
                            endpoint: c.name.clone(),
                            address: host_port(ip, range),
                        }
                    })?
                }
            };
            out.push(PortBinding {
                host_ip,
                host_port: port,
                container_port: w.container_port(),
                protocol: protocol.to_string(),
            });
        }
        Ok(out)
    }

    /// After the container stopped (or a failed start, or reconciliation):
    /// its resolver, its namespace, its attachments. Idempotent.
    ///
    /// The namespace's mount goes first: with no process left in it the
    /// kernel removes it, and the container's veth pairs with it, in the
    /// background, so its addresses are released without waiting for that
    /// (see `Netd::release`). A running container that joined it
    /// (`--network container:`) keeps it alive: then the pairs are deleted
    /// here, as they must not outlive the addresses released.
    pub(crate) fn teardown_network(&self, id: &str) {
        if let Some(server) = self.dns.lock().unwrap().remove(id) {
            drop(server);
        }
        let joined = self.joined_by_running(id);
        netd::netns::remove(&self.netns_path(id));
        if let Ok(nets) = self.netd.networks() {
            for n in nets.iter().filter(|n| n.containers.contains_key(id)) {
                let done = if joined {
                    self.netd.disconnect(n.id.as_str(), id)
                } else {
                    self.netd.release(n.id.as_str(), id)
                };
                if let Err(e) = done {
                    tracing::warn!(container = %id, network = %n.name, error = %e, "disconnect");
                }
            }
        }
    }

    /// Whether a running container shares `id`'s network namespace.
    fn joined_by_running(&self, id: &str) -> bool {
        let index = self.containers.lock().unwrap();
        let joined = index
            .values()
            .filter(|e| e.c.state.running && e.c.id != id)
            .any(|e| match mode_of(&e.c.host_config.network_mode) {
                Mode::Container(other) => index.resolve(&other).is_ok_and(|o| o == id),
                _ => false,
            });
        joined
    }

    pub(crate) fn restart_dns(&self, c: &Container) {
        if mode_of(&c.host_config.network_mode) != Mode::Bridge {
            return;
        }
        let path = self.netns_path(&c.id);
        let started = NetNs::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|ns| {
                let dns = self.dns_options(c).map_err(|e| e.to_string())?;
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
}

impl Daemon {
    /// The container whose network namespace `container:<other>` joins:
    /// it must run.
    fn running_netns_donor(&self, other: &str) -> Result<Container, ContainerError> {
        let o = self.container(other)?;
        if !o.state.running {
            return Err(ContainerError::JoinNotRunning {
                what: "network",
                id: o.id,
            });
        }
        Ok(o)
    }
}

/// The container's `--add-host` entries, each checked.
fn extra_hosts(c: &Container) -> Result<Vec<ExtraHost>, ContainerError> {
    c.host_config
        .extra_hosts
        .iter()
        .map(|h| {
            h.parse().map_err(|e: netd::resolv::ExtraHostError| {
                ContainerError::InvalidOption(e.to_string())
            })
        })
        .collect()
}
