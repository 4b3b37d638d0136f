//! Whole projects: files, names, `.env`, several `-f`, `extends`,
//! profiles, default network, and the seed's examples.

mod common;

use common::{project, Dir};
use rrun_compose::{load, with_services};
use std::path::PathBuf;

#[test]
fn seed_mysql_project() {
    let dir = Dir::new("tech-notebook");
    dir.write(
        ".env",
        "DB_ROOT_PASSWORD=foo # rootユーザのパス\nDB_DATABASE=bar\nDB_USER=baz\nDB_PASSWORD=qux\n",
    );
    dir.write(
        "infra/docker/mysql/init/init.sql",
        "CREATE DATABASE IF NOT EXISTS `test`;\n",
    );
    dir.write(
        "docker-compose.yml",
        r#"version: "3.7"

services:

  db:
    container_name: foo-mysql
    hostname: foo-mysql
    image: mysql:5.7
    ports:
      - "127.0.0.1:3307:3306"
    volumes:
      - mysql_volume:/var/www/lib/mysql
      # docker-entrypoint-initdb.dディレクトリにBindマウントを行う．
      - ./infra/docker/mysql/init:/docker-entrypoint-initdb.d
    environment:
      MYSQL_ROOT_PASSWORD: ${DB_ROOT_PASSWORD} # rootユーザのパス
      MYSQL_DATABASE: ${DB_DATABASE}
      MYSQL_USER: ${DB_USER}
      MYSQL_PASSWORD: ${DB_PASSWORD}
      TZ: "Asia/Tokyo"
    command: mysqld --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
    networks:
      - default

volumes:
  mysql_volume:
    driver: local
"#,
    );
    let p = load(&dir.opts()).unwrap();
    assert_eq!(p.name, "tech-notebook");
    assert_eq!(p.working_dir, dir.path());
    assert_eq!(p.config_files, [dir.path().join("docker-compose.yml")]);
    let db = &p.services["db"];
    assert_eq!(db.environment["MYSQL_ROOT_PASSWORD"], Some("foo".into()));
    assert_eq!(db.environment["MYSQL_DATABASE"], Some("bar".into()));
    assert_eq!(db.environment["TZ"], Some("Asia/Tokyo".into()));
    assert_eq!(db.ports[0].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(db.ports[0].published.as_deref(), Some("3307"));
    assert_eq!(db.volumes[0].source.as_deref(), Some("mysql_volume"));
    assert_eq!(
        db.volumes[1].source.as_deref(),
        Some(dir.path().join("infra/docker/mysql/init").to_str().unwrap())
    );
    assert_eq!(db.command.as_ref().unwrap()[0], "mysqld");
    assert_eq!(p.volumes["mysql_volume"].name, "tech-notebook_mysql_volume");
    assert_eq!(p.volumes["mysql_volume"].driver.as_deref(), Some("local"));
    assert_eq!(p.networks["default"].name, "tech-notebook_default");
    assert_eq!(
        p.warnings,
        ["docker-compose.yml: version: obsolete, ignored: remove it to avoid confusion"]
    );
}

#[test]
fn seed_mysql_project_as_printed_is_refused_clearly() {
    // The seed indents `volumes:` under `services:` (a service named
    // "volumes"); Compose refuses it, so do we, naming the key.
    let e = common::error("services:\n  db:\n    image: mysql:5.7\n    volumes:\n      - mysql_volume:/var/www/lib/mysql\n  volumes:\n    mysql_volume:\n");
    assert!(
        e.starts_with("compose.yaml: services.volumes: unknown key `mysql_volume`"),
        "{e}"
    );
}

#[test]
fn seed_backend_frontend_external_networks() {
    let backend = project("services:\n  app:\n    image: x\n    container_name: backend-container\nnetworks:\n  backend:\n    external: true\n");
    assert_eq!(backend.networks["backend"].name, "backend");
    assert!(backend.networks["backend"].external);
    assert_eq!(backend.networks["default"].name, "myapp_default");
    let frontend = project("services:\n  app:\n    image: x\n    container_name: frontend-container\n    networks:\n      - default\nnetworks:\n  default:\n    external:\n      name: backend\n");
    let net = &frontend.networks["default"];
    assert_eq!((net.name.as_str(), net.external), ("backend", true));
    let modern = project("services:\n  app: {image: x}\nnetworks:\n  default:\n    name: backend\n    external: true\n");
    assert_eq!(modern.networks["default"].name, "backend");
    assert_eq!(
        modern.services["app"].networks.keys().collect::<Vec<_>>(),
        ["default"]
    );
}

#[test]
fn named_networks_and_volumes_get_the_project_prefix_unless_named() {
    let p = project("services:\n  app: {image: x, networks: [a, b], volumes: [\"v:/v\", \"w:/w\"]}\nnetworks:\n  a: {}\n  b: {name: foo-network, driver: bridge, internal: true}\nvolumes:\n  v:\n  w: {external: true}\n");
    assert_eq!(p.networks["a"].name, "myapp_a");
    assert_eq!(p.networks["b"].name, "foo-network");
    assert!(p.networks["b"].internal);
    assert_eq!(p.volumes["v"].name, "myapp_v");
    assert_eq!(p.volumes["w"].name, "w");
    assert!(!p.networks.contains_key("default"));
}

#[test]
fn project_name_sources_in_order() {
    let dir = Dir::new("My.Dir_Name");
    dir.write("compose.yaml", "services:\n  web: {image: x}\n");
    assert_eq!(load(&dir.opts()).unwrap().name, "mydir_name");
    dir.write(
        "compose.yaml",
        "name: fromfile\nservices:\n  web: {image: x}\n",
    );
    assert_eq!(load(&dir.opts()).unwrap().name, "fromfile");
    dir.write(".env", "COMPOSE_PROJECT_NAME=fromdotenv\n");
    assert_eq!(load(&dir.opts()).unwrap().name, "fromdotenv");
    let mut opts = dir.opts();
    opts.environment
        .insert("COMPOSE_PROJECT_NAME".into(), "fromshell".into());
    assert_eq!(load(&opts).unwrap().name, "fromshell");
    opts.project_name = Some("fromflag".into());
    assert_eq!(load(&opts).unwrap().name, "fromflag");
    opts.project_name = Some("Bad Name".into());
    assert!(load(&opts)
        .unwrap_err()
        .to_string()
        .starts_with("invalid project name `Bad Name` (from -p)"));
}

#[test]
fn shell_variables_win_over_dotenv() {
    let dir = Dir::new("envwin");
    dir.write(".env", "TAG=from-dotenv\nOTHER=dotenv-only\n");
    dir.write(
        "compose.yaml",
        "services:\n  web:\n    image: \"app:${TAG}\"\n    labels: [\"o=$OTHER\"]\n",
    );
    let mut opts = dir.opts();
    opts.environment.insert("TAG".into(), "from-shell".into());
    let p = load(&opts).unwrap();
    assert_eq!(p.services["web"].image.as_deref(), Some("app:from-shell"));
    assert_eq!(p.services["web"].labels["o"], "dotenv-only");
    assert_eq!(p.environment["TAG"], "from-shell");
}

#[test]
fn interpolated_port_types_as_a_port() {
    let dir = Dir::new("port");
    dir.write(".env", "PORT=8080\n");
    dir.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    ports: [\"${PORT}:80\"]\n    replicas_note: &r 1\n",
    );
    let e = load(&dir.opts()).unwrap_err().to_string();
    assert!(e.contains("unknown key `replicas_note`"), "{e}");
    dir.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    ports: [\"${PORT}:80\"]\n",
    );
    assert_eq!(
        load(&dir.opts()).unwrap().services["web"].ports[0]
            .published
            .as_deref(),
        Some("8080")
    );
}

#[test]
fn several_files_merge_in_order() {
    let dir = Dir::new("multi");
    dir.write("compose.yaml", "services:\n  web:\n    image: web:1\n    ports: [\"80:80\"]\n    environment: [A=1, B=1]\n    command: [a]\n  db: {image: db}\n");
    dir.write("compose.override.yaml", "services:\n  web:\n    ports: [\"443:443\"]\n    environment: {B: 2}\n    command: [b, c]\n");
    dir.write("prod.yaml", "services:\n  web:\n    image: web:2\n");
    let p = load(&dir.opts()).unwrap();
    let web = &p.services["web"];
    assert_eq!(
        p.config_files.len(),
        2,
        "the override file is found with the main one"
    );
    assert_eq!(
        web.ports.iter().map(|p| p.target).collect::<Vec<_>>(),
        [80, 443]
    );
    assert_eq!(web.environment["A"], Some("1".into()));
    assert_eq!(web.environment["B"], Some("2".into()));
    assert_eq!(web.command.as_ref().unwrap(), &["b", "c"]);
    let mut opts = dir.opts();
    opts.files = vec![PathBuf::from("compose.yaml"), PathBuf::from("prod.yaml")];
    let p = load(&opts).unwrap();
    assert_eq!(p.services["web"].image.as_deref(), Some("web:2"));
    assert_eq!(
        p.services["web"].ports.len(),
        1,
        "no override file when -f is given"
    );
}

#[test]
fn extends_same_file_and_other_file() {
    let dir = Dir::new("extends");
    dir.write("common/common.yml", "services:\n  base:\n    image: base\n    build: ./ctx\n    environment: {A: base, B: base}\n    volumes: [\"./data:/data\"]\n");
    dir.write(
        "compose.yaml",
        "services:\n  web:\n    extends: {file: common/common.yml, service: base}\n    environment: {B: web}\n  worker:\n    extends: web\n    command: work\n",
    );
    let p = load(&dir.opts()).unwrap();
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("base"));
    assert_eq!(web.environment["A"], Some("base".into()));
    assert_eq!(web.environment["B"], Some("web".into()));
    assert_eq!(
        web.build.as_ref().unwrap().context,
        dir.path().join("common/ctx")
    );
    assert_eq!(
        web.volumes[0].source.as_deref(),
        Some(dir.path().join("common/data").to_str().unwrap())
    );
    let worker = &p.services["worker"];
    assert_eq!(worker.environment["B"], Some("web".into()));
    assert_eq!(worker.command.as_ref().unwrap(), &["work"]);
}

