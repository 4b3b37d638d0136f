//! The exec routes and container resize: `POST /containers/{id}/exec`,
//! `POST /exec/{id}/start` (detached, or hijacked as Docker does: `101
//! Upgrade: tcp`, then the raw stream with a tty, else the multiplexed
//! one; stdin from the client until its EOF), `POST /exec/{id}/resize`,
//! `GET /exec/{id}/json`, `POST /containers/{id}/resize`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{blocking, id_of, json_body, Params, D, Q};
use crate::apimodel::detach::Escape;
use crate::daemon::exec::{Exec, ExecConfig, StartBody};
use crate::daemon::store::Container;
use crate::daemon::{logs, ApiError, ApiResult, Daemon};

const RAW: &str = "application/vnd.docker.raw-stream";
const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";

fn size(q: &std::collections::HashMap<String, String>) -> ApiResult<(u16, u16)> {
    let get = |k: &str| -> ApiResult<u16> {
        let v = q.get(k).map(String::as_str).unwrap_or("");
        v.parse()
            .map_err(|_| ApiError::bad(format!("invalid {k} value {v:?}: must be a number")))
    };
    Ok((get("h")?, get("w")?))
}

pub(super) async fn create(State(d): D, p: Params, body: Bytes) -> ApiResult<Response> {
    let config: ExecConfig = json_body(&body)?;
    let name = id_of(&p);
    let id = d.exec_create(&name, config)?;
    let body = crate::apimodel::IdResponse { id };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub(super) async fn inspect(State(d): D, p: Params) -> ApiResult<Response> {
    Ok(Json(d.exec_inspect(&id_of(&p))?).into_response())
}

pub(super) async fn resize(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let (h, w) = size(&q)?;
    d.exec_resize(&id_of(&p), h, w).await?;
    Ok(StatusCode::OK)
}

pub(super) async fn container_resize(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let (h, w) = size(&q)?;
    d.resize(&id_of(&p), h, w).await?;
    Ok(StatusCode::OK)
}

pub(super) async fn start(State(d): D, p: Params, req: Request) -> ApiResult<Response> {
    let id = id_of(&p);
    let upgrade = req.headers().contains_key(header::UPGRADE);
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|e| ApiError::bad(format!("read the request body: {e}")))?;
    let start: StartBody = json_body(&bytes)?;
    let (e, c) = d.exec_claim(&id)?;
    if start.detach {
        let d2 = d.clone();
        let (e2, c2) = (e.clone(), c.clone());
        if let Err(err) = blocking(move || d2.exec_launch(&e2, &c2, false)).await {
            e.fail_now(err.message.clone());
            return Err(err);
        }
        let s = settled(&e).await;
        if s.exit_code.is_some() && !s.error.is_empty() {
            return Err(ApiError::internal(s.error));
        }
        return Ok(StatusCode::OK.into_response());
    }
    // The stream's framing follows the start request's `Tty`, as
    // dockerd's does (docker-py may start a terminal exec without it).
    let tty = start.tty.unwrap_or(e.config.tty);
    let ct = if tty { RAW } else { MULTIPLEXED };
    if !upgrade {
        // No hijack offered: the output as a streamed body, no stdin.
        let (tx, rx) = tokio::io::duplex(64 * 1024);
        tokio::spawn(serve(d, e, c, tokio::io::empty(), tx, false, tty));
        let stream = tokio_util_stream(rx);
        return Ok(([(header::CONTENT_TYPE, ct)], Body::from_stream(stream)).into_response());
    }
    let on_upgrade = hyper::upgrade::on(Request::from_parts(parts, Body::empty()));
    tokio::spawn(async move {
        let up = match on_upgrade.await {
            Ok(up) => up,
            Err(err) => {
                tracing::warn!(exec = %e.id, error = %err, "exec start: upgrade failed");
                return;
            }
        };
        let (rd, wr) = tokio::io::split(hyper_util::rt::TokioIo::new(up));
        let stdin = e.config.attach_stdin;
        serve(d, e, c, rd, wr, stdin, tty).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .header(header::CONTENT_TYPE, ct)
        .body(Body::empty())
        .map_err(ApiError::internal)
}

/// Waits until the helper said the process runs or could not run.
async fn settled(e: &Exec) -> crate::daemon::exec::ExecState {
    let mut rx = e.subscribe();
    let _ = tokio::time::timeout(
        Duration::from_secs(60),
        rx.wait_for(|s| s.running || s.exit_code.is_some()),
    )
    .await;
    let s = rx.borrow().clone();
    s
}

/// Copies the client's input to `to` until its EOF (false) or the detach
/// keys (true; what came before them is sent).
pub(super) async fn copy_escapable<R, W>(rd: &mut R, to: &mut W, mut escape: Escape) -> bool
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let (bytes, detach) = escape.feed(&buf[..n]);
        if to.write_all(&bytes).await.is_err() {
            return false;
        }
        if detach {
            return true;
        }
    }
}

