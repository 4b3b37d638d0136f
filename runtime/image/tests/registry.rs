//! End-to-end pulls against a real registry on 127.0.0.1 (run as root).

mod common;

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::json;

fn digest_line(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap_or_else(|| panic!("no Digest line in {out}"))
        .to_string()
}

fn busybox_manifest_digest() -> String {
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(busybox_oci().join("index.json")).unwrap()).unwrap();
    idx["manifests"][0]["digest"].as_str().unwrap().to_string()
}

fn docker_config(dir: &Path, host: &str, user: &str, pass: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let p = dir.join("docker-config.json");
    std::fs::write(&p, json!({"auths": {host: {"auth": auth}}}).to_string()).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn pull_by_tag_then_by_digest_and_reuse_layers() {
    let reg = Registry::start();
    reg.push_oci(&busybox_oci(), "latest", "test/busybox:1.0", false, None);
    let state = tempfile::tempdir().unwrap();
    let r = format!("{}/test/busybox:1.0", reg.host());

    let out = ok(&rrun_image(state.path(), &[], &["pull", &r]));
    assert!(out.contains("Pull complete"), "{out}");
    let digest = digest_line(&out);
    assert_eq!(digest, busybox_manifest_digest());

    let info = inspect(state.path(), &r);
    assert_eq!(info["Config"]["Cmd"], json!(["sh"]));
    assert_eq!(info["Os"], "linux");
    assert_eq!(info["RepoTags"], json!([r]));
    assert_eq!(
        info["RepoDigests"],
        json!([format!("{}/test/busybox@{digest}", reg.host())])
    );

    // The layer is unpacked: an executable busybox and its applet symlinks.
    let snaps = snapshots(state.path());
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let root = state.path().join("snapshots").join(&snaps[0]);
    let meta = std::fs::metadata(root.join("bin/busybox")).unwrap();
    assert!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0);
    assert_eq!(
        std::fs::read_link(root.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    assert!(std::fs::read_to_string(root.join("etc/passwd"))
        .unwrap()
        .contains("root:x:0:0"));
    // Manifest, config, layer; each verified.
    assert_eq!(check_blobs(state.path()).len(), 3);

    // Pulling again fetches no layer.
    let again = ok(&rrun_image(state.path(), &[], &["pull", &r]));
    assert!(
        again.contains("Already exists") && !again.contains("Pull complete"),
        "{again}"
    );

    // By digest, into a fresh state: same image id, no tag recorded.
    let state2 = tempfile::tempdir().unwrap();
    let by_digest = format!("{}/test/busybox@{digest}", reg.host());
    ok(&rrun_image(state2.path(), &[], &["pull", &by_digest]));
    let info2 = inspect(state2.path(), &by_digest);
    assert_eq!(info2["Id"], info["Id"]);
    assert_eq!(info2["RepoTags"], json!([]));

    // --platform must match a single-platform image too.
    let wrong = format!("linux/{}", other_arch());
    let err = failed(&rrun_image(
        state2.path(),
        &[],
        &["pull", "--platform", &wrong, &r],
    ));
    assert!(
        err.contains(&wrong) && err.contains(&format!("linux/{}", host_arch())),
        "{err}"
    );

    // A digest the registry does not have is a clear error.
    let missing = format!("{}/test/busybox@sha256:{}", reg.host(), "0".repeat(64));
    let err = failed(&rrun_image(state2.path(), &[], &["pull", &missing]));
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn manifest_list_picks_platform_and_override() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let lay = Layout::new(&tmp.path().join("layout"));
    let host = lay.image(
        &[Tar::new().file("arch", host_arch().as_bytes()).finish()],
        "gzip",
        host_arch(),
        &["host"],
    );
    let other = lay.image(
        &[
            Tar::new().file("arch", b"other").finish(),
            Tar::new()
                .dir("data", 0o755)
                .file("data/second", b"2")
                .finish(),
        ],
        "zstd",
        other_arch(),
        &["other"],
    );
    let list = lay.tag(
        "multi",
        &[(&host, host_arch(), None), (&other, other_arch(), None)],
    );
    reg.push_oci(&lay.dir, "multi", "test/multi:v1", true, None);
    let r = format!("{}/test/multi:v1", reg.host());

    let state = tempfile::tempdir().unwrap();
    let out = ok(&rrun_image(state.path(), &[], &["pull", &r]));
    assert_eq!(digest_line(&out), host.digest);
    let info = inspect(state.path(), &r);
    assert_eq!(info["Config"]["Cmd"], json!(["host"]));
    assert_eq!(info["Architecture"], host_arch());
    assert_eq!(
        info["RepoDigests"],
        json!([format!("{}/test/multi@{list}", reg.host())])
    );

    // --platform picks the other entry; its zstd layers unpack.
    let state2 = tempfile::tempdir().unwrap();
    let platform = format!("linux/{}", other_arch());
    ok(&rrun_image(
        state2.path(),
        &[],
        &["pull", "--platform", &platform, &r],
    ));
    let info = inspect(state2.path(), &r);
    assert_eq!(info["Config"]["Cmd"], json!(["other"]));
    let snaps = snapshots(state2.path());
    assert_eq!(snaps.len(), 2);
    let contents: Vec<String> = snaps
        .iter()
        .filter_map(|s| {
            std::fs::read_to_string(state2.path().join("snapshots").join(s).join("arch")).ok()
        })
        .collect();
    assert_eq!(contents, ["other"]);

    // No match: a clear error naming what was wanted and what exists.
    let state3 = tempfile::tempdir().unwrap();
    let err = failed(&rrun_image(
        state3.path(),
        &[],
        &["pull", "--platform", "linux/mips64le", &r],
    ));
    assert!(err.contains("linux/mips64le"), "{err}");
    assert!(err.contains(&format!("linux/{}", other_arch())), "{err}");
    assert!(snapshots(state3.path()).is_empty());

    // The list's own digest pulls too.
    let by_list = format!("{}/test/multi@{list}", reg.host());
    ok(&rrun_image(state3.path(), &[], &["pull", &by_list]));
    assert_eq!(
        inspect(state3.path(), &by_list)["Config"]["Cmd"],
        json!(["host"])
    );
}

#[test]
fn docker_io_mirror_serves_library_images_with_fallback_order() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let lay = Layout::new(&tmp.path().join("layout"));
    // Uncompressed layer: the third layer format.
    let img = lay.image(
        &[Tar::new().file("hello", b"from the mirror").finish()],
        "none",
        host_arch(),
        &["hi"],
    );
    lay.tag("latest", &[(&img, host_arch(), None)]);
    reg.push_oci(&lay.dir, "latest", "library/busybox:latest", false, None);

    // A dead mirror first, then the live one; docker.io's origin replaced by
    // a closed local port so nothing can leave the machine.
    let dead_mirror = free_port();
    let dead_origin = free_port();
    let daemon = tmp.path().join("daemon.json");
    std::fs::write(
        &daemon,
        json!({"registry-mirrors": [format!("http://127.0.0.1:{dead_mirror}"), format!("http://{}/", reg.host())]})
            .to_string(),
    )
    .unwrap();
    let origin = format!("http://127.0.0.1:{dead_origin}");
    let extra = [
        "--daemon-config",
        daemon.to_str().unwrap(),
        "--docker-io-origin",
        &origin,
    ];
    let state = tempfile::tempdir().unwrap();
    ok(&rrun_image(state.path(), &extra, &["pull", "busybox"]));
    let info = inspect(state.path(), "busybox");
    assert_eq!(info["RepoTags"], json!(["busybox:latest"]));
    let ls = ok(&rrun_image(state.path(), &[], &["ls"]));
    assert!(
        ls.lines().any(|l| l.starts_with("busybox\tlatest\t")),
        "{ls}"
    );
    let snap = state
        .path()
        .join("snapshots")
        .join(&snapshots(state.path())[0]);
    assert_eq!(
        std::fs::read_to_string(snap.join("hello")).unwrap(),
        "from the mirror"
    );

    // Only dead endpoints: the error is the origin's, tried last.
    std::fs::write(
        &daemon,
        json!({"registry-mirrors": [format!("http://127.0.0.1:{dead_mirror}")]}).to_string(),
    )
    .unwrap();
    let err = failed(&rrun_image(
        state.path(),
        &extra,
        &["pull", "busybox:other"],
    ));
    assert!(err.contains(&format!("127.0.0.1:{dead_origin}")), "{err}");
}

#[test]
fn basic_auth_with_docker_config_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::start_htpasswd("alice", "s3cret");
    reg.push_oci(
        &busybox_oci(),
        "latest",
        "private/busybox:latest",
        false,
        Some("alice:s3cret"),
    );
    let r = format!("{}/private/busybox:latest", reg.host());

    let state = tempfile::tempdir().unwrap();
    let err = failed(&rrun_image(state.path(), &[], &["pull", &r]));
    assert!(err.contains("user name and password"), "{err}");

    let bad = docker_config(tmp.path(), &reg.host(), "alice", "wrong");
    let err = failed(&rrun_image(
        state.path(),
        &["--docker-config", &bad],
        &["pull", &r],
    ));
    assert!(err.contains("access denied"), "{err}");
    assert!(snapshots(state.path()).is_empty());

    let good = docker_config(tmp.path(), &reg.host(), "alice", "s3cret");
    ok(&rrun_image(
        state.path(),
        &["--docker-config", &good],
        &["pull", &r],
    ));
    assert_eq!(inspect(state.path(), &r)["Config"]["Cmd"], json!(["sh"]));

    // credHelpers: docker-credential-<name> on PATH answers for the host.
    let bin_dir = tmp.path().join("helpers");
    std::fs::create_dir(&bin_dir).unwrap();
    let helper = bin_dir.join("docker-credential-rrun-test");
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread url\n[ \"$url\" = \"{}\" ] || {{ echo 'credentials not found'; exit 1; }}\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}}' \"$url\"\n",
        reg.host()
    );
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cfg = tmp.path().join("helper-config.json");
    std::fs::write(
        &cfg,
        json!({"credHelpers": {reg.host(): "rrun-test"}}).to_string(),
    )
    .unwrap();
    let state2 = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("timeout")
        .args([
            "-s",
            "KILL",
            "90",
            bin(),
            "--root",
            state2.path().to_str().unwrap(),
        ])
        .args([
            "--daemon-config",
            "/nonexistent-rrun/daemon.json",
            "--docker-config",
            cfg.to_str().unwrap(),
            "pull",
            &r,
        ])
        .env("PATH", path)
        .output()
        .unwrap();
    ok(&out);
    assert_eq!(inspect(state2.path(), &r)["Config"]["Cmd"], json!(["sh"]));
}

