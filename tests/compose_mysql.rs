//! The Compose seed's MySQL project under `rrun compose`: `mysql:5.7` with
//! `hostname`, `ports: "127.0.0.1:3307:3306"`, a named volume, an init
//! directory on `/docker-entrypoint-initdb.d` whose SQL makes a second
//! database, `environment` from `${…}` in `.env`, `command: mysqld
//! --character-set-server=utf8mb4 …`; and the to-do app waiting for the
//! db to be healthy, with `extra_hosts`. The images are pulled by `up`
//! through a local registry set as the docker.io mirror (offline).

mod common;

use common::daemon::{inspect, Daemon};
use common::{bin, run_timeout, text, unique, wait_for, Registry};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const COMPOSE: &str = r#"services:
  db:
    image: mysql:5.7
    hostname: mysql-host
    ports:
      - "127.0.0.1:${DB_PORT}:3306"
    environment:
      MYSQL_ROOT_PASSWORD: ${MYSQL_ROOT_PASSWORD}
      MYSQL_DATABASE: ${MYSQL_DATABASE}
    volumes:
      - mysql-data:/var/lib/mysql
      - ./init:/docker-entrypoint-initdb.d
    command: mysqld --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci
    healthcheck:
      # Over TCP: the entrypoint's init server listens on no port, so this
      # holds only once the real server is up.
      test: ["CMD-SHELL", "mysql -h127.0.0.1 -uroot -p$$MYSQL_ROOT_PASSWORD -e 'SELECT 1'"]
      interval: 2s
      retries: 120
  app:
    image: getting-started/todo-app
    working_dir: /app
    volumes:
      - APP_DIR:/app
    command: python3 app.py
    depends_on:
      db:
        condition: service_healthy
    extra_hosts:
      - "legacy:10.1.2.3"
    ports:
      - "3000:3000"
    environment:
      MYSQL_HOST: db
      MYSQL_USER: root
      MYSQL_PASSWORD: ${MYSQL_ROOT_PASSWORD}
      MYSQL_DB: ${MYSQL_DATABASE}
      NOTE: ${NOTE}
volumes:
  mysql-data:
"#;

fn app_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/todo-app")
}

/// `rrun compose …` with time for the pulls and MySQL's first start
/// (`Daemon::rrun` allows 60 s).
fn compose(d: &Daemon, dir: &Path, p: &str, args: &[&str]) -> Output {
    let (host, rrun) = (d.host(), bin("rrun"));
    let dir = dir.display().to_string();
    let mut full = vec![
        "RRUN_NO_AUTOSTART=1",
        rrun.to_str().unwrap(),
        "-H",
        &host,
        "compose",
        "--project-directory",
        &dir,
        "-p",
        p,
    ];
    full.extend_from_slice(args);
    run_timeout(300, Path::new("/usr/bin/env"), &full, None)
}

fn ok(d: &Daemon, dir: &Path, p: &str, args: &[&str]) -> String {
    let out = compose(d, dir, p, args);
    assert!(
        out.status.success(),
        "rrun compose {args:?}: {}{}\n--- rrund log ---\n{}",
        text(&out.stdout),
        text(&out.stderr),
        d.log()
    );
    text(&out.stdout)
}

fn http(d: &Daemon, args: &[&str]) -> Option<String> {
    let mut full = vec!["curl", "-sf", "-m", "5"];
    full.extend_from_slice(args);
    let out = d.net.exec(10, &full);
    out.status.success().then(|| text(&out.stdout))
}

fn sql(d: &Daemon, dir: &Path, p: &str, query: &str) -> String {
    ok(
        d,
        dir,
        p,
        &[
            "exec", "-T", "db", "mysql", "-uroot", "-psecret", "-N", "-e", query,
        ],
    )
}

fn add_item(d: &Daemon, name: &str) {
    let body = serde_json::json!({ "name": name }).to_string();
    let added = wait_for("the app to answer", Duration::from_secs(60), || {
        http(
            d,
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                &body,
                "http://127.0.0.1:3000/items",
            ],
        )
    });
    assert!(added.contains(name), "{added}");
}

fn id_of(d: &Daemon, name: &str) -> String {
    inspect(d, name)["Id"].as_str().unwrap_or("").to_string()
}

