//! The image routes: pull (`/images/create`), load, list, inspect, tag,
//! remove, history, save (`/images/get`), import, prune, push, and
//! `/auth` (`docker login`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::apimodel::models::AuthResponse;
use crate::apimodel::progress::{ProgressDetail, ProgressMessage};
use crate::apimodel::IdResponse;

use super::*;
use crate::daemon::{ApiError, ApiResult, Daemon, ImageError};

/// `POST /images/create?fromImage=…&tag=…`: a pull, with Docker's JSON
/// progress lines streamed as it goes; a failure is the last line's `error`.
pub(super) async fn pull(State(d): D, q: Q) -> ApiResult<Response> {
    let from = q.get("fromImage").cloned().unwrap_or_default();
    if from.is_empty() {
        return Err(ApiError::bad(
            "fromImage is required (import is not supported yet)",
        ));
    }
    let name = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) if t.starts_with("sha256:") => format!("{from}@{t}"),
        Some(t) => format!("{from}:{t}"),
        None => from.clone(),
    };
    let reference =
        rrun_image::Reference::parse(&name).map_err(|e| ApiError::bad(e.to_string()))?;
    let platform = platform_of(&q)?;
    let (tx, chunks) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let line = |m: ProgressMessage| Bytes::from(m.line("\r\n"));
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let progress_tx = tx.clone();
    let progress: rrun_image::pull::ProgressFn = Arc::new(move |p| {
        use rrun_image::pull::Progress;
        let short = |d: &rrun_image::Digest| d.hex()[..12].to_string();
        let m = match p {
            Progress::Resolved { .. } => return,
            Progress::LayerExists { digest } => {
                ProgressMessage::layer("Already exists", short(digest))
            }
            Progress::LayerStarted { digest, .. } => {
                ProgressMessage::layer("Pulling fs layer", short(digest))
            }
            Progress::LayerProgress {
                digest,
                received,
                size,
            } => ProgressMessage {
                progress_detail: Some(ProgressDetail {
                    current: Some(*received),
                    total: Some(*size),
                }),
                ..ProgressMessage::layer("Downloading", short(digest))
            },
            Progress::LayerDone { digest } => {
                ProgressMessage::layer("Pull complete", short(digest))
            }
        };
        let _ = progress_tx.send(Bytes::from(m.line("\r\n")));
    });
    let first = ProgressMessage {
        id: reference.tag().map(str::to_string),
        ..ProgressMessage::status(format!("Pulling from {}", reference.path()))
    };
    let _ = tx.send(line(first));
    let c = cancel.clone();
    tokio::task::spawn_blocking(move || {
        let opts = rrun_image::pull::PullOptions {
            progress: Some(progress),
            cancel: Some(c),
            platform,
            ..Default::default()
        };
        let msg = match rrun_image::pull::pull(&d.images, &d.registry, &reference, &opts) {
            Ok(img) => {
                let name = reference.familiar();
                d.events.emit("image", "pull", &name, &[("name", &name)]);
                vec![
                    ProgressMessage::status(format!("Digest: {}", img.manifest)),
                    ProgressMessage::status(format!("Status: Downloaded newer image for {name}")),
                ]
            }
            Err(e) => vec![ProgressMessage::error(e.to_string())],
        };
        for m in msg {
            let _ = tx.send(line(m));
        }
    });
    Ok(progress_response(chunks, cancel))
}

/// The `platform` query parameter (`--platform os/arch[/variant]`), if any.
pub(super) fn platform_of(
    q: &std::collections::HashMap<String, String>,
) -> ApiResult<Option<rrun_image::manifest::Platform>> {
    q.get("platform")
        .filter(|p| !p.is_empty())
        .map(|p| rrun_image::manifest::Platform::parse(p).map_err(|e| ApiError::bad(e.to_string())))
        .transpose()
}

/// Sets its flag when dropped: a client that goes away cancels the pull
/// or push whose stream it was reading.
struct CancelOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A JSON progress stream (pull, push) of what arrives on `chunks`.
fn progress_response(
    chunks: tokio::sync::mpsc::UnboundedReceiver<Bytes>,
    cancel: Arc<std::sync::atomic::AtomicBool>,
) -> Response {
    let guard = CancelOnDrop(cancel);
    let body = futures::stream::unfold((chunks, guard), |(mut rx, g)| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), (rx, g)))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

