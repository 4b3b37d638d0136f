//! The health monitor: one tokio task per running container with a check.
//!
//! It is started when the container starts ([`Daemon::start_health_monitor`]
//! from the start and from start-up reconciliation) and belongs to that run
//! of the container: it watches the container's state channel and ends as
//! soon as the container stops, restarts (a new `StartedAt`) or is removed,
//! dropping a probe in flight, whose process dies with the container. So no
//! registry is needed, and a restart never leaves two monitors. While the
//! container is paused it probes nothing and the health reads `unhealthy`
//! (Docker stops its monitor then); probes resume after the unpause.
//!
//! A probe is an exec (the daemon's own machinery: the exec helper, with
//! stdout and stderr attached, no terminal), registered while it runs as
//! Docker's are. Its timeout counts from the moment the process runs; past
//! it the process is killed (SIGKILL) and the result is Docker's
//! `Health check exceeded timeout (…)` with exit code -1.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use super::{record, Check, Output, Settings};
use crate::daemon::containers::pause::PAUSED;
use crate::daemon::exec::{ExecConfig, ExecState};
use crate::daemon::store::{self, Container, State};
use crate::daemon::{find_image, logs, Daemon, REMOVED};

/// How long a probe may take to start; not counted in its timeout.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a killed probe has to report its end.
const KILL_GRACE: Duration = Duration::from_secs(10);

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn since(t0: Option<DateTime<Utc>>, t: DateTime<Utc>) -> Duration {
    t0.and_then(|t0| (t - t0).to_std().ok()).unwrap_or_default()
}

/// Where the run of the container a monitor belongs to (its `StartedAt`) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Going,
    Paused,
    Over,
}

fn run_state(s: &State, run: &str) -> Run {
    if !s.running || s.started_at != run || s.status == REMOVED {
        Run::Over
    } else if s.status == PAUSED {
        Run::Paused
    } else {
        Run::Going
    }
}

/// Resolves once the run's state is not `from` any more; the new one.
async fn left(rx: &mut watch::Receiver<State>, run: &str, from: Run) -> Run {
    match rx.wait_for(|s| run_state(s, run) != from).await {
        Ok(s) => run_state(&s, run),
        Err(_) => Run::Over,
    }
}

/// Removes a probe's exec record however the probe ends.
struct ExecRecord<'a>(&'a Daemon, String);

impl Drop for ExecRecord<'_> {
    fn drop(&mut self) {
        self.0.exec_drop(&self.1);
    }
}

impl Daemon {
    /// Starts the monitor of a running container's check, if it has one.
    pub(crate) fn start_health_monitor(self: &Arc<Self>, c: &Container) {
        let Some(settings) = Settings::of(c.config.healthcheck.as_ref()) else {
            return;
        };
        if !c.state.running {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(container = %c.id, "no runtime to run the healthcheck on");
            return;
        };
        // CMD-SHELL runs in the image's SHELL, as Docker's.
        let shell = find_image(&self.images, &c.image)
            .ok()
            .and_then(|i| i.config.config.shell.clone())
            .unwrap_or_default();
        let argv = settings.argv(&shell);
        let (d, id, run) = (self.clone(), c.id.clone(), c.state.started_at.clone());
        tracing::info!(container = %id, "health monitor started");
        rt.spawn(async move { d.monitor(id, run, settings, argv).await });
    }

