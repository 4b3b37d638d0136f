//! Legacy links on the default bridge (`--link db:alias` with no user
//! network): the linking container gets Docker's `ALIAS_NAME`,
//! `ALIAS_PORT…` and `ALIAS_ENV_…` variables and an /etc/hosts line for
//! each linked container, as moby's `daemon/links` makes them. On a user
//! network a link is only a name the linking container resolves (netd's
//! DNS), as with Docker.

use std::net::Ipv4Addr;

use crate::daemon::containers::ports::parse_port_key;
use crate::daemon::store::Container;
use crate::daemon::{find_image, spec, ContainerError, Daemon};

/// One linked container as the linking one sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LegacyLink {
    pub alias: String,
    /// The linked container's name, without the leading `/`.
    pub name: String,
    pub hostname: String,
    pub ip: Ipv4Addr,
    /// Its exposed ports: (port, protocol).
    pub ports: Vec<(u16, String)>,
    /// Its environment (image's and its own).
    pub env: Vec<String>,
}

impl Daemon {
    /// The legacy links of `c` (its links on the default bridge), each
    /// target running with an address there; Docker's error otherwise.
    pub(crate) fn legacy_links(&self, c: &Container) -> Result<Vec<LegacyLink>, ContainerError> {
        let Some(req) = c
            .networks
            .iter()
            .find(|n| n.name == netd::manager::DEFAULT_NETWORK && !n.links.is_empty())
        else {
            return Ok(Vec::new());
        };
        let bridge = self
            .netd
            .inspect(netd::manager::DEFAULT_NETWORK)
            .map_err(ContainerError::internal)?;
        let mut out = Vec::new();
        for l in &req.links {
            let shown = format!("/{} AS /{}/{}", l.name, c.name, l.alias);
            let target = self
                .container(&l.name)
                .map_err(|_| ContainerError::NoSuchLinkTarget(l.name.clone()))?;
            let ip = bridge.containers.get(&target.id).map(|e| e.ipv4_address);
            let (true, Some(ip)) = (target.state.running, ip) else {
                return Err(ContainerError::LinkNotRunning(shown));
            };
            let image_env = find_image(&self.images, &target.image)
                .ok()
                .and_then(|i| i.config.config.env.clone())
                .unwrap_or_default();
            let mut ports: Vec<(u16, String)> = target
                .config
                .exposed_ports
                .keys()
                .filter_map(|k| parse_port_key(k).ok())
                .collect();
            sort_ports(&mut ports);
            out.push(LegacyLink {
                alias: l.alias.clone(),
                name: target.name.clone(),
                hostname: match target.config.hostname.as_str() {
                    "" => target.id[..12].to_string(),
                    h => h.to_string(),
                },
                ip,
                ports,
                env: spec::merge_env(&image_env, &target.config.env),
            });
        }
        Ok(out)
    }
}

impl Daemon {
    /// `DELETE /containers/{parent}/{alias}?link=1` (`docker rm --link
    /// /web/db`): the parent loses the link; its variables stay until it
    /// is recreated, as with Docker.
    pub fn remove_link(&self, parent: &str, alias: &str) -> Result<(), ContainerError> {
        let c = self
            .container(parent)
            .map_err(|_| ContainerError::NoSuchLinkParent {
                parent: parent.to_string(),
                alias: alias.to_string(),
            })?;
        let has = c
            .networks
            .iter()
            .any(|n| n.links.iter().any(|l| l.alias == alias));
        if !has {
            return Err(ContainerError::NoSuchLink {
                parent: parent.to_string(),
                alias: alias.to_string(),
            });
        }
        self.update(&c.id, |c| {
            for n in &mut c.networks {
                n.links.retain(|l| l.alias != alias);
            }
            c.host_config
                .links
                .retain(|l| super::network::parse_link(l).1 != alias);
        })?;
        self.netd
            .remove_link(&c.id, alias)
            .map_err(ContainerError::internal)?;
        tracing::info!(container = %c.id, alias, "link removed");
        Ok(())
    }
}

/// Docker's order: by number, tcp first at the same number.
fn sort_ports(ports: &mut [(u16, String)]) {
    ports.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| (b.1 == "tcp").cmp(&(a.1 == "tcp")))
    });
}

/// The last index of the run of consecutive port numbers starting at `i`.
fn run_end(ports: &[(u16, String)], i: usize) -> usize {
    let mut j = i;
    while j + 1 < ports.len() && u32::from(ports[j + 1].0) == u32::from(ports[j].0) + 1 {
        j += 1;
    }
    j
}

