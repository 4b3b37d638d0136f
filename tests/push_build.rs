//! Images rrund makes and sends: `POST /images/{name}/push` and `/auth`
//! driven by the real docker CLI (and `rrun push`) against Debian's
//! docker-registry on 127.0.0.1, anonymous and with basic auth.

mod common;

use common::daemon::Daemon;
use common::{bin, run_timeout, text, wait_for};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// `curl` with a timeout: the registry's own answer, bypassing rrund.
fn curl(args: &[&str]) -> String {
    let mut full = vec!["-sS", "--max-time", "20"];
    full.extend_from_slice(args);
    let out = run_timeout(30, Path::new("curl"), &full, None);
    assert!(out.status.success(), "curl {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn docker_push_to_a_registry_then_another_daemon_pulls_it() {
    let reg = common::Registry::start();
    let d = Daemon::start();
    d.load_busybox();
    let image = format!("{}/test/pushed:1", reg.host());
    d.ok(&["tag", "busybox", &image]);

    let out = d.docker_ok(&["push", &image]);
    let want = format!("The push refers to repository [{}/test/pushed]", reg.host());
    assert!(out.contains(&want), "{out}");
    assert!(out.contains(": Pushed"), "{out}");
    assert!(out.contains("1: digest: sha256:"), "{out}");
    let tags = curl(&[&format!("http://{}/v2/test/pushed/tags/list", reg.host())]);
    assert!(tags.contains("\"1\""), "{tags}");
    // Docker's RepoDigests gains the digest the registry knows it by.
    let digests = d.ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", &image]);
    assert!(
        digests.contains(&format!("{}/test/pushed@sha256:", reg.host())),
        "{digests}"
    );

    // Again with rrun: every blob is there already.
    let out = d.ok(&["push", &image]);
    assert!(out.contains("Layer already exists"), "{out}");

    // `push -a`: every local tag of the repository.
    let other = format!("{}/test/pushed:2", reg.host());
    d.ok(&["tag", "busybox", &other]);
    let name = format!("{}/test/pushed", reg.host());
    let out = d.ok(&["push", "-a", &name]);
    assert!(
        out.contains("1: digest: sha256:") && out.contains("2: digest: sha256:"),
        "{out}"
    );

    // Another daemon pulls and runs what was pushed.
    let d2 = Daemon::start();
    let out = d2.ok(&["run", "--rm", &image, "echo", "from the registry"]);
    assert_eq!(out, "from the registry\n");
    // As users often name a local registry: `localhost` resolves through
    // the daemon's resolver (/etc/hosts), also in the statically linked
    // release build (scripts/test.sh runs this test against it too).
    let by_name = format!("localhost:{}/test/pushed:1", reg.port);
    let out = d2.ok(&["run", "--rm", &by_name, "echo", "by name"]);
    assert_eq!(out, "by name\n");

    // A name with no local image: Docker's words, and a failed command.
    let missing = format!("{}/test/never:1", reg.host());
    let out = d.docker(&["push", &missing], None);
    assert_ne!(code(&out), 0, "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("An image does not exist locally with the tag"),
        "{err}"
    );
    let out = d.rrun(&["push", &missing]);
    assert_ne!(code(&out), 0, "{}", text(&out.stdout));
}

#[test]
fn docker_login_checks_credentials_and_push_uses_them() {
    let reg = common::Registry::start_htpasswd("alice", "s3cret");
    let d = Daemon::start();
    d.load_busybox();
    let image = format!("{}/team/app:2", reg.host());
    d.ok(&["tag", "busybox", &image]);

    // Anonymous: the registry refuses, and the push says so.
    let out = d.docker(&["push", &image], None);
    assert_ne!(code(&out), 0, "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("access denied"),
        "{}",
        text(&out.stderr)
    );

    // A wrong password: dockerd's message, and nothing stored.
    let host = reg.host();
    let login = |password: &str| {
        d.docker(
            &["login", "-u", "alice", "--password-stdin", &host],
            Some(&format!("{password}\n")),
        )
    };
    let out = login("wrong");
    assert_ne!(code(&out), 0, "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "login attempt to http://{host}/v2/ failed with status: 401 Unauthorized"
        )),
        "{err}"
    );

    let out = login("s3cret");
    assert_eq!(code(&out), 0, "{}{}", text(&out.stderr), d.log());
    assert!(
        text(&out.stdout).contains("Login Succeeded"),
        "{}",
        text(&out.stdout)
    );

    // The docker CLI now sends the credentials with its push.
    let out = d.docker_ok(&["push", &image]);
    assert!(out.contains("2: digest: sha256:"), "{out}");
    let tags = curl(&[
        "-u",
        "alice:s3cret",
        &format!("http://{host}/v2/team/app/tags/list"),
    ]);
    assert!(tags.contains("\"2\""), "{tags}");

    // A bad X-Registry-Auth header is a 400, not a push.
    let (status, body) = raw_push(&d, &format!("/images/{image}/push?tag=2"), "!!!");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("X-Registry-Auth"), "{body}");
}

