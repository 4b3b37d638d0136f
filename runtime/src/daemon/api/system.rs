//! The system routes: ping, version, info, events, df, build cache prune.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::*;
use crate::daemon::events;
use crate::daemon::{ApiError, ApiResult};

pub(super) async fn ping() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
        ],
        "OK",
    )
}

pub(super) fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(super) fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    }
}

pub(super) async fn version() -> impl IntoResponse {
    let v = env!("CARGO_PKG_VERSION");
    Json(json!({
        "Platform": {"Name": "rrun"},
        "Components": [{"Name": "Engine", "Version": v, "Details": {
            "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
            "Os": "linux", "Arch": arch(), "KernelVersion": kernel()}}],
        "Version": v,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch(),
        "KernelVersion": kernel(),
        "BuildTime": "",
    }))
}

pub(super) async fn info(State(d): D) -> impl IntoResponse {
    let all = d.list(true, Default::default()).unwrap_or_default();
    let count = |s: &str| all.iter().filter(|c| c.state == s).count();
    let images = rrun_image::images::list_images(&d.images)
        .map(|v| v.len())
        .unwrap_or(0);
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    Json(json!({
        "ID": "",
        "Containers": all.len(),
        "ContainersRunning": count("running"),
        "ContainersPaused": 0,
        "ContainersStopped": all.len() - count("running"),
        "Images": images,
        "Driver": "overlay2",
        "DockerRootDir": d.opts.data_root,
        "LoggingDriver": "json-file",
        "CgroupDriver": if d.opts.systemd_cgroup { "systemd" } else { "cgroupfs" },
        "CgroupVersion": if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() { "2" } else { "1" },
        "KernelVersion": kernel(),
        "OperatingSystem": "linux",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "Name": hostname,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "DefaultRuntime": "rrun-oci",
        "Runtimes": {"rrun-oci": {"path": d.opts.oci_bin}},
        "LiveRestoreEnabled": true,
        "SecurityOptions": [],
        "Warnings": [],
    }))
}

/// `GET /system/df`.
pub(super) async fn system_df(State(d): D) -> ApiResult<Response> {
    Ok(Json(blocking(move || d.system_df()).await?).into_response())
}

/// `POST /build/prune`: rrun has no build cache; Docker's `system prune`
/// asks anyway.
pub(super) async fn build_prune() -> Response {
    Json(json!({"CachesDeleted": null, "SpaceReclaimed": 0})).into_response()
}

/// `GET /events`: the history from `since`, then live events until
/// `until` (when given) or the client goes.
pub(super) async fn events_stream(State(d): D, q: Q) -> ApiResult<Response> {
    let filters = filters_of(&q)?;
    filters.validate(events::FILTERS)?;
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
