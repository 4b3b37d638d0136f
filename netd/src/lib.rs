//! rrun networking: network store, IPAM, bridges and veths, firewall, ports, DNS.
//!
//! Pure modules decide and are unit-tested without root: [`name`], [`store`],
//! [`ipam`], [`firewall`] (`plan`, `render`), [`dns::records`], [`resolv`].
//! Small modules act: [`netns`] (namespace entry on dedicated threads),
//! [`link`] (rtnetlink), `firewall::apply` (one `nft -j -f -` batch) and
//! [`dns::server`] (the resolver's sockets).
//!
//! # For the daemon
//!
//! [`Netd`] is the one entry point; its methods block (netlink, `nft`), so
//! call them from `tokio::task::spawn_blocking` or a plain thread. None of
//! them enters a namespace on the calling thread.
//!
//! ```text
//! let netd = Netd::open(NetdConfig::new(data_root.join("networks")))?;  // restores bridges, rules, DNS view
//! netd.ensure_predefined_networks()?;                 // bridge (cfg.instance's bridge), host, none
//! netd.create_network(CreateNetwork::bridge("todo-app".try_into()?))?;
//! let ns = NetNs::open(format!("/proc/{pid}/ns/net"))?;  // the container's namespace
//! let got = netd.connect("todo-app", ContainerRef { id, name, hostname, netns: &ns },
//!                        ConnectOptions { aliases, ipv4: None, ports })?;   // eth0, address, route, rules
//! // container files: netd.resolv_conf(&dns_opts), resolv::container_hosts(..)
//! let dns = netd.start_dns(id, &ns, &dns_opts)?;      // inside the runtime; ready when it returns
//! ...
//! dns.shutdown().await; netd.disconnect("todo-app", id)?; netd.remove_network("todo-app")?;
//! ```

pub mod dns;
pub mod firewall;
pub mod instance;
pub mod ipam;
pub mod link;
pub mod manager;
pub mod name;
pub mod netns;
pub mod resolv;
pub mod store;

pub use instance::Instance;
pub use manager::{
    ConnectOptions, Connected, ContainerRef, CreateNetwork, Netd, NetdConfig, NetdError,
};
