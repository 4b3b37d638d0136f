//! `stop`, `start`, `restart`, `rm`, `kill`, `pause`, `unpause`: the same
//! call on each of the named services' containers, in parallel, with
//! Compose's status lines.

use anyhow::{bail, Result};

use rrun_compose::Project;

use crate::apimodel::query::{KillQuery, RemoveQuery, StopQuery};

use super::super::client::{url, Client};
use super::super::containers::start;
use super::args::ComposeCmd;
use super::state::{self, Existing, RunState};
use super::status::Status;
use super::{parallel, plan};

/// The service containers (not one-off ones) of `services` (all when
/// empty), dependents first when `reverse`.
pub fn service_containers(
    c: &Client,
    p: &Project,
    services: &[String],
    reverse: bool,
) -> Result<Vec<Existing>> {
    for s in services {
        if !p.services.contains_key(s) && !p.services.is_empty() {
            bail!("no such service: {s}");
        }
    }
    let mut list = state::containers(c, &p.name)?;
    list.retain(|e| !e.oneoff && (services.is_empty() || services.contains(&e.service)));
    // Dependencies first (their level), then by name.
    let all = p.services.keys().cloned().collect();
    let order: Vec<String> = plan::levels(p, &all)?.into_iter().flatten().collect();
    let rank = |e: &Existing| {
        order
            .iter()
            .position(|s| *s == e.service)
            .unwrap_or(usize::MAX)
    };
    list.sort_by(|a, b| (rank(a), &a.name).cmp(&(rank(b), &b.name)));
    if reverse {
        list.reverse();
    }
    Ok(list)
}

/// `(doing, done)` status words and the call of each command.
fn each(
    c: &Client,
    list: &[Existing],
    words: (&str, &str),
    call: impl Fn(&Client, &Existing) -> Result<()> + Sync,
) -> Result<i32> {
    let st = Status::new();
    let results = parallel::each(c, list, |c, e| {
        st.set("Container", &e.name, words.0, false);
        let r = call(c, e);
        match &r {
            Ok(()) => st.set("Container", &e.name, words.1, true),
            Err(_) => st.fail("Container", &e.name),
        }
        r
    });
    drop(st);
    let mut code = 0;
    for r in results {
        if let Err(e) = r {
            eprintln!("{e:#}");
            code = 1;
        }
    }
    Ok(code)
}

pub fn lifecycle(c: &Client, p: &Project, cmd: &ComposeCmd) -> Result<i32> {
    use ComposeCmd as C;
    let post = |path: String| {
        move |c: &Client, e: &Existing| -> Result<()> {
            c.post(&path.replace("{id}", &e.id))?;
            Ok(())
        }
    };
    match cmd {
        C::Stop(a) => {
            let list = service_containers(c, p, &a.services, true)?;
            let path = url("/containers/{id}/stop", &StopQuery { t: a.timeout })?;
            each(c, &list, ("Stopping", "Stopped"), post(path))
        }
        C::Restart(a) => {
            let list = service_containers(c, p, &a.services, false)?;
            let path = url("/containers/{id}/restart", &StopQuery { t: a.timeout })?;
            each(c, &list, ("Restarting", "Started"), post(path))
        }
        C::Start(a) => {
            let mut list = service_containers(c, p, &a.services, false)?;
            list.retain(|e| e.state == RunState::Stopped);
            each(c, &list, ("Starting", "Started"), |c, e| start(c, &e.id))
        }
        C::Kill(a) => {
            let mut list = service_containers(c, p, &a.services, true)?;
            list.retain(|e| e.state != RunState::Stopped);
            let path = url(
                "/containers/{id}/kill",
                &KillQuery {
                    signal: a.signal.clone(),
                },
            )?;
            each(c, &list, ("Killing", "Killed"), post(path))
        }
        C::Pause(a) => {
            let list = service_containers(c, p, &a.services, false)?;
            each(
                c,
                &list,
                ("Pausing", "Paused"),
                post("/containers/{id}/pause".into()),
            )
        }
        C::Unpause(a) => {
            let list = service_containers(c, p, &a.services, false)?;
            each(
                c,
                &list,
                ("Unpausing", "Unpaused"),
                post("/containers/{id}/unpause".into()),
            )
        }
        C::Rm(a) => rm(c, p, a),
        _ => Ok(0),
    }
}

fn rm(c: &Client, p: &Project, a: &super::args::RmArgs) -> Result<i32> {
    let mut list = service_containers(c, p, &a.services, true)?;
    if !a.stop {
        list.retain(|e| e.state == RunState::Stopped);
    }
    if list.is_empty() {
        eprintln!("No stopped containers");
        return Ok(0);
    }
    if !a.force {
        let names: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
        eprint!("Going to remove {} [y/N] ", names.join(", "));
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let q = RemoveQuery {
        force: true,
        v: a.volumes,
        link: false,
    };
    let path = url("/containers/{id}", &q)?;
    each(c, &list, ("Removing", "Removed"), |c, e| {
        c.request("DELETE", &path.replace("{id}", &e.id), None)?;
        Ok(())
    })
}
