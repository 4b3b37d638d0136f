//! The Docker Engine API routes, each at `/path` and `/v1.xx/path`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, MethodRouter};
use axum::{Json, Router};

mod archive;
mod build;
mod containers;
mod distribution;
mod exec;
mod images;
mod logs;
mod networks;
mod system;
mod volumes;

use super::models::ErrorResponse;
use super::{ApiError, ApiResult, Daemon};

/// The newest Engine API version rrund speaks, and the oldest.
pub const API_VERSION: &str = "1.44";
pub const MIN_API_VERSION: &str = "1.24";

type D = State<Arc<Daemon>>;
type Params = Path<HashMap<String, String>>;
type Q = Query<HashMap<String, String>>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorResponse {
                message: self.message,
            }),
        )
            .into_response()
    }
}

type Routes = Vec<(&'static str, MethodRouter<Arc<Daemon>>)>;

/// The system, container and exec routes.
fn container_routes() -> Routes {
    vec![
        ("/_ping", get(system::ping).head(system::ping)),
        ("/version", get(system::version)),
        ("/info", get(system::info)),
        ("/containers/create", post(containers::create)),
        ("/containers/json", get(containers::list)),
        ("/containers/{id}/json", get(containers::inspect)),
        ("/containers/{id}/start", post(containers::start)),
        ("/containers/{id}/stop", post(containers::stop)),
        ("/containers/{id}/kill", post(containers::kill)),
        ("/containers/{id}/pause", post(containers::pause)),
        ("/containers/{id}/unpause", post(containers::unpause)),
        ("/containers/{id}/update", post(containers::update)),
        ("/containers/{id}/restart", post(containers::restart)),
        ("/containers/{id}/wait", post(containers::wait)),
        ("/containers/{id}/logs", get(logs::logs_handler)),
        ("/containers/{id}/attach", post(logs::attach)),
        ("/containers/{id}", delete(containers::remove)),
        ("/containers/{id}/{alias}", delete(containers::remove_link)),
        ("/containers/{id}/resize", post(exec::container_resize)),
        ("/containers/{id}/exec", post(exec::create)),
        ("/exec/{id}/start", post(exec::start)),
        ("/exec/{id}/resize", post(exec::resize)),
        ("/exec/{id}/json", get(exec::inspect)),
        (
            "/containers/{id}/rename",
            post(containers::container_rename),
        ),
        ("/containers/{id}/top", get(containers::container_top)),
        ("/containers/{id}/changes", get(containers::changes)),
        (
            "/containers/{id}/archive",
            get(archive::get).head(archive::head).put(archive::put),
        ),
        ("/containers/{id}/stats", get(containers::container_stats)),
        ("/containers/{id}/export", get(archive::export)),
        ("/containers/prune", post(containers::containers_prune)),
    ]
}

/// The image, build, event, network and volume routes.
fn other_routes() -> Routes {
    vec![
        ("/commit", post(images::commit)),
        ("/auth", post(images::auth)),
        ("/images/json", get(images::images_list)),
        ("/images/load", post(images::load)),
        ("/images/create", post(images::images_create)),
        ("/images/get", get(images::images_get)),
        ("/images/prune", post(images::images_prune)),
        ("/images/search", get(images::search)),
        ("/distribution/{*rest}", get(distribution::inspect)),
        (
            "/images/{*rest}",
            get(images::image_any)
                .post(images::image_any)
                .delete(images::image_any),
        ),
        ("/events", get(system::events_stream)),
        ("/system/df", get(system::system_df)),
        ("/build", post(build::build)),
        ("/build/prune", post(system::build_prune)),
        ("/networks", get(networks::networks)),
        ("/networks/create", post(networks::network_create)),
        ("/networks/prune", post(networks::network_prune)),
        (
            "/networks/{id}",
            get(networks::network_inspect).delete(networks::network_remove),
        ),
        ("/networks/{id}/connect", post(networks::network_connect)),
        (
            "/networks/{id}/disconnect",
            post(networks::network_disconnect),
        ),
        ("/volumes", get(volumes::volumes_list)),
        ("/volumes/create", post(volumes::volume_create)),
        ("/volumes/prune", post(volumes::volume_prune)),
        (
            "/volumes/{name}",
            get(volumes::volume_inspect).delete(volumes::volume_remove),
        ),
    ]
}

pub fn router(d: Arc<Daemon>) -> Router {
    let mut routes = container_routes();
    routes.extend(other_routes());
    let swarm = ["swarm", "nodes", "services", "tasks", "secrets", "configs"];
    let swarm_routes: Vec<String> = swarm
        .iter()
        .flat_map(|s| [format!("/{s}"), format!("/{s}/{{*rest}}")])
        .collect();
    let routes = routes.into_iter().chain(
        swarm_routes
            .iter()
            .map(|p| (p.as_str(), axum::routing::any(system::not_a_swarm))),
    );
    let mut r = Router::new();
    for (path, m) in routes {
        r = r
            .route(path, m.clone())
            .route(&format!("/{{version}}{path}"), m);
    }
    r.fallback(page_not_found)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(api_headers))
        .with_state(d)
}

