//! docker-compose 1.29 (Debian's package, on docker-py) drives rrund
//! through a project in the style of the Compose seed: two services with
//! `depends_on`, `env_file` and `.env` interpolation, `extra_hosts`,
//! `hostname`, a named volume, a bind-mounted init directory, a port
//! published on 127.0.0.1 and a `command`; `config`, `up -d`, `ps`,
//! `logs`, `exec -T`, `stop`, `up -d` again with the data kept, `down -v`.
//! Container names, numbers and labels as docker-compose makes them with
//! Docker.

mod common;

use common::daemon::{inspect, Daemon};
use common::{run_timeout, text, wait_for};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

const COMPOSE: &str = r#"version: "3.8"
services:
  db:
    image: busybox
    hostname: database
    env_file: db.env
    command: ["sh", "-c", "cat /init/seed.txt >> /data/db.txt; echo db ready for $$DB_NAME; exec sleep 3600"]
    volumes:
      - dbdata:/data
      - ./init:/init:ro
  app:
    image: busybox
    depends_on:
      - db
    environment:
      DB_HOST: db
      GREETING: ${GREETING}
    extra_hosts:
      - "legacy:10.1.2.3"
    ports:
      - "127.0.0.1:${APP_PORT}:8080"
    command: ["sh", "-c", "mkdir -p /www && echo $$GREETING > /www/index.html && exec httpd -f -p 8080 -h /www"]
volumes:
  dbdata:
"#;

/// `docker-compose ARGS…` in `dir` against the test's daemon.
fn compose(d: &Daemon, dir: &Path, args: &[&str]) -> Output {
    let mut full = vec![
        format!("DOCKER_HOST={}", d.host()),
        format!(
            "DOCKER_CONFIG={}",
            d.dir.path().join("docker-config").display()
        ),
        "COMPOSE_INTERACTIVE_NO_CLI=1".into(),
        "/usr/bin/docker-compose".into(),
        "--project-directory".into(),
        dir.display().to_string(),
        "-p".into(),
        "p".into(),
        "-f".into(),
        dir.join("docker-compose.yml").display().to_string(),
    ];
    full.extend(args.iter().map(|a| a.to_string()));
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    run_timeout(120, Path::new("/usr/bin/env"), &full, None)
}

fn ok(d: &Daemon, dir: &Path, args: &[&str]) -> String {
    let out = compose(d, dir, args);
    assert!(
        out.status.success(),
        "docker-compose {args:?}: {}{}\n--- rrund log ---\n{}",
        text(&out.stdout),
        text(&out.stderr),
        d.log()
    );
    text(&out.stdout)
}

#[test]
fn a_compose_v1_project_up_exec_stop_up_down() {
    let d = Daemon::start();
    d.load_busybox();
    let proj = tempfile::tempdir().unwrap();
    let dir = proj.path();
    std::fs::write(dir.join("docker-compose.yml"), COMPOSE).unwrap();
    std::fs::write(
        dir.join(".env"),
        "GREETING=hello-from-env\nAPP_PORT=18080\n",
    )
    .unwrap();
    std::fs::write(dir.join("db.env"), "DB_NAME=todos\n").unwrap();
    std::fs::create_dir(dir.join("init")).unwrap();
    std::fs::write(dir.join("init/seed.txt"), "seeded\n").unwrap();

    let config = ok(&d, dir, &["config"]);
    assert!(config.contains("GREETING: hello-from-env"), "{config}");
    assert!(
        config.contains("published: 18080") || config.contains("127.0.0.1:18080:8080"),
        "{config}"
    );

    ok(&d, dir, &["up", "-d"]);
    let ps = ok(&d, dir, &["ps"]);
    for name in ["p_app_1", "p_db_1"] {
        let line = ps
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}: {ps}"));
        assert!(line.contains("Up"), "{ps}");
    }
    assert_eq!(
        ps.lines().filter(|l| l.starts_with("p_")).count(),
        2,
        "each once: {ps}"
    );
    let v = inspect(&d, "p_app_1");
    let labels = &v["Config"]["Labels"];
    assert_eq!(labels["com.docker.compose.project"], "p");
    assert_eq!(labels["com.docker.compose.service"], "app");
    assert_eq!(labels["com.docker.compose.container-number"], "1");
    assert!(
        v["NetworkSettings"]["Networks"]["p_default"].is_object(),
        "{v}"
    );

    // The app reaches the db by its service name; its own settings hold.
    let out = ok(&d, dir, &["exec", "-T", "app", "sh", "-c", "echo $DB_HOST; nslookup db 127.0.0.11 >/dev/null && echo resolved; grep legacy /etc/hosts"]);
    assert!(out.starts_with("db\nresolved\n10.1.2.3"), "{out}");
    assert_eq!(
        ok(&d, dir, &["exec", "-T", "db", "hostname"]).trim(),
        "database"
    );
    // The published port answers on 127.0.0.1 in the daemon's namespace.
    let page = wait_for("the app's port", Duration::from_secs(20), || {
        let o = d
            .net
            .exec(10, &["busybox", "wget", "-qO-", "http://127.0.0.1:18080/"]);
        o.status.success().then(|| text(&o.stdout))
    });
    assert_eq!(page, "hello-from-env\n");
    let logs = wait_for("the db's log line", Duration::from_secs(20), || {
        let l = ok(&d, dir, &["logs", "--no-color", "db"]);
        l.contains("db ready for todos").then_some(l)
    });
    assert!(logs.contains("db_1"), "{logs}");

    // Stopped, then up again: the same containers, the volume's data kept.
    ok(&d, dir, &["stop", "-t", "1"]);
    assert!(!ok(&d, dir, &["ps"]).contains(" Up "), "stopped");
    ok(&d, dir, &["up", "-d"]);
    let data = wait_for("the second seed line", Duration::from_secs(20), || {
        let o = compose(&d, dir, &["exec", "-T", "db", "cat", "/data/db.txt"]);
        let t = text(&o.stdout);
        (o.status.success() && t.lines().count() == 2).then_some(t)
    });
    assert_eq!(data, "seeded\nseeded\n");
    assert!(!ok(&d, dir, &["ps"]).contains("_2"), "no second container");

    ok(&d, dir, &["down", "-v", "-t", "1"]);
    let left = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!left.contains("p_"), "{left}");
    assert!(!d.ok(&["volume", "ls", "-q"]).contains("p_dbdata"));
    assert!(!d
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .contains("p_default"));
}

