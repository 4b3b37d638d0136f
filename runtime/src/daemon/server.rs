//! Binding the socket, readiness, and serving until SIGTERM.

use anyhow::{Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use super::{api, Daemon, Options};

/// Runs the daemon; returns when SIGTERM or SIGINT arrives.
pub fn run(opts: Options) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    // Opened outside the runtime and dropped after it: the registry client
    // is reqwest's blocking one, which must not be built or dropped on an
    // async thread.
    let socket = opts.socket.clone();
    let daemon = Daemon::open(opts)?;
    let res = rt.block_on(serve(daemon.clone(), socket));
    drop(rt);
    drop(daemon);
    res
}

async fn serve(daemon: Arc<Daemon>, socket: std::path::PathBuf) -> Result<()> {
    daemon.reconcile();
    watch_firewall(&daemon);
    let listener = bind(&socket)?;
    tracing::info!(socket = %socket.display(), "listening");
    // Only now can a client connect.
    notify_ready();
    let app = api::router(daemon);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .context("serve")?;
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

/// How often rrund checks that its firewall rules are still in place.
const FIREWALL_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Restores rrun's nftables rules (and its DOCKER-USER rules) after a
/// firewall reload, within [`FIREWALL_CHECK`]; a thread of its own, as
/// netd's calls block. It holds the daemon weakly and ends with it.
fn watch_firewall(daemon: &Arc<Daemon>) {
    let weak = Arc::downgrade(daemon);
    let spawned = std::thread::Builder::new()
        .name("firewall-watch".into())
        .spawn(move || loop {
            std::thread::sleep(FIREWALL_CHECK);
            let Some(d) = weak.upgrade() else { return };
            match d.netd.check_firewall() {
                Ok(true) => tracing::info!("restored the firewall rules"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "check the firewall rules"),
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no firewall watch: rules removed by a reload stay removed");
    }
}

fn bind(path: &Path) -> Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    // A socket left by a daemon that died: refuse if one still answers.
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "another daemon is listening on {}; stop it first",
                path.display()
            );
        }
        std::fs::remove_file(path).with_context(|| format!("remove stale {}", path.display()))?;
    }
    let l =
        tokio::net::UnixListener::bind(path).with_context(|| format!("bind {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", path.display()))?;
    if let Some(gid) = group_id("rrun") {
        let _ = nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid)));
    }
    Ok(l)
}

/// The id of the group `name`: from /etc/group, else from `getent group`
/// (as dockerd looks up its socket's group). Not through the C library's
/// NSS in this process: that loads its modules into the daemon for good.
fn group_id(name: &str) -> Option<u32> {
    let in_line = |line: &str| gid_in(line, name);
    let file = std::fs::read_to_string("/etc/group").unwrap_or_default();
    if let Some(gid) = file.lines().find_map(in_line) {
        return Some(gid);
    }
    let out = std::process::Command::new("getent")
        .args(["group", name])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(in_line)
}

/// The gid on an /etc/group line (`name:x:gid:members`) if it is `name`'s.
fn gid_in(line: &str, name: &str) -> Option<u32> {
    let mut f = line.split(':');
    if f.next() != Some(name) {
        return None;
    }
    f.nth(1)?.trim().parse().ok()
}

/// sd_notify(READY=1) when started by systemd with Type=notify.
fn notify_ready() {
    let Some(addr) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let bytes = addr.as_encoded_bytes();
    let res = if let Some(abstract_name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name)
            .and_then(|a| sock.send_to_addr(b"READY=1", &a))
    } else {
        sock.send_to(b"READY=1", Path::new(&addr))
    };
    if let Err(e) = res {
        tracing::warn!(error = %e, "sd_notify");
    }
}

async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down; containers keep running");
}

#[cfg(test)]
mod group_tests {
    use super::gid_in;

    #[test]
    fn a_group_line_gives_its_gid_by_name_only() {
        assert_eq!(gid_in("rrun:x:997:alice,bob", "rrun"), Some(997));
        assert_eq!(gid_in("rrunners:x:998:", "rrun"), None);
        assert_eq!(gid_in("rrun:x:", "rrun"), None);
        assert_eq!(gid_in("docker:x:999:", "rrun"), None);
    }
}
