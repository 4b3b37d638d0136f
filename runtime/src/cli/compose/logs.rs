//! Containers' output with Compose's prefixes (`db-1  | …`, a colour per
//! container on a terminal): `logs`, and `up`'s attached mode, which also
//! says when a container exits and stops everything on Ctrl-C (or on the
//! first exit with `--abort-on-container-exit`).

use anyhow::Result;
use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use rrun_compose::Project;

use crate::apimodel::models::ContainerInspectResponse;
use crate::apimodel::query::{LogsQuery, StopQuery};
use crate::state::logs::{deframe, STDERR};

use super::super::client::{url, Client};
use super::args::LogsArgs;
use super::parallel;
use super::state::{self, Existing};

/// Compose v2's colours, in its order.
const COLORS: [&str; 10] = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

/// One followed container.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    /// The prefix: the name without `<project>-` (`db-1`).
    pub label: String,
    pub service: String,
    pub tty: bool,
}

impl Target {
    pub fn new(p: &Project, e: &Existing) -> Target {
        let label = e
            .name
            .strip_prefix(&format!("{}-", p.name))
            .unwrap_or(&e.name)
            .to_string();
        Target {
            id: e.id.clone(),
            label,
            service: e.service.clone(),
            tty: p.services.get(&e.service).is_some_and(|s| s.tty),
        }
    }
}

/// How the lines are written.
pub struct Printer {
    width: usize,
    color: bool,
    prefix: bool,
}

impl Printer {
    pub fn new(targets: &[Target], color: bool, prefix: bool) -> Printer {
        Printer {
            width: targets.iter().map(|t| t.label.len()).max().unwrap_or(0),
            color: color && std::io::stdout().is_terminal(),
            prefix,
        }
    }

    /// `db-1 exited with code 3`, coloured as its prefix.
    pub fn exit_line(&self, i: usize, label: &str, code: i64) -> String {
        match self.color {
            true => format!(
                "\x1b[{}m{label} exited with code {code}\x1b[0m",
                COLORS[i % COLORS.len()]
            ),
            false => format!("{label} exited with code {code}"),
        }
    }

    /// `line` of target number `i` (without its newline).
    pub fn format(&self, i: usize, label: &str, line: &str) -> String {
        if !self.prefix {
            return format!("{line}\n");
        }
        let head = format!("{label:<w$}  |", w = self.width);
        match self.color {
            true => format!("\x1b[{}m{head}\x1b[0m {line}\n", COLORS[i % COLORS.len()]),
            false => format!("{head} {line}\n"),
        }
    }
}

enum Msg {
    Line(usize, String),
    /// The container exited with this code and its restart policy
    /// started it again: its output goes on.
    Restarted(usize, i64),
    Ended(usize),
}

/// One container's output, a message per line, then `Ended`. Followed
/// (`q.follow`), a container its restart policy brings back is followed
/// again from its new start, as Compose v2 reattaches, until `stop`.
fn follow(
    c: &Client,
    i: usize,
    t: &Target,
    q: &LogsQuery,
    tx: &mpsc::Sender<Msg>,
    stop: &AtomicBool,
) {
    let mut q = q.clone();
    loop {
        stream(c, i, t, &q, tx);
        if !q.follow {
            break;
        }
        match restarted(c, &t.id, stop) {
            Some((code, exited_at)) => {
                let _ = tx.send(Msg::Restarted(i, code));
                q.since = Some(exited_at);
                q.tail = None;
            }
            None => break,
        }
    }
    let _ = tx.send(Msg::Ended(i));
}

/// How long an exited container with a restart policy is watched for the
/// daemon to mark it restarting (it does so right after recording the
/// exit, which ends the log stream).
const RESTART_GRACE: Duration = Duration::from_secs(2);

