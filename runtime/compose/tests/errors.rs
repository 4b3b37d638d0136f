//! Each bad file gets one line naming the file, the key path, what is
//! wrong and what to do.

mod common;

use common::error;

fn starts(line: &str, prefix: &str) {
    assert!(
        line.starts_with(prefix),
        "expected `{prefix}...`, got `{line}`"
    );
}

#[test]
fn unknown_key_names_its_path() {
    let e = error("services:\n  web:\n    image: x\n    prots: [\"80\"]\n");
    starts(&e, "compose.yaml: services.web: unknown key `prots`");
    let e = error("services: {}\nservice: {}\n");
    starts(&e, "compose.yaml: top level: unknown key `service`");
    let e = error("services:\n  web:\n    image: x\n    ports: [{target: 80, publish: 8080}]\n");
    starts(
        &e,
        "compose.yaml: services.web.ports[0]: unknown key `publish`",
    );
}

#[test]
fn x_keys_and_version_are_accepted() {
    let p = common::project("version: \"3.7\"\nx-base: &b {image: busybox}\nservices:\n  web:\n    <<: *b\n    x-note: hi\nnetworks:\n  x-n: {}\n");
    assert_eq!(p.services["web"].image.as_deref(), Some("busybox"));
}

#[test]
fn wrong_types() {
    starts(
        &error("services:\n  web:\n    image: x\n    ports: {a: 1}\n"),
        "compose.yaml: services.web.ports: must be a list, not a mapping",
    );
    starts(
        &error("services:\n  web:\n    image: x\n    tty: maybe\n"),
        "compose.yaml: services.web.tty: must be true or false, not the string \"maybe\"",
    );
    starts(
        &error("services:\n  web:\n    image: x\n    environment: 3\n"),
        "compose.yaml: services.web.environment: must be a list of KEY=VALUE or a mapping",
    );
    starts(
        &error("services: [web]\n"),
        "compose.yaml: services: must be a mapping of names, not a list",
    );
    starts(
        &error("- just a list\n"),
        "compose.yaml: top level: must be a mapping",
    );
}

#[test]
fn invalid_ports() {
    let e = error("services:\n  web:\n    image: x\n    ports: [\"80:99999\"]\n");
    starts(&e, "compose.yaml: services.web.ports[0]: invalid port `80:99999`: write [HOST_IP:][HOST_PORT:]CONTAINER_PORT");
    let e = error("services:\n  web:\n    image: x\n    ports: [\"8000-8002:80-81\"]\n");
    starts(
        &e,
        "compose.yaml: services.web.ports[0]: invalid port `8000-8002:80-81`",
    );
}

#[test]
fn missing_required_variable() {
    let e = error("services:\n  web:\n    image: \"${TAG:?set TAG to the release}\"\n");
    starts(&e, "compose.yaml: services.web.image: required variable TAG is missing a value: set TAG to the release");
}

#[test]
fn bad_interpolation() {
    let e = error("services:\n  web:\n    image: x\n    command: echo cost $ 5\n");
    starts(&e, "compose.yaml: services.web.command: invalid interpolation in `echo cost $ 5`: `$` must start a variable");
}

#[test]
fn dependency_cycle_is_named() {
    let e = error("services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [c]}\n  c: {image: x, depends_on: [a]}\n");
    starts(
        &e,
        "compose.yaml: dependency cycle between services: a -> b -> c -> a",
    );
    let e = error("services:\n  a: {image: x, network_mode: \"service:a\"}\n");
    starts(
        &e,
        "compose.yaml: dependency cycle between services: a -> a",
    );
}

#[test]
fn undefined_references() {
    let e = error("services:\n  web: {image: x, depends_on: [db]}\n");
    starts(
        &e,
        "compose.yaml: services.web.depends_on.db: service `db` is not defined",
    );
    let e = error("services:\n  web: {image: x, networks: [front]}\n");
    starts(
        &e,
        "compose.yaml: services.web.networks.front: network `front` is not defined: declare it",
    );
    let e = error("services:\n  web: {image: x, volumes: [\"data:/data\"]}\n");
    starts(
        &e,
        "compose.yaml: services.web.volumes[0]: volume `data` is not defined",
    );
    let e = error("services:\n  web: {image: x, secrets: [pw]}\n");
    starts(
        &e,
        "compose.yaml: services.web.secrets[0]: secret `pw` is not defined",
    );
    let e = error("services:\n  web: {image: x, network_mode: \"service:db\"}\n");
    starts(
        &e,
        "compose.yaml: services.web.network_mode: service `db` is not defined",
    );
}

