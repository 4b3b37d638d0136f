//! Hostile images, loaded into a real rrund of the test's own with
//! `rrun load`: a blob whose content is not its digest, a descriptor whose
//! size lies, a manifest of absurd size, device nodes, names past the
//! kernel's limits. Each is refused with one clear line (or, where Docker
//! takes it, handled harmlessly), rrund stays up, and the store keeps
//! nothing half-made.

mod common;

use common::daemon::Daemon;
use common::layers::{layer, oci_layout, sha256, tar_layout, Entry};
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The layout's one manifest, read back as JSON, and its blob's path.
fn manifest_of(layout: &Path) -> (Value, PathBuf) {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let path = layout.join("blobs/sha256").join(&digest[7..]);
    (
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap(),
        path,
    )
}

/// Writes `manifest` as a new blob and points the index at it (digest and
/// size right), so only what the test changed inside is wrong.
fn replace_manifest(layout: &Path, manifest: &[u8]) {
    let d = sha256(manifest);
    std::fs::write(layout.join("blobs/sha256").join(&d), manifest).unwrap();
    let index_path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    index["manifests"][0]["digest"] = format!("sha256:{d}").into();
    index["manifests"][0]["size"] = manifest.len().into();
    std::fs::write(index_path, index.to_string()).unwrap();
}

/// `rrun load` of the layout must fail with a clear line naming one of
/// `words`; rrund answers after, and no image is listed.
fn refused(d: &Daemon, layout: &Path, words: &[&str]) {
    let tar = tar_layout(layout);
    let out = d.rrun(&["load", "-i", tar.to_str().unwrap()]);
    let err = text(&out.stderr).to_lowercase();
    assert!(
        !out.status.success(),
        "{}: loaded: {}",
        layout.display(),
        text(&out.stdout)
    );
    assert!(
        words.iter().any(|w| err.contains(w)) && !err.contains("panicked"),
        "{}: unclear error (wanted one of {words:?}): {err}",
        layout.display()
    );
    assert!(
        d.rrun(&["version"]).status.success(),
        "rrund died: {}",
        d.log()
    );
    let images = d.ok(&["images", "-a", "-q"]);
    assert!(images.trim().is_empty(), "half-loaded image: {images}");
}

fn plain_layer() -> Vec<u8> {
    layer(&[Entry::Dir("etc"), Entry::File("etc/hello", "hello\n")])
}

#[test]
fn a_blob_that_is_not_its_digest_is_refused() {
    let d = Daemon::start();
    let layout = oci_layout(d.dir.path(), "baddigest", &[plain_layer()]);
    let (manifest, _) = manifest_of(&layout);
    let digest = manifest["layers"][0]["digest"].as_str().unwrap();
    let blob = layout.join("blobs/sha256").join(&digest[7..]);
    // Same size, other bytes.
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[600] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    refused(&d, &layout, &["digest", "sha256", "verif", "mismatch"]);
}

#[test]
fn a_descriptor_whose_size_lies_is_refused() {
    let d = Daemon::start();
    let layout = oci_layout(d.dir.path(), "badsize", &[plain_layer()]);
    let (mut manifest, _) = manifest_of(&layout);
    let size = manifest["layers"][0]["size"].as_u64().unwrap();
    manifest["layers"][0]["size"] = (size - 512).into();
    replace_manifest(&layout, manifest.to_string().as_bytes());
    refused(&d, &layout, &["size", "bytes", "descriptor"]);
}

#[test]
fn a_manifest_of_absurd_size_is_refused() {
    // A manifest padded to 64 MiB (valid JSON: spaces): a registry client
    // must not read it whole (containerd stops at 4 MiB).
    let d = Daemon::start();
    let layout = oci_layout(d.dir.path(), "hugemanifest", &[plain_layer()]);
    let (manifest, _) = manifest_of(&layout);
    let mut bytes = manifest.to_string().into_bytes();
    bytes.pop();
    bytes.extend(std::iter::repeat_n(b' ', 64 << 20));
    bytes.push(b'}');
    replace_manifest(&layout, &bytes);
    refused(&d, &layout, &["too large", "size", "limit", "manifest"]);
}

