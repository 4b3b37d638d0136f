//! The volume routes.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::*;
use crate::daemon::models::VolumeCreateBody;
use crate::daemon::{ApiError, ApiResult};

pub(super) async fn volumes_list(State(d): D, q: Q) -> ApiResult<Response> {
    let f = filters_of(&q)?;
    Ok(Json(blocking(move || d.volume_list(&f)).await?).into_response())
}

pub(super) async fn volume_create(State(d): D, body: Bytes) -> ApiResult<Response> {
    // Read here, not by axum's `Json`: a field of the wrong type is a 400
    // naming the request (axum's would answer 422).
    let body: VolumeCreateBody = json_body(&body)
        .map_err(|e| ApiError::bad(format!("invalid volume create request: {}", e.message)))?;
    let v = blocking(move || d.volume_create(body)).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub(super) async fn volume_inspect(State(d): D, p: Params) -> ApiResult<Response> {
    let name = id_of(&p);
    Ok(Json(blocking(move || d.volume_inspect(&name)).await?).into_response())
}

pub(super) async fn volume_remove(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let name = id_of(&p);
    let force = flag(&q, "force");
    blocking(move || d.volume_remove(&name, force)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn volume_prune(State(d): D, q: Q) -> ApiResult<Response> {
    let f = filters_of(&q)?;
    Ok(Json(blocking(move || d.volume_prune(&f)).await?).into_response())
}
