//! The option combinations the end-to-end tests create and run with.

use super::*;
use std::net::IpAddr;

/// (host ip, host ports, container port, protocol).
type Port = (Option<IpAddr>, Option<(u16, u16)>, u16, &'static str);

fn ports(p: &ContainerPlan) -> Vec<Port> {
    p.ports()
        .iter()
        .map(|w| {
            let range = w.host_ports().map(|r| (r.start(), r.end()));
            (
                w.host_ip(),
                range,
                w.container_port(),
                w.protocol().as_str(),
            )
        })
        .collect()
}

#[test]
fn a_bare_run_is_a_created_record_on_the_default_bridge() {
    let p = ok(None, json!({}));
    let c = p.record();
    assert_eq!((c.path.as_str(), c.args.len()), ("sh", 0));
    assert_eq!(c.state.status, "created");
    assert_eq!(c.host_config.network_mode, "bridge");
    assert_eq!(c.config.hostname, c.id[..12]);
    assert_eq!(c.host_config.run.cgroupns_mode, "private");
    assert_eq!(c.host_config.run.shm_size, runopts::DEFAULT_SHM_SIZE);
    assert_eq!(c.name, "");
    assert!(p.name().is_none());
    let nets: Vec<&str> = p
        .networks()
        .iter()
        .map(|n| n.network().name.as_str())
        .collect();
    assert_eq!(nets, ["bridge"]);
    assert_eq!(c.networks[0].name, "bridge");
    assert!(p.ports().is_empty() && p.mounts().is_empty() && p.warnings().is_empty());
    assert_eq!(p.limits().memory(), None);
    // The image's EXPOSE is the container's.
    assert!(c.config.exposed_ports.contains_key("80/tcp"));
}

#[test]
fn a_name_is_kept_without_its_slash_and_checked_against_the_index() {
    let fake = Fake::new();
    let p = plan(Some("/web1"), body(json!({})), &fake, &facts()).unwrap();
    assert_eq!(p.name().map(ContainerName::as_str), Some("web1"));
    assert_eq!(p.record().name, "web1");
    assert!(fake.asked().contains(&"name web1".to_string()));
}

#[test]
fn publish_forms() {
    let binding = |ip: &str, port: &str| json!([{"HostIp": ip, "HostPort": port}]);
    let p = ok(
        None,
        json!({"HostConfig": {"NetworkMode": "v6net", "PortBindings": {
            "80/tcp": binding("", "18080"),
            "81/tcp": binding("127.0.0.1", ""),
            "82/tcp": binding("127.0.0.1", "18081"),
            "83/udp": binding("[::]", "18082"),
            "84/tcp": binding("", "9000-9010"),
            "85/tcp": [],
        }}}),
    );
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(
        ports(&p),
        [
            (None, Some((18080, 18080)), 80, "tcp"),
            (Some(lo), None, 81, "tcp"),
            (Some(lo), Some((18081, 18081)), 82, "tcp"),
            (Some("::".parse().unwrap()), Some((18082, 18082)), 83, "udp"),
            (None, Some((9000, 9010)), 84, "tcp"),
            (None, None, 85, "tcp"),
        ]
    );
}

#[test]
fn publish_all_takes_the_images_expose_and_the_containers() {
    let p = ok(
        None,
        json!({"ExposedPorts": {"53/udp": {}}, "HostConfig": {"PublishAllPorts": true,
            "PortBindings": {"80/tcp": [{"HostPort": "18083"}]}}}),
    );
    assert_eq!(
        ports(&p),
        [
            (None, Some((18083, 18083)), 80, "tcp"),
            (None, None, 53, "udp"),
        ]
    );
}

#[test]
fn a_user_network_with_aliases_and_addresses() {
    let p = ok(
        None,
        json!({"HostConfig": {"NetworkMode": "appnet"}, "NetworkingConfig": {"EndpointsConfig": {
            "appnet": {"Aliases": ["cache", "db2"], "IPAMConfig": {"IPv4Address": "172.30.0.10"}},
            "v6net": {"IPAMConfig": {"IPv6Address": "fd00:1::10"}, "MacAddress": "02:42:ac:11:00:99"}
        }}}),
    );
    let [app, v6] = p.networks() else {
        panic!("{:?}", p.networks())
    };
    assert_eq!(app.network().name.as_str(), "appnet");
    assert_eq!(app.network().id.as_str(), "02".repeat(32));
    let aliases: Vec<&str> = app.aliases().iter().map(Alias::as_str).collect();
    assert_eq!(aliases, ["cache", "db2"]);
    assert_eq!(app.ipv4(), Some("172.30.0.10".parse().unwrap()));
    assert_eq!(v6.ipv6(), Some("fd00:1::10".parse().unwrap()));
    assert_eq!(v6.mac(), Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x99]));
    // The record keeps them for the start's connect.
    let rec = &p.record().networks;
    assert_eq!((rec[0].name.as_str(), rec[0].aliases.len()), ("appnet", 2));
    assert_eq!(rec[1].ipv6, v6.ipv6());
}