/// `rrun args…` against `d` with a Docker config directory of the test's
/// own (`DOCKER_CONFIG`), never the host's.
fn rrun_with_config(d: &Daemon, config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let rrun = bin("rrun");
    let host = d.host();
    let config_env = format!("DOCKER_CONFIG={}", config.display());
    let mut full = vec![
        "RRUN_NO_AUTOSTART=1",
        config_env.as_str(),
        rrun.to_str().unwrap(),
        "-H",
        host.as_str(),
    ];
    full.extend_from_slice(args);
    run_timeout(60, Path::new("/usr/bin/env"), &full, stdin)
}

#[test]
fn rrun_login_stores_credentials_that_push_sends() {
    let reg = common::Registry::start_htpasswd("bob", "pa55");
    let d = Daemon::start();
    d.load_busybox();
    let config = d.dir.path().join("rrun-docker-config");
    let host = reg.host();
    let image = format!("{host}/team/rrun:3");
    d.ok(&["tag", "busybox", &image]);
    let rrun = |args: &[&str], stdin: Option<&str>| rrun_with_config(&d, &config, args, stdin);

    let out = rrun(
        &["login", "-u", "bob", "--password-stdin", &host],
        Some("nope\n"),
    );
    assert_ne!(code(&out), 0, "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("401 Unauthorized"),
        "{}",
        text(&out.stderr)
    );
    assert!(!config.join("config.json").exists());

    let out = rrun(
        &["login", "-u", "bob", "--password-stdin", &host],
        Some("pa55\n"),
    );
    assert_eq!(code(&out), 0, "{}{}", text(&out.stderr), d.log());
    assert_eq!(text(&out.stdout), "Login Succeeded\n");
    let stored = std::fs::read_to_string(config.join("config.json")).unwrap();
    assert!(stored.contains(&host), "{stored}");

    let out = rrun(&["push", &image], None);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stderr), d.log());
    assert!(
        text(&out.stdout).contains("3: digest: sha256:"),
        "{}",
        text(&out.stdout)
    );
    let tags = curl(&[
        "-u",
        "bob:pa55",
        &format!("http://{host}/v2/team/rrun/tags/list"),
    ]);
    assert!(tags.contains("\"3\""), "{tags}");

    // Logged out, the push is refused again.
    let out = rrun(&["logout", &host], None);
    assert_eq!(
        text(&out.stdout),
        format!("Removing login credentials for {host}\n")
    );
    let again = format!("{host}/team/rrun:4");
    d.ok(&["tag", "busybox", &again]);
    let out = rrun(&["push", &again], None);
    assert_ne!(code(&out), 0, "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("access denied"),
        "{}",
        text(&out.stderr)
    );
}

/// `POST path` on the daemon's socket with an `X-Registry-Auth` header.
fn raw_push(d: &Daemon, path: &str, auth: &str) -> (u16, String) {
    let out = run_timeout(
        30,
        Path::new("curl"),
        &[
            "-sS",
            "--max-time",
            "20",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "--unix-socket",
            d.socket().to_str().unwrap(),
            "-X",
            "POST",
            "-H",
            &format!("X-Registry-Auth: {auth}"),
            &format!("http://rrun{path}"),
        ],
        None,
    );
    assert!(out.status.success(), "curl: {}", text(&out.stderr));
    let all = text(&out.stdout);
    let (body, status) = all.rsplit_once('\n').unwrap();
    (status.trim().parse().unwrap(), body.to_string())
}

