//! Issue 17, the upstream DNS server slow or gone: resolving container
//! names from a container is answered by rrund itself and is not slowed by
//! an upstream that never answers (silent) or is not there (gone).

mod common;

use common::daemon::{inspect, nslookup_in, serve, Daemon, DnsStub};
use common::text;
use std::path::Path;
use std::time::{Duration, Instant};

/// 50 lookups of `name` from the container whose init is `pid`, in one
/// shell loop; the time they took, or the first failure.
fn fifty_lookups(pid: &str, name: &str) -> Result<Duration, String> {
    let script = format!(
        "i=0; while [ $i -lt 50 ]; do nslookup {name} >/dev/null || exit 1; i=$((i+1)); done"
    );
    let t = Instant::now();
    let out = common::run_timeout(
        120,
        Path::new("nsenter"),
        &["-t", pid, "-m", "-n", "sh", "-c", &script],
        None,
    );
    let took = t.elapsed();
    if out.status.success() {
        Ok(took)
    } else {
        Err(format!(
            "{} after {took:?}: {}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        ))
    }
}

#[test]
fn container_names_resolve_fast_with_the_upstream_silent_or_gone() {
    let mut d = Daemon::start();
    d.load_busybox();
    let net = common::unique("dn");
    d.ok(&["network", "create", &net]);
    let web_name = format!("{net}-web");
    let web = serve(&d, &["--name", &web_name, "--network", &net]);
    let client = d
        .ok(&["run", "-d", "--network", &net, "busybox", "sleep", "100000"])
        .trim()
        .to_string();
    let ip = inspect(&d, &web)["NetworkSettings"]["Networks"][&net]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    for (what, upstream) in [("silent", DnsStub::silent()), ("gone", DnsStub::gone())] {
        d.kill9();
        d.dns = upstream;
        d.spawn();
        let pid = inspect(&d, &client)["State"]["Pid"]
            .as_i64()
            .unwrap()
            .to_string();
        let answer = nslookup_in(&d, &client, &web_name);
        assert!(answer.contains(&ip), "upstream {what}: {answer}");
        let took = fifty_lookups(&pid, &web_name)
            .unwrap_or_else(|e| panic!("upstream {what}: lookups failed: {e}"));
        let queries = d.dns.queries.load(std::sync::atomic::Ordering::Relaxed);
        println!("upstream {what}: 50 lookups of a container name in {took:.1?}, {queries} queries reached the upstream");
        // Generous: a lookup that waited for the upstream even once per
        // query would take 50 x the 1.5 s upstream timeout.
        assert!(
            took < Duration::from_secs(10),
            "upstream {what}: 50 lookups took {took:?}"
        );
    }
}
