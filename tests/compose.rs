//! `rrun compose` end to end, on busybox: a project in the style of the
//! Compose seed (a db with a named volume, an init directory, an env file
//! and a healthcheck; an app depending on the db being healthy, with
//! `.env` interpolation, `extra_hosts` and a published port; a sidecar in
//! the app's network namespace), through `config`, `up -d`, `ps`, `logs`,
//! `exec`, `run --rm --service-ports`, `stop`, `up -d` again with the
//! data kept, a changed environment recreating only that service,
//! `--scale`, and `down --rmi all --volumes --remove-orphans` leaving
//! nothing; an external network shared by two projects; a dependency that
//! exits failing `up` at once, naming it.

mod common;

use common::daemon::{inspect, Daemon};
use common::{text, unique, wait_for};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// busybox's `sleep` as PID 1 ignores SIGTERM; this one stops at once.
const IDLE: &str = "trap 'exit 0' TERM; sleep 3600 & wait";

fn seed_project() -> String {
    format!(
        r#"services:
  db:
    image: busybox
    hostname: database
    env_file: db.env
    command: ["sh", "-c", "cat /init/seed.txt >> /data/db.txt; echo db ready for $$DB_NAME; {IDLE}"]
    volumes:
      - dbdata:/data
      - ./init:/init:ro
    healthcheck:
      test: ["CMD-SHELL", "test -s /data/db.txt"]
      interval: 1s
      retries: 30
  app:
    image: busybox
    depends_on:
      db:
        condition: service_healthy
    environment:
      DB_HOST: db
      GREETING: ${{GREETING}}
    extra_hosts:
      - "legacy:10.1.2.3"
    ports:
      - "127.0.0.1:${{APP_PORT}}:8080"
    command: ["sh", "-c", "mkdir -p /www && echo $$GREETING > /www/index.html && exec httpd -f -p 8080 -h /www"]
  sidecar:
    image: busybox
    network_mode: "service:app"
    command: ["sh", "-c", "{IDLE}"]
volumes:
  dbdata:
"#
    )
}

/// A daemon with busybox, and a project directory with `yaml` as its
/// compose.yaml.
fn busybox_project(yaml: &str) -> (Daemon, tempfile::TempDir) {
    let d = Daemon::start();
    d.load_busybox();
    let proj = tempfile::tempdir().unwrap();
    std::fs::write(proj.path().join("compose.yaml"), yaml).unwrap();
    (d, proj)
}

/// `rrun compose -p <project> --project-directory <dir> ARGS…`.
fn compose(d: &Daemon, dir: &Path, project: &str, args: &[&str]) -> Output {
    let dir = dir.display().to_string();
    let mut full = vec!["compose", "--project-directory", &dir, "-p", project];
    full.extend_from_slice(args);
    d.rrun(&full)
}

fn ok(d: &Daemon, dir: &Path, project: &str, args: &[&str]) -> String {
    let out = compose(d, dir, project, args);
    assert!(
        out.status.success(),
        "rrun compose {args:?}: {}{}\n--- rrund log ---\n{}",
        text(&out.stdout),
        text(&out.stderr),
        d.log()
    );
    text(&out.stdout)
}

fn id_of(d: &Daemon, name: &str) -> String {
    inspect(d, name)["Id"].as_str().unwrap_or("").to_string()
}

