//! Each kind of failure → the status dockerd answers, and the text that
//! goes with it on the wire.

use std::path::PathBuf;

use axum::http::StatusCode;

use super::*;

fn wire(e: impl Into<ApiError>) -> (u16, String) {
    let e = e.into();
    (e.status.as_u16(), e.message)
}

fn s(x: &str) -> String {
    x.to_string()
}

/// Each error goes on the wire with its status and its own text.
fn check<E: Into<ApiError> + std::fmt::Display>(cases: Vec<(E, u16)>) {
    for (e, want) in cases {
        let shown = e.to_string();
        assert_eq!(wire(e), (want, shown));
    }
}

#[test]
fn container_lookups_and_conflicts_have_dockerds_statuses() {
    use ContainerError::*;
    let id = || s("abc");
    check(vec![
        (NoSuchContainer(id()), 404),
        (AmbiguousPrefix(id()), 404),
        (NoSuchLinkTarget(id()), 404),
        (
            NoSuchLinkParent {
                parent: id(),
                alias: s("db"),
            },
            404,
        ),
        (
            NoSuchLink {
                parent: id(),
                alias: s("db"),
            },
            404,
        ),
        (
            NoSuchPath {
                path: s("/x"),
                id: id(),
            },
            404,
        ),
        (
            NameInUse {
                name: s("web"),
                holder: id(),
            },
            409,
        ),
        (NotRunning(id()), 409),
        (
            KillNotRunning {
                name: s("web"),
                id: id(),
            },
            409,
        ),
        (AlreadyPaused(id()), 409),
        (NotPaused(id()), 409),
        (RemoveRunning(id()), 409),
        (RemoveRestarting(id()), 409),
        (
            JoinNotRunning {
                what: "PID namespace",
                id: id(),
            },
            409,
        ),
        (IpcNotShareable(id()), 409),
        (LinkNotRunning(id()), 409),
        (DefaultLink, 409),
    ]);
}

#[test]
fn container_bad_input_and_host_failures_have_dockerds_statuses() {
    use ContainerError::*;
    let id = || s("abc");
    check(vec![
        (InvalidName(s("a b")), 400),
        (EmptyName, 400),
        (SameName, 400),
        (
            InvalidUpdate {
                id: id(),
                reason: s("no"),
            },
            400,
        ),
        (NotADirectory, 400),
        (ReadOnlyRootfs, 400),
        (ReadOnlyVolume(s("/data")), 400),
        (
            Refused(s("exec: \"nope\": executable file not found in $PATH")),
            400,
        ),
        (InvalidOption(s("bad")), 400),
        (LogsUnreadable, 501),
        (
            UpdateFailed {
                id: id(),
                reason: s("cgroup"),
            },
            500,
        ),
        (
            PauseFailed {
                id: id(),
                reason: s("freezer"),
            },
            500,
        ),
        (
            UnpauseFailed {
                id: id(),
                reason: s("freezer"),
            },
            500,
        ),
        (
            PortAllocated {
                endpoint: s("web"),
                address: s("0.0.0.0:80"),
            },
            500,
        ),
        (Internal(s("disk full")), 500),
    ]);
}

#[test]
fn container_texts_are_dockers() {
    let e = ContainerError::NameInUse {
        name: s("web"),
        holder: s("0123"),
    };
    assert_eq!(
        e.to_string(),
        "Conflict. The container name \"/web\" is already in use by container \"0123\". You have to remove (or rename) that container to be able to reuse that name."
    );
    assert_eq!(
        ContainerError::KillNotRunning {
            name: s("web"),
            id: s("0123")
        }
        .to_string(),
        "Cannot kill container: web: Container 0123 is not running"
    );
    assert_eq!(
        ContainerError::NoSuchContainer(s("nope")).to_string(),
        "No such container: nope"
    );
}

#[test]
fn network_kinds_have_dockerds_statuses() {
    use NetworkError::*;
    check(vec![
        (NoSuchNetwork(s("n")), 404),
        (NameInUse(s("n")), 409),
        (NoSuchPlugin(s("macvlan")), 400),
        (Ipv6Only, 400),
        (SharedNamespace, 400),
        (InvalidOption(s("bad subnet")), 400),
        (Predefined(s("bridge")), 403),
        (
            EndpointExists {
                container: s("c"),
                network: s("n"),
            },
            403,
        ),
        (
            NotConnected {
                container: s("c"),
                network: s("n"),
            },
            403,
        ),
        (Internal(s("netlink")), 500),
    ]);
}

#[test]
fn netd_errors_map_by_kind() {
    use netd::store::StoreError;
    let cases: Vec<(NetdError, u16, &str)> = vec![
        (
            NetdError::Store(StoreError::NotFound(s("n"))),
            404,
            "network n not found",
        ),
        (
            NetdError::Exists(s("n")),
            409,
            "network with name n already exists",
        ),
        (
            NetdError::InUse {
                network: s("n"),
                containers: s("c"),
            },
            409,
            "network n has active endpoints (c); disconnect them first",
        ),
        (
            NetdError::AlreadyConnected {
                container: s("c"),
                network: s("n"),
            },
            409,
            "container c is already connected to network n",
        ),
        (
            NetdError::NotConnected {
                container: s("c"),
                network: s("n"),
            },
            400,
            "container c is not connected to network n",
        ),
        (
            NetdError::Protocol(s("sctp")),
            400,
            "protocol \"sctp\" is not supported; use tcp or udp",
        ),
        (
            NetdError::Io(std::io::Error::other("gone")),
            500,
            "network namespace: gone",
        ),
    ];
    for (e, status, text) in cases {
        assert_eq!(wire(NetworkError::from(e)), (status, s(text)));
    }
    // The same failure through a container's start or connect.
    let e = ContainerError::from(NetdError::Exists(s("n")));
    assert_eq!(e.status(), StatusCode::CONFLICT);
}

