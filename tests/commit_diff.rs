//! `docker diff` and `docker commit` against rrund through the docker CLI:
//! the changes a container made, and an image made of them that runs with
//! the committed files and the `--change`d config; `docker import` with
//! several `--change`s.

mod common;

use common::daemon::Daemon;
use common::text;

#[test]
fn diff_then_commit_then_run_the_new_image() {
    let d = Daemon::start();
    d.load_busybox();
    d.docker_ok(&[
        "run", "--name", "maker", "-v", "/scratch", "busybox", "sh", "-c",
        "mkdir -p /srv/app && echo v1 > /srv/app/version && rm /bin/true && echo x > /etc/extra && echo s > /scratch/s",
    ]);
    let diff = d.docker_ok(&["diff", "maker"]);
    let lines: Vec<&str> = diff.lines().collect();
    for want in [
        "C /bin",
        "D /bin/true",
        "C /etc",
        "A /etc/extra",
        "A /srv",
        "A /srv/app",
        "A /srv/app/version",
    ] {
        assert!(lines.contains(&want), "{want} missing from:\n{diff}");
    }
    assert!(
        !diff.contains("/scratch"),
        "a volume's content is not the container's:\n{diff}"
    );
    assert!(
        !diff.contains("/etc/hosts") && !diff.contains("/dev"),
        "{diff}"
    );

    let id = d.docker_ok(&[
        "commit",
        "--change",
        "ENV COMMITTED=yes",
        "--change",
        "CMD [\"cat\", \"/srv/app/version\"]",
        "-m",
        "the first version",
        "-a",
        "rrun tests",
        "maker",
        "committed/app:v1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(d.docker_ok(&["run", "--rm", "committed/app:v1"]), "v1\n");
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "committed/app:v1",
            "sh",
            "-c",
            "echo $COMMITTED; ls /bin/true || echo gone"
        ]),
        "yes\ngone\n"
    );
    // ENV adds to the container's variables (PATH stays), as Docker's.
    let env = d.docker_ok(&["inspect", "-f", "{{json .Config.Env}}", "committed/app:v1"]);
    assert!(
        env.contains("\"PATH=") && env.contains("\"COMMITTED=yes\""),
        "{env}"
    );
    let hist = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.Comment}}",
        "committed/app:v1",
    ]);
    assert!(hist.lines().next() == Some("the first version"), "{hist}");
    let author = d.docker_ok(&["inspect", "-f", "{{.Author}}", "committed/app:v1"]);
    assert_eq!(author.trim(), "rrun tests");
    // A fresh container of the new image has changed nothing yet.
    d.docker_ok(&["create", "--name", "fresh", "committed/app:v1"]);
    assert_eq!(d.docker_ok(&["diff", "fresh"]), "");

    // Bad input: one line, nothing made.
    let bad = d.docker(
        &[
            "commit",
            "--change",
            "RUN rm -rf /",
            "maker",
            "committed/bad",
        ],
        None,
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("RUN is not a valid change command"),
        "{}",
        text(&bad.stderr)
    );
    assert!(!d
        .docker_ok(&["images", "--format", "{{.Repository}}"])
        .contains("committed/bad"));
    let none = d.docker(&["commit", "nosuch", "x/y"], None);
    assert!(
        text(&none.stderr).contains("No such container: nosuch"),
        "{}",
        text(&none.stderr)
    );
}

#[test]
fn import_takes_every_change() {
    let d = Daemon::start();
    d.load_busybox();
    let tar = tempfile::NamedTempFile::new().unwrap();
    let rootfs = common::images().join("busybox/rootfs");
    let out = common::run_timeout(
        60,
        std::path::Path::new("/bin/tar"),
        &[
            "-C",
            rootfs.to_str().unwrap(),
            "-cf",
            tar.path().to_str().unwrap(),
            ".",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    d.docker_ok(&[
        "import",
        "--change",
        "ENV A=1",
        "--change",
        "USER nobody",
        "--change",
        "CMD [\"id\", \"-un\"]",
        tar.path().to_str().unwrap(),
        "imported/bb:1",
    ]);
    assert_eq!(d.docker_ok(&["run", "--rm", "imported/bb:1"]), "nobody\n");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "imported/bb:1", "sh", "-c", "echo $A"]),
        "1\n"
    );
}

/// `docker export` of a stopped and of a running container: the root
/// filesystem with what the container changed (a deleted file gone), never
/// a volume's files or /proc's; the tar imports back into a runnable image.
#[test]
fn export_then_import_round_trips_a_container() {
    let d = Daemon::start();
    d.load_busybox();
    d.docker_ok(&[
        "run",
        "--name",
        "exp",
        "-v",
        "/vol",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /srv && echo kept > /srv/note && rm /bin/true && echo v > /vol/v",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("exp.tar");
    d.docker_ok(&["export", "-o", tar.to_str().unwrap(), "exp"]);
    let names = |tar: &std::path::Path| {
        let out = common::run_timeout(
            30,
            std::path::Path::new("/usr/bin/tar"),
            &["tf", tar.to_str().unwrap()],
            None,
        );
        text(&out.stdout)
    };
    let list = names(&tar);
    let has = |n: &str| list.lines().any(|l| l == n);
    assert!(has("srv/note") && has("bin/sh") && has("etc/"), "{list}");
    assert!(!has("bin/true") && !has("vol/v"), "{list}");
    assert!(!list.lines().any(|l| l.starts_with("./")), "{list}");
    d.docker_ok(&["import", tar.to_str().unwrap(), "exported:1"]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", "exported:1", "cat", "/srv/note"]),
        "kept\n"
    );
    // Running: the daemon's overlay, not the container's mounts.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "-v",
        "/vol",
        "busybox",
        "sh",
        "-c",
        "echo w > /vol/w; echo here > /live; exec sleep 300",
    ]);
    common::wait_for(
        "the running container's file",
        std::time::Duration::from_secs(20),
        || {
            d.docker(&["exec", "live", "cat", "/live"], None)
                .status
                .success()
                .then_some(())
        },
    );
    let live = dir.path().join("live.tar");
    d.ok(&["export", "-o", live.to_str().unwrap(), "live"]);
    let list = names(&live);
    assert!(list.lines().any(|l| l == "live"), "{list}");
    assert!(
        !list
            .lines()
            .any(|l| l == "vol/w" || l.starts_with("proc/1")),
        "{list}"
    );
}

/// Untagged images are listed as Docker lists them: a commit without a
/// name is a `<none>` row (and `dangling=true`), while the steps a build
/// leaves under its image show only with `-a`.
#[test]
fn untagged_images_are_listed_and_build_steps_only_with_all() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&["run", "--name", "c1", "busybox", "sh", "-c", "echo x > /x"]);
    let id = d.ok(&["commit", "c1"]).trim().to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    let short = &id["sha256:".len()..][..12];
    let rows = d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert!(
        rows.lines().any(|l| l == format!("<none>:<none> {short}")),
        "{rows}"
    );
    let dangling = d.ok(&["images", "-q", "-f", "dangling=true"]);
    assert_eq!(dangling.trim(), short, "{dangling}");

    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nRUN echo a > /a\nENV K=v\nRUN echo b > /b\n",
    )
    .unwrap();
    d.ok(&["build", "-q", "-t", "stepped", ctx.path().to_str().unwrap()]);
    let shown = d.ok(&["images", "-q"]);
    assert_eq!(
        shown.lines().count(),
        3,
        "busybox, the commit, stepped:\n{shown}"
    );
    let all = d.ok(&["images", "-a", "-q"]);
    assert!(all.lines().count() > 3, "the build's steps with -a:\n{all}");
}