#[test]
fn bearer_token_challenge_anonymous_and_with_credentials() {
    let reg = Registry::start();
    reg.push_oci(&busybox_oci(), "latest", "team/app:1", false, None);
    let tmp = tempfile::tempdir().unwrap();

    // A token service that wants bob's password.
    let tokens = TokenService::start("tok-123", Some(("bob", "pw")));
    let proxy = Proxy::start(
        reg.port,
        Some((format!("{}/token", tokens.server.url()), "tok-123".into())),
    );
    let host = format!("127.0.0.1:{}", proxy.server.port);
    let r = format!("{host}/team/app:1");
    let state = tempfile::tempdir().unwrap();
    let err = failed(&rrun_image(state.path(), &[], &["pull", &r]));
    assert!(
        err.contains("token service") && err.contains("401"),
        "{err}"
    );
    let cfg = docker_config(tmp.path(), &host, "bob", "pw");
    ok(&rrun_image(
        state.path(),
        &["--docker-config", &cfg],
        &["pull", &r],
    ));
    assert_eq!(inspect(state.path(), &r)["Config"]["Cmd"], json!(["sh"]));
    let asked = tokens.scopes.lock().unwrap().clone();
    assert!(
        asked.iter().any(|p| p.contains("service=test-registry")
            && p.contains("scope=repository%3Ateam%2Fapp%3Apull")),
        "{asked:?}"
    );

    // Anonymous tokens (as Docker Hub hands out for public images).
    let anon = TokenService::start("anon-tok", None);
    let proxy2 = Proxy::start(
        reg.port,
        Some((format!("{}/token", anon.server.url()), "anon-tok".into())),
    );
    let r2 = format!("127.0.0.1:{}/team/app:1", proxy2.server.port);
    let state2 = tempfile::tempdir().unwrap();
    ok(&rrun_image(state2.path(), &[], &["pull", &r2]));
    assert!(!anon.scopes.lock().unwrap().is_empty());
}

