//! Starting a container: a plan first, then `apply(plan)`.
//!
//! [`Daemon::plan_start`] makes every check a start needs (the image, the
//! user and groups read from the image's layers without mounting them, the
//! bind sources, the network identity, the complete OCI spec with the run
//! options and the terminal applied) while nothing on the host changes. A
//! bad option fails there, with nothing to undo.
//!
//! [`Daemon::apply_start`] then takes the steps in order: the root
//! filesystem, each volume, the network, the container's files and
//! config.json, the shim. Each step is recorded in an [`Undo`] as it is
//! done; a failure at any step undoes the recorded ones in reverse order, so
//! the container is left as it was before the start: no mount, namespace,
//! veth, rule, address lease, resolver, cgroup or shim (netavark's
//! validate → setup → rollback).

use std::io::BufRead;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use super::health;
use crate::daemon::store::{self, Container, State};
use crate::daemon::{
    find_image, logs, spec, start_error_code, tty, volume, ContainerError, Daemon, ImageError,
    VolumeError,
};
use crate::shim::{self, ShimArgs, StartReport};
use crate::state::ShimConfig;

/// /etc/passwd and /etc/group are read up to this size.
const ETC_LIMIT: u64 = 4 << 20;

/// Everything a start decided before touching the host.
pub struct StartPlan {
    image: rrun_image::images::LocalImage,
    dir: PathBuf,
    /// The complete OCI spec, written as config.json by the apply.
    spec: oci_spec::runtime::Spec,
    /// The first start fills new volumes from the image.
    copy_up: bool,
    /// /etc/hosts lines of its legacy links.
    link_hosts: String,
}

impl StartPlan {
    fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
}

/// One step of a start's apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Rootfs,
    /// The `--ipc shareable` /dev/shm tmpfs.
    Shm,
    /// The n-th volume mount of the container.
    Volume(usize),
    Network,
    Files,
    Shim(i32),
}

impl Step {
    /// The name `rrund --fail-start-at` takes.
    fn name(&self) -> String {
        match self {
            Step::Rootfs => "rootfs".into(),
            Step::Shm => "shm".into(),
            Step::Volume(n) => format!("volume:{n}"),
            Step::Network => "network".into(),
            Step::Files => "files".into(),
            Step::Shim(_) => "shim".into(),
        }
    }
}

/// The steps a start has taken so far, undone in reverse on failure.
pub struct Undo<'d> {
    d: &'d Daemon,
    id: String,
    rootfs: PathBuf,
    done: Vec<Step>,
}