/// Runs an attached exec: starts its helper, copies the helper's (already
/// framed) output to the client and the client's input to the helper, and
/// closes the client's stream once the exit code is recorded, so a client
/// that inspects the exec after EOF finds it.
async fn serve<R, W>(
    d: Arc<Daemon>,
    e: Arc<Exec>,
    c: Container,
    mut rd: R,
    mut wr: W,
    stdin: bool,
    tty: bool,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let d2 = d.clone();
    let (e2, c2) = (e.clone(), c.clone());
    let launched = blocking(move || d2.exec_launch(&e2, &c2, true)).await;
    let data = match launched {
        Ok(Some(s)) => s
            .set_nonblocking(true)
            .ok()
            .and_then(|_| tokio::net::UnixStream::from_std(s).ok()),
        Ok(None) => None,
        Err(err) => {
            e.fail_now(err.message);
            None
        }
    };
    let s = settled(&e).await;
    let Some(data) = data.filter(|_| s.error.is_empty()) else {
        // Docker writes why it could not run into the stream.
        let msg = format!("{}\r\n", s.error);
        let bytes = if tty {
            msg.into_bytes()
        } else {
            logs::frame(logs::STDERR, msg.as_bytes())
        };
        let _ = wr.write_all(&bytes).await;
        let _ = wr.shutdown().await;
        return;
    };
    let (mut from_helper, mut to_helper) = data.into_split();
    // Docker looks for the detach keys in a terminal's input only.
    let keys = match e.config.tty {
        true => crate::apimodel::detach::parse(&e.config.detach_keys).unwrap_or_default(),
        false => vec![],
    };
    let (detached, on_detach) = tokio::sync::oneshot::channel::<()>();
    let input = tokio::spawn(async move {
        if stdin {
            if copy_escapable(&mut rd, &mut to_helper, Escape::new(keys)).await {
                let _ = detached.send(());
            } else {
                // The client's EOF is the process's.
                let _ = to_helper.shutdown().await;
            }
        }
        // Hold both until the output is done (this task is aborted then).
        let _hold = (rd, to_helper);
        std::future::pending::<()>().await
    });
    // Ok: the helper sent everything and closed; an error or the detach
    // keys: the client went away, and the process runs on without it.
    let framing = match (e.config.tty, tty) {
        (true, false) => Framing::Frame,
        (false, true) => Framing::Unframe,
        _ => Framing::AsIs,
    };
    let detach = async {
        if on_detach.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let finished = tokio::select! {
        r = pump(&mut from_helper, &mut wr, framing) => r.is_ok(),
        () = detach => false,
    };
    if finished {
        let mut rx = e.subscribe();
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            rx.wait_for(|s| s.exit_code.is_some()),
        )
        .await;
    }
    input.abort();
    let _ = wr.flush().await;
    let _ = wr.shutdown().await;
}

/// How the helper's output goes to the client: as the helper framed it
/// (by the exec's `Tty`), or re-framed for a start request whose `Tty`
/// differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    AsIs,
    /// A terminal's raw bytes as stdout frames.
    Frame,
    /// Frames' payloads as raw bytes.
    Unframe,
}

async fn pump<R, W>(from: &mut R, to: &mut W, framing: Framing) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    use tokio::io::AsyncReadExt;
    if framing == Framing::AsIs {
        return tokio::io::copy(from, to).await.map(drop);
    }
    let mut buf = vec![0u8; 32768];
    let mut pending = Vec::new();
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        let out = match framing {
            Framing::Frame => logs::frame(logs::STDOUT, &buf[..n]),
            _ => {
                pending.extend_from_slice(&buf[..n]);
                let (frames, used) = logs::deframe(&pending);
                pending.drain(..used);
                frames.into_iter().flat_map(|(_, p)| p).collect()
            }
        };
        to.write_all(&out).await?;
    }
}

/// The read side of a duplex pipe as a body stream.
fn tokio_util_stream(
    rx: tokio::io::DuplexStream,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::unfold(rx, |mut rx| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 32768];
        match rx.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), rx))
            }
        }
    })
}
