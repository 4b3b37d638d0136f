//! save / load (docker save archives old and new, OCI archives) and import
//! (run as root).

mod common;

use std::io::Write;
use std::path::Path;

use common::*;
use serde_json::json;

fn snapshot_with(state: &Path, file: &str) -> Option<std::path::PathBuf> {
    snapshots(state)
        .into_iter()
        .map(|s| state.join("snapshots").join(s))
        .find(|p| p.join(file).exists())
}

/// A tar of every file under `dir`, with names relative to it.
fn tar_dir(dir: &Path, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", dir).unwrap();
    for (name, data) in extra {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn save_then_load_round_trip() {
    let reg = Registry::start();
    reg.push_oci(&busybox_oci(), "latest", "test/busybox:latest", false, None);
    let a = tempfile::tempdir().unwrap();
    let r = format!("{}/test/busybox:latest", reg.host());
    ok(&rrun_image(a.path(), &[], &["pull", &r]));
    ok(&rrun_image(a.path(), &[], &["tag", &r, "saved/busybox:v1"]));
    let before = inspect(a.path(), "saved/busybox:v1");

    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("busybox.tar");
    ok(&rrun_image(
        a.path(),
        &[],
        &["save", "-o", archive.to_str().unwrap(), "saved/busybox:v1"],
    ));

    // The archive has Docker's manifest.json and an OCI layout.
    let mut names = Vec::new();
    let mut manifest_json = None;
    let mut ar = tar::Archive::new(std::fs::File::open(&archive).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let n = e.path().unwrap().to_string_lossy().into_owned();
        if n == "manifest.json" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            manifest_json = Some(s);
        }
        names.push(n);
    }
    assert!(
        names.contains(&"index.json".to_string()) && names.contains(&"oci-layout".to_string()),
        "{names:?}"
    );
    let m: serde_json::Value = serde_json::from_str(&manifest_json.unwrap()).unwrap();
    assert_eq!(m[0]["RepoTags"], json!(["saved/busybox:v1"]));

    let b = tempfile::tempdir().unwrap();
    let out = ok(&rrun_image(
        b.path(),
        &[],
        &["load", "-i", archive.to_str().unwrap()],
    ));
    assert!(out.contains("Loaded image: saved/busybox:v1"), "{out}");
    let after = inspect(b.path(), "saved/busybox:v1");
    assert_eq!(after["Id"], before["Id"]);
    assert_eq!(after["Config"], before["Config"]);
    assert!(snapshot_with(b.path(), "bin/busybox").is_some());
    check_blobs(b.path());
}

#[test]
fn load_oci_archive_with_containerd_name() {
    let tmp = tempfile::tempdir().unwrap();
    let src = busybox_oci();
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["annotations"]["io.containerd.image.name"] =
        json!("example.com/oci/busybox:v2");
    // Copy the layout with the new index.json.
    let lay = tmp.path().join("layout");
    std::fs::create_dir_all(lay.join("blobs/sha256")).unwrap();
    for e in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), lay.join("blobs/sha256").join(e.file_name())).unwrap();
    }
    std::fs::copy(src.join("oci-layout"), lay.join("oci-layout")).unwrap();
    std::fs::write(lay.join("index.json"), index.to_string()).unwrap();
    // Gzip the whole archive: load takes compressed archives too.
    let (data, _) = compress(&tar_dir(&lay, &[]), "gzip");
    let archive = tmp.path().join("oci.tar.gz");
    std::fs::write(&archive, data).unwrap();

    let state = tempfile::tempdir().unwrap();
    let out = ok(&rrun_image(
        state.path(),
        &[],
        &["load", "-i", archive.to_str().unwrap()],
    ));
    assert!(
        out.contains("Loaded image: example.com/oci/busybox:v2"),
        "{out}"
    );
    let info = inspect(state.path(), "example.com/oci/busybox:v2");
    assert_eq!(info["Config"]["Cmd"], json!(["sh"]));
    assert!(snapshot_with(state.path(), "bin/busybox").is_some());
}

