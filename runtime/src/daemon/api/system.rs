//! The system routes: ping, version, info, events, df, build cache prune.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::*;
use crate::apimodel::models::{
    LocalNodeState, RegistryServiceConfig, Runtime, SwarmInfo, SystemInfo,
    SystemInfoCgroupDriverEnum, SystemInfoCgroupVersionEnum, SystemInfoIsolationEnum,
    SystemVersion, SystemVersionComponents, SystemVersionPlatform,
};
use crate::daemon::events;
use crate::daemon::{ApiError, ApiResult, Daemon};

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

pub(super) async fn version() -> Json<SystemVersion> {
    let v = env!("CARGO_PKG_VERSION");
    let details = [
        ("ApiVersion", API_VERSION),
        ("MinAPIVersion", MIN_API_VERSION),
        ("Os", "linux"),
        ("Arch", arch()),
        ("KernelVersion", &kernel()),
        ("GitCommit", ""),
        ("GoVersion", ""),
        ("BuildTime", ""),
        ("Experimental", "false"),
    ];
    Json(SystemVersion {
        platform: Some(SystemVersionPlatform {
            name: "rrun".into(),
        }),
        components: Some(vec![SystemVersionComponents {
            name: "Engine".into(),
            version: v.into(),
            details: Some(
                details
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }]),
        version: Some(v.into()),
        api_version: Some(API_VERSION.into()),
        min_api_version: Some(MIN_API_VERSION.into()),
        git_commit: Some(String::new()),
        go_version: Some(String::new()),
        os: Some("linux".into()),
        arch: Some(arch().into()),
        kernel_version: Some(kernel()),
        experimental: Some(false),
        build_time: Some(String::new()),
    })
}

pub(super) async fn info(State(d): D) -> ApiResult<Json<SystemInfo>> {
    Ok(Json(
        blocking(move || Ok::<_, ApiError>(system_info(&d))).await?,
    ))
}

/// `GET /info` with every field dockerd sends that has a meaning here:
/// the machine's part, then the engine's.
fn system_info(d: &Daemon) -> SystemInfo {
    let mut info = host_info();
    let all = d.list(true, Default::default()).unwrap_or_default();
    let running = all.iter().filter(|c| c.state == "running").count() as i64;
    let paused = all.iter().filter(|c| c.state == "paused").count() as i64;
    let images = rrun_image::images::list_images(&d.images).map_or(0, |v| v.len());
    info.containers = Some(all.len() as i64);
    info.containers_running = Some(running);
    info.containers_paused = Some(paused);
    info.containers_stopped = Some(all.len() as i64 - running - paused);
    info.images = Some(images as i64);
    info.docker_root_dir = Some(d.opts.data_root.display().to_string());
    info.debug = Some(d.opts.log_level == "debug");
    info.cgroup_driver = Some(if d.opts.systemd_cgroup {
        SystemInfoCgroupDriverEnum::SYSTEMD
    } else {
        SystemInfoCgroupDriverEnum::CGROUPFS
    });
    let runtime = Runtime {
        path: Some(d.opts.oci_bin.display().to_string()),
        ..Default::default()
    };
    info.runtimes = Some([("rrun-oci".to_string(), runtime)].into());
    info
}

/// The parts of `/info` that are the machine's and rrun's build's.
fn host_info() -> SystemInfo {
    let cgroup_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let yes = Some(true);
    SystemInfo {
        id: Some(String::new()),
        driver: Some("overlay2".into()),
        driver_status: Some(vec![vec!["Backing Filesystem".into(), "extfs".into()]]),
        memory_limit: yes,
        swap_limit: yes,
        cpu_cfs_period: yes,
        cpu_cfs_quota: yes,
        cpu_shares: yes,
        cpu_set: yes,
        pids_limit: yes,
        oom_kill_disable: Some(!cgroup_v2),
        nfd: Some(count_dir("/proc/self/fd")),
        n_goroutines: Some(count_dir("/proc/self/task")),
        system_time: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        logging_driver: Some("json-file".into()),
        cgroup_version: Some(if cgroup_v2 {
            SystemInfoCgroupVersionEnum::_2
        } else {
            SystemInfoCgroupVersionEnum::_1
        }),
        n_events_listener: Some(0),
        kernel_version: Some(kernel()),
        operating_system: Some(os_release("PRETTY_NAME").unwrap_or_else(|| "linux".into())),
        os_version: os_release("VERSION_ID"),
        os_type: Some("linux".into()),
        architecture: Some(std::env::consts::ARCH.into()),
        ncpu: Some(std::thread::available_parallelism().map_or(1, |n| n.get()) as i64),
        mem_total: Some(mem_total()),
        index_server_address: Some("https://index.docker.io/v1/".into()),
        registry_config: Some(RegistryServiceConfig {
            insecure_registry_cidrs: Some(vec!["127.0.0.0/8".into(), "::1/128".into()]),
            index_configs: Some(Default::default()),
            mirrors: Some(vec![]),
        }),
        http_proxy: Some(env("HTTP_PROXY")),
        https_proxy: Some(env("HTTPS_PROXY")),
        no_proxy: Some(env("NO_PROXY")),
        name: nix::unistd::gethostname()
            .ok()
            .map(|h| h.to_string_lossy().into_owned()),
        labels: Some(vec![]),
        experimental_build: Some(false),
        server_version: Some(env!("CARGO_PKG_VERSION").into()),
        default_runtime: Some("rrun-oci".into()),
        swarm: Some(SwarmInfo {
            node_id: Some(String::new()),
            node_addr: Some(String::new()),
            local_node_state: Some(LocalNodeState::INACTIVE),
            control_available: Some(false),
            error: Some(String::new()),
            ..Default::default()
        }),
        live_restore_enabled: yes,
        isolation: Some(SystemInfoIsolationEnum::DEFAULT),
        init_binary: Some(String::new()),
        security_options: Some(vec!["name=seccomp,profile=builtin".into()]),
        warnings: Some(vec![]),
        ..Default::default()
    }
}

fn count_dir(path: &str) -> i64 {
    std::fs::read_dir(path).map_or(0, |d| d.count() as i64)
}

/// `MemTotal` of /proc/meminfo, in bytes.
fn mem_total() -> i64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A field of /etc/os-release, unquoted.
fn os_release(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"').to_string())
}

/// Every swarm route: dockerd outside a swarm answers 503, and clients
/// (docker-py, compose) expect exactly that.
pub(super) async fn not_a_swarm(req: axum::extract::Request) -> ApiError {
    let leave = req.uri().path().ends_with("/swarm/leave");
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        if leave {
            "This node is not part of a swarm"
        } else {
            "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again."
        },
    )
}

/// `GET /system/df`.
pub(super) async fn system_df(State(d): D) -> ApiResult<Response> {
    Ok(Json(blocking(move || d.system_df()).await?).into_response())
}

/// `POST /build/prune`: rrun has no build cache; Docker's `system prune`
/// asks anyway.
pub(super) async fn build_prune() -> Response {
    Json(crate::apimodel::BuildCachePruneReport::default()).into_response()
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
