//! What a container or a whole daemon may leave on the host, listed so a
//! crash test can say exactly what was left: mounts, executor state,
//! cgroups, processes, container directories, veths, nftables rules and
//! IP leases.

use super::daemon::Daemon;
use super::text;
use std::path::Path;

/// Everything of container `id` still on the host (empty: nothing left).
pub fn of_container(d: &Daemon, id: &str) -> Vec<String> {
    let mut left = Vec::new();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    left.extend(
        mounts
            .lines()
            .filter(|l| l.contains(id))
            .map(|l| format!("mount {l}")),
    );
    for p in [
        d.exec_root().join("netns").join(id),
        d.exec_root().join(id),
        d.data_root().join("containers").join(id),
    ] {
        if p.exists() {
            left.push(format!("path {}", p.display()));
        }
    }
    for ctl in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let cg = ctl.path().join("rrun").join(id);
        if cg.exists() {
            left.push(format!("cgroup {}", cg.display()));
        }
    }
    for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(id) {
            left.push(format!(
                "process {} {:?}",
                p.path().display(),
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    left
}

/// Everything the daemon's containers and networks left once all of them
/// are removed (poll it with [`settled`]: an exited container's veth pair
/// goes with its network namespace, which the kernel removes a moment after
/// its last process): veths, published-port rules, leases on `nets`, container
/// directories, mounts under its state directory, shims of its data root.
pub fn of_daemon(d: &Daemon, nets: &[&str]) -> Vec<String> {
    let mut left = Vec::new();
    let veths = d
        .net
        .exec(10, &["ip", "-o", "link", "show", "type", "veth"]);
    for l in text(&veths.stdout).lines() {
        left.push(format!("veth {l}"));
    }
    let rules = text(&d.net.exec(10, &["nft", "list", "ruleset"]).stdout);
    let dnat = ["dnat to", "dnat ip to", "dnat ip6 to"];
    for l in rules.lines().filter(|l| dnat.iter().any(|r| l.contains(r))) {
        left.push(format!("nft rule {}", l.trim()));
    }
    for n in nets {
        let out = d.rrun(&["network", "inspect", n]);
        if !out.status.success() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if v[0]["Containers"] != serde_json::json!({}) {
            left.push(format!("leases on {n}: {}", v[0]["Containers"]));
        }
    }
    let containers = d.data_root().join("containers");
    for e in std::fs::read_dir(&containers)
        .into_iter()
        .flatten()
        .flatten()
    {
        left.push(format!("container directory {}", e.path().display()));
    }
    left.extend(mounts_of(d).into_iter().map(|l| format!("mount {l}")));
    left.extend(shims_under(&d.data_root()));
    left
}

/// The mounts under the daemon's directory that a container left: the
/// volumes' and the daemon's own mounts of its state (none when no
/// container runs) are what a crash could leak. (The network namespaces
/// the daemon keeps ready for the next starts are not mounted.)
pub fn mounts_of(d: &Daemon) -> Vec<String> {
    super::host_mounts_containing(d.dir.path().to_str().unwrap())
}

/// Shim processes whose container directory is under `root`.
fn shims_under(root: &Path) -> Vec<String> {
    let root = root.to_string_lossy();
    let mut left = Vec::new();
    for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_shim = args.get(1).is_some_and(|a| *a == b"shim");
        if is_shim && String::from_utf8_lossy(&cmdline).contains(root.as_ref()) {
            left.push(format!(
                "shim {} {:?}",
                p.path().display(),
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    left
}

/// What `list` still shows once it shows nothing or 10 s have passed: some
/// leftovers go a moment after the call that removes them (a shim's own
/// `rrun-oci delete --force`, the host end of a veth going with its network
/// namespace), so a check polls before it asserts.
pub fn settled(mut list: impl FnMut() -> Vec<String>) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut left = list();
    while !left.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        left = list();
    }
    left
}
