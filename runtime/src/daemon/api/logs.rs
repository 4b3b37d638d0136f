//! A container's output: `GET /containers/{id}/logs` (with `since`,
//! `until`, `tail`, `follow`) and `POST /containers/{id}/attach`, both
//! read from the json-file log the shim writes, woken by each write
//! ([`crate::daemon::logwatch`]).

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::*;
use crate::apimodel::detach::Escape;
use crate::daemon::logs::{self, LogLine};
use crate::daemon::{ApiError, ApiResult, ContainerError, REMOVED};
use crate::shim;

pub(super) async fn logs_handler(State(d): D, p: Params, q: Q) -> ApiResult<Response> {
    let c = d.container(&id_of(&p))?;
    let rx = d.subscribe(&c.id)?;
    let dir = crate::daemon::store::containers_dir(&d.opts.data_root).join(&c.id);
    let (stdout, stderr) = (flag(&q, "stdout"), flag(&q, "stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad("You must choose at least one stream"));
    }
    use crate::daemon::containers::logopts;
    if !logopts::readable(c.host_config.log_config.as_ref()) {
        return Err(ContainerError::LogsUnreadable.into());
    }
    let follow = Follow {
        cursor: Cursor::new(shim::log_path(&dir, &c.id)),
        stdout,
        stderr,
        timestamps: flag(&q, "timestamps"),
        tail: q.get("tail").and_then(|t| t.parse().ok()),
        raw: c.config.tty,
        window: Window::of(&q)?,
    };
    let keep_going = flag(&q, "follow");
    let until = follow.window.until;
    let (tx, chunks) = tokio::sync::mpsc::channel::<Bytes>(64);
    // With `until`, a follow ends once that time has passed.
    let past_until = move || until.is_some_and(|u| now_ns() > u);
    tokio::spawn(follow.run(rx, tx, move |s| !keep_going || !s.running || past_until()));
    let ct = if c.config.tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok((
        [(header::CONTENT_TYPE, ct)],
        Body::from_stream(channel_stream(chunks)),
    )
        .into_response())
}

/// `since`/`until` of `GET /containers/{id}/logs`, in nanoseconds: a
/// line is sent when `since <= time <= until`.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    since: Option<i64>,
    until: Option<i64>,
}

impl Window {
    fn of(q: &HashMap<String, String>) -> ApiResult<Window> {
        let time = |k: &str| -> ApiResult<Option<i64>> {
            match q
                .get(k)
                .map(|s| s.trim())
                .filter(|s| !s.is_empty() && *s != "0")
            {
                None => Ok(None),
                Some(s) => crate::daemon::events::parse_time(s)
                    .map(Some)
                    .ok_or_else(|| ApiError::bad(format!("invalid value for \"{k}\": {s}"))),
            }
        };
        Ok(Window {
            since: time("since")?,
            until: time("until")?,
        })
    }

    fn holds(&self, l: &LogLine) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(t) = chrono::DateTime::parse_from_rfc3339(&l.time)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
        else {
            return true;
        };
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Reading a container's json-file log as frames, from `offset`.
struct Follow {
    cursor: Cursor,
    stdout: bool,
    stderr: bool,
    timestamps: bool,
    tail: Option<usize>,
    /// A container with a terminal: payloads without frame headers.
    raw: bool,
    window: Window,
}

/// Where a follower is in a container's log. Its reads are blocking file
/// operations, made together on one of tokio's blocking threads (each of
/// tokio::fs's is a trip there and back: four for one look at the log).
struct Cursor {
    path: std::path::PathBuf,
    offset: u64,
    /// The log's inode at the last read (another one: it was rotated).
    ino: Option<u64>,
    /// Nothing read yet: the rotated files come first.
    first: bool,
    /// The log file, held open from the start (attach): what the container
    /// wrote can still be read when a `--rm` removal deletes the file
    /// before this follower's last read.
    held: Option<(std::fs::File, u64)>,
}

impl Cursor {
    fn new(path: std::path::PathBuf) -> Cursor {
        Cursor {
            path,
            offset: 0,
            ino: None,
            first: true,
            held: None,
        }
    }

    /// An attach's cursor: at the log's end (at its start with
    /// `from_start`), on a file held open before the container may start.
    /// Blocking.
    fn attach(path: std::path::PathBuf, from_start: bool) -> Cursor {
        use std::os::unix::fs::MetadataExt;
        let offset = match from_start {
            true => 0,
            false => std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
        };
        // Made here if the container has not started yet: the shim appends
        // to this same file.
        let held = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .ok()
            .and_then(|f| f.metadata().ok().map(|m| (f, m.ino())));
        Cursor {
            offset,
            held,
            ..Cursor::new(path)
        }
    }

