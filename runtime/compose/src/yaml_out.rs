//! The project as `compose config` prints it: Compose v2's normalized
//! shape (`name`, `services` with their keys in alphabetical order and
//! every short form long, `networks`, `volumes`, `secrets`, `configs`),
//! empty values left out.

use crate::model::*;
use serde_yaml_ng::{Mapping, Value};

/// The YAML text of `p`.
pub fn to_yaml(p: &Project) -> String {
    let mut top = Mapping::new();
    top.insert("name".into(), p.name.clone().into());
    let services: Mapping = p
        .services
        .iter()
        .map(|(k, s)| (k.clone().into(), service(s)))
        .collect();
    top.insert("services".into(), Value::Mapping(services));
    put_map(
        &mut top,
        "networks",
        p.networks.iter().map(|(k, n)| (k.clone(), network(n))),
    );
    put_map(
        &mut top,
        "volumes",
        p.volumes.iter().map(|(k, v)| (k.clone(), volume(v))),
    );
    put_map(
        &mut top,
        "secrets",
        p.secrets.iter().map(|(k, f)| (k.clone(), file_object(f))),
    );
    put_map(
        &mut top,
        "configs",
        p.configs.iter().map(|(k, f)| (k.clone(), file_object(f))),
    );
    let mut tree = Value::Mapping(top);
    escape_dollars(&mut tree);
    serde_yaml_ng::to_string(&tree).unwrap_or_default()
}

/// `$` doubled in values (keys are not interpolated), as `docker compose
/// config` does, so the output is a Compose file that loads back the same.
fn escape_dollars(v: &mut Value) {
    match v {
        Value::String(text) if text.contains('$') => *text = text.replace('$', "$$"),
        Value::Sequence(items) => items.iter_mut().for_each(escape_dollars),
        Value::Mapping(m) => m.values_mut().for_each(escape_dollars),
        _ => {}
    }
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn strings(items: &[String]) -> Value {
    Value::Sequence(items.iter().map(|i| s(i)).collect())
}

fn string_map<'a>(m: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    Value::Mapping(m.into_iter().map(|(k, v)| (s(k), s(v))).collect())
}

fn opt_map<'a>(m: impl IntoIterator<Item = (&'a String, &'a Option<String>)>) -> Value {
    Value::Mapping(
        m.into_iter()
            .map(|(k, v)| (s(k), v.as_deref().map_or(Value::Null, s)))
            .collect(),
    )
}

/// Inserts `value` unless it is empty (null, `false`, `""`, `[]`, `{}`).
fn put(m: &mut Mapping, key: &str, value: Value) {
    let empty = match &value {
        Value::Null | Value::Bool(false) => true,
        Value::String(t) => t.is_empty(),
        Value::Sequence(items) => items.is_empty(),
        Value::Mapping(map) => map.is_empty(),
        _ => false,
    };
    if !empty {
        m.insert(s(key), value);
    }
}

fn put_opt(m: &mut Mapping, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        m.insert(s(key), s(v));
    }
}

fn put_map(top: &mut Mapping, key: &str, items: impl Iterator<Item = (String, Value)>) {
    let map: Mapping = items.map(|(k, v)| (s(&k), v)).collect();
    put(top, key, Value::Mapping(map));
}

