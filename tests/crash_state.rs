//! Issue 17, faults around the daemon's state: records torn or damaged
//! while rrund was down (a truncated container record, a network file of
//! bad JSON, a volume's metadata of garbage). rrund starts, names each
//! object it could not load in one log line, and manages everything else.

mod common;

use common::daemon::{inspect, serve, Daemon};
use common::{text, wait_for};
use std::time::Duration;

/// The log lines written since `from` (a byte offset) that mention `needle`.
fn new_lines_with(d: &Daemon, from: usize, needle: &str) -> Vec<String> {
    d.log()[from..]
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

#[test]
fn torn_records_at_start_up_are_named_and_the_rest_is_managed() {
    let mut d = Daemon::start();
    d.load_busybox();
    let (net, bad_net) = (common::unique("ts"), common::unique("tb"));
    d.ok(&["network", "create", &net]);
    let bad_net_id = d.ok(&["network", "create", &bad_net]).trim().to_string();
    let (vol, bad_vol) = (common::unique("tv"), common::unique("tw"));
    d.ok(&["volume", "create", &vol]);
    d.ok(&["volume", "create", &bad_vol]);
    let port = common::free_port();
    let web = serve(
        &d,
        &[
            "--network",
            &net,
            "-p",
            &format!("127.0.0.1:{port}:80"),
            "-v",
            &format!("{vol}:/data"),
        ],
    );
    let torn = d
        .ok(&["create", "--name", "torn", "busybox", "true"])
        .trim()
        .to_string();
    let kept = d
        .ok(&["create", "--name", "kept", "busybox", "true"])
        .trim()
        .to_string();

    d.kill9();
    let record = d
        .data_root()
        .join("containers")
        .join(&torn)
        .join("container.json");
    let full = std::fs::read(&record).unwrap();
    std::fs::write(&record, &full[..full.len() / 2]).unwrap();
    let net_file = d
        .data_root()
        .join("networks")
        .join(format!("{bad_net_id}.json"));
    assert!(net_file.exists(), "{} is not there", net_file.display());
    std::fs::write(&net_file, b"{\"Name\": \"half").unwrap();
    let meta = d
        .data_root()
        .join("volumes")
        .join(&bad_vol)
        .join("volume.json");
    assert!(meta.exists(), "{} is not there", meta.display());
    std::fs::write(&meta, [0xffu8, 0x00, 0x17, 0x42, 0x99]).unwrap();

    let from = d.log().len();
    d.spawn();
    // One line for each object that did not load, naming it.
    for (what, needle) in [
        ("the torn container", torn.as_str()),
        ("the bad network file", bad_net_id.as_str()),
        ("the garbage volume", bad_vol.as_str()),
    ] {
        let lines = new_lines_with(&d, from, needle);
        assert_eq!(lines.len(), 1, "{what}: log lines {lines:#?}");
    }
    // Everything else is managed: the running container kept running and
    // serves on its port, the lists work and show the good objects.
    assert_eq!(inspect(&d, &web)["State"]["Status"], "running");
    let url = format!("http://127.0.0.1:{port}/");
    let page = wait_for("the published port", Duration::from_secs(20), || {
        let out = d.net.exec(10, &["curl", "-sf", "-m", "3", &url]);
        out.status.success().then(|| text(&out.stdout))
    });
    assert_eq!(page.trim(), &web[..12]);
    let ps = d.ok(&["ps", "-a", "--format", "{{.ID}}"]);
    assert!(ps.contains(&kept[..12]) && ps.contains(&web[..12]), "{ps}");
    assert!(!ps.contains(&torn[..12]), "{ps}");
    let nets = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(nets.lines().any(|l| l == net), "{nets}");
    let vols = d.ok(&["volume", "ls", "-q"]);
    assert!(vols.lines().any(|l| l == vol), "{vols}");
    assert!(!vols.lines().any(|l| l == bad_vol), "{vols}");
    // New objects work, beside the damaged ones.
    d.ok(&["start", "kept"]);
    let other = common::unique("tn");
    d.ok(&["network", "create", &other]);
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        &other,
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "sh",
        "-c",
        "echo ok > /data/x && cat /data/x",
    ]);
    assert_eq!(out, "ok\n");
    d.ok(&["rm", "-f", &web, "kept"]);
    d.ok(&["network", "rm", &net, &other]);
    d.ok(&["volume", "rm", &vol]);
    // The damaged files are left as they were: they may be the user's.
    assert!(record.exists() && net_file.exists() && meta.exists());
}

