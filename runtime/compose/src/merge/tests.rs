use super::*;

fn yaml(s: &str) -> Value {
    serde_yaml_ng::from_str(s).unwrap()
}

fn merged(base: &str, over: &str) -> Value {
    let mut b = Mapping::new();
    merge_top(&mut b, yaml(base).as_mapping().unwrap());
    merge_top(&mut b, yaml(over).as_mapping().unwrap());
    Value::Mapping(b)
}

fn svc(v: &Value) -> &Value {
    &v["services"]["web"]
}

#[test]
fn scalars_and_commands_replace() {
    let m = merged(
        "services: {web: {image: a, command: [x, y], entrypoint: sh}}",
        "services: {web: {image: b, command: [z]}}",
    );
    assert_eq!(svc(&m)["image"], yaml("b"));
    assert_eq!(svc(&m)["command"], yaml("[z]"));
    assert_eq!(svc(&m)["entrypoint"], yaml("sh"));
}

#[test]
fn environment_and_labels_merge_by_key_across_forms() {
    let m = merged(
        "services: {web: {environment: [A=1, B=2], labels: {l: one}}}",
        "services: {web: {environment: {B: 3, C: null}, labels: [m=two]}}",
    );
    assert_eq!(svc(&m)["environment"], yaml("{A: '1', B: 3, C: null}"));
    assert_eq!(svc(&m)["labels"], yaml("{l: one, m: two}"));
}

#[test]
fn ports_and_dns_append_what_is_new() {
    let m = merged(
        "services: {web: {ports: ['80:80'], dns: 1.1.1.1, expose: ['3000']}}",
        "services: {web: {ports: ['80:80', '443:443'], dns: [8.8.8.8], expose: ['3000']}}",
    );
    assert_eq!(svc(&m)["ports"], yaml("['80:80', '443:443']"));
    assert_eq!(svc(&m)["dns"], yaml("[1.1.1.1, 8.8.8.8]"));
    assert_eq!(svc(&m)["expose"], yaml("['3000']"));
}

#[test]
fn volumes_merge_by_container_path_secrets_by_target() {
    let m = merged(
        "services: {web: {volumes: ['./a:/data', 'logs:/logs'], secrets: [s1, {source: s2, target: /t}]}}",
        "services: {web: {volumes: [{type: volume, source: d, target: /data}, '/cache'], secrets: [{source: s3, target: /t}]}}",
    );
    assert_eq!(
        svc(&m)["volumes"],
        yaml("[{type: volume, source: d, target: /data}, 'logs:/logs', /cache]")
    );
    assert_eq!(svc(&m)["secrets"], yaml("[s1, {source: s3, target: /t}]"));
}

#[test]
fn depends_on_and_networks_merge_by_name_across_forms() {
    let m = merged(
        "services: {web: {depends_on: [db], networks: [front]}}",
        "services: {web: {depends_on: {cache: {condition: service_healthy}}, networks: {back: {aliases: [b]}}}}",
    );
    assert_eq!(
        svc(&m)["depends_on"],
        yaml("{db: {condition: service_started}, cache: {condition: service_healthy}}")
    );
    assert_eq!(
        svc(&m)["networks"],
        yaml("{front: null, back: {aliases: [b]}}")
    );
}

#[test]
fn build_string_and_mapping_merge() {
    let m = merged(
        "services: {web: {build: ./app}}",
        "services: {web: {build: {target: dev, args: [A=1]}}}",
    );
    assert_eq!(
        svc(&m)["build"],
        yaml("{context: ./app, target: dev, args: [A=1]}")
    );
}

#[test]
fn healthcheck_test_replaces_other_keys_merge() {
    let m = merged(
        "services: {web: {healthcheck: {test: [CMD, a, b], interval: 5s}}}",
        "services: {web: {healthcheck: {test: [CMD, c], retries: 3}}}",
    );
    assert_eq!(
        svc(&m)["healthcheck"],
        yaml("{test: [CMD, c], interval: 5s, retries: 3}")
    );
}

#[test]
fn new_services_and_top_level_objects_are_added() {
    let m = merged(
        "services: {web: {image: a}}\nvolumes: {data: {driver: local}}",
        "services: {db: {image: b}}\nvolumes: {data: {labels: {x: y}}, more: {}}\nname: p",
    );
    assert_eq!(m["services"]["db"]["image"], yaml("b"));
    assert_eq!(
        m["volumes"],
        yaml("{data: {driver: local, labels: {x: y}}, more: {}}")
    );
    assert_eq!(m["name"], yaml("p"));
}

#[test]
fn reset_and_override_tags() {
    let m = merged(
        "services: {web: {image: a, ports: ['80:80'], environment: {A: '1', B: '2'}}}",
        "services: {web: {ports: !reset [], environment: !override {C: '3'}}}",
    );
    assert_eq!(svc(&m).get("ports"), None);
    assert_eq!(svc(&m)["environment"], yaml("{C: '3'}"));
    assert_eq!(svc(&m)["image"], yaml("a"));
}

#[test]
fn logging_options_merge_unless_the_driver_changes() {
    let m = merged(
        "services: {web: {logging: {driver: json-file, options: {max-size: 1m}}}}",
        "services: {web: {logging: {options: {max-file: '3'}}}}",
    );
    assert_eq!(
        svc(&m)["logging"],
        yaml("{driver: json-file, options: {max-size: 1m, max-file: '3'}}")
    );
    let m = merged(
        "services: {web: {logging: {driver: json-file, options: {max-size: 1m}}}}",
        "services: {web: {logging: {driver: syslog, options: {tag: x}}}}",
    );
    assert_eq!(
        svc(&m)["logging"],
        yaml("{driver: syslog, options: {tag: x}}")
    );
}
