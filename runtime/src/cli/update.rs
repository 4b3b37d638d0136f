//! `rrun update` / `rrun container update`: a container's resource limits
//! and restart policy changed, with `run`'s value parsers.

use anyhow::Result;
use clap::Args;

use crate::apimodel::models::{ContainerUpdateBody, ContainerUpdateResponse, RestartPolicy};

use super::client::{enc, Client};
use super::format::fail;
use super::runflags::{parse_cpus, parse_restart, parse_swap};

// `update`'s flags (docker's, but the kernel-memory and realtime ones).
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
    #[arg(long, value_parser = clap::value_parser!(u16).range(0..=1000))]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long, allow_hyphen_values = true)]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs.
    #[arg(long, value_parser = parse_cpus)]
    pub cpus: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Memory limit.
    #[arg(short = 'm', long, value_parser = rrun_units::ram_in_bytes)]
    pub memory: Option<i64>,
    /// Memory soft limit.
    #[arg(long, value_parser = rrun_units::ram_in_bytes)]
    pub memory_reservation: Option<i64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
    #[arg(long, value_parser = parse_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits.
    #[arg(long, value_parser = parse_restart)]
    pub restart: Option<RestartPolicy>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// The update body; None when no flag was given (docker's error then).
pub fn update_body(a: &UpdateArgs) -> Option<ContainerUpdateBody> {
    let body = ContainerUpdateBody {
        blkio_weight: a.blkio_weight,
        cpu_period: a.cpu_period,
        cpu_quota: a.cpu_quota,
        cpu_shares: a.cpu_shares,
        nano_cpus: a.cpus,
        cpuset_cpus: a.cpuset_cpus.clone(),
        cpuset_mems: a.cpuset_mems.clone(),
        memory: a.memory,
        memory_reservation: a.memory_reservation,
        memory_swap: a.memory_swap,
        pids_limit: a.pids_limit,
        restart_policy: a.restart.clone(),
        ..Default::default()
    };
    (body != ContainerUpdateBody::default()).then_some(body)
}

pub fn update(c: &Client, a: &UpdateArgs) -> Result<i32> {
    let Some(body) = update_body(a) else {
        return Err(fail(
            1,
            "you must provide one or more flags when using this command",
        ));
    };
    super::each(&a.containers, |n| {
        let r: ContainerUpdateResponse = c
            .post_json(&format!("/containers/{}/update", enc(n)), &body)?
            .json()?;
        // As docker/cli: the daemon's warnings on stderr.
        for w in r.warnings.iter().flatten() {
            eprintln!("{w}");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        a: UpdateArgs,
    }

    #[test]
    fn flags_become_the_update_body() {
        let a = Cmd::parse_from([
            "u",
            "-m",
            "64m",
            "--cpus",
            "1.5",
            "--restart",
            "on-failure:3",
            "web",
        ])
        .a;
        let b = update_body(&a).unwrap();
        assert_eq!(b.memory, Some(64 << 20));
        assert_eq!(b.nano_cpus, Some(1_500_000_000));
        let policy = b.restart_policy.unwrap();
        assert_eq!(policy.maximum_retry_count, Some(3));
        assert!(update_body(&Cmd::parse_from(["u", "web"]).a).is_none());
        assert!(Cmd::try_parse_from(["u", "--blkio-weight", "2000", "web"]).is_err());
    }
}
