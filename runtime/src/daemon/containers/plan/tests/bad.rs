//! Bad input: each one clear error with Docker's status and message, and
//! the planner stopped there (nothing after the refused check was asked;
//! the lookups cannot make anything).

use super::*;

const BAD: StatusCode = StatusCode::BAD_REQUEST;
const NOT_FOUND: StatusCode = StatusCode::NOT_FOUND;

/// The questions a plan of `busybox` asks before its run options are
/// checked: the image, the default bridge, the log config.
fn up_to_options() -> Vec<String> {
    ["image busybox", "network bridge", "log config"]
        .map(String::from)
        .to_vec()
}

#[test]
fn a_duplicate_name_is_409_with_dockerds_text() {
    let (status, msg, asked) = refused(Some("/taken"), json!({}));
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        msg,
        "Conflict. The container name \"/taken\" is already in use by container \"abc123\". You have to remove (or rename) that container to be able to reuse that name."
    );
    // Refused before the mounts were planned.
    assert_eq!(asked.last().unwrap(), "name taken");
    assert!(
        !asked.iter().any(|q| q.starts_with("propagation")),
        "{asked:?}"
    );
}

#[test]
fn a_bad_name_is_400() {
    let (status, msg, _) = refused(Some("bad name"), json!({}));
    assert_eq!(status, BAD);
    assert_eq!(
        msg,
        "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
    );
    assert!("x".parse::<ContainerName>().is_err());
    assert!("_x".parse::<ContainerName>().is_err());
    assert_eq!(
        "a.b-c_d".parse::<ContainerName>().unwrap().as_str(),
        "a.b-c_d"
    );
    assert!(ContainerName::from_request(Some("/")).unwrap().is_none());
}

#[test]
fn bad_ports_and_ranges_are_400() {
    for (key, ip, port, want) in [
        ("80/tcp", "", "99999", "invalid hostPort: 99999"),
        ("80/tcp", "", "9010-9000", "invalid hostPort: 9010-9000"),
        ("80/tcp", "", "0-5", "invalid hostPort: 0-5"),
        ("80/tcp", "", "x", "invalid hostPort: x"),
        ("80/sctp", "", "1", "invalid proto: sctp"),
        ("0/tcp", "", "1", "invalid containerPort: 0"),
        ("http", "", "1", "invalid containerPort: http"),
        ("80/tcp", "nope", "1", "invalid IP address: nope"),
    ] {
        let hc = json!({"HostConfig": {"PortBindings": {key: [{"HostIp": ip, "HostPort": port}]}}});
        let (status, msg, asked) = refused(None, hc);
        assert_eq!((status, msg.as_str()), (BAD, want), "{key} {ip} {port}");
        assert_eq!(asked, ["image busybox", "network bridge"], "{key} {port}");
    }
}

#[test]
fn an_ipv6_host_address_needs_ipv6_on_the_network() {
    let hc = json!({"HostConfig": {"NetworkMode": "appnet",
        "PortBindings": {"80/tcp": [{"HostIp": "2001:db8::1", "HostPort": "8080"}]}}});
    let (status, msg, _) = refused(None, hc);
    assert_eq!(status, BAD);
    assert!(msg.contains("port 8080") && msg.contains("appnet"), "{msg}");
}

#[test]
fn an_unknown_network_is_404() {
    let hc = json!({"HostConfig": {"NetworkMode": "nosuch"}});
    let (status, msg, asked) = refused(None, hc);
    assert_eq!(
        (status, msg.as_str()),
        (NOT_FOUND, "network nosuch not found")
    );
    assert_eq!(asked, ["image busybox", "network nosuch"]);
    // A second network of EndpointsConfig, too.
    let hc = json!({"NetworkingConfig": {"EndpointsConfig": {"other": {}}}});
    let (status, msg, _) = refused(None, hc);
    assert_eq!(
        (status, msg.as_str()),
        (NOT_FOUND, "network other not found")
    );
}

#[test]
fn an_alias_or_address_on_the_default_bridge_is_400() {
    for (ep, want) in [
        (
            json!({"Aliases": ["web"]}),
            "network-scoped alias is supported only for containers in user defined networks",
        ),
        (
            json!({"IPAMConfig": {"IPv4Address": "172.17.0.9"}}),
            "user specified IP address is supported on user defined networks only",
        ),
    ] {
        let hc = json!({"NetworkingConfig": {"EndpointsConfig": {"bridge": ep}}});
        let (status, msg, asked) = refused(None, hc);
        assert_eq!((status, msg.as_str()), (BAD, want));
        assert_eq!(asked, ["image busybox", "network bridge"]);
    }
}

#[test]
fn bad_endpoint_settings_are_400() {
    let on_appnet = |ep: Value| {
        json!({"HostConfig": {"NetworkMode": "appnet"},
               "NetworkingConfig": {"EndpointsConfig": {"appnet": ep}}})
    };
    for (ep, want) in [
        (
            json!({"IPAMConfig": {"IPv4Address": "300.1.1.1"}}),
            "invalid IPv4 address: 300.1.1.1",
        ),
        (
            json!({"IPAMConfig": {"IPv6Address": "fd00:1::5"}}),
            "cannot assign fd00:1::5 (--ip6): network appnet has no IPv6 (create it with --ipv6)",
        ),
        (
            json!({"Aliases": [""]}),
            "invalid network alias \"\": an alias is a name without spaces",
        ),
        (
            json!({"Links": ["db:"]}),
            "invalid link \"db:\": use name or name:alias",
        ),
    ] {
        let (status, msg, _) = refused(None, on_appnet(ep.clone()));
        assert_eq!((status, msg.as_str()), (BAD, want), "{ep}");
    }
    let (status, msg, _) = refused(
        None,
        json!({"HostConfig": {"NetworkMode": "host"},
        "NetworkingConfig": {"EndpointsConfig": {"appnet": {}}}}),
    );
    assert_eq!(
        (status, msg.as_str()),
        (
            BAD,
            "container cannot be disconnected from host network or connected to host network"
        )
    );
    let (status, msg, _) = refused(None, json!({"HostConfig": {"Links": ["nobody:x"]}}));
    assert_eq!(
        (status, msg.as_str()),
        (
            NOT_FOUND,
            "could not get container for nobody: No such container: nobody"
        )
    );
    let (status, msg, _) = refused(
        None,
        json!({"HostConfig": {"NetworkMode": "container:nobody"}}),
    );
    assert_eq!(
        (status, msg.as_str()),
        (NOT_FOUND, "No such container: nobody")
    );
}

