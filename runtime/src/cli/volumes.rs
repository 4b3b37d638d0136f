//! `rrun volume …`.

use anyhow::Result;
use clap::Subcommand;
use serde::Serialize;

use crate::apimodel::models::{
    Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse,
};
use crate::apimodel::query::{FiltersQuery, VolumeRemoveQuery};
use crate::apimodel::Filters;

use super::client::{enc, url, Client};
use super::format::{
    confirm, human_size, kv, labels_text, list_format, print_deleted, print_inspected, print_rows,
    rows_of,
};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum VolumeCmd {
    /// Create a volume.
    Create {
        #[arg(short, long, default_value = "local")]
        driver: String,
        #[arg(short = 'o', long = "opt")]
        opt: Vec<String>,
        #[arg(long)]
        label: Vec<String>,
        name: Option<String>,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        #[arg(short, long)]
        quiet: bool,
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more volumes.
    Inspect {
        #[arg(required = true)]
        volumes: Vec<String>,
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Remove one or more volumes.
    #[command(alias = "remove")]
    Rm {
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove unused local volumes.
    Prune {
        /// Remove all unused volumes, not just anonymous ones.
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        force: bool,
        #[arg(long = "filter")]
        filter: Vec<String>,
    },
}

pub fn volume(c: &Client, cmd: VolumeCmd) -> Result<i32> {
    match cmd {
        VolumeCmd::Create {
            driver,
            opt,
            label,
            name,
        } => {
            let body = VolumeCreateRequest {
                name: Some(name.unwrap_or_default()),
                driver: Some(driver),
                driver_opts: Some(kv(&opt)),
                labels: Some(kv(&label)),
                cluster_volume_spec: None,
            };
            let v: Volume = c.post_json("/volumes/create", &body)?.json()?;
            println!("{}", v.name);
            Ok(0)
        }
        VolumeCmd::Ls {
            quiet,
            filter,
            format,
        } => ls(c, quiet, &filter, format.as_deref()),
        VolumeCmd::Inspect { volumes, format } => {
            print_inspected(&volumes, format.as_deref(), |n| {
                c.get_raw(&format!("/volumes/{}", enc(n)))
            })
        }
        VolumeCmd::Rm { force, volumes } => super::each(&volumes, |n| {
            c.request(
                "DELETE",
                &url(
                    &format!("/volumes/{}", enc(n)),
                    &VolumeRemoveQuery { force },
                )?,
                None,
            )?;
            Ok(())
        }),
        VolumeCmd::Prune { all, force, filter } => prune(c, all, force, filter),
    }
}

/// One `volume ls` row: the fields a `--format` template sees (Docker's
/// names, as strings).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct VolumeRow {
    name: String,
    driver: String,
    scope: String,
    mountpoint: String,
    labels: String,
    links: String,
    size: String,
    group: String,
    availability: String,
    status: String,
}

impl VolumeRow {
    fn new(v: &Volume) -> VolumeRow {
        let usage = v.usage_data.as_ref();
        VolumeRow {
            name: v.name.clone(),
            driver: v.driver.clone(),
            scope: v
                .scope
                .map(|s| s.as_ref().to_string())
                .unwrap_or_else(|| "local".into()),
            mountpoint: v.mountpoint.clone(),
            labels: labels_text(Some(&v.labels)),
            links: usage.map_or("N/A".into(), |u| u.ref_count.to_string()),
            size: usage.map_or("N/A".into(), |u| human_size(u.size.max(0) as u64)),
            group: String::new(),
            availability: String::new(),
            status: String::new(),
        }
    }
}

const VOLUME_TABLE: &str = "table {{.Driver}}\t{{.Name}}";

const VOLUME_HEADERS: &[(&str, &str)] = &[
    ("Name", "VOLUME NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Labels", "LABELS"),
    ("Links", "LINKS"),
    ("Size", "SIZE"),
    ("Group", "GROUP"),
    ("Availability", "AVAILABILITY"),
    ("Status", "STATUS"),
];

/// `rrun volume ls`: sorted by name.
fn ls(c: &Client, quiet: bool, filter: &[String], format: Option<&str>) -> Result<i32> {
    let format = list_format(format, VOLUME_TABLE)?;
    let q = FiltersQuery {
        filters: Filters::from_flags(filter)?,
    };
    let v: VolumeListResponse = c.get(&url("/volumes", &q)?)?;
    let mut vols = v.volumes.unwrap_or_default();
    vols.sort_by(|a, b| a.name.cmp(&b.name));
    if quiet {
        vols.iter().for_each(|v| println!("{}", v.name));
        return Ok(0);
    }
    let rows: Vec<VolumeRow> = vols.iter().map(VolumeRow::new).collect();
    print_rows(&format, &rows_of(&rows)?, VOLUME_HEADERS)?;
    Ok(0)
}

fn prune(c: &Client, all: bool, force: bool, mut filter: Vec<String>) -> Result<i32> {
    let what = if all {
        "all local volumes not used by at least one container"
    } else {
        "all anonymous local volumes not used by at least one container"
    };
    if !confirm(force, what)? {
        return Ok(0);
    }
    if all {
        filter.push("all=true".into());
    }
    let q = FiltersQuery {
        filters: Filters::from_flags(&filter)?,
    };
    let v: VolumePruneResponse = c.post(&url("/volumes/prune", &q)?)?.json()?;
    print_deleted("Volumes", &v.volumes_deleted.unwrap_or_default());
    let space = v.space_reclaimed.unwrap_or(0).max(0) as u64;
    println!("Total reclaimed space: {}", human_size(space));
    Ok(0)
}
