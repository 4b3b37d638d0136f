//! The Docker Engine API routes, each at `/path` and `/v1.xx/path`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, MethodRouter};
use axum::{Json, Router};
use serde_json::json;

mod exec;

use super::api_more;
use super::logs::{self, LogLine};
use super::models::{CreateBody, CreateResponse, ErrorResponse, WaitResponse};
use super::{ApiError, ApiResult, Daemon, REMOVED};
use crate::shim;

/// The newest Engine API version rrund speaks, and the oldest.
pub const API_VERSION: &str = "1.43";
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

pub fn router(d: Arc<Daemon>) -> Router {
    let routes: Vec<(&str, MethodRouter<Arc<Daemon>>)> = vec![
        ("/_ping", get(ping).head(ping)),
        ("/version", get(version)),
        ("/info", get(info)),
        ("/containers/create", post(create)),
        ("/containers/json", get(list)),
        ("/containers/{id}/json", get(inspect)),
        ("/containers/{id}/start", post(start)),
        ("/containers/{id}/stop", post(stop)),
        ("/containers/{id}/kill", post(kill)),
        ("/containers/{id}/restart", post(restart)),
        ("/containers/{id}/wait", post(wait)),
        ("/containers/{id}/logs", get(logs_handler)),
        ("/containers/{id}/attach", post(attach)),
        ("/containers/{id}", delete(remove)),
        ("/containers/{id}/resize", post(exec::container_resize)),
        ("/containers/{id}/exec", post(exec::create)),
        ("/exec/{id}/start", post(exec::start)),
        ("/exec/{id}/resize", post(exec::resize)),
        ("/exec/{id}/json", get(exec::inspect)),
        ("/containers/{id}/rename", post(api_more::container_rename)),
        ("/containers/{id}/top", get(api_more::container_top)),
        ("/containers/{id}/stats", get(api_more::container_stats)),
        ("/containers/prune", post(api_more::containers_prune)),
        ("/images/json", get(api_more::images_list)),
        ("/images/load", post(load)),
        ("/images/create", post(api_more::images_create)),
        ("/images/get", get(api_more::images_get)),
        ("/images/prune", post(api_more::images_prune)),
        (
            "/images/{*rest}",
            get(api_more::image_any)
                .post(api_more::image_any)
                .delete(api_more::image_any),
        ),
        ("/events", get(api_more::events_stream)),
        ("/system/df", get(api_more::system_df)),
        ("/build/prune", post(api_more::build_prune)),
        ("/networks", get(networks)),
        ("/networks/create", post(network_create)),
        ("/networks/prune", post(network_prune)),
        (
            "/networks/{id}",
            get(network_inspect).delete(network_remove),
        ),
        ("/networks/{id}/connect", post(network_connect)),
        ("/networks/{id}/disconnect", post(network_disconnect)),
        ("/volumes", get(volumes_list)),
        ("/volumes/create", post(volume_create)),
        ("/volumes/prune", post(volume_prune)),
        ("/volumes/{name}", get(volume_inspect).delete(volume_remove)),
    ];
    let mut r = Router::new();
    for (path, m) in routes {
        r = r
            .route(path, m.clone())
            .route(&format!("/{{version}}{path}"), m);
    }
    r.layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(api_headers))
        .with_state(d)
}

/// Checks the `/v1.xx/` prefix and adds Docker's headers to every answer.
async fn api_headers(req: Request, next: Next) -> Response {
    if let Some(v) = req.uri().path().strip_prefix("/v") {
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
    let mut resp = next.run(req).await;
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

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

async fn ping() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
        ],
        "OK",
    )
}

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    }
}

async fn version() -> impl IntoResponse {
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

async fn info(State(d): D) -> impl IntoResponse {
    let all = d.list(true, &Default::default());
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

async fn create(State(d): D, q: Q, Json(body): Json<CreateBody>) -> ApiResult<Response> {
    let name = q.get("name").cloned();
    let id = blocking(move || d.create(name.as_deref(), body)).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateResponse {
            id,
            warnings: vec![],
        }),
    )
        .into_response())
}

