//! Healthchecks, as moby's `daemon/health.go` runs them: the pure part.
//!
//! - [`Settings`]: a container's `Config.Healthcheck` (the image's
//!   `HEALTHCHECK` merged under the user's, [`merge`]) with Docker's
//!   defaults; `NONE`, an empty test or an unknown form means no check.
//! - [`Health`]: `State.Health` (status, failing streak, the last five
//!   results), saved with the container's record.
//! - [`record`]: one probe's result applied to it; [`next_wait`]: how long
//!   until the next probe. Both follow Docker: the first probe runs one
//!   interval after the start; during the start period a failure does not
//!   count unless a probe has succeeded, and probes come every start
//!   interval while the container is still `starting`.
//!
//! [`monitor`] holds the task that acts on it: one per running container
//! with a check, probing through the daemon's exec machinery.
//!
//! One difference from Docker, on purpose: a daemon restart keeps the
//! saved status and streak (dockerd's restore puts `starting` back), so a
//! healthy service stays healthy for whoever waits on it (Compose's
//! `service_healthy`). The record is saved when the status or the streak
//! changes; a log that only grew is kept in memory, as Docker keeps it.

pub mod monitor;

use std::time::Duration;

use rrun_image::Healthcheck;
use serde::{Deserialize, Serialize};

/// Docker's defaults when a duration is 0 (or absent).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_RETRIES: i64 = 3;
/// The longest output kept of one probe (more is cut, with `...`).
pub const MAX_OUTPUT: usize = 4096;
/// How many results `State.Health.Log` keeps.
pub const MAX_LOG: usize = 5;
/// Docker's floor for a non-zero duration (`MinimumDuration`).
const MIN_DURATION_NS: i64 = 1_000_000;

/// `State.Health.Status` (`none` is the absence of a [`Health`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Starting,
    Healthy,
    Unhealthy,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Healthy => "healthy",
            Status::Unhealthy => "unhealthy",
        }
    }
}

/// `State.Health`, as inspect shows it and the record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: Status,
    pub failing_streak: i64,
    #[serde(default)]
    pub log: Vec<Check>,
}

/// One probe's result (`State.Health.Log[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Check {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// What a probe runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// `CMD`: the arguments, executed directly.
    Exec(Vec<String>),
    /// `CMD-SHELL`: a command line for the container's shell.
    Shell(Vec<String>),
}

/// A container's check with Docker's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub test: Test,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: i64,
}

fn duration_or(ns: Option<i64>, default: Duration) -> Duration {
    match ns {
        Some(n) if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

impl Settings {
    /// The check a config asks for; None for none (`NONE`, an empty test,
    /// an unknown form, which Docker ignores with a warning).
    pub fn of(hc: Option<&Healthcheck>) -> Option<Settings> {
        let hc = hc?;
        let test = match hc.test.as_deref()? {
            [kind, args @ ..] if kind == "CMD" && !args.is_empty() => Test::Exec(args.to_vec()),
            [kind, args @ ..] if kind == "CMD-SHELL" && !args.is_empty() => {
                Test::Shell(args.to_vec())
            }
            _ => return None,
        };
        Some(Settings {
            test,
            interval: duration_or(hc.interval, DEFAULT_INTERVAL),
            timeout: duration_or(hc.timeout, DEFAULT_TIMEOUT),
            start_period: duration_or(hc.start_period, Duration::ZERO),
            start_interval: duration_or(hc.start_interval, DEFAULT_START_INTERVAL),
            retries: match hc.retries {
                Some(n) if n > 0 => n,
                _ => DEFAULT_RETRIES,
            },
        })
    }

    /// The probe's command line; `shell` is the image's `SHELL` (empty:
    /// `/bin/sh -c`).
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        match &self.test {
            Test::Exec(v) => v.clone(),
            Test::Shell(s) => {
                let mut v: Vec<String> = if shell.is_empty() {
                    vec!["/bin/sh".into(), "-c".into()]
                } else {
                    shell.to_vec()
                };
                v.extend(s.iter().cloned());
                v
            }
        }
    }
}

/// The health a container starts (or restarts) with: `starting`, no
/// failures, the earlier results kept; unchanged without a check.
pub fn at_start(hc: Option<&Healthcheck>, previous: Option<Health>) -> Option<Health> {
    if Settings::of(hc).is_none() {
        return previous;
    }
    Some(Health {
        status: Status::Starting,
        failing_streak: 0,
        log: previous.map(|h| h.log).unwrap_or_default(),
    })
}

/// The container stopped: as Docker, a stopped check reads `unhealthy`.
pub fn at_stop(h: &mut Option<Health>) {
    if let Some(h) = h {
        h.status = Status::Unhealthy;
    }
}

/// Applies one probe's result; `since_start` is how long after the
/// container's start the probe began. True when the status changed.
pub fn record(h: &mut Health, s: &Settings, since_start: Duration, check: Check) -> bool {
    let before = h.status;
    let ok = check.exit_code == 0;
    if h.log.len() >= MAX_LOG {
        h.log.drain(..h.log.len() + 1 - MAX_LOG);
    }
    h.log.push(check);
    if ok {
        h.failing_streak = 0;
        h.status = Status::Healthy;
    } else if h.status != Status::Starting || since_start >= s.start_period {
        // A failure in the start period counts only once a probe passed.
        h.failing_streak += 1;
        if h.failing_streak >= s.retries {
            h.status = Status::Unhealthy;
        }
    }
    h.status != before
}

/// How long to wait before the next probe, `elapsed` after the start.
pub fn next_wait(s: &Settings, elapsed: Duration, status: Status) -> Duration {
    if elapsed < s.start_period && status == Status::Starting {
        s.start_interval
    } else {
        s.interval
    }
}

/// The `Status` column's addition: `healthy`, `unhealthy`, `health: starting`.
pub fn column(h: &Health) -> String {
    match h.status {
        Status::Starting => "health: starting".into(),
        other => other.as_str().into(),
    }
}

/// The value the `health` filter compares: `none` without a check.
pub fn filter_value(h: Option<&Health>) -> &'static str {
    h.map_or("none", |h| h.status.as_str())
}