/// `POST /images/{name}/push?tag=`, with the client's credentials in
/// `X-Registry-Auth`: Docker's progress messages as they come.
fn push(
    d: Arc<Daemon>,
    name: String,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let auth = headers.get("X-Registry-Auth").and_then(|v| v.to_str().ok());
    let cred = crate::daemon::push::registry_auth_header(auth)?;
    let tag = q.get("tag").cloned().unwrap_or_default();
    let (tx, chunks) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let send: Arc<dyn Fn(ProgressMessage) + Send + Sync> = Arc::new(move |m| {
        let _ = tx.send(Bytes::from(m.line("\r\n")));
    });
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let c = cancel.clone();
    tokio::task::spawn_blocking(move || d.push_stream(&name, &tag, cred, c, send));
    Ok(progress_response(chunks, cancel))
}

/// `GET /images/search`: rrun queries no index (Docker Hub's v1 search is
/// the only one `docker search` knows), so the answer is one clear line.
pub(super) async fn search(q: Q) -> ApiResult<Response> {
    let term = q.get("term").map_or("", String::as_str);
    Err(ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        format!(
            "cannot search for {term:?}: rrun does not query Docker Hub's search index; pull the image by its name instead"
        ),
    ))
}

/// `POST /auth`: `docker login`'s check of the credentials.
pub(super) async fn auth(State(d): D, body: Bytes) -> ApiResult<Response> {
    let a: crate::daemon::push::AuthConfig = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("invalid auth configuration: {e}")))?;
    blocking(move || d.login(&a)).await?;
    let reply = AuthResponse {
        status: "Login Succeeded".into(),
        identity_token: Some(String::new()),
    };
    Ok(Json(reply).into_response())
}

pub(super) async fn load(State(d): D, body: Bytes) -> ApiResult<Response> {
    let msgs = blocking(move || {
        let loaded = match rrun_image::archive::load(&d.images, std::io::Cursor::new(body)) {
            Ok(l) => l,
            // dockerd streams a bad archive's error in a 200, as the
            // clients (the docker CLI, docker-py) read it.
            Err(e) => return Ok::<_, ApiError>(Err(e.to_string())),
        };
        let mut msgs = Vec::new();
        for (manifest, refs) in loaded.images {
            if refs.is_empty() {
                let img = rrun_image::images::load_image(&d.images, &manifest)
                    .map_err(ApiError::internal)?;
                msgs.push(format!("Loaded image ID: {}\n", img.id));
            }
            for r in refs {
                let name = r.familiar();
                d.events.emit("image", "load", &name, &[("name", &name)]);
                msgs.push(format!("Loaded image: {name}\n"));
            }
        }
        Ok(Ok(msgs))
    })
    .await?;
    let body: String = match msgs {
        Ok(msgs) => msgs
            .into_iter()
            .map(|m| ProgressMessage::stream(m).line("\n"))
            .collect(),
        Err(e) => ProgressMessage::error(e).line("\n"),
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The values of `key` in a raw query string (`names=a&names=b`), decoded.
pub(super) fn query_values(raw: &str, key: &str) -> Vec<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect()
}

/// `/images/{*rest}`: names may hold slashes (`localhost:5000/x/json`),
/// so the action is the last segment.
pub(super) async fn image_any(
    State(d): D,
    method: Method,
    Path(p): Path<HashMap<String, String>>,
    q: Q,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let rest = p
        .get("rest")
        .map(|r| r.trim_start_matches('/').to_string())
        .unwrap_or_default();
    let split = rest.rsplit_once('/');
    match (method, split) {
        (Method::GET, Some((name, "json"))) => {
            let name = name.to_string();
            Ok(Json(blocking(move || d.image_inspect(&name)).await?).into_response())
        }
        (Method::GET, Some((name, "get"))) => save(d, vec![name.to_string()]).await,
        (Method::GET, Some((name, "history"))) => {
            let name = name.to_string();
            Ok(Json(blocking(move || d.image_history(&name)).await?).into_response())
        }
        (Method::POST, Some((name, "tag"))) => {
            let source = name.to_string();
            let repo = q.get("repo").cloned().unwrap_or_default();
            let t = q
                .get("tag")
                .filter(|t| !t.is_empty())
                .cloned()
                .unwrap_or_else(|| "latest".into());
            blocking(move || d.image_tag(&source, &repo, &t)).await?;
            Ok(StatusCode::CREATED.into_response())
        }
        (Method::POST, Some((name, "push"))) => push(d, name.to_string(), &q, &headers),
        (Method::DELETE, _) => {
            let force = flag(&q, "force");
            Ok(Json(blocking(move || d.image_remove(&rest, force)).await?).into_response())
        }
        _ => Err(ApiError::not_found(format!(
            "page not found: /images/{rest}"
        ))),
    }
}

impl Daemon {
    /// `POST /images/{name}/tag`.
    pub fn image_tag(&self, source: &str, repo: &str, tag: &str) -> Result<(), ImageError> {
        let img = crate::daemon::find_image(&self.images, source)?;
        let target = rrun_image::Reference::parse(&format!("{repo}:{tag}"))
            .map_err(|e| ImageError::InvalidOption(e.to_string()))?;
        self.images
            .set_ref(&target, &img.manifest_digest)
            .map_err(ImageError::internal)?;
        self.events.emit(
            "image",
            "tag",
            &img.id.to_string(),
            &[("name", &target.familiar())],
        );
        Ok(())
    }
}

/// `GET /images/get?names=…`.
pub(super) async fn images_get(State(d): D, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let names = query_values(raw.as_deref().unwrap_or(""), "names");
    if names.is_empty() {
        return Err(ApiError::bad("no images named"));
    }
    save(d, names).await
}

/// A writer that hands what it gets to a body stream.
struct ChanWriter(tokio::sync::mpsc::Sender<Bytes>);

impl std::io::Write for ChanWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client gone"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The docker-archive of `names`, streamed as it is written. The names are
/// checked first, so a missing image is a 404 rather than a cut stream.
pub(super) async fn save(d: Arc<Daemon>, names: Vec<String>) -> ApiResult<Response> {
    let d2 = d.clone();
    let n2 = names.clone();
    blocking(move || {
        for n in &n2 {
            crate::daemon::find_image(&d2.images, n)?;
        }
        Ok::<_, ImageError>(())
    })
    .await?;
    let (tx, chunks) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let w = std::io::BufWriter::with_capacity(1 << 16, ChanWriter(tx));
        match rrun_image::archive::save(&d.images, &refs, w) {
            Ok(()) => {
                for n in &names {
                    d.events.emit("image", "save", n, &[("name", n)]);
                }
            }
            Err(e) => tracing::warn!(error = %e, "save"),
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(channel_stream(chunks)),
    )
        .into_response())
}

