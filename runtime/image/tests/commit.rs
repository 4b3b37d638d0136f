//! Layers made from a real overlay upper dir (run as root: the overlay
//! mount, whiteout devices and `trusted.overlay.*` xattrs are the kernel's):
//! changes made through a mounted image become a layer with Docker's
//! whiteouts, a committed image on the parent, and that image's own
//! mount shows exactly the changed tree.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use common::*;
use rrun_image::commit::{commit_image, CommitSpec};
use rrun_image::images::find_image;
use rrun_image::layer::layer_from_upper;
use rrun_image::{ContainerConfig, Reference, Store};

/// An overlay mount of an image, unmounted on drop.
struct Mounted {
    target: PathBuf,
    upper: PathBuf,
}

impl Mounted {
    fn new(store: &Store, name: &str, dir: &Path) -> Mounted {
        let img = find_image(store, name).unwrap();
        let (upper, work, target) = (dir.join("upper"), dir.join("work"), dir.join("merged"));
        for d in [&upper, &work, &target] {
            std::fs::create_dir_all(d).unwrap();
        }
        rrun_image::rootfs::mount_rootfs(store, &img, &upper, &work, &target).unwrap();
        Mounted { target, upper }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = rrun_image::rootfs::unmount_rootfs(&self.target);
    }
}

/// Entry name → (type byte, link name, contents) of a gzip layer blob.
fn entries(store: &Store, digest: &rrun_image::Digest) -> BTreeMap<String, (u8, String, Vec<u8>)> {
    let f = std::fs::File::open(store.blob_path(digest)).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut out = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let kind = e.header().entry_type().as_byte();
        let link = e
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(name.trim_end_matches('/').to_string(), (kind, link, data));
    }
    out
}

