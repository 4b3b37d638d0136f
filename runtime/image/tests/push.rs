//! End-to-end pushes, logins and logouts against a real registry (Debian's
//! docker-registry) on 127.0.0.1. What the client did is read back from the
//! registry's own request log, so a skipped or mounted blob is observed,
//! not assumed.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn digest_line(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap_or_else(|| panic!("no Digest line in {out}"))
        .to_string()
}

/// Requests the registry logged, as `METHOD URI`, in order.
fn requests(reg: &Registry) -> Vec<String> {
    let log = std::fs::read_to_string(reg.dir.path().join("registry.log")).unwrap();
    log.lines()
        .filter(|l| l.contains("response completed"))
        .filter_map(|l| {
            let field = |k: &str| {
                let rest = l.split(&format!("{k}=")).nth(1)?;
                let rest = rest.strip_prefix('"').unwrap_or(rest);
                rest.split(['"', ' ']).next().map(str::to_string)
            };
            Some(format!(
                "{} {}",
                field("http.request.method")?,
                field("http.request.uri")?
            ))
        })
        .collect()
}

/// Requests logged since `from` that match `method` and contain `part`.
fn count(reg: &Registry, from: usize, method: &str, part: &str) -> usize {
    requests(reg)[from..]
        .iter()
        .filter(|r| r.starts_with(&format!("{method} ")) && r.contains(part))
        .count()
}

/// A one-layer image made here with `import` (content unique to `seed`),
/// so the registry has never seen its blobs.
fn import_image(state: &Path, name: &str, seed: &str, size: usize) {
    let data: Vec<u8> = seed.bytes().cycle().take(size).collect();
    let tar = Tar::new()
        .dir("data", 0o755)
        .file("data/blob.bin", &data)
        .file("data/seed", seed.as_bytes())
        .finish();
    let file = state.join(format!("{seed}.tar"));
    std::fs::write(&file, tar).unwrap();
    ok(&rrun_image(
        state,
        &[],
        &["import", file.to_str().unwrap(), name],
    ));
}

