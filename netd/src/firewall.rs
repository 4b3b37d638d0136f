//! The firewall as data: one daemon's own nftables table (`inet rrun`, or
//! the name its [`Instance`](crate::instance::Instance) gives it), built
//! from the networks and published ports, rendered to nft's JSON and
//! applied in one transaction. Nothing outside the table is touched, with
//! one exception: where Docker's iptables-nft chain DOCKER-USER exists, two
//! accept rules per bridge of ours, marked with the table's name as their
//! comment, go there (see [`DOCKER_USER`]). Every function that touches the
//! system takes the table's name: another rrund's table (and its
//! DOCKER-USER rules) is never named, so neither daemon undoes the other.
//!
//! What the table does:
//! - `forward`: isolates different networks from each other, keeps internal
//!   networks inside their bridge, lets other networks out and replies in,
//!   and drops anything else routed into a bridge (moby#45610).
//! - `postrouting` (nat): masquerades traffic leaving a non-internal network,
//!   and traffic DNAT-ed from the host's 127.0.0.1 into a container.
//! - `prerouting` / `output` (nat): DNAT for published ports, for traffic
//!   from outside and from the host itself (including to 127.0.0.1).
//! - `raw_prerouting`: drops packets from any interface but `lo` aimed at
//!   127.0.0.0/8, because `route_localnet=1` on a bridge would otherwise let
//!   a neighbour reach ports published on 127.0.0.1 (CVE-2020-8558). IPv6
//!   needs no such rule: the kernel itself drops packets for ::1 arriving
//!   on any other interface (RFC 4291), and there is no `route_localnet`.
//!
//! IPv6 networks get the same rules for their IPv6 subnet (masquerade,
//! published ports DNAT-ed to the container's IPv6 address) and
//! `net.ipv6.conf.all.forwarding`. A port published on every address is
//! not reachable through the host's own `::1`: the kernel never routes a
//! packet from ::1 off the loopback interface, and IPv6 has no
//! `route_localnet` (Docker reaches it only through its userland proxy).

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use serde_json::{json, Value};

/// A bridge network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwNetwork {
    pub bridge: String,
    /// The IPv4 subnet, and the IPv6 one when the network has IPv6.
    pub subnets: Vec<IpNet>,
    pub internal: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// `-p [host_ip:]host_port:container_port[/proto]` for one container address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    /// None: every host address of `container_ip`'s family, as `-p 8080:80`.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub proto: Proto,
    pub container_ip: IpAddr,
    pub container_port: u16,
    /// The bridge the container is reached through.
    pub bridge: String,
}

/// One match of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    Iif(String),
    NotIif(String),
    Oif(String),
    NotOif(String),
    OifIn(Vec<String>),
    /// `meta nfproto ipv6` when true, `ipv4` when false.
    Ipv6(bool),
    SAddr(IpNet),
    DAddr(IpNet),
    /// The destination is one of the host's own addresses.
    DAddrLocal,
    Proto(Proto),
    DPort(u16),
    CtEstablished,
    CtDnat,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Accept,
    Drop,
    Masquerade,
    Dnat(IpAddr, u16),
    Jump(String),
    Return,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub matches: Vec<Match>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseHook {
    pub kind: &'static str,
    pub hook: &'static str,
    pub priority: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub name: &'static str,
    pub hook: Option<BaseHook>,
    pub rules: Vec<Rule>,
}

/// Everything to apply: the table and the sysctls it relies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub chains: Vec<Chain>,
    /// `(path under /proc/sys, value)`: `route_localnet` only on bridges
    /// with a port published on loopback, `ip_forward` when a network may
    /// reach out or be reached.
    pub sysctls: Vec<(String, &'static str)>,
    /// Every bridge of ours, for Docker's DOCKER-USER chain (see
    /// [`docker_user_batch`]).
    pub bridges: Vec<String>,
}

fn rule(matches: Vec<Match>, action: Action) -> Rule {
    Rule { matches, action }
}

fn host_net(ip: IpAddr) -> IpNet {
    IpNet::from(ip)
}

fn loopback4() -> IpNet {
    IpNet::V4(Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).expect("/8 is valid"))
}