#[test]
fn corrupt_blob_on_registry_is_refused_and_nothing_stored() {
    let reg = Registry::start();
    reg.push_oci(&busybox_oci(), "latest", "test/corrupt:latest", false, None);
    let manifest: serde_json::Value = {
        let d = busybox_manifest_digest();
        let p = busybox_oci()
            .join("blobs/sha256")
            .join(d.strip_prefix("sha256:").unwrap());
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let file = reg.blob_file(layer.strip_prefix("sha256:").unwrap());
    let mut data = std::fs::read(&file).unwrap();
    let mid = data.len() / 2;
    for b in &mut data[mid..mid + 64] {
        *b ^= 0xff;
    }
    std::fs::write(&file, &data).unwrap();

    let state = tempfile::tempdir().unwrap();
    let r = format!("{}/test/corrupt:latest", reg.host());
    let err = failed(&rrun_image(state.path(), &[], &["pull", &r]));
    assert!(err.contains(&layer) && err.contains("hashes to"), "{err}");
    let blobs = check_blobs(state.path());
    assert!(
        !blobs.contains(&layer.strip_prefix("sha256:").unwrap().to_string()),
        "{blobs:?}"
    );
    assert!(
        snapshots(state.path()).is_empty(),
        "{:?}",
        snapshots(state.path())
    );
    assert_eq!(
        std::fs::read_dir(state.path().join("images/tmp"))
            .unwrap()
            .count(),
        0
    );
    let err = failed(&rrun_image(state.path(), &[], &["inspect", &r]));
    assert!(err.contains("No such image"), "{err}");
}

#[test]
fn pull_killed_midway_leaves_nothing_complete_and_retry_succeeds() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let lay = Layout::new(&tmp.path().join("layout"));
    // 8 MiB that gzip cannot shrink, so the download takes a while when
    // throttled.
    let mut noise = vec![0u8; 8 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for chunk in noise.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let img = lay.image(
        &[Tar::new().file("noise", &noise).finish()],
        "gzip",
        host_arch(),
        &["noise"],
    );
    lay.tag("latest", &[(&img, host_arch(), None)]);
    reg.push_oci(&lay.dir, "latest", "test/big:latest", false, None);
    let layer_hex = img.layer_digests[0]
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();

    let proxy = Proxy::start(reg.port, None);
    proxy
        .rate
        .store(1 << 20, std::sync::atomic::Ordering::SeqCst); // 1 MiB/s
    let r = format!("127.0.0.1:{}/test/big:latest", proxy.server.port);
    let state = tempfile::tempdir().unwrap();

    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = Kill(
        std::process::Command::new(bin())
            .args([
                "--root",
                state.path().to_str().unwrap(),
                "--daemon-config",
                "/nonexistent-rrun/daemon.json",
                "pull",
                "-q",
                &r,
            ])
            .env("DOCKER_CONFIG", "/nonexistent-rrun/docker")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait until part of the layer is on disk, then kill -9.
    let tmpdir = state.path().join("images/tmp");
    wait_for("a partial layer download", Duration::from_secs(30), || {
        std::fs::read_dir(&tmpdir).ok()?.flatten().find(|e| {
            e.file_name().to_string_lossy().contains(&layer_hex)
                && e.metadata().is_ok_and(|m| m.len() > 100_000)
        })
    });
    drop(child);

    // Nothing that looks complete: no layer blob, no snapshot, no tag.
    let blobs = check_blobs(state.path());
    assert!(!blobs.contains(&layer_hex));
    assert!(
        snapshots(state.path())
            .iter()
            .all(|s| s.starts_with(".tmp-")),
        "{:?}",
        snapshots(state.path())
    );
    failed(&rrun_image(state.path(), &[], &["inspect", &r]));

    // Retry at full speed: succeeds, and prune sweeps the leftovers.
    proxy.rate.store(0, std::sync::atomic::Ordering::SeqCst);
    ok(&rrun_image(state.path(), &[], &["pull", &r]));
    assert!(check_blobs(state.path()).contains(&layer_hex));
    let snap = snapshots(state.path())
        .into_iter()
        .find(|s| !s.starts_with('.'))
        .unwrap();
    assert_eq!(
        std::fs::read(state.path().join("snapshots").join(snap).join("noise")).unwrap(),
        noise
    );
    let pruned = ok(&rrun_image(state.path(), &[], &["prune"]));
    assert!(
        snapshots(state.path()).iter().all(|s| !s.starts_with('.')),
        "{pruned}"
    );
    assert_eq!(std::fs::read_dir(&tmpdir).unwrap().count(), 0);
    assert_eq!(inspect(state.path(), &r)["Config"]["Cmd"], json!(["noise"]));
}

#[test]
fn tag_untag_delete_and_prune() {
    let reg = Registry::start();
    reg.push_oci(&busybox_oci(), "latest", "test/busybox:latest", false, None);
    let state = tempfile::tempdir().unwrap();
    let r = format!("{}/test/busybox:latest", reg.host());
    ok(&rrun_image(state.path(), &[], &["pull", &r]));
    let id = inspect(state.path(), &r)["Id"]
        .as_str()
        .unwrap()
        .to_string();

    ok(&rrun_image(state.path(), &[], &["tag", &r, "mine:v1"]));
    assert_eq!(inspect(state.path(), "mine:v1")["Id"], id.as_str());
    // Short id look-up, as Docker allows.
    assert_eq!(
        inspect(state.path(), &id["sha256:".len()..][..12])["Id"],
        id.as_str()
    );

    // One of two tags: untag only.
    let out = ok(&rrun_image(state.path(), &[], &["rm", "mine:v1"]));
    assert!(
        out.contains("Untagged: mine:v1") && !out.contains("Deleted"),
        "{out}"
    );
    assert_eq!(inspect(state.path(), &r)["Id"], id.as_str());
    assert_eq!(snapshots(state.path()).len(), 1);

    // The last name: delete, with its content.
    let out = ok(&rrun_image(state.path(), &[], &["rm", &r]));
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    assert!(snapshots(state.path()).is_empty());
    assert!(check_blobs(state.path()).is_empty());
    let err = failed(&rrun_image(state.path(), &[], &["rm", &r]));
    assert!(err.contains("No such image"), "{err}");
}

#[test]
fn hostile_layer_pull_fails_clearly_and_leaves_no_snapshot() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let probe = tmp.path().join("probe");
    std::fs::create_dir(&probe).unwrap();
    std::fs::write(probe.join("victim"), "original").unwrap();
    let lay = Layout::new(&tmp.path().join("layout"));
    let layer = Tar::new()
        .symlink("evil", probe.to_str().unwrap())
        .file("evil/victim", b"pwned")
        .finish();
    let img = lay.image(&[layer], "gzip", host_arch(), &["x"]);
    lay.tag("latest", &[(&img, host_arch(), None)]);
    reg.push_oci(&lay.dir, "latest", "test/hostile:latest", false, None);

    let state = tempfile::tempdir().unwrap();
    let r = format!("{}/test/hostile:latest", reg.host());
    let err = failed(&rrun_image(state.path(), &[], &["pull", &r]));
    assert!(
        err.contains("evil/victim") && err.contains("symlink"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(probe.join("victim")).unwrap(),
        "original"
    );
    assert_eq!(std::fs::read_dir(&probe).unwrap().count(), 1);
    assert!(
        snapshots(state.path()).is_empty(),
        "{:?}",
        snapshots(state.path())
    );
    let layer_hex = img.layer_digests[0]
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    assert!(!check_blobs(state.path()).contains(&layer_hex));
    failed(&rrun_image(state.path(), &[], &["inspect", &r]));
}

#[test]
fn decompression_bomb_is_cut_off() {
    use rrun_image::pull::{pull, PullError, PullOptions};
    use rrun_image::registry::{RegistryClient, RegistryOptions};
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let lay = Layout::new(&tmp.path().join("layout"));
    // 64 MiB of zeros: a few hundred KiB gzipped.
    let img = lay.image(
        &[Tar::new().file("zeros", &vec![0u8; 64 << 20]).finish()],
        "gzip",
        host_arch(),
        &["x"],
    );
    lay.tag("latest", &[(&img, host_arch(), None)]);
    reg.push_oci(&lay.dir, "latest", "test/bomb:latest", false, None);

    let state = tempfile::tempdir().unwrap();
    let store = rrun_image::Store::open(state.path()).unwrap();
    let client = RegistryClient::new(RegistryOptions::default());
    let r = rrun_image::Reference::parse(&format!("{}/test/bomb:latest", reg.host())).unwrap();
    let opts = PullOptions {
        max_layer_uncompressed: 8 << 20,
        ..Default::default()
    };
    let err = pull(&store, &client, &r, &opts).unwrap_err();
    assert!(matches!(err, PullError::LayerTooLarge { .. }), "{err}");
    assert!(
        err.to_string().contains("decompresses to more than"),
        "{err}"
    );
    assert!(snapshots(state.path()).is_empty());
    assert_eq!(
        std::fs::read_dir(state.path().join("images/tmp"))
            .unwrap()
            .count(),
        0
    );
}

/// The daemon's path: library pull with progress events, config look-up,
/// and an overlay root from the snapshots.
#[test]
fn library_pull_progress_config_and_overlay_rootfs() {
    use rrun_image::pull::{pull, Progress, PullOptions};
    use rrun_image::registry::{RegistryClient, RegistryOptions};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    use std::sync::{Arc, Mutex};

    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let lay = Layout::new(&tmp.path().join("layout"));
    let base = Tar::new()
        .dir("etc", 0o755)
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
        .file("etc/hostname", b"base\n")
        .dir("data", 0o755)
        .file("data/old", b"old")
        .finish();
    let top = Tar::new()
        .dir("etc", 0o755)
        .file("etc/.wh.hostname", b"")
        .dir("data", 0o755)
        .file("data/.wh..wh..opq", b"")
        .file("data/new", b"new")
        .finish();
    let img = lay.image(&[base, top], "gzip", host_arch(), &["sh"]);
    lay.tag("latest", &[(&img, host_arch(), None)]);
    reg.push_oci(&lay.dir, "latest", "test/layers:latest", false, None);

    let state = tempfile::tempdir().unwrap();
    let store = rrun_image::Store::open(state.path()).unwrap();
    let client = RegistryClient::new(RegistryOptions::default());
    let r = rrun_image::Reference::parse(&format!("{}/test/layers:latest", reg.host())).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let opts = PullOptions {
        progress: Some(Arc::new(move |p: &Progress| {
            ev.lock().unwrap().push(p.clone())
        })),
        ..Default::default()
    };
    let pulled = pull(&store, &client, &r, &opts).unwrap();
    assert_eq!(pulled.chain_ids.len(), 2);
    let events = events.lock().unwrap().clone();
    assert!(
        matches!(events[0], Progress::Resolved { layers: 2, .. }),
        "{events:?}"
    );
    for d in &img.layer_digests {
        let done = events
            .iter()
            .any(|e| matches!(e, Progress::LayerDone { digest } if digest.to_string() == *d));
        assert!(done, "no LayerDone for {d}: {events:?}");
    }

    let config = rrun_image::images::image_config(&store, &r.to_string()).unwrap();
    assert_eq!(config.config.cmd, Some(vec!["sh".to_string()]));
    assert_eq!(config.config.env, Some(vec!["PATH=/bin".to_string()]));

    // Overlay root: lower snapshots + the container's upper/work.
    let c = tmp.path().join("container");
    let (upper, work, target) = (c.join("upper"), c.join("work"), c.join("rootfs"));
    for d in [&upper, &work, &target] {
        std::fs::create_dir_all(d).unwrap();
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = rrun_image::rootfs::unmount_rootfs(&self.0);
        }
    }
    let image = rrun_image::images::find_image(&store, &r.to_string()).unwrap();
    rrun_image::rootfs::mount_rootfs(&store, &image, &upper, &work, &target).unwrap();
    let _guard = Unmount(target.clone());
    assert!(target.join("etc/passwd").exists());
    assert!(
        !target.join("etc/hostname").exists(),
        "whiteout hides the lower file"
    );
    assert!(
        !target.join("data/old").exists(),
        "opaque dir hides the lower dir's content"
    );
    assert_eq!(
        std::fs::read_to_string(target.join("data/new")).unwrap(),
        "new"
    );
    std::fs::write(target.join("written"), "w").unwrap();
    std::fs::remove_file(target.join("etc/passwd")).unwrap();
    assert_eq!(std::fs::read_to_string(upper.join("written")).unwrap(), "w");
    let wh = std::fs::symlink_metadata(upper.join("etc/passwd")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    // The snapshots themselves are untouched by the container's writes.
    let lower = rrun_image::pull::snapshot_path(&store, &pulled.chain_ids[0]);
    assert!(lower.join("etc/passwd").exists());
}

/// A fake registry (the test's own server) whose layer never ends and whose
/// other manifest is too big: both are cut off with a clear error, with
/// bounded memory.
#[test]
fn never_ending_blob_and_oversized_manifest_are_cut_off() {
    use std::io::Write as _;
    use std::sync::Arc;
    let config = json!({"architecture": host_arch(), "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", "1".repeat(64))]}})
    .to_string();
    let config_digest = format!("sha256:{}", sha256_hex(config.as_bytes()));
    let layer_digest = format!("sha256:{}", "2".repeat(64));
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": 1000}]})
    .to_string();
    let (m, c, cd, ld) = (
        manifest.clone(),
        config.clone(),
        config_digest.clone(),
        layer_digest.clone(),
    );
    let server = Server::start(Arc::new(
        move |req: Request, mut conn: std::net::TcpStream| {
            let p = req.path.as_str();
            if p == "/v2/" {
                respond(conn, "200 OK", &[], b"{}");
            } else if p.ends_with("/manifests/latest") {
                respond(
                    conn,
                    "200 OK",
                    &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
                    m.as_bytes(),
                );
            } else if p.ends_with("/manifests/huge") {
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n\r\n");
                let chunk = vec![b' '; 64 << 10];
                for _ in 0..1024 {
                    if conn.write_all(&chunk).is_err() {
                        return;
                    }
                }
            } else if p.ends_with(&format!("/blobs/{cd}")) {
                respond(conn, "200 OK", &[], c.as_bytes());
            } else if p.ends_with(&format!("/blobs/{ld}")) {
                // No Content-Length, and far more than the manifest's 1000 bytes
                // (bounded at 64 MiB so the test ends whatever happens).
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                let chunk = vec![0u8; 64 << 10];
                for _ in 0..1024 {
                    if conn.write_all(&chunk).is_err() {
                        return;
                    }
                }
            } else {
                respond(conn, "404 Not Found", &[], b"{}");
            }
        },
    ));
    let state = tempfile::tempdir().unwrap();
    let r = format!("127.0.0.1:{}/fake/endless:latest", server.port);
    let err = failed(&rrun_image(state.path(), &[], &["pull", &r]));
    assert!(
        err.contains(&layer_digest) && err.contains("cut off"),
        "{err}"
    );
    assert!(snapshots(state.path()).is_empty());
    assert_eq!(
        std::fs::read_dir(state.path().join("images/tmp"))
            .unwrap()
            .count(),
        0
    );

    let huge = format!("127.0.0.1:{}/fake/endless:huge", server.port);
    let err = failed(&rrun_image(state.path(), &[], &["pull", &huge]));
    assert!(err.contains("larger than the 4194304-byte limit"), "{err}");
}