#[test]
fn extends_cycles_and_unknown_bases_are_errors() {
    let e = common::error("services:\n  a: {image: x, extends: b}\n  b: {image: x, extends: a}\n");
    assert!(e.starts_with("compose.yaml: services.a.extends: extends cycle: compose.yaml:a -> compose.yaml:b -> compose.yaml:a"), "{e}");
    let e = common::error("services:\n  a: {image: x, extends: nothere}\n");
    assert!(e.contains("service `nothere` is not defined"), "{e}");
}

#[test]
fn profiles_disable_services_unless_active() {
    let yaml = "services:\n  web: {image: x}\n  debug: {image: y, profiles: [debug], depends_on: [db]}\n  db: {image: z, profiles: [db]}\n";
    let p = project(yaml);
    assert_eq!(p.services.keys().collect::<Vec<_>>(), ["web"]);
    assert_eq!(
        p.disabled_services.keys().collect::<Vec<_>>(),
        ["debug", "db"]
    );
    let p = with_services(&p, &["debug".to_string()]).unwrap();
    assert_eq!(
        p.services.keys().collect::<Vec<_>>(),
        ["web", "debug", "db"]
    );
    assert!(p.disabled_services.is_empty());
    let e = with_services(&p, &["nope".to_string()])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("no such service: nope"), "{e}");
}