/// A context directory with `dockerfile` and a file for COPY.
fn context(dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("rrun-build-ctx-")
        .tempdir()
        .unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.path().join("hello.txt"), "copied from the context\n").unwrap();
    dir
}

const DOCKERFILE: &str = "\
FROM busybox
ARG GREETING=hello
ENV APP_DIR=/app
WORKDIR /app
COPY hello.txt ./
RUN echo \"$GREETING from run in $APP_DIR\" > ran.txt && cat hello.txt
LABEL purpose=test
CMD [\"cat\", \"/app/ran.txt\"]
";

/// `DOCKER_BUILDKIT=0 docker build args…` against `d`.
fn classic_docker_build(d: &Daemon, args: &[&str]) -> Output {
    let mut full = vec!["DOCKER_BUILDKIT=0".to_string()];
    full.extend(d.docker_argv(args));
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    run_timeout(180, Path::new("/usr/bin/env"), &full, None)
}

#[test]
fn classic_docker_build_makes_an_image_that_runs() {
    let d = Daemon::start();
    d.load_busybox();
    let ctx = context(DOCKERFILE);
    let dir = ctx.path().to_str().unwrap();
    let out = classic_docker_build(
        &d,
        &["build", "-t", "built:1", "--build-arg", "GREETING=hi", dir],
    );
    let stdout = text(&out.stdout);
    assert_eq!(code(&out), 0, "{stdout}{}{}", text(&out.stderr), d.log());
    assert!(stdout.contains("Step 1/8 : FROM busybox"), "{stdout}");
    assert!(stdout.contains("Step 6/8 : RUN echo"), "{stdout}");
    // The RUN's output comes through.
    assert!(stdout.contains("copied from the context"), "{stdout}");
    assert!(stdout.contains("Successfully built "), "{stdout}");
    assert!(stdout.contains("Successfully tagged built:1"), "{stdout}");

    // The image runs, shows its RUN's effect, and keeps its config.
    assert_eq!(d.ok(&["run", "--rm", "built:1"]), "hi from run in /app\n");
    assert_eq!(
        d.ok(&["run", "--rm", "built:1", "cat", "hello.txt"]),
        "copied from the context\n"
    );
    let label = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Config.Labels.purpose}} {{.Config.WorkingDir}}",
        "built:1",
    ]);
    assert_eq!(label.trim(), "test /app");

    // rrun build of the same context: every step from the cache.
    let out = d.ok(&["build", "-t", "built:2", "--build-arg", "GREETING=hi", dir]);
    assert!(out.contains("Using cache"), "{out}");
    assert!(out.contains("Successfully tagged built:2"), "{out}");
    let id1 = d.ok(&["image", "inspect", "-f", "{{.Id}}", "built:1"]);
    let id2 = d.ok(&["image", "inspect", "-f", "{{.Id}}", "built:2"]);
    assert_eq!(id1, id2);

    // A changed copied file: cached up to its COPY, rebuilt from there; a
    // --label lands on the final image.
    std::fs::write(ctx.path().join("hello.txt"), "changed\n").unwrap();
    let out = d.ok(&[
        "build",
        "-t",
        "built:3",
        "--label",
        "extra=1",
        "--build-arg",
        "GREETING=hi",
        dir,
    ]);
    let cached = out.matches("Using cache").count();
    assert_eq!(cached, 3, "ARG, ENV and WORKDIR only: {out}");
    assert!(out.contains("changed\n"), "{out}");
    let label = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Config.Labels.extra}}",
        "built:3",
    ]);
    assert_eq!(label.trim(), "1");
    assert_eq!(
        d.ok(&["run", "--rm", "built:3", "cat", "hello.txt"]),
        "changed\n"
    );
}