impl<'d> Undo<'d> {
    fn new(d: &'d Daemon, id: &str, rootfs: PathBuf) -> Undo<'d> {
        Undo {
            d,
            id: id.to_string(),
            rootfs,
            done: Vec::new(),
        }
    }

    /// Records a finished step; fails after it when the daemon was told to
    /// (tests of this very undo).
    fn did(&mut self, step: Step) -> Result<(), ContainerError> {
        self.done.push(step);
        match &self.d.opts.fail_start_at {
            Some(at) if *at == step.name() => Err(ContainerError::Internal(format!(
                "start failed after step {at} (rrund --fail-start-at)"
            ))),
            _ => Ok(()),
        }
    }

    /// Undoes every recorded step, last first, going on past failures.
    fn undo(self) {
        for step in self.done.iter().rev() {
            match step {
                Step::Shim(pid) => {
                    // The executor's container (its cgroup and processes)
                    // goes first, then the shim that held it.
                    self.d.oci_force_delete(&self.id);
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(*pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    crate::daemon::reap(*pid);
                }
                // The files are the container's own, rewritten at each start.
                Step::Files => {}
                Step::Network => self.d.teardown_network(&self.id),
                Step::Shm => super::shm::unmount_shm(&self.d.dir(&self.id)),
                // A volume stays in use while its container exists (as
                // after an exit); the apply's own failure is undone by the
                // volume store.
                Step::Volume(_) => {}
                Step::Rootfs => {
                    if let Err(e) = rrun_image::rootfs::unmount_rootfs(&self.rootfs) {
                        tracing::warn!(container = %self.id, error = %e, "undo the root mount");
                    }
                }
            }
        }
    }
}

/// How long a refill of the spares waits for a shim to end (see
/// `Daemon::refill_spares`).
const SPARES_AFTER: std::time::Duration = std::time::Duration::from_millis(10);

impl Daemon {
    /// `POST /containers/{id}/start`: plans, applies, and waits for the
    /// shim's report. Blocking. `Ok(false)` when it already runs.
    pub fn start(self: &Arc<Self>, name: &str) -> Result<bool, ContainerError> {
        let c = self.container(name)?;
        if c.state.running {
            return Ok(false);
        }
        // The init's cgroup move comes in a few ms: its wait for the
        // kernel runs now, beside the rootfs and the network.
        crate::linux::attach_warm::warm();
        // Not while a copy has the stopped container's root mounted.
        let _copy = super::archive::RootfsLock::take(&c.id);
        let plan = self.plan_start(&c)?;
        self.reset_restarts_on_user_start(&c);
        // A previous run's leftovers.
        let _ = std::fs::remove_file(plan.dir.join(shim::EXIT_FILE));
        self.oci_force_delete(&c.id);
        let mut undo = Undo::new(self, &c.id, plan.rootfs());
        let started = self.apply_start(&c, &plan, &mut undo);
        let result = match started {
            Ok(started) => self.record_started(&c, started).map(|()| true),
            Err(e) => {
                undo.undo();
                self.record_start_failure(&c, &e);
                Err(e)
            }
        };
        self.refill_spares();
        result
    }

    /// The spare network namespaces and shim a start took, made again once
    /// the started container has had its first milliseconds: when a shim
    /// is gone (a `run --rm` of a short command: its exit, removal and
    /// cleanup are done), or [`SPARES_AFTER`] after the start. Made as the
    /// start took them, or at once after it, they took the cores' time
    /// from the container's init, its program and its exit (2.6 ms of a
    /// 19 ms `run --rm`, two daemons side by side on 2 cores).
    fn refill_spares(self: &Arc<Self>) {
        let d = self.clone();
        let refill = move || {
            d.netns_pool.refill();
            d.shim_pool.refill(|| {
                let mut cmd = d.helper_command();
                cmd.args(shim::spare::spare_args());
                cmd
            });
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                // Made here, it takes a shim's end from now on, before the
                // task is first polled.
                let ended = self.shim_ended.clone().notified_owned();
                rt.spawn(async move {
                    let _ = tokio::time::timeout(SPARES_AFTER, ended).await;
                    refill();
                });
            }
            Err(_) => refill(),
        }
    }

    /// Every check of a start, with nothing on the host changed.
    pub fn plan_start(&self, c: &Container) -> Result<StartPlan, ContainerError> {
        let image = find_image(&self.images, &c.image)
            .map_err(|_| ImageError::NoSuchImage(c.image_name.clone()))?;
        let dir = self.dir(&c.id);
        let read = |p: &str| {
            rrun_image::rootfs::read_layered(&self.images, &image, &dir.join("upper"), p, ETC_LIMIT)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let (passwd, group) = (read("etc/passwd"), read("etc/group"));
        let bad = |e: spec::SpecError| ContainerError::InvalidOption(e.to_string());
        let (uid, gid) = spec::resolve_user(&c.config.user, &passwd, &group).map_err(bad)?;
        self.check_bind_sources(c)?;
        let (netns, hostname) = self.net_identity(c)?;
        let ic = &image.config.config;
        let cwd = if c.config.working_dir.is_empty() {
            ic.working_dir.clone().unwrap_or_default()
        } else {
            c.config.working_dir.clone()
        };
        let mut args = vec![c.path.clone()];
        args.extend(c.args.iter().cloned());
        let file = |f: &str| dir.join(f).display().to_string();
        let links = self.legacy_links(c)?;
        let mut env = super::links::link_env(&c.name, &links);
        env.extend(c.config.env.iter().cloned());
        let input = spec::SpecInput {
            args,
            image_env: ic.env.clone().unwrap_or_default(),
            env,
            cwd,
            uid,
            gid,
            additional_gids: vec![],
            hostname,
            rootfs: file("rootfs"),
            network_mode: c.host_config.network_mode.clone(),
            hostname_file: file("hostname"),
            hosts_file: file("hosts"),
            resolv_file: file("resolv.conf"),
            netns_path: netns.map(|p| p.display().to_string()),
            mounts: self.oci_mounts(&c.mounts),
            cgroups_path: if self.opts.systemd_cgroup {
                format!("system.slice:rrun:{}", c.id)
            } else {
                format!("/rrun/{}", c.id)
            },
        };
        let mut spec = spec::build(&input).map_err(bad)?;
        if let (Some(p), Some(linux)) = (volume::root_propagation(&c.mounts), spec.linux_mut()) {
            linux.set_rootfs_propagation(Some(p.to_string()));
        }
        self.apply_run_options(&mut spec, c, &group)?;
        tty::apply_terminal(&mut spec, c.config.tty, c.host_config.console_size);
        Ok(StartPlan {
            image,
            dir,
            spec,
            copy_up: !c.copied_up,
            link_hosts: super::links::link_hosts(&links),
        })
    }

    /// A `--mount type=bind` source must exist (`-v` creates its own).
    fn check_bind_sources(&self, c: &Container) -> Result<(), VolumeError> {
        use volumes::plan::PlannedSource;
        for m in &c.mounts {
            if let PlannedSource::Bind {
                source,
                create_source: false,
                ..
            } = &m.source
            {
                if std::fs::symlink_metadata(source).is_err() {
                    return Err(
                        volumes::attach::AttachError::BindSourceMissing(source.clone()).into(),
                    );
                }
            }
        }
        volume::check_propagation(&c.mounts)
    }

    /// The steps of a start, each recorded in `undo` once done. Returns the
    /// shim's pid, the container's pid and the published ports.
    fn apply_start(
        &self,
        c: &Container,
        plan: &StartPlan,
        undo: &mut Undo,
    ) -> Result<Started, ContainerError> {
        let dir = &plan.dir;
        let mut took = StepTimes::new();
        let (upper, work, rootfs) = (dir.join("upper"), dir.join("work"), plan.rootfs());
        for d in [&upper, &work, &rootfs] {
            std::fs::create_dir_all(d).map_err(ContainerError::internal)?;
        }
        let _ = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH);
        rrun_image::rootfs::mount_rootfs(&self.images, &plan.image, &upper, &work, &rootfs)
            .map_err(ContainerError::internal)?;
        undo.did(Step::Rootfs)?;
        took.mark("rootfs");
        if c.host_config.run.ipc_mode == "shareable" {
            let size = match c.host_config.run.shm_size {
                0 => crate::daemon::runopts::DEFAULT_SHM_SIZE,
                n => n,
            };
            super::shm::mount_shm(dir, size).map_err(|e| {
                ContainerError::Internal(format!("mount the shareable /dev/shm: {e}"))
            })?;
            undo.did(Step::Shm)?;
        }
        self.attach_volumes(c, plan, undo)?;
        took.mark("volumes");
        let (files, ports) = self.setup_network(c)?;
        undo.did(Step::Network)?;
        took.mark("network");
        // These files are made again at every start: replaced atomically
        // (a reader never sees half of one), not synced.
        for (f, text) in [
            ("hostname", format!("{}\n", files.hostname)),
            ("hosts", files.hosts + &plan.link_hosts),
            ("resolv.conf", files.resolv),
        ] {
            crate::state::replace_unsynced(&dir.join(f), text.as_bytes())
                .map_err(ContainerError::internal)?;
        }
        let shim_config = ShimConfig {
            open_stdin: c.config.open_stdin,
            stdin_once: c.config.stdin_once,
            tty: c.config.tty,
            log_opts: super::logopts::shim_opts(c.host_config.log_config.as_ref()),
        };
        shim_config.save(dir).map_err(ContainerError::internal)?;
        let spec = serde_json::to_vec_pretty(&plan.spec).map_err(ContainerError::internal)?;
        crate::state::replace_unsynced(&dir.join("config.json"), &spec)
            .map_err(ContainerError::internal)?;
        undo.did(Step::Files)?;
        took.mark("files");
        let (shim_pid, report, notice) = self.spawn_shim(c, dir)?;
        undo.did(Step::Shim(shim_pid))?;
        took.mark("shim");
        tracing::debug!(container = %c.id, steps = %took, "start");
        if !report.ok {
            return Err(ContainerError::Refused(report.error));
        }
        Ok(Started {
            shim_pid,
            pid: report.pid,
            ports,
            notice,
        })
    }

    /// The container's volumes, one step each; the image's content goes
    /// into new volumes once, at the first start.
    fn attach_volumes(
        &self,
        c: &Container,
        plan: &StartPlan,
        undo: &mut Undo,
    ) -> Result<(), ContainerError> {
        let rootfs = plan.rootfs();
        let copy_from = plan.copy_up.then_some(rootfs.as_path());
        let volumes = c.mounts.iter().filter(|m| m.volume().is_some());
        for (n, m) in volumes.enumerate() {
            self.volumes
                .attach(&c.id, std::slice::from_ref(m), copy_from)?;
            let dest = [
                ("container", c.id.as_str()),
                ("destination", &m.destination),
            ];
            if let Some(v) = m.volume() {
                self.events.emit("volume", "mount", v.as_ref(), &dest);
            }
            undo.did(Step::Volume(n))?;
        }
        // Binds and tmpfs mounts need no volume; `-v` creates a missing
        // bind source.
        let others: Vec<_> = c
            .mounts
            .iter()
            .filter(|m| m.volume().is_none())
            .cloned()
            .collect();
        Ok(self.volumes.attach(&c.id, &others, None)?)
    }

    fn record_started(self: &Arc<Self>, c: &Container, s: Started) -> Result<(), ContainerError> {
        let Started {
            shim_pid,
            pid,
            ports,
            notice,
        } = s;
        let now = self.update(&c.id, |c| {
            c.state = State {
                status: "running".into(),
                running: true,
                pid,
                exit_code: 0,
                error: String::new(),
                started_at: logs::now(),
                finished_at: store::ZERO_TIME.into(),
                oom_killed: false,
                health: health::at_start(c.config.healthcheck.as_ref(), c.state.health.take()),
            };
            c.shim_pid = shim_pid;
            c.ports = ports;
            c.copied_up = true;
        })?;
        self.container_event(c, "start", &[]);
        tracing::info!(container = %c.id, pid, "started");
        self.watch_shim(c.id.clone(), shim_pid, notice);
        self.start_health_monitor(&now);
        Ok(())
    }

    /// After the undo: the record says why (attached clients learn of the
    /// failure from the state); an auto-remove container goes, as Docker's.
    fn record_start_failure(&self, c: &Container, e: &ContainerError) {
        let message = e.to_string();
        let code = start_error_code(&message);
        let _ = self.update(&c.id, |c| {
            c.state.status = "created".into();
            c.state.exit_code = code;
            c.state.error = message;
        });
        if c.host_config.auto_remove {
            let _ = self.remove(&c.id, true, true);
        }
    }

    /// Starts the shim and reads its one-line report; after a start, the
    /// pipe it came through (its end: the exit recorded).
    fn spawn_shim(
        &self,
        c: &Container,
        dir: &Path,
    ) -> Result<(i32, StartReport, Option<OwnedFd>), ContainerError> {
        let args = ShimArgs {
            id: c.id.clone(),
            dir: dir.to_path_buf(),
            oci_root: self.opts.exec_root.clone(),
            oci_bin: self.opts.oci_bin.clone(),
            systemd_cgroup: self.opts.systemd_cgroup,
        };
        let log = std::fs::File::create(dir.join("shim.log")).map_err(ContainerError::internal)?;
        let argv = args.to_args();
        let fits = shim::spare::command_line(self.helper_exe_path(), &argv).is_some();
        let spare = fits.then(|| self.shim_pool.take(&argv)).flatten();
        let mut child = match spare {
            Some(child) => child,
            None => self
                .helper_command()
                .args(argv)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(log))
                .spawn()
                .map_err(|e| ContainerError::Internal(format!("start the shim: {e}")))?,
        };
        let pid = child.id() as i32;
        let mut line = String::new();
        let out = child.stdout.take().expect("piped");
        let mut out = std::io::BufReader::new(out);
        let _ = out.read_line(&mut line);
        match serde_json::from_str::<StartReport>(line.trim()) {
            Ok(r) => {
                let notice = r.ok.then(|| OwnedFd::from(out.into_inner()));
                Ok((pid, r, notice))
            }
            Err(_) => {
                let _ = child.wait();
                let why = std::fs::read_to_string(dir.join("shim.log")).unwrap_or_default();
                Err(ContainerError::Internal(format!(
                    "the shim failed: {}",
                    why.trim()
                )))
            }
        }
    }
}

/// A container's shim, started: its pid, the container's init's, the
/// published ports, and the read end of the shim's report pipe.
struct Started {
    shim_pid: i32,
    pid: i32,
    ports: Vec<netd::store::PortBinding>,
    notice: Option<OwnedFd>,
}

/// How long each step of a start took, for the daemon's debug log.
struct StepTimes {
    last: std::time::Instant,
    steps: Vec<(&'static str, std::time::Duration)>,
}

impl StepTimes {
    fn new() -> StepTimes {
        StepTimes {
            last: std::time::Instant::now(),
            steps: Vec::new(),
        }
    }

    fn mark(&mut self, step: &'static str) {
        let now = std::time::Instant::now();
        self.steps.push((step, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for StepTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        for (i, (step, d)) in self.steps.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{step}={:.1}ms", d.as_secs_f64() * 1000.0)?;
        }
        Ok(())
    }
}
