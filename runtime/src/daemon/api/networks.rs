//! The network routes.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::apimodel::models::NetworkCreateRequest;
use crate::apimodel::network::NetworkPruneReport;
use crate::daemon::models::NetworkConnectBody;

use super::*;
use crate::daemon::ApiResult;

pub(super) async fn networks(State(d): D, q: Q) -> ApiResult<Response> {
    let filters = filters_of(&q)?;
    let list = blocking(move || d.network_list(&filters)).await?;
    Ok(Json(list).into_response())
}

pub(super) async fn network_inspect(State(d): D, p: Params) -> ApiResult<Response> {
    let id = id_of(&p);
    Ok(Json(blocking(move || d.network_inspect(&id)).await?).into_response())
}

pub(super) async fn network_create(State(d): D, body: Bytes) -> ApiResult<Response> {
    // Read here, not by axum's `Json`: a body without `Name` is a 400
    // naming the field, as before the body was typed.
    let body: NetworkCreateRequest = json_body(&body)?;
    let v = blocking(move || d.network_create(&body)).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub(super) async fn network_remove(State(d): D, p: Params) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    blocking(move || d.network_remove(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn network_prune(State(d): D, q: Q) -> ApiResult<Response> {
    let filters = filters_of(&q)?;
    let removed = blocking(move || d.network_prune(&filters)).await?;
    let report = NetworkPruneReport {
        networks_deleted: removed,
    };
    Ok(Json(report).into_response())
}

pub(super) async fn network_connect(
    State(d): D,
    p: Params,
    Json(body): Json<NetworkConnectBody>,
) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    blocking(move || d.network_connect(&id, &body)).await?;
    Ok(StatusCode::OK)
}

pub(super) async fn network_disconnect(
    State(d): D,
    p: Params,
    Json(body): Json<NetworkConnectBody>,
) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    blocking(move || d.network_disconnect(&id, &body)).await?;
    Ok(StatusCode::OK)
}