#[test]
fn the_seed_mysql_project() {
    let reg = Registry::start();
    reg.push_image("mysql", "library/mysql:5.7");
    reg.push_image("todo-app", "getting-started/todo-app:latest");
    let d = Daemon::start_with(&serde_json::json!({
        "registry-mirrors": [format!("http://{}", reg.host())],
        "insecure-registries": [reg.host()],
    }));
    let proj = tempfile::tempdir().unwrap();
    let dir = proj.path();
    let file = COMPOSE.replace("APP_DIR", &app_dir().display().to_string());
    std::fs::write(dir.join("compose.yaml"), file).unwrap();
    let env = "MYSQL_ROOT_PASSWORD=secret\nMYSQL_DATABASE=todos\nDB_PORT=3307\nNOTE=first\n";
    std::fs::write(dir.join(".env"), env).unwrap();
    std::fs::create_dir(dir.join("init")).unwrap();
    std::fs::write(dir.join("init/01-second.sql"), "CREATE DATABASE second;\n").unwrap();
    let p = unique("todo");

    // `pull app` takes the app's image; `up -d` pulls the missing db
    // image, waits for the db's health, starts the app.
    let pulled = ok(&d, dir, &p, &["pull", "app"]);
    assert!(pulled.contains("getting-started/todo-app"), "{pulled}");
    let out = compose(&d, dir, &p, &["up", "-d"]);
    assert!(out.status.success(), "{}{}", text(&out.stderr), d.log());
    let err = text(&out.stderr);
    assert!(
        err.contains(" db Pulling") && !err.contains(" app Pulling"),
        "{err}"
    );
    let ps = ok(&d, dir, &p, &["ps"]);
    assert!(
        ps.contains(&format!("{p}-db-1")) && ps.contains("(healthy)"),
        "{ps}"
    );
    assert!(ps.contains(&format!("{p}-app-1")), "{ps}");
    wait_for("the app's log", Duration::from_secs(60), || {
        let logs = ok(&d, dir, &p, &["logs", "app"]);
        (logs.contains("Connected to mysql db at host db")
            && logs.contains("Listening on port 3000"))
        .then_some(())
    });
    add_item(&d, "Buy groceries");
    let dbs = sql(&d, dir, &p, "SHOW DATABASES");
    assert!(dbs.contains("todos") && dbs.contains("second"), "{dbs}");
    assert_eq!(
        sql(&d, dir, &p, "SELECT @@character_set_server").trim(),
        "utf8mb4"
    );
    assert_eq!(
        ok(&d, dir, &p, &["exec", "-T", "db", "hostname"]).trim(),
        "mysql-host"
    );
    assert_eq!(
        ok(&d, dir, &p, &["port", "db", "3306"]).trim(),
        "127.0.0.1:3307"
    );
    let hosts = ok(&d, dir, &p, &["exec", "-T", "app", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains("10.1.2.3") && hosts.contains("legacy"),
        "{hosts}"
    );
    let logs = ok(&d, dir, &p, &["logs", "db"]);
    assert!(
        logs.contains("db-1  |") && logs.contains("ready for connections"),
        "{logs}"
    );

    // A one-off client beside the db, on the project's network.
    let out = ok(
        &d,
        dir,
        &p,
        &[
            "run",
            "--rm",
            "-T",
            "--no-deps",
            "db",
            "mysql",
            "-hdb",
            "-uroot",
            "-psecret",
            "-N",
            "-e",
            "SELECT name FROM todos.todo_items",
        ],
    );
    assert!(out.contains("Buy groceries"), "{out}");

    // Stopped and up again: the same containers, the data kept.
    let db_id = id_of(&d, &format!("{p}-db-1"));
    ok(&d, dir, &p, &["stop"]);
    ok(&d, dir, &p, &["up", "-d"]);
    assert_eq!(id_of(&d, &format!("{p}-db-1")), db_id);
    let items = wait_for(
        "the items after the restart",
        Duration::from_secs(60),
        || http(&d, &["http://127.0.0.1:3000/items"]).filter(|t| t.contains("Buy groceries")),
    );
    assert!(items.contains("Buy groceries"), "{items}");

    // A changed environment recreates the app alone.
    let app_id = id_of(&d, &format!("{p}-app-1"));
    std::fs::write(dir.join(".env"), env.replace("NOTE=first", "NOTE=second")).unwrap();
    ok(&d, dir, &p, &["up", "-d"]);
    assert_eq!(id_of(&d, &format!("{p}-db-1")), db_id, "db untouched");
    assert_ne!(id_of(&d, &format!("{p}-app-1")), app_id, "app recreated");
    add_item(&d, "Walk the dog");

    ok(
        &d,
        dir,
        &p,
        &["down", "--rmi", "all", "--volumes", "--remove-orphans"],
    );
    assert_eq!(d.ok(&["ps", "-a", "-q"]), "");
    assert!(!d
        .ok(&["volume", "ls", "-q"])
        .contains(&format!("{p}_mysql-data")));
    assert!(!d
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .contains(&p));
    assert_eq!(
        d.ok(&["images", "-q"]),
        "",
        "the images went with --rmi all"
    );
}