/// After container `id`'s output ended: when its restart policy starts it
/// again, its exit code and the time it exited (the new run's lines are
/// those after it: a first line may come before the new `StartedAt` is
/// recorded); `None` once it stays stopped (or is gone, or `stop` is set).
fn restarted(c: &Client, id: &str, stop: &AtomicBool) -> Option<(i64, String)> {
    use crate::apimodel::models::RestartPolicyNameEnum as Policy;
    let since_exit = std::time::Instant::now();
    let mut exited = None;
    while !stop.load(Ordering::SeqCst) {
        let v: ContainerInspectResponse = c.get(&format!("/containers/{id}/json")).ok()?;
        let s = v.state?;
        let (exit, at) = exited
            .get_or_insert_with(|| (s.exit_code.unwrap_or(0), s.finished_at.unwrap_or_default()))
            .clone();
        let newer = s.started_at.as_deref().is_some_and(|t| later(t, &at));
        let restarting = s.restarting == Some(true);
        if s.running == Some(true) && !restarting && newer {
            return Some((exit, at));
        }
        let policy = v
            .host_config
            .and_then(|h| h.restart_policy)
            .and_then(|r| r.name);
        let may = match policy {
            Some(Policy::ALWAYS | Policy::UNLESS_STOPPED) => true,
            Some(Policy::ON_FAILURE) => exit != 0,
            _ => false,
        };
        if !restarting && (!may || since_exit.elapsed() > RESTART_GRACE) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// RFC 3339 time `a` is after `b`.
fn later(a: &str, b: &str) -> bool {
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    matches!((t(a), t(b)), (Some(a), Some(b)) if a > b)
}

/// Reads one container's log stream (to its end), a message per line.
fn stream(c: &Client, i: usize, t: &Target, q: &LogsQuery, tx: &mpsc::Sender<Msg>) {
    let path = match url(&format!("/containers/{}/logs", t.id), q) {
        Ok(p) => p,
        Err(_) => return,
    };
    if let Ok(resp) = c.request("GET", &path, None) {
        let mut body = resp.body;
        let mut buf = Vec::new();
        let mut lines: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut chunk = [0u8; 16384];
        while let Ok(n) = body.read(&mut chunk) {
            if n == 0 {
                break;
            }
            let frames = if t.tty {
                vec![(1u8, chunk[..n].to_vec())]
            } else {
                buf.extend_from_slice(&chunk[..n]);
                let (frames, used) = deframe(&buf);
                buf.drain(..used);
                frames
            };
            for (stream, payload) in frames {
                let pending = &mut lines[usize::from(stream == STDERR)];
                pending.extend_from_slice(&payload);
                while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=nl).collect();
                    let text = String::from_utf8_lossy(&line[..nl])
                        .trim_end_matches('\r')
                        .to_string();
                    let _ = tx.send(Msg::Line(i, text));
                }
            }
        }
        for rest in lines.iter().filter(|l| !l.is_empty()) {
            let _ = tx.send(Msg::Line(i, String::from_utf8_lossy(rest).into_owned()));
        }
    }
}

/// The project's containers of `services` (all when empty), by name.
fn targets(c: &Client, p: &Project, services: &[String]) -> Result<Vec<Target>> {
    let mut list = state::containers(c, &p.name)?;
    list.retain(|e| services.is_empty() || services.contains(&e.service));
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list.iter().map(|e| Target::new(p, e)).collect())
}

/// `compose logs`.
pub fn logs(c: &Client, p: &Project, a: &LogsArgs) -> Result<i32> {
    let ts = targets(c, p, &a.services)?;
    let q = LogsQuery {
        stdout: true,
        stderr: true,
        follow: a.follow,
        timestamps: a.timestamps,
        tail: Some(a.tail.clone()),
        ..Default::default()
    };
    let printer = Printer::new(&ts, !a.no_color, !a.no_log_prefix);
    let (tx, rx) = mpsc::channel();
    // Without -f each container's lines come together, in name order.
    let workers = if a.follow { ts.len().max(1) } else { 1 };
    let out = std::io::stdout();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (ts, q, next) = (&ts, &q, &next);
            s.spawn(move || {
                let own = Client::new(c.socket.clone()).unwrap_or_else(|_| c.clone());
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(t) = ts.get(i) else { break };
                    follow(&own, i, t, q, &tx, &AtomicBool::new(false));
                }
            });
        }
        drop(tx);
        for m in rx {
            if let Msg::Line(i, line) = m {
                let mut o = out.lock();
                if o.write_all(printer.format(i, &ts[i].label, &line).as_bytes())
                    .is_err()
                {
                    break;
                }
            }
        }
    });
    Ok(0)
}

/// `up`'s attached mode.
pub struct Attached {
    /// `--attach`: only these services' output (all when empty).
    pub only: Vec<String>,
    /// `--no-attach`: not these services' output.
    pub not: Vec<String>,
    pub abort_on_exit: bool,
    pub exit_code_from: Option<String>,
    pub timeout: Option<i64>,
    pub color: bool,
}

static INTERRUPTED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.fetch_add(1, Ordering::SeqCst);
}

fn exit_code(c: &Client, id: &str) -> i64 {
    c.get::<ContainerInspectResponse>(&format!("/containers/{id}/json"))
        .ok()
        .and_then(|v| v.state)
        .and_then(|s| s.exit_code)
        .unwrap_or(0)
}

