//! End-to-end tests of the image commands (rmi, save/load, import, prune,
//! images --format), rename, top, stats, events, prune, log rotation and
//! completions, each against its own rrund and the busybox image.

mod common;

use common::daemon::{http, inspect, Daemon};
use common::{bin, images, run_timeout, text, wait_for};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// The status of a GET (the body, maybe binary, is read and dropped).
fn status_of(d: &Daemon, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: rrun\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let head = String::from_utf8_lossy(&resp[..resp.len().min(64)]).into_owned();
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn wait_exited(d: &Daemon, name: &str) {
    wait_for(&format!("{name} to exit"), Duration::from_secs(30), || {
        (inspect(d, name)["State"]["Status"] == "exited").then_some(())
    });
}

#[test]
fn images_rmi_save_load_import_and_prune() {
    let d = Daemon::start();
    d.load_busybox();
    let out = d.ok(&["images"]);
    assert!(out.starts_with("REPOSITORY"), "{out}");
    assert!(out.contains("busybox"), "{out}");
    let id = d.ok(&["image", "inspect", "--format", "{{.Id}}", "busybox"]);
    let id = id.trim().to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(d.ok(&["images", "-q"]).trim(), &id[7..19]);
    assert_eq!(d.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(
        d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .trim(),
        "busybox:latest"
    );
    let j: serde_json::Value =
        serde_json::from_str(d.ok(&["image", "ls", "--format", "{{json .}}"]).trim()).unwrap();
    assert_eq!(j["Repository"], "busybox");

    // A stopped container uses the image: rmi is refused, as Docker's.
    d.ok(&["run", "--name", "user", "busybox", "true"]);
    let out = d.rrun(&["rmi", "busybox"]);
    assert_eq!(code(&out), 1, "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("conflict") && err.contains("container"),
        "{err}"
    );
    let out = d.rrun(&["rmi", &id]);
    assert!(
        text(&out.stderr).contains("must be forced"),
        "{}",
        text(&out.stderr)
    );

    // Names with a registry and slashes reach the image routes.
    d.ok(&["tag", "busybox", "localhost:5000/team/box:2"]);
    let got = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}}",
        "localhost:5000/team/box:2",
    ]);
    assert_eq!(got.trim(), id);
    assert_eq!(
        d.ok(&["image", "rm", "localhost:5000/team/box:2"]).trim(),
        "Untagged: localhost:5000/team/box:2"
    );
    // A second tag goes alone.
    d.ok(&["tag", "busybox", "mybox:1"]);
    assert_eq!(d.ok(&["rmi", "mybox:1"]).trim(), "Untagged: mybox:1");

    // save → rm → rmi → load round trip.
    let tar = d.dir.path().join("saved.tar");
    d.ok(&["save", "-o", tar.to_str().unwrap(), "busybox"]);
    assert!(std::fs::metadata(&tar).unwrap().len() > 100_000);
    d.ok(&["rm", "user"]);
    let out = d.ok(&["rmi", "busybox"]);
    assert!(out.contains("Untagged: busybox:latest"), "{out}");
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    assert!(!d.ok(&["images"]).contains("busybox"));
    let out = d.rrun(&["rmi", "busybox"]);
    assert!(
        text(&out.stderr).contains("No such image"),
        "{}",
        text(&out.stderr)
    );
    let out = d.ok(&["image", "load", "-i", tar.to_str().unwrap()]);
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    assert_eq!(
        d.ok(&["run", "--rm", "busybox", "echo", "back"]).trim(),
        "back"
    );
    // Through the API too, as `docker save` asks.
    assert_eq!(status_of(&d, "/v1.43/images/busybox/get"), 200);
    assert_eq!(status_of(&d, "/v1.43/images/nope/get"), 404);
    assert_eq!(status_of(&d, "/v1.43/images/get?names=busybox"), 200);

    // import: a root filesystem tarball with a CMD.
    let rootfs = d.dir.path().join("rootfs.tar");
    let out = run_timeout(
        60,
        Path::new("/bin/tar"),
        &[
            "-C",
            images().join("busybox/rootfs").to_str().unwrap(),
            "-cf",
            rootfs.to_str().unwrap(),
            ".",
        ],
        None,
    );
    assert!(out.status.success(), "tar: {}", text(&out.stderr));
    let out = d.ok(&[
        "import",
        "--change",
        r#"CMD ["echo", "imported"]"#,
        rootfs.to_str().unwrap(),
        "imported:1",
    ]);
    assert!(out.trim().starts_with("sha256:"), "{out}");
    assert_eq!(d.ok(&["run", "--rm", "imported:1"]).trim(), "imported");
    // From stdin, without a name: a dangling image.
    let host = d.host();
    let out = Command::new("timeout")
        .args([
            "60",
            bin("rrun").to_str().unwrap(),
            "-H",
            &host,
            "import",
            "-",
        ])
        .stdin(Stdio::from(std::fs::File::open(&rootfs).unwrap()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dangling = text(&out.stdout).trim().to_string();
    let out = d.ok(&["images", "--filter", "dangling=true", "-q", "--no-trunc"]);
    assert_eq!(out.trim(), dangling);

    // prune: the dangling one; with -a every image no container uses.
    let out = d.ok(&["image", "prune", "-f"]);
    assert!(out.contains(&format!("deleted: {dangling}")), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    d.ok(&["create", "--name", "keep", "busybox", "true"]);
    let out = d.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: imported:1"), "{out}");
    assert!(!out.contains("busybox"), "{out}");
    let left = d.ok(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(left.trim(), "busybox");
}

#[test]
fn rename_top_stats_and_formats() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&["network", "create", "ren"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "old",
        "--network",
        "ren",
        "busybox",
        "sleep",
        "1000",
    ]);
    d.ok(&["run", "-d", "--name", "other", "busybox", "sleep", "1000"]);
    d.ok(&["rename", "old", "new"]);
    assert_eq!(
        d.ok(&["inspect", "--format", "{{.Name}}", "new"]).trim(),
        "/new"
    );
    assert_ne!(code(&d.rrun(&["inspect", "old"])), 0);
    let out = d.rrun(&["rename", "new", "other"]);
    assert_eq!(code(&out), 125);
    assert!(
        text(&out.stderr).contains("already in use"),
        "{}",
        text(&out.stderr)
    );
    // The new name resolves on the network, the old one no longer.
    let ip = inspect(&d, "new")["NetworkSettings"]["Networks"]["ren"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "ren",
        "busybox",
        "nslookup",
        "new",
    ]);
    assert!(out.contains(&ip), "{out}");
    let out = d.rrun(&[
        "run",
        "--rm",
        "--network",
        "ren",
        "busybox",
        "nslookup",
        "old",
    ]);
    assert!(!text(&out.stdout).contains(&ip), "{}", text(&out.stdout));

    // top lists the container's process.
    let out = d.ok(&["top", "new"]);
    let mut lines = out.lines();
    assert!(lines.next().unwrap().starts_with("UID"), "{out}");
    assert!(out.contains("sleep 1000"), "{out}");
    // Only the container's: not the daemon, not the host's.
    assert_eq!(out.lines().count(), 2, "{out}");

    // stats: a memory number, Docker's columns.
    let out = d.ok(&["stats", "--no-stream", "new"]);
    assert!(
        out.starts_with("CONTAINER ID")
            && out.contains("MEM USAGE / LIMIT")
            && out.contains("PIDS"),
        "{out}"
    );
    let row = out.lines().nth(1).unwrap();
    assert!(row.contains("new") && row.contains("iB / "), "{out}");
    let (status, body) = http(&d.socket(), "GET", "/containers/new/stats?stream=0").unwrap();
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["memory_stats"]["usage"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(v["pids_stats"]["current"].as_u64().unwrap_or(0) >= 1, "{v}");
    assert!(v["networks"]["eth0"]["rx_bytes"].is_u64(), "{v}");
    let cpu = d.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.CPUPerc}}",
        "new",
    ]);
    assert!(
        cpu.trim().starts_with("new ") && cpu.trim().ends_with('%'),
        "{cpu}"
    );

    // ps and inspect --format.
    let names = d.ok(&["ps", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, vec!["new", "other"]);
    let j = d.ok(&["ps", "--filter", "name=new", "--format", "{{json .}}"]);
    let j: serde_json::Value = serde_json::from_str(j.trim()).unwrap();
    assert_eq!(j["Names"], "new");
    assert_eq!(j["State"], "running");
    assert_eq!(j["Networks"], "ren");
    let t = d.ok(&["ps", "--format", "table {{.Names}}\t{{.Status}}"]);
    assert!(t.starts_with("NAMES"), "{t}");
    assert_eq!(
        d.ok(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.Config.Image}}",
            "new"
        ])
        .trim(),
        "running busybox"
    );
}