/// An auto-remove container's record is never synced (`store::durable`):
/// whatever of it a crash leaves, start-up removes the container unless it
/// runs, as Docker's restore does. One created and never started (it goes
/// with its anonymous volume), one whose record a host crash lost, one
/// whose record it left empty, and one running, which runs on and goes
/// when it ends.
#[test]
fn auto_remove_containers_that_do_not_run_are_removed_at_start_up() {
    let mut d = Daemon::start();
    d.load_busybox();
    let volumes_before = d.ok(&["volume", "ls", "-q"]);
    let created = d
        .ok(&[
            "create", "--rm", "-v", "/data", "--name", "arc", "busybox", "true",
        ])
        .trim()
        .to_string();
    let lost = d
        .ok(&["create", "--rm", "--name", "arl", "busybox", "true"])
        .trim()
        .to_string();
    let torn = d
        .ok(&["create", "--rm", "--name", "art", "busybox", "true"])
        .trim()
        .to_string();
    let running = d
        .ok(&[
            "run", "-d", "--rm", "--name", "arr", "busybox", "sleep", "1000",
        ])
        .trim()
        .to_string();
    assert_ne!(d.ok(&["volume", "ls", "-q"]), volumes_before);

    d.kill9();
    let containers = d.data_root().join("containers");
    let dir = |id: &str| containers.join(id);
    std::fs::remove_file(dir(&lost).join("container.json")).unwrap();
    std::fs::write(dir(&torn).join("container.json"), b"").unwrap();
    d.spawn();

    let names = d.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(names.trim(), "arr running", "{names}");
    for id in [&created, &lost, &torn] {
        assert!(!dir(id).exists(), "{id} is still on disk");
    }
    // Not a torn record of a container that is kept: that one is left
    // as it is (`torn_records_at_start_up_are_named_and_the_rest_is_managed`).
    assert_eq!(d.ok(&["volume", "ls", "-q"]), volumes_before);
    d.ok(&["create", "--name", "arc", "busybox", "true"]);
    d.ok(&["rm", "arc"]);
    d.ok(&["kill", &running]);
    wait_for("arr removed", Duration::from_secs(20), || {
        (!d.ok(&["ps", "-a", "-q"]).contains(&running[..12])).then_some(())
    });
}

/// The cgroup directories of a container: `/sys/fs/cgroup/rrun/<id>` on
/// v2, `/sys/fs/cgroup/<hierarchy>/rrun/<id>` on v1.
fn cgroup_dirs(id: &str) -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new("/sys/fs/cgroup");
    std::iter::once(root.to_path_buf())
        .chain(std::fs::read_dir(root).unwrap().flatten().map(|h| h.path()))
        .map(|h| h.join("rrun").join(id))
        .filter(|d| d.is_dir())
        .collect()
}

/// A daemon killed between the removal of a container's record and the
/// rest (an auto-remove container's exit): the next one ends what the
/// directory left names, its processes and cgroups with it.
#[test]
fn a_running_container_whose_record_is_lost_goes_with_its_processes_and_cgroups() {
    let mut d = Daemon::start();
    d.load_busybox();
    let id = d
        .ok(&["run", "-d", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    let pid: i32 = d
        .ok(&["inspect", "-f", "{{.State.Pid}}", &id])
        .trim()
        .parse()
        .unwrap();
    let cgroups = cgroup_dirs(&id);
    assert!(
        !cgroups.is_empty(),
        "no cgroup of {id} under /sys/fs/cgroup/*/rrun"
    );

    d.kill9();
    let dir = d.data_root().join("containers").join(&id);
    std::fs::remove_file(dir.join("container.json")).unwrap();
    d.spawn();

    assert!(!dir.exists(), "{} is still on disk", dir.display());
    wait_for("the container's init gone", Duration::from_secs(10), || {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie of its shim.
        (state.is_empty() || state.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')))
            .then_some(())
    });
    for c in &cgroups {
        assert!(!c.exists(), "{} is left", c.display());
    }
    assert_eq!(d.ok(&["ps", "-a", "-q"]).trim(), "");
}
