//! Root tests of a container's whole volume life: plan the mounts from
//! Docker flags, attach (create, use, copy up), detach, `rm -v`.

mod common;

use std::fs;
use std::path::Path;

use common::{require_root, unique, TestDir};
use volumes::attach::AttachError;
use volumes::mountspec::{parse_mount_flag, parse_volume_flag, parse_volumes_from};
use volumes::plan::{plan_mounts, to_oci_mounts, MountRequest, PlannedMount};
use volumes::{VolumeName, VolumeStore};

fn image_rootfs(root: &Path) {
    for (dir, file) in [
        ("var/lib/mysql", "ibdata1"),
        ("etc/mysql", "my.cnf"),
        ("logs", "boot.log"),
    ] {
        fs::create_dir_all(root.join(dir)).unwrap();
        fs::write(root.join(dir).join(file), file).unwrap();
    }
}

fn no_containers(_: &str) -> Option<Vec<PlannedMount>> {
    None
}

#[test]
fn container_volume_lifecycle() {
    require_root();
    let dir = TestDir::new();
    let rootfs = dir.path().join("rootfs");
    image_rootfs(&rootfs);
    let store = VolumeStore::open(dir.volumes()).unwrap();
    let (db, conf) = (unique("todo-mysql-data"), unique("conf"));
    let host = dir.path().join("host/new/dir");

    let request = MountRequest {
        specs: vec![
            parse_volume_flag(&format!("{db}:/var/lib/mysql")).unwrap(),
            parse_volume_flag(&format!("{conf}:/etc/mysql:nocopy")).unwrap(),
            parse_volume_flag(&format!("{}:/host", host.display())).unwrap(),
        ],
        image_volumes: vec!["/logs".into(), "/var/lib/mysql".into()],
        volumes_from: vec![],
    };
    let plan = plan_mounts(&request, no_containers, VolumeName::random).unwrap();
    store.attach("ctr1", &plan, Some(&rootfs)).unwrap();

    let data = |n: &VolumeName| store.data_path(n);
    assert_eq!(
        fs::read(data(&db).join("ibdata1")).unwrap(),
        b"ibdata1",
        "copied up"
    );
    assert_eq!(
        fs::read_dir(data(&conf)).unwrap().count(),
        0,
        "nocopy: left empty"
    );
    assert!(host.is_dir(), "-v creates a missing host directory");
    let logs = plan
        .iter()
        .find(|m| m.destination == "/logs")
        .unwrap()
        .volume()
        .unwrap()
        .clone();
    assert_eq!(logs.as_str().len(), 64);
    assert!(store.get(&logs).unwrap().is_anonymous());
    assert_eq!(fs::read(data(&logs).join("boot.log")).unwrap(), b"boot.log");
    for v in [&db, &conf, &logs] {
        assert_eq!(store.users(v).unwrap(), ["ctr1"]);
    }
    let oci = to_oci_mounts(&plan, |n| store.data_path(n));
    let m = oci
        .iter()
        .find(|m| m.destination() == Path::new("/var/lib/mysql"))
        .unwrap();
    assert_eq!(m.source().as_deref(), Some(data(&db).as_path()));

    // The container writes, stops and is removed with `rm -v`.
    fs::write(data(&db).join("todo.ibd"), b"my todos").unwrap();
    assert!(store.detach("ctr1", &plan).is_empty());
    for v in [&db, &conf, &logs] {
        assert!(store.users(v).unwrap().is_empty());
    }
    let (removed, errors) = store.remove_anonymous(&plan);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(removed, std::slice::from_ref(&logs));
    assert!(
        store.get(&db).is_ok() && store.get(&conf).is_ok(),
        "named volumes stay"
    );

    // The next container with the same volume finds the data, and its
    // image content is not copied over it again.
    fs::write(rootfs.join("var/lib/mysql/ibdata1"), b"fresh image").unwrap();
    let request = MountRequest {
        specs: vec![parse_volume_flag(&format!("{db}:/var/lib/mysql")).unwrap()],
        ..Default::default()
    };
    let plan2 = plan_mounts(&request, no_containers, VolumeName::random).unwrap();
    store.attach("ctr2", &plan2, Some(&rootfs)).unwrap();
    assert_eq!(fs::read(data(&db).join("todo.ibd")).unwrap(), b"my todos");
    assert_eq!(fs::read(data(&db).join("ibdata1")).unwrap(), b"ibdata1");

    // --volumes-from ctr2:ro shares the same volume read-only.
    let donor = plan2.clone();
    let request = MountRequest {
        volumes_from: vec![parse_volumes_from("ctr2:ro").unwrap()],
        ..Default::default()
    };
    let plan3 = plan_mounts(
        &request,
        |c| (c == "ctr2").then(|| donor.clone()),
        VolumeName::random,
    )
    .unwrap();
    store.attach("ctr3", &plan3, None).unwrap();
    assert_eq!(store.users(&db).unwrap(), ["ctr2", "ctr3"]);
    let oci = to_oci_mounts(&plan3, |n| store.data_path(n));
    assert!(oci[0]
        .options()
        .as_ref()
        .unwrap()
        .contains(&"ro".to_string()));
    assert!(store.remove(&db, true).is_err(), "in use");
    assert!(store.detach("ctr2", &plan2).is_empty());
    assert!(store.detach("ctr3", &plan3).is_empty());
    store.remove(&db, false).unwrap();
}

#[test]
fn a_failed_attach_undoes_everything() {
    require_root();
    let dir = TestDir::new();
    let rootfs = dir.path().join("rootfs");
    image_rootfs(&rootfs);
    let store = VolumeStore::open(dir.volumes()).unwrap();
    let (good, bad) = (unique("good"), unique("bad"));
    let existing = unique("existing");
    store.ensure(&existing).unwrap();

    // A missing --mount bind source fails before anything is made.
    let missing = dir.path().join("missing");
    let request = MountRequest {
        specs: vec![
            parse_volume_flag(&format!("{good}:/a")).unwrap(),
            parse_mount_flag(&format!("type=bind,src={},dst=/m", missing.display())).unwrap(),
        ],
        ..Default::default()
    };
    let plan = plan_mounts(&request, no_containers, VolumeName::random).unwrap();
    let err = store.attach("c", &plan, Some(&rootfs)).unwrap_err();
    assert!(matches!(err, AttachError::BindSourceMissing(_)));
    assert_eq!(
        err.to_string(),
        format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {}",
            missing.display()
        )
    );
    assert!(store.get(&good).is_err(), "nothing created");

    // A volume that cannot be created after two that could: both released,
    // the one created for this container removed, the old one kept.
    let request = MountRequest {
        specs: vec![
            parse_volume_flag(&format!("{existing}:/e")).unwrap(),
            parse_volume_flag(&format!("{good}:/var/lib/mysql")).unwrap(),
            parse_mount_flag(&format!("src={bad},dst=/z/y/x/w,volume-driver=nfs")).unwrap(),
        ],
        ..Default::default()
    };
    let plan = plan_mounts(&request, no_containers, VolumeName::random).unwrap();
    assert_eq!(
        plan.last().unwrap().volume(),
        Some(&bad),
        "the bad one comes last"
    );
    let err = store.attach("c", &plan, Some(&rootfs)).unwrap_err();
    assert!(
        err.to_string().contains("\"nfs\" is not supported"),
        "{err}"
    );
    assert!(
        store.get(&existing).is_ok(),
        "a volume that existed before is kept"
    );
    assert!(store.users(&existing).unwrap().is_empty());
    assert!(
        store.get(&good).is_err(),
        "created by the failed attach: removed"
    );
    assert!(store.get(&bad).is_err());
}
