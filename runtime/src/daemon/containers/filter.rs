//! `GET /containers/json`'s filters with Docker's rules, checked once and
//! with the look-ups they need (`before`, `since`, `ancestor`) done
//! before any container is matched, so matching is pure.

use crate::apimodel::{FilterError, Filters};
use crate::daemon::store::Container;

/// The keys dockerd accepts for containers.
pub const KEYS: &[&str] = &[
    "ancestor",
    "before",
    "exited",
    "expose",
    "health",
    "id",
    "is-task",
    "isolation",
    "label",
    "name",
    "network",
    "publish",
    "since",
    "status",
    "volume",
];
const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];
const HEALTH: &[&str] = &["starting", "healthy", "unhealthy", "none"];

/// What the filters need to know of the daemon's other objects.
pub trait Lookup {
    /// The container a `before`/`since` value names.
    fn container(&self, name_or_id: &str) -> Option<Container>;
    /// The image ids an `ancestor` value names (empty: no such image).
    fn image_ids(&self, reference: &str) -> Vec<String>;
    /// A network's id from its name.
    fn network_id(&self, name: &str) -> Option<String>;
}

/// A checked container filter.
#[derive(Debug, Default)]
pub struct ContainerFilter {
    f: Filters,
    /// `created` of the `before` / `since` containers.
    before: Option<String>,
    since: Option<String>,
    exited: Vec<i32>,
    ancestors: Vec<String>,
    publish: Vec<PortRange>,
    expose: Vec<PortRange>,
}

#[derive(Debug, Clone, PartialEq)]
struct PortRange {
    first: u16,
    last: u16,
    proto: String,
}

impl ContainerFilter {
    pub fn new(f: Filters, look: &dyn Lookup) -> Result<ContainerFilter, FilterError> {
        f.validate(KEYS)?;
        f.validate_values("status", STATUSES)?;
        f.validate_values("health", HEALTH)?;
        f.validate_values("isolation", &["default", "process"])?;
        f.validate_patterns("name")?;
        f.bool_value("is-task")?;
        let created =
            |key: &str| -> Result<Option<String>, FilterError> {
                match f.get(key).first() {
                    None => Ok(None),
                    Some(v) => look.container(v).map(|c| Some(c.created)).ok_or_else(|| {
                        FilterError::NoSuch {
                            kind: "container",
                            name: v.clone(),
                        }
                    }),
                }
            };
        let exited = f
            .get("exited")
            .iter()
            .map(|v| v.parse().map_err(|_| invalid("exited", v)))
            .collect::<Result<_, _>>()?;
        let ports = |key: &str| -> Result<Vec<PortRange>, FilterError> {
            f.get(key)
                .iter()
                .map(|v| PortRange::parse(key, v))
                .collect()
        };
        Ok(ContainerFilter {
            before: created("before")?,
            since: created("since")?,
            exited,
            ancestors: f
                .get("ancestor")
                .iter()
                .flat_map(|a| look.image_ids(a))
                .collect(),
            publish: ports("publish")?,
            expose: ports("expose")?,
            f,
        })
    }

    /// A `status` filter lists stopped containers without `all`, as Docker.
    pub fn shows_stopped(&self) -> bool {
        self.f.contains("status")
    }

    /// Whether `c` passes every filter.
    pub fn matches(&self, c: &Container, look: &dyn Lookup) -> bool {
        let f = &self.f;
        let name = format!("/{}", c.name);
        f.prefix("id", &c.id)
            && (f.pattern("name", &c.name) || f.pattern("name", &name))
            && f.exact("status", &c.state.status)
            && f.match_labels("label", &c.config.labels)
            && f.exact(
                "health",
                super::health::filter_value(c.state.health.as_ref()),
            )
            && f.bool_value("is-task").ok().flatten() != Some(true)
            && self.exited_ok(c)
            && self.created_ok(c)
            && self.ancestor_ok(c)
            && self.network_ok(c, look)
            && self.volume_ok(c)
            && self.ports_ok(c)
    }

    fn exited_ok(&self, c: &Container) -> bool {
        self.exited.is_empty()
            || (c.state.status == "exited" && self.exited.contains(&c.state.exit_code))
    }

