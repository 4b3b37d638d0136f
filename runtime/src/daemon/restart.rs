//! Restart policies (`no`, `on-failure[:N]`, `always`, `unless-stopped`),
//! as moby's restartmanager applies them:
//!
//! - after each exit the delay before the next start doubles from 100 ms
//!   (at most one minute), and falls back to 100 ms once a run lasted 10 s;
//! - `on-failure` restarts on a non-zero exit, at most N times when N > 0;
//! - a stop or kill by the user (the stop signal or SIGKILL) ends the
//!   restarts of every policy until the container is started again, and
//!   an explicit start resets the count;
//! - when the daemon starts, containers whose policy says so are started
//!   again (`always` even after a user's stop, `unless-stopped` unless the
//!   user stopped it); shims that survived the daemon are re-adopted.
//!
//! The decision ([`decide`]) is pure; [`Daemon::after_exit`] and
//! [`Daemon::restart_at_startup`] act on it.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

use super::runopts::RestartPolicy;
use super::store::Container;
use super::Daemon;

/// First delay before a restart.
pub const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest delay between restarts.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the back-off.
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// The status a container has while it waits to be restarted.
pub const RESTARTING: &str = "restarting";

/// Per-container restart state, saved with the container's record.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Restarts {
    /// Docker's `RestartCount`: restarts since the last start by the user.
    #[serde(default)]
    pub count: i64,
    /// Docker's `HasBeenManuallyStopped`.
    #[serde(default)]
    pub manually_stopped: bool,
    /// The last back-off delay, in milliseconds (0: none yet).
    #[serde(default)]
    pub delay_ms: u64,
}

/// The next back-off delay, from the last one and how long the run lasted.
pub fn next_delay(last: Duration, ran_for: Duration) -> Duration {
    let last = if ran_for >= RESET_AFTER {
        Duration::ZERO
    } else {
        last
    };
    if last.is_zero() {
        FIRST_DELAY
    } else {
        (last * 2).min(MAX_DELAY)
    }
}

/// Whether a container that exited with `exit_code` is started again.
pub fn decide(p: &RestartPolicy, exit_code: i32, r: &Restarts) -> bool {
    if r.manually_stopped && !p.is_always() && !p.is_unless_stopped() {
        return false;
    }
    match p.name.as_str() {
        "always" => !r.manually_stopped,
        "unless-stopped" => !r.manually_stopped,
        "on-failure" => {
            exit_code != 0 && (p.maximum_retry_count == 0 || r.count < p.maximum_retry_count)
        }
        _ => false,
    }
}

/// Whether the daemon starts the container when it starts itself.
pub fn decide_at_startup(c: &Container) -> bool {
    let p = &c.host_config.run.restart_policy;
    let ever_started = c.state.started_at != super::store::ZERO_TIME;
    if !ever_started || c.state.running {
        return false;
    }
    match p.name.as_str() {
        "always" => true,
        "unless-stopped" => !c.restarts.manually_stopped,
        "on-failure" => decide(p, c.state.exit_code, &c.restarts),
        _ => false,
    }
}

/// True for the signals by which the user means to stop the container.
pub fn is_stop_by_user(signal: &str, stop_signal: Option<&str>) -> bool {
    let norm = |s: &str| {
        let s = s.trim().to_uppercase();
        let s = s.strip_prefix("SIG").unwrap_or(&s).to_string();
        match s.as_str() {
            "9" => "KILL".to_string(),
            "15" => "TERM".to_string(),
            _ => s,
        }
    };
    let sig = norm(signal);
    sig == "KILL" || sig == norm(stop_signal.unwrap_or("SIGTERM"))
}

/// A container waiting for its restart counts as running for `rm`.
pub fn check_removable(c: &Container, force: bool) -> Result<(), super::ContainerError> {
    if c.state.status == RESTARTING && !force {
        return Err(super::ContainerError::RemoveRestarting(c.id.clone()));
    }
    Ok(())
}