/// Build the plan for `networks` and `ports`.
pub fn plan(networks: &[FwNetwork], ports: &[PublishedPort]) -> Plan {
    let (published, localnet) = published_rules(ports);
    let mut chains = vec![
        base_chain(
            "raw_prerouting",
            "filter",
            "prerouting",
            -300,
            vec![loopback_guard()],
        ),
        base_chain("forward", "filter", "forward", 0, forward_rules(networks)),
        base_chain(
            "postrouting",
            "nat",
            "postrouting",
            100,
            postrouting_rules(networks, &localnet),
        ),
    ];
    if !published.is_empty() {
        // Only packets for the host's own addresses are candidates, from
        // outside (prerouting) and from the host itself (output).
        let to_published = || {
            vec![rule(
                vec![Match::DAddrLocal],
                Action::Jump("published".into()),
            )]
        };
        chains.push(base_chain(
            "prerouting",
            "nat",
            "prerouting",
            -100,
            to_published(),
        ));
        // The host's own ::1 is never DNAT-ed: the packet could not leave
        // `lo`, and a client (trying ::1 first for `localhost`) would wait
        // out its connect timeout instead of being refused at once.
        let mut output = vec![rule(
            vec![Match::DAddr(IpNet::from(IpAddr::V6(
                std::net::Ipv6Addr::LOCALHOST,
            )))],
            Action::Return,
        )];
        output.extend(to_published());
        chains.push(base_chain("output", "nat", "output", -100, output));
        chains.push(Chain {
            name: "published",
            hook: None,
            rules: published,
        });
    }
    let mut sysctls: Vec<(String, &'static str)> = localnet
        .iter()
        .map(|b| (format!("net/ipv4/conf/{b}/route_localnet"), "1"))
        .collect();
    if networks.iter().any(|n| !n.internal) {
        sysctls.push(("net/ipv4/ip_forward".into(), "1"));
    }
    if networks
        .iter()
        .any(|n| !n.internal && n.subnets.iter().any(|s| matches!(s, IpNet::V6(_))))
    {
        sysctls.push((IPV6_FORWARDING.into(), "1"));
    }
    let bridges = networks.iter().map(|n| n.bridge.clone()).collect();
    Plan {
        chains,
        sysctls,
        bridges,
    }
}

fn base_chain(
    name: &'static str,
    kind: &'static str,
    hook: &'static str,
    priority: i32,
    rules: Vec<Rule>,
) -> Chain {
    Chain {
        name,
        hook: Some(BaseHook {
            kind,
            hook,
            priority,
        }),
        rules,
    }
}

/// CVE-2020-8558: with `route_localnet=1` on a bridge, a packet from a
/// neighbour (or a container) aimed at 127.0.0.1 would be DNAT-ed to a
/// port published on loopback, or reach a host service there. Dropped
/// before conntrack and NAT see it.
fn loopback_guard() -> Rule {
    rule(
        vec![Match::NotIif("lo".into()), Match::DAddr(loopback4())],
        Action::Drop,
    )
}

/// Order matters: internal networks sealed first; then published ports
/// (public: reachable from the outside and from other networks alike, as
/// through Docker's host-gateway); then every isolation drop; then the
/// remaining accepts, so an accept for one bridge never lets through what
/// another bridge's isolation drops; last, whatever else is routed into a
/// bridge is dropped (moby#45610: a host on the uplink routing to a
/// container's address directly reached ports published only on
/// 127.0.0.1, or not published at all; Docker 28 drops it too).
fn forward_rules(networks: &[FwNetwork]) -> Vec<Rule> {
    let mut sealed = Vec::new();
    let mut published_in = Vec::new();
    let mut isolation = Vec::new();
    let mut accepts = Vec::new();
    let mut unpublished = Vec::new();
    for n in networks {
        let br = || n.bridge.clone();
        let others: Vec<String> = networks
            .iter()
            .map(|o| o.bridge.clone())
            .filter(|b| *b != n.bridge)
            .collect();
        if !others.is_empty() {
            isolation.push(rule(
                vec![Match::Iif(br()), Match::OifIn(others)],
                Action::Drop,
            ));
        }
        if n.internal {
            sealed.push(rule(
                vec![Match::Iif(br()), Match::NotOif(br())],
                Action::Drop,
            ));
            sealed.push(rule(
                vec![Match::Oif(br()), Match::NotIif(br())],
                Action::Drop,
            ));
        } else {
            published_in.push(rule(vec![Match::Oif(br()), Match::CtDnat], Action::Accept));
            accepts.push(rule(
                vec![Match::Oif(br()), Match::CtEstablished],
                Action::Accept,
            ));
            accepts.push(rule(vec![Match::Iif(br())], Action::Accept));
            unpublished.push(rule(vec![Match::Oif(br())], Action::Drop));
        }
    }
    sealed
        .into_iter()
        .chain(published_in)
        .chain(isolation)
        .chain(accepts)
        .chain(unpublished)
        .collect()
}

fn postrouting_rules(networks: &[FwNetwork], localnet: &[String]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for n in networks.iter().filter(|n| !n.internal) {
        for subnet in &n.subnets {
            rules.push(rule(
                vec![Match::SAddr(*subnet), Match::NotOif(n.bridge.clone())],
                Action::Masquerade,
            ));
            // Hairpin: a container reaching a neighbour through a published
            // port comes back out of its own bridge; without this the reply
            // would go straight to it (no br_netfilter), bypassing the
            // reverse NAT.
            rules.push(rule(
                vec![
                    Match::CtDnat,
                    Match::SAddr(*subnet),
                    Match::Oif(n.bridge.clone()),
                ],
                Action::Masquerade,
            ));
        }
    }
    // Traffic from the host's 127.0.0.1 DNAT-ed into a container must
    // leave with a source the container can answer.
    for b in localnet {
        rules.push(rule(
            vec![Match::SAddr(loopback4()), Match::Oif(b.clone())],
            Action::Masquerade,
        ));
    }
    rules
}

/// DNAT rules in a stable order, and the bridges that need
/// `route_localnet` (an IPv4 port reachable on 127.0.0.1).
fn published_rules(ports: &[PublishedPort]) -> (Vec<Rule>, Vec<String>) {
    let mut rules = Vec::new();
    let mut localnet: Vec<String> = Vec::new();
    let mut sorted: Vec<&PublishedPort> = ports.iter().collect();
    sorted.sort_by_key(|p| (p.host_port, p.proto, p.container_ip.is_ipv6(), p.host_ip));
    for p in sorted {
        let v6 = p.container_ip.is_ipv6();
        let mut m = Vec::new();
        // `0.0.0.0` and `::` are every address of their family.
        match p.host_ip.filter(|ip| !ip.is_unspecified()) {
            Some(ip) => m.push(Match::DAddr(host_net(ip))),
            None => m.push(Match::Ipv6(v6)),
        }
        m.push(Match::Proto(p.proto));
        m.push(Match::DPort(p.host_port));
        rules.push(rule(m, Action::Dnat(p.container_ip, p.container_port)));
        let on_loopback = p
            .host_ip
            .is_none_or(|ip| ip.is_loopback() || ip.is_unspecified());
        if !v6 && on_loopback && !localnet.contains(&p.bridge) {
            localnet.push(p.bridge.clone());
        }
    }
    (rules, localnet)
}

fn meta(key: &str) -> Value {
    json!({ "meta": { "key": key } })
}

fn cmp(op: &str, left: Value, right: Value) -> Value {
    json!({ "match": { "op": op, "left": left, "right": right } })
}

fn prefix(net: &IpNet) -> Value {
    if net.prefix_len() == net.max_prefix_len() {
        json!(net.addr().to_string())
    } else {
        json!({ "prefix": { "addr": net.network().to_string(), "len": net.prefix_len() } })
    }
}

fn render_match(m: &Match) -> Value {
    let ip = |field: &str, net: &IpNet| {
        let protocol = match net {
            IpNet::V4(_) => "ip",
            IpNet::V6(_) => "ip6",
        };
        json!({ "payload": { "protocol": protocol, "field": field } })
    };
    match m {
        Match::Ipv6(v6) => cmp(
            "==",
            meta("nfproto"),
            json!(if *v6 { "ipv6" } else { "ipv4" }),
        ),
        Match::Iif(n) => cmp("==", meta("iifname"), json!(n)),
        Match::NotIif(n) => cmp("!=", meta("iifname"), json!(n)),
        Match::Oif(n) => cmp("==", meta("oifname"), json!(n)),
        Match::NotOif(n) => cmp("!=", meta("oifname"), json!(n)),
        Match::OifIn(ns) => cmp("==", meta("oifname"), json!({ "set": ns })),
        Match::SAddr(n) => cmp("==", ip("saddr", n), prefix(n)),
        Match::DAddr(n) => cmp("==", ip("daddr", n), prefix(n)),
        Match::DAddrLocal => cmp(
            "==",
            json!({ "fib": { "result": "type", "flags": ["daddr"] } }),
            json!("local"),
        ),
        Match::Proto(p) => cmp("==", meta("l4proto"), json!(p.as_str())),
        Match::DPort(port) => cmp(
            "==",
            json!({ "payload": { "protocol": "th", "field": "dport" } }),
            json!(port),
        ),
        Match::CtEstablished => cmp(
            "in",
            json!({ "ct": { "key": "state" } }),
            json!(["established", "related"]),
        ),
        Match::CtDnat => cmp("in", json!({ "ct": { "key": "status" } }), json!("dnat")),
    }
}

fn render_action(a: &Action) -> Value {
    match a {
        Action::Accept => json!({ "accept": null }),
        Action::Drop => json!({ "drop": null }),
        Action::Masquerade => json!({ "masquerade": null }),
        Action::Dnat(ip, port) => {
            let family = if ip.is_ipv6() { "ip6" } else { "ip" };
            json!({ "dnat": { "family": family, "addr": ip.to_string(), "port": port } })
        }
        Action::Jump(target) => json!({ "jump": { "target": target } }),
        Action::Return => json!({ "return": null }),
    }
}

fn table_object(table: &str) -> Value {
    json!({ "table": { "family": "inet", "name": table } })
}

/// The batch replacing the table `table` (family `inet`) with `plan`'s
/// chains. `add` then `delete` then `add` makes the delete succeed whether
/// or not the table existed, all inside one transaction: other tables are
/// never named.
pub fn render(plan: &Plan, table: &str) -> Value {
    let mut cmds = vec![
        json!({ "add": table_object(table) }),
        json!({ "delete": table_object(table) }),
        json!({ "add": table_object(table) }),
    ];
    for c in &plan.chains {
        let mut chain = json!({ "family": "inet", "table": table, "name": c.name });
        if let Some(h) = &c.hook {
            chain["type"] = json!(h.kind);
            chain["hook"] = json!(h.hook);
            chain["prio"] = json!(h.priority);
            chain["policy"] = json!("accept");
        }
        cmds.push(json!({ "add": { "chain": chain } }));
    }
    for c in &plan.chains {
        for r in &c.rules {
            let mut expr: Vec<Value> = r.matches.iter().map(render_match).collect();
            expr.push(render_action(&r.action));
            cmds.push(json!({ "add": { "rule": { "family": "inet", "table": table, "chain": c.name, "expr": expr } } }));
        }
    }
    json!({ "nftables": cmds })
}

/// The batch removing the table `table`, whether or not it exists.
pub fn render_teardown(table: &str) -> Value {
    json!({ "nftables": [ { "add": table_object(table) }, { "delete": table_object(table) } ] })
}

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("nft rejected rrun's rule set: {0}")]
    Nft(#[from] nftables::helper::NftablesError),
    #[error("sysctl {path}: {source}")]
    Sysctl {
        path: String,
        source: std::io::Error,
    },
    #[error("network namespace: {0}")]
    Namespace(#[from] std::io::Error),
}

/// [`apply`] inside `ns`, on a thread of its own.
pub fn apply_in(ns: &crate::netns::NetNs, plan: &Plan, table: &str) -> Result<(), FirewallError> {
    ns.run(|| apply(plan, table))?
}

/// [`teardown`] inside `ns`, on a thread of its own.
pub fn teardown_in(ns: &crate::netns::NetNs, table: &str) -> Result<(), FirewallError> {
    ns.run(|| teardown(table))?
}

/// Apply `plan` as the table `table` in the calling thread's network
/// namespace: sysctls first, then the whole table in one nft transaction,
/// then the table's rules in DOCKER-USER.
pub fn apply(plan: &Plan, table: &str) -> Result<(), FirewallError> {
    for (path, value) in &plan.sysctls {
        if path == IPV6_FORWARDING {
            keep_router_advertisements()?;
        }
        let full = format!("/proc/sys/{path}");
        std::fs::write(&full, value)
            .map_err(|source| FirewallError::Sysctl { path: full, source })?;
    }
    run_nft(&render(plan, table))?;
    sync_docker_user(table, &plan.bridges).map(|_| ())
}

/// The sysctl turning on IPv6 routing for every interface.
pub const IPV6_FORWARDING: &str = "net/ipv6/conf/all/forwarding";

/// Turning on IPv6 forwarding makes the kernel ignore router advertisements
/// on every interface whose `accept_ra` is 1, so a host configured by SLAAC
/// loses its IPv6 address and default route when its lifetime ends (a
/// known trap with Docker's `--ipv6`, which leaves it to the user). Before
/// rrun turns forwarding on, the interfaces that hold an address learned
/// from advertisements (see [`ra_configured`]) and have `accept_ra = 1` get
/// 2: accept advertisements even when forwarding. No other interface is
/// touched (bridges, veths and `default` must not start accepting
/// advertisements a container could send). Nothing changes when forwarding
/// is already on: the host's choice stands.
fn keep_router_advertisements() -> Result<(), FirewallError> {
    let forwarding = format!("/proc/sys/{IPV6_FORWARDING}");
    match std::fs::read_to_string(&forwarding) {
        Ok(v) if v.trim() == "0" => {}
        // Already on, or no IPv6 in this kernel (the write reports that).
        _ => return Ok(()),
    }
    let table = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
    for ifname in ra_configured(&table) {
        let path = format!("/proc/sys/net/ipv6/conf/{ifname}/accept_ra");
        if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == "1") {
            match std::fs::write(&path, "2") {
                // Gone in the meantime: nothing to keep.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                r => r.map_err(|source| FirewallError::Sysctl { path, source })?,
            }
        }
    }
    Ok(())
}