async fn list(State(d): D, q: Q) -> ApiResult<Response> {
    let filters = super::parse_filters(q.get("filters").map(String::as_str).unwrap_or(""))?;
    Ok(Json(d.list(flag(&q, "all"), &filters)).into_response())
}

async fn inspect(State(d): D, p: Params) -> ApiResult<Response> {
    let c = d.get(&id_of(&p))?;
    let dir = super::store::containers_dir(&d.opts.data_root).join(&c.id);
    let s = &c.state;
    Ok(Json(json!({
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": c.args,
        "State": {
            // As Docker, a container waiting for its restart counts as running.
            "Status": s.status, "Running": s.running || s.status == super::restart::RESTARTING,
            "Paused": false, "Restarting": s.status == super::restart::RESTARTING,
            "OOMKilled": s.oom_killed, "Dead": false,
            "Pid": s.pid, "ExitCode": s.exit_code, "Error": s.error,
            "StartedAt": s.started_at, "FinishedAt": s.finished_at,
        },
        "Image": c.image,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": shim::log_path(&dir, &c.id),
        "Name": format!("/{}", c.name),
        "ExecIDs": d.exec_ids(&c.id),
                "RestartCount": c.restarts.count,
        "Driver": "overlay2",
        "Platform": "linux",
        "Config": c.config,
        "HostConfig": c.host_config,
        "Mounts": super::volume::mounts_json(&c.mounts, |n| d.volumes.data_path(n)),
        "NetworkSettings": d.network_settings(&c),
    }))
    .into_response())
}

async fn start(State(d): D, p: Params) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    let started = blocking(move || d.start(&id)).await?;
    Ok(if started {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    })
}

async fn stop(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let t = q.get("t").and_then(|t| t.parse().ok());
    Ok(if d.stop(&id_of(&p), t).await? {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    })
}

