//! `down`: the project's containers (one-off `run` ones too), then its
//! networks, and with `-v` its volumes, with `--rmi` its images. Every
//! removal is tried; the errors are collected and the first returned.

use anyhow::{Context, Result};

use rrun_compose::Project;

use crate::apimodel::query::{ImageDeleteQuery, VolumeRemoveQuery};

use super::super::client::{enc, url, Client};
use super::apply::{gone, stop_remove};
use super::args::DownArgs;
use super::plan::{plan_down, DownOptions};
use super::status::Status;
use super::{parallel, state};

pub fn down(c: &Client, p: &Project, a: &DownArgs) -> Result<i32> {
    let cur = state::read(c, &p.name)?;
    let o = DownOptions {
        remove_orphans: a.remove_orphans,
        volumes: a.volumes,
        rmi: a.rmi.as_deref().map(|r| r == "all"),
    };
    let plan = plan_down(p, &cur, &o)?;
    let nothing = plan.containers.is_empty()
        && plan.networks.is_empty()
        && plan.volumes.is_empty()
        && plan.images.is_empty();
    if nothing {
        eprintln!(
            "Warning: No resource found to remove for project {:?}.",
            p.name
        );
        return Ok(0);
    }
    let st = Status::new();
    let mut errors: Vec<anyhow::Error> = parallel::each(c, &plan.containers, |c, e| {
        stop_remove(c, e, a.timeout, a.volumes, &st)
    })
    .into_iter()
    .filter_map(Result::err)
    .collect();
    for n in &plan.networks {
        st.set("Network", n, "Removing", false);
        match c.request("DELETE", &format!("/networks/{}", enc(n)), None) {
            Err(e) if !gone(&e) => {
                st.fail("Network", n);
                errors.push(e.context(format!("remove network {n}")));
            }
            _ => st.set("Network", n, "Removed", true),
        }
    }
    for v in &plan.volumes {
        st.set("Volume", v, "Removing", false);
        let q = VolumeRemoveQuery::default();
        let r = url(&format!("/volumes/{}", enc(v)), &q)
            .and_then(|path| c.request("DELETE", &path, None));
        match r {
            Err(e) if !gone(&e) => {
                st.fail("Volume", v);
                errors.push(e.context(format!("remove volume {v}")));
            }
            _ => st.set("Volume", v, "Removed", true),
        }
    }
    for i in &plan.images {
        let q = ImageDeleteQuery::default();
        let r = url(
            &format!("/images/{}", super::super::images::encode_path(i)),
            &q,
        )
        .and_then(|path| c.request("DELETE", &path, None))
        .with_context(|| format!("remove image {i}"));
        match r {
            Err(e) if !gone(&e) => {
                st.fail("Image", i);
                errors.push(e);
            }
            Err(_) => {}
            Ok(_) => st.set("Image", i, "Removed", true),
        }
    }
    drop(st);
    match errors.len() {
        0 => Ok(0),
        _ => {
            for e in errors.iter().skip(1) {
                eprintln!("{e:#}");
            }
            Err(errors.remove(0))
        }
    }
}