/// The daemon can cancel a pull (a client went away): the pull stops with
/// Cancelled and keeps nothing half-done.
#[test]
fn cancelled_pull_keeps_nothing() {
    use rrun_image::pull::{pull, PullError, PullOptions};
    use rrun_image::registry::{RegistryClient, RegistryOptions};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let lay = Layout::new(&tmp.path().join("layout"));
    let mut noise = vec![0u8; 4 << 20];
    let mut x: u64 = 0x2545f4914f6cdd1d;
    for chunk in noise.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let img = lay.image(
        &[Tar::new().file("noise", &noise).finish()],
        "gzip",
        host_arch(),
        &["x"],
    );
    lay.tag("latest", &[(&img, host_arch(), None)]);
    reg.push_oci(&lay.dir, "latest", "test/cancel:latest", false, None);
    let proxy = Proxy::start(reg.port, None);
    proxy.rate.store(512 << 10, Ordering::SeqCst);

    let state = tempfile::tempdir().unwrap();
    let store = rrun_image::Store::open(state.path()).unwrap();
    let client = RegistryClient::new(RegistryOptions::default());
    let r = rrun_image::Reference::parse(&format!(
        "127.0.0.1:{}/test/cancel:latest",
        proxy.server.port
    ))
    .unwrap();
    let cancel = Arc::new(AtomicBool::new(false));
    let opts = PullOptions {
        cancel: Some(cancel.clone()),
        ..Default::default()
    };
    let tmpdir = state.path().join("images/tmp");
    let res = std::thread::scope(|s| {
        let h = s.spawn(|| pull(&store, &client, &r, &opts));
        wait_for(
            "a partial download",
            std::time::Duration::from_secs(30),
            || {
                std::fs::read_dir(&tmpdir)
                    .ok()?
                    .flatten()
                    .find(|e| e.metadata().is_ok_and(|m| m.len() > 50_000))
            },
        );
        cancel.store(true, Ordering::SeqCst);
        h.join().unwrap()
    });
    assert!(matches!(res, Err(PullError::Cancelled)), "{res:?}");
    assert!(
        snapshots(state.path()).is_empty(),
        "{:?}",
        snapshots(state.path())
    );
    assert_eq!(std::fs::read_dir(&tmpdir).unwrap().count(), 0);
    let layer_hex = img.layer_digests[0]
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    assert!(!check_blobs(state.path()).contains(&layer_hex));
}

