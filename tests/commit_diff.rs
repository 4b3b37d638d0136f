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
