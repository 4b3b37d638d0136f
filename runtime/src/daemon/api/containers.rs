//! The container routes: create, list, inspect, start, stop, restart, kill,
//! remove, wait, logs, attach, rename, top, stats, prune.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::*;
use crate::apimodel::stats::StatsResponse;
use crate::daemon::containers::inspect::{ContainerInspect, HostConfigView, InspectState};
use crate::daemon::models::{CreateBody, CreateResponse, WaitResponse};
use crate::daemon::{ApiError, ApiResult, ContainerError, Daemon, REMOVED};
use crate::shim;

pub(super) async fn create(State(d): D, q: Q, Json(body): Json<CreateBody>) -> ApiResult<Response> {
    let name = q.get("name").cloned();
    let platform = super::images::platform_of(&q)?;
    let (id, warnings) = blocking(move || {
        if let Some(p) = &platform {
            d.check_image_platform(&body.config.image, p)?;
        }
        d.create(name.as_deref(), body)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(CreateResponse { id, warnings })).into_response())
}

pub(super) async fn list(State(d): D, q: Q) -> ApiResult<Response> {
    let filters = filters_of(&q)?;
    let list = blocking(move || d.list(flag(&q, "all"), filters)).await?;
    Ok(Json(list).into_response())
}

pub(super) async fn inspect(State(d): D, p: Params) -> ApiResult<Response> {
    let c = d.container(&id_of(&p))?;
    let dir = crate::daemon::store::containers_dir(&d.opts.data_root).join(&c.id);
    let s = &c.state;
    let restarting = s.status == crate::daemon::restart::RESTARTING;
    let v = ContainerInspect {
        id: &c.id,
        created: &c.created,
        path: &c.path,
        args: &c.args,
        state: InspectState {
            status: &s.status,
            // As Docker, a container waiting for its restart counts as running.
            running: s.running || restarting,
            paused: s.status == crate::daemon::containers::pause::PAUSED,
            restarting,
            oom_killed: s.oom_killed,
            dead: false,
            pid: s.pid,
            exit_code: s.exit_code,
            error: &s.error,
            started_at: &s.started_at,
            finished_at: &s.finished_at,
            health: s.health.as_ref(),
        },
        image: &c.image,
        resolv_conf_path: dir.join("resolv.conf"),
        hostname_path: dir.join("hostname"),
        hosts_path: dir.join("hosts"),
        log_path: shim::log_path(&dir, &c.id),
        name: format!("/{}", c.name),
        exec_ids: d.exec_ids(&c.id),
        restart_count: c.restarts.count,
        driver: "overlay2",
        platform: "linux",
        config: &c.config,
        host_config: HostConfigView::new(&c.host_config),
        mounts: crate::daemon::volume::mounts_json(&c.mounts, |n| d.volumes.data_path(n)),
        network_settings: d.network_settings(&c),
    };
    Ok(Json(v).into_response())
}

pub(super) async fn start(State(d): D, p: Params) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    let started = blocking(move || d.start(&id)).await?;
    Ok(if started {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    })
}

pub(super) async fn stop(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let t = q.get("t").and_then(|t| t.parse().ok());
    Ok(if d.stop(&id_of(&p), t).await? {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    })
}