/// Interfaces of `/proc/net/if_inet6` holding a global address that is not
/// permanent (no IFA_F_PERMANENT, 0x80): one with a lifetime, learned from
/// router advertisements (SLAAC) or DHCPv6. Pure.
pub fn ra_configured(if_inet6: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in if_inet6.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [_, _, _, scope, flags, name] = f[..] else {
            continue;
        };
        let (Ok(scope), Ok(flags)) = (
            u32::from_str_radix(scope, 16),
            u32::from_str_radix(flags, 16),
        ) else {
            continue;
        };
        if scope == 0 && flags & 0x80 == 0 && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// Remove the table `table`, and its rules in DOCKER-USER, from the calling
/// thread's network namespace. Sysctls stay: another rrund, or the host,
/// may rely on forwarding.
pub fn teardown(table: &str) -> Result<(), FirewallError> {
    run_nft(&render_teardown(table))?;
    sync_docker_user(table, &[]).map(|_| ())
}

/// Whether the table `table` in the calling thread's namespace still holds
/// `plan` (every chain with as many rules as planned: a firewall reload,
/// `nft flush ruleset` or another program removes or empties them), and
/// its sysctls still have their values.
pub fn is_applied(plan: &Plan, table: &str) -> Result<bool, FirewallError> {
    // The sysctls too: `sysctl --system` or a network manager may turn
    // forwarding off again.
    let sysctls_hold = plan.sysctls.iter().all(|(path, value)| {
        std::fs::read_to_string(format!("/proc/sys/{path}")).is_ok_and(|v| v.trim() == *value)
    });
    Ok(sysctls_hold && list_table("inet", table)?.is_some_and(|l| matches_listing(plan, &l)))
}

/// Whether `name` is the table of an rrund: `rrun` (the default data
/// root's) or `rrun-` and 8 hex digits (see [`crate::instance`]).
pub fn is_rrun_table(name: &str) -> bool {
    name == crate::instance::DEFAULT_TABLE
        || name
            .strip_prefix("rrun-")
            .is_some_and(|h| h.len() == 8 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A port another rrund publishes: its host address (None: every address
/// of its family), port and protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedElsewhere {
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub proto: Proto,
}

/// The ports the other rrund of the calling thread's namespace publish:
/// the DNAT rules of every other rrun table (see [`is_rrun_table`]). Two
/// daemons' DNAT rules for one port would race (the first hook wins), so a
/// daemon checks these before it publishes.
pub fn published_elsewhere(own_table: &str) -> Result<Vec<PublishedElsewhere>, FirewallError> {
    let tables = nftables::helper::get_current_ruleset_raw(
        nftables::helper::DEFAULT_NFT,
        ["list", "tables", "inet"],
    )?;
    let tables: Value =
        serde_json::from_str(&tables).map_err(nftables::helper::NftablesError::NftInvalidJson)?;
    let mut out = Vec::new();
    let names = tables["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["table"]["name"].as_str())
        .filter(|n| *n != own_table && is_rrun_table(n));
    for name in names {
        // Gone in the meantime: nothing published there.
        if let Some(listing) = list_table("inet", name)? {
            out.extend(published_in_listing(&listing));
        }
    }
    Ok(out)
}

/// Pure part of [`published_elsewhere`]: the DNAT rules of the `published`
/// chain in nft's JSON listing of a table.
pub fn published_in_listing(listing: &Value) -> Vec<PublishedElsewhere> {
    let rules = listing["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("rule"))
        .filter(|r| r["chain"] == "published");
    let mut out = Vec::new();
    for r in rules {
        let (mut host_ip, mut host_port, mut proto) = (None, None, None);
        for e in r["expr"].as_array().into_iter().flatten() {
            let m = &e["match"];
            let (left, right) = (&m["left"], &m["right"]);
            let l4 = |p: &Value| match p.as_str() {
                Some("tcp") => Some(Proto::Tcp),
                Some("udp") => Some(Proto::Udp),
                _ => None,
            };
            if left["payload"]["field"] == "dport" {
                host_port = right.as_u64().and_then(|p| u16::try_from(p).ok());
                // nft lists `meta l4proto tcp th dport 80` as `tcp dport 80`.
                proto = l4(&left["payload"]["protocol"]).or(proto);
            } else if left["payload"]["field"] == "daddr" {
                host_ip = right.as_str().and_then(|a| a.parse().ok());
            } else if left["meta"]["key"] == "l4proto" {
                proto = l4(right).or(proto);
            }
        }
        if let (Some(host_port), Some(proto)) = (host_port, proto) {
            out.push(PublishedElsewhere {
                host_ip,
                host_port,
                proto,
            });
        }
    }
    out
}

/// `nft -j list table <family> <name>`: None when there is no such table.
fn list_table(family: &str, name: &str) -> Result<Option<Value>, FirewallError> {
    let listing = match nftables::helper::get_current_ruleset_raw(
        nftables::helper::DEFAULT_NFT,
        ["list", "table", family, name],
    ) {
        Ok(out) => out,
        Err(nftables::helper::NftablesError::NftFailed { stderr, .. })
            if stderr.contains("No such file or directory") =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e.into()),
    };
    let listing =
        serde_json::from_str(&listing).map_err(nftables::helper::NftablesError::NftInvalidJson)?;
    Ok(Some(listing))
}

/// Pure part of [`is_applied`]: the chains of `listing` (nft's JSON of our
/// table) and their rule counts are `plan`'s.
pub fn matches_listing(plan: &Plan, listing: &Value) -> bool {
    let Some(objects) = listing["nftables"].as_array() else {
        return false;
    };
    let chains: Vec<&str> = objects
        .iter()
        .filter_map(|o| o.get("chain"))
        .filter_map(|c| c["name"].as_str())
        .collect();
    if chains.len() != plan.chains.len() {
        return false;
    }
    plan.chains.iter().all(|c| {
        chains.contains(&c.name)
            && objects
                .iter()
                .filter_map(|o| o.get("rule"))
                .filter(|r| r["chain"] == c.name)
                .count()
                == c.rules.len()
    })
}

/// Docker's chain for users' forwarding rules (iptables-nft: tables
/// `ip filter` and, with ip6tables, `ip6 filter`). Where Docker runs, its
/// FORWARD chain's policy is DROP, and a packet must be accepted by every
/// base chain on the forward hook, so ours alone is not enough: without an accept here our containers could
/// not get out, nor (with br_netfilter) talk across their own bridge.
/// Accepting everything on our bridges there is safe because our own table
/// still drops what isolation and internal networks forbid.
pub const DOCKER_USER: &str = "DOCKER-USER";

/// The batch replacing our rules in DOCKER-USER, from `nft -j list table
/// <family> filter` output (`family` is `ip` or `ip6`); None when that
/// table has no DOCKER-USER chain (no Docker, or Docker with
/// iptables-legacy, which nft cannot see). Ours are the rules whose comment
/// is `owner` (our table's name): another rrund's stay as they are.
pub fn docker_user_batch(
    listing: &Value,
    family: &str,
    owner: &str,
    bridges: &[String],
) -> Option<Value> {
    let objects = listing["nftables"].as_array()?;
    let is_ours =
        |o: &&Value| o["table"] == "filter" && o["family"] == family && o["chain"] == DOCKER_USER;
    let has_chain = objects
        .iter()
        .filter_map(|o| o.get("chain"))
        .any(|c| c["name"] == DOCKER_USER && c["table"] == "filter" && c["family"] == family);
    if !has_chain {
        return None;
    }
    // Ours as they are, as (key, bridge) in order; nothing to do when they
    // are already what `bridges` asks for.
    let ours: Vec<&Value> = objects
        .iter()
        .filter_map(|o| o.get("rule"))
        .filter(is_ours)
        .filter(|r| r["comment"] == owner)
        .collect();
    let mut have: Vec<(String, String)> = ours
        .iter()
        .filter_map(|r| {
            let m = &r["expr"][0]["match"];
            Some((
                m["left"]["meta"]["key"].as_str()?.to_string(),
                m["right"].as_str()?.to_string(),
            ))
        })
        .collect();
    let mut want: Vec<(String, String)> = bridges
        .iter()
        .flat_map(|b| ["iifname", "oifname"].map(|k| (k.to_string(), b.clone())))
        .collect();
    have.sort();
    want.sort();
    if have.len() == ours.len() && have == want {
        return Some(json!({ "nftables": [] }));
    }
    let mut cmds: Vec<Value> = ours
        .iter()
        .map(|r| {
            json!({ "delete": { "rule": {
                "family": family, "table": "filter", "chain": DOCKER_USER, "handle": r["handle"]
            } } })
        })
        .collect();
    for b in bridges {
        for key in ["iifname", "oifname"] {
            cmds.push(json!({ "insert": { "rule": {
                "family": family, "table": "filter", "chain": DOCKER_USER,
                "comment": owner,
                "expr": [cmp("==", meta(key), json!(b)), { "accept": null }]
            } } }));
        }
    }
    Some(json!({ "nftables": cmds }))
}

/// Bring the DOCKER-USER rules of the table `table` in line with `bridges`
/// in the calling thread's namespace. Returns whether anything had to
/// change (false with no Docker chain, or with our rules already there).
pub fn sync_docker_user(table: &str, bridges: &[String]) -> Result<bool, FirewallError> {
    docker_user(table, bridges, true)
}

/// Whether the DOCKER-USER rules of the table `table` are in line with
/// `bridges` (or there is no Docker chain), changing nothing.
pub fn docker_user_in_line(table: &str, bridges: &[String]) -> Result<bool, FirewallError> {
    docker_user(table, bridges, false).map(|differ| !differ)
}

/// Whether our DOCKER-USER rules differ from `bridges`; with `apply`, they
/// are changed to match.
fn docker_user(table: &str, bridges: &[String], apply: bool) -> Result<bool, FirewallError> {
    let mut changed = false;
    // IPv4, and IPv6 where Docker runs with ip6tables (its default since
    // 27), whose FORWARD policy it also sets to DROP.
    for family in ["ip", "ip6"] {
        // No `filter` table of this family: no Docker rules here.
        let Some(listing) = list_table(family, "filter")? else {
            continue;
        };
        if let Some(batch) = docker_user_batch(&listing, family, table, bridges) {
            if !batch["nftables"].as_array().is_some_and(|a| a.is_empty()) {
                if apply {
                    run_nft(&batch)?;
                }
                changed = true;
            }
        }
    }
    Ok(changed)
}

fn run_nft(batch: &Value) -> Result<(), FirewallError> {
    nftables::helper::apply_ruleset_raw(
        &batch.to_string(),
        nftables::helper::DEFAULT_NFT,
        nftables::helper::DEFAULT_ARGS,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table name as a second daemon's.
    const TABLE: &str = "rrun-0123abcd";

    fn nets() -> Vec<FwNetwork> {
        vec![
            FwNetwork {
                bridge: "rr-a".into(),
                subnets: vec!["172.18.0.0/16".parse().unwrap()],
                internal: false,
            },
            FwNetwork {
                bridge: "rr-b".into(),
                subnets: vec!["172.19.0.0/16".parse().unwrap()],
                internal: false,
            },
            FwNetwork {
                bridge: "rr-i".into(),
                subnets: vec!["172.20.0.0/16".parse().unwrap()],
                internal: true,
            },
        ]
    }

    fn chain<'a>(p: &'a Plan, name: &str) -> &'a Chain {
        p.chains.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn networks_are_isolated_from_each_other() {
        let p = plan(&nets(), &[]);
        let fwd = &chain(&p, "forward").rules;
        let drop_a = rule(
            vec![
                Match::Iif("rr-a".into()),
                Match::OifIn(vec!["rr-b".into(), "rr-i".into()]),
            ],
            Action::Drop,
        );
        // The internal network sealed, then published-port accepts, then
        // every drop, then the other accepts.
        assert!(fwd[..2].iter().all(|r| r.action == Action::Drop
            && r.matches
                .iter()
                .any(|m| m == &Match::Iif("rr-i".into()) || m == &Match::Oif("rr-i".into()))));
        let fwd = &fwd[2..];
        let dnat = fwd
            .iter()
            .take_while(|r| r.matches.contains(&Match::CtDnat))
            .count();
        assert_eq!(dnat, 2, "one per non-internal network");
        assert!(fwd[..dnat].iter().all(|r| r.action == Action::Accept));
        let rest = &fwd[dnat..];
        assert_eq!(rest[0], drop_a);
        let first_accept = rest
            .iter()
            .position(|r| r.action == Action::Accept)
            .unwrap();
        // Last, one drop per non-internal bridge of what is routed into it
        // unasked (moby#45610).
        let (rest, unpublished) = rest.split_at(rest.len() - 2);
        assert_eq!(
            unpublished,
            [
                rule(vec![Match::Oif("rr-a".into())], Action::Drop),
                rule(vec![Match::Oif("rr-b".into())], Action::Drop)
            ]
        );
        assert!(rest[first_accept..]
            .iter()
            .all(|r| r.action == Action::Accept));
        assert!(rest[..first_accept]
            .iter()
            .all(|r| r.action == Action::Drop));
        assert!(!rest.iter().any(|r| r.matches.contains(&Match::CtDnat)));
    }

    #[test]
    fn internal_networks_have_no_way_out_and_are_not_masqueraded() {
        let p = plan(&nets(), &[]);
        let fwd = &chain(&p, "forward").rules;
        assert!(fwd.contains(&rule(
            vec![Match::Iif("rr-i".into()), Match::NotOif("rr-i".into())],
            Action::Drop
        )));
        assert!(fwd.contains(&rule(
            vec![Match::Oif("rr-i".into()), Match::NotIif("rr-i".into())],
            Action::Drop
        )));
        assert!(!fwd
            .iter()
            .any(|r| r.action == Action::Accept && r.matches.contains(&Match::Iif("rr-i".into()))));
        let post = &chain(&p, "postrouting").rules;
        // Two per non-internal network: leaving it, and hairpin.
        assert_eq!(post.len(), 4, "{post:?}");
        assert!(post.iter().all(|r| !r
            .matches
            .contains(&Match::SAddr("172.20.0.0/16".parse().unwrap()))));
        assert!(post.contains(&rule(
            vec![
                Match::SAddr("172.18.0.0/16".parse().unwrap()),
                Match::NotOif("rr-a".into())
            ],
            Action::Masquerade
        )));
    }

    #[test]
    fn published_ports_dnat_and_localnet_only_where_needed() {
        let ports = vec![
            PublishedPort {
                host_ip: None,
                host_port: 8080,
                proto: Proto::Tcp,
                container_ip: "172.18.0.2".parse().unwrap(),
                container_port: 80,
                bridge: "rr-a".into(),
            },
            PublishedPort {
                host_ip: Some("10.0.0.5".parse().unwrap()),
                host_port: 5353,
                proto: Proto::Udp,
                container_ip: "172.19.0.2".parse().unwrap(),
                container_port: 53,
                bridge: "rr-b".into(),
            },
        ];
        let p = plan(&nets(), &ports);
        let published = &chain(&p, "published").rules;
        assert_eq!(
            published[0],
            rule(
                vec![Match::Proto(Proto::Udp), Match::DPort(5353)],
                Action::Dnat("172.19.0.2".parse().unwrap(), 53)
            )
            .tap_daddr("10.0.0.5")
        );
        assert_eq!(
            published[1],
            rule(
                vec![
                    Match::Ipv6(false),
                    Match::Proto(Proto::Tcp),
                    Match::DPort(8080)
                ],
                Action::Dnat("172.18.0.2".parse().unwrap(), 80)
            )
        );
        let jump = rule(vec![Match::DAddrLocal], Action::Jump("published".into()));
        assert_eq!(chain(&p, "prerouting").rules, vec![jump.clone()]);
        // From the host itself, except to ::1 (see `plan`).
        assert_eq!(
            chain(&p, "output").rules,
            vec![
                rule(
                    vec![Match::DAddr("::1/128".parse().unwrap())],
                    Action::Return
                ),
                jump
            ]
        );
        // Only rr-a has a port reachable on 127.0.0.1.
        assert!(p
            .sysctls
            .contains(&("net/ipv4/conf/rr-a/route_localnet".into(), "1")));
        assert!(!p.sysctls.iter().any(|(s, _)| s.contains("rr-b")));
        assert!(chain(&p, "postrouting").rules.contains(&rule(
            vec![
                Match::SAddr("127.0.0.0/8".parse().unwrap()),
                Match::Oif("rr-a".into())
            ],
            Action::Masquerade
        )));
    }

    #[test]
    fn loopback_from_outside_is_dropped_early() {
        let p = plan(&[], &[]);
        let raw = chain(&p, "raw_prerouting");
        assert_eq!(raw.hook.as_ref().unwrap().priority, -300);
        assert_eq!(
            raw.rules,
            vec![rule(
                vec![
                    Match::NotIif("lo".into()),
                    Match::DAddr("127.0.0.0/8".parse().unwrap())
                ],
                Action::Drop
            )]
        );
        assert!(p.sysctls.is_empty(), "no network, nothing to forward");
    }

    #[test]
    fn rendered_batch_is_valid_nft_json_and_names_only_our_table() {
        let ports = vec![PublishedPort {
            host_ip: Some("127.0.0.1".parse().unwrap()),
            host_port: 8080,
            proto: Proto::Tcp,
            container_ip: "172.18.0.2".parse().unwrap(),
            container_port: 80,
            bridge: "rr-a".into(),
        }];
        let v = render(&plan(&nets(), &ports), TABLE);
        // The nftables crate's schema accepts every command we emit.
        let parsed: nftables::schema::Nftables = serde_json::from_value(v.clone()).unwrap();
        assert!(parsed.objects.len() > 10);
        let text = v.to_string();
        for cmd in v["nftables"].as_array().unwrap() {
            let obj = cmd.as_object().unwrap().values().next().unwrap();
            let inner = obj.as_object().unwrap().values().next().unwrap();
            let table = inner.get("table").or_else(|| inner.get("name")).unwrap();
            assert_eq!(table, TABLE, "{cmd}");
        }
        assert!(
            text.contains(r#""dnat":{"addr":"172.18.0.2","family":"ip","port":80}"#),
            "{text}"
        );
        let t: nftables::schema::Nftables = serde_json::from_value(render_teardown(TABLE)).unwrap();
        assert_eq!(t.objects.len(), 2);
    }

    #[test]
    fn docker_user_rules_replace_ours_and_leave_others() {
        let listing = json!({ "nftables": [
            { "metainfo": { "json_schema_version": 1 } },
            { "table": { "family": "ip", "name": "filter", "handle": 1 } },
            { "chain": { "family": "ip", "table": "filter", "name": "DOCKER-USER", "handle": 2 } },
            { "rule": { "family": "ip", "table": "filter", "chain": "DOCKER-USER", "handle": 7,
                        "comment": "rrun", "expr": [] } },
            { "rule": { "family": "ip", "table": "filter", "chain": "DOCKER-USER", "handle": 8,
                        "expr": [ { "return": null } ] } },
            { "rule": { "family": "ip", "table": "filter", "chain": "FORWARD", "handle": 9,
                        "comment": "rrun", "expr": [] } }
        ]});
        let b = docker_user_batch(&listing, "ip", "rrun", &["rr-a".to_string()]).unwrap();
        let cmds = b["nftables"].as_array().unwrap();
        assert_eq!(cmds.len(), 3);
        assert_eq!(
            cmds[0]["delete"]["rule"]["handle"], 7,
            "only our rule in DOCKER-USER goes"
        );
        assert_eq!(cmds[1]["insert"]["rule"]["comment"], "rrun");
        assert_eq!(
            cmds[1]["insert"]["rule"]["expr"][0]["match"]["right"],
            "rr-a"
        );
        // The inserts fit the crate's schema (a delete by handle, which nft
        // takes without `expr`, does not).
        let inserts = json!({ "nftables": [cmds[1].clone(), cmds[2].clone()] });
        let parsed: nftables::schema::Nftables = serde_json::from_value(inserts).unwrap();
        assert_eq!(parsed.objects.len(), 2);
        // Teardown: only the delete.
        let t = docker_user_batch(&listing, "ip", "rrun", &[]).unwrap();
        assert_eq!(t["nftables"].as_array().unwrap().len(), 1);
        // No Docker chain: nothing to do.
        let none = json!({ "nftables": [ { "table": { "family": "ip", "name": "filter" } } ] });
        assert!(docker_user_batch(&none, "ip", "rrun", &["rr-a".to_string()]).is_none());
    }

    #[test]
    fn docker_user_rules_of_another_daemon_are_left_alone() {
        let rule = |h: u32, owner: &str, key: &str, br: &str| {
            json!({ "rule": { "family": "ip", "table": "filter", "chain": "DOCKER-USER",
                "handle": h, "comment": owner,
                "expr": [ { "match": { "op": "==", "left": { "meta": { "key": key } }, "right": br } },
                          { "accept": null } ] } })
        };
        let listing = json!({ "nftables": [
            { "chain": { "family": "ip", "table": "filter", "name": "DOCKER-USER", "handle": 2 } },
            rule(5, "rrun", "oifname", "rrun0"),
            rule(6, "rrun", "iifname", "rrun0"),
            rule(7, TABLE, "oifname", "rrun-0123abcd"),
        ]});
        // The second daemon's set is incomplete: it replaces its one rule,
        // never the default daemon's two.
        let b = docker_user_batch(&listing, "ip", TABLE, &["rrun-0123abcd".to_string()]).unwrap();
        let cmds = b["nftables"].as_array().unwrap();
        let deleted: Vec<&Value> = cmds
            .iter()
            .filter_map(|c| c.get("delete"))
            .map(|d| &d["rule"]["handle"])
            .collect();
        assert_eq!(deleted, [&json!(7)], "{b}");
        assert!(cmds
            .iter()
            .filter_map(|c| c.get("insert"))
            .all(|i| i["rule"]["comment"] == TABLE));
        // The default daemon finds its own rules in place.
        let same = docker_user_batch(&listing, "ip", "rrun", &["rrun0".to_string()]).unwrap();
        assert!(same["nftables"].as_array().unwrap().is_empty(), "{same}");
        // Teardown of one removes only its own.
        let gone = docker_user_batch(&listing, "ip", "rrun", &[]).unwrap();
        assert_eq!(gone["nftables"].as_array().unwrap().len(), 2);
        assert!(!gone.to_string().contains("\"handle\":7"));
    }

    #[test]
    fn another_daemons_published_ports_are_read_from_its_table() {
        let ports = vec![
            PublishedPort {
                host_ip: None,
                host_port: 8080,
                proto: Proto::Tcp,
                container_ip: "172.18.0.2".parse().unwrap(),
                container_port: 80,
                bridge: "rr-a".into(),
            },
            PublishedPort {
                host_ip: Some("127.0.0.1".parse().unwrap()),
                host_port: 5353,
                proto: Proto::Udp,
                container_ip: "172.18.0.3".parse().unwrap(),
                container_port: 53,
                bridge: "rr-a".into(),
            },
        ];
        // nft lists what it was given: the batch's rules as a listing.
        let batch = render(&plan(&nets(), &ports), TABLE);
        let listing: Vec<Value> = batch["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["add"].get("rule"))
            .map(|r| json!({ "rule": r }))
            .collect();
        let got = published_in_listing(&json!({ "nftables": listing }));
        assert_eq!(
            got,
            [
                PublishedElsewhere {
                    host_ip: Some("127.0.0.1".parse().unwrap()),
                    host_port: 5353,
                    proto: Proto::Udp
                },
                PublishedElsewhere {
                    host_ip: None,
                    host_port: 8080,
                    proto: Proto::Tcp
                },
            ]
        );
        // As nft 1.0 lists a rule it was given as `meta l4proto tcp th
        // dport 18182`.
        let listed = json!({ "nftables": [ { "rule": { "family": "inet", "table": TABLE,
            "chain": "published", "handle": 2, "expr": [
                { "match": { "op": "==", "left": { "meta": { "key": "nfproto" } }, "right": "ipv4" } },
                { "match": { "op": "==", "left": { "payload": { "protocol": "tcp", "field": "dport" } },
                             "right": 18182 } },
                { "dnat": { "family": "ip", "addr": "172.18.0.2", "port": 80 } } ] } } ] });
        assert_eq!(
            published_in_listing(&listed),
            [PublishedElsewhere {
                host_ip: None,
                host_port: 18182,
                proto: Proto::Tcp
            }]
        );
        assert!(is_rrun_table("rrun") && is_rrun_table("rrun-0123abcd"));
        for other in ["rrun_demo_guard", "rrun-guard", "rrun-0123abcde", "filter"] {
            assert!(!is_rrun_table(other), "{other}");
        }
    }

    #[test]
    fn plan_lists_every_bridge_for_docker_user() {
        assert_eq!(plan(&nets(), &[]).bridges, vec!["rr-a", "rr-b", "rr-i"]);
    }

    trait TapDaddr {
        fn tap_daddr(self, ip: &str) -> Self;
    }
    impl TapDaddr for Rule {
        fn tap_daddr(mut self, ip: &str) -> Self {
            self.matches
                .insert(0, Match::DAddr(host_net(ip.parse().unwrap())));
            self
        }
    }

    #[test]
    fn ipv6_networks_masquerade_forward_and_publish_on_ipv6() {
        let mut ns = nets();
        ns[0].subnets.push("fd00:a::/64".parse().unwrap());
        ns[2].subnets.push("fd00:c::/64".parse().unwrap());
        let port = |host_ip: Option<&str>, container_ip: &str| PublishedPort {
            host_ip: host_ip.map(|h| h.parse().unwrap()),
            host_port: 8080,
            proto: Proto::Tcp,
            container_ip: container_ip.parse().unwrap(),
            container_port: 80,
            bridge: "rr-a".into(),
        };
        let ports = vec![
            port(None, "fd00:a::2"),
            port(None, "172.18.0.2"),
            port(Some("fd00:99::1"), "fd00:a::2"),
        ];
        let p = plan(&ns, &ports);
        let post = &chain(&p, "postrouting").rules;
        let masq6 = rule(
            vec![
                Match::SAddr("fd00:a::/64".parse().unwrap()),
                Match::NotOif("rr-a".into()),
            ],
            Action::Masquerade,
        );
        assert!(post.contains(&masq6));
        assert!(
            !post.iter().any(|r| r
                .matches
                .contains(&Match::SAddr("fd00:c::/64".parse().unwrap()))),
            "internal networks are not masqueraded, IPv6 neither"
        );
        // ::1 cannot be DNAT-ed off the host (see the module's notes).
        assert!(!post.iter().any(|r| r
            .matches
            .contains(&Match::SAddr("::1/128".parse().unwrap()))));
        let published = &chain(&p, "published").rules;
        assert_eq!(published.len(), 3);
        // Each family's wildcard DNATs only its own family.
        assert_eq!(published[0].matches[0], Match::Ipv6(false), "{published:?}");
        assert_eq!(published[1].matches[0], Match::Ipv6(true));
        assert_eq!(
            published[1].action,
            Action::Dnat("fd00:a::2".parse().unwrap(), 80)
        );
        assert_eq!(
            published[2].matches[0],
            Match::DAddr("fd00:99::1/128".parse().unwrap())
        );
        assert!(p.sysctls.contains(&(IPV6_FORWARDING.into(), "1")));
        // route_localnet is an IPv4 matter only.
        assert_eq!(
            p.sysctls
                .iter()
                .filter(|(s, _)| s.contains("route_localnet"))
                .count(),
            1
        );
        let text = render(&p, TABLE).to_string();
        assert!(
            text.contains(r#""dnat":{"addr":"fd00:a::2","family":"ip6","port":80}"#),
            "{text}"
        );
        assert!(text.contains(r#"{"payload":{"field":"saddr","protocol":"ip6"}}"#));
        assert!(text.contains(r#""right":"ipv6""#));
        let parsed: nftables::schema::Nftables = serde_json::from_value(render(&p, TABLE)).unwrap();
        assert!(parsed.objects.len() > 10);
        // Without an IPv6 network, IPv6 forwarding is left alone.
        assert!(!plan(&nets(), &[])
            .sysctls
            .iter()
            .any(|(s, _)| s == IPV6_FORWARDING));
    }

    #[test]
    fn a_listing_matches_the_plan_only_with_every_chain_and_rule() {
        let p = plan(&nets(), &[]);
        let mut objects = vec![json!({ "table": { "family": "inet", "name": TABLE } })];
        for c in &p.chains {
            objects.push(json!({ "chain": { "family": "inet", "table": TABLE, "name": c.name } }));
            for _ in &c.rules {
                objects
                    .push(json!({ "rule": { "family": "inet", "table": TABLE, "chain": c.name } }));
            }
        }
        let listing = json!({ "nftables": objects.clone() });
        assert!(matches_listing(&p, &listing));
        // A rule gone (a flushed chain), or a chain missing: not applied.
        let mut fewer = objects.clone();
        let last_rule = fewer.iter().rposition(|o| o.get("rule").is_some()).unwrap();
        fewer.remove(last_rule);
        assert!(!matches_listing(&p, &json!({ "nftables": fewer })));
        let no_chain: Vec<Value> = objects
            .into_iter()
            .filter(|o| o.get("chain").is_none_or(|c| c["name"] != "forward"))
            .collect();
        assert!(!matches_listing(&p, &json!({ "nftables": no_chain })));
        assert!(!matches_listing(&p, &json!({})));
    }

    #[test]
    fn docker_user_batch_is_empty_when_our_rules_are_in_place() {
        let rule = |h: u32, key: &str, br: &str| {
            json!({ "rule": { "family": "ip", "table": "filter", "chain": "DOCKER-USER",
                "handle": h, "comment": "rrun",
                "expr": [ { "match": { "op": "==", "left": { "meta": { "key": key } }, "right": br } },
                          { "accept": null } ] } })
        };
        let listing = json!({ "nftables": [
            { "chain": { "family": "ip", "table": "filter", "name": "DOCKER-USER", "handle": 2 } },
            rule(5, "oifname", "rr-a"),
            rule(6, "iifname", "rr-a"),
        ]});
        let same = docker_user_batch(&listing, "ip", "rrun", &["rr-a".to_string()]).unwrap();
        assert!(same["nftables"].as_array().unwrap().is_empty(), "{same}");
        let more = docker_user_batch(
            &listing,
            "ip",
            "rrun",
            &["rr-a".to_string(), "rr-b".to_string()],
        )
        .unwrap();
        assert_eq!(more["nftables"].as_array().unwrap().len(), 2 + 4);
    }

    #[test]
    fn only_interfaces_with_learned_addresses_keep_router_advertisements() {
        let table = "\
fd001234000000000000000000000001 00000005 40 00 80 rr-0123456789\n\
20010db8000000000000000000000005 00000002 40 00 00 eth0\n\
20010db8000000000000000000000006 00000002 40 00 00 eth0\n\
fe80000000000000020000fffe000001 00000002 40 20 80 eth0\n\
fe80000000000000020000fffe000002 00000007 40 20 80 ve0123456789abc\n\
00000000000000000000000000000001 00000001 80 10 80 lo\n";
        assert_eq!(ra_configured(table), ["eth0"]);
        assert!(ra_configured("garbage\n").is_empty());
    }

    #[test]
    fn docker_user_rules_go_to_the_family_of_the_listing() {
        let listing = json!({ "nftables": [
            { "chain": { "family": "ip6", "table": "filter", "name": "DOCKER-USER", "handle": 2 } }
        ]});
        assert!(docker_user_batch(&listing, "ip", "rrun", &["rr-a".to_string()]).is_none());
        let b = docker_user_batch(&listing, "ip6", "rrun", &["rr-a".to_string()]).unwrap();
        let cmds = b["nftables"].as_array().unwrap();
        assert_eq!(cmds.len(), 2);
        assert!(cmds.iter().all(|c| c["insert"]["rule"]["family"] == "ip6"));
    }
}