fn service(sv: &Service) -> Value {
    let mut m = Mapping::new();
    let opt = |v: Option<Value>| v.unwrap_or(Value::Null);
    put(&mut m, "build", opt(sv.build.as_ref().map(build)));
    put(&mut m, "configs", seq(&sv.configs, file_ref));
    put(&mut m, "depends_on", keyed(&sv.depends_on, depends));
    // An empty command or entrypoint is printed: it clears the image's.
    for (key, words) in [("command", &sv.command), ("entrypoint", &sv.entrypoint)] {
        if let Some(words) = words {
            m.insert(s(key), strings(words));
        }
    }
    put(&mut m, "environment", opt_map(&sv.environment));
    put(
        &mut m,
        "healthcheck",
        opt(sv.healthcheck.as_ref().map(healthcheck)),
    );
    put(&mut m, "labels", string_map(&sv.labels));
    put(&mut m, "logging", opt(sv.logging.as_ref().map(logging)));
    put(
        &mut m,
        "network_mode",
        opt(sv.network_mode.as_ref().map(network_mode)),
    );
    put(&mut m, "networks", keyed(&sv.networks, service_network));
    put(&mut m, "ports", seq(&sv.ports, port));
    put(&mut m, "secrets", seq(&sv.secrets, file_ref));
    put(&mut m, "volumes", seq(&sv.volumes, volume_mount));
    put(&mut m, "ulimits", ulimits(sv));
    if sv.replicas != 1 {
        m.insert(s("scale"), sv.replicas.into());
    }
    scalars(&mut m, sv);
    for (k, v) in &sv.extensions {
        m.insert(s(k), serde_yaml_ng::to_value(v).unwrap_or(Value::Null));
    }
    let mut entries: Vec<(Value, Value)> = m.into_iter().collect();
    entries.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
    Value::Mapping(entries.into_iter().collect())
}

fn seq<T>(items: &[T], f: fn(&T) -> Value) -> Value {
    Value::Sequence(items.iter().map(f).collect())
}

fn keyed<T>(items: &indexmap::IndexMap<String, T>, f: fn(&T) -> Value) -> Value {
    Value::Mapping(items.iter().map(|(k, v)| (s(k), f(v))).collect())
}

/// The plain keys of a service.
fn scalars(m: &mut Mapping, sv: &Service) {
    let texts = [
        ("container_name", &sv.container_name),
        ("cpus", &sv.cpus),
        ("domainname", &sv.domainname),
        ("hostname", &sv.hostname),
        ("image", &sv.image),
        ("ipc", &sv.ipc),
        ("mac_address", &sv.mac_address),
        ("mem_limit", &sv.mem_limit),
        ("mem_reservation", &sv.mem_reservation),
        ("memswap_limit", &sv.memswap_limit),
        ("pid", &sv.pid),
        ("platform", &sv.platform),
        ("pull_policy", &sv.pull_policy),
        ("restart", &sv.restart),
        ("shm_size", &sv.shm_size),
        ("stop_grace_period", &sv.stop_grace_period),
        ("stop_signal", &sv.stop_signal),
        ("user", &sv.user),
        ("working_dir", &sv.working_dir),
    ];
    for (k, v) in texts {
        put_opt(m, k, v);
    }
    let lists = [
        ("cap_add", &sv.cap_add),
        ("cap_drop", &sv.cap_drop),
        ("expose", &sv.expose),
        ("extra_hosts", &sv.extra_hosts),
        ("devices", &sv.devices),
        ("dns", &sv.dns),
        ("dns_opt", &sv.dns_opt),
        ("dns_search", &sv.dns_search),
        ("profiles", &sv.profiles),
        ("security_opt", &sv.security_opt),
        ("tmpfs", &sv.tmpfs),
    ];
    for (k, v) in lists {
        put(m, k, strings(v));
    }
    for (k, v) in [
        ("privileged", sv.privileged),
        ("read_only", sv.read_only),
        ("stdin_open", sv.stdin_open),
        ("tty", sv.tty),
    ] {
        put(m, k, v.into());
    }
    put(m, "init", sv.init.map_or(Value::Null, Value::from));
    put(
        m,
        "cpu_shares",
        sv.cpu_shares.map_or(Value::Null, Value::from),
    );
    put(
        m,
        "pids_limit",
        sv.pids_limit.map_or(Value::Null, Value::from),
    );
    put(m, "sysctls", string_map(&sv.sysctls));
}