    async fn monitor(self: Arc<Self>, id: String, run: String, s: Settings, argv: Vec<String>) {
        let Ok(mut rx) = self.subscribe(&id) else {
            return;
        };
        let started = DateTime::parse_from_rfc3339(&run)
            .ok()
            .map(|t| t.with_timezone(&Utc));
        loop {
            let state = run_state(&rx.borrow(), &run);
            match state {
                Run::Over => break,
                Run::Paused => {
                    self.mark_paused(&id, &run);
                    match left(&mut rx, &run, Run::Paused).await {
                        Run::Over => break,
                        _ => continue,
                    }
                }
                Run::Going => {}
            }
            let Some(status) = rx.borrow().health.as_ref().map(|h| h.status) else {
                return;
            };
            let wait = super::next_wait(&s, since(started, now()), status);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = left(&mut rx, &run, Run::Going) => continue,
            }
            let start = now();
            let (exit_code, output) = tokio::select! {
                r = self.probe(&id, &argv, s.timeout) => r,
                _ = left(&mut rx, &run, Run::Going) => continue,
            };
            let check = Check {
                start: stamp(start),
                end: stamp(now()),
                exit_code,
                output,
            };
            self.record_check(&id, &run, &s, since(started, start), check);
        }
        tracing::info!(container = %id, "health monitor ended");
    }

    /// Applies a result to the container's health (unless its run is
    /// over); saves the record when the status or the streak changed (the
    /// log alone is kept in memory, as Docker's), and tells of a new status.
    fn record_check(&self, id: &str, run: &str, s: &Settings, since_start: Duration, check: Check) {
        let changed = {
            let mut ix = self.containers.lock().unwrap();
            let Some(e) = ix.get_mut(id) else { return };
            // A result of a run that is over or paused meanwhile is dropped.
            if run_state(&e.c.state, run) != Run::Going {
                return;
            }
            let Some(h) = e.c.state.health.as_mut() else {
                return;
            };
            let streak = h.failing_streak;
            let changed = record(h, s, since_start, check);
            if changed || h.failing_streak != streak {
                if let Err(err) = store::save(&self.opts.data_root, &e.c) {
                    tracing::warn!(container = %id, error = %err, "save the health state");
                }
            }
            e.tx.send_replace(e.c.state.clone());
            changed.then(|| e.c.clone())
        };
        if let Some(c) = changed {
            let status = c.state.health.as_ref().map_or("", |h| h.status.as_str());
            tracing::info!(container = %id, status, "health status");
            self.container_event(&c, &format!("health_status: {status}"), &[]);
        }
    }

    /// The container was paused: its health reads unhealthy, as Docker's
    /// when its monitor stops (no event).
    fn mark_paused(&self, id: &str, run: &str) {
        let mut ix = self.containers.lock().unwrap();
        let Some(e) = ix.get_mut(id) else { return };
        if e.c.state.started_at != run {
            return;
        }
        let before = e.c.state.health.clone();
        super::at_stop(&mut e.c.state.health);
        if e.c.state.health != before {
            if let Err(err) = store::save(&self.opts.data_root, &e.c) {
                tracing::warn!(container = %id, error = %err, "save the health state");
            }
            e.tx.send_replace(e.c.state.clone());
        }
    }

    /// Runs one probe: its exit code and output (-1 and why when it could
    /// not run or ran past its timeout).
    async fn probe(
        self: &Arc<Self>,
        id: &str,
        argv: &[String],
        timeout: Duration,
    ) -> (i64, String) {
        match self.try_probe(id, argv, timeout).await {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!(container = %id, error = %why, "health check");
                (-1, why)
            }
        }
    }

    async fn try_probe(
        self: &Arc<Self>,
        id: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<(i64, String), String> {
        let cfg = ExecConfig {
            attach_stdout: true,
            attach_stderr: true,
            cmd: Some(argv.to_vec()),
            ..Default::default()
        };
        let exec_id = self.exec_create(id, cfg).map_err(|e| e.to_string())?;
        let _record = ExecRecord(self, exec_id.clone());
        let (e, c) = self.exec_claim(&exec_id).map_err(|e| e.to_string())?;
        let (d, e2) = (self.clone(), e.clone());
        let data = tokio::task::spawn_blocking(move || d.exec_launch(&e2, &c, true))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let mut rx = e.subscribe();
        let settled = rx.wait_for(|s| s.running || s.exit_code.is_some());
        if tokio::time::timeout(START_TIMEOUT, settled).await.is_err() {
            return Err(format!(
                "timed out starting health check for container {id}"
            ));
        }
        let st = e.state();
        if st.exit_code.is_some() && !st.error.is_empty() {
            return Err(st.error);
        }
        let data = data
            .and_then(|s| s.set_nonblocking(true).ok().map(|()| s))
            .and_then(|s| tokio::net::UnixStream::from_std(s).ok())
            .ok_or_else(|| format!("no output stream for the health check of {id}"))?;
        let mut out = Output::default();
        let finished = tokio::time::timeout(timeout, collect(data, &mut out, &mut rx)).await;
        if let Ok(code) = finished {
            return Ok((code, out.text()));
        }
        kill(&e.state());
        let _ = tokio::time::timeout(KILL_GRACE, rx.wait_for(|s| s.exit_code.is_some())).await;
        Ok((-1, super::timed_out(timeout, &out.text())))
    }
}

/// Reads the probe's (multiplexed) output until its end, then its exit code.
async fn collect(
    mut data: tokio::net::UnixStream,
    out: &mut Output,
    rx: &mut watch::Receiver<ExecState>,
) -> i64 {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(n) = data.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let (frames, used) = logs::deframe(&buf);
        for (_, payload) in frames {
            out.push(&payload);
        }
        buf.drain(..used);
    }
    match rx.wait_for(|s| s.exit_code.is_some()).await {
        Ok(s) => s.exit_code.map_or(-1, i64::from),
        Err(_) => -1,
    }
}

/// Kills a probe that ran past its timeout (its process, as Docker's).
fn kill(s: &ExecState) {
    if s.running && s.pid > 0 {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(s.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}