fn write_seed(dir: &Path, port: u16) {
    std::fs::write(dir.join("compose.yaml"), seed_project()).unwrap();
    std::fs::write(
        dir.join(".env"),
        format!("GREETING=hello-from-env\nAPP_PORT={port}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("db.env"), "DB_NAME=todos\n").unwrap();
    std::fs::create_dir_all(dir.join("init")).unwrap();
    std::fs::write(dir.join("init/seed.txt"), "seeded\n").unwrap();
}

/// `config`, `up -d`, and what Compose v2 names and labels.
fn up_and_check_labels(d: &Daemon, dir: &Path, p: &str) {
    let config = ok(d, dir, p, &["config"]);
    assert!(config.contains("GREETING: hello-from-env"), "{config}");
    assert_eq!(
        ok(d, dir, p, &["config", "--services"]),
        "db\napp\nsidecar\n"
    );
    assert_eq!(ok(d, dir, p, &["config", "--volumes"]), "dbdata\n");
    assert_eq!(ok(d, dir, p, &["config", "-q"]), "");

    ok(d, dir, p, &["up", "-d"]);
    let v = inspect(d, &format!("{p}-app-1"));
    let labels = &v["Config"]["Labels"];
    assert_eq!(labels["com.docker.compose.project"], p);
    assert_eq!(labels["com.docker.compose.service"], "app");
    assert_eq!(labels["com.docker.compose.container-number"], "1");
    assert_eq!(labels["com.docker.compose.oneoff"], "False");
    assert_eq!(
        labels["com.docker.compose.config-hash"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert_eq!(
        labels["com.docker.compose.project.working_dir"],
        dir.display().to_string()
    );
    let net = &v["NetworkSettings"]["Networks"][format!("{p}_default")];
    let aliases = net["Aliases"].to_string();
    assert!(aliases.contains("\"app\""), "{v}");
    let vol = d.ok(&["volume", "inspect", &format!("{p}_dbdata")]);
    assert!(
        vol.contains("\"com.docker.compose.volume\": \"dbdata\""),
        "{vol}"
    );
}

/// `ps`, `exec`, the published port, `logs`, the shared namespace.
fn inspect_running(d: &Daemon, dir: &Path, p: &str, port: u16) {
    let ps = ok(d, dir, p, &["ps"]);
    for name in ["app-1", "db-1", "sidecar-1"] {
        let line = ps
            .lines()
            .find(|l| l.starts_with(&format!("{p}-{name}")))
            .unwrap_or_else(|| panic!("{name}: {ps}"));
        assert!(line.contains("Up"), "{ps}");
    }
    assert!(ps.starts_with("NAME "), "{ps}");
    assert_eq!(ok(d, dir, p, &["ps", "--services"]), "app\ndb\nsidecar\n");
    assert_eq!(ok(d, dir, p, &["ps", "-q"]).lines().count(), 3);
    let json = ok(d, dir, p, &["ps", "--format", "json", "db"]);
    let row: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(row["Service"], "db");
    assert_eq!(row["Project"], p);

    let out = ok(d, dir, p, &["exec", "-T", "app", "sh", "-c",
        "echo $DB_HOST; nslookup db 127.0.0.11 >/dev/null && echo resolved; grep legacy /etc/hosts"]);
    assert!(out.starts_with("db\nresolved\n10.1.2.3"), "{out}");
    assert_eq!(
        ok(d, dir, p, &["exec", "-T", "db", "hostname"]).trim(),
        "database"
    );
    let env = ok(
        d,
        dir,
        p,
        &[
            "exec",
            "-T",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "db",
            "sh",
            "-c",
            "echo $X $PWD",
        ],
    );
    assert_eq!(env.trim(), "1 /tmp");
    // stdin reaches the command, as `exec -T db mysql < dump.sql` needs.
    let dir_s = dir.display().to_string();
    let piped = common::run_timeout(
        30,
        &common::bin("rrun"),
        &[
            "-H",
            &d.host(),
            "compose",
            "--project-directory",
            &dir_s,
            "-p",
            p,
            "exec",
            "-T",
            "db",
            "sh",
            "-c",
            "tr a-z A-Z",
        ],
        Some("piped in\n"),
    );
    assert_eq!(text(&piped.stdout), "PIPED IN\n", "{}", text(&piped.stderr));
    let piped = common::run_timeout(
        30,
        &common::bin("rrun"),
        &[
            "-H",
            &d.host(),
            "compose",
            "--project-directory",
            &dir_s,
            "-p",
            p,
            "run",
            "--rm",
            "-T",
            "--no-deps",
            "db",
            "sh",
            "-c",
            "tr a-z A-Z",
        ],
        Some("to a one-off\n"),
    );
    assert_eq!(
        text(&piped.stdout),
        "TO A ONE-OFF\n",
        "{}",
        text(&piped.stderr)
    );
    // The sidecar shares the app's network namespace: its localhost:8080
    // is the app's server.
    let page = wait_for(
        "the app's port from the sidecar",
        Duration::from_secs(20),
        || {
            let o = compose(
                d,
                dir,
                p,
                &[
                    "exec",
                    "-T",
                    "sidecar",
                    "wget",
                    "-qO-",
                    "http://127.0.0.1:8080/",
                ],
            );
            o.status.success().then(|| text(&o.stdout))
        },
    );
    assert_eq!(page, "hello-from-env\n");
    let page = wait_for("the app's published port", Duration::from_secs(20), || {
        let url = format!("http://127.0.0.1:{port}/");
        let o = d.net.exec(10, &["busybox", "wget", "-qO-", &url]);
        o.status.success().then(|| text(&o.stdout))
    });
    assert_eq!(page, "hello-from-env\n");
    let logs = ok(d, dir, p, &["logs", "--no-color", "db"]);
    assert!(logs.contains("db-1  | db ready for todos"), "{logs}");
    let tail = ok(d, dir, p, &["logs", "--tail", "1", "-t", "db"]);
    assert_eq!(tail.lines().count(), 1, "{tail}");
}

/// `run --rm --service-ports`: a one-off container beside the service's,
/// publishing its ports, gone after.
fn one_off(d: &Daemon, dir: &Path, p: &str, port: u16) {
    let out = ok(
        d,
        dir,
        p,
        &[
            "run",
            "--rm",
            "-T",
            "--no-deps",
            "-e",
            "ONE=off",
            "db",
            "sh",
            "-c",
            "echo $ONE $DB_NAME; hostname",
        ],
    );
    assert!(out.starts_with("off todos\ndatabase"), "{out}");
    // -v and --entrypoint of run.
    let extra = tempfile::tempdir().unwrap();
    std::fs::write(extra.path().join("f"), "mounted\n").unwrap();
    let vol = format!("{}:/mnt:ro", extra.path().display());
    let args = [
        "run",
        "--rm",
        "-T",
        "--no-deps",
        "-v",
        &vol,
        "--entrypoint",
        "cat",
        "db",
        "/mnt/f",
    ];
    assert_eq!(ok(d, dir, p, &args), "mounted\n");
    let left = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!left.contains("-run-"), "{left}");
    // With the service's ports (its own container stopped, which holds
    // them): the one-off container answers on the published port.
    ok(d, dir, p, &["stop", "-t", "1", "sidecar", "app"]);
    let args = [
        "run",
        "-d",
        "--service-ports",
        "--no-deps",
        "-e",
        "GREETING=one-off",
        "app",
    ];
    let name = ok(d, dir, p, &args);
    let name = name.trim();
    assert!(name.starts_with(&format!("{p}-app-run-")), "{name}");
    let v = inspect(d, name);
    assert_eq!(v["Config"]["Labels"]["com.docker.compose.oneoff"], "True");
    let page = |port: u16| {
        wait_for(
            "the one-off's published port",
            Duration::from_secs(20),
            || {
                let url = format!("http://127.0.0.1:{port}/");
                let o = d.net.exec(10, &["busybox", "wget", "-qO-", &url]);
                o.status.success().then(|| text(&o.stdout))
            },
        )
    };
    assert_eq!(page(port), "one-off\n");
    d.ok(&["rm", "-f", name]);
    // `-p` and `-l` of run: a port of its own, a label.
    let publish = format!("127.0.0.1:{}:8080", port + 1);
    let env = "GREETING=published";
    let args = [
        "run",
        "-d",
        "--no-deps",
        "-p",
        &publish,
        "-l",
        "team=web",
        "-e",
        env,
        "app",
    ];
    let name = ok(d, dir, p, &args).trim().to_string();
    assert_eq!(inspect(d, &name)["Config"]["Labels"]["team"], "web");
    assert_eq!(page(port + 1), "published\n");
    d.ok(&["rm", "-f", &name]);
    // `up` starts the stopped containers again, the same ones.
    let app_id = id_of(d, &format!("{p}-app-1"));
    ok(d, dir, p, &["up", "-d"]);
    assert_eq!(id_of(d, &format!("{p}-app-1")), app_id);
    let v = inspect(d, &format!("{p}-sidecar-1"));
    assert!(v["State"]["Running"].as_bool().unwrap(), "{v}");
}

/// `stop`, `up -d` with the data kept; a changed environment recreates
/// only that service (and the sidecar in its namespace).
fn stop_and_change(d: &Daemon, dir: &Path, p: &str) {
    let db_id = id_of(d, &format!("{p}-db-1"));
    ok(d, dir, p, &["stop", "-t", "1"]);
    assert_eq!(ok(d, dir, p, &["ps", "-q"]), "", "stopped");
    assert_eq!(ok(d, dir, p, &["ps", "-a", "-q"]).lines().count(), 3);
    ok(d, dir, p, &["up", "-d"]);
    let data = wait_for("the second seed line", Duration::from_secs(20), || {
        let o = compose(d, dir, p, &["exec", "-T", "db", "cat", "/data/db.txt"]);
        let t = text(&o.stdout);
        (o.status.success() && t.lines().count() == 2).then_some(t)
    });
    assert_eq!(data, "seeded\nseeded\n");
    assert_eq!(id_of(d, &format!("{p}-db-1")), db_id, "the same container");

    let app_id = id_of(d, &format!("{p}-app-1"));
    let env = std::fs::read_to_string(dir.join(".env")).unwrap();
    std::fs::write(dir.join(".env"), env.replace("hello-from-env", "changed")).unwrap();
    ok(d, dir, p, &["up", "-d"]);
    assert_eq!(id_of(d, &format!("{p}-db-1")), db_id, "db untouched");
    assert_ne!(id_of(d, &format!("{p}-app-1")), app_id, "app recreated");
    let greeting = ok(
        d,
        dir,
        p,
        &["exec", "-T", "app", "sh", "-c", "echo $GREETING"],
    );
    assert_eq!(greeting.trim(), "changed");
    let page = wait_for(
        "the new app through the sidecar",
        Duration::from_secs(20),
        || {
            let o = compose(
                d,
                dir,
                p,
                &[
                    "exec",
                    "-T",
                    "sidecar",
                    "wget",
                    "-qO-",
                    "http://127.0.0.1:8080/",
                ],
            );
            o.status.success().then(|| text(&o.stdout))
        },
    );
    assert_eq!(page, "changed\n");
    ok(d, dir, p, &["up", "-d", "--scale", "sidecar=2", "sidecar"]);
    assert!(ok(d, dir, p, &["ps"]).contains(&format!("{p}-sidecar-2")));
    ok(
        d,
        dir,
        p,
        &["exec", "-T", "--index", "2", "sidecar", "true"],
    );
    let third = compose(
        d,
        dir,
        p,
        &["exec", "-T", "--index", "3", "sidecar", "true"],
    );
    assert_eq!(third.status.code(), Some(1), "no third sidecar");
    let uid = ok(d, dir, p, &["exec", "-T", "-u", "nobody", "db", "id", "-u"]);
    assert_eq!(uid.trim(), "65534");
}

#[test]
fn a_seed_project_up_ps_logs_exec_run_stop_change_down() {
    let d = Daemon::start();
    d.load_busybox();
    let proj = tempfile::tempdir().unwrap();
    let dir = proj.path();
    let p = unique("cs");
    write_seed(dir, 18081);
    up_and_check_labels(&d, dir, &p);
    inspect_running(&d, dir, &p, 18081);
    one_off(&d, dir, &p, 18081);
    stop_and_change(&d, dir, &p);

    // An orphan (a service gone from the file) and a one-off container:
    // down takes both, and the images, volumes and network.
    ok(
        &d,
        dir,
        &p,
        &["run", "-d", "--no-deps", "db", "sh", "-c", IDLE],
    );
    let file = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    let without = file.split("  sidecar:").next().unwrap().to_string() + "volumes:\n  dbdata:\n";
    std::fs::write(dir.join("compose.yaml"), without).unwrap();
    let out = compose(&d, dir, &p, &["up", "-d"]);
    assert!(
        text(&out.stderr).contains("Found orphan containers"),
        "{}",
        text(&out.stderr)
    );
    ok(
        &d,
        dir,
        &p,
        &[
            "down",
            "--rmi",
            "all",
            "--volumes",
            "--remove-orphans",
            "-t",
            "1",
        ],
    );
    let left = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left, "", "no container left");
    assert!(!d
        .ok(&["volume", "ls", "-q"])
        .contains(&format!("{p}_dbdata")));
    assert!(!d
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .contains(&format!("{p}_default")));
    assert!(!d
        .ok(&["images", "--format", "{{.Repository}}"])
        .contains("busybox"));
}

#[test]
fn two_projects_share_an_external_network() {
    let d = Daemon::start();
    d.load_busybox();
    let shared = unique("shared");
    d.ok(&["network", "create", &shared]);
    let (back, front) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = |svc: &str| {
        format!(
            "services:\n  {svc}:\n    image: busybox\n    command: [\"sh\", \"-c\", \"{IDLE}\"]\n    networks: [shared]\nnetworks:\n  shared:\n    external: true\n    name: {shared}\n"
        )
    };
    std::fs::write(back.path().join("compose.yaml"), file("api")).unwrap();
    std::fs::write(front.path().join("compose.yaml"), file("web")).unwrap();
    let (pb, pf) = (unique("back"), unique("front"));
    ok(&d, back.path(), &pb, &["up", "-d"]);
    ok(&d, front.path(), &pf, &["up", "-d"]);
    let out = ok(
        &d,
        front.path(),
        &pf,
        &["exec", "-T", "web", "nslookup", "api", "127.0.0.11"],
    );
    assert!(out.contains("Address"), "{out}");
    ok(&d, back.path(), &pb, &["down", "-t", "1"]);
    // The external network stays, and the other project on it runs.
    assert!(d
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .contains(&shared));
    assert!(ok(&d, front.path(), &pf, &["ps"]).contains("Up"));
    let ls = d.ok(&["compose", "ls"]);
    assert!(ls.contains(&pf) && !ls.contains(&pb), "{ls}");
    ok(&d, front.path(), &pf, &["down", "-t", "1"]);
    assert!(d
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .contains(&shared));
}

#[test]
fn a_dependency_that_exits_fails_up_naming_it() {
    let (d, proj) = busybox_project(
        r#"services:
  db:
    image: busybox
    command: ["sh", "-c", "exit 3"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  migrate:
    image: busybox
    command: ["true"]
  app:
    image: busybox
    command: ["true"]
    depends_on:
      migrate:
        condition: service_completed_successfully
      db:
        condition: service_healthy
"#,
    );
    let dir = proj.path();
    let p = unique("dep");
    let out = compose(&d, dir, &p, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("container {p}-db-1 (service \"db\") exited (3)")),
        "{err}"
    );
    // The app was never created.
    let ps = ok(&d, dir, &p, &["ps", "-a", "--services"]);
    assert_eq!(ps, "db\nmigrate\n");
    ok(&d, dir, &p, &["down"]);
    let again = compose(&d, dir, &p, &["down"]);
    assert!(again.status.success());
    assert!(
        text(&again.stderr).contains("No resource found to remove"),
        "{}",
        text(&again.stderr)
    );

    // A dependency that turns unhealthy fails `up` as soon as it does.
    std::fs::write(
        dir.join("compose.yaml"),
        format!(
            "services:\n  db:\n    image: busybox\n    command: [\"sh\", \"-c\", \"{IDLE}\"]\n    healthcheck:\n      test: [\"CMD\", \"false\"]\n      interval: 1s\n      retries: 1\n  app:\n    image: busybox\n    command: [\"true\"]\n    depends_on:\n      db:\n        condition: service_healthy\n"
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = compose(&d, dir, &p, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("container {p}-db-1 (service \"db\") is unhealthy")),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "failed at once"
    );
    ok(&d, dir, &p, &["down", "-t", "1"]);
}

/// `up` attached: each container's lines under its prefix, the exits
/// told, `--exit-code-from` giving the job's code and stopping the rest;
/// `build:` images made by `up` (and taken by `down --rmi local`);
/// `--attach` restricting the output to some services.
#[test]
fn attached_up_exit_code_from_and_build() {
    let d = Daemon::start();
    d.load_busybox();
    let proj = tempfile::tempdir().unwrap();
    let dir = proj.path();
    std::fs::create_dir(dir.join("web")).unwrap();
    std::fs::write(
        dir.join("web/Dockerfile"),
        "FROM busybox\nRUN echo built-by-compose > /built\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        format!(
            r#"services:
  web:
    build: ./web
    command: ["sh", "-c", "cat /built; {IDLE}"]
  job:
    image: busybox
    depends_on: [web]
    command: ["sh", "-c", "echo job says hi; exit 3"]
"#
        ),
    )
    .unwrap();
    let p = unique("att");
    let out = compose(&d, dir, &p, &["up", "--exit-code-from", "job", "-t", "1"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("job-1  | job says hi"), "{stdout}");
    assert!(
        stdout.starts_with("Attaching to job-1, web-1\n"),
        "{stdout}"
    );
    assert!(stdout.contains("job-1 exited with code 3"), "{stdout}");
    let web = inspect(&d, &format!("{p}-web-1"));
    assert_eq!(web["State"]["Running"], false, "stopped on the job's exit");
    assert_eq!(web["Config"]["Image"], format!("{p}-web"));
    // Its first line came from the built image.
    let logs = ok(&d, dir, &p, &["logs", "web"]);
    assert!(logs.contains("web-1  | built-by-compose"), "{logs}");
    // Up to date: kept. Rebuilt with a change: recreated from the new image.
    ok(&d, dir, &p, &["up", "-d", "web"]);
    let first = inspect(&d, &format!("{p}-web-1"))["Id"].clone();
    ok(&d, dir, &p, &["up", "-d", "web"]);
    assert_eq!(inspect(&d, &format!("{p}-web-1"))["Id"], first, "kept");
    std::fs::write(
        dir.join("web/Dockerfile"),
        "FROM busybox\nRUN echo rebuilt > /built\n",
    )
    .unwrap();
    ok(&d, dir, &p, &["up", "-d", "--build", "web"]);
    assert_ne!(inspect(&d, &format!("{p}-web-1"))["Id"], first, "recreated");
    let built = ok(&d, dir, &p, &["exec", "-T", "web", "cat", "/built"]);
    assert_eq!(built, "rebuilt\n");
    // `--attach job`: only the job's output (web runs, unseen); an
    // unknown service is refused before anything is done.
    let up = [
        "up",
        "--attach",
        "job",
        "--exit-code-from",
        "job",
        "-t",
        "1",
    ];
    let out = compose(&d, dir, &p, &up);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    assert!(stdout.starts_with("Attaching to job-1\n"), "{stdout}");
    assert!(!stdout.contains("web-1"), "{stdout}");
    let out = compose(&d, dir, &p, &["up", "--no-attach", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "no such service: nope\n");
    ok(&d, dir, &p, &["down", "--rmi", "local", "-t", "1"]);
    let images = d.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!images.contains(&format!("{p}-web")), "{images}");
    assert!(images.contains("busybox"), "only local images go: {images}");
}

/// Ctrl-C on an attached `up` stops the project's containers.
#[test]
fn ctrl_c_stops_an_attached_up() {
    let (d, proj) = busybox_project(&format!("services:\n  a:\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo up-a; {IDLE}\"]\n  b:\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo up-b; {IDLE}\"]\n"));
    let dir = proj.path();
    let p = unique("int");
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = std::process::Command::new("timeout")
        .args(["-k", "5", "60"])
        .arg(common::bin("rrun"))
        .args(["-H", &d.host(), "compose", "--project-directory"])
        .arg(dir)
        .args(["-p", &p, "up"])
        .env("RRUN_NO_AUTOSTART", "1")
        .stdout(out.reopen().unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        "both services' first lines",
        Duration::from_secs(30),
        || {
            let t = std::fs::read_to_string(out.path()).unwrap();
            (t.contains("a-1  | up-a") && t.contains("b-1  | up-b")).then_some(())
        },
    );
    // SIGINT to rrun itself (the child of `timeout`): find it by parent.
    let rrun_pid = wait_for("rrun's pid", Duration::from_secs(5), || {
        let o = common::run_timeout(
            5,
            Path::new("pgrep"),
            &["-P", &child.id().to_string()],
            None,
        );
        text(&o.stdout).trim().parse::<i32>().ok()
    });
    unsafe { libc::kill(rrun_pid, libc::SIGINT) };
    let status = wait_for("rrun to end", Duration::from_secs(30), || {
        child.try_wait().unwrap()
    });
    assert_eq!(status.code(), Some(130));
    assert_eq!(ok(&d, dir, &p, &["ps", "-q"]), "", "all stopped");
    assert_eq!(ok(&d, dir, &p, &["ps", "-a", "-q"]).lines().count(), 2);
    ok(&d, dir, &p, &["down"]);
}

/// `up --wait`, `--force-recreate`, `--no-recreate`, and the smaller
/// commands: pause/unpause, top, port, images, restart, kill, rm.
#[test]
fn wait_recreate_and_the_small_commands() {
    let d = Daemon::start();
    d.load_busybox();
    let proj = tempfile::tempdir().unwrap();
    let dir = proj.path();
    let file = format!(
        r#"services:
  web:
    image: busybox
    ports: ["127.0.0.1:18083:80"]
    volumes: ["/cache"]
    environment:
      V: "1"
    command: ["sh", "-c", "sleep 1; touch /ready; {IDLE}"]
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 1s
"#
    );
    std::fs::write(dir.join("compose.yaml"), &file).unwrap();
    let p = unique("small");
    // `create` makes the container without starting it; `up` starts it.
    ok(&d, dir, &p, &["create"]);
    assert_eq!(ok(&d, dir, &p, &["ps", "-q"]), "");
    let created = ok(
        &d,
        dir,
        &p,
        &["ps", "-a", "--format", "{{.Name}} {{.State}}"],
    );
    assert_eq!(created, format!("{p}-web-1 created\n"));
    let created_id = id_of(&d, &format!("{p}-web-1"));
    ok(&d, dir, &p, &["up", "-d", "--wait"]);
    assert_eq!(
        id_of(&d, &format!("{p}-web-1")),
        created_id,
        "the created one started"
    );
    let ps = ok(&d, dir, &p, &["ps"]);
    assert!(
        ps.contains("(healthy)"),
        "--wait returns once healthy: {ps}"
    );
    let name = format!("{p}-web-1");
    let first = id_of(&d, &name);
    ok(
        &d,
        dir,
        &p,
        &["exec", "-T", "web", "sh", "-c", "echo kept > /cache/x"],
    );
    ok(&d, dir, &p, &["up", "-d", "--force-recreate"]);
    let second = id_of(&d, &name);
    assert_ne!(first, second, "--force-recreate");
    // The anonymous volume went over to the new container, as Compose's.
    let x = ok(&d, dir, &p, &["exec", "-T", "web", "cat", "/cache/x"]);
    assert_eq!(x, "kept\n");
    std::fs::write(
        dir.join("compose.yaml"),
        file.replace("V: \"1\"", "V: \"2\""),
    )
    .unwrap();
    ok(&d, dir, &p, &["up", "-d", "--no-recreate"]);
    assert_eq!(
        id_of(&d, &name),
        second,
        "--no-recreate keeps a changed one"
    );

    assert_eq!(
        ok(&d, dir, &p, &["port", "web", "80"]).trim(),
        "127.0.0.1:18083"
    );
    let top = ok(&d, dir, &p, &["top"]);
    assert!(
        top.starts_with(&format!("{name}\n")) && top.contains("sleep"),
        "{top}"
    );
    let images = ok(&d, dir, &p, &["images"]);
    assert!(
        images.contains(&name) && images.contains("busybox"),
        "{images}"
    );
    ok(&d, dir, &p, &["pause"]);
    assert_eq!(inspect(&d, &name)["State"]["Status"], "paused");
    ok(&d, dir, &p, &["unpause"]);
    assert_eq!(inspect(&d, &name)["State"]["Status"], "running");
    let started = inspect(&d, &name)["State"]["StartedAt"].clone();
    ok(&d, dir, &p, &["restart", "-t", "1"]);
    assert_ne!(
        inspect(&d, &name)["State"]["StartedAt"],
        started,
        "restarted"
    );
    ok(&d, dir, &p, &["kill"]);
    assert_eq!(inspect(&d, &name)["State"]["Running"], false);
    ok(&d, dir, &p, &["rm", "-f"]);
    assert_eq!(ok(&d, dir, &p, &["ps", "-a", "-q"]), "");
    ok(&d, dir, &p, &["down"]);

    // `version` as Compose v2 prints it, the label's version; no daemon.
    let label = inspect_label_version(&d, dir, &p);
    let version = |args: &[&str]| {
        let mut full = vec!["-H", "unix:///nonexistent/rrun.sock", "compose", "version"];
        full.extend_from_slice(args);
        let out = common::run_timeout(20, &common::bin("rrun"), &full, None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(version(&["--short"]), format!("{label}\n"));
    let json: serde_json::Value = serde_json::from_str(&version(&["--format", "json"])).unwrap();
    assert_eq!(json["version"], format!("v{label}"));
    let pretty = version(&[]);
    assert!(
        pretty.starts_with(&format!("rrun compose version v{label} ")),
        "{pretty}"
    );
}

/// The `com.docker.compose.version` label `create` puts on a container.
fn inspect_label_version(d: &Daemon, dir: &Path, p: &str) -> String {
    ok(d, dir, p, &["create"]);
    let v = inspect(d, &format!("{p}-web-1"));
    ok(d, dir, p, &["down"]);
    let label = &v["Config"]["Labels"]["com.docker.compose.version"];
    label.as_str().unwrap_or_else(|| panic!("{v}")).to_string()
}

/// On a terminal: the resource lines as Compose v2 draws them, coloured
/// log prefixes, and `exec` with a TTY unless `-T`.
#[test]
fn on_a_terminal() {
    let (d, proj) = busybox_project(&format!("services:\n  a:\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo hello-a; {IDLE}\"]\n"));
    let dir = proj.path();
    let p = unique("tty");
    let (host, dir_s) = (d.host(), dir.display().to_string());
    let pty = |args: &[&str]| {
        let mut full = vec![
            "-H",
            &host,
            "compose",
            "--project-directory",
            &dir_s,
            "-p",
            &p,
        ];
        full.extend_from_slice(args);
        common::pty::PtySession::spawn(&common::bin("rrun"), &full)
    };
    let mut s = pty(&["up", "-d"]);
    s.expect(
        &format!("✔ Container {p}-a-1  Started"),
        Duration::from_secs(30),
    );
    assert_eq!(s.wait(Duration::from_secs(30)), 0);
    let mut s = pty(&["exec", "a", "tty"]);
    s.expect("/dev/pts/", Duration::from_secs(30));
    assert_eq!(s.wait(Duration::from_secs(30)), 0);
    let mut s = pty(&["logs", "a"]);
    s.expect("\x1b[36ma-1  |\x1b[0m hello-a", Duration::from_secs(30));
    assert_eq!(s.wait(Duration::from_secs(30)), 0);
    ok(&d, dir, &p, &["down", "-t", "1"]);
}

/// `-f` twice, `--env-file`, `--profile`: a service of an inactive
/// profile is neither started nor an orphan, and `down` takes its
/// container (docker/compose#8432).
#[test]
fn files_env_file_and_profiles() {
    let d = Daemon::start();
    d.load_busybox();
    let proj = tempfile::tempdir().unwrap();
    let dir = proj.path();
    let idle = format!("[\"sh\", \"-c\", \"{IDLE}\"]");
    std::fs::write(
        dir.join("base.yaml"),
        format!("services:\n  web:\n    image: busybox\n    command: {idle}\n    environment:\n      WHO: ${{WHO}}\n  debug:\n    image: busybox\n    profiles: [debug]\n    command: {idle}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("over.yaml"),
        "services:\n  web:\n    environment:\n      EXTRA: from-override\n",
    )
    .unwrap();
    std::fs::write(dir.join("custom.env"), "WHO=from-env-file\n").unwrap();
    let p = unique("prof");
    let (base, over, envf) = (
        dir.join("base.yaml").display().to_string(),
        dir.join("over.yaml").display().to_string(),
        dir.join("custom.env").display().to_string(),
    );
    let g = ["-f", &base, "-f", &over, "--env-file", &envf];
    let with =
        |extra: &[&str]| -> Vec<String> { g.iter().chain(extra).map(|s| s.to_string()).collect() };
    let run = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&d, dir, &p, &a)
    };
    run(with(&["--profile", "debug", "up", "-d"]));
    assert_eq!(run(with(&["ps", "--services"])), "debug\nweb\n");
    let env = run(with(&["exec", "-T", "web", "sh", "-c", "echo $WHO $EXTRA"]));
    assert_eq!(env.trim(), "from-env-file from-override");
    // Without the profile: no orphan warning, the debug container kept.
    let a: Vec<String> = with(&["up", "-d"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let out = compose(&d, dir, &p, &a);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("orphan"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(run(with(&["ps", "-q"])).lines().count(), 2);
    run(with(&["down", "-t", "1"]));
    assert_eq!(
        d.ok(&["ps", "-a", "-q"]),
        "",
        "down took the debug container"
    );
}

/// `events --json` and `logs -f` follow the project as it changes;
/// `logs -f` ends when the containers stop.
#[test]
fn events_and_logs_follow() {
    let (d, proj) = busybox_project(&format!("services:\n  a:\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo started-a; sleep 2; echo later-a; {IDLE}\"]\n"));
    let dir = proj.path();
    let p = unique("ev");
    ok(&d, dir, &p, &["up", "-d"]);
    let spawn = |args: &[&str], out: &tempfile::NamedTempFile| spawn(&d, dir, &p, args, out);
    let (ev_out, logs_out) = (
        tempfile::NamedTempFile::new().unwrap(),
        tempfile::NamedTempFile::new().unwrap(),
    );
    let mut events = spawn(&["events", "--json"], &ev_out);
    let mut logs = spawn(&["logs", "-f", "--no-color"], &logs_out);
    let read = |f: &tempfile::NamedTempFile| std::fs::read_to_string(f.path()).unwrap();
    wait_for("the later log line", Duration::from_secs(20), || {
        let t = read(&logs_out);
        (t.contains("a-1  | started-a") && t.contains("a-1  | later-a")).then_some(())
    });
    assert!(logs.try_wait().unwrap().is_none(), "logs -f still follows");
    ok(&d, dir, &p, &["stop", "-t", "1"]);
    let ended = wait_for("logs -f to end", Duration::from_secs(20), || {
        logs.try_wait().unwrap()
    });
    assert!(ended.success());
    ok(&d, dir, &p, &["start"]);
    let ev = wait_for("the start event", Duration::from_secs(20), || {
        let t = read(&ev_out);
        t.contains("\"action\":\"start\"").then_some(t)
    });
    let first: serde_json::Value = serde_json::from_str(ev.lines().next().unwrap()).unwrap();
    assert_eq!(first["service"], "a", "{ev}");
    assert!(
        ev.contains("\"action\":\"stop\"") || ev.contains("\"action\":\"die\""),
        "{ev}"
    );
    let _ = events.kill();
    let _ = events.wait();
    ok(&d, dir, &p, &["down", "-t", "1"]);
}

/// `rrun compose ARGS…` in the background (60 s at most), its standard
/// output into `out`.
fn spawn(
    d: &Daemon,
    dir: &Path,
    project: &str,
    args: &[&str],
    out: &tempfile::NamedTempFile,
) -> std::process::Child {
    std::process::Command::new("timeout")
        .args(["-k", "5", "60"])
        .arg(common::bin("rrun"))
        .args(["-H", &d.host(), "compose", "--project-directory"])
        .arg(dir)
        .args(["-p", project])
        .args(args)
        .env("RRUN_NO_AUTOSTART", "1")
        .stdout(out.reopen().unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// A container its restart policy brings back is followed again, as
/// Compose v2 reattaches: by `logs -f`, and by an attached `up`, which
/// tells each exit and does not take a restart for the end (nor, with
/// `--abort-on-container-exit`, for a reason to stop).
#[test]
fn restarted_containers_are_followed_again() {
    let d = Daemon::start();
    d.load_busybox();
    let proj = tempfile::tempdir().unwrap();
    let dir = proj.path();
    // Runs 1 and 2 fail after a second; run 3 stays up. The count is
    // kept in a volume so each run knows its number.
    let flaky = "n=$$(($$(cat /data/n 2>/dev/null || echo 0) + 1)); echo $$n > /data/n; \
                 echo run-$$n; if [ $$n -lt 3 ]; then sleep 1; exit 2; fi";
    std::fs::write(
        dir.join("compose.yaml"),
        format!(
            "services:\n  flaky:\n    image: busybox\n    restart: on-failure\n    \
             volumes: [count:/data]\n    command: [\"sh\", \"-c\", \"{flaky}; {IDLE}\"]\n  \
             job:\n    image: busybox\n    profiles: [job]\n    \
             command: [\"sh\", \"-c\", \"sleep 8; echo job-done\"]\nvolumes:\n  count:\n"
        ),
    )
    .unwrap();
    let p = unique("rst");
    let read = |f: &tempfile::NamedTempFile| std::fs::read_to_string(f.path()).unwrap();

    ok(&d, dir, &p, &["up", "-d"]);
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut logs = spawn(&d, dir, &p, &["logs", "-f", "--no-color"], &out);
    wait_for("run 3 through logs -f", Duration::from_secs(30), || {
        let t = read(&out);
        (t.contains("flaky-1  | run-1") && t.contains("flaky-1  | run-3")).then_some(())
    });
    assert!(logs.try_wait().unwrap().is_none(), "logs -f still follows");
    ok(&d, dir, &p, &["stop", "-t", "1"]);
    let ended = wait_for("logs -f to end", Duration::from_secs(20), || {
        logs.try_wait().unwrap()
    });
    assert!(ended.success());
    ok(&d, dir, &p, &["down", "-v", "-t", "1"]);

    let up = [
        "--profile",
        "job",
        "up",
        "--abort-on-container-exit",
        "--exit-code-from",
        "job",
        "-t",
        "1",
    ];
    let out = compose(&d, dir, &p, &up);
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{t}{}", text(&out.stderr));
    let at = |line: &str| {
        t.find(line)
            .unwrap_or_else(|| panic!("no `{line}` in:\n{t}"))
    };
    assert!(at("flaky-1  | run-1") < at("flaky-1 exited with code 2"));
    assert!(at("flaky-1  | run-3") < at("job-1    | job-done"), "{t}");
    assert_eq!(t.matches("flaky-1 exited with code 2").count(), 2, "{t}");
    assert!(
        at("job-1    | job-done") < at("job-1 exited with code 0"),
        "{t}"
    );
    ok(&d, dir, &p, &["--profile", "job", "down", "-v", "-t", "1"]);
}

/// `curl` with a timeout: the registry's own answer, bypassing rrund.
fn curl(url: &str) -> String {
    let args = ["-sS", "--max-time", "20", url];
    let out = common::run_timeout(30, Path::new("curl"), &args, None);
    assert!(out.status.success(), "curl {url}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// `push` as Compose v2 does it, to a real registry on 127.0.0.1: the
/// images of services with both `build:` and `image:` go up, the others are
/// "Skipped" (busybox is not sent anywhere); the pushed image, removed
/// locally, comes back through `pull` (and `up --pull always`) as the same
/// image. A registry that
/// is not there fails `push` naming the service, unless
/// `--ignore-push-failures`.
#[test]
fn push_to_a_registry_and_pull_back() {
    let reg = common::Registry::start();
    let d = Daemon::start();
    d.load_busybox();
    let proj = tempfile::tempdir().unwrap();
    let dir = proj.path();
    std::fs::create_dir(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("app/Dockerfile"),
        "FROM busybox\nRUN echo pushed-by-compose > /built\n",
    )
    .unwrap();
    let p = unique("push");
    let image = format!("{}/{p}/app:1", reg.host());
    let gone = format!("127.0.0.1:{}/{p}/gone:1", common::free_port());
    let file = format!(
        "services:\n  app:\n    build: ./app\n    image: {image}\n    command: [cat, /built]\n  \
         plain:\n    image: busybox\n  unnamed:\n    build: ./app\n  \
         nowhere:\n    build: ./app\n    image: {gone}\n    profiles: [broken]\n"
    );
    std::fs::write(dir.join("compose.yaml"), file).unwrap();

    ok(&d, dir, &p, &["build", "app"]);
    let id = d.ok(&["image", "inspect", "-f", "{{.Id}}", &image]);
    let out = compose(&d, dir, &p, &["push"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{}{err}", text(&out.stdout));
    assert!(err.contains(" plain Skipped"), "{err}");
    assert!(err.contains(" unnamed Skipped"), "{err}");
    assert!(text(&out.stdout).contains("1: digest: sha256:"), "{out:?}");
    let catalog = curl(&format!("http://{}/v2/_catalog", reg.host()));
    assert_eq!(
        catalog.trim(),
        format!("{{\"repositories\":[\"{p}/app\"]}}"),
        "only the built image went up"
    );
    let tags = curl(&format!("http://{}/v2/{p}/app/tags/list", reg.host()));
    assert!(tags.contains("\"1\""), "{tags}");

    // Removed here, pulled back from the registry: the same image, which
    // runs (no build: `run` finds it present).
    d.ok(&["rmi", &image]);
    ok(&d, dir, &p, &["pull", "app"]);
    assert_eq!(d.ok(&["image", "inspect", "-f", "{{.Id}}", &image]), id);
    let out = ok(&d, dir, &p, &["run", "--rm", "-T", "app"]);
    assert_eq!(out, "pushed-by-compose\n");
    // `up --pull always` pulls a present image too; `--no-start` creates
    // and starts nothing.
    let out = compose(
        &d,
        dir,
        &p,
        &["up", "--no-start", "--pull", "always", "app"],
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(" app Pulling"), "{err}");
    let ps = ok(
        &d,
        dir,
        &p,
        &["ps", "-a", "--format", "{{.Name}} {{.State}}"],
    );
    assert_eq!(ps, format!("{p}-app-1 created\n"));

    // A registry nobody listens on: one line naming the service, exit 1;
    // with --ignore-push-failures a warning and exit 0.
    let broken = ["--profile", "broken"];
    ok(&d, dir, &p, &[&broken[..], &["build", "nowhere"]].concat());
    let out = compose(&d, dir, &p, &[&broken[..], &["push", "nowhere"]].concat());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("push service \"nowhere\""), "{err}");
    let push = ["push", "--ignore-push-failures", "nowhere"];
    let out = compose(&d, dir, &p, &[&broken[..], &push[..]].concat());
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("WARN: push service \"nowhere\""), "{err}");
    ok(&d, dir, &p, &["down", "--rmi", "all"]);
}

/// `secrets:` (under `/run/secrets/<name>`, or a `target:`) and `configs:`
/// (under `/<name>`): files bound read-only, `environment:` and `content:`
/// sources written into the container with their mode; a network of the file with its
/// own `ipam` subnet, a fixed `ipv4_address` and an alias another service
/// reaches.
#[test]
fn secrets_configs_and_a_fixed_address() {
    let d = Daemon::start();
    d.load_busybox();
    let proj = tempfile::tempdir().unwrap();
    let dir = proj.path();
    std::fs::write(dir.join("db_pass.txt"), "s3cret\n").unwrap();
    std::fs::write(dir.join("api.key"), "key-123\n").unwrap();
    std::fs::write(dir.join("app.conf"), "level=debug\n").unwrap();
    std::fs::write(dir.join(".env"), "API_TOKEN=tok-456\nLEVEL=warn\n").unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        format!(
            r#"services:
  app:
    image: busybox
    command: ["sh", "-c", "{IDLE}"]
    secrets: [db_pass, {{source: api_key, target: /etc/api.key}}, token]
    configs: [app_conf, {{source: inline, target: /etc/inline.conf, mode: 0440}}]
    networks:
      back:
        ipv4_address: 172.31.79.10
        aliases: [backend-app]
  probe:
    image: busybox
    command: ["sh", "-c", "{IDLE}"]
    networks: [back]
    secrets: [token]
networks:
  back:
    ipam:
      config: [{{subnet: 172.31.79.0/24}}]
secrets:
  db_pass: {{file: ./db_pass.txt}}
  api_key: {{file: ./api.key}}
  token: {{environment: API_TOKEN}}
configs:
  app_conf: {{file: ./app.conf}}
  inline: {{content: "level=${{LEVEL}}"}}
"#
        ),
    )
    .unwrap();
    let p = unique("sec");
    ok(&d, dir, &p, &["up", "-d"]);
    let cat = |path: &str| ok(&d, dir, &p, &["exec", "-T", "app", "cat", path]);
    assert_eq!(cat("/run/secrets/db_pass"), "s3cret\n");
    assert_eq!(cat("/etc/api.key"), "key-123\n");
    assert_eq!(cat("/app_conf"), "level=debug\n");
    // From a variable and from `content:`: written into the container.
    assert_eq!(cat("/run/secrets/token"), "tok-456");
    assert_eq!(cat("/etc/inline.conf"), "level=warn");
    let mode = [
        "exec",
        "-T",
        "app",
        "stat",
        "-c",
        "%a %u",
        "/etc/inline.conf",
        "/run/secrets/token",
    ];
    assert_eq!(ok(&d, dir, &p, &mode), "440 0\n444 0\n");
    let run = ["run", "--rm", "-T", "probe", "cat", "/run/secrets/token"];
    assert_eq!(ok(&d, dir, &p, &run), "tok-456");
    // The variable missing: one line, and nothing made.
    let other = format!("{p}x");
    std::fs::write(dir.join("empty.env"), "").unwrap();
    let out = compose(&d, dir, &other, &["--env-file", "empty.env", "up", "-d"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "secret \"token\" of service \"app\": environment variable API_TOKEN is not set"
        ),
        "{err}"
    );
    let nets = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains(&other), "{nets}");
    let write = [
        "exec",
        "-T",
        "app",
        "sh",
        "-c",
        "echo x > /run/secrets/db_pass",
    ];
    let out = compose(&d, dir, &p, &write);
    assert!(!out.status.success(), "a secret is read-only");
    assert_eq!(
        std::fs::read_to_string(dir.join("db_pass.txt")).unwrap(),
        "s3cret\n"
    );

    let v = inspect(&d, &format!("{p}-app-1"));
    let net = &v["NetworkSettings"]["Networks"][format!("{p}_back")];
    assert_eq!(net["IPAddress"], "172.31.79.10", "{net}");
    let ping = [
        "exec",
        "-T",
        "probe",
        "ping",
        "-c",
        "1",
        "-W",
        "5",
        "backend-app",
    ];
    let out = ok(&d, dir, &p, &ping);
    assert!(out.contains("172.31.79.10"), "{out}");
    ok(&d, dir, &p, &["down", "-t", "1"]);
    assert_eq!(ok(&d, dir, &p, &["ps", "-a", "-q"]), "");
}

/// The service keys users write besides the seed's, each where `docker
/// inspect` shows it on the container (and a few as the process sees
/// them): a key the engine dropped would fail here.
#[test]
fn the_other_service_keys_reach_the_container() {
    let (d, proj) = busybox_project(&format!(
        r#"services:
  all:
    image: busybox
    platform: linux/amd64
    entrypoint: ["sh", "-c"]
    command: ["{IDLE}"]
    user: "1000:1000"
    working_dir: /tmp
    hostname: every-key
    labels: {{team: core}}
    restart: unless-stopped
    healthcheck: {{disable: true}}
    expose: ["9000"]
    dns: [192.0.2.53]
    dns_search: [example.test]
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    read_only: true
    tmpfs: [/scratch]
    ulimits: {{nofile: {{soft: 1024, hard: 2048}}}}
    sysctls: {{net.core.somaxconn: "511"}}
    shm_size: 32m
    init: true
    stop_signal: SIGUSR1
    stop_grace_period: 7s
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 99
    devices: ["/dev/null:/dev/blackhole"]
    logging: {{driver: json-file, options: {{max-size: 1m}}}}
    stdin_open: true
    tty: true
  priv:
    image: busybox
    command: ["sh", "-c", "{IDLE}"]
    privileged: true
    deploy: {{resources: {{limits: {{memory: 48m, pids: 50}}}}}}
"#
    ));
    let dir = proj.path();
    let p = unique("keys");
    ok(&d, dir, &p, &["up", "-d"]);
    let v = inspect(&d, &format!("{p}-all-1"));
    let (c, h) = (&v["Config"], &v["HostConfig"]);
    assert_eq!(c["Entrypoint"], serde_json::json!(["sh", "-c"]), "{c}");
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(c["WorkingDir"], "/tmp");
    assert_eq!(c["Hostname"], "every-key");
    assert_eq!(c["Labels"]["team"], "core");
    assert_eq!(h["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(c["Healthcheck"]["Test"], serde_json::json!(["NONE"]));
    assert!(c["ExposedPorts"].get("9000/tcp").is_some(), "{c}");
    assert_eq!(h["Dns"], serde_json::json!(["192.0.2.53"]));
    assert_eq!(h["DnsSearch"], serde_json::json!(["example.test"]));
    assert_eq!(h["CapAdd"], serde_json::json!(["NET_ADMIN"]));
    assert_eq!(h["CapDrop"], serde_json::json!(["MKNOD"]));
    assert_eq!(h["ReadonlyRootfs"], true);
    assert!(h["Tmpfs"].get("/scratch").is_some(), "{h}");
    let nofile = serde_json::json!([{"Name": "nofile", "Soft": 1024, "Hard": 2048}]);
    assert_eq!(h["Ulimits"], nofile);
    assert_eq!(h["Sysctls"]["net.core.somaxconn"], "511");
    assert_eq!(h["ShmSize"], 32 << 20);
    assert_eq!(h["Init"], true);
    assert_eq!(c["StopSignal"], "SIGUSR1");
    assert_eq!(c["StopTimeout"], 7);
    assert_eq!(h["Memory"], 64 << 20);
    assert_eq!(h["NanoCpus"], 500_000_000);
    assert_eq!(h["PidsLimit"], 99);
    assert_eq!(h["Devices"][0]["PathInContainer"], "/dev/blackhole");
    assert_eq!(h["LogConfig"]["Type"], "json-file");
    assert_eq!(h["LogConfig"]["Config"]["max-size"], "1m");
    assert_eq!(c["OpenStdin"], true);
    assert_eq!(c["Tty"], true);
    // As the process sees them.
    let sh = |script: &str| ok(&d, dir, &p, &["exec", "-T", "all", "sh", "-c", script]);
    assert_eq!(
        sh("id -u; ulimit -n; cat /proc/sys/net/core/somaxconn"),
        "1000\n1024\n511\n"
    );
    assert_eq!(
        sh("touch /x 2>/dev/null || echo read-only; touch /scratch/y && echo tmpfs"),
        "read-only\ntmpfs\n"
    );
    assert_eq!(sh("test -c /dev/blackhole && echo device"), "device\n");
    let v = inspect(&d, &format!("{p}-priv-1"));
    assert_eq!(v["HostConfig"]["Privileged"], true);
    assert_eq!(v["HostConfig"]["Memory"], 48 << 20);
    assert_eq!(v["HostConfig"]["PidsLimit"], 50);
    ok(&d, dir, &p, &["down", "-t", "1"]);
}

/// `attach` (a service's output until it exits, and its code), `cp` both
/// ways, `scale SERVICE=N` (as `up -d --scale`: up and down again) and
/// `wait` (a service's exit code; `--down-project` takes the project down).
#[test]
fn attach_cp_scale_and_wait() {
    let (d, proj) = busybox_project(&format!(
        "services:\n  web:\n    image: busybox\n    command: [\"sh\", \"-c\", \"{IDLE}\"]\n  \
         job:\n    image: busybox\n    command: [\"sh\", \"-c\", \"sleep 4; echo job-finished; exit 5\"]\n"
    ));
    let dir = proj.path();
    let p = unique("scale");
    ok(&d, dir, &p, &["up", "-d"]);
    let out = compose(&d, dir, &p, &["attach", "--no-stdin", "job"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "job-finished\n");
    let (inside, back) = (dir.join("in.txt"), dir.join("back.txt"));
    std::fs::write(&inside, "copied\n").unwrap();
    ok(
        &d,
        dir,
        &p,
        &["cp", inside.to_str().unwrap(), "web:/tmp/in.txt"],
    );
    let cat = ["exec", "-T", "web", "cat", "/tmp/in.txt"];
    assert_eq!(ok(&d, dir, &p, &cat), "copied\n");
    ok(
        &d,
        dir,
        &p,
        &["cp", "web:/tmp/in.txt", back.to_str().unwrap()],
    );
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "copied\n");
    let names = || ok(&d, dir, &p, &["ps", "-a", "--format", "{{.Name}}", "web"]);
    ok(&d, dir, &p, &["scale", "web=3"]);
    let want: String = (1..=3).map(|n| format!("{p}-web-{n}\n")).collect();
    assert_eq!(names(), want);
    let first = id_of(&d, &format!("{p}-web-1"));
    ok(&d, dir, &p, &["scale", "web=1"]);
    assert_eq!(names(), format!("{p}-web-1\n"));
    assert_eq!(id_of(&d, &format!("{p}-web-1")), first, "kept");
    let out = compose(&d, dir, &p, &["scale", "web"]);
    assert!(!out.status.success());

    let out = compose(&d, dir, &p, &["wait", "job"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("exited with status code 5"));
    let out = compose(&d, dir, &p, &["wait", "--down-project", "job"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(ok(&d, dir, &p, &["ps", "-a", "-q"]), "", "taken down");
}