async fn restart(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    let t = q.get("t").and_then(|t| t.parse().ok());
    d.stop(&id, t).await?;
    blocking(move || {
        d.start(&id)?;
        d.container_event(&d.get(&id)?, "restart", &[]);
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn kill(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    let sig = q.get("signal").cloned().unwrap_or_else(|| "SIGKILL".into());
    blocking(move || d.kill(&id, &sig)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    let force = flag(&q, "force");
    let volumes = flag(&q, "v");
    blocking(move || d.remove(&id, force, volumes)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Headers go out at once, the body when the condition holds, so a client
/// can register its wait before it starts the container (as Docker's does).
async fn wait(State(d): D, p: Params, q: Q) -> ApiResult<Response> {
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

async fn logs_handler(State(d): D, p: Params, q: Q) -> ApiResult<Response> {
    let c = d.get(&id_of(&p))?;
    let rx = d.subscribe(&c.id)?;
    let dir = super::store::containers_dir(&d.opts.data_root).join(&c.id);
    let (stdout, stderr) = (flag(&q, "stdout"), flag(&q, "stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad("You must choose at least one stream"));
    }
    let follow = Follow {
        path: shim::log_path(&dir, &c.id),
        offset: 0,
        stdout,
        stderr,
        timestamps: flag(&q, "timestamps"),
        tail: q.get("tail").and_then(|t| t.parse().ok()),
        raw: c.config.tty,
        held: None,
    };
    let keep_going = flag(&q, "follow");
    let (tx, chunks) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(follow.run(rx, tx, move |s| !keep_going || !s.running));
    let ct = if c.config.tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok((
        [(header::CONTENT_TYPE, ct)],
        Body::from_stream(channel_stream(chunks)),
    )
        .into_response())
}

pub(super) fn channel_stream(
    chunks: tokio::sync::mpsc::Receiver<Bytes>,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> {
    futures::stream::unfold(chunks, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    })
}

/// Reading a container's json-file log as frames, from `offset`.
struct Follow {
    path: std::path::PathBuf,
    offset: u64,
    stdout: bool,
    stderr: bool,
    timestamps: bool,
    tail: Option<usize>,
    /// A container with a terminal: payloads without frame headers.
    raw: bool,
    /// The log file, held open from the start (attach): what the container
    /// wrote can still be read when a `--rm` removal deletes the file
    /// before this follower's last read.
    held: Option<(tokio::fs::File, u64)>,
}

impl Follow {
    /// Sends frames until `done(state)` holds after a full read, or the
    /// receiver goes away.
    async fn run(
        mut self,
        mut rx: tokio::sync::watch::Receiver<super::store::State>,
        tx: tokio::sync::mpsc::Sender<Bytes>,
        done: impl Fn(&super::store::State) -> bool,
    ) {
        let mut first = true;
        let mut ino = None;
        loop {
            // Read after looking at the state: the shim writes every line
            // before the daemon marks the container exited.
            let finished = done(&rx.borrow_and_update());
            let mut lines = Vec::new();
            // From the start: the rotated files first, oldest first.
            if first && self.offset == 0 {
                for p in shim::logfile::rotated_files(&self.path) {
                    lines.extend(read_lines(&p, 0).await.0);
                }
            }
            // Rotated since the last read: the rest of the old file (now
            // `.1`, or cut back to empty), then the new one from its start.
            let meta = tokio::fs::metadata(&self.path).await.ok();
            let now_ino = meta.as_ref().map(std::os::unix::fs::MetadataExt::ino);
            // (Gone is not rotated: a removed container's log; what is
            // left is read from the file held open, if any.)
            if ino.is_some() && now_ino.is_some() && now_ino != ino {
                let old = std::path::PathBuf::from(format!("{}.1", self.path.display()));
                lines.extend(read_lines(&old, self.offset).await.0);
                self.offset = 0;
                // The file held open is the old one now.
                self.held = None;
            } else if meta.is_some_and(|m| m.len() < self.offset) {
                self.offset = 0;
            }
            ino = now_ino;
            let (more, next) = match &mut self.held {
                // Still the log, or the log is gone with its container.
                Some((f, held_ino)) if now_ino.is_none() || now_ino == Some(*held_ino) => {
                    read_lines_from(f, self.offset).await
                }
                _ => read_lines(&self.path, self.offset).await,
            };
            lines.extend(more);
            self.offset = next;
            let tail = if first { self.tail } else { None };
            first = false;
            for l in logs::select(&lines, self.stdout, self.stderr, tail) {
                let (s, payload) = logs::render(l, self.timestamps);
                let bytes = if self.raw {
                    payload
                } else {
                    logs::frame(s, &payload)
                };
                if tx.send(Bytes::from(bytes)).await.is_err() {
                    return;
                }
            }
            // A client gone while nothing was written: noticed here, not
            // only at the next send (a silent container may write nothing
            // for hours, and this holds its log file open).
            if finished || tx.is_closed() {
                return;
            }
            // Woken by a state change, else look at the file again (soon
            // for a terminal: someone is typing at it).
            let pause = Duration::from_millis(if self.raw { 20 } else { 100 });
            let _ = tokio::time::timeout(pause, rx.changed()).await;
        }
    }
}

/// `POST /containers/{id}/attach`: the container's output from now on (or
/// from the start with `logs=1`), over an upgraded connection as Docker's
/// CLI asks, else as a plain streamed body. Stdin is not supported yet.
async fn attach(State(d): D, p: Params, q: Q, req: Request) -> ApiResult<Response> {
    let c = d.get(&id_of(&p))?;
    let rx = d.subscribe(&c.id)?;
    let dir = super::store::containers_dir(&d.opts.data_root).join(&c.id);
    let path = shim::log_path(&dir, &c.id);
    let offset = if flag(&q, "logs") {
        0
    } else {
        tokio::fs::metadata(&path)
            .await
            .map(|m| m.len())
            .unwrap_or(0)
    };
    // Made here if the container has not started yet: the shim appends to
    // this same file.
    let held = match tokio::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)
        .await
    {
        Ok(f) => f
            .metadata()
            .await
            .ok()
            .map(|m| (f, std::os::unix::fs::MetadataExt::ino(&m))),
        Err(_) => None,
    };
    let follow = Follow {
        path,
        offset,
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
        timestamps: false,
        tail: None,
        raw: c.config.tty,
        held,
    };
    let initial = c.state.clone();
    let q2 = q.clone();
    // Ends with the run that follows (or is going on): an exit newer than
    // the one seen now, a removal, or a start that failed.
    let done = move |s: &super::store::State| {
        s.status == REMOVED
            || (!s.running && s.status == "exited" && s.finished_at != initial.finished_at)
            || (s.status == "created" && !s.error.is_empty() && s.error != initial.error)
            || (!flag_stream(&q) && !s.running)
    };
    let (tx, chunks) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(follow.run(rx, tx, done));
    let ct = if c.config.tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    if !req.headers().contains_key(header::UPGRADE) {
        return Ok((
            [(header::CONTENT_TYPE, ct)],
            Body::from_stream(channel_stream(chunks)),
        )
            .into_response());
    }
    // Stdin goes to the shim's attach socket (there only with OpenStdin),
    // once the container runs: clients attach before they start it.
    let want_stdin = flag(&q2, "stdin");
    let mut started = d.subscribe(&c.id)?;
    let sock_path = dir.join(shim::ATTACH_SOCKET);
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let Ok(up) = upgrade.await else { return };
        let io = hyper_util::rt::TokioIo::new(up);
        let (mut rd, mut wr) = tokio::io::split(io);
        if want_stdin {
            tokio::spawn(async move {
                if started.wait_for(|s| s.running).await.is_err() {
                    return;
                }
                let sock = match shim::short_path(&sock_path) {
                    // `_d` keeps the directory fd open while connecting.
                    Ok((_d, p)) => tokio::net::UnixStream::connect(p).await.ok(),
                    Err(_) => None,
                };
                let Some(mut sock) = sock else { return };
                let _ = tokio::io::copy(&mut rd, &mut sock).await;
                // The client's EOF closes the container's stdin.
                let _ = sock.shutdown().await;
            });
        }
        let mut chunks = chunks;
        while let Some(b) = chunks.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .header(header::CONTENT_TYPE, ct)
        .body(Body::empty())
        .map_err(ApiError::internal)
}

fn flag_stream(q: &HashMap<String, String>) -> bool {
    flag(q, "stream")
}

/// The complete lines of the log from `offset`, and the offset after them.
async fn read_lines(path: &std::path::Path, offset: u64) -> (Vec<LogLine>, u64) {
    let Ok(mut f) = tokio::fs::File::open(path).await else {
        return (vec![], offset);
    };
    read_lines_from(&mut f, offset).await
}

/// [`read_lines`] from an open file.
async fn read_lines_from(f: &mut tokio::fs::File, offset: u64) -> (Vec<LogLine>, u64) {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    if f.seek(std::io::SeekFrom::Start(offset)).await.is_err() {
        return (vec![], offset);
    }
    let mut buf = Vec::new();
    if f.read_to_end(&mut buf).await.is_err() {
        return (vec![], offset);
    }
    let end = buf
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|p| p + 1)
        .unwrap_or(0);
    let lines = buf[..end]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    (lines, offset + end as u64)
}

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
    let (tx, chunks) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let line = |v: serde_json::Value| Bytes::from(v.to_string() + "\r\n");
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let progress_tx = tx.clone();
    let progress: rrun_image::pull::ProgressFn = Arc::new(move |p| {
        use rrun_image::pull::Progress;
        let short = |d: &rrun_image::Digest| d.hex()[..12].to_string();
        let v = match p {
            Progress::Resolved { .. } => return,
            Progress::LayerExists { digest } => {
                json!({"status": "Already exists", "progressDetail": {}, "id": short(digest)})
            }
            Progress::LayerStarted { digest, .. } => {
                json!({"status": "Pulling fs layer", "progressDetail": {}, "id": short(digest)})
            }
            Progress::LayerProgress {
                digest,
                received,
                size,
            } => json!({"status": "Downloading",
                        "progressDetail": {"current": received, "total": size},
                        "id": short(digest)}),
            Progress::LayerDone { digest } => {
                json!({"status": "Pull complete", "progressDetail": {}, "id": short(digest)})
            }
        };
        let _ = progress_tx.send(Bytes::from(v.to_string() + "\r\n"));
    });
    let first = match reference.tag() {
        Some(t) => json!({"status": format!("Pulling from {}", reference.path()), "id": t}),
        None => json!({"status": format!("Pulling from {}", reference.path())}),
    };
    let _ = tx.send(line(first));
    let c = cancel.clone();
    tokio::task::spawn_blocking(move || {
        let opts = rrun_image::pull::PullOptions {
            progress: Some(progress),
            cancel: Some(c),
            ..Default::default()
        };
        let msg = match rrun_image::pull::pull(&d.images, &d.registry, &reference, &opts) {
            Ok(img) => {
                let name = reference.familiar();
                d.events.emit("image", "pull", &name, &[("name", &name)]);
                vec![
                    json!({"status": format!("Digest: {}", img.manifest)}),
                    json!({"status": format!("Status: Downloaded newer image for {name}")}),
                ]
            }
            Err(e) => {
                vec![json!({"errorDetail": {"message": e.to_string()}, "error": e.to_string()})]
            }
        };
        for m in msg {
            let _ = tx.send(line(m));
        }
    });
    // A client that goes away cancels the pull.
    struct CancelOnDrop(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let guard = CancelOnDrop(cancel);
    let body = futures::stream::unfold((chunks, guard), |(mut rx, g)| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), (rx, g)))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

async fn load(State(d): D, body: Bytes) -> ApiResult<Response> {
    let msgs = blocking(move || {
        let loaded = rrun_image::archive::load(&d.images, std::io::Cursor::new(body))
            .map_err(|e| ApiError::bad(e.to_string()))?;
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
        Ok(msgs)
    })
    .await?;
    let body: String = msgs
        .into_iter()
        .map(|m| json!({"stream": m}).to_string() + "\n")
        .collect();
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn networks(State(d): D, q: Q) -> ApiResult<Response> {
    let filters = parse_any_filters(q.get("filters").map(String::as_str).unwrap_or(""))?;
    let list = blocking(move || d.network_list(&filters)).await?;
    Ok(Json(list).into_response())
}

async fn network_inspect(State(d): D, p: Params) -> ApiResult<Response> {
    let id = id_of(&p);
    Ok(Json(blocking(move || d.network_inspect(&id)).await?).into_response())
}

async fn network_create(State(d): D, Json(body): Json<serde_json::Value>) -> ApiResult<Response> {
    let v = blocking(move || d.network_create(&body)).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn network_remove(State(d): D, p: Params) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    blocking(move || d.network_remove(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn network_prune(State(d): D) -> ApiResult<Response> {
    let removed = blocking(move || d.network_prune()).await?;
    Ok(Json(json!({"NetworksDeleted": removed})).into_response())
}

async fn network_connect(
    State(d): D,
    p: Params,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    blocking(move || d.network_connect(&id, &body)).await?;
    Ok(StatusCode::OK)
}

async fn network_disconnect(
    State(d): D,
    p: Params,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<StatusCode> {
    let id = id_of(&p);
    blocking(move || d.network_disconnect(&id, &body)).await?;
    Ok(StatusCode::OK)
}

async fn volumes_list(State(d): D, q: Q) -> ApiResult<Response> {
    let f = q.get("filters").cloned().unwrap_or_default();
    Ok(Json(blocking(move || d.volume_list(&f)).await?).into_response())
}

async fn volume_create(State(d): D, Json(body): Json<serde_json::Value>) -> ApiResult<Response> {
    let v = blocking(move || d.volume_create(&body)).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn volume_inspect(State(d): D, p: Params) -> ApiResult<Response> {
    let name = id_of(&p);
    Ok(Json(blocking(move || d.volume_inspect(&name)).await?).into_response())
}

async fn volume_remove(State(d): D, p: Params, q: Q) -> ApiResult<StatusCode> {
    let name = id_of(&p);
    let force = flag(&q, "force");
    blocking(move || d.volume_remove(&name, force)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn volume_prune(State(d): D, q: Q) -> ApiResult<Response> {
    let f = q.get("filters").cloned().unwrap_or_default();
    Ok(Json(blocking(move || d.volume_prune(&f)).await?).into_response())
}

/// `filters` in either of Docker's forms, any keys (each endpoint checks
/// the keys it knows).
pub(super) fn parse_any_filters(json: &str) -> ApiResult<super::Filters> {
    volumes::filters::parse_filters_json(json).map_err(|e| ApiError::bad(e.to_string()))
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
