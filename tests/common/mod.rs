//! Shared harness of the end-to-end tests: the built binaries, the test
//! images, bundles in temporary directories, and commands with timeouts.
#![allow(dead_code)]

pub mod callers;
pub mod daemon;
pub mod layers;
pub mod leftovers;
pub mod pty;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The directory holding the workspace's built binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("RRUN_BIN_DIR") {
        return PathBuf::from(d);
    }
    // The test executable lives in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is not built: run `cargo build --workspace` (scripts/test.sh does)",
        p.display()
    );
    p
}

/// The test images built by scripts/build-test-images.sh.
pub fn images() -> PathBuf {
    let dir = std::env::var_os("RRUN_TEST_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/images"));
    assert!(
        dir.join("busybox/rootfs/bin/busybox").exists(),
        "test images missing in {}: run scripts/build-test-images.sh",
        dir.display()
    );
    dir
}

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Runs a command with a hard timeout (coreutils `timeout`, which kills it).
/// Output goes to files, not pipes: a detached container keeps its stdio
/// open long after the command returns, and the test waits for the command,
/// not for the container.
pub fn run_timeout(secs: u64, program: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::{Read, Seek};
    let mut out = tempfile::tempfile().unwrap();
    let mut err = tempfile::tempfile().unwrap();
    let mut cmd = Command::new("timeout");
    cmd.arg("-k")
        .arg("5")
        .arg(secs.to_string())
        .arg(program)
        .args(args);
    cmd.stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(err.try_clone().unwrap()));
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("spawn timeout");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let status = child.wait().expect("wait");
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    out.rewind().unwrap();
    out.read_to_end(&mut stdout).unwrap();
    err.rewind().unwrap();
    err.read_to_end(&mut stderr).unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Now, in seconds since the epoch (`events --since/--until`).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Polls `f` every few milliseconds until it returns Some or the deadline
/// passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// An OCI bundle in a temporary directory: a private copy of the busybox
/// rootfs and a config.json the test edits as JSON.
pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub spec: Value,
}

impl Bundle {
    pub fn new(args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("rrun-bundle-")
            .tempdir()
            .unwrap();
        let src = images().join("busybox/rootfs");
        let st = Command::new("cp")
            .arg("-a")
            .arg(&src)
            .arg(dir.path().join("rootfs"))
            .status()
            .unwrap();
        assert!(st.success(), "copy rootfs");
        let out = run_timeout(
            10,
            &bin("rrun-oci"),
            &["spec", "--bundle", dir.path().to_str().unwrap()],
            None,
        );
        assert!(out.status.success(), "rrun-oci spec: {}", text(&out.stderr));
        let mut spec: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap())
                .unwrap();
        spec["process"]["terminal"] = json!(false);
        // `rrun-oci spec` (like `runc spec`) makes the root read-only; the
        // tests want to write into their private copy.
        spec["root"]["readonly"] = json!(false);
        spec["process"]["args"] = json!(args);
        Bundle { dir, spec }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    pub fn write(&self) {
        std::fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_vec_pretty(&self.spec).unwrap(),
        )
        .unwrap();
    }

    /// Removes a namespace type from the spec.
    pub fn drop_namespace(&mut self, typ: &str) {
        let ns = self.spec["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != typ);
    }

    pub fn add_namespace(&mut self, typ: &str) {
        self.spec["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": typ}));
    }
}

/// An `rrun-oci` with a state root of its own. Containers it made are
/// force-deleted when it goes away, even if the test failed.
pub struct Oci {
    pub root: tempfile::TempDir,
    ids: std::cell::RefCell<Vec<String>>,
}

impl Oci {
    pub fn new() -> Oci {
        Oci {
            root: tempfile::Builder::new()
                .prefix("rrun-oci-root-")
                .tempdir()
                .unwrap(),
            ids: Default::default(),
        }
    }

    pub fn track(&self, id: &str) {
        self.ids.borrow_mut().push(id.to_string());
    }

    /// Runs `rrun-oci --root <root> args…` with a timeout.
    pub fn cmd(&self, args: &[&str]) -> Output {
        self.cmd_in(args, None)
    }

    pub fn cmd_in(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut full = vec!["--root", self.root.path().to_str().unwrap()];
        full.extend_from_slice(args);
        if let Some(pos) = args.iter().position(|a| *a == "create" || *a == "run") {
            if let Some(id) = args.last() {
                let _ = pos;
                self.track(id);
            }
        }
        run_timeout(60, &bin("rrun-oci"), &full, stdin)
    }

