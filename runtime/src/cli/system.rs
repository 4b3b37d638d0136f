//! `rrun system …`, `version`, `info` and `completion`.

use anyhow::Result;
use clap::Subcommand;
use serde::Serialize;

use crate::apimodel::models::{
    ContainerSummary, ContainerSummaryStateEnum, NetworkPruneResponse, SystemInfo, SystemVersion,
    Volume, VolumePruneResponse,
};
use crate::apimodel::DiskUsage;

use super::client::{self, Client};
use super::containers::prune_containers;
use super::format::{fail, human_size, list_format, print_deleted, print_rows, rows_of};
use super::images::{print_removed, prune_images};
use super::template::{Format, Reader};

// `version`'s and `info`'s flags.
#[derive(Debug, clap::Args)]
pub struct FormatArgs {
    /// Format output using a Go template ('{{json .}}', '{{.Server.Version}}').
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SystemCmd {
    /// Get real time events from the server.
    Events(super::events::EventsArgs),
    /// Display system-wide information.
    Info(FormatArgs),
    /// Show rrun disk usage.
    Df {
        /// Format output using a template ('table', 'json', '{{.Type}}').
        #[arg(long)]
        format: Option<String>,
    },
    /// Remove unused data.
    Prune {
        /// Remove all unused images not just dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        /// Prune anonymous volumes.
        #[arg(long)]
        volumes: bool,
    },
}

pub fn system(c: &Client, cmd: SystemCmd) -> Result<i32> {
    let (all, force, volumes) = match cmd {
        SystemCmd::Df { format } => return df(c, format.as_deref()),
        SystemCmd::Events(a) => return super::events::events(c, &a),
        SystemCmd::Info(a) => return info(c, a.format.as_deref()),
        SystemCmd::Prune {
            all,
            force,
            volumes,
        } => (all, force, volumes),
    };
    if !force {
        eprint!(
            "{}\nAre you sure you want to continue? [y/N] ",
            system_prune_warning(all, volumes)
        );
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let (ids, mut space) = prune_containers(c, &[])?;
    print_deleted("Containers", &ids);
    let nets: NetworkPruneResponse = c.post("/networks/prune")?.json()?;
    print_deleted("Networks", &nets.networks_deleted.unwrap_or_default());
    if volumes {
        let v: VolumePruneResponse = c.post("/volumes/prune")?.json()?;
        print_deleted("Volumes", &v.volumes_deleted.unwrap_or_default());
        space += v.space_reclaimed.unwrap_or(0).max(0) as u64;
    }
    let (imgs, s) = prune_images(c, all, &[])?;
    space += s;
    if !imgs.is_empty() {
        println!("Deleted Images:");
        print_removed(&imgs, true);
        println!();
    }
    println!("Total reclaimed space: {}", human_size(space));
    Ok(0)
}

/// Docker's `system prune` warning list.
pub fn system_prune_warning(all: bool, volumes: bool) -> String {
    let mut w = String::from("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n");
    if volumes {
        w.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    if all {
        w.push_str("  - all images without at least one container associated to them\n");
    } else {
        w.push_str("  - all dangling images\n");
    }
    w
}

/// One `system df` row: the fields a `--format` template sees.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DfRow {
    #[serde(rename = "Type")]
    kind: String,
    total_count: String,
    active: String,
    size: String,
    reclaimable: String,
}

fn df_row(kind: &str, total: usize, active: usize, size: u64, free: u64) -> DfRow {
    let reclaimable = match (free * 100).checked_div(size) {
        Some(p) => format!("{} ({p}%)", human_size(free)),
        None => human_size(free),
    };
    DfRow {
        kind: kind.into(),
        total_count: total.to_string(),
        active: active.to_string(),
        size: human_size(size),
        reclaimable,
    }
}

/// `system df`'s rows: images, containers, local volumes, build cache.
pub fn df_rows(v: &DiskUsage) -> Vec<DfRow> {
    let n = |x: i64| x.max(0) as u64;
    let (imgs, ctrs, vols) = (&v.images, &v.containers, &v.volumes);
    let img_active = imgs.iter().filter(|i| i.summary.containers > 0).count();
    let img_free: u64 = imgs
        .iter()
        .filter(|i| i.summary.containers == 0)
        .map(|i| n(i.summary.size))
        .sum();
    let running = |c: &&ContainerSummary| c.state == Some(ContainerSummaryStateEnum::RUNNING);
    let rw = |c: &ContainerSummary| n(c.size_rw.unwrap_or(0));
    let ctr_size: u64 = ctrs.iter().map(rw).sum();
    let ctr_free: u64 = ctrs.iter().filter(|c| !running(c)).map(rw).sum();
    let refs = |x: &Volume| x.usage_data.as_ref().map_or(0, |u| u.ref_count);
    let size = |x: &Volume| n(x.usage_data.as_ref().map_or(0, |u| u.size));
    let vol_size: u64 = vols.iter().map(size).sum();
    let vol_free: u64 = vols.iter().filter(|x| refs(x) == 0).map(size).sum();
    let ctr_running = ctrs.iter().filter(running).count();
    let vol_active = vols.iter().filter(|x| refs(x) > 0).count();
    vec![
        df_row("Images", imgs.len(), img_active, n(v.layers_size), img_free),
        df_row("Containers", ctrs.len(), ctr_running, ctr_size, ctr_free),
        df_row("Local Volumes", vols.len(), vol_active, vol_size, vol_free),
        df_row("Build Cache", 0, 0, 0, 0),
    ]
}

const DF_TABLE: &str = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";

const DF_HEADERS: &[(&str, &str)] = &[
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Size", "SIZE"),
    ("Reclaimable", "RECLAIMABLE"),
];

/// `rrun system df [--format]`.
fn df(c: &Client, format: Option<&str>) -> Result<i32> {
    let format = list_format(format, DF_TABLE)?;
    let v: DiskUsage = c.get("/system/df")?;
    print_rows(&format, &rows_of(&df_rows(&v))?, DF_HEADERS)?;
    Ok(0)
}

/// `rrun completion bash|zsh|fish`.
pub fn completion(shell: clap_complete::Shell) -> Result<i32> {
    use clap::CommandFactory;
    // The subcommands' arguments are deferred (`Cmd`), and clap copies the
    // tree for `rrun help <command>` before it builds the subcommands: built
    // first (under their names below `rrun`, with the global flags clap
    // would give them), they are all in it.
    let mut cmd = super::Cli::command();
    let global: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    for sub in cmd.get_subcommands_mut() {
        let name = sub.get_name().to_string();
        *sub = std::mem::take(sub)
            .bin_name(format!("rrun {name}"))
            .display_name(format!("rrun-{name}"))
            .args(global.iter().cloned());
        sub.build();
    }
    clap_complete::generate(shell, &mut cmd, "rrun", &mut std::io::stdout());
    Ok(0)
}

/// `version`/`info --format`: a template over one value; a bad one is
/// docker's `template parsing error: …` and exit code 64.
fn plain_format(format: Option<&str>) -> Result<Option<Format>> {
    match format.filter(|f| !f.is_empty()) {
        None => Ok(None),
        Some(f) => Format::parse(f, Reader::Plain, "")
            .map(Some)
            .map_err(|e| fail(64, e)),
    }
}

/// docker/cli's ClientVersion, as `version --format` sees `.Client`.
fn client_version() -> serde_json::Value {
    serde_json::json!({
        "Platform": {"Name": ""},
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": &client::API_PREFIX[2..],
        "APIVersion": &client::API_PREFIX[2..],
        "DefaultAPIVersion": &client::API_PREFIX[2..],
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": go_arch(),
        "BuildTime": "",
        "Context": "default",
    })
}

/// Go's GOARCH of this machine.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub fn version(c: &Client, format: Option<&str>) -> Result<i32> {
    if let Some(f) = plain_format(format)? {
        let mut server: serde_json::Value = c.get("/version")?;
        // docker's template sees Go's field name; `json` shows the key.
        server["APIVersion"] = server["ApiVersion"].clone();
        let v = serde_json::json!({"Client": client_version(), "Server": server});
        println!(
            "{}",
            f.render(&v)
                .map_err(|e| fail(1, format!("template parsing error: {e}")))?
        );
        return Ok(0);
    }
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       {}", &client::API_PREFIX[2..]);
    println!(" OS/Arch:           linux/{}", std::env::consts::ARCH);
    println!();
    let v: SystemVersion = c.get("/version")?;
    let s = |f: &Option<String>| f.clone().unwrap_or_default();
    println!("Server: rrun");
    println!(" Engine:");
    println!("  Version:          {}", s(&v.version));
    println!(
        "  API version:      {} (minimum version {})",
        s(&v.api_version),
        s(&v.min_api_version)
    );
    println!("  OS/Arch:          {}/{}", s(&v.os), s(&v.arch));
    println!("  Kernel:           {}", s(&v.kernel_version));
    Ok(0)
}

pub fn info(c: &Client, format: Option<&str>) -> Result<i32> {
    if let Some(f) = plain_format(format)? {
        let mut v: serde_json::Value = c.get("/info")?;
        v["ClientInfo"] = serde_json::json!({
            "Debug": false,
            "Context": "default",
            "Plugins": [],
            "Warnings": null,
        });
        println!(
            "{}",
            f.render(&v)
                .map_err(|e| fail(1, format!("template parsing error: {e}")))?
        );
        return Ok(0);
    }
    let v: SystemInfo = c.get("/info")?;
    fn s<T: std::fmt::Display>(f: &Option<T>) -> String {
        f.as_ref().map(T::to_string).unwrap_or_default()
    }
    println!("Server:");
    println!(" Containers: {}", s(&v.containers));
    println!("  Running: {}", s(&v.containers_running));
    println!("  Paused: {}", s(&v.containers_paused));
    println!("  Stopped: {}", s(&v.containers_stopped));
    println!(" Images: {}", s(&v.images));
    println!(" Server Version: {}", s(&v.server_version));
    println!(" Storage Driver: {}", s(&v.driver));
    println!(" Logging Driver: {}", s(&v.logging_driver));
    println!(" Cgroup Driver: {}", s(&v.cgroup_driver));
    println!(" Cgroup Version: {}", s(&v.cgroup_version));
    println!(" Default Runtime: {}", s(&v.default_runtime));
    println!(" Kernel Version: {}", s(&v.kernel_version));
    println!(" Operating System: {}", s(&v.operating_system));
    println!(" OSType: {}", s(&v.os_type));
    println!(" Architecture: {}", s(&v.architecture));
    println!(" CPUs: {}", s(&v.ncpu));
    println!(" Name: {}", s(&v.name));
    println!(" Docker Root Dir: {}", s(&v.docker_root_dir));
    println!(" Live Restore Enabled: {}", s(&v.live_restore_enabled));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apimodel::models::ImageSummary;
    use crate::apimodel::ImageListItem;

    #[test]
    fn prune_warnings_and_df_rows() {
        assert!(system_prune_warning(false, true).contains("anonymous volumes"));
        let image = |containers| ImageListItem {
            summary: ImageSummary {
                size: 1000,
                containers,
                ..Default::default()
            },
            virtual_size: 1000,
        };
        let df = df_rows(&DiskUsage {
            layers_size: 2000,
            images: vec![image(0), image(1)],
            containers: vec![ContainerSummary {
                state: Some(ContainerSummaryStateEnum::RUNNING),
                size_rw: Some(10),
                ..Default::default()
            }],
            volumes: vec![],
            build_cache: vec![],
        });
        assert_eq!(df[0], df_row("Images", 2, 1, 2000, 1000));
        assert_eq!(df[0].reclaimable, "1kB (50%)");
        assert_eq!(df[1].active, "1");
    }
}