#[test]
fn a_bad_mount_is_refused_before_anything_is_made() {
    for (hc, status, want) in [
        (
            json!({"Binds": ["/a:/data", "/b:/data"]}),
            BAD,
            "Duplicate mount point: /data",
        ),
        (json!({"VolumesFrom": ["nobody"]}), NOT_FOUND, "No such container: nobody"),
        (json!({"Binds": ["../evil:/data"]}), BAD, "create ../evil: \"../evil\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"),
        (json!({"Binds": ["/srv:relative"]}), BAD, "invalid volume specification: '/srv:relative': invalid mount config for type \"bind\": invalid mount path: 'relative' mount path must be absolute"),
        (json!({"Mounts": [{"Type": "nope", "Target": "/x"}]}), BAD, "invalid value for type: nope"),
    ] {
        let (got, msg, asked) = refused(None, json!({"HostConfig": hc.clone()}));
        assert_eq!((got, msg.as_str()), (status, want), "{hc}");
        // The plan stopped at the mounts: their propagation was never asked.
        assert!(!asked.iter().any(|q| q.starts_with("propagation")), "{asked:?}");
    }
}

#[test]
fn a_bad_run_option_is_400_with_dockers_message() {
    for (hc, want) in [
        (json!({"CapAdd": ["NOPE"]}), "unknown capability: \"CAP_NOPE\""),
        (json!({"CapDrop": ["bogus"]}), "unknown capability: \"CAP_BOGUS\""),
        (
            json!({"Ulimits": [{"Name": "nofile", "Soft": 3, "Hard": 2}]}),
            "ulimit soft limit must be less than or equal to hard limit: 3 > 2",
        ),
        (
            json!({"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}),
            "invalid ulimit type: bogus",
        ),
        (json!({"Memory": 1024}), "Minimum memory limit allowed is 6MB"),
        (
            json!({"NanoCpus": -1_000_000_000i64}),
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
        ),
        (
            json!({"RestartPolicy": {"Name": "bogus"}}),
            "invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
        ),
        (json!({"PidMode": "bogus"}), "invalid PID mode: bogus"),
        (json!({"IpcMode": "weird"}), "invalid IPC mode: weird"),
        (json!({"ExtraHosts": ["nocolon"]}), "invalid --add-host \"nocolon\": expected name:ip or name:host-gateway"),
        (
            json!({"AutoRemove": true, "RestartPolicy": {"Name": "always"}}),
            "can't create 'AutoRemove' container with restart policy",
        ),
        (json!({"BlkioWeight": 2000}), "Range of blkio weight is from 10 to 1000"),
        (json!({"LogConfig": {"Type": "syslog"}}), "logging driver syslog is not supported by rrun yet: use json-file or local"),
    ] {
        let (status, msg, asked) = refused(None, json!({"HostConfig": hc.clone()}));
        assert_eq!((status, msg.as_str()), (BAD, want), "{hc}");
        assert_eq!(asked, up_to_options(), "{hc}");
    }
}

#[test]
fn a_device_that_is_not_there_is_named() {
    let hc = json!({"HostConfig": {"BlkioDeviceWriteIOps": [{"Path": "/dev/nope", "Rate": 5}]}});
    let (status, msg, asked) = refused(None, hc);
    assert_eq!(
        (status, msg.as_str()),
        (
            BAD,
            "--device-write-iops /dev/nope: No such file or directory"
        )
    );
    let mut want = up_to_options();
    want.push("block device /dev/nope".into());
    assert_eq!(asked, want);
}

#[test]
fn a_missing_image_or_command_is_refused() {
    let (status, msg, asked) = refused(None, json!({"Image": "nosuch"}));
    assert_eq!((status, msg.as_str()), (NOT_FOUND, "No such image: nosuch"));
    assert_eq!(asked, ["image nosuch"]);
    let (status, msg, asked) = refused(None, json!({"Image": ""}));
    assert_eq!(
        (status, msg.as_str()),
        (BAD, "config cannot be empty in order to create a container")
    );
    assert!(asked.is_empty());
    let (status, msg, _) = refused(None, json!({"Image": "nocmd"}));
    assert_eq!((status, msg.as_str()), (BAD, "no command specified"));
}

#[test]
fn checked_values_cannot_be_made_bad() {
    use crate::daemon::containers::ports::{PortKey, PortRange, Protocol};
    assert!(PortRange::new(0, 1).is_none() && PortRange::new(5, 4).is_none());
    assert_eq!(PortRange::new(9000, 9010).unwrap().to_string(), "9000-9010");
    assert_eq!("53/UDP".parse::<PortKey>().unwrap().to_string(), "53/udp");
    assert_eq!("tcp".parse::<Protocol>(), Ok(Protocol::Tcp));
    assert!("a b".parse::<Alias>().is_err());
    assert!(runopts::Rlimit::new("nofile", 5, -1).is_ok());
    assert!(runopts::Rlimit::new("nofile", 5, 4).is_err());
}