#[test]
fn load_legacy_docker_save_with_linked_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let l1 = Tar::new().file("one", b"1").finish();
    let l2 = Tar::new().file("two", b"2").finish();
    let diff = |l: &[u8]| format!("sha256:{}", sha256_hex(l));
    // Layer 3 repeats layer 1, stored as a symlink as old Docker did.
    let config = json!({"architecture": host_arch(), "os": "linux", "config": {"Cmd": ["legacy"]},
        "rootfs": {"type": "layers", "diff_ids": [diff(&l1), diff(&l2), diff(&l1)]}})
    .to_string();
    let cfg_name = format!("{}.json", sha256_hex(config.as_bytes()));
    let manifest = json!([{"Config": cfg_name, "RepoTags": ["legacy/app:old"],
        "Layers": ["aaa/layer.tar", "bbb/layer.tar", "ccc/layer.tar"]}])
    .to_string();
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    add("aaa/layer.tar", &l1);
    add("bbb/layer.tar", &l2);
    add(&cfg_name, config.as_bytes());
    add("manifest.json", manifest.as_bytes());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "ccc/layer.tar", "../aaa/layer.tar")
        .unwrap();
    let archive = tmp.path().join("legacy.tar");
    std::fs::write(&archive, b.into_inner().unwrap()).unwrap();

    let state = tempfile::tempdir().unwrap();
    let out = ok(&rrun_image(
        state.path(),
        &[],
        &["load", "-i", archive.to_str().unwrap()],
    ));
    assert!(out.contains("Loaded image: legacy/app:old"), "{out}");
    let info = inspect(state.path(), "legacy/app:old");
    assert_eq!(info["Config"]["Cmd"], json!(["legacy"]));
    assert_eq!(info["RootFS"]["Layers"].as_array().unwrap().len(), 3);
    // Three snapshots (chain ids differ even for the repeated layer).
    assert_eq!(snapshots(state.path()).len(), 3);
    assert!(snapshot_with(state.path(), "two").is_some());
}

#[test]
fn load_refuses_a_blob_that_does_not_match_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = format!("blobs/sha256/{}", "ab".repeat(32));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, &fake, &b"wrong"[..]).unwrap();
    let archive = tmp.path().join("bad.tar");
    std::fs::write(&archive, b.into_inner().unwrap()).unwrap();
    let state = tempfile::tempdir().unwrap();
    let err = failed(&rrun_image(
        state.path(),
        &[],
        &["load", "-i", archive.to_str().unwrap()],
    ));
    assert!(
        err.contains(&"ab".repeat(32)) && err.contains("hashes to"),
        "{err}"
    );
    assert!(check_blobs(state.path()).is_empty());
}

#[test]
fn import_rootfs_tarball() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = Tar::new()
        .dir("etc", 0o755)
        .file("etc/os-release", b"ID=imported\n")
        .finish();
    let (gz, _) = compress(&rootfs, "gzip");
    let file = tmp.path().join("rootfs.tar.gz");
    std::fs::File::create(&file)
        .unwrap()
        .write_all(&gz)
        .unwrap();

    let state = tempfile::tempdir().unwrap();
    let out = ok(&rrun_image(
        state.path(),
        &[],
        &["import", file.to_str().unwrap(), "imported/os:1"],
    ));
    let info = inspect(state.path(), "imported/os:1");
    assert_eq!(info["Id"].as_str().unwrap(), out.trim());
    assert_eq!(info["Os"], "linux");
    assert_eq!(info["Architecture"], host_arch());
    assert_eq!(
        info["RootFS"]["Layers"],
        json!([format!("sha256:{}", sha256_hex(&rootfs))])
    );
    let snap = snapshot_with(state.path(), "etc/os-release").unwrap();
    assert_eq!(
        std::fs::read_to_string(snap.join("etc/os-release")).unwrap(),
        "ID=imported\n"
    );
    // And it saves/loads like any other image.
    let archive = tmp.path().join("imported.tar");
    ok(&rrun_image(
        state.path(),
        &[],
        &["save", "-o", archive.to_str().unwrap(), "imported/os:1"],
    ));
    let other = tempfile::tempdir().unwrap();
    ok(&rrun_image(
        other.path(),
        &[],
        &["load", "-i", archive.to_str().unwrap()],
    ));
    assert_eq!(inspect(other.path(), "imported/os:1")["Id"], info["Id"]);
}