#[test]
fn rrun_build_with_a_default_arg_and_bad_dockerfiles() {
    let d = Daemon::start();
    d.load_busybox();
    let ctx = context(DOCKERFILE);
    let dir = ctx.path().to_str().unwrap();
    let id = d.ok(&["build", "-q", "-t", "plain", dir]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(d.ok(&["run", "--rm", "plain"]), "hello from run in /app\n");

    // Multi-stage: a heredoc script, COPY --from a stage, and --target to
    // stop at one.
    let multi = context(
        "FROM busybox AS base\nRUN <<EOT\necho staged > /staged.txt\nEOT\n\
         FROM busybox\nCOPY --from=base /staged.txt /got.txt\nCMD [\"cat\", \"/got.txt\"]\n",
    );
    let mdir = multi.path().to_str().unwrap();
    d.ok(&["build", "-t", "multi", mdir]);
    assert_eq!(d.ok(&["run", "--rm", "multi"]), "staged\n");
    d.ok(&["build", "-t", "multi-base", "--target", "base", mdir]);
    assert_eq!(
        d.ok(&["run", "--rm", "multi-base", "cat", "/staged.txt"]),
        "staged\n"
    );
    let out = d.rrun(&["run", "--rm", "multi-base", "cat", "/got.txt"]);
    assert_ne!(code(&out), 0, "the base stage has no /got.txt");

    // An unknown instruction: one line naming the Dockerfile's line.
    let bad = context("FROM busybox\nRUN true\nFROBNICATE now\n");
    let out = d.rrun(&["build", "-t", "bad", bad.path().to_str().unwrap()]);
    assert_ne!(code(&out), 0, "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_ne!(code(&d.rrun(&["image", "inspect", "bad"])), 0);

    // A failing RUN: its exit code, and nothing tagged.
    let failing = context("FROM busybox\nRUN echo about to fail; exit 3\n");
    let out = classic_docker_build(
        &d,
        &["build", "-t", "failing", failing.path().to_str().unwrap()],
    );
    assert_ne!(code(&out), 0, "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("about to fail"),
        "{}",
        text(&out.stdout)
    );
    let err = text(&out.stderr);
    assert!(err.contains("returned a non-zero code: 3"), "{err}");
    assert_ne!(code(&d.rrun(&["image", "inspect", "failing"])), 0);
    // Its container is gone.
    assert_eq!(d.ok(&["ps", "-aq"]), "");

    // A gzip context (docker build --compress, docker-py's gzip=True).
    let tgz = ctx.path().join("ctx.tgz");
    let out = run_timeout(
        30,
        Path::new("tar"),
        &[
            "-C",
            dir,
            "-czf",
            tgz.to_str().unwrap(),
            "Dockerfile",
            "hello.txt",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run_timeout(
        30,
        Path::new("curl"),
        &[
            "-sS",
            "--max-time",
            "20",
            "--unix-socket",
            d.socket().to_str().unwrap(),
            "-H",
            "Content-Type: application/x-tar",
            "--data-binary",
            &format!("@{}", tgz.display()),
            "http://rrun/build?t=gz",
        ],
        None,
    );
    let body = text(&out.stdout);
    assert!(body.contains("Successfully tagged gz:latest"), "{body}");
    assert_eq!(d.ok(&["run", "--rm", "gz"]), "hello from run in /app\n");
}

/// `rrun … args` against `d` with `stdin` piped in.
fn rrun_stdin(d: &Daemon, args: &[&str], stdin: &str) -> Output {
    let host = d.host();
    let mut full = vec!["-H", host.as_str()];
    full.extend_from_slice(args);
    run_timeout(120, &bin("rrun"), &full, Some(stdin))
}

/// A heredoc later in a RUN command line goes to the shell with it, one
/// after `RUN <<EOT cmd` is cmd's stdin; `--add-host` reaches RUN's
/// /etc/hosts; `--iidfile`; the Dockerfile from stdin (`-f -`, and alone
/// as `build -`); a platform not the host's is refused.
#[test]
fn rrun_build_stdin_forms_heredoc_stdin_add_host_and_iidfile() {
    let d = Daemon::start();
    d.load_busybox();
    let ctx = context(
        "FROM busybox\nRUN cat <<EOF > /from-stdin.txt\nheredoc to stdin\nEOF\n\
         RUN <<EOT sh\necho fed to sh >> /from-stdin.txt\nEOT\n\
         RUN grep -q '^10.9.8.7[[:space:]]*myhost' /etc/hosts && echo hosts-ok > /hosts.txt\n\
         CMD [\"cat\", \"/from-stdin.txt\", \"/hosts.txt\"]\n",
    );
    let dir = ctx.path().to_str().unwrap();
    let iid = ctx.path().join("iid");
    d.ok(&[
        "build",
        "--add-host",
        "myhost:10.9.8.7",
        "--iidfile",
        iid.to_str().unwrap(),
        "--progress",
        "plain",
        "-t",
        "hd",
        dir,
    ]);
    assert_eq!(
        d.ok(&["run", "--rm", "hd"]),
        "heredoc to stdin\nfed to sh\nhosts-ok\n"
    );
    let id = std::fs::read_to_string(&iid).unwrap();
    assert_eq!(
        id,
        d.ok(&["image", "inspect", "-f", "{{.Id}}", "hd"]).trim()
    );

    let alone = "FROM busybox\nCMD [\"echo\", \"dockerfile on stdin\"]\n";
    let out = rrun_stdin(&d, &["build", "-t", "alone", "-"], alone);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(d.ok(&["run", "--rm", "alone"]), "dockerfile on stdin\n");

    let with_ctx = "FROM busybox\nCOPY hello.txt /\nCMD [\"cat\", \"/hello.txt\"]\n";
    let out = rrun_stdin(&d, &["build", "-t", "fstdin", "-f", "-", dir], with_ctx);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        d.ok(&["run", "--rm", "fstdin"]),
        "copied from the context\n"
    );

    let out = d.rrun(&["build", "--platform", "linux/s390x", "-t", "other", dir]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("is not this host's"),
        "{}",
        text(&out.stderr)
    );
    assert_ne!(code(&d.rrun(&["image", "inspect", "other"])), 0);
}

/// The venv's python with docker-py (RRUN_PYTHON, else the checkout's
/// `.cache/venv`, made by scripts/install-pydeps.sh). Missing is a failure.
fn python() -> std::path::PathBuf {
    let p = std::env::var_os("RRUN_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/venv/bin/python"));
    assert!(
        p.exists(),
        "no python venv at {}: run scripts/install-pydeps.sh",
        p.display()
    );
    p
}

const DOCKER_PY_BUILD: &str = r#"
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
img, logs = c.images.build(path=sys.argv[2], tag="py:1", buildargs={"GREETING": "py"}, rm=True)
print("STEPS", sum(1 for l in logs if l.get("stream", "").startswith("Step ")))
print("TAGS", img.tags)
print("RAN", c.containers.run("py:1", remove=True).decode(), end="")
try:
    c.images.build(path=sys.argv[3], tag="pybad")
    print("NO ERROR")
except docker.errors.BuildError as e:
    print("BUILDERROR", e.msg)
"#;

#[test]
fn docker_py_images_build() {
    let d = Daemon::start();
    d.load_busybox();
    let ctx = context(DOCKERFILE);
    let bad = context("FROM busybox\nRUN exit 7\n");
    let python = python();
    let host = d.host();
    let args = [
        "-c",
        DOCKER_PY_BUILD,
        host.as_str(),
        ctx.path().to_str().unwrap(),
        bad.path().to_str().unwrap(),
    ];
    let out = run_timeout(180, &python, &args, None);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}\n--- rrund log ---\n{}",
        text(&out.stderr),
        d.log()
    );
    assert!(stdout.contains("STEPS 8\n"), "{stdout}");
    assert!(stdout.contains("TAGS ['py:1']\n"), "{stdout}");
    assert!(stdout.contains("RAN py from run in /app\n"), "{stdout}");
    assert!(
        stdout.contains("BUILDERROR") && stdout.contains("returned a non-zero code: 7"),
        "{stdout}"
    );
}