fn build(b: &Build) -> Value {
    let mut m = Mapping::new();
    m.insert(s("context"), s(&b.context.display().to_string()));
    m.insert(s("dockerfile"), s(&b.dockerfile));
    put(&mut m, "args", opt_map(&b.args));
    put_opt(&mut m, "target", &b.target);
    put(&mut m, "labels", string_map(&b.labels));
    put_opt(&mut m, "network", &b.network);
    put(&mut m, "extra_hosts", strings(&b.extra_hosts));
    put(&mut m, "no_cache", b.no_cache.into());
    put(&mut m, "pull", b.pull.into());
    Value::Mapping(m)
}

fn depends(d: &DependsOn) -> Value {
    let condition = match d.condition {
        DependsCondition::ServiceStarted => "service_started",
        DependsCondition::ServiceHealthy => "service_healthy",
        DependsCondition::ServiceCompletedSuccessfully => "service_completed_successfully",
    };
    let mut m = Mapping::new();
    m.insert(s("condition"), s(condition));
    m.insert(s("required"), d.required.into());
    put(&mut m, "restart", d.restart.into());
    Value::Mapping(m)
}

fn healthcheck(h: &Healthcheck) -> Value {
    let mut m = Mapping::new();
    put(&mut m, "disable", h.disable.into());
    put(
        &mut m,
        "test",
        h.test.as_deref().map_or(Value::Null, strings),
    );
    put_opt(&mut m, "interval", &h.interval);
    put_opt(&mut m, "timeout", &h.timeout);
    put_opt(&mut m, "start_period", &h.start_period);
    put_opt(&mut m, "start_interval", &h.start_interval);
    put(
        &mut m,
        "retries",
        h.retries.map_or(Value::Null, Value::from),
    );
    Value::Mapping(m)
}

fn logging(l: &Logging) -> Value {
    let mut m = Mapping::new();
    put_opt(&mut m, "driver", &l.driver);
    put(&mut m, "options", string_map(&l.options));
    Value::Mapping(m)
}

fn network_mode(n: &NetworkMode) -> Value {
    s(&match n {
        NetworkMode::Host => "host".to_string(),
        NetworkMode::None => "none".to_string(),
        NetworkMode::Bridge => "bridge".to_string(),
        NetworkMode::Service(x) => format!("service:{x}"),
        NetworkMode::Container(x) => format!("container:{x}"),
    })
}

fn service_network(n: &ServiceNetwork) -> Value {
    let mut m = Mapping::new();
    put(&mut m, "aliases", strings(&n.aliases));
    put_opt(&mut m, "ipv4_address", &n.ipv4_address);
    put_opt(&mut m, "ipv6_address", &n.ipv6_address);
    put_opt(&mut m, "mac_address", &n.mac_address);
    if n.priority != 0 {
        m.insert(s("priority"), n.priority.into());
    }
    if m.is_empty() {
        Value::Null
    } else {
        Value::Mapping(m)
    }
}

fn port(p: &Port) -> Value {
    let protocol = match p.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    };
    let mut m = Mapping::new();
    m.insert(s("mode"), s(p.mode.as_deref().unwrap_or("ingress")));
    put_opt(&mut m, "host_ip", &p.host_ip);
    m.insert(s("target"), p.target.into());
    put_opt(&mut m, "published", &p.published);
    m.insert(s("protocol"), s(protocol));
    Value::Mapping(m)
}

