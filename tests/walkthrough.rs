//! The multi-container walkthrough of Docker's getting-started guide, with
//! rrun in place of docker, offline: a MySQL-compatible database and a to-do
//! app on a private network, finding each other by name, keeping their data
//! in a named volume; the images come from a local registry configured as
//! the docker.io mirror, so the unmodified names (`mysql:5.7`,
//! `nicolaka/netshoot`) pull them. Interactive steps are driven through a
//! pseudo-terminal, as a user would type them.

mod common;

use common::daemon::{inspect, Daemon};
use common::pty::PtySession;
use common::{bin, text, wait_for, Registry};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const PASSWORD: &str = "secret";

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn rrun_pty(d: &Daemon, args: &[&str]) -> PtySession {
    let host = d.host();
    let mut full = vec!["-H", host.as_str()];
    full.extend_from_slice(args);
    PtySession::spawn(&bin("rrun"), &full)
}

/// `rrun exec -it <db> mysql -u root -p [db]`, answering the password
/// prompt, running `sql`; returns what the client printed for it.
fn mysql_session(d: &Daemon, db: &str, database: Option<&str>, sql: &str) -> String {
    let mut args = vec!["exec", "-it", db, "mysql", "-u", "root", "-p"];
    if let Some(name) = database {
        args.push(name);
    }
    let mut s = rrun_pty(d, &args);
    s.expect("Enter password:", Duration::from_secs(30));
    s.send(&format!("{PASSWORD}\n"));
    s.expect("]>", Duration::from_secs(30));
    let from = s.mark();
    s.send(&format!("{sql}\n"));
    let out = s.expect_from(from, " sec)", Duration::from_secs(30));
    s.send("exit\n");
    assert_eq!(s.wait(Duration::from_secs(30)), 0, "mysql client exit");
    out
}

/// Waits until the database answers a query through its own client, over
/// TCP: on first start the image's entrypoint runs a temporary server on the
/// socket only (`--skip-networking`) while it initialises, and a socket
/// client would reach that one just before it shuts down for the real server.
fn wait_for_db(d: &Daemon, db: &str) {
    wait_for(
        "the database to accept queries",
        Duration::from_secs(180),
        || {
            let out = d.rrun(&[
                "exec",
                db,
                "mysql",
                "--protocol=tcp",
                "-h127.0.0.1",
                "-uroot",
                &format!("-p{PASSWORD}"),
                "-e",
                "SELECT 1",
            ]);
            out.status.success().then_some(())
        },
    );
}

fn app_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/todo-app")
}

/// An HTTP request from the daemon's host namespace (curl, with a timeout).
fn http(d: &Daemon, args: &[&str]) -> Option<String> {
    let mut full = vec!["curl", "-sf", "-m", "5"];
    full.extend_from_slice(args);
    let out = d.net.exec(10, &full);
    out.status.success().then(|| text(&out.stdout))
}

