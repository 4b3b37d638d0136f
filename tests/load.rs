//! Load (issue 17): many API clients at once against one rrund, each
//! creating, starting, inspecting and removing containers on several
//! networks, for a bounded time. No deadlock (every request answers within
//! its timeout), no error but the expected 409s (every client also races
//! for one shared name: exactly one wins), create and start latency
//! (p50, p99) printed, and rrund's open fds and RSS at the end no higher
//! than after the first round, or after the first minute on a run of two
//! minutes or more (beyond a small slack).
//!
//! Sizes: `RRUN_LOAD_CLIENTS` (default 10), `RRUN_LOAD_CONTAINERS` (20: half of
//! them in each round), `RRUN_LOAD_NETWORKS` (2); rounds repeat for
//! `RRUN_LOAD_SECONDS` (default 0: two rounds). `scripts/reliability.sh
//! load` runs 100 clients, 200 containers on 4 networks for 5 minutes.

mod common;

use common::daemon::Daemon;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An HTTP/1.0 request with a JSON body: (status, body). Panics when no
/// answer comes within 120 s (a deadlock).
fn request(socket: &Path, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = std::os::unix::net::UnixStream::connect(socket).expect("connect to rrund");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: rrun\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .unwrap_or_else(|e| panic!("{method} {path}: no answer ({e}): a deadlock?"));
    let code = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

#[derive(Default)]
struct Figures {
    create_ms: Vec<f64>,
    start_ms: Vec<f64>,
    errors: Vec<String>,
    shared_won: usize,
    shared_409: usize,
}

/// One client: `n` containers, each created on `net`, started, inspected
/// and removed; first a race for `shared`.
fn client(
    socket: &Path,
    nets: &[String],
    first: usize,
    n: usize,
    shared: &str,
    f: &Mutex<Figures>,
) {
    let body = r#"{"Image":"busybox","Cmd":["sleep","30"]}"#;
    let (code, text) = request(
        socket,
        "POST",
        &format!("/v1.44/containers/create?name={shared}"),
        body,
    );
    match code {
        201 => f.lock().unwrap().shared_won += 1,
        409 => f.lock().unwrap().shared_409 += 1,
        _ => f
            .lock()
            .unwrap()
            .errors
            .push(format!("shared create: {code} {text}")),
    }
    for k in first..first + n {
        let net = &nets[k % nets.len()];
        let body = format!(
            r#"{{"Image":"busybox","Cmd":["sleep","30"],"HostConfig":{{"NetworkMode":"{net}"}}}}"#
        );
        let t = Instant::now();
        let (code, text) = request(
            socket,
            "POST",
            &format!("/v1.44/containers/create?name=load-{k}"),
            &body,
        );
        let create = t.elapsed().as_secs_f64() * 1e3;
        if code != 201 {
            f.lock()
                .unwrap()
                .errors
                .push(format!("create load-{k}: {code} {text}"));
            continue;
        }
        let t = Instant::now();
        let (code, text) = request(
            socket,
            "POST",
            &format!("/v1.44/containers/load-{k}/start"),
            "",
        );
        let start = t.elapsed().as_secs_f64() * 1e3;
        let mut errs = Vec::new();
        if code != 204 {
            errs.push(format!("start load-{k}: {code} {text}"));
        }
        let (code, text) = request(
            socket,
            "GET",
            &format!("/v1.44/containers/load-{k}/json"),
            "",
        );
        if code != 200 || !text.contains(&format!("\"{net}\"")) {
            errs.push(format!(
                "inspect load-{k}: {code} {}",
                &text[..text.len().min(200)]
            ));
        }
        let (code, text) = request(
            socket,
            "DELETE",
            &format!("/v1.44/containers/load-{k}?force=1"),
            "",
        );
        if code != 204 {
            errs.push(format!("rm load-{k}: {code} {text}"));
        }
        let mut g = f.lock().unwrap();
        g.create_ms.push(create);
        g.start_ms.push(start);
        g.errors.extend(errs);
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

/// rrund's open fds and RSS (KiB).
fn usage(pid: u32) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (fds, rss)
}

/// One half of the load: every client at once on its share.
fn round(
    d: &Daemon,
    nets: &[String],
    clients: usize,
    per: usize,
    base: usize,
    shared: &str,
) -> Figures {
    let f = Arc::new(Mutex::new(Figures::default()));
    let socket = d.socket();
    std::thread::scope(|s| {
        for c in 0..clients {
            let (f, socket) = (f.clone(), socket.clone());
            s.spawn(move || client(&socket, nets, base + c * per, per, shared, &f));
        }
    });
    // The shared name's winner goes before the next round.
    let _ = request(
        &socket,
        "DELETE",
        &format!("/v1.44/containers/{shared}?force=1"),
        "",
    );
    Arc::try_unwrap(f).ok().unwrap().into_inner().unwrap()
}

/// After each round: seconds since the start, rrund's fds and RSS (KiB).
struct Sample {
    at: f64,
    fds: usize,
    rss: u64,
}

/// The sample growth is measured from: the end of the first minute on a
/// run of two minutes or more (the issue's "first and last minute"),
/// otherwise the end of the first round.
fn reference(samples: &[Sample]) -> &Sample {
    let last = samples.last().expect("one round at least");
    if last.at >= 120.0 {
        samples
            .iter()
            .rev()
            .find(|s| s.at <= 60.0)
            .unwrap_or(&samples[0])
    } else {
        &samples[0]
    }
}

#[test]
fn many_clients_create_start_inspect_and_remove_at_once() {
    let clients = env_or("RRUN_LOAD_CLIENTS", 10);
    let total = env_or("RRUN_LOAD_CONTAINERS", 20).max(2 * clients);
    let n_nets = env_or("RRUN_LOAD_NETWORKS", 2);
    // Rounds repeat until this much time has passed (two rounds at least).
    let seconds = env_or("RRUN_LOAD_SECONDS", 0) as f64;
    let d = Daemon::start();
    d.load_busybox();
    let nets: Vec<String> = (0..n_nets).map(|i| format!("load{i}")).collect();
    for n in &nets {
        d.ok(&["network", "create", n]);
    }
    let pid = d.pid().expect("rrund runs");
    let per = total / clients / 2;
    let t0 = Instant::now();
    let (mut create, mut start) = (Vec::new(), Vec::new());
    let mut samples = Vec::new();
    while samples.len() < 2 || t0.elapsed().as_secs_f64() < seconds {
        let n = samples.len();
        let r = round(
            &d,
            &nets,
            clients,
            per,
            n * clients * per,
            &format!("load-shared-{n}"),
        );
        assert!(
            r.errors.is_empty(),
            "errors under load in round {n}:\n{}",
            r.errors.join("\n")
        );
        assert_eq!(r.shared_won, 1, "one create of the shared name wins");
        assert_eq!(r.shared_409, clients - 1, "the others get 409");
        create.extend(r.create_ms);
        start.extend(r.start_ms);
        let (fds, rss) = usage(pid);
        let at = t0.elapsed().as_secs_f64();
        if seconds > 0.0 {
            println!("load round {n}: {at:.1} s, rrund fds {fds}, RSS {rss} KiB");
        }
        samples.push(Sample { at, fds, rss });
    }
    let made = create.len();
    let (from, to) = (reference(&samples), samples.last().unwrap());
    let peak = samples.iter().map(|s| s.rss).max().unwrap();
    println!(
        "load: {clients} clients, {made} containers on {n_nets} networks in {} rounds, {:.1} s; \
         create p50 {:.1} ms p99 {:.1} ms; start p50 {:.1} ms p99 {:.1} ms; \
         rrund fds {} -> {}, RSS {} -> {} KiB (at {:.0} s and {:.0} s; peak {peak} KiB)",
        samples.len(),
        to.at,
        percentile(&mut create, 0.5),
        percentile(&mut create, 0.99),
        percentile(&mut start, 0.5),
        percentile(&mut start, 0.99),
        from.fds,
        to.fds,
        from.rss,
        to.rss,
        from.at,
        to.at,
    );
    assert_eq!(made, samples.len() * clients * per);
    // Nothing left behind by the load: every container removed.
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
    // No growth beyond a small slack: fds that leak per container would
    // show as at least one per container here.
    assert!(
        to.fds <= from.fds + 8,
        "rrund's fds grew from {} to {}",
        from.fds,
        to.fds
    );
    assert!(
        to.rss <= from.rss + 16 * 1024,
        "rrund's RSS grew from {} to {} KiB",
        from.rss,
        to.rss
    );
}