    /// Runs a command that must succeed, returning its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "rrun-oci {args:?} failed ({}): {}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `run --detach` of a bundle (written first) under a new unique id.
    pub fn run_detached(&self, bundle: &Bundle, prefix: &str) -> String {
        bundle.write();
        let id = unique(prefix);
        self.ok(&[
            "run",
            "--detach",
            "--bundle",
            bundle.path().to_str().unwrap(),
            &id,
        ]);
        id
    }

    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    /// `run` of a bundle; returns (exit code, stdout, stderr).
    pub fn run(&self, bundle: &Bundle) -> (i32, String, String) {
        bundle.write();
        let id = unique("run");
        let out = self.cmd(&["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }
}

impl Drop for Oci {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = run_timeout(
                30,
                &bin("rrun-oci"),
                &[
                    "--root",
                    self.root.path().to_str().unwrap(),
                    "delete",
                    "--force",
                    id,
                ],
                None,
            );
        }
    }
}

/// Mount points on the host whose path contains `needle`.
pub fn host_mounts_containing(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

/// The cgroup v1 directory of a controller for a container path, or the
/// v2 one on a unified host.
pub fn cgroup_dir(controller: &str, path: &str) -> PathBuf {
    let v1 = Path::new("/sys/fs/cgroup").join(controller);
    if v1.exists() {
        v1.join(path.trim_start_matches('/'))
    } else {
        Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'))
    }
}

/// A free TCP port on 127.0.0.1 (the OS picks it; a race with another
/// process is caught by [`Registry::start`], which checks its own bind).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real registry (Debian's docker-registry) on 127.0.0.1, serving from a
/// temporary directory; stopped on drop.
pub struct Registry {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_in(Registry::new_dir(), "")
    }

    fn new_dir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("rrun-registry-")
            .tempdir()
            .unwrap()
    }

    /// A registry with basic auth: one user in a bcrypt htpasswd file
    /// (apache2-utils' htpasswd) in the registry's own directory.
    pub fn start_htpasswd(user: &str, password: &str) -> Registry {
        let out = run_timeout(30, Path::new("htpasswd"), &["-Bbn", user, password], None);
        assert!(
            out.status.success(),
            "htpasswd (apache2-utils, scripts/deps/images.txt): {}",
            text(&out.stderr)
        );
        let dir = Registry::new_dir();
        let file = dir.path().join("htpasswd");
        std::fs::write(&file, &out.stdout).unwrap();
        let extra = format!(
            "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
            file.display()
        );
        Registry::start_in(dir, &extra)
    }

    /// Serves from `dir`, with `extra` (top-level keys) in its config.yml.
    fn start_in(dir: tempfile::TempDir, extra: &str) -> Registry {
        let log = dir.path().join("registry.log");
        for _ in 0..5 {
            let port = free_port();
            let cfg = format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{extra}",
                dir.path().join("data").display()
            );
            let cfg_path = dir.path().join("config.yml");
            std::fs::write(&cfg_path, cfg).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&cfg_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("docker-registry (scripts/deps) must be installed");
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken: try another
                }
                // Ready once it logs its own bind (a bare connect could
                // reach another process that took the port).
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains(&format!("listening on 127.0.0.1:{port}")) {
                    return Registry { port, dir, child };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "docker-registry did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Pushes the busybox OCI layout here as `repo:tag` (skopeo, with a timeout).
    pub fn push_busybox(&self, repo_tag: &str) {
        self.push_image("busybox", repo_tag);
    }

    /// Pushes the OCI layout `<images()>/<layout_name>/oci` (tag `latest`)
    /// here as `repo:tag`, e.g. `push_image("mysql", "library/mysql:5.7")`;
    /// the layouts are those of scripts/build-test-images.sh and
    /// scripts/build-walkthrough-images.sh (mysql, netshoot, todo-app).
    pub fn push_image(&self, layout_name: &str, repo_tag: &str) {
        let layout = images().join(layout_name).join("oci");
        assert!(
            layout.join("index.json").exists(),
            "test image {} missing: run scripts/build-test-images.sh",
            layout.display()
        );
        let src = format!("oci:{}:latest", layout.display());
        let dst = format!("docker://{}/{repo_tag}", self.host());
        let out = run_timeout(
            300,
            Path::new("skopeo"),
            &["copy", "--dest-tls-verify=false", &src, &dst],
            None,
        );
        assert!(
            out.status.success(),
            "skopeo copy {src} {dst}: {}",
            text(&out.stderr)
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
