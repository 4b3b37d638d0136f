//! The walkthrough's images (scripts/build-walkthrough-images.sh, issue 7)
//! push to a registry under the names the walkthrough pulls, with the image
//! configs it relies on. Their behaviour (entrypoint, app, tools) is checked
//! without an engine by scripts/check-walkthrough-images.sh.

mod common;

use common::{run_timeout, text, Registry};
use serde_json::Value;
use std::path::Path;

/// `skopeo inspect --config` of a pushed image: its config object.
fn pushed_config(reg: &Registry, repo_tag: &str) -> Value {
    let src = format!("docker://{}/{repo_tag}", reg.host());
    let out = run_timeout(
        60,
        Path::new("skopeo"),
        &["inspect", "--config", "--tls-verify=false", &src],
        None,
    );
    assert!(
        out.status.success(),
        "skopeo inspect {src}: {}",
        text(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["config"].clone()
}

#[test]
fn walkthrough_images_push_under_their_names_with_their_configs() {
    let reg = Registry::start();
    reg.push_image("mysql", "library/mysql:5.7");
    reg.push_image("netshoot", "nicolaka/netshoot:latest");
    reg.push_image("todo-app", "rrun/todo-app:latest");

    let mysql = pushed_config(&reg, "library/mysql:5.7");
    assert_eq!(
        mysql["Entrypoint"],
        serde_json::json!(["docker-entrypoint.sh"])
    );
    assert_eq!(mysql["Cmd"], serde_json::json!(["mysqld"]));
    assert!(mysql["Volumes"]["/var/lib/mysql"].is_object(), "{mysql}");
    assert!(mysql["ExposedPorts"]["3306/tcp"].is_object(), "{mysql}");
    assert!(
        mysql["Env"].as_array().unwrap().iter().any(|e| e
            .as_str()
            .unwrap()
            .starts_with("PATH=/usr/local/sbin:/usr/local/bin:")),
        "{mysql}"
    );

    let netshoot = pushed_config(&reg, "nicolaka/netshoot:latest");
    assert_eq!(netshoot["Cmd"], serde_json::json!(["bash"]));

    let app = pushed_config(&reg, "rrun/todo-app:latest");
    assert_eq!(app["WorkingDir"], "/app");
    assert_eq!(app["Cmd"], serde_json::json!(["python3", "/app/app.py"]));
    assert!(app["ExposedPorts"]["3000/tcp"].is_object(), "{app}");
}

/// The images' behaviour, without an engine: the entrypoint of mysql (first
/// start, restart on the same data, the _FILE variants, initdb.d, random and
/// empty root passwords), the to-do app's API against it, netshoot's tools.
/// The script runs them chrooted in namespaces of its own (a private network
/// namespace: nothing leaves loopback) and removes everything it made.
#[test]
fn walkthrough_images_behave_like_the_walkthrough_needs() {
    common::images();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check-walkthrough-images.sh");
    let out = run_timeout(600, &script, &[], None);
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{report}");
    assert!(report.contains(" passed, 0 failed"), "{report}");
}
