//! docker-py, the client of Python integration tests and docker-compose
//! 1.x, against rrund: tests/py/test_dockerpy.py under pytest, in the venv
//! that scripts/install-pydeps.sh makes. A missing venv is a failure, not
//! a skip.

mod common;

use common::daemon::Daemon;
use common::{run_timeout, text};
use std::path::{Path, PathBuf};

/// The venv's python (RRUN_PYTHON, else the checkout's `.cache/venv`).
fn python() -> PathBuf {
    let p = std::env::var_os("RRUN_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/venv/bin/python"));
    assert!(
        p.exists(),
        "no python venv at {}: run scripts/install-pydeps.sh",
        p.display()
    );
    p
}

/// Runs a pytest module of tests/py against `d` (inside the daemon's
/// network namespace when `in_netns`: where its published ports are),
/// with `env` added; fails with pytest's report and the daemon's log.
fn pytest(d: &Daemon, module: &str, in_netns: bool, env: &[String]) {
    let module = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(module);
    let python = python();
    let mut args: Vec<String> = Vec::new();
    if in_netns {
        args.extend(["ip", "netns", "exec", d.net.name.as_str(), "env"].map(String::from));
    }
    args.extend([
        format!("DOCKER_HOST={}", d.host()),
        format!("RRUN_PREFIX={}", common::unique("py")),
        "PYTHONDONTWRITEBYTECODE=1".to_string(),
    ]);
    args.extend(env.iter().cloned());
    args.extend([
        python.display().to_string(),
        "-m".into(),
        "pytest".into(),
        "-v".into(),
        "-p".into(),
        "no:cacheprovider".into(),
        module.display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_timeout(600, Path::new("/usr/bin/env"), &args, None);
    let report = text(&out.stdout);
    println!("{report}");
    assert!(
        out.status.success(),
        "pytest failed:\n{report}{}\n--- rrund log ---\n{}",
        text(&out.stderr),
        d.log()
    );
    assert!(report.contains(" passed"), "{report}");
    assert!(
        !report.contains("skipped"),
        "a skipped test is not a pass: {report}"
    );
}

#[test]
fn docker_py_drives_rrund() {
    let reg = common::Registry::start();
    reg.push_busybox("test/busybox:1.0");
    let d = Daemon::start();
    d.load_busybox();
    pytest(
        &d,
        "test_dockerpy.py",
        false,
        &[format!("RRUN_REGISTRY={}", reg.host())],
    );
}

/// testcontainers-python: a network with an alias, a log-message wait,
/// exec exit codes, a mapped port, a container reached by name.
#[test]
fn testcontainers_drive_rrund() {
    let d = Daemon::start();
    d.load_busybox();
    pytest(
        &d,
        "test_testcontainers.py",
        true,
        &["TESTCONTAINERS_RYUK_DISABLED=true".to_string()],
    );
}
