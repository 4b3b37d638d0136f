//! Hostile and bad input on the API: malformed JSON, wrong types, huge
//! bodies, unknown fields, `../` in names, invalid names and references.
//! Each gets a 4xx with a clear message (Docker's `{"message": …}`), never a
//! panic (rrund still answers `/_ping` after), and never a half-made object
//! (the lists show nothing new). A volume the kernel will not mount is
//! dockerd's 500, by the kind of its failure.

mod common;

use common::daemon::{http, Daemon};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// One HTTP/1.0 request with a body; (status, body). None when rrund
/// closed the connection without an answer.
fn request(socket: &Path, method: &str, path: &str, body: &[u8]) -> Option<(u16, String)> {
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(20))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: rrun\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .ok()?;
    // A server may answer (and close) before reading a huge body.
    let _ = s.write_all(body);
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let code = resp.split_whitespace().nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

/// Everything the daemon holds, as its lists show it.
fn inventory(d: &Daemon) -> Vec<String> {
    [
        "/containers/json?all=1",
        "/volumes",
        "/networks",
        "/images/json",
    ]
    .iter()
    .map(|p| http(&d.socket(), "GET", p).expect("list").1)
    .collect()
}

/// Sends the request, then checks: a 4xx whose JSON message names the
/// problem (one of `words`), rrund alive, nothing new in the lists.
fn refused(d: &Daemon, method: &str, path: &str, body: &[u8], words: &[&str]) {
    let before = inventory(d);
    let what = format!("{method} {path} ({} bytes)", body.len());
    let (code, resp) = request(&d.socket(), method, path, body)
        .unwrap_or_else(|| panic!("{what}: no answer\n{}", d.log()));
    assert!((400..500).contains(&code), "{what}: {code} {resp}");
    let msg: serde_json::Value = serde_json::from_str(&resp)
        .unwrap_or_else(|_| panic!("{what}: not Docker's JSON error: {resp}"));
    let msg = msg["message"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        words.iter().any(|w| msg.contains(&w.to_lowercase())),
        "{what}: unclear message {msg:?} (wanted one of {words:?})"
    );
    assert_eq!(
        http(&d.socket(), "GET", "/_ping"),
        Some((200, "OK".into())),
        "{what}: rrund stopped answering\n{}",
        d.log()
    );
    assert_eq!(inventory(d), before, "{what}: a half-made object");
    assert!(
        !d.log().contains("panicked"),
        "{what}: rrund panicked\n{}",
        d.log()
    );
}

#[test]
fn malformed_json_is_a_400() {
    let d = Daemon::start();
    d.load_busybox();
    for body in [
        &b"{\"Image\": "[..],
        b"not json at all",
        b"[1, 2, 3]",
        b"{\"Image\": \"busybox\", \"Cmd\": [\"true\"]",
        b"\xff\xfe\x00garbage",
    ] {
        refused(
            &d,
            "POST",
            "/containers/create",
            body,
            &["json", "invalid", "parse"],
        );
    }
    refused(
        &d,
        "POST",
        "/networks/create",
        b"{\"Name\": ",
        &["json", "invalid", "parse"],
    );
    refused(
        &d,
        "POST",
        "/volumes/create",
        b"{{",
        &["json", "invalid", "parse"],
    );
}

#[test]
fn wrong_types_are_a_400() {
    let d = Daemon::start();
    d.load_busybox();
    for body in [
        r#"{"Image": 5}"#,
        r#"{"Image": "busybox", "Cmd": "true", "Env": {"A": 1}}"#,
        r#"{"Image": "busybox", "HostConfig": {"Memory": "lots"}}"#,
        r#"{"Image": "busybox", "HostConfig": {"PortBindings": [1]}}"#,
        r#"{"Image": "busybox", "ExposedPorts": ["80/tcp"]}"#,
    ] {
        refused(
            &d,
            "POST",
            "/containers/create",
            body.as_bytes(),
            &["json", "invalid", "type", "expected"],
        );
    }
    refused(
        &d,
        "POST",
        "/networks/create",
        br#"{"Name": ["a"]}"#,
        &["json", "invalid", "type", "expected"],
    );
    refused(
        &d,
        "POST",
        "/volumes/create",
        br#"{"Name": 7}"#,
        &["json", "invalid", "type", "expected"],
    );
}