#[test]
fn push_skips_existing_mounts_and_round_trips() {
    let reg = Registry::start();
    reg.push_oci(&busybox_oci(), "latest", "src/busybox:1", false, None);
    let state = tempfile::tempdir().unwrap();
    let src = format!("{}/src/busybox:1", reg.host());
    let pulled = digest_line(&ok(&rrun_image(state.path(), &[], &["pull", &src])));

    // Another repository of the same registry: every blob is mounted, none
    // uploaded, and the manifest keeps its digest (pushed as it was pulled).
    let dst = format!("{}/dst/busybox:2", reg.host());
    ok(&rrun_image(state.path(), &[], &["tag", &src, &dst]));
    let mark = requests(&reg).len();
    let out = ok(&rrun_image(state.path(), &[], &["push", &dst]));
    assert_eq!(digest_line(&out), pulled, "{out}");
    assert!(out.contains("Mounted from src/busybox"), "{out}");
    assert!(!out.contains(": Pushed"), "{out}");
    assert_eq!(
        count(&reg, mark, "POST", "mount=sha256"),
        2,
        "{:?}",
        requests(&reg)
    );
    assert_eq!(count(&reg, mark, "PUT", "/blobs/uploads/"), 0);
    assert_eq!(count(&reg, mark, "PUT", "/v2/dst/busybox/manifests/2"), 1);

    // Again: the registry has everything; HEADs only, no upload session.
    let mark = requests(&reg).len();
    let out = ok(&rrun_image(state.path(), &[], &["push", &dst]));
    assert_eq!(out.matches("Layer already exists").count(), 2, "{out}");
    assert_eq!(count(&reg, mark, "HEAD", "/v2/dst/busybox/blobs/"), 2);
    assert_eq!(count(&reg, mark, "POST", "/blobs/uploads/"), 0);

    // RepoDigests gained the pushed name.
    let info = inspect(state.path(), &dst);
    let digests: Vec<String> = serde_json::from_value(info["RepoDigests"].clone()).unwrap();
    assert!(
        digests.contains(&format!("{}/dst/busybox@{pulled}", reg.host())),
        "{digests:?}"
    );

    // A new image: monolithic uploads (one PUT with the bytes per blob),
    // then removed locally and pulled back with the same digests.
    let fresh = format!("{}/new/img:1", reg.host());
    import_image(state.path(), &fresh, "mono", 300 << 10);
    let id = inspect(state.path(), &fresh)["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let mark = requests(&reg).len();
    let out = ok(&rrun_image(state.path(), &[], &["push", &fresh]));
    let pushed = digest_line(&out);
    assert_eq!(out.matches(": Pushed").count(), 2, "{out}");
    assert_eq!(count(&reg, mark, "POST", "/v2/new/img/blobs/uploads/"), 2);
    assert_eq!(count(&reg, mark, "PUT", "/v2/new/img/blobs/uploads/"), 2);
    assert_eq!(count(&reg, mark, "PATCH", "/blobs/uploads/"), 0);
    ok(&rrun_image(state.path(), &[], &["rm", &fresh]));
    let back = tempfile::tempdir().unwrap();
    let out = ok(&rrun_image(back.path(), &[], &["pull", &fresh]));
    assert_eq!(digest_line(&out), pushed);
    assert_eq!(inspect(back.path(), &fresh)["Id"], Value::from(id));
    let snaps = snapshots(back.path());
    let root = back.path().join("snapshots").join(&snaps[0]);
    assert_eq!(std::fs::read(root.join("data/seed")).unwrap(), b"mono");
    check_blobs(back.path());
}

#[test]
fn chunked_push_round_trips() {
    let reg = Registry::start();
    let state = tempfile::tempdir().unwrap();
    let name = format!("{}/chunks/img:1", reg.host());
    import_image(state.path(), &name, "chunky", 1 << 20);
    let size = |s: &str| -> u64 {
        let info = inspect(state.path(), s);
        let layer = info["RootFS"]["Layers"].as_array().unwrap().len();
        assert_eq!(layer, 1);
        info["Size"].as_u64().unwrap()
    };
    let layer_size = size(&name);
    let mark = requests(&reg).len();
    let out = ok(&rrun_image(
        state.path(),
        &[],
        &["push", "--chunk-size", "4096", &name],
    ));
    let pushed = digest_line(&out);
    // The layer in ceil(size/4096) PATCHes, the small config in one.
    let patches = count(&reg, mark, "PATCH", "/v2/chunks/img/blobs/uploads/");
    assert_eq!(patches as u64, layer_size.div_ceil(4096) + 1, "{out}");
    assert_eq!(count(&reg, mark, "PUT", "/v2/chunks/img/blobs/uploads/"), 2);
    let back = tempfile::tempdir().unwrap();
    assert_eq!(
        digest_line(&ok(&rrun_image(back.path(), &[], &["pull", &name]))),
        pushed
    );
    check_blobs(back.path());
}

#[test]
fn push_of_a_missing_image_or_a_digest_is_a_clear_error() {
    let reg = Registry::start();
    let state = tempfile::tempdir().unwrap();
    let name = format!("{}/none/img:1", reg.host());
    let err = failed(&rrun_image(state.path(), &[], &["push", &name]));
    assert!(
        err.contains("An image does not exist locally with the tag"),
        "{err}"
    );
    let by_digest = format!("{}/none/img@sha256:{}", reg.host(), "a".repeat(64));
    let err = failed(&rrun_image(state.path(), &[], &["push", &by_digest]));
    assert!(err.contains("push a tag, not a digest"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// docker login against an htpasswd registry: a wrong password is refused
/// and stores nothing; the right one is stored in config.json's format and
/// used by push and pull; logout forgets it.
#[test]
fn login_push_pull_logout_with_basic_auth() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::start_htpasswd("carol", "pa55");
    let cfg = tmp.path().join("docker/config.json");
    let cfg_arg = ["--docker-config", cfg.to_str().unwrap()];
    let state = tempfile::tempdir().unwrap();
    let name = format!("{}/private/app:1", reg.host());
    import_image(state.path(), &name, "secret-app", 64 << 10);

    let err = failed(&rrun_image(state.path(), &cfg_arg, &["push", &name]));
    assert!(err.contains("user name and password"), "{err}");

    let err = failed(&rrun_image(
        state.path(),
        &cfg_arg,
        &["login", &reg.host(), "-u", "carol", "-p", "wrong"],
    ));
    assert!(err.contains("wrong user name or password"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!cfg.exists(), "a refused login stored something");

    let out = ok(&rrun_image(
        state.path(),
        &cfg_arg,
        &[
            "login",
            &format!("http://{}/", reg.host()),
            "-u",
            "carol",
            "-p",
            "pa55",
        ],
    ));
    assert!(out.contains("Login Succeeded"), "{out}");
    let saved: Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    assert_eq!(saved["auths"][reg.host()]["auth"], "Y2Fyb2w6cGE1NQ==");

    let pushed = digest_line(&ok(&rrun_image(state.path(), &cfg_arg, &["push", &name])));
    let back = tempfile::tempdir().unwrap();
    let out = ok(&rrun_image(back.path(), &cfg_arg, &["pull", &name]));
    assert_eq!(digest_line(&out), pushed);

    let out = ok(&rrun_image(
        state.path(),
        &cfg_arg,
        &["logout", &reg.host()],
    ));
    assert!(out.contains("Removing login credentials"), "{out}");
    let err = failed(&rrun_image(tmp.path(), &cfg_arg, &["pull", &name]));
    assert!(err.contains("user name and password"), "{err}");
}

/// An image made here (a layer from a directory, committed from scratch)
/// is in Docker's schema 2 format, and goes up as such: the registry keeps
/// the exact manifest bytes under the same digest.
#[test]
fn committed_image_pushes_in_its_own_format() {
    use rrun_image::commit::{commit_image, CommitSpec};
    let reg = Registry::start();
    let state = tempfile::tempdir().unwrap();
    let store = rrun_image::Store::open(state.path()).unwrap();
    let upper = state.path().join("upper");
    std::fs::create_dir_all(upper.join("app")).unwrap();
    std::fs::write(upper.join("app/run.sh"), "#!/bin/sh\necho made\n").unwrap();
    let layer = rrun_image::layer::layer_from_upper(&store, &upper).unwrap();
    let name = format!("{}/made/app:1", reg.host());
    let r = rrun_image::Reference::parse(&name).unwrap();
    let spec = CommitSpec {
        created_by: "COPY app /app".into(),
        ..Default::default()
    };
    let made = commit_image(&store, None, Some(&layer), &spec, &[r]).unwrap();
    let pushed = digest_line(&ok(&rrun_image(state.path(), &[], &["push", &name])));
    assert_eq!(pushed, made.manifest.to_string());
    let on_registry = std::fs::read(reg.blob_file(made.manifest.hex())).unwrap();
    assert_eq!(
        on_registry,
        std::fs::read(store.blob_path(&made.manifest)).unwrap()
    );
    let m: Value = serde_json::from_slice(&on_registry).unwrap();
    assert_eq!(
        m["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    let back = tempfile::tempdir().unwrap();
    assert_eq!(
        digest_line(&ok(&rrun_image(back.path(), &[], &["pull", &name]))),
        pushed
    );
    let snaps = snapshots(back.path());
    let root = back.path().join("snapshots").join(&snaps[0]);
    assert_eq!(
        std::fs::read_to_string(root.join("app/run.sh")).unwrap(),
        "#!/bin/sh\necho made\n"
    );
}