fn stop_all(c: &Client, ts: &[Target], timeout: Option<i64>, kill: bool) {
    parallel::each(c, ts, |c, t| {
        let path = match kill {
            true => format!("/containers/{}/kill", t.id),
            false => url(
                &format!("/containers/{}/stop", t.id),
                &StopQuery { t: timeout },
            )
            .unwrap_or_default(),
        };
        let _ = c.post(&path);
    });
}

/// The attached session's state: what ended, what the exit code is.
struct Session<'a> {
    c: &'a Client,
    ts: &'a [Target],
    printer: &'a Printer,
    a: &'a Attached,
    /// Set once everything is being stopped: no follower reattaches.
    stopping: &'a AtomicBool,
    code: Option<i64>,
}

impl Session<'_> {
    /// Ctrl-C: the first stops everything, the next kills it.
    fn interrupted(&mut self) {
        let first = !self.stopping.swap(true, Ordering::SeqCst);
        eprintln!(
            "{}",
            match first {
                true => "Gracefully stopping... (press Ctrl+C again to force)",
                false => "Killing...",
            }
        );
        self.code.get_or_insert(130);
        stop_all(self.c, self.ts, self.a.timeout, !first);
    }

    /// Container `i`'s output ended: it stopped.
    fn ended(&mut self, i: usize) {
        let t = &self.ts[i];
        let exit = exit_code(self.c, &t.id);
        println!("{}", self.printer.exit_line(i, &t.label, exit));
        let from = self.a.exit_code_from.as_deref();
        if from == Some(t.service.as_str())
            || (self.a.abort_on_exit && from.is_none() && self.code.is_none())
        {
            self.code = Some(exit);
        }
        if self.a.abort_on_exit && !self.stopping.swap(true, Ordering::SeqCst) {
            eprintln!("Aborting on container exit...");
            stop_all(self.c, self.ts, self.a.timeout, false);
        }
    }
}

/// Follows `ids`' output from `since` until they have all stopped.
pub fn attached(c: &Client, p: &Project, ids: &[String], since: i64, a: &Attached) -> Result<i32> {
    let mut list = state::containers(c, &p.name)?;
    list.retain(|e| {
        ids.contains(&e.id)
            && (a.only.is_empty() || a.only.contains(&e.service))
            && !a.not.contains(&e.service)
    });
    list.sort_by(|a, b| a.name.cmp(&b.name));
    let ts: Vec<Target> = list.iter().map(|e| Target::new(p, e)).collect();
    let printer = Printer::new(&ts, a.color, true);
    let q = LogsQuery {
        stdout: true,
        stderr: true,
        follow: true,
        since: Some(since.to_string()),
        ..Default::default()
    };
    let names: Vec<&str> = ts.iter().map(|t| t.label.as_str()).collect();
    println!("Attaching to {}", names.join(", "));
    let stopping = AtomicBool::new(false);
    let mut session = Session {
        c,
        ts: &ts,
        printer: &printer,
        a,
        stopping: &stopping,
        code: None,
    };
    INTERRUPTED.store(0, Ordering::SeqCst);
    // SAFETY: the handler only touches an atomic.
    unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        for (i, t) in ts.iter().enumerate() {
            let (tx, q, stopping) = (tx.clone(), &q, &stopping);
            s.spawn(move || {
                let own = Client::new(c.socket.clone()).unwrap_or_else(|_| c.clone());
                follow(&own, i, t, q, &tx, stopping);
            });
        }
        drop(tx);
        let (mut left, mut seen) = (ts.len(), 0);
        while left > 0 {
            let n = INTERRUPTED.load(Ordering::SeqCst);
            if n > seen {
                seen = n;
                session.interrupted();
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Msg::Line(i, line)) => print!("{}", printer.format(i, &ts[i].label, &line)),
                Ok(Msg::Restarted(i, code)) => {
                    println!("{}", printer.exit_line(i, &ts[i].label, code))
                }
                Ok(Msg::Ended(i)) => {
                    left -= 1;
                    session.ended(i);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    // SAFETY: back to the default disposition.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
    Ok(session.code.unwrap_or(0) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_padded_to_the_longest_and_coloured_on_a_terminal() {
        let plain = Printer {
            width: 9,
            color: false,
            prefix: true,
        };
        assert_eq!(plain.format(0, "db-1", "ready"), "db-1       | ready\n");
        assert_eq!(plain.exit_line(0, "db-1", 3), "db-1 exited with code 3");
        let colour = Printer {
            color: true,
            ..plain
        };
        assert_eq!(
            colour.format(1, "db-1", "x"),
            "\x1b[33mdb-1       |\x1b[0m x\n"
        );
        let bare = Printer {
            width: 0,
            color: false,
            prefix: false,
        };
        assert_eq!(bare.format(0, "db-1", "x"), "x\n");
    }
}
