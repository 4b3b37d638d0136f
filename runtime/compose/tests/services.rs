//! Every service key's short forms become the model's long forms.

mod common;

use common::{project, Dir};
use rrun_compose::model::*;

fn web(yaml_body: &str) -> Service {
    let yaml = format!("services:\n  web:\n    image: busybox\n{yaml_body}");
    project(&yaml).services["web"].clone()
}

#[test]
fn command_strings_split_as_shell_words_lists_kept() {
    let s = web("    command: mysqld --character-set-server=utf8mb4 'a b'\n    entrypoint: [\"/bin/sh\", \"-c\"]\n");
    assert_eq!(
        s.command.unwrap(),
        ["mysqld", "--character-set-server=utf8mb4", "a b"]
    );
    assert_eq!(s.entrypoint.unwrap(), ["/bin/sh", "-c"]);
    assert_eq!(web("    entrypoint: \"\"\n").entrypoint, Some(vec![]));
    assert_eq!(web("").command, None);
}

#[test]
fn environment_list_and_map_values_from_the_shell() {
    let s = web("    environment:\n      - A=1\n      - HOME\n      - UNSET_VAR\n      - B=x=y\n");
    assert_eq!(s.environment["A"], Some("1".into()));
    assert_eq!(s.environment["HOME"], Some("/home/tester".into()));
    assert_eq!(s.environment["UNSET_VAR"], None);
    assert_eq!(s.environment["B"], Some("x=y".into()));
    let s = web("    environment:\n      N: 3\n      T: true\n      E:\n");
    assert_eq!(s.environment["N"], Some("3".into()));
    assert_eq!(s.environment["T"], Some("true".into()));
    assert_eq!(s.environment["E"], None);
}

#[test]
fn env_file_first_environment_over_it() {
    let dir = Dir::new("envfile");
    dir.write("web.env", "A=from-file\nB=from-file # comment\n");
    dir.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    env_file: web.env\n    environment: {A: mine}\n",
    );
    let p = rrun_compose::load(&dir.opts()).unwrap();
    let env = &p.services["web"].environment;
    assert_eq!(env["A"], Some("mine".into()));
    assert_eq!(env["B"], Some("from-file".into()));
    dir.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    env_file: [{path: missing.env, required: false}, web.env]\n",
    );
    assert_eq!(
        rrun_compose::load(&dir.opts()).unwrap().services["web"]
            .environment
            .len(),
        2
    );
    dir.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    env_file: missing.env\n",
    );
    let err = rrun_compose::load(&dir.opts()).unwrap_err().to_string();
    assert!(
        err.contains("services.web.env_file: invalid env_file `missing.env`"),
        "{err}"
    );
}

#[test]
fn labels_and_extra_hosts_both_forms() {
    let s = web("    labels: [a=1, b]\n    extra_hosts: [\"www:162.242.195.82\", \"v6=::1\", \"b:[::2]\"]\n");
    assert_eq!(s.labels["a"], "1");
    assert_eq!(s.labels["b"], "");
    assert_eq!(s.extra_hosts, ["www:162.242.195.82", "v6:::1", "b:::2"]);
    let s = web("    labels: {a: \"1\"}\n    extra_hosts: {www: 162.242.195.82}\n");
    assert_eq!(s.labels["a"], "1");
    assert_eq!(s.extra_hosts, ["www:162.242.195.82"]);
}