#[test]
fn the_docker_23_cli_names_the_modes_network_default() {
    let p = ok(
        None,
        json!({"HostConfig": {"NetworkMode": "appnet"}, "NetworkingConfig": {"EndpointsConfig": {
            "default": {"Aliases": ["web"]}}}}),
    );
    assert_eq!(p.networks().len(), 1);
    assert_eq!(p.networks()[0].aliases()[0].as_str(), "web");
}

#[test]
fn links_name_their_target_and_alias() {
    for (link, alias) in [
        ("db:my-db", "my-db"),
        ("db", "db"),
        ("/db:/web2/my-db", "my-db"),
    ] {
        let p = ok(None, json!({"HostConfig": {"Links": [link]}}));
        let l = &p.networks()[0].links()[0];
        assert_eq!((l.name.as_str(), l.alias.as_str()), ("db", alias), "{link}");
    }
}

#[test]
fn host_none_and_container_modes_have_no_networks_of_their_own() {
    for mode in ["host", "none", "container:db"] {
        let p = ok(None, json!({"HostConfig": {"NetworkMode": mode}}));
        assert!(p.networks().is_empty(), "{mode}");
        assert_eq!(p.record().host_config.network_mode, mode);
    }
    let p = ok(
        None,
        json!({"HostConfig": {"UTSMode": "host", "NetworkMode": "host"}}),
    );
    assert_eq!(p.record().config.hostname, "testhost");
}

#[test]
fn volume_and_mount_forms() {
    let p = ok(
        None,
        json!({"Volumes": {"/scratch": {}}, "HostConfig": {
            "Binds": ["/srv:/srv:ro", "dk-vol:/v"],
            "Mounts": [{"Type": "bind", "Source": "/etc", "Target": "/hostetc", "ReadOnly": true},
                       {"Type": "volume", "Source": "named", "Target": "/named"}],
            "Tmpfs": {"/run": "size=1m"},
            "VolumesFrom": ["db:ro"]}}),
    );
    let by_dest: BTreeMap<&str, &PlannedMount> = p
        .mounts()
        .iter()
        .map(|m| (m.destination.as_str(), m))
        .collect();
    let dests: Vec<&&str> = by_dest.keys().collect();
    assert_eq!(
        dests,
        [
            &"/data",
            &"/hostetc",
            &"/named",
            &"/run",
            &"/scratch",
            &"/srv",
            &"/v"
        ]
    );
    assert!(by_dest["/srv"].readonly && by_dest["/hostetc"].readonly);
    // --volumes-from db:ro: db's volume, read-only here.
    assert_eq!(
        by_dest["/data"].volume().map(|v| v.to_string()),
        Some("dbdata".into())
    );
    assert!(by_dest["/data"].readonly);
    assert!(matches!(
        &by_dest["/scratch"].source,
        PlannedSource::Volume {
            anonymous: true,
            ..
        }
    ));
    assert!(matches!(
        by_dest["/run"].source,
        PlannedSource::Tmpfs { .. }
    ));
    assert_eq!(p.record().mounts, p.mounts());
}

#[test]
fn an_images_volume_is_an_anonymous_volume_unless_mounted_over() {
    let fake = Fake::new();
    let plan_of = |fields: Value| plan(None, body(fields), &fake, &facts()).unwrap();
    let p = plan_of(json!({"Image": "withvol"}));
    assert!(matches!(
        &p.mounts()[0].source,
        PlannedSource::Volume {
            anonymous: true,
            ..
        }
    ));
    let p = plan_of(json!({"Image": "withvol", "HostConfig": {"Binds": ["/srv:/cache"]}}));
    assert!(matches!(p.mounts()[0].source, PlannedSource::Bind { .. }));
}

#[test]
fn limits_are_numbers() {
    let p = ok(
        None,
        json!({"HostConfig": {
            "Memory": 64 << 20, "MemoryReservation": 32 << 20, "NanoCpus": 500_000_000,
            "PidsLimit": 100, "CpuShares": 512,
            "Ulimits": [{"Name": "nofile", "Soft": 123, "Hard": 456}],
            "BlkioWeight": 300, "BlkioDeviceReadBps": [{"Path": "/dev/sda", "Rate": 1048576}],
            "CapAdd": ["net_raw", "CAP_SYS_ADMIN"], "CapDrop": ["CHOWN"]}}),
    );
    let l = p.limits();
    assert_eq!(l.memory(), Some(64 << 20));
    // Docker's default swap: as much again as the memory.
    assert_eq!(l.memory_swap(), Some(128 << 20));
    assert_eq!(l.memory_reservation(), Some(32 << 20));
    assert_eq!(l.nano_cpus(), Some(500_000_000));
    assert_eq!((l.pids(), l.cpu_shares()), (Some(100), Some(512)));
    let u = l.ulimits()[0];
    assert_eq!(
        (u.typ(), u.soft(), u.hard()),
        (oci_spec::runtime::PosixRlimitType::RlimitNofile, 123, 456)
    );
    let blkio = l.blkio().expect("block IO");
    assert_eq!(blkio.weight(), Some(300));
    let bps = blkio.throttle_read_bps_device().as_ref().unwrap();
    assert_eq!(
        (bps[0].major(), bps[0].minor(), bps[0].rate()),
        (8, 0, 1048576)
    );
}