#[test]
fn profiles_from_flags_env_and_star() {
    let dir = Dir::new("profiles");
    dir.write("compose.yaml", "services:\n  web: {image: x}\n  a: {image: y, profiles: [pa]}\n  b: {image: z, profiles: [pb]}\n");
    let mut opts = dir.opts();
    opts.profiles = vec!["pa".into()];
    assert_eq!(load(&opts).unwrap().services.len(), 2);
    opts.environment
        .insert("COMPOSE_PROFILES".into(), "pb, pa".into());
    assert_eq!(load(&opts).unwrap().services.len(), 3);
    opts.profiles = vec![];
    opts.environment
        .insert("COMPOSE_PROFILES".into(), "*".into());
    assert_eq!(load(&opts).unwrap().services.len(), 3);
}

#[test]
fn an_enabled_service_on_a_disabled_one_is_an_error() {
    let e = common::error(
        "services:\n  web: {image: x, depends_on: [db]}\n  db: {image: z, profiles: [db]}\n",
    );
    assert!(e.contains("services.web.depends_on.db: service `db` is not defined: its profiles (db) are not active"), "{e}");
}

#[test]
fn anchors_and_merge_keys() {
    let p = project("x-common: &common\n  image: busybox\n  environment: {A: '1'}\n  restart: always\nservices:\n  a:\n    <<: *common\n    restart: \"no\"\n  b: *common\n");
    assert_eq!(p.services["a"].image.as_deref(), Some("busybox"));
    assert_eq!(p.services["a"].restart.as_deref(), Some("no"));
    assert_eq!(p.services["b"].restart.as_deref(), Some("always"));
    assert_eq!(p.services["b"].environment["A"], Some("1".into()));
}

#[test]
fn default_network_only_when_used() {
    let p = project("services:\n  a: {image: x, network_mode: host}\n");
    assert!(p.networks.is_empty());
    assert!(p.services["a"].networks.is_empty());
}

#[test]
fn stdin_files_name_errors() {
    let mut opts = Dir::new("stdin").opts();
    opts.files = vec![PathBuf::from("-")];
    let e = rrun_compose::load_from_str("services:\n  a: {}\n", &opts)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("-: services.a: has neither"), "{e}");
}