/// `rrun compose ARGS…` on the same project (same `-p`, same file).
fn rrun_compose(d: &Daemon, dir: &Path, args: &[&str]) -> String {
    let dir_s = dir.display().to_string();
    let file = dir.join("docker-compose.yml").display().to_string();
    let mut full = vec![
        "compose",
        "--project-directory",
        &dir_s,
        "-p",
        "p",
        "-f",
        &file,
    ];
    full.extend_from_slice(args);
    d.ok(&full)
}

fn write_project(dir: &Path) {
    std::fs::write(dir.join("docker-compose.yml"), COMPOSE).unwrap();
    std::fs::write(dir.join(".env"), "GREETING=cross\nAPP_PORT=18082\n").unwrap();
    std::fs::write(dir.join("db.env"), "DB_NAME=todos\n").unwrap();
    std::fs::create_dir_all(dir.join("init")).unwrap();
    std::fs::write(dir.join("init/seed.txt"), "seeded\n").unwrap();
}

fn nothing_left(d: &Daemon) {
    let left = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left, "", "containers left");
    assert!(!d
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .contains("p_default"));
    assert!(!d.ok(&["volume", "ls", "-q"]).contains("p_dbdata"));
}

/// Up'd by `rrun compose`, listed and taken down by docker-compose 1.29
/// (which finds the containers by Compose's labels, not by name).
#[test]
fn rrun_compose_up_docker_compose_ps_and_down() {
    let d = Daemon::start();
    d.load_busybox();
    let proj = tempfile::tempdir().unwrap();
    let dir = proj.path();
    write_project(dir);
    rrun_compose(&d, dir, &["up", "-d"]);
    let ps = ok(&d, dir, &["ps"]);
    for name in ["p-app-1", "p-db-1"] {
        let line = ps
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}: {ps}"));
        assert!(line.contains("Up"), "{ps}");
    }
    let out = ok(&d, dir, &["exec", "-T", "db", "cat", "/data/db.txt"]);
    assert_eq!(out, "seeded\n");
    ok(&d, dir, &["down", "-v", "-t", "1"]);
    nothing_left(&d);
}

/// Up'd by docker-compose 1.29, listed, exec'd and taken down by
/// `rrun compose`.
#[test]
fn docker_compose_up_rrun_compose_ps_and_down() {
    let d = Daemon::start();
    d.load_busybox();
    let proj = tempfile::tempdir().unwrap();
    let dir = proj.path();
    write_project(dir);
    ok(&d, dir, &["up", "-d"]);
    let ps = rrun_compose(&d, dir, &["ps"]);
    for name in ["p_app_1", "p_db_1"] {
        let line = ps
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}: {ps}"));
        assert!(line.contains("Up"), "{ps}");
    }
    assert_eq!(rrun_compose(&d, dir, &["ps", "--services"]), "app\ndb\n");
    let out = rrun_compose(&d, dir, &["exec", "-T", "db", "cat", "/data/db.txt"]);
    assert_eq!(out, "seeded\n");
    rrun_compose(&d, dir, &["down", "-v", "-t", "1"]);
    nothing_left(&d);
}