#[test]
fn the_multi_container_walkthrough() {
    let reg = Registry::start();
    reg.push_image("mysql", "library/mysql:5.7");
    reg.push_image("netshoot", "nicolaka/netshoot:latest");
    reg.push_image("todo-app", "getting-started/todo-app:latest");
    let mirror = format!("http://{}", reg.host());
    let d = Daemon::start_with(&serde_json::json!({
        "registry-mirrors": [mirror],
        "insecure-registries": [reg.host()],
    }));
    d.load_busybox();

    // 1. The network.
    let id = d.ok(&["network", "create", "todo-app"]);
    assert_eq!(id.trim().len(), 64);

    // 2. The database: pulled through the mirror, its volume made on first use.
    let out = d.rrun(&[
        "run",
        "-d",
        "--network",
        "todo-app",
        "--network-alias",
        "mysql",
        "-v",
        "todo-mysql-data:/var/lib/mysql",
        "-e",
        &format!("MYSQL_ROOT_PASSWORD={PASSWORD}"),
        "-e",
        "MYSQL_DATABASE=todos",
        "mysql:5.7",
    ]);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stderr), d.log());
    assert!(text(&out.stderr).contains("Unable to find image 'mysql:5.7' locally"));
    let db = text(&out.stdout).trim().to_string();
    assert_eq!(db.len(), 64);
    assert!(d
        .ok(&["volume", "ls", "-q"])
        .lines()
        .any(|l| l == "todo-mysql-data"));
    wait_for_db(&d, &db);

    // 3. The mysql client through a terminal: the database is there.
    let out = mysql_session(&d, &db, None, "SHOW DATABASES;");
    assert!(out.contains("todos"), "{out}");

    // 4. netshoot on the network: `dig mysql` answers from 127.0.0.11 with
    // the database's address; a name on another network does not resolve.
    let db_ip = inspect(&d, &db)["NetworkSettings"]["Networks"]["todo-app"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    d.ok(&["network", "create", "elsewhere"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "hidden",
        "--network",
        "elsewhere",
        "--network-alias",
        "secret-service",
        "busybox",
        "sleep",
        "600",
    ]);
    let mut sh = rrun_pty(
        &d,
        &["run", "-it", "--network", "todo-app", "nicolaka/netshoot"],
    );
    sh.expect("#", Duration::from_secs(60));
    // Pulled on a terminal: progress bars per layer, then the shell.
    assert!(sh.output.contains("Pull complete"), "{}", sh.output);
    let from = sh.mark();
    // The marker is computed, so the terminal's echo of the line does not match.
    sh.send("dig mysql; echo dig-$((40+2))-done\n");
    let dig = sh.expect_from(from, "dig-42-done", Duration::from_secs(30));
    assert!(dig.contains("status: NOERROR"), "{dig}");
    assert!(dig.contains("ANSWER: 1,"), "{dig}");
    assert!(
        dig.contains(&format!("mysql.\t\t\t600\tIN\tA\t{db_ip}")) || dig.contains(&db_ip),
        "{dig}"
    );
    assert!(dig.contains("SERVER: 127.0.0.11#53"), "{dig}");
    let from = sh.mark();
    sh.send("dig secret-service; echo dig-$((40+3))-done\n");
    let dig = sh.expect_from(from, "dig-43-done", Duration::from_secs(30));
    assert!(
        !dig.contains("status: NOERROR") || dig.contains("ANSWER: 0,"),
        "{dig}"
    );
    sh.send("exit\n");
    assert_eq!(sh.wait(Duration::from_secs(30)), 0);
    d.ok(&["rm", "-f", "hidden"]);
    d.ok(&["network", "rm", "elsewhere"]);

    // 5. The app, its source bind-mounted from the repository.
    let app = d.ok(&[
        "run",
        "-dp",
        "3000:3000",
        "-w",
        "/app",
        "-v",
        &format!("{}:/app", app_dir().display()),
        "--network",
        "todo-app",
        "-e",
        "MYSQL_HOST=mysql",
        "-e",
        "MYSQL_USER=root",
        "-e",
        &format!("MYSQL_PASSWORD={PASSWORD}"),
        "-e",
        "MYSQL_DB=todos",
        "getting-started/todo-app",
        "python3",
        "app.py",
    ]);
    let app = app.trim().to_string();
    wait_for("the app's log", Duration::from_secs(60), || {
        let logs = d.logs(&app);
        (logs.contains("Connected to mysql db at host mysql")
            && logs.contains("Listening on port 3000"))
        .then_some(())
    });
    for name in ["Buy groceries", "Walk the dog"] {
        let body = serde_json::json!({ "name": name }).to_string();
        let added = wait_for("the app to answer", Duration::from_secs(30), || {
            http(
                &d,
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
    let listed = http(&d, &["http://127.0.0.1:3000/items"]).expect("GET /items");
    assert!(listed.contains("Walk the dog"), "{listed}");
    let out = mysql_session(&d, &db, Some("todos"), "select * from todo_items;");
    assert!(
        out.contains("Buy groceries") && out.contains("Walk the dog"),
        "{out}"
    );

    // 6. Both containers gone; the data is not.
    d.ok(&["rm", "-f", &app, &db]);
    let v: serde_json::Value =
        serde_json::from_str(&d.ok(&["volume", "inspect", "todo-mysql-data"])).unwrap();
    let mountpoint = v[0]["Mountpoint"].as_str().unwrap().to_string();
    assert!(
        mountpoint.starts_with(d.data_root().to_str().unwrap()),
        "{mountpoint}"
    );
    assert!(Path::new(&mountpoint).join("todos").is_dir());
    let db2 = d.ok(&[
        "run",
        "-d",
        "--network",
        "todo-app",
        "--network-alias",
        "mysql",
        "-v",
        "todo-mysql-data:/var/lib/mysql",
        "-e",
        &format!("MYSQL_ROOT_PASSWORD={PASSWORD}"),
        "mysql:5.7",
    ]);
    let db2 = db2.trim().to_string();
    wait_for_db(&d, &db2);
    let out = mysql_session(&d, &db2, Some("todos"), "select * from todo_items;");
    assert!(out.contains("Buy groceries"), "{out}");
    d.ok(&["rm", "-f", &db2]);

    // 7. The data-volume-container pattern.
    d.ok(&[
        "create",
        "--name",
        "dbdata",
        "-v",
        "/var/lib/mysql",
        "busybox",
    ]);
    let db3 = d.ok(&[
        "run",
        "-d",
        "--volumes-from",
        "dbdata",
        "-e",
        &format!("MYSQL_ROOT_PASSWORD={PASSWORD}"),
        "-e",
        "MYSQL_DATABASE=kept",
        "mysql:5.7",
    ]);
    let db3 = db3.trim().to_string();
    wait_for_db(&d, &db3);
    d.ok(&["rm", "-f", &db3]);
    let db4 = d.ok(&[
        "run",
        "-d",
        "--volumes-from",
        "dbdata",
        "-e",
        &format!("MYSQL_ROOT_PASSWORD={PASSWORD}"),
        "mysql:5.7",
    ]);
    let db4 = db4.trim().to_string();
    wait_for_db(&d, &db4);
    let out = mysql_session(&d, &db4, None, "SHOW DATABASES;");
    assert!(out.contains("kept"), "{out}");

    // 8. Clean-up leaves nothing behind.
    d.ok(&["rm", "-f", &db4]);
    d.ok(&["rm", "-v", "dbdata"]);
    // The netshoot container of step 4 exited and stays until removed.
    for id in d.ok(&["ps", "-aq"]).lines() {
        d.ok(&["rm", "-f", id]);
    }
    d.ok(&["network", "rm", "todo-app"]);
    d.ok(&["volume", "rm", "todo-mysql-data"]);
    assert!(d.ok(&["ps", "-aq"]).trim().is_empty());
    assert!(d.ok(&["volume", "ls", "-q"]).trim().is_empty());
    let links = d.net.exec(10, &["ip", "-o", "link"]);
    let links = text(&links.stdout);
    assert!(!links.contains(" ve"), "veths left: {links}");
    // The daemon's table is there, without a published port.
    let rules = d
        .net
        .exec(10, &["nft", "list", "table", "inet", &d.own_name()]);
    assert!(rules.status.success(), "{}", text(&rules.stderr));
    let rules_text = text(&rules.stdout);
    assert!(
        !rules_text.contains("chain published") && !rules_text.contains("dnat ip to"),
        "{}",
        text(&rules.stdout)
    );
    let left = common::leftovers::mounts_of(&d);
    assert!(left.is_empty(), "mounts left: {left:?}");
    for id in [&db, &app, &db2, &db3, &db4] {
        assert!(
            !common::cgroup_dir("memory", &format!("/rrun/{id}")).exists(),
            "cgroup of {id} left"
        );
        let shims = std::process::Command::new("pgrep")
            .args(["-f", &format!("shim {id}")])
            .output()
            .unwrap();
        assert!(text(&shims.stdout).trim().is_empty(), "shim of {id} left");
    }
}
