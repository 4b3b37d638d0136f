//! Hostile registries: `rrun pull` from a registry of the test's own on
//! 127.0.0.1 (a few lines of HTTP serving crafted answers) that lies about
//! blobs and manifests. Each pull is refused with one clear line, rrund
//! stays up, and nothing half-pulled is listed.

mod common;

use common::daemon::Daemon;
use common::layers::{layer, sha256, Entry};
use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;

/// What the fake registry serves: a manifest for `repo:latest` and blobs
/// by digest, exactly as given (right or wrong).
struct Served {
    manifest: Vec<u8>,
    blobs: HashMap<String, Vec<u8>>,
}

/// Serves `served` on 127.0.0.1 (one request per connection); returns the
/// host:port. The thread ends with the test process.
fn fake_registry(served: Served) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let served = Arc::new(served);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let served = served.clone();
            std::thread::spawn(move || answer(conn, &served));
        }
    });
    addr
}

fn answer(mut conn: std::net::TcpStream, served: &Served) {
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // The headers are read and ignored.
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body): (&str, &str, &[u8]) = if path == "/v2/" {
        ("200 OK", "application/json", b"{}")
    } else if path.contains("/manifests/") {
        (
            "200 OK",
            "application/vnd.oci.image.manifest.v1+json",
            &served.manifest,
        )
    } else if let Some(d) = path.split("/blobs/").nth(1) {
        match served.blobs.get(d) {
            Some(b) => ("200 OK", "application/octet-stream", b),
            None => ("404 Not Found", "application/json", b"{\"errors\":[]}"),
        }
    } else {
        ("404 Not Found", "application/json", b"{\"errors\":[]}")
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        let _ = conn.write_all(body);
    }
}

/// A one-layer image: (manifest, blobs by digest, the layer's digest).
fn image(layer_bytes: &[u8]) -> (serde_json::Value, HashMap<String, Vec<u8>>, String) {
    let ld = format!("sha256:{}", sha256(layer_bytes));
    let config = json!({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [ld]}})
    .to_string();
    let cd = format!("sha256:{}", sha256(config.as_bytes()));
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer_bytes.len()}]});
    let mut blobs = HashMap::new();
    blobs.insert(cd, config.into_bytes());
    blobs.insert(ld.clone(), layer_bytes.to_vec());
    (manifest, blobs, ld)
}

fn plain_layer() -> Vec<u8> {
    layer(&[Entry::Dir("etc"), Entry::File("etc/hello", "hello\n")])
}

/// `rrun pull` from the fake registry must fail with one of `words`;
/// rrund answers after and lists no image.
fn refused(d: &Daemon, served: Served, words: &[&str]) {
    let host = fake_registry(served);
    let out = d.rrun(&["pull", &format!("{host}/hostile/image:latest")]);
    let err = text(&out.stderr).to_lowercase();
    assert!(!out.status.success(), "pulled: {}", text(&out.stdout));
    assert!(
        words.iter().any(|w| err.contains(w)) && !err.contains("panicked"),
        "unclear error (wanted one of {words:?}): {err}"
    );
    assert!(
        d.rrun(&["version"]).status.success(),
        "rrund died: {}",
        d.log()
    );
    let images = d.ok(&["images", "-a", "-q"]);
    assert!(images.trim().is_empty(), "half-pulled image: {images}");
}

#[test]
fn control_an_honest_fake_registry_is_pulled() {
    // The fake registry itself works: the refusals below are the lies'.
    let d = Daemon::start();
    let (manifest, blobs, _) = image(&plain_layer());
    let host = fake_registry(Served {
        manifest: manifest.to_string().into_bytes(),
        blobs,
    });
    d.ok(&["pull", &format!("{host}/hostile/image:latest")]);
    assert!(!d.ok(&["images", "-q"]).trim().is_empty());
}

#[test]
fn a_blob_that_is_not_its_digest_is_refused() {
    let d = Daemon::start();
    let (manifest, mut blobs, ld) = image(&plain_layer());
    blobs.get_mut(&ld).unwrap()[600] ^= 0xff;
    refused(
        &d,
        Served {
            manifest: manifest.to_string().into_bytes(),
            blobs,
        },
        &["digest", "sha256", "verif", "mismatch"],
    );
}

#[test]
fn a_blob_longer_than_its_descriptor_is_refused() {
    let d = Daemon::start();
    let (manifest, mut blobs, ld) = image(&plain_layer());
    blobs
        .get_mut(&ld)
        .unwrap()
        .extend(std::iter::repeat_n(0u8, 4096));
    refused(
        &d,
        Served {
            manifest: manifest.to_string().into_bytes(),
            blobs,
        },
        &["size", "bytes", "digest", "length"],
    );
}

#[test]
fn a_manifest_of_absurd_size_is_refused() {
    let d = Daemon::start();
    let (manifest, blobs, _) = image(&plain_layer());
    let mut bytes = manifest.to_string().into_bytes();
    bytes.pop();
    bytes.extend(std::iter::repeat_n(b' ', 64 << 20));
    bytes.push(b'}');
    refused(
        &d,
        Served {
            manifest: bytes,
            blobs,
        },
        &["too large", "size", "limit", "manifest"],
    );
}
