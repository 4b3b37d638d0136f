//! `exec` (a command in a service's running container, through `rrun
//! exec`) and `run` (a one-off container beside the service's, named
//! `<project>-<service>-run-<hex>`, through `rrun run`'s attached run).

use anyhow::{anyhow, Result};

use rrun_compose::model::NetworkMode;
use rrun_compose::Project;

use crate::apimodel::models::{ContainerCreateBody, ContainerCreateResponse, PortBinding};
use crate::apimodel::query::CreateQuery;

use super::super::client::{url, Client};
use super::super::containers::start;
use super::super::copy::{self, split_cp_arg, CpArgs as CliCp};
use super::super::netflags::parse_publish;
use super::super::{exec as cli_exec, run as cli_run, tty};
use super::args::{AttachArgs, CpArgs, ExecArgs, RunArgs};
use super::lifecycle::service_containers;
use super::plan::{self, UpOptions};
use super::spec::{create_body, Instance};
use super::state::{self, RunState};
use super::status::Status;
use super::{apply, images, labels};

pub fn exec(c: &Client, p: &Project, a: &ExecArgs) -> Result<i32> {
    let list = service_containers(c, p, std::slice::from_ref(&a.service), false)?;
    let e = list
        .iter()
        .find(|e| e.number == a.index && e.state == RunState::Running)
        .ok_or_else(|| {
            anyhow!(
                "service {:?} is not running (no running container number {})",
                a.service,
                a.index
            )
        })?;
    // Compose: a TTY unless -T or stdin is not a terminal; stdin always
    // (`exec -T db mysql < dump.sql`).
    let term = !a.no_tty && tty::stdin_is_tty();
    cli_exec::exec(
        c,
        cli_exec::ExecArgs {
            detach: a.detach,
            interactive: !a.detach,
            tty: term,
            env: a.env.clone(),
            user: a.user.clone(),
            workdir: a.workdir.clone(),
            privileged: a.privileged,
            container: e.id.clone(),
            command: a.command.clone(),
            detach_keys: String::new(),
        },
    )
}

/// Container `index` of `service` (in any state).
fn numbered(c: &Client, p: &Project, service: &str, index: u32) -> Result<String> {
    let list = service_containers(c, p, &[service.to_string()], false)?;
    list.into_iter()
        .find(|e| e.number == index)
        .map(|e| e.id)
        .ok_or_else(|| anyhow!("service {service:?} has no container number {index}"))
}

/// `attach SERVICE`: `rrun attach` to its container.
pub fn attach(c: &Client, p: &Project, a: &AttachArgs) -> Result<i32> {
    let id = numbered(c, p, &a.service, a.index)?;
    let args = cli_exec::AttachArgs {
        no_stdin: a.no_stdin,
        detach_keys: a.detach_keys.clone(),
        container: id,
    };
    cli_exec::attach(c, args)
}

/// `cp SERVICE:SRC DEST` or `cp SRC SERVICE:DEST`: `rrun cp` with the
/// service's container in place of its name.
pub fn cp(c: &Client, p: &Project, a: &CpArgs) -> Result<i32> {
    let side = |arg: &str| -> Result<String> {
        match split_cp_arg(arg) {
            (Some(service), path) => Ok(format!("{}:{path}", numbered(c, p, service, a.index)?)),
            (None, path) => Ok(path.to_string()),
        }
    };
    let args = CliCp {
        archive: a.archive,
        follow_link: a.follow_link,
        quiet: true,
        src: side(&a.src)?,
        dest: side(&a.dest)?,
    };
    copy::cp(c, &args)
}

/// 12 random hex digits, a one-off container's suffix.
fn hex12() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::getrandom(&mut b);
    hex::encode(b)
}