#[test]
fn device_nodes_in_a_layer_give_no_access_to_the_hosts_devices() {
    // Docker keeps device nodes of an image (some base images hold a
    // /dev/null node); what counts is that a container cannot use one to
    // read the host's memory or kernel log. The image: busybox and two
    // nodes, /mem (1:1) and /kmsg (1:11).
    let d = Daemon::start();
    let bb = std::fs::read(images().join("busybox/rootfs/bin/busybox")).unwrap();
    let layout = oci_layout(
        d.dir.path(),
        "devices",
        &[layer(&[
            Entry::Dir("bin"),
            Entry::Program("bin/busybox", &bb),
            Entry::Symlink("bin/sh", "busybox"),
            Entry::Symlink("bin/head", "busybox"),
            Entry::Symlink("bin/wc", "busybox"),
            Entry::CharDev("mem", 1, 1),
            Entry::CharDev("kmsg", 1, 11),
        ])],
    );
    let tar = tar_layout(&layout);
    let out = d.rrun(&["load", "-i", tar.to_str().unwrap()]);
    if !out.status.success() {
        let err = text(&out.stderr);
        assert!(
            err.contains("mem") || err.contains("device"),
            "unclear: {err}"
        );
        return;
    }
    let id = "hostile/devices:latest";
    let out = d.rrun(&[
        "run",
        "--rm",
        id,
        "sh",
        "-c",
        "echo mem=$(head -c 16 /mem | wc -c); echo kmsg=$(head -c 16 /kmsg | wc -c); echo end",
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("end"), "{}{}", stdout, text(&out.stderr));
    assert!(
        stdout.contains("mem=0\n") && stdout.contains("kmsg=0\n"),
        "a container read a host device through the image's node: {stdout}"
    );
}

#[test]
fn names_past_the_kernels_limits_are_refused_or_kept_inside() {
    let d = Daemon::start();
    // A component of 300 bytes (NAME_MAX is 255): refused, clearly.
    let long_component = format!("d/{}", "c".repeat(300));
    let layout = oci_layout(
        d.dir.path(),
        "longcomponent",
        &[layer(&[Entry::File(&long_component, "x\n")])],
    );
    refused(&d, &layout, &["name", "too long", "long"]);
    // A path of 5000 bytes (PATH_MAX is 4096) in components of 99: the
    // unpacker walks one directory fd at a time, so it is kept, inside the
    // store, and goes with the image.
    let deep = (0..50)
        .map(|_| "p".repeat(99))
        .collect::<Vec<_>>()
        .join("/");
    let layout = oci_layout(
        d.dir.path(),
        "longpath",
        &[layer(&[Entry::File(&deep, "x\n")])],
    );
    let tar = tar_layout(&layout);
    let out = d.rrun(&["load", "-i", tar.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = d.ok(&["images", "-a", "-q"]);
    d.ok(&["rmi", id.trim()]);
    assert!(d.ok(&["images", "-a", "-q"]).trim().is_empty());
}

/// rrund's peak resident memory (VmHWM, KiB): the process whose command
/// line names this daemon's socket.
fn rrund_peak_kib(d: &Daemon) -> u64 {
    let sock = d.socket().display().to_string();
    let pid = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .find(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.starts_with(bin("rrund").to_str().unwrap()) && cmd.contains(&sock)
        })
        .expect("rrund's process")
        .path();
    let status = std::fs::read_to_string(pid.join("status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_gzip_bomb_is_unpacked_in_bounded_memory() {
    // A 64 MiB layer of zeros, about 0.3 MiB gzip-compressed: rrund must
    // stream it (decompress, hash, unpack) rather than hold it.
    let d = Daemon::start();
    let work = tempfile::tempdir().unwrap();
    let w = work.path().display();
    let script = format!(
        "cd {w} && dd if=/dev/zero of=zeros bs=1M count=64 status=none && \
         tar -cf layer.tar zeros && rm zeros && sha256sum layer.tar && gzip -1 layer.tar"
    );
    let out = run_timeout(120, Path::new("sh"), &["-c", &script], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let diff_id = format!("sha256:{}", &text(&out.stdout)[..64]);
    let gz = std::fs::read(work.path().join("layer.tar.gz")).unwrap();
    let layout = oci_layout(d.dir.path(), "bomb", &[plain_layer()]);
    let (mut manifest, _) = manifest_of(&layout);
    let gz_digest = sha256(&gz);
    std::fs::write(layout.join("blobs/sha256").join(&gz_digest), &gz).unwrap();
    manifest["layers"][0] = serde_json::json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": format!("sha256:{gz_digest}"), "size": gz.len()});
    let config_digest = manifest["config"]["digest"].as_str().unwrap().to_string();
    let config_path = layout.join("blobs/sha256").join(&config_digest[7..]);
    let mut config: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config["rootfs"]["diff_ids"] = serde_json::json!([diff_id]);
    let config = config.to_string();
    let cd = sha256(config.as_bytes());
    std::fs::write(layout.join("blobs/sha256").join(&cd), &config).unwrap();
    manifest["config"]["digest"] = format!("sha256:{cd}").into();
    manifest["config"]["size"] = config.len().into();
    replace_manifest(&layout, manifest.to_string().as_bytes());
    let tar = tar_layout(&layout);
    let before = rrund_peak_kib(&d);
    let out = d.rrun(&["load", "-i", tar.to_str().unwrap()]);
    let peak = rrund_peak_kib(&d);
    eprintln!("rrund peak memory: {before} KiB before the load, {peak} KiB after");
    assert!(
        peak < before + 32 * 1024,
        "rrund's peak memory grew from {before} KiB to {peak} KiB for a 64 MiB layer"
    );
    assert!(
        d.rrun(&["version"]).status.success(),
        "rrund died: {}",
        d.log()
    );
    if out.status.success() {
        // Kept whole, and removable.
        d.ok(&["rmi", "hostile/bomb:latest"]);
    } else {
        let err = text(&out.stderr);
        assert!(
            err.contains("layer") || err.contains("size"),
            "unclear: {err}"
        );
    }
    assert!(d.ok(&["images", "-a", "-q"]).trim().is_empty());
}

#[test]
fn more_layers_than_overlayfs_stacks_are_refused_clearly() {
    // 520 layers (overlayfs stacks at most 500 lower directories, and a
    // mount's options fit in one page): the load is refused, or a
    // container of it fails with a clear line or runs; never a panic or a
    // daemon gone.
    let d = Daemon::start();
    let bb = std::fs::read(images().join("busybox/rootfs/bin/busybox")).unwrap();
    let mut layers = vec![layer(&[
        Entry::Dir("bin"),
        Entry::Program("bin/busybox", &bb),
        Entry::Symlink("bin/true", "busybox"),
    ])];
    for i in 0..519 {
        let name = format!("l{i}");
        layers.push(layer(&[Entry::File(&name, "x\n")]));
    }
    let layout = oci_layout(d.dir.path(), "many", &layers);
    let tar = tar_layout(&layout);
    let out = d.rrun(&["load", "-i", tar.to_str().unwrap()]);
    assert!(
        d.rrun(&["version"]).status.success(),
        "rrund died: {}",
        d.log()
    );
    if !out.status.success() {
        let err = text(&out.stderr);
        assert!(
            err.contains("layer") && !err.contains("panicked"),
            "unclear: {err}"
        );
        assert!(d.ok(&["images", "-a", "-q"]).trim().is_empty());
        return;
    }
    // Loaded (as Docker would not: it stops at 125); a container of it
    // is refused with the reason, not overlayfs' bare EINVAL.
    let out = d.rrun(&["run", "--rm", "hostile/many:latest", "true"]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "a 520-layer image ran");
    assert!(
        err.contains("520 layers") && err.contains("at most 500"),
        "unclear failure ({}): {err}",
        out.status
    );
    assert!(
        d.rrun(&["version"]).status.success(),
        "rrund died: {}",
        d.log()
    );
    assert!(
        d.ok(&["ps", "-aq"]).trim().is_empty(),
        "a half-made container is left"
    );
}

#[test]
fn overlay_xattrs_in_a_layer_are_dropped() {
    // A layer that sets trusted.overlay.* itself would steer overlayfs:
    // an opaque flag hiding the layers below, a redirect leading a lookup
    // elsewhere. The unpacker alone decides those: the container still
    // sees the lower layer's file.
    let d = Daemon::start();
    let bb = std::fs::read(images().join("busybox/rootfs/bin/busybox")).unwrap();
    let base = layer(&[
        Entry::Dir("bin"),
        Entry::Program("bin/busybox", &bb),
        Entry::Symlink("bin/cat", "busybox"),
        Entry::Dir("d"),
        Entry::File("d/below", "from the lower layer\n"),
        Entry::Dir("elsewhere"),
        Entry::File("elsewhere/other", "other\n"),
    ]);
    let top = layer(&[
        Entry::XattrDir("d", "trusted.overlay.opaque", b"y"),
        Entry::XattrDir("r", "trusted.overlay.redirect", b"/elsewhere"),
    ]);
    let layout = oci_layout(d.dir.path(), "ovlxattr", &[base, top]);
    let tar = tar_layout(&layout);
    d.ok(&["load", "-i", tar.to_str().unwrap()]);
    let out = d.ok(&["run", "--rm", "hostile/ovlxattr:latest", "cat", "/d/below"]);
    assert_eq!(
        out, "from the lower layer\n",
        "the layer's opaque flag was applied"
    );
    let out = d.rrun(&["run", "--rm", "hostile/ovlxattr:latest", "cat", "/r/other"]);
    assert!(
        !text(&out.stdout).contains("other"),
        "the layer's redirect was applied"
    );
}

#[test]
fn a_huge_xattr_is_refused_clearly() {
    // 1 MiB in one extended attribute (Linux takes at most 64 KiB): one
    // clear error, rrund up, nothing listed.
    let d = Daemon::start();
    let big = vec![b'a'; 1 << 20];
    let layout = oci_layout(
        d.dir.path(),
        "bigxattr",
        &[layer(&[Entry::XattrDir("d", "user.big", &big)])],
    );
    let tar = tar_layout(&layout);
    let out = d.rrun(&["load", "-i", tar.to_str().unwrap()]);
    assert!(
        d.rrun(&["version"]).status.success(),
        "rrund died: {}",
        d.log()
    );
    if out.status.success() {
        // Dropped with a warning rather than refused: then the image is whole.
        d.ok(&["rmi", "hostile/bigxattr:latest"]);
    } else {
        let err = text(&out.stderr);
        assert!(
            err.contains("xattr") || err.contains("attribute"),
            "unclear: {err}"
        );
    }
    assert!(d.ok(&["images", "-a", "-q"]).trim().is_empty());
}
