//! Container commands: `start`, `stop`, `restart`, `kill`, `rm`, `wait`,
//! `logs`, `inspect`, `port`, `rename`, `top` and `container prune`.

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::apimodel::models::{
    ContainerInspectResponse, ContainerPruneResponse, ContainerTopResponse, PortBinding, PortMap,
};
use crate::apimodel::query::{
    FiltersQuery, KillQuery, LogsQuery, RemoveQuery, RenameQuery, StopQuery,
};
use crate::apimodel::Filters;

use super::client::{self, enc, url, Client};
use super::format::{confirm, human_size, print_deleted, print_inspected, table};
use super::{each, each_at_once, images, Exit};

// `start`'s flags.
#[derive(Debug, Args)]
pub struct StartArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

// `stop`'s and `restart`'s flags.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(short = 't', long = "time")]
    pub time: Option<i64>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

// `kill`'s flags.
#[derive(Debug, Args)]
pub struct KillArgs {
    #[arg(short = 's', long = "signal", default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

// `rm`'s flags.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short, long)]
    pub volumes: bool,
    /// Remove the specified link (`parent/alias`), not a container.
    #[arg(short, long)]
    pub link: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

// `wait`'s arguments.
#[derive(Debug, Args)]
pub struct WaitArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

// `port`'s arguments.
#[derive(Debug, Args)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub private_port: Option<String>,
}

// `rename`'s arguments.
#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

