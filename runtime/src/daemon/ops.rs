//! Container operations beyond the lifecycle: rename, top, prune, df.
//!
//! `top` reads the kernel's files about the container's init
//! (`/proc/<pid>/…`) and its cgroup ([`super::stats::Cgroups`]); the
//! parsing is pure and unit-tested.

use std::path::Path;

use super::models::ContainerSummary;
use super::{store, ContainerError, Daemon, Filters};
use crate::apimodel::models::{ContainerTopResponse, VolumeUsageData};
use crate::apimodel::{ContainerPruneReport, ImageListItem};

use super::stats::Cgroups;
use crate::linux::cgroups::clock_ticks;

impl Daemon {
    /// `POST /containers/{id}/rename?name=`.
    pub fn rename(&self, name: &str, new_name: &str) -> Result<(), ContainerError> {
        let new_name = new_name.trim_start_matches('/');
        if new_name.is_empty() {
            return Err(ContainerError::EmptyName);
        }
        if !store::valid_name(new_name) {
            return Err(ContainerError::InvalidName(new_name.to_string()));
        }
        let c = self.container(name)?;
        if c.name == new_name {
            return Err(ContainerError::SameName);
        }
        let old = c.name.clone();
        // The check and the change in one critical section: two renames (or
        // a create) cannot take the same name.
        let c = self.rename_record(&c.id, new_name)?;
        if let Err(e) = self.netd.rename_endpoint(&c.id, new_name) {
            tracing::warn!(container = %c.id, error = %e, "rename the network endpoints");
        }
        self.container_event(&c, "rename", &[("oldName", &format!("/{old}"))]);
        tracing::info!(container = %c.id, from = %old, to = %new_name, "renamed");
        Ok(())
    }

    /// `GET /containers/{id}/top`: the container's processes as `ps -ef`.
    pub fn top(&self, name: &str) -> Result<ContainerTopResponse, ContainerError> {
        let c = self.container(name)?;
        if !c.state.running || c.state.pid <= 0 {
            return Err(ContainerError::NotRunning(c.id));
        }
        let pids = container_pids(c.state.pid);
        let boot = boot_time();
        let tck = clock_ticks();
        let uptime = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0);
        let users = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let mut rows = Vec::new();
        for pid in pids {
            let Some(row) = ps_row(pid, boot, tck, uptime, &users) else {
                continue;
            };
            rows.push(row);
        }
        let titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];
        Ok(ContainerTopResponse {
            titles: Some(titles.map(String::from).to_vec()),
            processes: Some(rows),
        })
    }

    /// `POST /containers/prune`: every container that is not running
    /// (filters `until`, `label`, `label!`).
    pub fn container_prune(
        &self,
        filters: &Filters,
    ) -> Result<ContainerPruneReport, ContainerError> {
        filters.validate(&["label", "label!", "until"])?;
        let until = super::events::until_of(filters)?;
        let mut deleted = Vec::new();
        let mut space = 0u64;
        for c in self.all() {
            let labels = &c.config.labels;
            if c.state.running
                || !filters.match_labels("label", labels)
                || !filters.match_no_labels("label!", labels)
            {
                continue;
            }
            if let Some(u) = until {
                let created = chrono::DateTime::parse_from_rfc3339(&c.created)
                    .ok()
                    .and_then(|t| t.timestamp_nanos_opt())
                    .unwrap_or(0);
                if created >= u {
                    continue;
                }
            }
            let size = dir_size(&self.dir(&c.id).join("upper"));
            match self.remove(&c.id, false, false) {
                Ok(()) => {
                    space += size;
                    deleted.push(c.id);
                }
                Err(e) => tracing::warn!(container = %c.id, error = %e, "prune"),
            }
        }
        Ok(ContainerPruneReport {
            containers_deleted: (!deleted.is_empty()).then_some(deleted),
            space_reclaimed: space,
        })
    }
}

impl Daemon {
    /// `GET /system/df`: images, containers and volumes with their sizes.
    pub fn system_df(&self) -> Result<DfResponse, ContainerError> {
        let mut images = self.image_list(&Filters::default(), false)?;
        // Layers are not shared between images here (one snapshot chain each
        // as far as the numbers go); Docker's CLI needs a known SharedSize.
        for i in images.iter_mut() {
            i.summary.shared_size = 0;
        }
        let layers: i64 = images.iter().map(|i| i.summary.size).sum();
        let image_size = |id: &str| {
            images
                .iter()
                .find(|i| i.summary.id == id)
                .map_or(0, |i| i.summary.size)
        };
        let mut containers = Vec::new();
        for s in self.list(true, Filters::default())? {
            let rw = dir_size(&self.dir(&s.id).join("upper")) as i64;
            containers.push(DfContainer {
                size_root_fs: rw + image_size(&s.image_id),
                size_rw: rw,
                summary: s,
            });
        }
        Ok(DfResponse {
            layers_size: layers,
            images,
            containers,
            volumes: self.df_volumes()?,
            build_cache: vec![],
        })
    }

