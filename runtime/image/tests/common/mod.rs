//! Shared fixtures for the root end-to-end tests: a real registry
//! (Debian's docker-registry) on 127.0.0.1 with a random port, small HTTP
//! servers (a token service, an auth/throttling proxy), OCI layouts built in
//! the test, and the `rrun-image` binary run with timeouts.
//!
//! Every process and server is stopped by a Drop guard, so a failing test
//! leaves nothing running. All traffic stays on 127.0.0.1.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::Digest as _;

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// Polls `f` until it returns Some or the deadline passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a command with a timeout (via coreutils `timeout`, which kills it).
pub fn run_with_timeout(secs: u64, program: &str, args: &[&str]) -> Output {
    let out = Command::new("timeout")
        .arg("-s")
        .arg("KILL")
        .arg(secs.to_string())
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    out
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rrun-image")
}

/// Output of `rrun-image --root STATE ARGS…` (90 s timeout).
pub fn rrun_image(state: &Path, extra: &[&str], args: &[&str]) -> Output {
    let mut all: Vec<&str> = vec!["--root", state.to_str().unwrap()];
    if !extra.contains(&"--daemon-config") {
        all.extend_from_slice(&["--daemon-config", "/nonexistent/daemon.json"]);
    }
    all.extend_from_slice(extra);
    all.extend_from_slice(args);
    // An empty Docker config unless the test passes its own.
    let out = Command::new("timeout")
        .args(["-s", "KILL", "90", bin()])
        .args(&all)
        .env("DOCKER_CONFIG", "/nonexistent-docker-config")
        .output()
        .unwrap();
    out
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "command should have failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The busybox OCI layout built by scripts/build-test-images.sh, building
/// it when missing.
pub fn busybox_oci() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let images = std::env::var_os("RRUN_TEST_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".cache/images"));
    let dir = images.join("busybox/oci");
    if !dir.join("index.json").exists() {
        let script = root.join("scripts/build-test-images.sh");
        let out = run_with_timeout(300, "bash", &[script.to_str().unwrap(), "busybox"]);
        assert!(
            out.status.success(),
            "build-test-images.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        dir.join("index.json").exists(),
        "{} missing after building",
        dir.display()
    );
    dir
}

/// A docker-registry process serving from a temp dir on 127.0.0.1.
pub struct Registry {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
    /// Dirs that live as long as the registry (its htpasswd file).
    extra_dirs: Vec<tempfile::TempDir>,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with("")
    }

    /// `extra` is YAML appended at top level (e.g. an `auth:` section).
    pub fn start_with(extra: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = free_port();
            let cfg = format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{extra}",
                dir.path().join("data").display()
            );
            let cfg_path = dir.path().join("config.yml");
            std::fs::write(&cfg_path, cfg).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&cfg_path)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
                .spawn()
                .expect("docker-registry (scripts/deps/images.txt) must be installed");
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken by someone else: try another
                }
                // Ready once it logs its own bind: a bare connect could reach
                // another process that took the port first.
                let log =
                    std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
                if log.contains(&format!("listening on 127.0.0.1:{port}")) {
                    return Registry {
                        port,
                        dir,
                        child,
                        extra_dirs: Vec::new(),
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "docker-registry did not start: {}",
            std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default()
        );
    }

    /// A registry with basic auth: one user in a bcrypt htpasswd file
    /// (apache2-utils' htpasswd), kept in the registry's own temp dir.
    pub fn start_htpasswd(user: &str, password: &str) -> Registry {
        let out = run_with_timeout(30, "htpasswd", &["-Bbn", user, password]);
        assert!(out.status.success(), "htpasswd (apache2-utils) failed");
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(&htpasswd, &out.stdout).unwrap();
        let mut reg = Registry::start_with(&format!(
            "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
            htpasswd.display()
        ));
        reg.extra_dirs.push(dir);
        reg
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// skopeo copy from an OCI layout (`oci:DIR:TAG`) to `repo:tag` here.
    pub fn push_oci(
        &self,
        layout: &Path,
        tag_in_layout: &str,
        dest: &str,
        all: bool,
        creds: Option<&str>,
    ) {
        let src = format!("oci:{}:{tag_in_layout}", layout.display());
        let dst = format!("docker://{}/{dest}", self.host());
        let mut args = vec!["copy", "--dest-tls-verify=false"];
        if all {
            args.push("--all");
        }
        if let Some(c) = creds {
            args.push("--dest-creds");
            args.push(c);
        }
        args.push(&src);
        args.push(&dst);
        let out = run_with_timeout(120, "skopeo", &args);
        assert!(
            out.status.success(),
            "skopeo copy {src} {dst}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The registry's on-disk file of a blob.
    pub fn blob_file(&self, hex: &str) -> PathBuf {
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP request head.
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub raw_head: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub type Handler = Arc<dyn Fn(Request, TcpStream) + Send + Sync>;

/// A tiny threaded HTTP/1.1 server on 127.0.0.1 (one request per
/// connection), stopped on drop.
pub struct Server {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(handler: Handler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let h = handler.clone();
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
                    if let Some(req) = read_head(&conn) {
                        h(req, conn);
                    }
                });
            }
        });
        Server {
            port,
            stop,
            thread: Some(thread),
        }
    }
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_head(conn: &TcpStream) -> Option<Request> {
    // A TLS ClientHello (an insecure-registry client trying HTTPS first):
    // close, as a plain HTTP server would fail it, instead of waiting for a
    // request line that never comes.
    let mut first = [0u8; 1];
    if conn.peek(&mut first).ok()? == 0 || first[0] == 0x16 {
        return None;
    }
    let mut r = BufReader::new(conn.try_clone().ok()?);
    let mut raw = Vec::new();
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    raw.extend_from_slice(line.as_bytes());
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).ok()? == 0 || raw.len() > 64 << 10 {
            return None;
        }
        if l == "\r\n" || l == "\n" {
            break;
        }
        raw.extend_from_slice(l.as_bytes());
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Some(Request {
        method,
        path,
        headers,
        raw_head: raw,
    })
}