// `top`'s arguments.
#[derive(Debug, Args)]
pub struct TopArgs {
    pub container: String,
    /// ps options (accepted; the output is always `ps -ef`'s columns).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

// `container inspect`'s flags (`inspect` adds `--type`).
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a template ('json', or a Go template).
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes (accepted).
    #[arg(short, long)]
    pub size: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

// `container prune`'s flags.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

// `rrun logs`'s flags.
#[derive(Debug, Args)]
pub struct LogsArgs {
    #[arg(short, long)]
    pub follow: bool,
    #[arg(short = 't', long)]
    pub timestamps: bool,
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show logs since a timestamp (`2013-01-02T13:23:37Z`) or relative (`42m`).
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or relative time (`42m`).
    #[arg(long)]
    pub until: Option<String>,
    pub container: String,
}

pub fn start_each(c: &Client, names: &[String]) -> Result<i32> {
    each(names, |n| start(c, n))
}

/// `stop` (all at once, as Docker's CLI) or `restart` (one after the
/// other, as Docker's CLI) (`what`), with `-t`.
pub fn stop(c: &Client, what: &str, time: Option<i64>, names: &[String]) -> Result<i32> {
    let path = |n: &str| {
        url(
            &format!("/containers/{}/{what}", enc(n)),
            &StopQuery { t: time },
        )
    };
    if what == "restart" {
        return each(names, |n| {
            c.post(&path(n)?)?;
            Ok(())
        });
    }
    each_at_once(c, "POST", names, path)
}

/// `pause` or `unpause` (`what`) of each container, all at once.
pub fn pause(c: &Client, what: &str, names: &[String]) -> Result<i32> {
    each_at_once(c, "POST", names, |n| {
        Ok(format!("/containers/{}/{what}", enc(n)))
    })
}

/// `kill` of each container, all at once.
pub fn kill(c: &Client, signal: &str, names: &[String]) -> Result<i32> {
    each_at_once(c, "POST", names, |n| {
        let q = KillQuery {
            signal: signal.to_string(),
        };
        url(&format!("/containers/{}/kill", enc(n)), &q)
    })
}

/// `rm` of each container, all at once (50 `rm -f` took 50 kills and
/// exits one after the other).
pub fn rm(c: &Client, a: &RmArgs) -> Result<i32> {
    each_at_once(c, "DELETE", &a.containers, |n| {
        // A link is `parent/alias`: two path segments, as Docker's CLI
        // sends it.
        let n = n.trim_matches('/');
        if n.is_empty() {
            anyhow::bail!("Container name cannot be empty");
        }
        let path: Vec<String> = n.split('/').map(enc).collect();
        let q = RemoveQuery {
            force: a.force,
            v: a.volumes,
            link: a.link,
        };
        url(&format!("/containers/{}", path.join("/")), &q)
    })
}

pub fn logs(c: &Client, a: &LogsArgs) -> Result<i32> {
    let now = chrono::Utc::now().timestamp();
    let q = LogsQuery {
        stdout: true,
        stderr: true,
        follow: a.follow,
        timestamps: a.timestamps,
        tail: Some(a.tail.clone()),
        since: a
            .since
            .as_deref()
            .map(|t| super::events::absolute_time(t, now)),
        until: a
            .until
            .as_deref()
            .map(|t| super::events::absolute_time(t, now)),
    };
    let path = url(&format!("/containers/{}/logs", enc(&a.container)), &q)?;
    // A container with a terminal has one raw stream (Docker's).
    let v: ContainerInspectResponse = c.get(&format!("/containers/{}/json", enc(&a.container)))?;
    let raw = v.config.and_then(|c| c.tty).unwrap_or(false);
    super::tty::output(c.request("GET", &path, None)?.body, raw)?;
    Ok(0)
}

pub fn wait(c: &Client, names: &[String]) -> Result<i32> {
    let mut failed = false;
    for n in names {
        match c
            .post(&format!("/containers/{}/wait", enc(n)))
            .and_then(|r| r.json::<Value>())
        {
            Ok(v) => println!("{}", v["StatusCode"]),
            Err(e) => {
                eprintln!("{e:#}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// The kinds of object `inspect --type` names, in the order `inspect`
/// without `--type` tries them (docker/cli's).
const KINDS: &[&str] = &["container", "image", "network", "volume"];

/// `GET` of one object of a kind.
fn inspect_one(c: &Client, kind: &str, name: &str) -> Result<String> {
    match kind {
        "container" => c.get_raw(&format!("/containers/{}/json", enc(name))),
        "image" => c.get_raw(&format!("/images/{}/json", images::encode_path(name))),
        "network" => c.get_raw(&format!("/networks/{}", enc(name))),
        _ => c.get_raw(&format!("/volumes/{}", enc(name))),
    }
}

/// `rrun inspect [--type KIND]`: each name as the first kind that has
/// it, as Docker's; `container inspect` is `kind` "container".
pub fn inspect(c: &Client, kind: Option<&str>, a: &InspectArgs) -> Result<i32> {
    if let Some(k) = kind.filter(|k| !KINDS.contains(k)) {
        return Err(super::format::fail(
            125,
            format!("\"{k}\" is not a valid value for --type"),
        ));
    }
    print_inspected(&a.names, a.format.as_deref(), |n| match kind {
        Some(k) => inspect_one(c, k, n),
        None => KINDS
            .iter()
            .find_map(|k| inspect_one(c, k, n).ok())
            .ok_or_else(|| anyhow::anyhow!("Error: No such object: {n}")),
    })
}

/// Starts a container; a program that cannot run gives Docker's 126/127.
pub fn start(c: &Client, id: &str) -> Result<()> {
    match c.post(&format!("/containers/{}/start", enc(id))) {
        Ok(_) => Ok(()),
        Err(e) => {
            if let Some(api) = e.downcast_ref::<client::ApiError>() {
                let code = crate::apimodel::start_error_code(&api.message);
                if code == 126 || code == 127 {
                    eprintln!("{api}");
                    return Err(Exit(code).into());
                }
            }
            Err(e)
        }
    }
}

/// `host:port`, an IPv6 host in brackets (Go's `net.JoinHostPort`).
pub fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `docker port`'s lines from `NetworkSettings.Ports`: every mapping as
/// `80/tcp -> 0.0.0.0:8080`, or only the host side of `private`'s
/// (`80` or `80/udp`); None when `private` is not published.
pub fn port_lines(ports: &PortMap, private: Option<&str>) -> Option<Vec<String>> {
    let bindings = |v: Option<&Option<Vec<PortBinding>>>| -> Vec<String> {
        v.into_iter()
            .flatten()
            .flatten()
            .map(|b| {
                join_host_port(
                    b.host_ip.as_deref().unwrap_or_default(),
                    b.host_port.as_deref().unwrap_or_default(),
                )
            })
            .collect()
    };
    let Some(private) = private else {
        let mut keys: Vec<&String> = ports.keys().collect();
        // By port number, then protocol (docker/cli sorts naturally).
        keys.sort_by_key(|k| {
            let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
            (port.parse::<u32>().unwrap_or(u32::MAX), proto.to_string())
        });
        let lines = keys
            .into_iter()
            .flat_map(|k| {
                let hosts = bindings(ports.get(k));
                hosts.into_iter().map(move |h| format!("{k} -> {h}"))
            })
            .collect();
        return Some(lines);
    };
    let lines = bindings(ports.get(&port_key(private)));
    (!lines.is_empty()).then_some(lines)
}

/// `80` → `80/tcp`; `80/udp` as it is.
fn port_key(private: &str) -> String {
    if private.contains('/') {
        private.to_string()
    } else {
        format!("{private}/tcp")
    }
}

/// `rrun port CONTAINER [PRIVATE_PORT[/PROTO]]`.
pub fn port(c: &Client, container: &str, private: Option<&str>) -> Result<i32> {
    let v: ContainerInspectResponse = c.get(&format!("/containers/{}/json", enc(container)))?;
    let ports = v.network_settings.and_then(|n| n.ports).unwrap_or_default();
    match port_lines(&ports, private) {
        Some(lines) => {
            for l in lines {
                println!("{l}");
            }
            Ok(0)
        }
        None => {
            let key = port_key(private.unwrap_or_default());
            eprintln!("Error: No public port '{key}' published for {container}");
            Ok(1)
        }
    }
}

pub fn rename(c: &Client, container: &str, new_name: &str) -> Result<i32> {
    let q = RenameQuery {
        name: new_name.to_string(),
    };
    c.post(&url(&format!("/containers/{}/rename", enc(container)), &q)?)?;
    Ok(0)
}

pub fn top(c: &Client, container: &str) -> Result<i32> {
    let v: ContainerTopResponse = c.get(&format!("/containers/{}/top", enc(container)))?;
    let mut rows = vec![v.titles.unwrap_or_default()];
    rows.extend(v.processes.unwrap_or_default());
    print!("{}", table(&rows));
    Ok(0)
}

/// `POST /containers/prune`: ids removed and bytes reclaimed.
pub fn prune_containers(c: &Client, filter: &[String]) -> Result<(Vec<String>, u64)> {
    let q = FiltersQuery {
        filters: Filters::from_flags(filter)?,
    };
    let v: ContainerPruneResponse = c.post(&url("/containers/prune", &q)?)?.json()?;
    let space = v.space_reclaimed.unwrap_or(0).max(0) as u64;
    Ok((v.containers_deleted.unwrap_or_default(), space))
}

/// `rrun container prune`.
pub fn prune(c: &Client, a: &PruneArgs) -> Result<i32> {
    if !confirm(a.force, "all stopped containers")? {
        return Ok(0);
    }
    let (ids, space) = prune_containers(c, &a.filter)?;
    print_deleted("Containers", &ids);
    println!("Total reclaimed space: {}", human_size(space));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn port_lines_follow_docker_port() {
        let ports: PortMap = serde_json::from_value(json!({
            "443/tcp": null,
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
            "53/udp": [{"HostIp": "::1", "HostPort": "5353"}],
        }))
        .unwrap();
        assert_eq!(
            port_lines(&ports, None).unwrap(),
            [
                "53/udp -> [::1]:5353",
                "80/tcp -> 0.0.0.0:8080",
                "80/tcp -> [::]:8080"
            ]
        );
        assert_eq!(
            port_lines(&ports, Some("80")).unwrap(),
            ["0.0.0.0:8080", "[::]:8080"]
        );
        assert_eq!(port_lines(&ports, Some("443")), None);
        assert_eq!(
            port_lines(&PortMap::new(), None).unwrap(),
            Vec::<String>::new()
        );
    }
}