    fn created_ok(&self, c: &Container) -> bool {
        let t = chrono::DateTime::parse_from_rfc3339(&c.created).ok();
        let at = |s: &Option<String>| {
            s.as_deref()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        };
        at(&self.before).is_none_or(|b| t.is_some_and(|t| t < b))
            && at(&self.since).is_none_or(|s| t.is_some_and(|t| t > s))
    }

    fn ancestor_ok(&self, c: &Container) -> bool {
        !self.f.contains("ancestor")
            || self.ancestors.contains(&c.image)
            || self.f.get("ancestor").contains(&c.image_name)
    }

    fn network_ok(&self, c: &Container, look: &dyn Lookup) -> bool {
        !self.f.contains("network")
            || c.networks.iter().any(|n| {
                let id = look.network_id(&n.name).unwrap_or_default();
                self.f
                    .get("network")
                    .iter()
                    .any(|v| *v == n.name || (!id.is_empty() && id.starts_with(v.as_str())))
            })
    }

    fn volume_ok(&self, c: &Container) -> bool {
        !self.f.contains("volume")
            || c.mounts.iter().any(|m| {
                let name = m.volume().map(|v| v.as_str().to_string());
                self.f
                    .get("volume")
                    .iter()
                    .any(|v| *v == m.destination || name.as_deref() == Some(v.as_str()))
            })
    }

    fn ports_ok(&self, c: &Container) -> bool {
        let published: Vec<String> = c
            .host_config
            .port_bindings
            .keys()
            .cloned()
            .chain(
                c.ports
                    .iter()
                    .map(|p| format!("{}/{}", p.container_port, p.protocol)),
            )
            .collect();
        let any = |ranges: &[PortRange], keys: &mut dyn Iterator<Item = &String>| {
            let keys: Vec<&String> = keys.collect();
            ranges.is_empty() || keys.iter().any(|k| ranges.iter().any(|r| r.holds(k)))
        };
        any(&self.publish, &mut published.iter())
            && any(&self.expose, &mut c.config.exposed_ports.keys())
    }
}

impl PortRange {
    /// `80`, `80/udp`, `8000-8080/tcp`.
    fn parse(key: &str, v: &str) -> Result<PortRange, FilterError> {
        let (ports, proto) = v.split_once('/').unwrap_or((v, "tcp"));
        let (a, b) = ports.split_once('-').unwrap_or((ports, ports));
        let (first, last) = match (a.parse::<u16>(), b.parse::<u16>()) {
            (Ok(a), Ok(b)) if a <= b => (a, b),
            _ => return Err(invalid(key, v)),
        };
        if !matches!(proto, "tcp" | "udp" | "sctp") {
            return Err(invalid(key, v));
        }
        Ok(PortRange {
            first,
            last,
            proto: proto.into(),
        })
    }

    /// Whether a port key (`80/tcp`) is in the range.
    fn holds(&self, key: &str) -> bool {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        proto == self.proto
            && port
                .parse::<u16>()
                .is_ok_and(|p| (self.first..=self.last).contains(&p))
    }
}