#[test]
fn config_output_is_compose_v2_shaped_and_loads_back() {
    let yaml = "services:\n  web:\n    image: nginx\n    command: nginx -g 'daemon off;'\n    ports: [\"127.0.0.1:8080:80\"]\n    volumes: [\"./html:/usr/share/nginx/html:ro\", \"data:/data\"]\n    environment: [A=1, UNSET_X, \"P=$$HOME\"]\n    depends_on: [db]\n    deploy: {replicas: 2}\n  db:\n    image: mysql:5.7\n    network_mode: host\nvolumes:\n  data:\n";
    let p = project(yaml);
    let out = rrun_compose::to_yaml(&p);
    for line in [
        "name: myapp\n",
        "services:\n  web:\n",
        "    command:\n    - nginx\n    - -g\n    - daemon off;\n",
        "    depends_on:\n      db:\n        condition: service_started\n        required: true\n",
        "    environment:\n      A: '1'\n      UNSET_X: null\n      P: $$HOME\n",
        "    networks:\n      default: null\n",
        "    ports:\n    - mode: ingress\n      host_ip: 127.0.0.1\n      target: 80\n      published: '8080'\n      protocol: tcp\n",
        "    - type: bind\n",
        "      read_only: true\n      bind:\n        create_host_path: true\n",
        "    - type: volume\n      source: data\n      target: /data\n      volume: {}\n",
        "    scale: 2\n",
        "    network_mode: host\n",
        "networks:\n  default:\n    name: myapp_default\n",
        "volumes:\n  data:\n    name: myapp_data\n",
    ] {
        assert!(out.contains(line), "missing:\n{line}\nin:\n{out}");
    }
    let keys: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "  web:")
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .filter(|l| !l.starts_with("     ") && !l.starts_with("    -"))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "service keys in alphabetical order");
    // The output is itself a Compose file that loads to the same services.
    // (Compose prints the default port mode, `ingress`.)
    let mut again = project(&out.replace("name: myapp\n", ""));
    assert_eq!(
        again.services["web"].ports[0].mode.take().as_deref(),
        Some("ingress")
    );
    assert_eq!(again.services, p.services);
}

#[test]
fn unset_variables_warn_and_labels_are_relative() {
    let dir = Dir::new("warn");
    dir.write(
        "sub/compose.yaml",
        "services:\n  web:\n    image: \"app:${TAG}\"\n    environment: [\"A=${NOPE:-fine}\"]\n",
    );
    let mut opts = dir.opts();
    opts.files = vec![dir.path().join("sub/compose.yaml")];
    let p = load(&opts).unwrap();
    assert_eq!(p.services["web"].image.as_deref(), Some("app:"));
    assert_eq!(
        p.warnings,
        ["sub/compose.yaml: the TAG variable is not set: defaulting to a blank string"]
    );
}

#[test]
fn seed_build_args_target_and_image_from_variables() {
    let dir = Dir::new("seedbuild");
    dir.write(".env", "APP_ENV=develop\nPARAM=from-dotenv\n");
    dir.write("compose.yaml", "services:\n  www:\n    build:\n      context: .\n      dockerfile: ./infra/docker/www/Dockerfile\n      target: ${APP_ENV}\n      args:\n        - PARAM=$PARAM\n    image: ${APP_ENV}-foo-app\n    container_name: www\n");
    let p = load(&dir.opts()).unwrap();
    let www = &p.services["www"];
    let b = www.build.as_ref().unwrap();
    assert_eq!(b.context, dir.path());
    assert_eq!(b.target.as_deref(), Some("develop"));
    assert_eq!(b.args["PARAM"], Some("from-dotenv".into()));
    assert_eq!(www.image.as_deref(), Some("develop-foo-app"));
}

#[test]
fn include_is_refused_and_old_external_volume_names() {
    let e = common::error("include: [other.yaml]\nservices: {}\n");
    assert!(
        e.starts_with("compose.yaml: include: include is not supported by rrun"),
        "{e}"
    );
    let p = project("services:\n  a: {image: x, volumes: [\"d:/d\"]}\nvolumes:\n  d:\n    external:\n      name: shared-data\n");
    assert_eq!(
        (p.volumes["d"].name.as_str(), p.volumes["d"].external),
        ("shared-data", true)
    );
}

#[test]
fn network_ipam_and_options() {
    let p = project("services:\n  a: {image: x, networks: [n]}\nnetworks:\n  n:\n    driver: bridge\n    driver_opts: {com.docker.network.bridge.name: br-x}\n    enable_ipv6: true\n    labels: [team=a]\n    ipam:\n      driver: default\n      config:\n        - subnet: 172.28.0.0/16\n          gateway: 172.28.0.1\n          ip_range: 172.28.5.0/24\n");
    let n = &p.networks["n"];
    assert_eq!(n.driver_opts["com.docker.network.bridge.name"], "br-x");
    assert!(n.enable_ipv6);
    assert_eq!(n.labels["team"], "a");
    let pool = &n.ipam.as_ref().unwrap().config[0];
    assert_eq!(pool.subnet.as_deref(), Some("172.28.0.0/16"));
    assert_eq!(pool.gateway.as_deref(), Some("172.28.0.1"));
}
