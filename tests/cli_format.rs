//! End-to-end tests of rrun's command line as scripts use it: `--format`
//! templates (Go's text/template with docker's functions and `table`)
//! compared with what the docker CLI prints against the same rrund, the
//! `rrun container …`/`rrun image …` forms, and docker's flag errors.

mod common;

use common::daemon::Daemon;
use common::{text, unique};
use std::process::Output;

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// `rrun args…` and `docker args…` against the same daemon: both succeed
/// and print the same.
fn same(d: &Daemon, args: &[&str]) -> String {
    let ours = d.ok(args);
    let docker = d.docker_ok(args);
    assert_eq!(ours, docker, "rrun and docker differ on {args:?}");
    ours
}

/// A daemon with busybox, a user network and a labelled container on it.
struct Scene {
    d: Daemon,
    net: String,
    name: String,
}

fn scene() -> Scene {
    let d = Daemon::start();
    d.load_busybox();
    let net = unique("todo-app");
    let name = unique("fmt");
    d.ok(&["network", "create", &net]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        &net,
        "-l",
        "b=2",
        "-l",
        "a=1",
        "busybox",
        "sleep",
        "300",
    ]);
    Scene { d, net, name }
}

#[test]
fn inspect_templates_print_what_docker_prints() {
    let Scene { d, net, name } = scene();
    let ip_of = format!(r#"{{{{(index .NetworkSettings.Networks "{net}").IPAddress}}}}"#);
    let ip = same(&d, &["inspect", "-f", &ip_of, &name]);
    assert!(ip.trim().parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
    let range = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}";
    assert_eq!(same(&d, &["inspect", "-f", range, &name]), ip);
    let running = "{{if .State.Running}}up{{else}}down{{end}}";
    assert_eq!(same(&d, &["inspect", "-f", running, &name]), "up\n");
    let upper = same(
        &d,
        &["container", "inspect", "-f", "{{upper .Name}}", &name],
    );
    assert_eq!(upper, format!("/{}\n", name.to_uppercase()));
    let labels = same(
        &d,
        &["inspect", "--format", "{{json .Config.Labels}}", &name],
    );
    assert_eq!(labels, "{\"a\":\"1\",\"b\":\"2\"}\n");
    let kv = "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}|{{.Config.Labels.zz}}";
    assert_eq!(
        same(&d, &["inspect", "-f", kv, &name]),
        "a=1 b=2 |<no value>\n"
    );
    let misc = r#"{{len .Config.Cmd}} {{.Config.Cmd}} {{printf "%.4s" .Id}} {{lower "AB"}}"#;
    same(&d, &["inspect", "-f", misc, &name]);
    // Other kinds, by name and with --type.
    same(&d, &["inspect", "-f", "{{.Name}} {{.Driver}}", &net]);
    same(
        &d,
        &["inspect", "--type", "image", "-f", "{{.Id}}", "busybox"],
    );
    same(&d, &["network", "inspect", "-f", "{{.Name}}", &net]);
    same(
        &d,
        &[
            "image",
            "inspect",
            "-f",
            "{{.Os}}/{{.Architecture}}",
            "busybox",
        ],
    );
    // No format: the same objects, indented as docker indents them.
    let ours = d.ok(&["inspect", &name]);
    assert!(ours.starts_with("[\n    {\n"), "{ours}");
    // Byte for byte: the daemon's key order, Go's indentation.
    assert_eq!(ours, d.docker_ok(&["inspect", &name]));
    same(&d, &["inspect", &name, &net, "busybox"]);
    // `--format json` is newer docker's compact array (28.2 prints `json`).
    let compact = d.ok(&["inspect", "--format", "json", &name]);
    assert_eq!(compact.lines().count(), 1, "{compact}");
    let parsed = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    assert_eq!(parsed(&compact), parsed(&ours));
    same(&d, &["network", "inspect", &net]);
    same(&d, &["image", "inspect", "busybox"]);
}

#[test]
fn list_formats_and_tables_print_what_docker_prints() {
    let Scene { d, net, name } = scene();
    let by_name = format!("name={name}");
    same(
        &d,
        &[
            "ps",
            "--filter",
            &by_name,
            "--format",
            r"table {{.ID}}\t{{.Names}}",
        ],
    );
    // docker/cli's row method `.Label "key"`, as compose scripts use it.
    let labelled = same(
        &d,
        &[
            "ps",
            "-f",
            &by_name,
            "--format",
            r#"{{.Names}}:{{.Label "a"}}:{{.Label "zzz"}}:{{.Label "b" | printf "%s!"}}"#,
        ],
    );
    assert_eq!(labelled, format!("{name}:1::2!\n"));
    let table = same(
        &d,
        &[
            "ps",
            "-f",
            &by_name,
            "--format",
            r"table {{.Names}}\t{{.Image}}",
        ],
    );
    assert!(table.starts_with("NAMES"), "{table}");
    same(
        &d,
        &[
            "container",
            "ls",
            "-f",
            &by_name,
            "--format",
            "{{upper .Names}} {{.State}}",
        ],
    );
    same(
        &d,
        &[
            "images",
            "--format",
            r"table {{.Repository}}\t{{.Tag}}\t{{.ID}}",
        ],
    );
    same(&d, &["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    same(&d, &["images"]);
    // No rows: the header alone, docker's default columns.
    same(&d, &["ps", "-f", "name=no-such-container-here"]);
    let stats = r"table {{.Name}}\t{{.ID}}\t{{.Container}}";
    same(&d, &["stats", "--no-stream", "--format", stats, &name]);
    same(&d, &["system", "df"]);
    same(
        &d,
        &[
            "system",
            "df",
            "--format",
            "{{.Type}}: {{.TotalCount}} {{.Active}}",
        ],
    );
    let net_filter = format!("name={net}");
    same(
        &d,
        &[
            "network",
            "ls",
            "-f",
            &net_filter,
            "--format",
            r"table {{.Name}}\t{{.Driver}}",
        ],
    );
    same(&d, &["network", "ls", "-f", &net_filter]);
    let vol = unique("vol");
    let t0 = common::unix_now().to_string();
    d.ok(&["volume", "create", &vol]);
    let until = (common::unix_now() + 1).to_string();
    for f in [
        "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Scope}}",
        "{{json .}}",
        "json",
    ] {
        let args = [
            "events",
            "--since",
            &t0,
            "--until",
            &until,
            "-f",
            "type=volume",
            "--format",
            f,
        ];
        let out = same(&d, &args);
        assert!(out.contains(&vol), "{out}");
    }
    let vol_filter = format!("name={vol}");
    same(
        &d,
        &[
            "volume",
            "ls",
            "-f",
            &vol_filter,
            "--format",
            r"table {{.Name}}\t{{.Driver}}",
        ],
    );
    same(&d, &["volume", "ls", "-f", &vol_filter]);
    same(
        &d,
        &[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}}",
        ],
    );
    same(
        &d,
        &[
            "info",
            "--format",
            "{{.Containers}} {{.ContainersRunning}} {{.Images}}",
        ],
    );
    let json = d.ok(&["ps", "-f", &by_name, "--format", "json"]);
    let row: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(row["Names"], name.as_str());
}

#[test]
fn template_errors_are_one_line_with_dockers_exit_codes() {
    let Scene { d, name, .. } = scene();
    for args in [
        vec!["inspect", "-f", "{{if}}", name.as_str()],
        vec!["ps", "--format", "{{.Names"],
    ] {
        let ours = d.rrun(&args);
        let docker = d.docker(&args, None);
        assert_eq!(
            code(&ours),
            code(&docker),
            "{args:?}: {}",
            text(&ours.stderr)
        );
        let err = text(&ours.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("template: :1:"), "{err}");
        let prefix = |s: &str| s.split("template:").next().unwrap_or_default().to_string();
        assert_eq!(prefix(&err), prefix(&text(&docker.stderr)), "{args:?}");
    }
    assert_eq!(code(&d.rrun(&["inspect", "-f", "{{if}}", &name])), 64);
    // A field a list row does not have is an error, as docker's.
    let out = d.rrun(&["ps", "--format", "{{.NoSuchField}}"]);
    assert_eq!(code(&out), 1, "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("NoSuchField"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn management_forms_run_the_short_forms() {
    let d = Daemon::start();
    d.load_busybox();
    let name = unique("mgmt");
    let out = d.ok(&["container", "run", "--name", &name, "busybox", "echo", "hi"]);
    assert_eq!(out, "hi\n");
    let by_name = format!("name={name}");
    for ls in ["ls", "ps", "list"] {
        let names = d.ok(&[
            "container",
            ls,
            "-a",
            "-f",
            &by_name,
            "--format",
            "{{.Names}}",
        ]);
        assert_eq!(names.trim(), name, "container {ls}");
    }
    assert_eq!(d.ok(&["container", "logs", &name]), "hi\n");
    d.ok(&["image", "tag", "busybox", "mgmt:1"]);
    let tags = d.ok(&[
        "image",
        "ls",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "mgmt",
    ]);
    assert!(tags.lines().any(|l| l == "mgmt:1"), "{tags}");
    d.ok(&["image", "rm", "mgmt:1"]);
    d.ok(&["container", "rm", &name]);
    let gone = d.rrun(&["container", "inspect", &name]);
    assert_eq!(code(&gone), 1, "{}", text(&gone.stdout));
}

#[test]
fn an_unknown_flag_before_the_image_is_dockers_error() {
    let d = Daemon::start();
    d.load_busybox();
    let name = unique("flag");
    let args = [
        "run",
        "-d",
        "--name",
        &name,
        "--no-such-flag",
        "true",
        "busybox",
        "sleep",
        "5",
    ];
    let ours = d.rrun(&args);
    let docker = d.docker(&args, None);
    assert_eq!(code(&ours), 125, "{}", text(&ours.stderr));
    assert_eq!(code(&docker), 125);
    let first = |o: &Output| {
        text(&o.stderr)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(first(&ours), "unknown flag: --no-such-flag");
    assert_eq!(first(&ours), first(&docker));
    let usage = text(&ours.stderr);
    assert!(
        usage.contains("Usage:  rrun run [OPTIONS] IMAGE [COMMAND] [ARG...]"),
        "{usage}"
    );
    // Nothing was made, and no image was looked for.
    let all = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.contains(&name), "{all}");
    let out = d.rrun(&["ps", "--bogus"]);
    assert_eq!(code(&out), 125);
    assert_eq!(first(&out), first(&d.docker(&["ps", "--bogus"], None)));
}