    /// The complete lines written since the last read. Blocking.
    fn read(&mut self) -> Vec<LogLine> {
        use std::os::unix::fs::MetadataExt;
        let mut lines = Vec::new();
        // From the start: the rotated files first, oldest first.
        if self.first && self.offset == 0 {
            for p in shim::logfile::rotated_files(&self.path) {
                lines.extend(read_lines(&p, 0).0);
            }
        }
        self.first = false;
        // Rotated since the last read: the rest of the old file (now `.1`,
        // or cut back to empty), then the new one from its start.
        let meta = std::fs::metadata(&self.path).ok();
        let now_ino = meta.as_ref().map(|m| m.ino());
        // (Gone is not rotated: a removed container's log; what is left is
        // read from the file held open, if any.)
        if self.ino.is_some() && now_ino.is_some() && now_ino != self.ino {
            let old = std::path::PathBuf::from(format!("{}.1", self.path.display()));
            lines.extend(read_lines(&old, self.offset).0);
            self.offset = 0;
            // The file held open is the old one now.
            self.held = None;
        } else if meta.is_some_and(|m| m.len() < self.offset) {
            self.offset = 0;
        }
        self.ino = now_ino;
        let (more, next) = match &self.held {
            // Still the log, or the log is gone with its container.
            Some((f, held_ino)) if now_ino.is_none() || now_ino == Some(*held_ino) => {
                read_lines_from(f, self.offset)
            }
            _ => read_lines(&self.path, self.offset),
        };
        lines.extend(more);
        self.offset = next;
        lines
    }

