//! The services' images: pulled when missing (`up`, `run`, `pull`),
//! built through `POST /build` when the service has `build:` and its
//! image is missing or `--build` asks (`build` always), pushed by `push`.
//! `rrun build`/`pull`/`push`'s own code does the work.

use anyhow::{Context, Result};

use rrun_compose::model::Service;
use rrun_compose::Project;

use super::super::build::{self as cli_build, BuildArgs as CliBuild};
use super::super::client::Client;
use super::super::images::{self as cli_images, encode_path, PushArgs as CliPush};
use super::args::{BuildArgs, PullArgs, PushArgs};
use super::plan::{image_of, select};

fn present(c: &Client, image: &str) -> bool {
    c.get_raw(&format!("/images/{}/json", encode_path(image)))
        .is_ok()
}

/// `rrun build`'s flags for a service's `build:`.
fn build_args(
    p: &Project,
    s: &Service,
    extra: &[String],
    no_cache: bool,
    pull: bool,
    quiet: bool,
) -> Option<CliBuild> {
    let b = s.build.as_ref()?;
    let mut build_arg: Vec<String> = b
        .args
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    build_arg.extend(extra.iter().cloned());
    Some(CliBuild {
        tag: vec![image_of(&p.name, s)],
        file: Some(b.dockerfile.clone()),
        build_arg,
        label: b.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        target: b.target.clone(),
        no_cache: no_cache || b.no_cache,
        pull: pull || b.pull,
        quiet,
        force_rm: false,
        network: b.network.clone(),
        add_host: b.extra_hosts.clone(),
        iidfile: None,
        platform: s.platform.clone(),
        progress: None,
        context: b.context.display().to_string(),
    })
}

fn build_one(c: &Client, p: &Project, s: &Service, a: Option<&BuildArgs>) -> Result<()> {
    let (extra, no_cache, pull, quiet) = match a {
        Some(a) => (a.build_arg.as_slice(), a.no_cache, a.pull, a.quiet),
        None => (&[][..], false, false, false),
    };
    let Some(args) = build_args(p, s, extra, no_cache, pull, quiet) else {
        return Ok(());
    };
    // `compose build` prints on stdout; `up` and `run` on stderr.
    let r = match a {
        Some(_) => cli_build::build(c, &args),
        None => cli_build::build_to(c, &args, &mut std::io::stderr().lock()),
    };
    r.with_context(|| format!("build service {:?}", s.name))?;
    Ok(())
}

/// Makes sure every named service's image is there; `pull` (`up --pull`)
/// over the services' `pull_policy`.
pub fn ensure(
    c: &Client,
    p: &Project,
    services: &[String],
    build: bool,
    pull: Option<&str>,
) -> Result<()> {
    for name in services {
        let Some(s) = p.services.get(name) else {
            continue;
        };
        let image = image_of(&p.name, s);
        let policy = pull.or(s.pull_policy.as_deref()).unwrap_or("missing");
        if s.build.is_some() && (build || policy == "build" || !present(c, &image)) {
            build_one(c, p, s, None)?;
        } else if policy == "always" || (policy != "never" && !present(c, &image)) {
            eprintln!(" {name} Pulling");
            cli_images::pull(c, &image, None, false, true)
                .with_context(|| format!("pull the image of service {name:?}"))?;
        }
    }
    Ok(())
}

fn selected<'a>(p: &'a Project, names: &[String]) -> Vec<&'a Service> {
    p.services
        .values()
        .filter(|s| names.is_empty() || names.contains(&s.name))
        .collect()
}

pub fn build(c: &Client, p: &Project, a: &BuildArgs) -> Result<i32> {
    for s in selected(p, &a.services) {
        build_one(c, p, s, Some(a))?;
    }
    Ok(0)
}

pub fn pull(c: &Client, p: &Project, a: &PullArgs) -> Result<i32> {
    for s in selected(p, &a.services) {
        if s.image.is_none() || (a.ignore_buildable && s.build.is_some()) {
            continue;
        }
        let image = image_of(&p.name, s);
        cli_images::pull(c, &image, None, a.quiet, false)
            .with_context(|| format!("pull the image of service {:?}", s.name))?;
    }
    Ok(0)
}

/// As Compose v2: the images of the services that have both `build:` and
/// `image:` (a service without `build:` names someone else's image, one
/// without `image:` has no name to push to), each of the others "Skipped";
/// `--include-deps` adds the named services' dependencies.
pub fn push(c: &Client, p: &Project, a: &PushArgs) -> Result<i32> {
    let names = select(p, &a.services, !a.include_deps)?;
    for s in p.services.values().filter(|s| names.contains(&s.name)) {
        let (Some(image), Some(_)) = (&s.image, &s.build) else {
            eprintln!(" {} Skipped", s.name);
            continue;
        };
        let push = CliPush {
            all_tags: false,
            quiet: a.quiet,
            image: image.clone(),
        };
        if !a.quiet {
            eprintln!(" {} Pushing", s.name);
        }
        match cli_images::push(c, &push) {
            Ok(_) => {}
            Err(e) if a.ignore_push_failures => {
                eprintln!("WARN: push service {:?}: {e:#}", s.name)
            }
            Err(e) => return Err(e.context(format!("push service {:?}", s.name))),
        }
    }
    Ok(0)
}