/// A probe's output: at most [`MAX_OUTPUT`] bytes, `...` when cut.
#[derive(Debug, Default)]
pub struct Output {
    buf: Vec<u8>,
    truncated: bool,
}

impl Output {
    pub fn push(&mut self, data: &[u8]) {
        let keep = MAX_OUTPUT.saturating_sub(self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..keep]);
        self.truncated |= keep < data.len();
    }

    pub fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.buf).into_owned();
        if self.truncated {
            s.push_str("...");
        }
        s
    }
}

/// Docker's result for a probe that ran past its timeout.
pub fn timed_out(timeout: Duration, output: &str) -> String {
    let t = go_duration(timeout);
    if output.is_empty() {
        format!("Health check exceeded timeout ({t})")
    } else {
        format!("Health check exceeded timeout ({t}): {output}")
    }
}

/// Go's `time.Duration.String()`: `500ms`, `1.5s`, `1m0s`, `1h2m3s`.
pub fn go_duration(d: Duration) -> String {
    fn frac(n: u128, unit: u128) -> String {
        let (int, rem) = (n / unit, n % unit);
        if rem == 0 {
            return int.to_string();
        }
        let width = unit.to_string().len() - 1;
        let digits = format!("{rem:0width$}");
        format!("{int}.{}", digits.trim_end_matches('0'))
    }
    let n = d.as_nanos();
    match n {
        0 => "0s".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", frac(n, 1_000)),
        n if n < 1_000_000_000 => format!("{}ms", frac(n, 1_000_000)),
        n => {
            let (h, m) = (n / 3_600_000_000_000, (n / 60_000_000_000) % 60);
            let s = format!("{}s", frac(n % 60_000_000_000, 1_000_000_000));
            match (h, m) {
                (0, 0) => s,
                (0, m) => format!("{m}m{s}"),
                (h, m) => format!("{h}h{m}m{s}"),
            }
        }
    }
}

/// The container's check: the user's, with what it leaves unset (an empty
/// test, zero durations and retries) taken from the image's, as Docker
/// merges them at create.
pub fn merge(user: Option<Healthcheck>, image: Option<&Healthcheck>) -> Option<Healthcheck> {
    let Some(image) = image else { return user };
    let Some(mut u) = user else {
        return Some(image.clone());
    };
    fn unset<T: Default + PartialEq>(v: &Option<T>) -> bool {
        v.as_ref().is_none_or(|v| *v == T::default())
    }
    if unset(&u.test) {
        u.test = image.test.clone();
    }
    for (mine, theirs) in [
        (&mut u.interval, image.interval),
        (&mut u.timeout, image.timeout),
        (&mut u.start_period, image.start_period),
        (&mut u.start_interval, image.start_interval),
        (&mut u.retries, image.retries),
    ] {
        if unset(mine) {
            *mine = theirs;
        }
    }
    Some(u)
}

/// Docker's checks of a create's `Healthcheck`, with its messages.
pub fn validate(hc: &Healthcheck) -> Result<(), String> {
    for (name, v) in [
        ("Interval", hc.interval),
        ("Timeout", hc.timeout),
        ("StartPeriod", hc.start_period),
        ("StartInterval", hc.start_interval),
    ] {
        let v = v.unwrap_or(0);
        if v != 0 && v < MIN_DURATION_NS {
            return Err(format!("{name} in Healthcheck cannot be less than 1ms"));
        }
    }
    if hc.retries.unwrap_or(0) < 0 {
        return Err("Retries in Healthcheck cannot be negative".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
