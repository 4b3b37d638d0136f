use super::*;
use indexmap::IndexMap;
use rrun_compose::model::{
    Network, NetworkMode, Port, Protocol, ServiceNetwork, ServiceVolume, Volume, VolumeType,
};

fn project() -> Project {
    let mut db = Service {
        name: "db".into(),
        image: Some("mysql:5.7".into()),
        hostname: Some("database".into()),
        replicas: 1,
        command: Some(vec![
            "mysqld".into(),
            "--character-set-server=utf8mb4".into(),
        ]),
        ..Default::default()
    };
    db.environment
        .insert("MYSQL_DATABASE".into(), Some("todo".into()));
    db.environment.insert("UNSET".into(), None);
    db.ports.push(Port {
        target: 3306,
        published: Some("3307".into()),
        host_ip: Some("127.0.0.1".into()),
        protocol: Protocol::Tcp,
        mode: None,
    });
    db.volumes.push(ServiceVolume {
        kind: VolumeType::Volume,
        source: Some("dbdata".into()),
        target: "/var/lib/mysql".into(),
        read_only: false,
        create_host_path: false,
        propagation: None,
        selinux: None,
        nocopy: false,
        tmpfs_size: None,
        tmpfs_mode: None,
    });
    db.networks
        .insert("default".into(), ServiceNetwork::default());
    db.stop_grace_period = Some("1m30s".into());
    Project {
        name: "p".into(),
        working_dir: "/w".into(),
        config_files: vec!["/w/compose.yaml".into()],
        services: IndexMap::from([("db".into(), db)]),
        networks: IndexMap::from([(
            "default".into(),
            Network {
                name: "p_default".into(),
                ..Default::default()
            },
        )]),
        volumes: IndexMap::from([(
            "dbdata".into(),
            Volume {
                name: "p_dbdata".into(),
                ..Default::default()
            },
        )]),
        ..Default::default()
    }
}

fn inst() -> Instance {
    Instance {
        number: 1,
        name: "p-db-1".into(),
        publish: true,
        ..Default::default()
    }
}

#[test]
fn a_service_becomes_a_create_body() {
    let p = project();
    let b = create_body(&p, &p.services["db"], &inst()).unwrap();
    assert_eq!(b.image.as_deref(), Some("mysql:5.7"));
    assert_eq!(b.env.unwrap(), ["MYSQL_DATABASE=todo"]);
    assert_eq!(b.stop_timeout, Some(90));
    let l = b.labels.unwrap();
    assert_eq!(l["com.docker.compose.project"], "p");
    assert_eq!(l["com.docker.compose.service"], "db");
    assert_eq!(l["com.docker.compose.container-number"], "1");
    assert_eq!(l["com.docker.compose.oneoff"], "False");
    assert_eq!(
        l["com.docker.compose.project.config_files"],
        "/w/compose.yaml"
    );
    assert_eq!(l["com.docker.compose.config-hash"].len(), 64);
    let h = b.host_config.unwrap();
    assert_eq!(h.binds.unwrap(), ["p_dbdata:/var/lib/mysql"]);
    assert_eq!(h.network_mode.as_deref(), Some("p_default"));
    let ports = h.port_bindings.unwrap();
    let bind = ports["3306/tcp"].as_ref().unwrap();
    assert_eq!(bind[0].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(bind[0].host_port.as_deref(), Some("3307"));
    let eps = b.networking_config.unwrap().endpoints_config.unwrap();
    assert_eq!(
        eps["p_default"].aliases.as_ref().unwrap(),
        &["db", "p-db-1"]
    );
}

#[test]
fn run_containers_publish_only_when_asked() {
    let p = project();
    let i = Instance {
        publish: false,
        oneoff: true,
        ..inst()
    };
    let b = create_body(&p, &p.services["db"], &i).unwrap();
    assert!(b.host_config.unwrap().port_bindings.is_none());
    assert_eq!(b.labels.unwrap()["com.docker.compose.oneoff"], "True");
}

#[test]
fn joining_a_service_needs_its_container() {
    let mut p = project();
    let mut app = p.services["db"].clone();
    app.name = "app".into();
    app.networks.clear();
    app.network_mode = Some(NetworkMode::Service("db".into()));
    p.services.insert("app".into(), app);
    let e = create_body(&p, &p.services["app"], &inst()).unwrap_err();
    assert!(e.to_string().contains("start \"db\" first"), "{e}");
    let i = Instance {
        joined: Some("abc".into()),
        ..inst()
    };
    let b = create_body(&p, &p.services["app"], &i).unwrap();
    assert_eq!(
        b.host_config.unwrap().network_mode.as_deref(),
        Some("container:abc")
    );
    assert!(b.networking_config.is_none());
}

#[test]
fn bad_values_name_the_service_and_key() {
    let mut p = project();
    p.services["db"].mem_limit = Some("lots".into());
    let e = create_body(&p, &p.services["db"], &inst()).unwrap_err();
    assert!(
        format!("{e:#}").starts_with("service \"db\": mem_limit: invalid size"),
        "{e:#}"
    );
    let mut p = project();
    p.services["db"].stop_grace_period = Some("soon".into());
    let e = create_body(&p, &p.services["db"], &inst()).unwrap_err();
    assert!(e.to_string().contains("stop_grace_period"), "{e}");
}