pub(super) async fn restart(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    let t = q.get("t").and_then(|t| t.parse().ok());
    d.stop(&id, t).await?;
    blocking(move || {
        d.start(&id)?;
        d.container_event(&d.container(&id)?, "restart", &[]);
        Ok::<_, ContainerError>(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn kill(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    let sig = q.get("signal").cloned().unwrap_or_else(|| "SIGKILL".into());
    let mut rx = d.subscribe(&id)?;
    let sigkill = matches!(
        sig.trim_start_matches("SIG").to_ascii_uppercase().as_str(),
        "KILL" | "9"
    );
    blocking(move || d.kill(&id, &sig)).await?;
    // As dockerd: after SIGKILL the answer comes once the container has
    // exited (137), so a client's next inspect sees it stopped.
    if sigkill {
        let exited = rx.wait_for(|s| !s.running);
        if tokio::time::timeout(Duration::from_secs(10), exited)
            .await
            .is_err()
        {
            return Err(ApiError::internal(
                "container did not exit within 10 seconds of SIGKILL",
            ));
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn pause(State(d): D, p: Params) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    blocking(move || d.pause(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn unpause(State(d): D, p: Params) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    blocking(move || d.unpause(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/update`: `{"Warnings": […]}`.
pub(super) async fn update(
    State(d): D,
    p: Params,
    Json(body): Json<crate::daemon::containers::pause::UpdateBody>,
) -> ApiResult<Response> {
    let id = id_of(&p);
    let warnings = blocking(move || d.update_resources(&id, body)).await?;
    let reply = crate::apimodel::models::ContainerUpdateResponse {
        warnings: Some(warnings),
    };
    Ok(Json(reply).into_response())
}

/// `GET /containers/{id}/changes`: `null` when nothing changed, as dockerd.
pub(super) async fn changes(State(d): D, p: Params) -> ApiResult<Response> {
    let id = id_of(&p);
    let list = blocking(move || d.changes(&id)).await?;
    Ok(Json((!list.is_empty()).then_some(list)).into_response())
}

pub(super) async fn remove(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    if flag(&q, "link") {
        // `parent/alias` as one (encoded) segment; a bare name is the
        // container's own name, which Docker will not unlink.
        let Some((parent, alias)) = id.trim_matches('/').rsplit_once('/') else {
            return Err(ContainerError::DefaultLink.into());
        };
        let (parent, alias) = (parent.to_string(), alias.to_string());
        blocking(move || d.remove_link(&parent, &alias)).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let force = flag(&q, "force");
    let volumes = flag(&q, "v");
    let removes_itself = force && d.kill_for_removal(&id).await;
    blocking(move || match d.remove(&id, force, volumes) {
        Err(ContainerError::NoSuchContainer(_)) if removes_itself => Ok(()),
        r => r,
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /containers/{parent}/{alias}?link=1`: `docker rm --link`.
pub(super) async fn remove_link(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let (parent, alias) = (id_of(&p), p.get("alias").cloned().unwrap_or_default());
    if !flag(&q, "link") {
        return Err(ContainerError::NoSuchLink { parent, alias }.into());
    }
    blocking(move || d.remove_link(&parent, &alias)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Headers go out at once, the body when the condition holds, so a client
/// can register its wait before it starts the container (as Docker's does).
pub(super) async fn wait(State(d): D, p: Params, q: Q) -> ApiResult<Response> {
    let mut rx = d.subscribe(&id_of(&p))?;
    let condition = q.get("condition").cloned().unwrap_or_default();
    let initial = rx.borrow_and_update().clone();
    let body = futures::stream::once(async move {
        let done = rx
            .wait_for(|s| match condition.as_str() {
                "removed" => s.status == REMOVED,
                "next-exit" => !s.running && s.finished_at != initial.finished_at,
                _ => !s.running,
            })
            .await
            .map(|s| s.clone())
            .unwrap_or_else(|_| rx.borrow().clone());
        let r = WaitResponse {
            status_code: done.exit_code as i64,
            error: None,
        };
        Ok::<_, Infallible>(Bytes::from(serde_json::to_vec(&r).unwrap_or_default()))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

pub(super) async fn container_rename(
    State(d): D,
    p: Path<HashMap<String, String>>,
    q: Q,
) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    let name = q.get("name").cloned().unwrap_or_default();
    blocking(move || d.rename(&id, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn container_top(
    State(d): D,
    p: Path<HashMap<String, String>>,
) -> ApiResult<Response> {
    let id = id_of(&p);
    Ok(Json(blocking(move || d.top(&id)).await?).into_response())
}

pub(super) async fn containers_prune(State(d): D, q: Q) -> ApiResult<Response> {
    let f = filters_of(&q)?;
    Ok(Json(blocking(move || d.container_prune(&f)).await?).into_response())
}

/// `GET /containers/{id}/stats`: one sample (`stream=0`, with precpu taken
/// half a second before unless `one-shot`), or one a second.
pub(super) async fn container_stats(
    State(d): D,
    p: Path<HashMap<String, String>>,
    q: Q,
) -> ApiResult<Response> {
    let id = d.container(&id_of(&p))?.id;
    let stream = q.get("stream").is_none_or(|_| flag(&q, "stream"));
    if !stream {
        let mut pre = None;
        if !flag(&q, "one-shot") {
            pre = Some(stats_sample(d.clone(), id.clone(), None).await?);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        return Ok(Json(stats_sample(d, id, pre).await?).into_response());
    }
    let (tx, chunks) = tokio::sync::mpsc::channel::<Bytes>(4);
    let first = stats_sample(d.clone(), id.clone(), None).await?;
    tokio::spawn(async move {
        let mut pre = first;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let Ok(v) = stats_sample(d.clone(), id.clone(), Some(pre)).await else {
                return;
            };
            let line = serde_json::to_string(&v).unwrap_or_default() + "\n";
            if tx.send(Bytes::from(line)).await.is_err() {
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

pub(super) async fn stats_sample(
    d: Arc<Daemon>,
    id: String,
    pre: Option<StatsResponse>,
) -> ApiResult<StatsResponse> {
    blocking(move || d.stats_sample(&id, pre.as_ref())).await
}