/// Starts what the service depends on (unless `--no-deps`) and makes the
/// project's networks and volumes.
fn prepare(c: &Client, p: &Project, a: &RunArgs) -> Result<()> {
    let s = &p.services[&a.service];
    let deps: Vec<String> = match a.no_deps {
        true => Vec::new(),
        false => plan::dependencies(s).into_iter().map(|(d, _)| d).collect(),
    };
    let cur = state::read(c, &p.name)?;
    let o = UpOptions {
        services: deps.clone(),
        start: true,
        ..Default::default()
    };
    let mut plan = plan::plan_up(p, &cur, &o)?;
    if deps.is_empty() {
        plan.levels.clear();
    }
    let st = Status::new();
    let names: Vec<String> = plan.services().map(|s| s.name.clone()).collect();
    images::ensure(c, p, &names, false, None)?;
    apply::resources(c, p, &plan, &st)?;
    apply::Apply::new(p, &cur, &st, true).run(c, &plan)
}

pub fn run(c: &Client, p: &Project, a: &RunArgs) -> Result<i32> {
    let s = p
        .services
        .get(&a.service)
        .ok_or_else(|| anyhow!("no such service: {}", a.service))?;
    prepare(c, p, a)?;
    images::ensure(c, p, std::slice::from_ref(&a.service), false, None)?;
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| labels::oneoff_name(&p.name, &a.service, &hex12()));
    let joined = match &s.network_mode {
        Some(NetworkMode::Service(d)) => state::containers(c, &p.name)?
            .into_iter()
            .find(|e| e.service == *d && !e.oneoff)
            .map(|e| e.id),
        _ => None,
    };
    let inst = Instance {
        number: 1,
        oneoff: true,
        name: name.clone(),
        joined,
        publish: a.service_ports,
    };
    let term = !a.no_tty && !a.detach && tty::stdin_is_tty();
    let mut body = create_body(p, s, &inst)?;
    let files = super::inject::archive(p, s)?;
    one_off(&mut body, a, term)?;
    let q = CreateQuery {
        name: Some(name.clone()),
        platform: None,
    };
    let created: ContainerCreateResponse = c
        .post_json(&url("/containers/create", &q)?, &body)?
        .json()?;
    super::inject::put(c, &created.id, files)?;
    if a.detach {
        start(c, &created.id)?;
        println!("{name}");
        return Ok(0);
    }
    cli_run::run_attached(c, &created.id, a.rm, !a.detach, term, "")
}

/// `run`'s flags over the service's create body: the command,
/// `--entrypoint`, `-e`, `-u`, `-w`, `-v`, `-p`, `-l`; stdin (unless `-d`)
/// and a TTY (`term`); no restart policy.
fn one_off(body: &mut ContainerCreateBody, a: &RunArgs, term: bool) -> Result<()> {
    if !a.command.is_empty() {
        body.cmd = Some(a.command.clone());
    }
    if let Some(e) = &a.entrypoint {
        body.entrypoint = Some(e.split_whitespace().map(String::from).collect());
    }
    body.env
        .get_or_insert_with(Vec::new)
        .extend(cli_exec::env_list(&a.env));
    if a.user.is_some() {
        body.user = a.user.clone();
    }
    if a.workdir.is_some() {
        body.working_dir = a.workdir.clone();
    }
    // As Compose, stdin goes to the container (`run -T db mysql < x.sql`).
    let stdin = !a.detach;
    body.tty = Some(term);
    body.open_stdin = Some(stdin);
    body.stdin_once = Some(stdin);
    body.attach_stdin = Some(stdin);
    for l in &a.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        body.labels
            .get_or_insert_with(Default::default)
            .insert(k.to_string(), v.to_string());
    }
    for raw in &a.publish {
        for b in parse_publish(raw)? {
            let exposed = body.exposed_ports.get_or_insert_with(Vec::new);
            if !exposed.contains(&b.key) {
                exposed.push(b.key.clone());
            }
            let h = body.host_config.get_or_insert_with(Default::default);
            h.port_bindings
                .get_or_insert_with(Default::default)
                .entry(b.key)
                .or_default()
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: Some(b.host_ip),
                    host_port: Some(b.host_port),
                });
        }
    }
    if let Some(h) = body.host_config.as_mut() {
        h.auto_remove = Some(a.rm);
        // A one-off container is not restarted (Compose drops it too).
        h.restart_policy = None;
        h.binds
            .get_or_insert_with(Vec::new)
            .extend(a.volume.iter().cloned());
    }
    Ok(())
}