/// `rrun events` as a child, its lines collected by a thread.
struct EventsChild {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl EventsChild {
    fn start(d: &Daemon, args: &[&str]) -> EventsChild {
        let mut child = Command::new("timeout")
            .args([
                "120",
                bin("rrun").to_str().unwrap(),
                "-H",
                &d.host(),
                "events",
            ])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        EventsChild { child, lines }
    }

    /// Lines until one contains `want`, with a deadline.
    fn until(&self, want: &str) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(want);
                    seen.push(l);
                    if hit {
                        return seen;
                    }
                }
                Err(_) => panic!("no event with {want:?}; saw {seen:?}"),
            }
        }
    }
}

impl Drop for EventsChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn events_stream_a_start_and_a_die() {
    let d = Daemon::start();
    d.load_busybox();
    let t0 = common::unix_now() - 1;
    let live = EventsChild::start(
        &d,
        &["--filter", "type=container", "--format", "{{json .}}"],
    );
    // The stream is open once the daemon answers it; a start before that
    // would be missed, so wait for a first event of our own.
    wait_for("the events stream", Duration::from_secs(20), || {
        d.ok(&["create", "--name", "probe", "busybox", "true"]);
        let got = live.lines.recv_timeout(Duration::from_secs(1)).ok();
        d.ok(&["rm", "probe"]);
        got
    });
    let out = d.rrun(&["run", "--name", "ev", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    let seen = live.until("\"die\"");
    let evs: Vec<serde_json::Value> = seen
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["Actor"]["Attributes"]["name"] == "ev")
        .collect();
    let actions: Vec<&str> = evs.iter().filter_map(|v| v["Action"].as_str()).collect();
    assert!(actions.contains(&"start"), "{seen:?}");
    let die = evs.iter().find(|v| v["Action"] == "die").unwrap();
    assert_eq!(die["Actor"]["Attributes"]["exitCode"], "3");
    assert_eq!(die["Type"], "container");
    assert_eq!(die["status"], "die");
    assert_eq!(die["scope"], "local");
    assert!(die["timeNano"].as_i64().unwrap() > 0);

    // History with since/until, filtered, in the default format.
    let until = (common::unix_now() + 1).to_string();
    let out = d.ok(&[
        "events",
        "--since",
        &t0.to_string(),
        "--until",
        &until,
        "--filter",
        "container=ev",
        "--filter",
        "event=die",
    ]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("container die"), "{out}");
    assert!(
        out.contains("exitCode=3") && out.contains("name=ev"),
        "{out}"
    );

    // Networks, volumes and images have their events too.
    let other = EventsChild::start(&d, &["--filter", "type=network", "--filter", "type=volume"]);
    std::thread::sleep(Duration::from_millis(300));
    d.ok(&["network", "create", "evnet"]);
    d.ok(&["volume", "create", "evvol"]);
    other.until("volume create evvol");
    let out = d.ok(&[
        "events",
        "--since",
        &t0.to_string(),
        "--until",
        &(common::unix_now() + 1).to_string(),
        "--filter",
        "type=network",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert!(out.contains("network create evnet"), "{out}");
    d.ok(&["tag", "busybox", "evimg:1"]);
    d.ok(&["rmi", "evimg:1"]);
    let out = d.ok(&[
        "events",
        "--since",
        &t0.to_string(),
        "--until",
        &(common::unix_now() + 1).to_string(),
        "--filter",
        "type=image",
        "--format",
        "{{.Action}}",
    ]);
    assert!(out.contains("tag") && out.contains("untag"), "{out}");
}

#[test]
fn system_and_container_prune() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&["network", "create", "inuse"]);
    d.ok(&["network", "create", "unused"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "up",
        "--network",
        "inuse",
        "busybox",
        "sleep",
        "1000",
    ]);
    let stopped = d.ok(&["run", "-d", "--name", "down", "busybox", "true"]);
    let stopped = stopped.trim();
    wait_exited(&d, "down");
    let out = d.ok(&["system", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(out.contains(stopped), "{out}");
    assert!(
        out.contains("Deleted Networks:") && out.contains("unused"),
        "{out}"
    );
    assert!(!out.contains("inuse"), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    let ps = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(ps.trim(), "up");
    let nets = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(nets.contains("inuse") && !nets.contains("unused"), "{nets}");
    // The running container still works on its network.
    assert_eq!(inspect(&d, "up")["State"]["Status"], "running");

    // container prune, and system prune --volumes for anonymous volumes.
    d.ok(&["run", "--name", "anon", "-v", "/data", "busybox", "true"]);
    let out = d.ok(&["container", "prune", "-f"]);
    assert!(out.starts_with("Deleted Containers:"), "{out}");
    let vols = d.ok(&["volume", "ls", "-q"]);
    assert_eq!(vols.lines().count(), 1, "{vols}");
    let out = d.ok(&["system", "prune", "-f", "--volumes"]);
    assert!(out.contains("Deleted Volumes:"), "{out}");
    assert!(d.ok(&["volume", "ls", "-q"]).trim().is_empty());
    assert_eq!(inspect(&d, "up")["State"]["Status"], "running");
    let df = d.ok(&["system", "df"]);
    assert!(
        df.starts_with("TYPE") && df.contains("Local Volumes"),
        "{df}"
    );
    assert!(df.lines().nth(2).unwrap().starts_with("Containers"), "{df}");
}

/// The real docker CLI (never dockerd) drives the endpoints of this file.
#[test]
fn the_docker_cli_uses_images_rename_top_stats_events_and_prune() {
    let d = Daemon::start();
    d.load_busybox();
    let docker_cmd = |args: &[&str]| d.docker(args, None);
    let ok = |args: &[&str]| d.docker_ok(args);
    let t0 = common::unix_now() - 1;
    assert!(ok(&["images"]).contains("busybox"));
    assert!(ok(&["image", "inspect", "--format", "{{.Id}}", "busybox"]).starts_with("sha256:"));
    let id = ok(&["run", "-d", "--name", "dk", "busybox", "sleep", "1000"]);
    let id = id.trim();
    ok(&["rename", "dk", "dk2"]);
    let top = ok(&["top", "dk2"]);
    assert!(
        top.contains("sleep 1000") && top.lines().count() == 2,
        "{top}"
    );
    let stats = ok(&["stats", "--no-stream", "dk2"]);
    assert!(stats.contains("dk2") && stats.contains("iB / "), "{stats}");
    let out = docker_cmd(&["rmi", "busybox"]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("conflict"),
        "{}",
        text(&out.stderr)
    );
    ok(&["tag", "busybox", "dkimg:1"]);
    assert!(ok(&["rmi", "dkimg:1"]).contains("Untagged: dkimg:1"));
    let until = (common::unix_now() + 1).to_string();
    let ev = ok(&[
        "events",
        "--since",
        &t0.to_string(),
        "--until",
        &until,
        "--filter",
        // Events carry the name of their time: filter on the id.
        &format!("container={id}"),
    ]);
    assert!(
        ev.contains("container start") && ev.contains("container rename"),
        "{ev}"
    );
    assert!(ok(&["system", "df"]).contains("Images"));
    ok(&["rm", "-f", "dk2"]);
    let out = ok(&["system", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space"), "{out}");
    // No index is queried (nor reachable here): one clear line.
    let out = docker_cmd(&["search", "busybox"]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("does not query Docker Hub's search index"),
        "{}",
        text(&out.stderr)
    );
}

/// The container's log files: the current one and the rotated ones.
fn log_files(d: &Daemon, name: &str) -> Vec<std::path::PathBuf> {
    let log = inspect(d, name)["LogPath"].as_str().unwrap().to_string();
    let log = Path::new(&log);
    let prefix = log.file_name().unwrap().to_str().unwrap().to_string();
    std::fs::read_dir(log.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_str().unwrap().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

#[test]
fn logs_rotate_and_are_read_across_files() {
    let d = Daemon::start();
    d.load_busybox();
    let script = "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done";
    d.ok(&[
        "run",
        "-d",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    wait_exited(&d, "chatty");
    let files = log_files(&d, "chatty");
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        let size = std::fs::metadata(f).unwrap().len();
        assert!(size <= 1024, "{} is {size} bytes", f.display());
    }
    let v = inspect(&d, "chatty");
    assert_eq!(v["HostConfig"]["LogConfig"]["Config"]["max-size"], "1k");
    // logs: the tail, in order, across the files.
    let out = d.ok(&["logs", "chatty"]);
    let nums: Vec<u32> = out
        .lines()
        .map(|l| l.strip_prefix("line-").unwrap().parse().unwrap())
        .collect();
    assert_eq!(*nums.last().unwrap(), 299, "{out}");
    assert!(nums[0] > 0, "nothing was rotated away: {out}");
    assert!(nums.windows(2).all(|w| w[1] == w[0] + 1), "{out}");
    assert!(nums.len() > 24, "only {} lines across 3 files", nums.len());
    let tail = d.ok(&["logs", "--tail", "3", "chatty"]);
    assert_eq!(tail, "line-297\nline-298\nline-299\n");

    // daemon.json's log-opts are the default (read at create).
    std::fs::write(
        d.dir.path().join("daemon.json"),
        r#"{"log-opts": {"max-size": "1k", "max-file": "2"}}"#,
    )
    .unwrap();
    d.ok(&["run", "--name", "dflt", "busybox", "sh", "-c", script]);
    assert_eq!(log_files(&d, "dflt").len(), 2);
    assert_eq!(
        inspect(&d, "dflt")["HostConfig"]["LogConfig"]["Config"]["max-file"],
        "2"
    );
    // Bad options are refused at create.
    let out = d.rrun(&["run", "--log-opt", "max-size=lots", "busybox", "true"]);
    assert_eq!(code(&out), 125);
    assert!(
        text(&out.stderr).contains("max-size"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn completions_for_three_shells() {
    for (shell, mark) in [
        ("bash", "_rrun()"),
        ("zsh", "#compdef rrun"),
        ("fish", "complete -c rrun"),
    ] {
        // A socket where nothing listens: completions need no daemon, and
        // must not start one.
        let out = run_timeout(
            20,
            &bin("rrun"),
            &["-H", "unix:///nonexistent/rrun.sock", "completion", shell],
            None,
        );
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        assert!(
            !text(&out.stderr).contains("no daemon answered"),
            "completion started a daemon"
        );
        let s = text(&out.stdout);
        assert!(s.contains(mark), "{shell}: {}", &s[..s.len().min(300)]);
        assert!(s.contains("rmi"), "{shell}");
        // Every command's flags, though the CLI builds only the one given
        // (deferred), and `help`'s tree down to compose's commands.
        assert!(
            s.contains("network-alias"),
            "{shell}: no `run --network-alias`"
        );
        assert!(
            s.contains("force-recreate"),
            "{shell}: no `compose up --force-recreate`"
        );
    }
    let bash = run_timeout(20, &bin("rrun"), &["completion", "bash"], None);
    assert!(text(&bash.stdout).contains("rrun__subcmd__help__subcmd__compose,up"));
    let out = run_timeout(
        20,
        &bin("rrun"),
        &["-H", "unix:///nonexistent/rrun.sock", "completion", "tcsh"],
        None,
    );
    assert_ne!(code(&out), 0);
}
