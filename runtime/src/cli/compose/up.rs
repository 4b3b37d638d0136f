//! `up` and `create`: read the state, plan, make the images there, apply;
//! then (without `-d`) follow the containers' output until they stop or
//! Ctrl-C stops them.

use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;

use rrun_compose::Project;

use super::super::client::Client;
use super::apply::{self, Apply};
use super::args::{CreateArgs, ScaleArgs, UpArgs};
use super::plan::{self, plan_up, Plan, UpOptions};
use super::state::{self, Current};
use super::status::Status;
use super::{images, inject, logs, parallel, wait};

/// `--scale svc=N` (repeatable).
pub fn parse_scale(flags: &[String], p: &Project) -> Result<HashMap<String, u32>> {
    let mut m = HashMap::new();
    for f in flags {
        let (svc, n) = f
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid --scale {f:?}: expected SERVICE=NUM"))?;
        if !p.services.contains_key(svc) {
            bail!("invalid --scale {f:?}: no such service: {svc}");
        }
        let n = n
            .parse()
            .map_err(|_| anyhow!("invalid --scale {f:?}: {n:?} is not a number"))?;
        m.insert(svc.to_string(), n);
    }
    Ok(m)
}

fn options(a: &CreateArgs, p: &Project, no_deps: bool, start: bool) -> Result<UpOptions> {
    Ok(UpOptions {
        services: a.services.clone(),
        no_deps,
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        scale: parse_scale(&a.scale, p)?,
        remove_orphans: a.remove_orphans,
        start,
    })
}

/// Plans and applies; the state read first, the plan it gave.
fn converge(
    c: &Client,
    p: &Project,
    a: &CreateArgs,
    o: &UpOptions,
    timeout: Option<i64>,
) -> Result<(Current, Plan, Vec<String>)> {
    // The images first: a container of an image that changed (rebuilt,
    // pulled anew) is recreated.
    let selected: Vec<String> = plan::select(p, &o.services, o.no_deps)?
        .into_iter()
        .collect();
    // A secret from a variable that is not set: said before anything is
    // made.
    for name in &selected {
        inject::archive(p, &p.services[name])?;
    }
    images::ensure(c, p, &selected, a.build, a.pull.as_deref())?;
    let mut cur = state::read(c, &p.name)?;
    let refs: Vec<String> = selected
        .iter()
        .map(|s| plan::image_of(&p.name, &p.services[s]))
        .collect();
    cur.images = state::image_ids(c, &refs);
    let plan = plan_up(p, &cur, o)?;
    let st = Status::new();
    apply::resources(c, p, &plan, &st)?;
    apply::orphans(c, p, &plan, timeout, &st)?;
    let mut ap = Apply::new(p, &cur, &st, o.start);
    ap.timeout = timeout;
    ap.run(c, &plan)?;
    let ids = selected.iter().flat_map(|s| ap.ids_of(s)).collect();
    Ok((cur, plan, ids))
}

pub fn create(c: &Client, p: &Project, a: &CreateArgs) -> Result<i32> {
    let o = options(a, p, false, false)?;
    converge(c, p, a, &o, None)?;
    Ok(0)
}

pub fn up(c: &Client, p: &Project, a: &UpArgs) -> Result<i32> {
    for s in a.attach.iter().chain(&a.no_attach) {
        if !p.services.contains_key(s) {
            bail!("no such service: {s}");
        }
    }
    let o = options(&a.create, p, a.no_deps, !a.no_start)?;
    let since = chrono::Utc::now().timestamp();
    let (_, _, ids) = converge(c, p, &a.create, &o, a.timeout)?;
    if a.wait {
        let results = parallel::each(c, &ids, |c, id| wait::healthy(c, id, id, false));
        for r in results {
            r?;
        }
        return Ok(0);
    }
    if a.detach || a.no_start {
        return Ok(0);
    }
    let attach = logs::Attached {
        only: a.attach.clone(),
        not: a.no_attach.clone(),
        abort_on_exit: a.abort_on_container_exit || a.exit_code_from.is_some(),
        exit_code_from: a.exit_code_from.clone(),
        timeout: a.timeout,
        color: !a.no_color,
    };
    logs::attached(c, p, &ids, since, &attach)
}

/// The services `scale SERVICE=N…` names.
pub fn scaled_services(a: &ScaleArgs) -> Vec<String> {
    a.services
        .iter()
        .map(|s| s.split_once('=').map_or(s.as_str(), |(n, _)| n).to_string())
        .collect()
}

/// `scale SERVICE=N…`: as Compose v2, `up -d` of those services with
/// those replica counts (a changed container is recreated, the extra ones
/// removed, the missing ones made).
pub fn scale(c: &Client, p: &Project, a: &ScaleArgs) -> Result<i32> {
    let up_args = UpArgs {
        create: CreateArgs {
            scale: a.services.clone(),
            services: scaled_services(a),
            ..Default::default()
        },
        detach: true,
        no_deps: a.no_deps,
        ..Default::default()
    };
    parse_scale(&a.services, p)?;
    up(c, p, &up_args)
}