#[test]
fn a_huge_body_is_refused_and_rrund_stays_up() {
    let d = Daemon::start();
    d.load_busybox();
    // 64 MiB of one JSON string: a limit, not an out-of-memory daemon.
    let mut body = br#"{"Image": "busybox", "Cmd": [""#.to_vec();
    body.extend(std::iter::repeat_n(b'a', 64 << 20));
    body.extend_from_slice(br#""]}"#);
    refused(
        &d,
        "POST",
        "/containers/create",
        &body,
        &["too large", "length limit", "body", "size"],
    );
}

#[test]
fn unknown_fields_are_ignored_as_docker_does() {
    // Docker's decoder ignores fields it does not know (newer clients send
    // them to older daemons): created, and nothing but what was asked.
    let d = Daemon::start();
    d.load_busybox();
    let (code, resp) = request(
        &d.socket(),
        "POST",
        "/containers/create?name=unknownfields",
        br#"{"Image": "busybox", "Cmd": ["true"], "NoSuchField": {"x": 1}, "HostConfig": {"Bogus": true}}"#,
    )
    .unwrap();
    assert_eq!(code, 201, "{resp}");
    let (code, _) = http(&d.socket(), "GET", "/containers/unknownfields/json").unwrap();
    assert_eq!(code, 200);
    d.ok(&["rm", "unknownfields"]);
}

#[test]
fn path_traversal_in_names_is_refused() {
    let d = Daemon::start();
    d.load_busybox();
    let canary = d.dir.path().join("escaped");
    for name in ["../../escaped", "..", "a/../../b", "%2e%2e%2fescaped"] {
        refused(
            &d,
            "POST",
            &format!("/containers/create?name={name}"),
            br#"{"Image": "busybox", "Cmd": ["true"]}"#,
            &["invalid container name", "name"],
        );
    }
    for name in ["../../escaped", "..", "a/b", "."] {
        let body = serde_json::json!({"Name": name}).to_string();
        refused(&d, "POST", "/volumes/create", body.as_bytes(), &["name"]);
    }
    for name in ["../../escaped", "a/../b"] {
        let body = serde_json::json!({"Name": name}).to_string();
        refused(&d, "POST", "/networks/create", body.as_bytes(), &["name"]);
    }
    assert!(!canary.exists(), "a name made a file outside the data root");
    assert!(!d.data_root().parent().unwrap().join("escaped").exists());
}

#[test]
fn invalid_names_and_references_are_refused() {
    let d = Daemon::start();
    d.load_busybox();
    // (Docker sets no length limit on a container's name.)
    for name in ["-dash", "with space", "semi;colon", "_under", "a"] {
        refused(
            &d,
            "POST",
            &format!("/containers/create?name={}", name.replace(' ', "%20")),
            br#"{"Image": "busybox", "Cmd": ["true"]}"#,
            &["invalid container name", "name"],
        );
    }
    for image in [
        "UPPER/case",
        "busybox:bad:tag",
        "a//b",
        "@sha256:zz",
        "busybox@sha256:123",
    ] {
        let body = serde_json::json!({"Image": image, "Cmd": ["true"]}).to_string();
        refused(
            &d,
            "POST",
            "/containers/create",
            body.as_bytes(),
            &["reference", "invalid", "no such image", "format"],
        );
    }
    refused(
        &d,
        "POST",
        "/images/busybox/tag?repo=UPPER&tag=x",
        b"",
        &["reference", "invalid", "repository", "format"],
    );
    refused(
        &d,
        "POST",
        "/images/busybox/tag?repo=ok&tag=bad:tag",
        b"",
        &["reference", "invalid", "tag", "format"],
    );
    refused(
        &d,
        "POST",
        "/images/create?fromImage=UPPER/Case&tag=latest",
        b"",
        &["reference", "invalid", "repository", "format"],
    );
    // No route (an empty name, `rmi ""`; a path that is no endpoint):
    // Docker's 404 with a message, not an empty body ("unknown error").
    refused(&d, "DELETE", "/images/", b"", &["page not found"]);
    refused(
        &d,
        "GET",
        "/v1.44/no/such/endpoint",
        b"",
        &["page not found"],
    );
    let out = d.rrun(&["rmi", ""]);
    assert_eq!(
        common::text(&out.stderr).trim(),
        "Error response from daemon: page not found"
    );
}

/// A volume that cannot be attached answers by the kind of its failure,
/// the same at create as at start (errors.rs): a mount the kernel refuses
/// is dockerd's 500 (its "error while mounting volume"), a missing
/// `--mount type=bind` source its 400; either way no container is made.
#[test]
fn a_volume_that_cannot_be_attached_answers_by_its_kind() {
    let d = Daemon::start();
    d.load_busybox();
    let vol = common::unique("unmountable");
    let body = serde_json::json!({
        "Name": vol,
        "DriverOpts": {"type": "ext4", "device": "/dev/null"},
    });
    let (code, resp) = request(
        &d.socket(),
        "POST",
        "/volumes/create",
        body.to_string().as_bytes(),
    )
    .expect("volume create");
    assert_eq!(code, 201, "{resp}");
    let containers = || {
        http(&d.socket(), "GET", "/containers/json?all=1")
            .expect("list")
            .1
    };
    let before = containers();
    let create = |host: serde_json::Value| {
        let body = serde_json::json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": host});
        request(
            &d.socket(),
            "POST",
            "/containers/create",
            body.to_string().as_bytes(),
        )
        .expect("container create")
    };
    let (code, resp) = create(serde_json::json!({"Binds": [format!("{vol}:/data")]}));
    assert_eq!(code, 500, "{resp}");
    assert!(resp.contains(&format!("volume {vol}")), "{resp}");
    assert_eq!(containers(), before, "a half-made container");
    let missing = format!("/nonexistent-{}", common::unique("src"));
    let (code, resp) = create(serde_json::json!({
        "Mounts": [{"Type": "bind", "Source": missing, "Target": "/data"}]
    }));
    assert_eq!(code, 400, "{resp}");
    assert!(resp.contains("bind source path does not exist"), "{resp}");
    assert_eq!(containers(), before, "a half-made container");
}
