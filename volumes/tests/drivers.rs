//! Root tests of the `local` driver's mounted volumes: a tmpfs volume and a
//! named bind of a host directory, mounted by the first user and unmounted
//! when the last one stops.

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::{map, mount_at, require_root, unique, TestDir};
use volumes::copyup::CopyOutcome;
use volumes::{CreateRequest, StoreError, VolumeStore};

#[test]
fn tmpfs_volume_is_mounted_while_used() {
    require_root();
    let dir = TestDir::new();
    let store = VolumeStore::open(dir.volumes()).unwrap();
    let name = unique("scratch");
    let opts = map(&[
        ("type", "tmpfs"),
        ("device", "tmpfs"),
        ("o", "size=1m,uid=1000,noexec"),
    ]);
    store
        .create(&CreateRequest {
            name: Some(name.clone()),
            driver_opts: opts,
            ..Default::default()
        })
        .unwrap();
    let data = store.data_path(&name);
    assert!(mount_at(&data).is_none(), "nothing is mounted before use");

    let path = store.acquire(&name, "c1").unwrap();
    assert_eq!(path, data);
    let m = mount_at(&data).expect("mounted by the first user");
    assert_eq!(m.fstype, "tmpfs");
    assert!(
        m.super_options.contains("size=1024k"),
        "{}",
        m.super_options
    );
    assert!(m.super_options.contains("uid=1000"), "{}", m.super_options);
    fs::write(data.join("f"), b"in memory").unwrap();

    // A second user shares the same mount.
    store.acquire(&name, "c2").unwrap();
    let mounts = common::mountinfo()
        .into_iter()
        .filter(|m| m.mount_point == data)
        .count();
    assert_eq!(mounts, 1, "one mount for two users");
    store.release(&name, "c1").unwrap();
    assert!(mount_at(&data).is_some(), "still used by c2");
    assert_eq!(fs::read(data.join("f")).unwrap(), b"in memory");

    // A restarted daemon sees the use and the mount.
    let reopened = VolumeStore::open(dir.volumes()).unwrap();
    assert_eq!(reopened.users(&name).unwrap(), ["c2"]);
    let err = reopened.remove(&name, true).unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    reopened.release(&name, "c2").unwrap();
    assert!(
        mount_at(&data).is_none(),
        "unmounted when the last user stops"
    );
    assert!(!data.join("f").exists(), "a tmpfs forgets");

    // Copy-up lands in the tmpfs when done after acquire.
    let rootfs = dir.path().join("rootfs");
    fs::create_dir_all(rootfs.join("cache")).unwrap();
    fs::write(rootfs.join("cache/seed"), b"seed").unwrap();
    store.acquire(&name, "c3").unwrap();
    assert_eq!(
        store.copy_up(&name, &rootfs, "/cache").unwrap(),
        CopyOutcome::Copied
    );
    assert_eq!(fs::read(data.join("seed")).unwrap(), b"seed");
    store.release(&name, "c3").unwrap();
    assert!(!data.join("seed").exists());
    reopened.remove(&name, false).unwrap();
}

#[test]
fn named_bind_of_a_host_directory() {
    require_root();
    let dir = TestDir::new();
    let host = dir.path().join("srv/data");
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("hello"), b"from the host").unwrap();
    let store = VolumeStore::open(dir.volumes()).unwrap();
    let name = unique("hostdata");
    let opts = map(&[
        ("type", "none"),
        ("o", "bind"),
        ("device", host.to_str().unwrap()),
    ]);
    store
        .create(&CreateRequest {
            name: Some(name.clone()),
            driver_opts: opts,
            ..Default::default()
        })
        .unwrap();
    let v = store.get(&name).unwrap();
    assert_eq!(v.options.get("device").map(String::as_str), host.to_str());

    let data = store.acquire(&name, "web").unwrap();
    assert_eq!(fs::read(data.join("hello")).unwrap(), b"from the host");
    fs::write(data.join("written"), b"through the volume").unwrap();
    assert_eq!(
        fs::read(host.join("written")).unwrap(),
        b"through the volume"
    );
    store.release(&name, "web").unwrap();
    assert!(mount_at(&data).is_none());
    assert!(
        !data.join("hello").exists(),
        "unmounted: the volume shows its own empty dir"
    );

    // A crash left it mounted and marked used; reconciliation cleans up and
    // removing the volume never deletes the host's files.
    store.acquire(&name, "crashed").unwrap();
    assert!(mount_at(&data).is_some());
    let after_restart = VolumeStore::open(dir.volumes()).unwrap();
    after_restart.reconcile(&BTreeSet::new()).unwrap();
    assert!(mount_at(&data).is_none());
    after_restart.remove(&name, false).unwrap();
    assert_eq!(fs::read(host.join("hello")).unwrap(), b"from the host");
    assert_eq!(
        fs::read(host.join("written")).unwrap(),
        b"through the volume"
    );
}

#[test]
fn removing_an_unused_but_still_mounted_bind_volume_keeps_host_files() {
    require_root();
    let dir = TestDir::new();
    let host = dir.path().join("precious");
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("keep"), b"k").unwrap();
    let store = VolumeStore::open(dir.volumes()).unwrap();
    let name = unique("precious");
    let opts = map(&[
        ("type", "none"),
        ("o", "bind,ro"),
        ("device", host.to_str().unwrap()),
    ]);
    store
        .create(&CreateRequest {
            name: Some(name.clone()),
            driver_opts: opts,
            ..Default::default()
        })
        .unwrap();
    let data = store.acquire(&name, "c").unwrap();
    assert!(
        fs::write(data.join("nope"), b"x").is_err(),
        "o=bind,ro is read-only"
    );
    // Simulate a crash between "forget the user" and "unmount": mark it
    // unused by hand; the volume is still mounted.
    fs::write(
        dir.volumes().join(name.as_str()).join("users.json"),
        br#"{"containers":[]}"#,
    )
    .unwrap();
    assert!(mount_at(&data).is_some());
    store.remove(&name, false).unwrap();
    assert!(mount_at(&data).is_none());
    assert_eq!(fs::read(host.join("keep")).unwrap(), b"k");
}

#[test]
fn a_failed_mount_does_not_leave_the_volume_looking_used() {
    require_root();
    let dir = TestDir::new();
    let store = VolumeStore::open(dir.volumes()).unwrap();
    let name = unique("gone");
    let missing = dir.path().join("not-there");
    let opts = map(&[
        ("type", "none"),
        ("o", "bind"),
        ("device", missing.to_str().unwrap()),
    ]);
    store
        .create(&CreateRequest {
            name: Some(name.clone()),
            driver_opts: opts,
            ..Default::default()
        })
        .unwrap();
    let err = store.acquire(&name, "c").unwrap_err();
    assert!(err.to_string().contains("not-there"), "{err}");
    assert!(store.users(&name).unwrap().is_empty());
    store.remove(&name, false).unwrap();
}
