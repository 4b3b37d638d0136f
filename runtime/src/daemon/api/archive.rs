//! `HEAD`, `GET` and `PUT /containers/{id}/archive`: `docker cp` both ways.
//! The tar streams through a channel between the request and the blocking
//! task that reads or writes the container's files.

use std::io::{Read, Write};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::*;
use crate::daemon::containers::archive::{PathStat, PutOptions, STAT_HEADER};

fn path_of(q: &HashMap<String, String>) -> ApiResult<String> {
    match q.get("path") {
        Some(p) if !p.is_empty() => Ok(p.clone()),
        _ => Err(ApiError::bad("path is required")),
    }
}

fn with_stat(mut r: Response, stat: &PathStat) -> Response {
    if let Ok(v) = HeaderValue::from_str(&stat.header_value()) {
        r.headers_mut().insert(STAT_HEADER, v);
    }
    r
}

/// `HEAD /containers/{id}/archive?path=`: the stat header alone.
pub(super) async fn head(State(d): D, p: Params, q: Q) -> ApiResult<Response> {
    let (id, path) = (id_of(&p), path_of(&q)?);
    let stat = blocking(move || d.archive_view(&id)?.stat(&path)).await?;
    Ok(with_stat(StatusCode::OK.into_response(), &stat))
}

/// `GET /containers/{id}/archive?path=`: a tar of the path, streamed.
pub(super) async fn get(State(d): D, p: Params, q: Q) -> ApiResult<Response> {
    let (id, path) = (id_of(&p), path_of(&q)?);
    let (view, stat) = blocking(move || {
        let view = d.archive_view(&id)?;
        let stat = view.stat(&path)?;
        Ok::<_, ApiError>((view, stat))
    })
    .await?;
    let path = path_of(&q)?;
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let w = std::io::BufWriter::with_capacity(64 << 10, ChannelWriter(tx));
        if let Err(e) = view.write_tar(&path, w) {
            // The status is sent; the client sees a short tar.
            tracing::warn!(path = %path, error = %e, "archive of a container path");
        }
    });
    let r = (
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(channel_stream(rx)),
    )
        .into_response();
    Ok(with_stat(r, &stat))
}

/// `GET /containers/{id}/export`: the container's filesystem as a tar,
/// streamed.
pub(super) async fn export(State(d): D, p: Params) -> ApiResult<Response> {
    let id = id_of(&p);
    let view = blocking(move || d.export_view(&id)).await?;
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let w = std::io::BufWriter::with_capacity(64 << 10, ChannelWriter(tx));
        if let Err(e) = view.write_export(w) {
            // The status is sent; the client sees a short tar.
            tracing::warn!(error = %e, "export of a container");
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(channel_stream(rx)),
    )
        .into_response())
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`.
pub(super) async fn put(State(d): D, p: Params, q: Q, body: Body) -> ApiResult<StatusCode> {
    let (id, path) = (id_of(&p), path_of(&q)?);
    let opts = PutOptions {
        no_overwrite_dir_non_dir: flag(&q, "noOverwriteDirNonDir"),
        copy_uid_gid: flag(&q, "copyUIDGID"),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let feed = tokio::spawn(async move {
        let mut data = body.into_data_stream();
        let mut discarded = 0usize;
        while let Some(Ok(chunk)) = data.next().await {
            // Once extraction is over (done, or refused early) the rest is
            // read and dropped, up to a bound, so the client's connection
            // stays usable for its next request, as Go's server does (the
            // docker CLI reuses it, and a PUT is not retried).
            if tx.is_closed() || tx.send(chunk.clone()).await.is_err() {
                discarded += chunk.len();
                if discarded > DRAIN_LIMIT {
                    break;
                }
            }
        }
    });
    let reader = ChannelReader {
        rx,
        buf: Bytes::new(),
    };
    let r = blocking(move || d.archive_view(&id)?.extract(&path, reader, opts)).await;
    let _ = feed.await;
    r.map(|_| StatusCode::OK)
}

/// How much of a body nobody reads any more is drained before the
/// connection is given up (Go's net/http drains 256 KiB).
const DRAIN_LIMIT: usize = 256 << 10;

/// A `Write` into the response body's channel.
struct ChannelWriter(mpsc::Sender<Bytes>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A `Read` over the request body's chunks.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    buf: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.buf = b,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}
