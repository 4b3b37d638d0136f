//! `POST /build`: Docker's classic builder protocol (`DOCKER_BUILDKIT=0
//! docker build`, docker-py's `images.build`): the context as a tar in the
//! body, the options in the query, the progress as JSON lines.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::images::query_values;
use super::*;
use crate::daemon::build::{BuildRequest, Closed, Sink};
use crate::daemon::ApiError;

/// The query as docker/cli and docker-py send it; a bad value is a 400
/// before anything runs.
fn build_request(q: &HashMap<String, String>, raw: &str) -> ApiResult<BuildRequest> {
    let tags = query_values(raw, "t")
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| {
            rrun_image::Reference::parse(t)
                .map_err(|e| ApiError::bad(format!("invalid tag {t:?}: {e}")))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let json_map = |key: &str| -> ApiResult<BTreeMap<String, String>> {
        match q.get(key).filter(|v| !v.is_empty()) {
            None => Ok(BTreeMap::new()),
            Some(v) => serde_json::from_str::<BTreeMap<String, Option<String>>>(v)
                .map(|m| m.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
                .map_err(|e| ApiError::bad(format!("invalid {key}: {e}"))),
        }
    };
    if let Some(p) = q.get("platform").filter(|p| !p.is_empty()) {
        let host = format!("linux/{}", host_arch());
        if !p.starts_with(&host) {
            return Err(ApiError::bad(format!(
                "platform {p} is not this host's: rrund builds for {host} only"
            )));
        }
    }
    Ok(BuildRequest {
        tags,
        dockerfile: q.get("dockerfile").cloned().unwrap_or_default(),
        build_args: json_map("buildargs")?,
        labels: json_map("labels")?,
        target: q.get("target").filter(|t| !t.is_empty()).cloned(),
        no_cache: flag(q, "nocache"),
        pull: flag(q, "pull"),
        quiet: flag(q, "q"),
        network: q.get("networkmode").filter(|n| !n.is_empty()).cloned(),
        // Repeated (docker-py) or comma-separated.
        extra_hosts: query_values(raw, "extrahosts")
            .iter()
            .flat_map(|v| v.split(','))
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// The host's architecture as OCI names it.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `POST /build`.
pub(super) async fn build(
    State(d): D,
    q: Q,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let r = build_request(&q, raw.as_deref().unwrap_or(""))?;
    let rt = tokio::runtime::Handle::current();
    let (tx, chunks) = tokio::sync::mpsc::channel::<Bytes>(64);
    // The receiver goes with the response body, which hyper drops when the
    // connection closes (it watches for EOF while a response streams).
    let watch = tx.clone();
    let closed: Closed = Arc::new(move || watch.is_closed());
    let send: Sink = Arc::new(move |m| tx.blocking_send(Bytes::from(m.line("\r\n"))).is_ok());
    tokio::task::spawn_blocking(move || d.build_image(r, &body, (send, closed), rt));
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(channel_stream(chunks)),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_read_as_the_classic_builder_sends_them() {
        let raw =
            "t=app%3A1&t=other&buildargs=%7B%22V%22%3A%221%22%2C%22N%22%3Anull%7D&nocache=1&q=true";
        let q: HashMap<String, String> = serde_urlencoded::from_str(raw).unwrap();
        let r = build_request(&q, raw).unwrap();
        assert_eq!(r.tags.len(), 2);
        assert_eq!(r.tags[0].familiar(), "app:1");
        assert_eq!(r.build_args.len(), 1);
        assert!(r.no_cache && r.quiet && !r.pull);
        let bad = "t=UPPER%3Ax";
        let q: HashMap<String, String> = serde_urlencoded::from_str(bad).unwrap();
        assert_eq!(build_request(&q, bad).unwrap_err().status, 400);
    }
}