/// The variables `parent` gets from its legacy links (moby
/// `daemon/links/links.go`), before its own environment.
pub(crate) fn link_env(parent: &str, links: &[LegacyLink]) -> Vec<String> {
    let mut env = Vec::new();
    for l in links {
        let a = l.alias.to_uppercase().replace('-', "_");
        let ip = l.ip;
        if let Some((port, proto)) = l.ports.first() {
            env.push(format!("{a}_PORT={proto}://{ip}:{port}"));
        }
        let mut i = 0;
        while i < l.ports.len() {
            let j = run_end(&l.ports, i);
            let (p, proto) = &l.ports[i];
            let key = format!("{a}_PORT_{p}_{}", proto.to_uppercase());
            if j > i + 1 {
                let (q, qproto) = &l.ports[j];
                env.push(format!("{key}_START={proto}://{ip}:{p}"));
                env.push(format!("{key}_ADDR={ip}"));
                env.push(format!("{key}_PROTO={proto}"));
                env.push(format!("{key}_PORT_START={p}"));
                env.push(format!("{key}_END={qproto}://{ip}:{q}"));
                env.push(format!("{key}_PORT_END={q}"));
            }
            for (p, proto) in &l.ports[i..=j] {
                let key = format!("{a}_PORT_{p}_{}", proto.to_uppercase());
                env.push(format!("{key}={proto}://{ip}:{p}"));
                env.push(format!("{key}_ADDR={ip}"));
                env.push(format!("{key}_PORT={p}"));
                env.push(format!("{key}_PROTO={proto}"));
            }
            i = j + 1;
        }
        env.push(format!("{a}_NAME=/{parent}/{}", l.alias));
        for e in &l.env {
            let Some((k, v)) = e.split_once('=') else {
                continue;
            };
            // Docker leaves out what every image has.
            if k != "HOME" && k != "PATH" {
                env.push(format!("{a}_ENV_{k}={v}"));
            }
        }
    }
    env
}

/// The /etc/hosts lines of the links: `ip alias hostname [name]`.
pub(crate) fn link_hosts(links: &[LegacyLink]) -> String {
    let mut out = String::new();
    for l in links {
        out.push_str(&format!("{}\t{} {}", l.ip, l.alias, l.hostname));
        if l.alias != l.name {
            out.push(' ');
            out.push_str(&l.name);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(ports: &[(u16, &str)]) -> LegacyLink {
        LegacyLink {
            alias: "db-1".into(),
            name: "mysql".into(),
            hostname: "abc".into(),
            ip: Ipv4Addr::new(172, 17, 0, 2),
            ports: ports.iter().map(|(p, t)| (*p, t.to_string())).collect(),
            env: vec![
                "PATH=/bin".into(),
                "MYSQL_ROOT_PASSWORD=s=x".into(),
                "HOME=/root".into(),
            ],
        }
    }

    #[test]
    fn docker_names_the_port_name_and_env_variables() {
        let env = link_env("web", &[link(&[(3306, "tcp")])]);
        assert_eq!(
            env,
            [
                "DB_1_PORT=tcp://172.17.0.2:3306",
                "DB_1_PORT_3306_TCP=tcp://172.17.0.2:3306",
                "DB_1_PORT_3306_TCP_ADDR=172.17.0.2",
                "DB_1_PORT_3306_TCP_PORT=3306",
                "DB_1_PORT_3306_TCP_PROTO=tcp",
                "DB_1_NAME=/web/db-1",
                "DB_1_ENV_MYSQL_ROOT_PASSWORD=s=x",
            ]
        );
    }

    #[test]
    fn a_run_of_three_ports_gets_start_and_end() {
        let mut l = link(&[
            (8002, "tcp"),
            (53, "udp"),
            (8000, "tcp"),
            (8001, "tcp"),
            (53, "tcp"),
        ]);
        sort_ports(&mut l.ports);
        assert_eq!(l.ports[0], (53, "tcp".into()));
        assert_eq!(l.ports[1], (53, "udp".into()));
        let env = link_env("web", &[l]);
        assert_eq!(env[0], "DB_1_PORT=tcp://172.17.0.2:53");
        assert!(env.contains(&"DB_1_PORT_8000_TCP_START=tcp://172.17.0.2:8000".to_string()));
        assert!(env.contains(&"DB_1_PORT_8000_TCP_END=tcp://172.17.0.2:8002".to_string()));
        assert!(env.contains(&"DB_1_PORT_8000_TCP_PORT_END=8002".to_string()));
        assert!(env.contains(&"DB_1_PORT_8001_TCP_ADDR=172.17.0.2".to_string()));
        assert!(env.contains(&"DB_1_PORT_53_UDP_PROTO=udp".to_string()));
        assert!(!env.iter().any(|e| e.starts_with("DB_1_PORT_53_TCP_START")));
    }

    #[test]
    fn hosts_lines_name_the_alias_hostname_and_container() {
        let mut same = link(&[]);
        same.alias = "mysql".into();
        assert_eq!(
            link_hosts(&[link(&[]), same]),
            "172.17.0.2\tdb-1 abc mysql\n172.17.0.2\tmysql abc\n"
        );
        assert_eq!(link_env("web", &[link(&[])])[0], "DB_1_NAME=/web/db-1");
    }
}