/// An image deeper than mount(2)'s one-page option limit still mounts
/// (one `lowerdir+` per layer through the new mount API).
#[test]
fn deep_image_overlay_rootfs() {
    use rrun_image::pull::{pull, PullOptions};
    use rrun_image::registry::{RegistryClient, RegistryOptions};
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let lay = Layout::new(&tmp.path().join("layout"));
    let layers: Vec<Vec<u8>> = (0..60)
        .map(|i| {
            Tar::new()
                .file(&format!("layer-{i}"), b"x")
                .file("top", format!("{i}").as_bytes())
                .finish()
        })
        .collect();
    let img = lay.image(&layers, "gzip", host_arch(), &["x"]);
    lay.tag("latest", &[(&img, host_arch(), None)]);
    reg.push_oci(&lay.dir, "latest", "test/deep:latest", false, None);

    let state = tempfile::tempdir().unwrap();
    let store = rrun_image::Store::open(state.path()).unwrap();
    let client = RegistryClient::new(RegistryOptions::default());
    let r = rrun_image::Reference::parse(&format!("{}/test/deep:latest", reg.host())).unwrap();
    pull(&store, &client, &r, &PullOptions::default()).unwrap();
    let image = rrun_image::images::find_image(&store, &r.to_string()).unwrap();
    assert_eq!(image.chain_ids.len(), 60);

    let c = tmp.path().join("c");
    let (upper, work, target) = (c.join("upper"), c.join("work"), c.join("rootfs"));
    for d in [&upper, &work, &target] {
        std::fs::create_dir_all(d).unwrap();
    }
    let too_long = rrun_image::rootfs::overlay_options(&store, &image, &upper, &work);
    assert!(
        matches!(
            too_long,
            Err(rrun_image::rootfs::RootfsError::TooManyLayers { .. })
        ),
        "the test image must exceed the page limit"
    );
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = rrun_image::rootfs::unmount_rootfs(&self.0);
        }
    }
    rrun_image::rootfs::mount_rootfs(&store, &image, &upper, &work, &target).unwrap();
    let _guard = Unmount(target.clone());
    assert!(target.join("layer-0").exists() && target.join("layer-59").exists());
    assert_eq!(
        std::fs::read_to_string(target.join("top")).unwrap(),
        "59",
        "top layer wins"
    );
}

/// A registry listed in insecure-registries is tried over HTTPS (without
/// certificate checks) first, then plain HTTP when TLS fails, as Docker does.
#[test]
fn listed_insecure_registry_falls_back_from_tls_to_http() {
    let reg = Registry::start();
    reg.push_oci(
        &busybox_oci(),
        "latest",
        "test/insecure:latest",
        false,
        None,
    );
    // The test's proxy closes a TLS ClientHello at once, as a plain HTTP
    // server that fails it would.
    let proxy = Proxy::start(reg.port, None);
    let host = format!("127.0.0.1:{}", proxy.server.port);
    let tmp = tempfile::tempdir().unwrap();
    let daemon = tmp.path().join("daemon.json");
    std::fs::write(&daemon, json!({"insecure-registries": [host]}).to_string()).unwrap();
    let state = tempfile::tempdir().unwrap();
    let r = format!("{host}/test/insecure:latest");
    let started = std::time::Instant::now();
    ok(&rrun_image(
        state.path(),
        &["--daemon-config", daemon.to_str().unwrap()],
        &["pull", &r],
    ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the TLS try should fail fast, not time out"
    );
    assert_eq!(inspect(state.path(), &r)["Config"]["Cmd"], json!(["sh"]));
}
