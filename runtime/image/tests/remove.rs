//! `docker rmi` semantics of `images::remove` and `images::garbage_collect`
//! when the daemon says which containers use an image: untag versus delete,
//! Docker's conflict messages, force, and prune keeping what containers use.

mod common;

use std::io::Write;
use std::path::Path;

use common::*;
use rrun_image::images::{self, ImageError, ImageUser, Removed};
use rrun_image::{Digest, Reference, Store};

const STOPPED: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const RUNNING: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

/// A store holding one imported image named `a/x:1`; returns its id.
fn store_with_image(state: &Path) -> (Store, Digest) {
    let rootfs = Tar::new()
        .dir("etc", 0o755)
        .file("etc/os-release", b"ID=rm-test\n")
        .finish();
    let (gz, _) = compress(&rootfs, "gzip");
    let file = state.join("rootfs.tar.gz");
    std::fs::File::create(&file)
        .unwrap()
        .write_all(&gz)
        .unwrap();
    let store = Store::open(state.join("root")).unwrap();
    let id =
        rrun_image::archive::import(&store, &file, &Reference::parse("a/x:1").unwrap()).unwrap();
    (store, id)
}

fn used_by(id: &Digest, container: &str, running: bool) -> impl Fn(&Digest) -> Vec<ImageUser> {
    let id = id.clone();
    let container = container.to_string();
    move |d: &Digest| {
        if *d == id {
            vec![ImageUser {
                container: container.clone(),
                running,
            }]
        } else {
            Vec::new()
        }
    }
}

fn short(id: &Digest) -> String {
    id.hex()[..12].to_string()
}

fn snapshots(store: &Store) -> usize {
    std::fs::read_dir(store.snapshots_dir()).unwrap().count()
}

fn untagged(names: &[&str]) -> Vec<Removed> {
    names
        .iter()
        .map(|n| Removed::Untagged(n.to_string()))
        .collect()
}

#[test]
fn untag_versus_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, id) = store_with_image(tmp.path());
    images::tag(&store, "a/x:1", "a/x:2").unwrap();
    images::tag(&store, "a/x:1", "b/y:latest").unwrap();

    // One of several names: untag only.
    let r = images::remove(&store, "a/x:1", false, &images::no_containers).unwrap();
    assert_eq!(r, untagged(&["a/x:1"]));
    assert_eq!(images::find_image(&store, "a/x:2").unwrap().id, id);

    // By id with names in two repositories: must be forced.
    let err = images::remove(&store, &id.to_string(), false, &images::no_containers)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
            short(&id)
        )
    );
    assert_eq!(images::list_images(&store).unwrap().len(), 1);

    // By the last name: untag and delete, content and all.
    images::remove(&store, "b/y", false, &images::no_containers).unwrap();
    let r = images::remove(&store, "a/x:2", false, &images::no_containers).unwrap();
    let mut want = untagged(&["a/x:2"]);
    want.push(Removed::Deleted(id.clone()));
    assert_eq!(r, want);
    assert!(images::list_images(&store).unwrap().is_empty());
    assert!(store.list_blobs().unwrap().is_empty());
    assert_eq!(snapshots(&store), 0);
}

#[test]
fn forced_removal_by_id_untags_every_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, id) = store_with_image(tmp.path());
    images::tag(&store, "a/x:1", "b/y:2").unwrap();
    let r = images::remove(&store, &short(&id), true, &images::no_containers).unwrap();
    let mut want = untagged(&["a/x:1", "b/y:2"]);
    want.push(Removed::Deleted(id.clone()));
    assert_eq!(r, want);
    assert!(store.list_blobs().unwrap().is_empty());
}

#[test]
fn stopped_container_refuses_removal_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, id) = store_with_image(tmp.path());
    let in_use = used_by(&id, STOPPED, false);

    let err = images::remove(&store, "a/x:1", false, &in_use).unwrap_err();
    assert!(matches!(err, ImageError::ReferenceInUse { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "conflict: unable to remove repository reference \"a/x:1\" (must force) - container {} is using its referenced image {}",
            &STOPPED[..12],
            short(&id)
        )
    );
    let err = images::remove(&store, &id.to_string(), false, &in_use)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
            short(&id),
            &STOPPED[..12]
        )
    );
    // Nothing changed.
    assert_eq!(images::find_image(&store, "a/x:1").unwrap().id, id);

    // Forced: the image is deleted, but the container's content stays.
    let r = images::remove(&store, &short(&id), true, &in_use).unwrap();
    let mut want = untagged(&["a/x:1"]);
    want.push(Removed::Deleted(id.clone()));
    assert_eq!(r, want);
    assert!(images::list_images(&store).unwrap().is_empty());
    assert!(snapshots(&store) > 0);
    let img = images::find_any_image(&store, &id.to_string()).unwrap();
    assert!(img.refs.is_empty());
    assert!(store.has_blob(&img.manifest.layers[0].digest));

    // Prune keeps it while the container exists, not after.
    let r = images::garbage_collect(&store, &in_use).unwrap();
    assert!(r.blobs.is_empty() && r.snapshots.is_empty(), "{r:?}");
    let r = images::garbage_collect(&store, &images::no_containers).unwrap();
    assert_eq!(r.blobs.len(), 3, "manifest, config, layer: {r:?}");
    assert_eq!(snapshots(&store), 0);
}

#[test]
fn running_container_cannot_be_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, id) = store_with_image(tmp.path());
    let in_use = used_by(&id, RUNNING, true);
    let hard = format!(
        "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
        short(&id),
        &RUNNING[..12]
    );
    for force in [false, true] {
        let err = images::remove(&store, &id.to_string(), force, &in_use).unwrap_err();
        assert!(matches!(err, ImageError::Conflict { hard: true, .. }));
        assert_eq!(err.to_string(), hard);
    }
    // Without force the last name is kept too.
    let err = images::remove(&store, "a/x:1", false, &in_use).unwrap_err();
    assert!(matches!(err, ImageError::ReferenceInUse { .. }), "{err}");

    // Forced by name: untagged, the image stays (dangling) for its container.
    let r = images::remove(&store, "a/x:1", true, &in_use).unwrap();
    assert_eq!(r, untagged(&["a/x:1"]));
    assert!(images::list_images(&store).unwrap().is_empty());
    let err = images::remove(&store, &short(&id), true, &in_use).unwrap_err();
    assert_eq!(err.to_string(), hard);
    images::garbage_collect(&store, &in_use).unwrap();
    assert_eq!(images::find_any_image(&store, &short(&id)).unwrap().id, id);

    // Once the container is gone, a dangling image is removed by id.
    let r = images::remove(&store, &short(&id), false, &images::no_containers).unwrap();
    assert_eq!(r, vec![Removed::Deleted(id.clone())]);
    assert!(store.list_blobs().unwrap().is_empty());
    assert!(matches!(
        images::find_any_image(&store, &short(&id)),
        Err(ImageError::NoSuchImage(_))
    ));
}

#[test]
fn a_container_on_another_image_does_not_matter() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, id) = store_with_image(tmp.path());
    let other = Digest::sha256_of(b"another image");
    let in_use = used_by(&other, RUNNING, true);
    let r = images::remove(&store, "a/x:1", false, &in_use).unwrap();
    let mut want = untagged(&["a/x:1"]);
    want.push(Removed::Deleted(id));
    assert_eq!(r, want);
}