    /// The volumes of `system df`, each with its size and how many
    /// containers (running or not) mount it.
    fn df_volumes(&self) -> Result<Vec<DfVolume>, ContainerError> {
        let all = self.all();
        let none = volumes::filters::ListFilters::parse(&Default::default())
            .map_err(|e| ContainerError::internal(e.to_string()))?;
        let list = self
            .volumes
            .list(&none)
            .map_err(|e| ContainerError::internal(e.to_string()))?;
        Ok(list
            .into_iter()
            .map(|vol| {
                let refs = all
                    .iter()
                    .filter(|c| {
                        c.mounts
                            .iter()
                            .any(|m| m.volume().is_some_and(|n| n.as_ref() == vol.name))
                    })
                    .count();
                DfVolume {
                    usage_data: VolumeUsageData {
                        size: dir_size(&vol.mountpoint) as i64,
                        ref_count: refs as i64,
                    },
                    volume: vol,
                }
            })
            .collect())
    }
}

/// `GET /system/df` as dockerd answers API 1.41–1.43 (the shape the docker
/// CLI and docker-py read; [`crate::apimodel::DiskUsage`] is its reading).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DfResponse {
    layers_size: i64,
    images: Vec<ImageListItem>,
    containers: Vec<DfContainer>,
    volumes: Vec<DfVolume>,
    /// No BuildKit cache here: always `[]`.
    build_cache: Vec<()>,
}

#[derive(Debug, serde::Serialize)]
pub struct DfContainer {
    #[serde(flatten)]
    summary: ContainerSummary,
    #[serde(rename = "SizeRw")]
    size_rw: i64,
    #[serde(rename = "SizeRootFs")]
    size_root_fs: i64,
}

#[derive(Debug, serde::Serialize)]
pub struct DfVolume {
    #[serde(flatten)]
    volume: volumes::Volume,
    #[serde(rename = "UsageData")]
    usage_data: VolumeUsageData,
}

/// Bytes of the files under `p` (not following symlinks).
pub fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// The processes of the container whose init is `init`: its cgroup's
/// members when they can be read, else every process in its pid namespace.
fn container_pids(init: i32) -> Vec<i32> {
    let cg = Cgroups::of(init);
    let ns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let own = ns(init);
    // Only processes in the container's pid namespace, whatever the cgroup
    // holds (a shared or parent cgroup must not list the host's).
    let mut pids: Vec<i32> = match cg.procs() {
        Some(p) if own.is_some() => p.into_iter().filter(|p| ns(*p) == own).collect(),
        _ => pidns_members(init),
    };
    if !pids.contains(&init) {
        pids.push(init);
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

fn pidns_members(init: i32) -> Vec<i32> {
    let ns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(want) = ns(init) else {
        return vec![];
    };
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| ns(*p).as_ref() == Some(&want))
        .collect()
}

fn boot_time() -> i64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

pub use crate::oci::state::parse_stat;

/// `ps`'s TIME: `[DD-]HH:MM:SS`.
pub fn cpu_time(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86400,
        secs % 86400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// One `ps -ef` row of `pid`.
fn ps_row(pid: i32, boot: i64, tck: u64, uptime: f64, passwd: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (comm, f) = parse_stat(&stat)?;
    let num = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("0")
        .to_string();
    let user = passwd
        .lines()
        .find_map(|l| {
            let p: Vec<&str> = l.split(':').collect();
            (p.len() > 2 && p[2] == uid).then(|| p[0].to_string())
        })
        .unwrap_or(uid);
    let cpu_ticks = num(11) + num(12);
    let start_secs = num(19) as f64 / tck as f64;
    let elapsed = (uptime - start_secs).max(0.001);
    let c = ((cpu_ticks as f64 / tck as f64) / elapsed * 100.0) as u64;
    let started = chrono::DateTime::from_timestamp(boot + start_secs as i64, 0)
        .map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string())
        .unwrap_or_default();
    let tty = match num(4) {
        0 => "?".to_string(),
        n => {
            let major = (n >> 8) & 0xfff;
            let minor = (n & 0xff) | ((n >> 12) & 0xfff00);
            if major == 136 {
                format!("pts/{minor}")
            } else {
                "?".to_string()
            }
        }
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = if cmdline.is_empty() {
        format!("[{comm}]")
    } else {
        cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some(vec![
        user,
        pid.to_string(),
        num(1).to_string(),
        c.to_string(),
        started,
        tty,
        cpu_time(cpu_ticks / tck.max(1)),
        cmd,
    ])
}

#[cfg(test)]
mod tests {
    use super::super::stats::{parse_kv, parse_proc_cgroup};
    use super::*;

    #[test]
    fn proc_files_parse() {
        let cg = parse_proc_cgroup("12:memory:/rrun/abc\n0::/rrun/abc\n");
        assert_eq!(cg[0], ("memory".to_string(), "/rrun/abc".to_string()));
        assert_eq!(cg[1].0, "");
        let kv = parse_kv("usage_usec 100\nuser_usec 60\nbad\n");
        assert_eq!(kv["usage_usec"], 100);
        let (comm, f) = parse_stat(
            "42 (sh -c (x)) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 500 1000 10",
        )
        .unwrap();
        assert_eq!(comm, "sh -c (x)");
        assert_eq!(f[1], "1");
        assert_eq!(f[11], "7");
        assert_eq!(f[19], "500");
        assert!(parse_stat("garbage").is_none());
        assert_eq!(cpu_time(61), "00:01:01");
        assert_eq!(cpu_time(90061), "1-01:01:01");
    }
}