fn invalid(key: &str, value: &str) -> FilterError {
    FilterError::InvalidValue {
        key: key.into(),
        value: value.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::store::NetworkRequest;

    struct Fixed(Vec<Container>);
    impl Lookup for Fixed {
        fn container(&self, n: &str) -> Option<Container> {
            self.0
                .iter()
                .find(|c| c.name == n || c.id.starts_with(n))
                .cloned()
        }
        fn image_ids(&self, r: &str) -> Vec<String> {
            match r {
                "busybox" | "busybox:latest" => vec!["sha256:bb".into()],
                _ => vec![],
            }
        }
        fn network_id(&self, name: &str) -> Option<String> {
            Some(format!("{name}-id"))
        }
    }

    fn ctr(id: &str, name: &str, created: &str, status: &str, code: i32) -> Container {
        let mut c = Container {
            id: id.into(),
            name: name.into(),
            created: created.into(),
            image: "sha256:bb".into(),
            image_name: "busybox".into(),
            ..Default::default()
        };
        c.state.status = status.into();
        c.state.exit_code = code;
        c
    }

    fn fixture() -> Fixed {
        let mut web = ctr("aaa1", "web", "2026-01-01T00:00:01Z", "running", 0);
        web.config.labels = [
            ("app".into(), "todo".into()),
            ("tier".into(), "front".into()),
        ]
        .into();
        web.networks = vec![NetworkRequest {
            name: "todo-app".into(),
            ..Default::default()
        }];
        web.host_config.port_bindings = [("3000/tcp".into(), vec![])].into();
        web.config.exposed_ports = [("3000/tcp".into(), Default::default())].into();
        let mut db = ctr("bbb2", "db", "2026-01-01T00:00:02Z", "exited", 3);
        db.config.labels = [
            ("app".into(), "todo".into()),
            ("tier".into(), "back".into()),
        ]
        .into();
        db.image = "sha256:other".into();
        db.image_name = "mysql:5.7".into();
        Fixed(vec![web, db])
    }

    fn names(json: &str) -> Result<Vec<String>, FilterError> {
        let look = fixture();
        let f = ContainerFilter::new(Filters::parse(json)?, &look)?;
        Ok(look
            .0
            .iter()
            .filter(|c| f.matches(c, &look))
            .map(|c| c.name.clone())
            .collect())
    }

    #[test]
    fn docker_rules_select() {
        let n = |j: &str| names(j).unwrap();
        assert_eq!(n(r#"{"label":["app=todo","tier=front"]}"#), ["web"]);
        assert_eq!(n(r#"{"label":["app=todo"]}"#), ["web", "db"]);
        assert_eq!(n(r#"{"name":["^/?web$","db"]}"#), ["web", "db"]);
        assert_eq!(n(r#"{"name":["^we"]}"#), ["web"]);
        assert_eq!(n(r#"{"id":["bbb"]}"#), ["db"]);
        assert_eq!(n(r#"{"status":["exited"],"label":["app"]}"#), ["db"]);
        assert_eq!(n(r#"{"exited":["3"]}"#), ["db"]);
        assert!(
            n(r#"{"exited":["0"]}"#).is_empty(),
            "a running container has not exited"
        );
        assert_eq!(n(r#"{"before":["db"]}"#), ["web"]);
        assert_eq!(n(r#"{"since":["web"]}"#), ["db"]);
        assert_eq!(n(r#"{"ancestor":["busybox"]}"#), ["web"]);
        assert_eq!(n(r#"{"ancestor":["mysql:5.7"]}"#), ["db"]);
        assert_eq!(n(r#"{"network":["todo-app"]}"#), ["web"]);
        assert_eq!(n(r#"{"network":["todo-app-i"]}"#), ["web"], "an id prefix");
        assert_eq!(n(r#"{"publish":["3000"]}"#), ["web"]);
        assert_eq!(n(r#"{"publish":["2000-4000/tcp"]}"#), ["web"]);
        assert!(n(r#"{"publish":["3000/udp"]}"#).is_empty());
        assert_eq!(n(r#"{"expose":["3000/tcp"]}"#), ["web"]);
        assert_eq!(n(r#"{"health":["none"]}"#), ["web", "db"]);
        assert!(n(r#"{"health":["healthy"]}"#).is_empty());
        assert!(n(r#"{"is-task":["true"]}"#).is_empty());
    }

    #[test]
    fn bad_filters_are_one_clear_line() {
        let e = |j: &str| names(j).unwrap_err().to_string();
        assert_eq!(e(r#"{"bogus":["x"]}"#), "invalid filter 'bogus'");
        assert_eq!(
            e(r#"{"status":["sleeping"]}"#),
            "invalid filter 'status=sleeping'"
        );
        assert_eq!(e(r#"{"exited":["x"]}"#), "invalid filter 'exited=x'");
        assert_eq!(e(r#"{"before":["nope"]}"#), "No such container: nope");
        assert_eq!(
            e(r#"{"publish":["80-70"]}"#),
            "invalid filter 'publish=80-70'"
        );
        assert!(e(r#"{"name":["["]}"#).starts_with("invalid filter 'name=['"));
    }
}