#[test]
fn volume_kinds_have_dockerds_statuses() {
    use volumes::store::StoreError;
    let name = || volumes::VolumeName::try_from("data").unwrap();
    check(vec![
        (VolumeError::NoSuchVolume(s("data")), 404),
        (VolumeError::InvalidOption(s("bad")), 400),
        (volumes::mountspec::SpecError::TargetRequired.into(), 400),
        (StoreError::NotFound(name()).into(), 404),
        (
            StoreError::InUse {
                name: name(),
                containers: vec![s("c")],
            }
            .into(),
            409,
        ),
        (StoreError::Conflict(name()).into(), 409),
        (StoreError::ContainerId(s("x/y")).into(), 400),
        (
            StoreError::Corrupt {
                path: PathBuf::from("/v"),
                reason: s("eof"),
            }
            .into(),
            500,
        ),
        (PlanError::NoSuchContainer(s("c")).into(), 404),
        (PlanError::DuplicateMountPoint(s("/d")).into(), 400),
    ]);
    assert_eq!(
        VolumeError::NoSuchVolume(s("data")).to_string(),
        "get data: no such volume"
    );
}

/// A volume that cannot be attached answers the same at create and at
/// start: by its kind (the 400-at-create, 500-at-start).
#[test]
fn volume_attach_failures_map_by_kind() {
    let missing = AttachError::BindSourceMissing(PathBuf::from("/nope"));
    assert_eq!(
        wire(ContainerError::from(missing)),
        (
            400,
            s("invalid mount config for type \"bind\": bind source path does not exist: /nope")
        )
    );
    let io = AttachError::CreateBindSource {
        path: PathBuf::from("/x"),
        source: std::io::Error::other("read-only file system"),
    };
    assert_eq!(
        ContainerError::from(io).status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let in_use = AttachError::Store {
        error: volumes::store::StoreError::Conflict(volumes::VolumeName::try_from("data").unwrap()),
        cleanup: vec![],
    };
    assert_eq!(VolumeError::from(in_use).status(), StatusCode::CONFLICT);
}

#[test]
fn image_kinds_have_dockerds_statuses() {
    use ImageError::*;
    check(vec![
        (NoSuchImage(s("busybox")), 404),
        (
            InvalidReference {
                reference: s("UPPER"),
                reason: s("repository name must be lowercase"),
            },
            400,
        ),
        (InvalidOption(s("bad change")), 400),
        (LoginRefused(s("https://r.example")), 401),
        (
            RegistryDenied(s("unauthorized: authentication required")),
            401,
        ),
        (NoSuchManifest(s("r.example/a:1")), 404),
        (
            CommitPause {
                id: s("c"),
                reason: s("freezer"),
            },
            500,
        ),
        (
            Commit {
                id: s("c"),
                reason: s("disk full"),
            },
            500,
        ),
        (Internal(s("io")), 500),
        (
            StoreImageError::Conflict {
                id: s("sha"),
                hard: false,
                reason: s("image is being used by stopped container c"),
            }
            .into(),
            409,
        ),
        (
            StoreImageError::ReferenceInUse {
                reference: s("a:b"),
                container: s("c"),
                id: s("i"),
            }
            .into(),
            409,
        ),
    ]);
    assert_eq!(
        wire(ImageError::from(StoreImageError::NoSuchImage(s("x")))),
        (404, s("No such image: x"))
    );
}

#[test]
fn exec_kinds_have_dockerds_statuses() {
    use ExecError::*;
    check(vec![
        (NoSuchExec(s("e")), 404),
        (ContainerPaused(s("c")), 409),
        (AlreadyRunning(s("e")), 409),
        (AlreadyRan(s("e")), 409),
        (NoCommand, 400),
        (InvalidOption(s("bad detach keys")), 400),
        (ContainerError::NotRunning(s("c")).into(), 409),
        (ContainerError::NoSuchContainer(s("c")).into(), 404),
        (Internal(s("timeout waiting for exec session ready")), 500),
    ]);
}

#[test]
fn filter_errors_keep_their_status_in_every_service() {
    let nosuch = || FilterError::NoSuch {
        kind: "container",
        name: s("x"),
    };
    let bad = || FilterError::UnknownKey(s("color"));
    assert_eq!(wire(nosuch()).0, 404);
    assert_eq!(wire(bad()).0, 400);
    assert_eq!(
        ContainerError::from(nosuch()).status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(NetworkError::from(bad()).status(), StatusCode::BAD_REQUEST);
    assert_eq!(ImageError::from(bad()).status(), StatusCode::BAD_REQUEST);
}

/// An error of the create planner (still an [`ApiError`]) keeps its status
/// and text through a service's enum.
#[test]
fn planning_errors_pass_through() {
    let e = ContainerError::from(ApiError::conflict("name taken"));
    assert_eq!(wire(e), (409, s("name taken")));
    let e = ExecError::from(ContainerError::from(ApiError::bad("bad port")));
    assert_eq!(wire(e), (400, s("bad port")));
}