#[test]
fn ports_short_and_long() {
    let s = web("    ports:\n      - 3307:3306\n      - \"127.0.0.1::80\"\n      - 9000\n      - target: 80\n        published: \"8080\"\n        host_ip: 127.0.0.1\n        protocol: udp\n        mode: host\n");
    assert_eq!(s.ports.len(), 4);
    assert_eq!(
        (s.ports[0].target, s.ports[0].published.as_deref()),
        (3306, Some("3307"))
    );
    assert_eq!(s.ports[1].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(s.ports[1].published, None);
    assert_eq!(s.ports[2].target, 9000);
    assert_eq!(
        s.ports[3],
        Port {
            target: 80,
            published: Some("8080".into()),
            host_ip: Some("127.0.0.1".into()),
            protocol: Protocol::Udp,
            mode: Some("host".into())
        }
    );
}

#[test]
fn volumes_short_forms() {
    let yaml = "services:\n  web:\n    image: x\n    volumes:\n      - ./rel:/x:ro\n      - ~/cfg:/cfg\n      - data:/data:nocopy\n      - /anon\n      - ../up:/up:rw,z\nvolumes:\n  data:\n";
    let p = project(yaml);
    let v = &p.services["web"].volumes;
    assert_eq!(v[0].kind, VolumeType::Bind);
    assert!(
        v[0].source.as_deref().unwrap().ends_with("/myapp/rel"),
        "{:?}",
        v[0].source
    );
    assert!(v[0].read_only && v[0].create_host_path);
    assert_eq!(v[1].source.as_deref(), Some("/home/tester/cfg"));
    assert_eq!(
        (v[2].kind, v[2].source.as_deref(), v[2].nocopy),
        (VolumeType::Volume, Some("data"), true)
    );
    assert_eq!(
        (v[3].kind, v[3].source.as_deref(), v[3].target.as_str()),
        (VolumeType::Volume, None, "/anon")
    );
    assert!(
        !v[4].source.as_deref().unwrap().contains(".."),
        "{:?}",
        v[4].source
    );
    assert_eq!(v[4].selinux.as_deref(), Some("z"));
}

#[test]
fn volumes_long_forms() {
    let yaml = "services:\n  web:\n    image: x\n    volumes:\n      - type: bind\n        source: ./src\n        target: /src\n        read_only: true\n        bind: {create_host_path: false, propagation: rshared}\n      - type: volume\n        source: data\n        target: /data\n        volume: {nocopy: true}\n      - type: tmpfs\n        target: /tmp\n        tmpfs: {size: 100m, mode: 1777}\nvolumes:\n  data: {}\n";
    let v = project(yaml).services["web"].volumes.clone();
    assert!(v[0].read_only && !v[0].create_host_path);
    assert_eq!(v[0].propagation.as_deref(), Some("rshared"));
    assert!(v[1].nocopy);
    assert_eq!(
        (v[2].kind, v[2].tmpfs_size.as_deref(), v[2].tmpfs_mode),
        (VolumeType::Tmpfs, Some("100m"), Some(0o1777))
    );
}

#[test]
fn depends_on_list_and_map() {
    let yaml = "services:\n  web:\n    image: x\n    depends_on: [db]\n  db:\n    image: y\n  app:\n    image: z\n    depends_on:\n      db: {condition: service_healthy, restart: true}\n      web: {condition: service_completed_successfully, required: false}\n";
    let p = project(yaml);
    let started = DependsOn {
        condition: DependsCondition::ServiceStarted,
        restart: false,
        required: true,
    };
    assert_eq!(p.services["web"].depends_on["db"], started);
    let app = &p.services["app"].depends_on;
    assert_eq!(
        app["db"],
        DependsOn {
            condition: DependsCondition::ServiceHealthy,
            restart: true,
            required: true
        }
    );
    assert_eq!(
        app["web"].condition,
        DependsCondition::ServiceCompletedSuccessfully
    );
    assert!(!app["web"].required);
}

#[test]
fn healthcheck_forms() {
    let s = web("    healthcheck:\n      test: curl -f http://localhost\n      interval: 1m30s\n      retries: 3\n");
    let h = s.healthcheck.unwrap();
    assert_eq!(h.test.unwrap(), ["CMD-SHELL", "curl -f http://localhost"]);
    assert_eq!((h.interval.as_deref(), h.retries), (Some("1m30s"), Some(3)));
    assert!(
        web("    healthcheck: {disable: true}\n")
            .healthcheck
            .unwrap()
            .disable
    );
    assert!(
        web("    healthcheck: {test: [NONE]}\n")
            .healthcheck
            .unwrap()
            .disable
    );
    let h = web("    healthcheck: {test: [CMD, pg_isready]}\n")
        .healthcheck
        .unwrap();
    assert_eq!(h.test.unwrap(), ["CMD", "pg_isready"]);
}

#[test]
fn network_mode_forms() {
    let yaml = "services:\n  db:\n    image: x\n  web:\n    image: x\n    network_mode: service:db\n  h:\n    image: x\n    network_mode: host\n  c:\n    image: x\n    network_mode: container:abc\n";
    let p = project(yaml);
    assert_eq!(
        p.services["web"].network_mode,
        Some(NetworkMode::Service("db".into()))
    );
    assert!(p.services["web"].networks.is_empty());
    assert_eq!(p.services["h"].network_mode, Some(NetworkMode::Host));
    assert_eq!(
        p.services["c"].network_mode,
        Some(NetworkMode::Container("abc".into()))
    );
    assert!(p.services["db"].networks.contains_key("default"));
}

#[test]
fn build_string_or_mapping_args_list_or_map() {
    let p = project("services:\n  a:\n    build: ./app\n  b:\n    build:\n      context: ctx\n      dockerfile: ./infra/docker/www/Dockerfile\n      args: [PARAM=$$PARAM, BARE]\n      target: develop\n  c:\n    build:\n      args: {X: 1}\n");
    let a = p.services["a"].build.clone().unwrap();
    assert!(a.context.ends_with("myapp/app"), "{:?}", a.context);
    assert_eq!(a.dockerfile, "Dockerfile");
    let b = p.services["b"].build.clone().unwrap();
    assert_eq!(b.dockerfile, "./infra/docker/www/Dockerfile");
    assert_eq!(b.args["PARAM"], Some("$PARAM".into()));
    assert_eq!(b.args["BARE"], None);
    assert_eq!(b.target.as_deref(), Some("develop"));
    let c = p.services["c"].build.clone().unwrap();
    assert!(c.context.ends_with("myapp"));
    assert_eq!(c.args["X"], Some("1".into()));
}

#[test]
fn deploy_replicas_and_limits() {
    let s = web("    deploy:\n      replicas: 3\n      resources:\n        limits: {cpus: '0.5', memory: 50M, pids: 100}\n");
    assert_eq!(s.replicas, 3);
    assert_eq!(
        (s.cpus.as_deref(), s.mem_limit.as_deref(), s.pids_limit),
        (Some("0.5"), Some("50M"), Some(100))
    );
    assert_eq!(web("").replicas, 1);
    assert_eq!(web("    scale: 2\n").replicas, 2);
}

#[test]
fn ulimits_number_or_soft_hard() {
    let s = web("    ulimits:\n      nproc: 65535\n      nofile: {soft: 20000, hard: 40000}\n");
    assert_eq!(
        s.ulimits["nproc"],
        Ulimit {
            soft: 65535,
            hard: 65535
        }
    );
    assert_eq!(
        s.ulimits["nofile"],
        Ulimit {
            soft: 20000,
            hard: 40000
        }
    );
}

#[test]
fn secrets_and_configs_short_and_long() {
    let yaml = "services:\n  web:\n    image: x\n    secrets: [pw, {source: key, target: k.pem, mode: 0440}]\n    configs: [conf, {source: conf, target: /etc/app.conf}]\nsecrets:\n  pw: {file: ./pw.txt}\n  key: {environment: KEY}\nconfigs:\n  conf: {content: hello}\n";
    let p = project(yaml);
    let s = &p.services["web"];
    assert_eq!(s.secrets[0].target, "/run/secrets/pw");
    assert_eq!(
        (s.secrets[1].target.as_str(), s.secrets[1].mode),
        ("/run/secrets/k.pem", Some(0o440))
    );
    assert_eq!(s.configs[0].target, "/conf");
    assert_eq!(s.configs[1].target, "/etc/app.conf");
    assert!(matches!(&p.secrets["pw"], FileObject::File(f) if f.ends_with("myapp/pw.txt")));
    assert_eq!(p.secrets["key"], FileObject::Environment("KEY".into()));
    assert_eq!(p.configs["conf"], FileObject::Content("hello".into()));
}

#[test]
fn networks_list_or_map_with_addresses() {
    let yaml = "services:\n  web:\n    image: x\n    networks:\n      front:\n        aliases: [site]\n        ipv4_address: 172.16.238.10\n        ipv6_address: 2001:3984:3989::10\n      back:\n  db:\n    image: x\n    networks: [back]\nnetworks:\n  front: {}\n  back:\n";
    let p = project(yaml);
    let n = &p.services["web"].networks;
    assert_eq!(n["front"].aliases, ["site"]);
    assert_eq!(n["front"].ipv4_address.as_deref(), Some("172.16.238.10"));
    assert_eq!(
        n["front"].ipv6_address.as_deref(),
        Some("2001:3984:3989::10")
    );
    assert!(n.contains_key("back"));
    assert_eq!(
        p.services["db"].networks.keys().collect::<Vec<_>>(),
        ["back"]
    );
    assert!(
        !p.networks.contains_key("default"),
        "no service uses default"
    );
}

#[test]
fn plain_keys_and_extensions() {
    let s = web("    container_name: www\n    hostname: foo-mysql\n    platform: linux/amd64\n    stdin_open: true\n    tty: true\n    working_dir: /app\n    user: 1000\n    restart: always\n    privileged: true\n    read_only: true\n    init: true\n    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    dns: 8.8.8.8\n    dns_search: [example.com]\n    tmpfs: /run\n    sysctls: [net.core.somaxconn=1024]\n    shm_size: 64m\n    stop_signal: SIGUSR1\n    stop_grace_period: 1m30s\n    mem_limit: 1g\n    cpus: 0.5\n    pids_limit: 10\n    devices: [\"/dev/fuse\"]\n    logging: {driver: json-file, options: {max-size: 1m}}\n    profiles: []\n    expose: [3000, \"4000\"]\n    x-custom: {any: thing}\n");
    assert_eq!(s.container_name.as_deref(), Some("www"));
    assert_eq!(s.hostname.as_deref(), Some("foo-mysql"));
    assert_eq!(s.platform.as_deref(), Some("linux/amd64"));
    assert!(s.stdin_open && s.tty && s.privileged && s.read_only && s.init == Some(true));
    assert_eq!(s.user.as_deref(), Some("1000"));
    assert_eq!(s.dns, ["8.8.8.8"]);
    assert_eq!(s.tmpfs, ["/run"]);
    assert_eq!(s.sysctls["net.core.somaxconn"], "1024");
    assert_eq!(s.cpus.as_deref(), Some("0.5"));
    assert_eq!(s.logging.unwrap().options["max-size"], "1m");
    assert_eq!(s.expose, ["3000", "4000"]);
    assert_eq!(
        s.extensions["x-custom"],
        serde_json::json!({"any": "thing"})
    );
}

#[test]
fn ignored_keys_warn() {
    let p = project("services:\n  web:\n    image: x\n    links: [db]\n  db:\n    image: y\n");
    assert_eq!(p.warnings.len(), 1);
    assert!(
        p.warnings[0].contains("services.web.links: not supported by rrun"),
        "{:?}",
        p.warnings
    );
}