#[test]
fn upper_dir_becomes_a_layer_with_docker_whiteouts_and_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("state")).unwrap();
    let base = Tar::new()
        .file("gone.txt", b"old")
        .dir("etc", 0o755)
        .file("etc/keep.conf", b"keep")
        .dir("data", 0o755)
        .file("data/old1", b"1")
        .file("data/old2", b"2")
        .finish();
    let tarball = tmp.path().join("base.tar");
    std::fs::write(&tarball, base).unwrap();
    let base_ref = Reference::parse("example/base:1").unwrap();
    rrun_image::archive::import(&store, &tarball, &base_ref).unwrap();

    // Changes through the mount, as a container makes them.
    let m = Mounted::new(&store, "example/base:1", &tmp.path().join("c1"));
    let root = &m.target;
    std::fs::remove_file(root.join("gone.txt")).unwrap();
    std::fs::remove_dir_all(root.join("data")).unwrap();
    std::fs::create_dir(root.join("data")).unwrap();
    std::fs::write(root.join("data/new"), b"fresh").unwrap();
    std::fs::write(root.join("etc/keep.conf"), b"changed").unwrap();
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::write(root.join("usr/bin/tool"), b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        root.join("usr/bin/tool"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::fs::hard_link(root.join("usr/bin/tool"), root.join("usr/bin/tool2")).unwrap();
    std::os::unix::fs::symlink("tool", root.join("usr/bin/alias")).unwrap();
    xattr::set(root.join("usr/bin/tool"), "user.rrun-test", b"v1").unwrap();
    std::os::unix::fs::chown(root.join("data/new"), Some(1234), Some(4321)).unwrap();
    // The kernel wrote overlayfs' own markers into the upper dir.
    assert_eq!(
        std::fs::symlink_metadata(m.upper.join("gone.txt"))
            .unwrap()
            .rdev(),
        0
    );
    assert_eq!(
        xattr::get(m.upper.join("data"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    let upper = m.upper.clone();
    drop(m);

    let layer = layer_from_upper(&store, &upper).unwrap();
    let e = entries(&store, &layer.digest);
    let names: Vec<&str> = e.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            ".wh.gone.txt",
            "data",
            "data/.wh..wh..opq",
            "data/new",
            "etc",
            "etc/keep.conf",
            "usr",
            "usr/bin",
            "usr/bin/alias",
            "usr/bin/tool",
            "usr/bin/tool2",
        ]
    );
    assert_eq!(e["etc/keep.conf"].2, b"changed");
    assert_eq!(e["usr/bin/alias"].0, b'2');
    assert_eq!(e["usr/bin/alias"].1, "tool");
    // The second name of a hard-linked file is a link to the first.
    assert_eq!(
        (e["usr/bin/tool2"].0, e["usr/bin/tool2"].1.as_str()),
        (b'1', "usr/bin/tool")
    );
    assert_eq!(e[".wh.gone.txt"].2, b"");
    // The blob digest and diff id are what the content hashes to.
    let blob = std::fs::read(store.blob_path(&layer.digest)).unwrap();
    assert_eq!(rrun_image::Digest::sha256_of(&blob), layer.digest);
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&blob[..])
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(rrun_image::Digest::sha256_of(&tar), layer.diff_id);
    assert_eq!(layer.size, blob.len() as u64);

    // The committed image: parent's layer + the new one, history, config.
    let parent = find_image(&store, "example/base:1").unwrap();
    let spec = CommitSpec {
        config: ContainerConfig {
            cmd: Some(vec!["/usr/bin/tool".into()]),
            env: Some(vec!["PATH=/usr/bin".into()]),
            ..Default::default()
        },
        created_by: "/bin/sh -c rm gone.txt".into(),
        comment: Some("a test commit".into()),
        author: Some("rrun tests".into()),
        created: None,
    };
    let new_ref = Reference::parse("example/changed:1").unwrap();
    let made = commit_image(&store, Some(&parent), Some(&layer), &spec, &[new_ref]).unwrap();
    let img = find_image(&store, "example/changed:1").unwrap();
    assert_eq!(img.id, made.id);
    assert_eq!(img.config.rootfs.diff_ids.len(), 2);
    assert_eq!(img.config.rootfs.diff_ids[1], layer.diff_id);
    assert_eq!(img.config.history.len(), 2);
    assert_eq!(
        img.config.history[1]["created_by"],
        "/bin/sh -c rm gone.txt"
    );
    assert_eq!(img.config.history[1]["comment"], "a test commit");
    assert!(img.config.history[1].get("empty_layer").is_none());
    assert_eq!(img.config.author.as_deref(), Some("rrun tests"));
    assert_eq!(img.config.config.cmd, spec.config.cmd);
    assert_eq!(img.manifest.layers[1].digest, layer.digest);

    // Mounted, the new image is the changed tree.
    let m2 = Mounted::new(&store, "example/changed:1", &tmp.path().join("c2"));
    let r = &m2.target;
    assert!(!r.join("gone.txt").exists());
    assert!(!r.join("data/old1").exists() && !r.join("data/old2").exists());
    assert_eq!(std::fs::read(r.join("data/new")).unwrap(), b"fresh");
    let meta = std::fs::metadata(r.join("data/new")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1234, 4321));
    assert_eq!(std::fs::read(r.join("etc/keep.conf")).unwrap(), b"changed");
    let tool = std::fs::metadata(r.join("usr/bin/tool")).unwrap();
    assert_eq!(tool.mode() & 0o7777, 0o4755);
    assert_eq!(
        tool.ino(),
        std::fs::metadata(r.join("usr/bin/tool2")).unwrap().ino()
    );
    assert_eq!(
        xattr::get(r.join("usr/bin/tool"), "user.rrun-test")
            .unwrap()
            .as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(
        std::fs::read_link(r.join("usr/bin/alias")).unwrap(),
        Path::new("tool")
    );
    drop(m2);

    // A metadata-only step: no layer, an empty_layer history entry.
    let child_spec = CommitSpec {
        created_by: "/bin/sh -c #(nop)  LABEL a=b".into(),
        ..spec.clone()
    };
    let made2 = commit_image(&store, Some(&img), None, &child_spec, &[]).unwrap();
    let img2 = rrun_image::images::find_any_image(&store, &made2.id.to_string()).unwrap();
    assert_eq!(img2.config.rootfs.diff_ids, img.config.rootfs.diff_ids);
    assert_eq!(img2.config.history[2]["empty_layer"], true);
    check_blobs(&tmp.path().join("state"));
}

#[test]
fn a_name_that_reads_as_a_whiteout_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("state")).unwrap();
    let upper = tmp.path().join("upper");
    std::fs::create_dir_all(upper.join("etc")).unwrap();
    std::fs::write(upper.join("etc/.wh.passwd"), b"x").unwrap();
    let err = layer_from_upper(&store, &upper).unwrap_err().to_string();
    assert!(
        err.contains("etc/.wh.passwd") && err.contains("whiteout"),
        "{err}"
    );
    // Nothing half-made is left in the store.
    assert!(std::fs::read_dir(tmp.path().join("state/images/tmp"))
        .unwrap()
        .next()
        .is_none());
    assert!(
        std::fs::read_dir(tmp.path().join("state/images/blobs/sha256"))
            .unwrap()
            .next()
            .is_none()
    );
}