#[test]
fn restart_and_namespace_modes() {
    for hc in [
        json!({"RestartPolicy": {"Name": "always"}}),
        json!({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}),
        json!({"RestartPolicy": {"Name": "unless-stopped"}}),
        json!({"PidMode": "host", "IpcMode": "host", "UTSMode": "host"}),
        json!({"PidMode": "container:db", "IpcMode": "container:db"}),
        json!({"IpcMode": "shareable", "CgroupnsMode": "host"}),
        json!({"Privileged": true, "ReadonlyRootfs": true, "Init": true}),
        json!({"AutoRemove": true, "OomScoreAdj": 500, "ShmSize": 1 << 20}),
        json!({"Sysctls": {"net.ipv4.ip_forward": "1"}, "SecurityOpt": ["no-new-privileges"]}),
        json!({"ExtraHosts": ["myhost:10.0.0.1"], "Dns": ["10.0.0.2"], "GroupAdd": ["audio"]}),
        json!({"LogConfig": {"Type": "local"}}),
    ] {
        let fake = Fake::new();
        plan(
            None,
            body(json!({"HostConfig": hc.clone()})),
            &fake,
            &facts(),
        )
        .unwrap_or_else(|e| panic!("{hc}: {e}"));
    }
    // The donor of a container: mode is looked up.
    let fake = Fake::new();
    let hc = json!({"HostConfig": {"PidMode": "container:db"}});
    plan(None, body(hc), &fake, &facts()).unwrap();
    assert!(fake.asked().contains(&"container db".to_string()));
}

#[test]
fn a_plan_only_asks() {
    // Every question of a create that uses every lookup, in order; the
    // trait has nothing else to call.
    let fake = Fake::new();
    let hc = json!({"HostConfig": {"NetworkMode": "v6net", "Links": ["db:my-db"],
        "PortBindings": {"80/tcp": [{"HostIp": "::", "HostPort": "8080"}]},
        "IpcMode": "container:db", "VolumesFrom": ["db"],
        "BlkioDeviceWriteBps": [{"Path": "/dev/sda", "Rate": 1}]},
        "NetworkingConfig": {"EndpointsConfig": {"appnet": {}}}});
    plan(Some("web"), body(hc), &fake, &facts()).unwrap();
    assert_eq!(
        fake.asked(),
        [
            "image busybox",
            "network v6net",
            "container db",
            "network appnet",
            "network v6net",
            "log config",
            "block device /dev/sda",
            "container db",
            "name web",
            "container db",
            "propagation of 1 mounts",
        ]
    );
}

#[test]
fn the_images_config_fills_what_the_request_leaves_out() {
    let ic: rrun_image::manifest::ContainerConfig = serde_json::from_value(json!({
        "User": "nobody", "WorkingDir": "/srv", "Env": ["PATH=/bin", "A=image", "B=image"],
        "Labels": {"from": "image", "both": "image"}, "Entrypoint": ["/init"], "Cmd": ["serve"]
    }))
    .unwrap();
    let mut c = ContainerConfig {
        env: vec!["A=user".into()],
        labels: [("both".to_string(), "user".to_string())].into(),
        ..Default::default()
    };
    merge_image_config(&mut c, &ic);
    assert_eq!(
        (c.user.as_str(), c.working_dir.as_str()),
        ("nobody", "/srv")
    );
    assert_eq!(c.env, ["A=user", "PATH=/bin", "B=image"]);
    assert_eq!(
        (c.labels["both"].as_str(), c.labels["from"].as_str()),
        ("user", "image")
    );
    assert_eq!(c.entrypoint, Some(vec!["/init".to_string()]));
    assert_eq!(c.cmd, Some(vec!["serve".to_string()]));
    // A command of the request's own keeps the image's entrypoint only.
    let mut c = ContainerConfig {
        user: "0".into(),
        cmd: Some(vec!["sh".into()]),
        ..Default::default()
    };
    merge_image_config(&mut c, &ic);
    assert_eq!(c.user, "0");
    assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
    assert_eq!(c.entrypoint, Some(vec!["/init".to_string()]));
    // `--entrypoint ""`: no entrypoint, the image's command.
    let mut c = ContainerConfig {
        entrypoint: Some(vec![]),
        ..Default::default()
    };
    merge_image_config(&mut c, &ic);
    assert_eq!(c.entrypoint, Some(vec![]));
    assert_eq!(c.cmd, Some(vec!["serve".to_string()]));
}