pub fn respond(mut conn: TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
}

/// Forwards a request to 127.0.0.1:`upstream` and copies the answer back,
/// at most `rate` bytes per second when `rate` is non-zero (read each chunk,
/// so a test can lift the limit mid-transfer).
pub fn forward(
    req: &Request,
    mut conn: TcpStream,
    upstream: u16,
    rate: &AtomicU64,
    drop_auth: bool,
) {
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return respond(conn, "502 Bad Gateway", &[], b"");
    };
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        if k.eq_ignore_ascii_case("connection")
            || (drop_auth && k.eq_ignore_ascii_case("authorization"))
        {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    if up.write_all(head.as_bytes()).is_err() {
        return;
    }
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match up.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if conn.write_all(&buf[..n]).is_err() {
            return;
        }
        let r = rate.load(Ordering::SeqCst);
        if r > 0 {
            std::thread::sleep(Duration::from_secs_f64(n as f64 / r as f64));
        }
    }
}

/// A proxy in front of a registry: optionally throttled, optionally
/// demanding a bearer token (answering 401 with a challenge naming `realm`).
pub struct Proxy {
    pub server: Server,
    pub rate: Arc<AtomicU64>,
}

impl Proxy {
    pub fn start(upstream: u16, bearer: Option<(String, String)>) -> Proxy {
        let rate = Arc::new(AtomicU64::new(0));
        let r2 = rate.clone();
        let server = Server::start(Arc::new(move |req: Request, conn: TcpStream| {
            if let Some((realm, token)) = &bearer {
                let want = format!("Bearer {token}");
                if req.header("authorization") != Some(want.as_str()) {
                    let repo = req
                        .path
                        .strip_prefix("/v2/")
                        .and_then(|p| p.split("/manifests/").next())
                        .and_then(|p| p.split("/blobs/").next())
                        .unwrap_or("");
                    let ch = format!(
                        "Bearer realm=\"{realm}\",service=\"test-registry\",scope=\"repository:{repo}:pull\""
                    );
                    return respond(
                        conn,
                        "401 Unauthorized",
                        &[("WWW-Authenticate", &ch)],
                        b"{}",
                    );
                }
            }
            forward(&req, conn, upstream, &r2, bearer.is_some());
        }));
        Proxy { server, rate }
    }
}

/// A token service: hands `token` to clients that send `creds` as basic
/// auth (or to anyone when `creds` is None), and records the scopes asked.
pub struct TokenService {
    pub server: Server,
    pub scopes: Arc<Mutex<Vec<String>>>,
}

impl TokenService {
    pub fn start(token: &str, creds: Option<(&str, &str)>) -> TokenService {
        use base64::Engine as _;
        let expected = creds.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let token = token.to_string();
        let scopes = Arc::new(Mutex::new(Vec::new()));
        let s2 = scopes.clone();
        let server = Server::start(Arc::new(move |req: Request, conn: TcpStream| {
            if let Some(e) = &expected {
                if req.header("authorization") != Some(e.as_str()) {
                    return respond(
                        conn,
                        "401 Unauthorized",
                        &[],
                        b"{\"details\":\"bad credentials\"}",
                    );
                }
            }
            s2.lock().unwrap().push(req.path.clone());
            let body = json!({"token": token, "expires_in": 300}).to_string();
            respond(
                conn,
                "200 OK",
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            );
        }));
        TokenService { server, scopes }
    }
}

/// Builds OCI image layouts in the test.
pub struct Layout {
    pub dir: PathBuf,
}