fn ran_for(c: &Container) -> Duration {
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (t(&c.state.started_at), t(&c.state.finished_at)) {
        (Some(a), Some(b)) => (b - a).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

impl Daemon {
    /// Called once a container's exit is recorded: schedules its restart
    /// when its policy says so.
    pub(super) fn after_exit(self: &Arc<Self>, c: &Container) {
        let p = &c.host_config.run.restart_policy;
        if p.is_none() || !decide(p, c.state.exit_code, &c.restarts) {
            return;
        }
        let delay = next_delay(Duration::from_millis(c.restarts.delay_ms), ran_for(c));
        let Ok(c) = self.update(&c.id, |c| {
            c.state.status = RESTARTING.into();
            c.restarts.count += 1;
            c.restarts.delay_ms = delay.as_millis() as u64;
        }) else {
            return;
        };
        tracing::info!(container = %c.id, count = c.restarts.count, delay_ms = delay.as_millis() as u64, "restarting");
        self.schedule_restart(c.id.clone(), delay);
    }

    fn schedule_restart(self: &Arc<Self>, id: String, delay: Duration) {
        let d = self.clone();
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(container = %id, "no runtime to schedule a restart on");
            return;
        };
        rt.spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tokio::task::spawn_blocking(move || d.restart_now(&id)).await;
        });
    }

    /// The back-off is over: start it unless the user stopped or removed
    /// it meanwhile.
    fn restart_now(self: &Arc<Self>, id: &str) {
        let Ok(c) = self.container(id) else { return };
        if c.state.status != RESTARTING || c.restarts.manually_stopped {
            return;
        }
        if let Err(e) = self.start(id) {
            tracing::warn!(container = %id, error = %e, "restart failed");
            let _ = self.update(id, |c| {
                c.state.status = "exited".into();
                c.state.error = e.to_string();
            });
        }
    }

    /// Start-up: starts the containers the policy says to, and resumes the
    /// back-off of those that were waiting for their restart.
    pub(super) fn restart_at_startup(self: &Arc<Self>) {
        let waiting: Vec<Container> = {
            let ix = self.containers.lock().unwrap();
            ix.values()
                .map(|e| e.c.clone())
                .filter(|c| c.state.status == RESTARTING || decide_at_startup(c))
                .collect()
        };
        for c in waiting {
            if c.state.status != RESTARTING {
                // A start by the daemon, as one by the user: the count
                // and the user's stop are reset.
                let _ = self.update(&c.id, |c| {
                    c.state.status = RESTARTING.into();
                    c.restarts = Restarts::default();
                });
            }
            tracing::info!(container = %c.id, "starting again after the daemon's start");
            self.schedule_restart(c.id.clone(), Duration::ZERO);
        }
    }

    /// A start by the user: the restart count and the user's stop are reset
    /// (an automatic restart keeps them).
    pub(super) fn reset_restarts_on_user_start(&self, c: &Container) {
        if c.state.status == RESTARTING {
            return;
        }
        if c.restarts != Restarts::default() {
            let _ = self.update(&c.id, |c| c.restarts = Restarts::default());
        }
    }

    /// A stop or kill by the user: no more restarts until it is started again.
    pub(super) fn note_user_stop(&self, c: &Container, signal: &str) {
        if !is_stop_by_user(signal, c.config.stop_signal.as_deref()) {
            return;
        }
        let _ = self.update(&c.id, |c| {
            c.restarts.manually_stopped = true;
            if c.state.status == RESTARTING && !c.state.running {
                c.state.status = "exited".into();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `name[:count]`, as `--restart` writes it.
    fn policy(s: &str) -> RestartPolicy {
        let (name, n) = s.split_once(':').unwrap_or((s, "0"));
        RestartPolicy {
            name: name.into(),
            maximum_retry_count: n.parse().unwrap(),
        }
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let z = Duration::ZERO;
        let short = Duration::from_secs(1);
        assert_eq!(next_delay(z, short), FIRST_DELAY);
        assert_eq!(next_delay(FIRST_DELAY, short), Duration::from_millis(200));
        assert_eq!(
            next_delay(Duration::from_millis(400), short),
            Duration::from_millis(800)
        );
        assert_eq!(next_delay(Duration::from_secs(50), short), MAX_DELAY);
        assert_eq!(
            next_delay(Duration::from_secs(30), Duration::from_secs(10)),
            FIRST_DELAY
        );
    }

    #[test]
    fn policies_decide_like_docker() {
        let fresh = Restarts::default();
        let stopped = Restarts {
            manually_stopped: true,
            ..Default::default()
        };
        assert!(!decide(&policy("no"), 1, &fresh));
        assert!(decide(&policy("always"), 0, &fresh));
        assert!(!decide(&policy("always"), 0, &stopped));
        assert!(decide(&policy("unless-stopped"), 0, &fresh));
        assert!(!decide(&policy("unless-stopped"), 1, &stopped));
        assert!(!decide(&policy("on-failure"), 0, &fresh));
        assert!(decide(&policy("on-failure"), 1, &fresh));
        let twice = Restarts {
            count: 2,
            ..Default::default()
        };
        assert!(decide(&policy("on-failure:3"), 1, &twice));
        assert!(!decide(&policy("on-failure:2"), 1, &twice));
        assert!(decide(&policy("on-failure"), 1, &twice));
        assert!(!decide(&policy("on-failure"), 1, &stopped));
    }

    #[test]
    fn user_stop_signals() {
        assert!(is_stop_by_user("SIGKILL", None));
        assert!(is_stop_by_user("9", None));
        assert!(is_stop_by_user("TERM", None));
        assert!(is_stop_by_user("SIGQUIT", Some("SIGQUIT")));
        assert!(!is_stop_by_user("SIGHUP", None));
        assert!(!is_stop_by_user("SIGTERM", Some("SIGQUIT")));
    }

    #[test]
    fn startup_restarts_follow_the_policy() {
        let mut c: Container = serde_json::from_value(serde_json::json!({
            "Id": "abc", "Name": "n", "Created": "", "ImageName": "busybox",
            "Image": "sha256:1", "Manifest": "", "Config": {},
            "HostConfig": {"RestartPolicy": {"Name": "always"}},
            "State": {"Status": "exited", "Running": false, "Pid": 0, "ExitCode": 0,
                      "Error": "", "StartedAt": "2024-01-01T00:00:00Z",
                      "FinishedAt": "2024-01-01T00:00:01Z"},
            "Path": "sh", "Args": []
        }))
        .unwrap();
        assert!(decide_at_startup(&c));
        c.restarts.manually_stopped = true;
        assert!(decide_at_startup(&c));
        c.host_config.run.restart_policy = policy("unless-stopped");
        assert!(!decide_at_startup(&c));
        c.restarts.manually_stopped = false;
        assert!(decide_at_startup(&c));
        c.state.started_at = super::super::store::ZERO_TIME.into();
        assert!(!decide_at_startup(&c));
    }
}