#[test]
fn optional_dependency_may_be_missing() {
    let p = common::project("services:\n  web:\n    image: x\n    depends_on: {db: {condition: service_started, required: false}}\n");
    assert!(p.services["web"].depends_on.contains_key("db"));
}

#[test]
fn no_image_nor_build() {
    starts(
        &error("services:\n  web: {command: echo}\n"),
        "compose.yaml: services.web: has neither `image` nor `build`",
    );
}

#[test]
fn container_name_with_replicas_and_twice() {
    let e = error("services:\n  web: {image: x, container_name: www, deploy: {replicas: 2}}\n");
    starts(
        &e,
        "compose.yaml: services.web: container_name `www` with 2 replicas",
    );
    let e = error(
        "services:\n  a: {image: x, container_name: www}\n  b: {image: x, container_name: www}\n",
    );
    starts(
        &e,
        "compose.yaml: container_name `www` is given to both services a and b",
    );
}

#[test]
fn invalid_yaml_and_merge_keys() {
    starts(
        &error("services:\n  web: [\n"),
        "compose.yaml: not valid YAML:",
    );
    starts(
        &error("services:\n  web:\n    <<: 3\n"),
        "compose.yaml: not valid YAML:",
    );
}

#[test]
fn bad_values() {
    let e = error("services:\n  web: {image: x, network_mode: bridged}\n");
    starts(
        &e,
        "compose.yaml: services.web.network_mode: invalid network_mode `bridged`",
    );
    let e = error("services:\n  web: {image: x, depends_on: {db: {condition: service_up}}}\n  db: {image: x}\n");
    starts(
        &e,
        "compose.yaml: services.web.depends_on.db.condition: invalid condition `service_up`",
    );
    let e = error("services:\n  web: {image: x, volumes: [\"data\"]}\n");
    starts(
        &e,
        "compose.yaml: services.web.volumes[0]: invalid volume `data`",
    );
    let e = error("services:\n  web: {image: x, command: \"echo 'open\"}\n");
    starts(&e, "compose.yaml: services.web.command: invalid command `echo 'open`: a single quote is never closed");
}

#[test]
fn external_secrets_are_refused() {
    let e = error("services:\n  web: {image: x}\nsecrets:\n  s: {external: true}\n");
    starts(
        &e,
        "compose.yaml: secrets.s.external: an external secret is not supported by rrun",
    );
}

#[test]
fn invalid_project_names() {
    let e = error("name: My_App\nservices:\n  web: {image: x}\n");
    starts(
        &e,
        "invalid project name `My_App` (from the top-level name:)",
    );
}

#[test]
fn invalid_service_name_and_healthcheck_test() {
    let e = error("services:\n  \"web app\": {image: x}\n");
    starts(&e, "compose.yaml: services: invalid service name `web app`");
    let e = error("services:\n  web: {image: x, healthcheck: {test: [curl, localhost]}}\n");
    starts(&e, "compose.yaml: services.web.healthcheck.test: invalid healthcheck test `curl localhost`: a list starts with CMD");
}

#[test]
fn multi_line_values_stay_on_one_line() {
    let e = error("services:\n  web:\n    image: x\n    command: |\n      echo 'a\n      b\n");
    starts(
        &e,
        "compose.yaml: services.web.command: invalid command `echo 'a\\nb\\n`",
    );
    let e = error("services:\n  web:\n    image: \"${X:?line one\n      line two}\"\n");
    assert!(e.contains("required variable X"), "{e}");
}

#[test]
fn network_mode_and_networks_exclude_each_other() {
    let e = error("services:\n  web: {image: x, network_mode: host, networks: [default]}\n");
    starts(&e, "compose.yaml: services.web: invalid network settings `host`: network_mode and networks exclude each other");
}