    /// [`Cursor::read`] on a blocking thread; None if it panicked.
    async fn read_async(mut self) -> Option<(Cursor, Vec<LogLine>)> {
        tokio::task::spawn_blocking(move || {
            let lines = self.read();
            (self, lines)
        })
        .await
        .ok()
    }
}

impl Follow {
    /// Sends frames until `done(state)` holds after a full read, or the
    /// receiver goes away.
    async fn run(
        mut self,
        mut rx: tokio::sync::watch::Receiver<crate::daemon::store::State>,
        tx: tokio::sync::mpsc::Sender<Bytes>,
        done: impl Fn(&crate::daemon::store::State) -> bool,
    ) {
        let mut first = true;
        let mut watch = crate::daemon::logwatch::LogWatch::new(&self.cursor.path);
        loop {
            // Read after looking at the state: the shim writes every line
            // before the daemon marks the container exited.
            let finished = done(&rx.borrow_and_update());
            let Some((cursor, mut lines)) = self.cursor.read_async().await else {
                return;
            };
            self.cursor = cursor;
            lines.retain(|l| self.window.holds(l));
            let tail = if first { self.tail } else { None };
            first = false;
            for l in logs::select(&lines, self.stdout, self.stderr, tail) {
                let (s, payload) = logs::render(l, self.timestamps);
                let bytes = if self.raw {
                    payload
                } else {
                    logs::frame(s, &payload)
                };
                if tx.send(Bytes::from(bytes)).await.is_err() {
                    return;
                }
            }
            // A client gone while nothing was written: noticed here, not
            // only at the next send (a silent container may write nothing
            // for hours, and this holds its log file open).
            if finished || tx.is_closed() {
                return;
            }
            // Woken by a state change or a write to the log; without a
            // watch, look at the file again soon (sooner for a terminal:
            // someone is typing at it).
            let pause = Duration::from_millis(match (watch.active(), self.raw) {
                (true, _) => 1000,
                (false, true) => 20,
                (false, false) => 100,
            });
            tokio::select! {
                _ = tokio::time::timeout(pause, rx.changed()) => {}
                () = watch.changed(pause) => {}
            }
        }
    }
}

/// `POST /containers/{id}/attach`: the container's output from now on (or
/// from the start with `logs=1`), over an upgraded connection as Docker's
/// CLI asks, else as a plain streamed body; with `stdin=1` the client's
/// input to the container (a terminal's through the detach keys).
pub(super) async fn attach(State(d): D, p: Params, q: Q, req: Request) -> ApiResult<Response> {
    let c = d.container(&id_of(&p))?;
    let keys = crate::apimodel::detach::parse(q.get("detachKeys").map_or("", String::as_str))
        .map_err(ApiError::bad)?;
    let rx = d.subscribe(&c.id)?;
    let dir = crate::daemon::store::containers_dir(&d.opts.data_root).join(&c.id);
    let follow = attach_follow(&c, &dir, flag(&q, "logs"), &q).await;
    let initial = c.state.clone();
    let stream = flag_stream(&q);
    // Ends with the run that follows (or is going on): an exit newer than
    // the one seen now, a removal, or a start that failed.
    let done = move |s: &crate::daemon::store::State| {
        s.status == REMOVED
            || (!s.running && s.status == "exited" && s.finished_at != initial.finished_at)
            || (s.status == "created" && !s.error.is_empty() && s.error != initial.error)
            || (!stream && !s.running)
    };
    let (tx, chunks) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(follow.run(rx, tx, done));
    let ct = if c.config.tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    if !req.headers().contains_key(header::UPGRADE) {
        return Ok((
            [(header::CONTENT_TYPE, ct)],
            Body::from_stream(channel_stream(chunks)),
        )
            .into_response());
    }
    let stdin = flag(&q, "stdin").then(|| (d.subscribe(&c.id), dir.join(shim::ATTACH_SOCKET)));
    // Docker looks for the detach keys in a terminal's input only.
    let escape = Escape::new(if c.config.tty { keys } else { vec![] });
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(up) = upgrade.await else { return };
        let (rd, wr) = tokio::io::split(hyper_util::rt::TokioIo::new(up));
        let (detached, on_detach) = tokio::sync::oneshot::channel();
        if let Some((Ok(started), sock)) = stdin {
            tokio::spawn(async move {
                if attach_stdin(rd, started, sock, escape).await {
                    let _ = detached.send(());
                }
            });
        }
        attach_output(chunks, wr, on_detach).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .header(header::CONTENT_TYPE, ct)
        .body(Body::empty())
        .map_err(ApiError::internal)
}

/// What an attach reads: the log from now on (from its start with
/// `logs`), from a file held open before the container may start.
async fn attach_follow(
    c: &crate::daemon::store::Container,
    dir: &std::path::Path,
    from_start: bool,
    q: &HashMap<String, String>,
) -> Follow {
    let path = shim::log_path(dir, &c.id);
    let cursor = match tokio::task::spawn_blocking(move || Cursor::attach(path, from_start)).await {
        Ok(cursor) => cursor,
        // (Its thread panicked: the log is followed by its path.)
        Err(_) => Cursor::new(shim::log_path(dir, &c.id)),
    };
    Follow {
        cursor,
        stdout: flag(q, "stdout"),
        stderr: flag(q, "stderr"),
        timestamps: false,
        tail: None,
        raw: c.config.tty,
        window: Window::default(),
    }
}

/// The client's input to the shim's attach socket (there only with
/// OpenStdin), once the container runs: clients attach before they start
/// it. True when the client typed the detach keys: then the container's
/// stdin is left as it is (the shim closes it at a client's EOF only with
/// StdinOnce, and never a terminal).
async fn attach_stdin<R: tokio::io::AsyncRead + Unpin>(
    mut rd: R,
    mut started: tokio::sync::watch::Receiver<crate::daemon::store::State>,
    sock_path: std::path::PathBuf,
    escape: Escape,
) -> bool {
    use tokio::io::AsyncWriteExt;
    if started.wait_for(|s| s.running).await.is_err() {
        return false;
    }
    let sock = match shim::short_path(&sock_path) {
        // `_d` keeps the directory fd open while connecting.
        Ok((_d, p)) => tokio::net::UnixStream::connect(p).await.ok(),
        Err(_) => None,
    };
    let Some(mut sock) = sock else { return false };
    if super::exec::copy_escapable(&mut rd, &mut sock, escape).await {
        return true;
    }
    let _ = sock.shutdown().await;
    false
}

/// The container's output to the client, then the end of the stream; a
/// detach ends it at once.
async fn attach_output<W: tokio::io::AsyncWrite + Unpin>(
    mut chunks: tokio::sync::mpsc::Receiver<Bytes>,
    mut wr: W,
    mut on_detach: tokio::sync::oneshot::Receiver<()>,
) {
    use tokio::io::AsyncWriteExt;
    // Until the stdin side finishes without a detach (or never had one).
    let mut watching = true;
    loop {
        let b = tokio::select! {
            b = chunks.recv() => b,
            r = &mut on_detach, if watching => match r {
                Ok(()) => None,
                Err(_) => {
                    watching = false;
                    continue;
                }
            },
        };
        let Some(b) = b else { break };
        if wr.write_all(&b).await.is_err() {
            return;
        }
    }
    let _ = wr.flush().await;
    let _ = wr.shutdown().await;
}

pub(super) fn flag_stream(q: &HashMap<String, String>) -> bool {
    flag(q, "stream")
}

/// The complete lines of the log from `offset`, and the offset after them.
/// Blocking.
fn read_lines(path: &std::path::Path, offset: u64) -> (Vec<LogLine>, u64) {
    match std::fs::File::open(path) {
        Ok(f) => read_lines_from(&f, offset),
        Err(_) => (vec![], offset),
    }
}

/// [`read_lines`] from an open file (read at `offset`, whatever its
/// position). Blocking.
fn read_lines_from(f: &std::fs::File, offset: u64) -> (Vec<LogLine>, u64) {
    use std::os::unix::fs::FileExt;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match f.read_at(&mut chunk, offset + buf.len() as u64) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return (vec![], offset),
        }
    }
    let end = buf
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|p| p + 1)
        .unwrap_or(0);
    let lines = buf[..end]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    (lines, offset + end as u64)
}
