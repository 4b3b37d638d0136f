//! `rrun compose`: Compose projects, natively.
//!
//! model + current state → actions (pure), actions carried out through the
//! API client. The loader (`rrun_compose`) gives the model; `state` reads
//! the project's containers, networks and volumes with one labelled query
//! per kind; `plan` decides (and `spec` turns a service into a create
//! body); `apply` acts, a service at a time in dependency levels, in
//! parallel within a level. The commands: `up` (and `create`), `down`,
//! `ps`/`ls`/`images`/`top`/`port` (listing), `logs` (and `up`'s
//! attached output), `exec`/`run`, `lifecycle` (stop, start, restart, rm,
//! kill, pause, unpause), `images` (pull, push, build), `info` (config,
//! version, events).

pub mod apply;
pub mod args;
pub mod down;
pub mod exec;
pub mod images;
pub mod info;
pub mod inject;
pub mod labels;
pub mod lifecycle;
pub mod listing;
pub mod logs;
pub mod parallel;
pub mod plan;
pub mod spec;
pub mod spec_host;
pub mod spec_net;
pub mod state;
pub mod status;
pub mod up;
pub mod wait;

use anyhow::{anyhow, Result};
use rrun_compose::{LoadOptions, Project};

use super::client::Client;
use super::Exit;
use args::{ComposeArgs, ComposeCmd as C};

/// The loader's options from the global flags and the process.
/// As Compose v2, `--project-directory` is where the files are looked for
/// when no `-f` names them.
fn load_options(a: &ComposeArgs) -> Result<LoadOptions> {
    let cwd = std::env::current_dir().map_err(|e| anyhow!("read the current directory: {e}"))?;
    Ok(LoadOptions {
        files: a.file.clone(),
        project_name: a.project_name.clone(),
        project_directory: a.project_directory.clone(),
        env_files: a.env_file.clone(),
        profiles: a.profile.clone(),
        environment: std::env::vars().collect(),
        working_dir: match &a.project_directory {
            Some(d) => cwd.join(d),
            None => cwd,
        },
    })
}

/// The project of the files, with the services named on the command line
/// enabled even outside the active profiles.
pub fn load(a: &ComposeArgs, services: &[String]) -> Result<Project> {
    let p = rrun_compose::load(&load_options(a)?)?;
    for w in &p.warnings {
        eprintln!("WARN: {w}");
    }
    if services.is_empty() {
        return Ok(p);
    }
    Ok(rrun_compose::with_services(&p, services)?)
}

/// The project to act on for commands that only need its name (`down`,
/// `ps`, `logs`, `stop`...): the files' project, or with `-p` and no file
/// at all, an empty project of that name (as Compose v2 allows).
pub fn load_or_name(a: &ComposeArgs) -> Result<Project> {
    match (load(a, &[]), &a.project_name) {
        (Err(e), Some(name))
            if matches!(
                e.downcast_ref::<rrun_compose::LoadError>(),
                Some(rrun_compose::LoadError::NoFile { .. })
            ) =>
        {
            Ok(Project {
                name: name.clone(),
                ..Default::default()
            })
        }
        (r, _) => r,
    }
}

/// Runs `rrun compose …`; errors are Compose's one line and exit code 1.
pub fn compose(c: &Client, a: ComposeArgs) -> Result<i32> {
    match dispatch(c, &a) {
        Ok(code) => Ok(code),
        Err(e) if e.downcast_ref::<Exit>().is_some() => Err(e),
        Err(e) => {
            eprintln!("{e:#}");
            Err(Exit(1).into())
        }
    }
}

fn dispatch(c: &Client, a: &ComposeArgs) -> Result<i32> {
    match &a.cmd {
        C::Config(x) => info::config(&load(a, &[])?, x),
        C::Version(x) => info::version(x),
        C::Ls(x) => listing::ls(c, x),
        C::Up(x) => up::up(c, &load(a, &x.create.services)?, x),
        C::Create(x) => up::create(c, &load(a, &x.services)?, x),
        C::Run(x) => exec::run(c, &load(a, std::slice::from_ref(&x.service))?, x),
        C::Build(x) => images::build(c, &load(a, &x.services)?, x),
        C::Pull(x) => images::pull(c, &load(a, &x.services)?, x),
        C::Push(x) => images::push(c, &load(a, &x.services)?, x),
        C::Down(x) => down::down(c, &load_or_name(a)?, x),
        C::Ps(x) => listing::ps(c, &load_or_name(a)?, x),
        C::Images(x) => listing::images(c, &load_or_name(a)?, x),
        C::Top(x) => listing::top(c, &load_or_name(a)?, &x.services),
        C::Port(x) => listing::port(c, &load_or_name(a)?, x),
        C::Logs(x) => logs::logs(c, &load_or_name(a)?, x),
        C::Events(x) => info::events(c, &load_or_name(a)?, x),
        C::Exec(x) => exec::exec(c, &load_or_name(a)?, x),
        C::Attach(x) => exec::attach(c, &load_or_name(a)?, x),
        C::Cp(x) => exec::cp(c, &load_or_name(a)?, x),
        C::Scale(x) => up::scale(c, &load(a, &up::scaled_services(x))?, x),
        C::Wait(x) => wait::wait_command(c, &load_or_name(a)?, x),
        cmd => lifecycle::lifecycle(c, &load_or_name(a)?, cmd),
    }
}