/// A path no route takes (`DELETE /images/` from `rmi ""`): Docker's 404,
/// with a message for the client to print (an empty body made clients say
/// "unknown error").
async fn page_not_found() -> Response {
    ApiError::not_found("page not found").into_response()
}

/// The largest JSON request body read (a create's config, a network's
/// options): far above any real one, and a 413 instead of a daemon that
/// buffers whatever a client sends. Uploads (load, build, archives) are
/// tars, not JSON, and stream without this limit.
const JSON_BODY_LIMIT: usize = 16 << 20;

/// A JSON body past [`JSON_BODY_LIMIT`] fails when read (axum answers 413).
fn limit_json_body(req: Request) -> Request {
    let json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return req;
    }
    req.map(|b| axum::body::Body::new(http_body_util::Limited::new(b, JSON_BODY_LIMIT)))
}

/// axum's own refusals (a body that is not JSON, a field of the wrong
/// type, a body too large) are plain text; Docker's clients read
/// `{"message": …}`, so they get that, with the same status.
async fn docker_error(resp: Response) -> Response {
    let plain = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !plain || !(resp.status().is_client_error() || resp.status().is_server_error()) {
        return resp;
    }
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 64 << 10)
        .await
        .unwrap_or_default();
    ApiError {
        status,
        message: String::from_utf8_lossy(&body).trim().to_string(),
    }
    .into_response()
}

/// Checks the `/v1.xx/` prefix and adds Docker's headers to every answer.
async fn api_headers(req: Request, next: Next) -> Response {
    // `/version`, `/volumes` are routes; `/v1.41/…` (a digit after `v`) a prefix.
    let prefix = req
        .uri()
        .path()
        .strip_prefix("/v")
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    if let Some(v) = prefix {
        let v = v.split('/').next().unwrap_or("");
        match parse_version(v) {
            Some(asked) if asked > parse_version(API_VERSION).unwrap() => {
                return ApiError::bad(format!(
                    "client version {v} is too new. Maximum supported API version is {API_VERSION}"
                ))
                .into_response()
            }
            Some(asked) if asked < parse_version(MIN_API_VERSION).unwrap() => {
                return ApiError::bad(format!(
                    "client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
                ))
                .into_response()
            }
            Some(_) => {}
            None => {
                return ApiError::not_found(format!("page not found: {}", req.uri().path()))
                    .into_response()
            }
        }
    }
    let mut resp = docker_error(next.run(limit_json_body(req)).await).await;
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert(
        "Server",
        HeaderValue::from_static(concat!("rrund/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    resp
}

/// `1.43` → (1, 43).
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Reads a JSON body leniently: an empty body is the default value; one
/// that does not parse as `T` is a 400 saying why.
pub(super) fn json_body<T: serde::de::DeserializeOwned + Default>(b: &[u8]) -> ApiResult<T> {
    if b.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(b).map_err(|e| ApiError::bad(format!("invalid JSON: {e}")))
}

pub(super) fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k)
        .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "True" | "TRUE"))
}

pub(super) fn id_of(p: &HashMap<String, String>) -> String {
    p.get("id")
        .or_else(|| p.get("name"))
        .cloned()
        .unwrap_or_default()
}

/// Runs a service call off the async runtime; its typed error becomes the
/// wire's [`ApiError`] here.
pub(super) async fn blocking<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(Into::into)
}

pub(super) fn channel_stream(
    chunks: tokio::sync::mpsc::Receiver<Bytes>,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> {
    futures::stream::unfold(chunks, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    })
}

/// The `filters` query parameter in either of Docker's forms, any keys
/// (each service checks the keys it knows).
pub(super) fn filters_of(q: &HashMap<String, String>) -> ApiResult<super::Filters> {
    Ok(super::Filters::parse(
        q.get("filters").map(String::as_str).unwrap_or(""),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare() {
        assert!(parse_version("1.41").unwrap() < parse_version(API_VERSION).unwrap());
        assert!(parse_version("1.9").unwrap() < parse_version("1.24").unwrap());
        assert_eq!(parse_version("x"), None);
    }
}