/// `POST /images/create`: an import with `fromSrc`, else a pull.
pub(super) async fn images_create(
    State(d): D,
    q: Q,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    if !q.contains_key("fromSrc") {
        return pull(State(d), q).await;
    }
    if q.get("fromSrc").map(String::as_str) != Some("-") {
        return Err(ApiError::bad(
            "only fromSrc=- (the request body) is supported",
        ));
    }
    let repo = q.get("repo").cloned().unwrap_or_default();
    let tag = q.get("tag").cloned().unwrap_or_default();
    // `--change` may be repeated: every `changes` of the query.
    let changes = query_values(raw.as_deref().unwrap_or(""), "changes");
    let id = blocking(move || {
        let path = d
            .opts
            .data_root
            .join(format!("import-{}.tar", crate::daemon::store::new_id()));
        std::fs::write(&path, &body).map_err(ImageError::internal)?;
        let r = d.image_import(&path, &repo, &tag, &changes);
        let _ = std::fs::remove_file(&path);
        r
    })
    .await?;
    let line = ProgressMessage::status(id).line("\r\n");
    Ok(([(header::CONTENT_TYPE, "application/json")], line).into_response())
}

/// `GET /images/json` with filters.
pub(super) async fn images_list(State(d): D, q: Q) -> ApiResult<Response> {
    let f = filters_of(&q)?;
    let all = flag(&q, "all");
    Ok(Json(blocking(move || d.image_list(&f, all)).await?).into_response())
}

pub(super) async fn images_prune(State(d): D, q: Q) -> ApiResult<Response> {
    let f = filters_of(&q)?;
    Ok(Json(blocking(move || d.image_prune(&f)).await?).into_response())
}

/// `POST /commit?container=…&repo=…&tag=…&changes=…`: `{"Id": …}`.
pub(super) async fn commit(
    State(d): D,
    q: Q,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    // No body, `null` (docker-py without conf) or a config.
    let config = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad(format!("invalid commit config: {e}")))?
    };
    let r = crate::daemon::commit::CommitRequest {
        container: get("container"),
        repo: get("repo"),
        tag: get("tag"),
        comment: get("comment"),
        author: get("author"),
        pause: q.get("pause").is_none_or(|_| flag(&q, "pause")),
        changes: query_values(raw.as_deref().unwrap_or(""), "changes"),
        config,
    };
    let id = blocking(move || d.commit(&r)).await?;
    Ok((StatusCode::CREATED, Json(IdResponse { id })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_queries_decode() {
        assert_eq!(
            query_values("names=busybox%3Alatest&names=a+b&x=1", "names"),
            vec!["busybox:latest", "a b"]
        );
        assert_eq!(
            query_values("changes=ENV+A%3D1&changes=USER+nobody", "changes"),
            vec!["ENV A=1", "USER nobody"]
        );
    }
}
