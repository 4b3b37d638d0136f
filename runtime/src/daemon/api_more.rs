//! The routes of images (remove, inspect, save, import, prune), container
//! rename/top/stats/prune, and events. The route table is in [`super::api`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::api::{blocking, channel_stream, flag, id_of, parse_any_filters};
use super::events;
use super::{ApiError, ApiResult, Daemon};

type D = State<Arc<Daemon>>;
type Q = Query<HashMap<String, String>>;

/// The values of `key` in a raw query string (`names=a&names=b`), decoded.
pub fn query_values(raw: &str, key: &str) -> Vec<String> {
    raw.split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .filter(|(k, _)| percent_decode(k) == key)
        .map(|(_, v)| percent_decode(v))
        .collect()
}

/// `%41+b` → `A b`.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/images/{*rest}`: names may hold slashes (`localhost:5000/x/json`),
/// so the action is the last segment.
pub async fn image_any(
    State(d): D,
    method: Method,
    Path(p): Path<HashMap<String, String>>,
    q: Q,
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
            let v = blocking(move || d.image_inspect(&name)).await?;
            Ok(Json(json!([{"Id": v["Id"], "Created": 0, "CreatedBy": "", "Tags": v["RepoTags"], "Size": v["Size"], "Comment": ""}])).into_response())
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
    pub fn image_tag(&self, source: &str, repo: &str, tag: &str) -> ApiResult<()> {
        let img = super::find_image(&self.images, source)?;
        let target = rrun_image::Reference::parse(&format!("{repo}:{tag}"))
            .map_err(|e| ApiError::bad(e.to_string()))?;
        self.images
            .set_ref(&target, &img.manifest_digest)
            .map_err(ApiError::internal)?;
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
pub async fn images_get(State(d): D, RawQuery(raw): RawQuery) -> ApiResult<Response> {
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
async fn save(d: Arc<Daemon>, names: Vec<String>) -> ApiResult<Response> {
    let d2 = d.clone();
    let n2 = names.clone();
    blocking(move || {
        for n in &n2 {
            super::find_image(&d2.images, n)?;
        }
        Ok(())
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
pub async fn images_create(State(d): D, q: Q, body: Bytes) -> ApiResult<Response> {
    if !q.contains_key("fromSrc") {
        return super::api::pull(State(d), q).await;
    }
    if q.get("fromSrc").map(String::as_str) != Some("-") {
        return Err(ApiError::bad(
            "only fromSrc=- (the request body) is supported",
        ));
    }
    let repo = q.get("repo").cloned().unwrap_or_default();
    let tag = q.get("tag").cloned().unwrap_or_default();
    let changes: Vec<String> = q
        .get("changes")
        .map(|c| vec![c.clone()])
        .unwrap_or_default();
    let id = blocking(move || {
        let path = d
            .opts
            .data_root
            .join(format!("import-{}.tar", super::store::new_id()));
        std::fs::write(&path, &body).map_err(ApiError::internal)?;
        let r = d.image_import(&path, &repo, &tag, &changes);
        let _ = std::fs::remove_file(&path);
        r
    })
    .await?;
    let line = json!({"status": id}).to_string() + "\r\n";
    Ok(([(header::CONTENT_TYPE, "application/json")], line).into_response())
}

/// `GET /system/df`.
pub async fn system_df(State(d): D) -> ApiResult<Response> {
    Ok(Json(blocking(move || d.system_df()).await?).into_response())
}

/// `POST /build/prune`: rrun has no build cache; Docker's `system prune`
/// asks anyway.
pub async fn build_prune() -> Response {
    Json(json!({"CachesDeleted": null, "SpaceReclaimed": 0})).into_response()
}

/// `GET /images/json` with filters.
pub async fn images_list(State(d): D, q: Q) -> ApiResult<Response> {
    let f = parse_any_filters(q.get("filters").map(String::as_str).unwrap_or(""))?;
    Ok(Json(blocking(move || d.image_list(&f)).await?).into_response())
}

pub async fn images_prune(State(d): D, q: Q) -> ApiResult<Response> {
    let f = parse_any_filters(q.get("filters").map(String::as_str).unwrap_or(""))?;
    Ok(Json(blocking(move || d.image_prune(&f)).await?).into_response())
}

pub async fn container_rename(
    State(d): D,
    p: Path<HashMap<String, String>>,
    q: Q,
) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    let name = q.get("name").cloned().unwrap_or_default();
    blocking(move || d.rename(&id, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn container_top(State(d): D, p: Path<HashMap<String, String>>) -> ApiResult<Response> {
    let id = id_of(&p);
    Ok(Json(blocking(move || d.top(&id)).await?).into_response())
}

pub async fn containers_prune(State(d): D, q: Q) -> ApiResult<Response> {
    let f = parse_any_filters(q.get("filters").map(String::as_str).unwrap_or(""))?;
    Ok(Json(blocking(move || d.container_prune(&f)).await?).into_response())
}

/// `GET /containers/{id}/stats`: one sample (`stream=0`, with precpu taken
/// half a second before unless `one-shot`), or one a second.
pub async fn container_stats(
    State(d): D,
    p: Path<HashMap<String, String>>,
    q: Q,
) -> ApiResult<Response> {
    let id = d.get(&id_of(&p))?.id;
    let stream = q.get("stream").is_none_or(|_| flag(&q, "stream"));
    if !stream {
        let mut pre = json!({});
        if !flag(&q, "one-shot") {
            pre = stats_sample(d.clone(), id.clone(), json!({})).await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        return Ok(Json(stats_sample(d, id, pre).await?).into_response());
    }
    let (tx, chunks) = tokio::sync::mpsc::channel::<Bytes>(4);
    let first = stats_sample(d.clone(), id.clone(), json!({})).await?;
    tokio::spawn(async move {
        let mut pre = first;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let Ok(v) = stats_sample(d.clone(), id.clone(), pre).await else {
                return;
            };
            if tx.send(Bytes::from(v.to_string() + "\n")).await.is_err() {
                return;
            }
            pre = v;
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(channel_stream(chunks)),
    )
        .into_response())
}

async fn stats_sample(d: Arc<Daemon>, id: String, pre: Value) -> ApiResult<Value> {
    blocking(move || d.stats_sample(&id, &pre)).await
}

/// `GET /events`: the history from `since`, then live events until
/// `until` (when given) or the client goes.
pub async fn events_stream(State(d): D, q: Q) -> ApiResult<Response> {
    let filters = parse_any_filters(q.get("filters").map(String::as_str).unwrap_or(""))?;
    for k in filters.keys() {
        if !matches!(
            k.as_str(),
            "type" | "event" | "container" | "network" | "volume" | "image" | "label" | "scope"
        ) {
            return Err(ApiError::bad(format!("invalid filter '{k}'")));
        }
    }
    let time = |k: &str| -> ApiResult<Option<i64>> {
        match q.get(k).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => events::parse_time(s)
                .map(Some)
                .ok_or_else(|| ApiError::bad(format!("invalid {k} value {s}"))),
        }
    };
    let (since, until) = (time("since")?, time("until")?);
    let (history, mut rx) = d.events.subscribe();
    let (tx, chunks) = tokio::sync::mpsc::channel::<Bytes>(64);
    let wanted = move |e: &events::Event| {
        events::matches(e, &filters) && until.is_none_or(|u| e.time_nano <= u)
    };
    tokio::spawn(async move {
        let line =
            |e: &events::Event| Bytes::from(serde_json::to_string(e).unwrap_or_default() + "\n");
        if let Some(s) = since {
            for e in history.iter().filter(|e| e.time_nano >= s && wanted(e)) {
                if tx.send(line(e)).await.is_err() {
                    return;
                }
            }
        }
        let now = || chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        loop {
            let left = match until.map(|u| u - now()) {
                Some(left) if left <= 0 => return,
                Some(left) => Duration::from_nanos(left as u64),
                None => Duration::from_secs(3600),
            };
            let e = tokio::select! {
                r = tokio::time::timeout(left, rx.recv()) => r,
                _ = tx.closed() => return,
            };
            match e {
                Ok(Ok(e)) if wanted(&e) => {
                    if tx.send(line(&e)).await.is_err() {
                        return;
                    }
                }
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(_)) => return,
            }
        }
    });
    let body = channel_stream(chunks);
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
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
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