#[test]
fn docker_compose_builds_a_service() {
    let d = Daemon::start();
    d.load_busybox();
    let ctx = context(
        "FROM busybox AS unused\nRUN exit 9\n\
         FROM busybox AS app\nARG GREETING=hello\nRUN echo \"$GREETING\" > /greeting\nCMD [\"cat\", \"/greeting\"]\n",
    );
    std::fs::rename(
        ctx.path().join("Dockerfile"),
        ctx.path().join("app.Dockerfile"),
    )
    .unwrap();
    let image = common::unique("composed");
    std::fs::write(
        ctx.path().join("docker-compose.yml"),
        format!(
            "version: \"3.8\"\nservices:\n  app:\n    image: {image}:1\n    build:\n      context: .\n      dockerfile: app.Dockerfile\n      target: app\n      args:\n        GREETING: from compose\n"
        ),
    )
    .unwrap();
    let file = ctx.path().join("docker-compose.yml");
    let args = [
        format!("DOCKER_HOST={}", d.host()),
        "COMPOSE_DOCKER_CLI_BUILD=0".to_string(),
        "DOCKER_BUILDKIT=0".to_string(),
        "docker-compose".to_string(),
        "-f".to_string(),
        file.display().to_string(),
        "-p".to_string(),
        image.clone(),
        "build".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_timeout(180, Path::new("/usr/bin/env"), &args, None);
    assert!(
        out.status.success(),
        "{}{}\n--- rrund log ---\n{}",
        text(&out.stdout),
        text(&out.stderr),
        d.log()
    );
    // Only the target's stages ran (the unused one would fail).
    assert_eq!(
        d.ok(&["run", "--rm", &format!("{image}:1")]),
        "from compose\n"
    );
}

/// The volumes seed's sequence with `rrun`, as its author typed it: the
/// data-volume image built and run as a data container; the seed's
/// database (`mysql:5.7`, from the test registry as the docker.io mirror)
/// run with `--rm --volumes-from mysql-data`, a row written, the database
/// removed, a second one on the same data container reading the row back;
/// an image tagged for the local registry, pushed, removed, pulled back and
/// run, and pulled by another host (a second rrund with its own state).
#[test]
fn seed_data_volume_container_database_then_push_and_pull_back() {
    let reg = common::Registry::start();
    reg.push_image("mysql", "library/mysql:5.7");
    let d = Daemon::start_with(&serde_json::json!({
        "registry-mirrors": [format!("http://{}", reg.host())],
        "insecure-registries": [reg.host()],
    }));
    d.load_busybox();
    let ctx = context("FROM busybox\n\nVOLUME /var/lib/mysql\n\nCMD [\"bin/true\"]\n");
    let dir = ctx.path().to_str().unwrap();
    d.ok(&["image", "build", "-t", "example/mysql-data:latest", dir]);
    // The seed's line, verbatim (`--platform linux/amd64` on an x86-64
    // host): this host's platform is taken; for another, the local image is
    // not, and a pull is tried as Docker does (none here: the image is the
    // build's own), and nothing is made.
    let (host, other) = if cfg!(target_arch = "x86_64") {
        ("linux/amd64", "linux/arm64")
    } else {
        ("linux/arm64", "linux/amd64")
    };
    let other_platform = d.rrun(&[
        "container",
        "run",
        "--platform",
        other,
        "-d",
        "--name",
        "mysql-data",
        "example/mysql-data:latest",
    ]);
    assert_eq!(other_platform.status.code(), Some(125));
    assert!(
        text(&other_platform.stderr)
            .starts_with("Unable to find image 'example/mysql-data:latest' locally"),
        "{}",
        text(&other_platform.stderr)
    );
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
    let arch = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Os}}/{{.Architecture}}",
        "example/mysql-data:latest",
    ]);
    assert_eq!(arch.trim(), host, "the local image was replaced");
    d.ok(&[
        "container",
        "run",
        "--platform",
        host,
        "-d",
        "--name",
        "mysql-data",
        "example/mysql-data:latest",
    ]);

    // The first database writes a row into the data container's volume.
    let mysql = seed_database(&d);
    sql(&d, "CREATE DATABASE seed; CREATE TABLE seed.t (v VARCHAR(32)); INSERT INTO seed.t VALUES ('kept by mysql-data')");
    d.ok(&["container", "stop", &mysql]);
    wait_for(
        "the --rm database to be removed",
        Duration::from_secs(60),
        || (code(&d.rrun(&["container", "inspect", "mysql"])) != 0).then_some(()),
    );

    // A second database on the same data container sees it.
    seed_database(&d);
    let rows = sql(&d, "SELECT v FROM seed.t");
    assert!(rows.contains("kept by mysql-data"), "{rows}");
    d.ok(&["container", "rm", "-f", "mysql"]);

    let remote = format!("{}/example/echo:latest", reg.host());
    d.ok(&["image", "tag", "example/mysql-data:latest", &remote]);
    let out = d.ok(&["image", "push", &remote]);
    assert!(out.contains("latest: digest: sha256:"), "{out}");
    d.ok(&["image", "rm", &remote]);
    assert_ne!(code(&d.rrun(&["image", "inspect", &remote])), 0);
    d.ok(&["image", "pull", &remote]);
    let out = d.rrun(&["run", "--rm", &remote]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));

    // Another host: its own daemon, state and socket, only the registry in common.
    let other = Daemon::start();
    other.ok(&["image", "pull", &remote]);
    let vols = other.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Volumes}}",
        &remote,
    ]);
    assert!(vols.contains("/var/lib/mysql"), "{vols}");
    let id = other.ok(&["container", "run", "-d", "--name", "mysql-data", &remote]);
    let id = id.trim();
    wait_for(
        "the data container to exit",
        Duration::from_secs(30),
        || {
            let state = other.ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id]);
            (state.trim() == "exited 0").then_some(())
        },
    );
}

