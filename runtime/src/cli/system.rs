//! `rrun system …`, `version`, `info` and `completion`.

use anyhow::Result;
use clap::Subcommand;

use crate::apimodel::models::{
    ContainerSummary, ContainerSummaryStateEnum, NetworkPruneResponse, SystemInfo, SystemVersion,
    Volume, VolumePruneResponse,
};
use crate::apimodel::DiskUsage;

use super::client::{self, Client};
use super::containers::prune_containers;
use super::format::{human_size, print_deleted, table};
use super::images::{print_removed, prune_images};

#[derive(Debug, Subcommand)]
pub enum SystemCmd {
    /// Show rrun disk usage.
    Df,
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
        SystemCmd::Df => {
            let v: DiskUsage = c.get("/system/df")?;
            print!("{}", table(&df_rows(&v)));
            return Ok(0);
        }
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

/// `system df`'s rows: TYPE, TOTAL, ACTIVE, SIZE, RECLAIMABLE.
pub fn df_rows(v: &DiskUsage) -> Vec<Vec<String>> {
    let n = |x: i64| x.max(0) as u64;
    let pct = |r: u64, t: u64| match (r * 100).checked_div(t) {
        Some(p) => format!("{} ({p}%)", human_size(r)),
        None => human_size(r),
    };
    let (imgs, ctrs, vols) = (&v.images, &v.containers, &v.volumes);
    let img_active = imgs.iter().filter(|i| i.containers > 0).count();
    let img_size = n(v.layers_size);
    let img_free: u64 = imgs
        .iter()
        .filter(|i| i.containers == 0)
        .map(|i| n(i.size))
        .sum();
    let running = |c: &&ContainerSummary| c.state == Some(ContainerSummaryStateEnum::RUNNING);
    let rw = |c: &ContainerSummary| n(c.size_rw.unwrap_or(0));
    let ctr_size: u64 = ctrs.iter().map(rw).sum();
    let ctr_free: u64 = ctrs.iter().filter(|c| !running(c)).map(rw).sum();
    let refs = |x: &Volume| x.usage_data.as_ref().map_or(0, |u| u.ref_count);
    let size = |x: &Volume| n(x.usage_data.as_ref().map_or(0, |u| u.size));
    let vol_size: u64 = vols.iter().map(size).sum();
    let vol_free: u64 = vols.iter().filter(|x| refs(x) == 0).map(size).sum();
    vec![
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
            .map(String::from)
            .to_vec(),
        vec![
            "Images".into(),
            imgs.len().to_string(),
            img_active.to_string(),
            human_size(img_size),
            pct(img_free, img_size),
        ],
        vec![
            "Containers".into(),
            ctrs.len().to_string(),
            ctrs.iter().filter(running).count().to_string(),
            human_size(ctr_size),
            pct(ctr_free, ctr_size),
        ],
        vec![
            "Local Volumes".into(),
            vols.len().to_string(),
            vols.iter().filter(|x| refs(x) > 0).count().to_string(),
            human_size(vol_size),
            pct(vol_free, vol_size),
        ],
        vec![
            "Build Cache".into(),
            "0".into(),
            "0".into(),
            "0B".into(),
            "0B".into(),
        ],
    ]
}

/// `rrun completion bash|zsh|fish`.
pub fn completion(shell: clap_complete::Shell) -> Result<i32> {
    use clap::CommandFactory;
    let mut cmd = super::Cli::command();
    clap_complete::generate(shell, &mut cmd, "rrun", &mut std::io::stdout());
    Ok(0)
}

pub fn version(c: &Client) -> Result<i32> {
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

pub fn info(c: &Client) -> Result<i32> {
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

    #[test]
    fn prune_warnings_and_df_rows() {
        assert!(system_prune_warning(false, true).contains("anonymous volumes"));
        let image = |containers| ImageSummary {
            size: 1000,
            containers,
            ..Default::default()
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
        });
        assert_eq!(df[1], vec!["Images", "2", "1", "2kB", "1kB (50%)"]);
        assert_eq!(df[2][2], "1");
    }
}