pub struct Built {
    pub manifest: Value,
    pub digest: String,
    pub size: usize,
    pub config_digest: String,
    pub layer_digests: Vec<String>,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
        }
    }

    pub fn blob(&self, data: &[u8]) -> String {
        let hex = sha256_hex(data);
        std::fs::write(self.dir.join("blobs/sha256").join(&hex), data).unwrap();
        format!("sha256:{hex}")
    }

    /// An image from uncompressed layer tars, each compressed as `how`
    /// ("gzip", "zstd" or "none").
    pub fn image(&self, layers: &[Vec<u8>], how: &str, arch: &str, cmd: &[&str]) -> Built {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        let mut layer_digests = Vec::new();
        for l in layers {
            diff_ids.push(format!("sha256:{}", sha256_hex(l)));
            let (data, mt) = compress(l, how);
            let d = self.blob(&data);
            layer_digests.push(d.clone());
            descs.push(json!({"mediaType": mt, "digest": d, "size": data.len()}));
        }
        let config = json!({
            "architecture": arch, "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": cmd, "Labels": {"arch": arch}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        })
        .to_string();
        let config_digest = self.blob(config.as_bytes());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": descs,
        });
        let body = manifest.to_string();
        let digest = self.blob(body.as_bytes());
        Built {
            manifest,
            digest,
            size: body.len(),
            config_digest,
            layer_digests,
        }
    }

    /// Writes index.json naming `images` under `tag`: one image directly, or
    /// several as a nested multi-platform index.
    pub fn tag(&self, tag: &str, images: &[(&Built, &str, Option<&str>)]) -> String {
        let entry = |b: &Built, arch: &str, variant: Option<&str>| {
            let mut p = json!({"architecture": arch, "os": "linux"});
            if let Some(v) = variant {
                p["variant"] = json!(v);
            }
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": b.digest, "size": b.size, "platform": p})
        };
        let top = if images.len() == 1 {
            let (b, a, v) = images[0];
            entry(b, a, v)
        } else {
            let idx = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": images.iter().map(|(b, a, v)| entry(b, a, *v)).collect::<Vec<_>>(),
            })
            .to_string();
            let d = self.blob(idx.as_bytes());
            json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": idx.len()})
        };
        let mut top = top;
        top["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        let digest = top["digest"].as_str().unwrap().to_string();
        let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [top]});
        std::fs::write(self.dir.join("index.json"), index.to_string()).unwrap();
        digest
    }
}

pub fn compress(data: &[u8], how: &str) -> (Vec<u8>, &'static str) {
    match how {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            (
                e.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        }
        "zstd" => (
            zstd::encode_all(data, 3).unwrap(),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ),
        _ => (data.to_vec(), "application/vnd.oci.image.layer.v1.tar"),
    }
}

/// A tar built entry by entry, with raw names (hostile ones included: the
/// tar crate's checked setters would refuse `..`).
pub struct Tar {
    b: tar::Builder<Vec<u8>>,
}

impl Default for Tar {
    fn default() -> Self {
        Tar::new()
    }
}

impl Tar {
    pub fn new() -> Tar {
        Tar {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(name: &str, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        let bytes = name.as_bytes();
        assert!(bytes.len() < 100, "test names must fit the old header");
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_000_000);
        h
    }

    pub fn file(mut self, name: &str, data: &[u8]) -> Tar {
        let mut h = Tar::header(name, tar::EntryType::Regular, 0o644, data.len() as u64);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn file_with(
        mut self,
        name: &str,
        data: &[u8],
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
    ) -> Tar {
        let mut h = Tar::header(name, tar::EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(mtime);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn dir(mut self, name: &str, mode: u32) -> Tar {
        let mut h = Tar::header(name, tar::EntryType::Directory, mode, 0);
        h.set_cksum();
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Tar {
        let mut h = Tar::header(name, tar::EntryType::Symlink, 0o777, 0);
        h.set_link_name_literal(target).unwrap();
        h.set_cksum();
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    pub fn hardlink(mut self, name: &str, target: &str) -> Tar {
        let mut h = Tar::header(name, tar::EntryType::Link, 0o644, 0);
        h.set_link_name_literal(target).unwrap();
        h.set_cksum();
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    pub fn node(
        mut self,
        name: &str,
        kind: tar::EntryType,
        major: u32,
        minor: u32,
        mode: u32,
    ) -> Tar {
        let mut h = Tar::header(name, kind, mode, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        h.set_cksum();
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    /// A file carrying a PAX xattr record.
    pub fn file_xattr(mut self, name: &str, data: &[u8], key: &str, value: &str) -> Tar {
        self.b
            .append_pax_extensions([(format!("SCHILY.xattr.{key}").as_str(), value.as_bytes())])
            .unwrap();
        self.file(name, data)
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

/// Every blob under a state dir hashes to its own name (nothing that looks
/// complete is wrong); returns their names.
pub fn check_blobs(state: &Path) -> Vec<String> {
    let dir = state.join("images/blobs/sha256");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let data = std::fs::read(e.path()).unwrap();
        assert_eq!(
            sha256_hex(&data),
            name,
            "blob {name} does not match its digest"
        );
        names.push(name);
    }
    names
}

pub fn snapshots(state: &Path) -> Vec<String> {
    match std::fs::read_dir(state.join("snapshots")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    }
}

pub fn inspect(state: &Path, name: &str) -> Value {
    let out = ok(&rrun_image(state, &[], &["inspect", name]));
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A non-host architecture for multi-platform tests.
pub fn other_arch() -> &'static str {
    if host_arch() == "s390x" {
        "ppc64le"
    } else {
        "s390x"
    }
}