fn volume_mount(v: &ServiceVolume) -> Value {
    let kind = match v.kind {
        VolumeType::Volume => "volume",
        VolumeType::Bind => "bind",
        VolumeType::Tmpfs => "tmpfs",
        VolumeType::Npipe => "npipe",
    };
    let mut m = Mapping::new();
    m.insert(s("type"), s(kind));
    put_opt(&mut m, "source", &v.source);
    m.insert(s("target"), s(&v.target));
    put(&mut m, "read_only", v.read_only.into());
    let mut opts = Mapping::new();
    match v.kind {
        VolumeType::Bind => {
            put_opt(&mut opts, "propagation", &v.propagation);
            opts.insert(s("create_host_path"), v.create_host_path.into());
            put_opt(&mut opts, "selinux", &v.selinux);
            m.insert(s("bind"), Value::Mapping(opts));
        }
        VolumeType::Volume => {
            put(&mut opts, "nocopy", v.nocopy.into());
            m.insert(s("volume"), Value::Mapping(opts));
        }
        VolumeType::Tmpfs => {
            put_opt(&mut opts, "size", &v.tmpfs_size);
            put(
                &mut opts,
                "mode",
                v.tmpfs_mode.map_or(Value::Null, |x| s(&format!("{x:o}"))),
            );
            put(&mut m, "tmpfs", Value::Mapping(opts));
        }
        VolumeType::Npipe => {}
    }
    Value::Mapping(m)
}

fn ulimits(sv: &Service) -> Value {
    Value::Mapping(
        sv.ulimits
            .iter()
            .map(|(k, u)| {
                let v = if u.soft == u.hard {
                    u.soft.into()
                } else {
                    Value::Mapping(
                        [(s("soft"), u.soft.into()), (s("hard"), u.hard.into())]
                            .into_iter()
                            .collect(),
                    )
                };
                (s(k), v)
            })
            .collect(),
    )
}

fn file_ref(r: &FileReference) -> Value {
    let mut m = Mapping::new();
    m.insert(s("source"), s(&r.source));
    m.insert(s("target"), s(&r.target));
    put_opt(&mut m, "uid", &r.uid);
    put_opt(&mut m, "gid", &r.gid);
    put(
        &mut m,
        "mode",
        r.mode.map_or(Value::Null, |x| s(&format!("0{x:o}"))),
    );
    Value::Mapping(m)
}

fn network(n: &Network) -> Value {
    let mut m = Mapping::new();
    m.insert(s("name"), s(&n.name));
    put(&mut m, "external", n.external.into());
    put_opt(&mut m, "driver", &n.driver);
    put(&mut m, "driver_opts", string_map(&n.driver_opts));
    put(&mut m, "ipam", n.ipam.as_ref().map_or(Value::Null, ipam));
    put(&mut m, "internal", n.internal.into());
    put(&mut m, "enable_ipv6", n.enable_ipv6.into());
    put(&mut m, "attachable", n.attachable.into());
    put(&mut m, "labels", string_map(&n.labels));
    Value::Mapping(m)
}

fn ipam(i: &Ipam) -> Value {
    let mut m = Mapping::new();
    put_opt(&mut m, "driver", &i.driver);
    let pools = i.config.iter().map(|p| {
        let mut c = Mapping::new();
        put_opt(&mut c, "subnet", &p.subnet);
        put_opt(&mut c, "ip_range", &p.ip_range);
        put_opt(&mut c, "gateway", &p.gateway);
        put(&mut c, "aux_addresses", string_map(&p.aux_addresses));
        Value::Mapping(c)
    });
    put(&mut m, "config", Value::Sequence(pools.collect()));
    put(&mut m, "options", string_map(&i.options));
    Value::Mapping(m)
}

fn volume(v: &Volume) -> Value {
    let mut m = Mapping::new();
    m.insert(s("name"), s(&v.name));
    put(&mut m, "external", v.external.into());
    put_opt(&mut m, "driver", &v.driver);
    put(&mut m, "driver_opts", string_map(&v.driver_opts));
    put(&mut m, "labels", string_map(&v.labels));
    Value::Mapping(m)
}

fn file_object(f: &FileObject) -> Value {
    let (key, value) = match f {
        FileObject::File(p) => ("file", p.display().to_string()),
        FileObject::Environment(v) => ("environment", v.clone()),
        FileObject::Content(c) => ("content", c.clone()),
    };
    Value::Mapping([(s(key), s(&value))].into_iter().collect())
}
