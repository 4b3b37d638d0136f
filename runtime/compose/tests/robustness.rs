//! Bad input never panics and always gets one line: a rich file with each
//! of its values replaced in turn by values of every other kind.

mod common;

use serde_yaml_ng::Value;

const RICH: &str = r#"
name: rich
x-base: &base {restart: always}
services:
  web:
    <<: *base
    image: nginx
    build: {context: ., args: [A=1], target: dev}
    command: nginx -g 'daemon off;'
    ports: ["127.0.0.1:8080:80", {target: 443, published: "8443"}]
    volumes: ["./html:/html:ro", "data:/data", {type: tmpfs, target: /t, tmpfs: {size: 1m}}]
    environment: {A: "1"}
    labels: [a=b]
    depends_on: {db: {condition: service_healthy}}
    networks: {front: {aliases: [w]}}
    healthcheck: {test: [CMD, true], interval: 5s, retries: 3}
    ulimits: {nofile: {soft: 1, hard: 2}}
    logging: {driver: json-file, options: {max-size: 1m}}
    deploy: {replicas: 1, resources: {limits: {cpus: "0.5", memory: 1g}}}
    secrets: [s]
    extra_hosts: ["a:1.2.3.4"]
  db:
    image: mysql
    network_mode: host
  tool:
    image: busybox
    profiles: [tools]
networks:
  front: {driver: bridge, ipam: {config: [{subnet: 10.0.0.0/24}]}}
volumes:
  data: {external: {name: d}}
secrets:
  s: {file: ./s.txt}
"#;

const REPLACEMENTS: &[&str] = &[
    "null",
    "x",
    "[]",
    "{}",
    "-1",
    "70000",
    "true",
    "[[1]]",
    "{a: {b: c}}",
    "\"${\"",
    "\"$$\"",
];

/// The paths of every value in `v`.
fn paths(v: &Value, at: Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(at.clone());
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                let mut p = at.clone();
                p.push(k.clone());
                paths(child, p, out);
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter().enumerate() {
                let mut p = at.clone();
                p.push(Value::from(i as u64));
                paths(child, p, out);
            }
        }
        _ => {}
    }
}

fn slot<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, k| match (v, k) {
        (Value::Sequence(items), Value::Number(n)) => &mut items[n.as_u64().unwrap() as usize],
        (Value::Mapping(m), k) => m.get_mut(k).unwrap(),
        _ => unreachable!(),
    })
}

/// What `config` prints (the active services, as Compose) loads back to
/// the same project (Compose prints the default port mode, `ingress`).
fn round_trip(p: &rrun_compose::Project, what: &str) {
    let out = rrun_compose::to_yaml(p);
    let mut again = common::try_project(&out)
        .unwrap_or_else(|e| panic!("{what}: config output does not load: {e}\n{out}"));
    for s in again
        .services
        .values_mut()
        .chain(again.disabled_services.values_mut())
    {
        for port in &mut s.ports {
            if port.mode.as_deref() == Some("ingress") {
                port.mode = None;
            }
        }
    }
    assert_eq!(again.services, p.services, "{what}\n{out}");
    assert_eq!(again.networks, p.networks, "{what}\n{out}");
    assert_eq!(again.volumes, p.volumes, "{what}\n{out}");
    assert_eq!(again.secrets, p.secrets, "{what}\n{out}");
}

#[test]
fn every_value_replaced_by_every_kind() {
    let base: Value = serde_yaml_ng::from_str(RICH).unwrap();
    assert!(
        common::try_project(RICH).is_ok(),
        "{:?}",
        common::try_project(RICH).err()
    );
    let mut all = Vec::new();
    paths(&base, vec![], &mut all);
    let mut errors = 0;
    for path in all.iter().skip(1) {
        for r in REPLACEMENTS {
            let mut tree = base.clone();
            *slot(&mut tree, path) = serde_yaml_ng::from_str(r).unwrap();
            let text = serde_yaml_ng::to_string(&tree).unwrap();
            match common::try_project(&text) {
                Err(e) => {
                    let line = e.to_string();
                    assert!(
                        !line.contains('\n') && !line.is_empty(),
                        "{path:?} = {r}: {line}"
                    );
                    errors += 1;
                }
                Ok(p) => round_trip(&p, &format!("{path:?} = {r}")),
            }
        }
    }
    assert!(
        errors > 100,
        "the replacements should break most files, broke {errors}"
    );
}
