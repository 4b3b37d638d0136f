//! Docker's filter rules end to end, through rrun and the docker CLI:
//! several `label` values must all hold (docker-compose asks for a project
//! and a service at once), values of other keys are alternatives, keys
//! must all hold, and a bad filter is one clear error.

mod common;

use common::daemon::{http, Daemon};
use common::text;

fn lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

/// A compose-like project: two services of one project, one of another.
fn project(d: &Daemon) {
    d.load_busybox();
    for (name, project, service, port) in [
        ("p_app_1", "p", "app", "3000"),
        ("p_db_1", "p", "db", "3306"),
        ("q_app_1", "q", "app", "3001"),
    ] {
        d.ok(&[
            "create",
            "--name",
            name,
            "--label",
            &format!("com.docker.compose.project={project}"),
            "--label",
            &format!("com.docker.compose.service={service}"),
            "-p",
            &format!("127.0.0.1::{port}"),
            "busybox",
            "true",
        ]);
    }
}

#[test]
fn container_filters_follow_dockers_rules() {
    let d = Daemon::start();
    project(&d);
    let ps = |args: &[&str]| {
        let mut full = vec!["ps", "-a", "--format", "{{.Names}}"];
        full.extend_from_slice(args);
        lines(&d.ok(&full))
    };
    let both = [
        "--filter",
        "label=com.docker.compose.project=p",
        "--filter",
        "label=com.docker.compose.service=app",
    ];
    assert_eq!(ps(&both), ["p_app_1"], "every label must hold");
    assert_eq!(
        ps(&["--filter", "label=com.docker.compose.project=p"]),
        ["p_app_1", "p_db_1"]
    );
    assert_eq!(
        ps(&["--filter", "name=^p_", "--filter", "name=q_app"]),
        ["p_app_1", "p_db_1", "q_app_1"],
        "names are alternatives"
    );
    assert_eq!(ps(&["--filter", "name=^/?p_db_1$"]), ["p_db_1"]);
    assert_eq!(ps(&["--filter", "expose=3306"]), ["p_db_1"]);
    assert_eq!(
        ps(&["--filter", "publish=3000-3001/tcp"]),
        ["p_app_1", "q_app_1"]
    );
    assert_eq!(ps(&["--filter", "since=p_app_1"]), ["p_db_1", "q_app_1"]);
    assert_eq!(ps(&["--filter", "before=p_db_1"]), ["p_app_1"]);
    assert_eq!(ps(&["--filter", "ancestor=busybox"]).len(), 3);
    assert!(ps(&["--filter", "status=running"]).is_empty());
    // The docker CLI gets the same answer from rrund.
    let mut full = vec!["ps", "-a", "--format", "{{.Names}}"];
    full.extend_from_slice(&both);
    assert_eq!(lines(&d.docker_ok(&full)), ["p_app_1"]);

    // A bad filter: one line, 400 through the API, non-zero through rrun.
    let bad = d.rrun(&["ps", "--filter", "bogus=1"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("invalid filter 'bogus'"),
        "{}",
        text(&bad.stderr)
    );
    let (code, body) = http(
        &d.socket(),
        "GET",
        "/containers/json?filters=%7B%22status%22%3A%5B%22sleeping%22%5D%7D",
    )
    .unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("invalid filter 'status=sleeping'"), "{body}");
    let (code, body) = http(
        &d.socket(),
        "GET",
        "/containers/json?filters=%7B%22before%22%3A%5B%22nope%22%5D%7D",
    )
    .unwrap();
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("No such container: nope"), "{body}");
}

#[test]
fn network_and_image_filters_and_prunes() {
    let d = Daemon::start();
    d.load_busybox();
    let net = |name: &str, label: &str| {
        d.ok(&["network", "create", "--label", label, name]);
    };
    let a = common::unique("fa");
    let b = common::unique("fb");
    net(&a, "tier=front");
    net(&b, "tier=back");
    d.ok(&[
        "create",
        "--name",
        "user",
        "--network",
        &a,
        "busybox",
        "true",
    ]);
    let ls = |args: &[&str]| {
        let mut full = vec!["network", "ls", "--format", "{{.Name}}"];
        full.extend_from_slice(args);
        lines(&d.ok(&full))
    };
    assert_eq!(ls(&["--filter", "label=tier=front"]), vec![a.clone()]);
    assert_eq!(
        ls(&["--filter", "label=tier", "--filter", "label=tier=back"]),
        vec![b.clone()]
    );
    assert_eq!(
        ls(&["--filter", "type=builtin"]),
        ["bridge", "host", "none"]
    );
    assert_eq!(ls(&["--filter", "dangling=true"]), vec![b.clone()]);
    let bad = d.rrun(&["network", "ls", "--filter", "type=weird"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("invalid filter 'type=weird'"),
        "{}",
        text(&bad.stderr)
    );

    // Prune keeps what a filter excludes and what a container uses.
    d.ok(&["network", "prune", "-f", "--filter", "label!=tier=back"]);
    assert_eq!(
        ls(&["--filter", "type=custom"]),
        lines(&format!("{a}\n{b}"))
    );
    d.ok(&["network", "prune", "-f", "--filter", "label=tier"]);
    assert_eq!(ls(&["--filter", "type=custom"]), vec![a.clone()]);

    // Images: label and reference filters, and a bad value.
    let imgs = |args: &[&str]| {
        let mut full = vec!["images", "--format", "{{.Repository}}"];
        full.extend_from_slice(args);
        lines(&d.ok(&full))
    };
    assert_eq!(imgs(&["--filter", "reference=busy*"]), ["busybox"]);
    // Another name of the same image is not a row of a filtered list.
    d.ok(&["tag", "busybox", "other/name:1"]);
    assert_eq!(imgs(&["--filter", "reference=other/*"]), ["other/name"]);
    assert_eq!(imgs(&[]), ["busybox", "other/name"]);
    assert!(imgs(&["--filter", "reference=alp*"]).is_empty());
    assert!(imgs(&["--filter", "since=busybox"]).is_empty());
    let bad = d.rrun(&["images", "--filter", "dangling=maybe"]);
    assert!(
        text(&bad.stderr).contains("invalid filter 'dangling=maybe'"),
        "{}",
        text(&bad.stderr)
    );
}