const SEED_PASSWORD: &str = "seed-secret";

/// The seed's `docker container run -d --rm --name mysql … --volumes-from
/// mysql-data mysql:5.7`, waited for until it answers over TCP (on first
/// start its entrypoint's temporary server listens on the socket only, and
/// shuts down right after); the container's id.
fn seed_database(d: &Daemon) -> String {
    let out = d.ok(&[
        "container",
        "run",
        "-d",
        "--rm",
        "--name",
        "mysql",
        "-e",
        &format!("MYSQL_ROOT_PASSWORD={SEED_PASSWORD}"),
        "--volumes-from",
        "mysql-data",
        "mysql:5.7",
    ]);
    let id = out.trim().to_string();
    wait_for(
        "the database to accept queries",
        Duration::from_secs(180),
        || {
            let out = d.rrun(
                &mysql_args("SELECT 1")
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            );
            out.status.success().then_some(())
        },
    );
    id
}

/// `rrun exec mysql mysql --protocol=tcp … -e query`.
fn mysql_args(query: &str) -> Vec<String> {
    [
        "exec",
        "mysql",
        "mysql",
        "--protocol=tcp",
        "-h127.0.0.1",
        "-uroot",
        &format!("-p{SEED_PASSWORD}"),
        "-e",
        query,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Runs `query` in the database container `mysql`; what it printed.
fn sql(d: &Daemon, query: &str) -> String {
    let args = mysql_args(query);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    d.ok(&args)
}

/// Names in `dir` (none when it is not there).
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The container of a running build step (`ps -aq --no-trunc`: one).
fn build_container(d: &Daemon) -> String {
    wait_for("the RUN's container", Duration::from_secs(60), || {
        let ids = d.ok(&["ps", "-aq", "--no-trunc"]);
        let id = ids.trim();
        (!id.is_empty() && !id.contains('\n')).then(|| id.to_string())
    })
}

/// A client that goes away while a RUN prints nothing (`RUN sleep 300`):
/// the build stops within seconds, leaving no container, mount, process,
/// scratch directory or layer; through the API (curl, killed), and
/// `DOCKER_BUILDKIT=0 docker build` and `rrun build` interrupted as by Ctrl-C.
#[test]
fn a_silent_run_stops_when_its_client_goes_away() {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let d = Daemon::start();
    d.load_busybox();
    let ctx = context("FROM busybox\nRUN sleep 300\n");
    let dir = ctx.path().to_str().unwrap();
    let tarball = ctx.path().join("ctx.tar");
    let out = run_timeout(
        30,
        Path::new("tar"),
        &["-C", dir, "-cf", tarball.to_str().unwrap(), "Dockerfile"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let store = |sub: &str| entries(&d.data_root().join(sub));
    let before = (store("images/blobs/sha256"), store("snapshots"));

    let socket = d.socket().display().to_string();
    let data = format!("@{}", tarball.display());
    let curl: Vec<&str> = vec![
        "curl",
        "-sS",
        "--max-time",
        "120",
        "--unix-socket",
        &socket,
        "-H",
        "Content-Type: application/x-tar",
        "--data-binary",
        &data,
        "http://rrun/build?t=never",
    ];
    let docker = [
        vec!["env".to_string(), "DOCKER_BUILDKIT=0".to_string()],
        d.docker_argv(&["build", "-t", "never", dir]),
    ]
    .concat();
    let docker: Vec<&str> = docker.iter().map(String::as_str).collect();
    let rrun = bin("rrun");
    let host = d.host();
    let rrun_build = vec![
        rrun.to_str().unwrap(),
        "-H",
        &host,
        "build",
        "-t",
        "never",
        dir,
    ];
    for (client, signal) in [(curl, "KILL"), (docker, "INT"), (rrun_build, "INT")] {
        let mut child = Command::new(client[0])
            .args(&client[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let id = build_container(&d);
        // Running, and silent: nothing more is sent to the client.
        wait_for("the RUN to run", Duration::from_secs(30), || {
            let state = d.ok(&["inspect", "-f", "{{.State.Status}}", &id]);
            (state.trim() == "running").then_some(())
        });
        let pid = child.id().to_string();
        let out = run_timeout(10, Path::new("kill"), &["-s", signal, &pid], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let gone_at = std::time::Instant::now();
        let _ = child.wait();
        wait_for("the RUN's container to go", Duration::from_secs(10), || {
            d.ok(&["ps", "-aq"]).trim().is_empty().then_some(())
        });
        let took = gone_at.elapsed();
        eprintln!(
            "{}: the RUN's container went {took:?} after the client",
            client[0]
        );
        assert!(took < Duration::from_secs(5), "{}: {took:?}", client[0]);
        // The removal's rest (its directory, mounts) follows the shim.
        let left = common::leftovers::settled(|| common::leftovers::of_container(&d, &id));
        assert!(left.is_empty(), "{}: {left:?}", client[0]);
        wait_for("the build's scratch to go", Duration::from_secs(10), || {
            store("build").is_empty().then_some(())
        });
        assert_eq!(
            (store("images/blobs/sha256"), store("snapshots")),
            before,
            "{}: no layer or image is left",
            client[0]
        );
        assert_ne!(code(&d.rrun(&["image", "inspect", "never"])), 0);
        assert!(
            d.log().contains("the build's client went away"),
            "{}",
            d.log()
        );
    }
}

/// Heredocs and RUN's exec form, as BuildKit reads them: a heredoc inside
/// the exec form's JSON string is the program's (sh's) business; a command
/// starting with `[` (test) is shell form and may have one; a `#!` script
/// runs by its interpreter. A heredoc body after an exec form, or a heredoc
/// after the JSON array: one error naming the line, nothing tagged.
#[test]
fn rrun_build_heredocs_with_the_exec_form_and_shebang_scripts() {
    let d = Daemon::start();
    d.load_busybox();
    let ctx = context(
        "FROM busybox\n\
         RUN [\"sh\", \"-c\", \"cat <<EOF > /exec.txt\\nfrom the exec form\\nEOF\"]\n\
         RUN [ -d / ] && cat <<EOF > /test.txt\nafter a test command\nEOF\n\
         RUN <<EOF\n#!/usr/bin/awk -f\nBEGIN { print \"from awk\" > \"/awk.txt\" }\nEOF\n\
         CMD [\"cat\", \"/exec.txt\", \"/test.txt\", \"/awk.txt\"]\n",
    );
    d.ok(&["build", "-t", "hd-exec", ctx.path().to_str().unwrap()]);
    assert_eq!(
        d.ok(&["run", "--rm", "hd-exec"]),
        "from the exec form\nafter a test command\nfrom awk\n"
    );

    for (dockerfile, want) in [
        (
            "FROM busybox\nRUN [\"sh\", \"-c\", \"cat <<EOF > /f\"]\nhi\nEOF\n",
            "Dockerfile:3: unknown instruction 'hi' at line 3 column 1 (the exec-form RUN on line 2 reads no heredoc",
        ),
        (
            "FROM busybox\nRUN [\"cat\"] <<EOF\nhi\nEOF\n",
            "Dockerfile:2: a heredoc goes with RUN's shell form only",
        ),
    ] {
        let bad = context(dockerfile);
        let out = d.rrun(&["build", "-t", "hd-bad", bad.path().to_str().unwrap()]);
        assert_ne!(code(&out), 0, "{}", text(&out.stdout));
        let err = text(&out.stderr);
        assert!(err.contains(want), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert_ne!(code(&d.rrun(&["image", "inspect", "hd-bad"])), 0);
    }
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}
