//! Docker's client credentials: `~/.docker/config.json` (`auths` with a
//! base64 `user:password` in `auth`, `credsStore`, `credHelpers`) read for
//! pulls and pushes and written by login and logout, and the
//! `docker-credential-<name>` helpers called as the docker CLI calls them
//! (`get`, `store`, `erase`, the request on stdin, 30 seconds at most).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::reference::DEFAULT_DOMAIN;
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::StatusCode;

use crate::registry::{
    parse_challenge, Auth, Endpoint, RegistryClient, RegistryError, RegistryOptions,
};

/// Where Docker Hub's credentials are stored (its legacy v1 URL).
const HUB_SERVER: &str = "https://index.docker.io/v1/";

/// A user name and password, from Docker's config.json.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({}, <redacted>)", self.username)
    }
}

impl RegistryOptions {
    /// Reads `auths` from a Docker config.json (`auth` = base64 of
    /// `user:password`, or `username`/`password` fields). A missing file is
    /// not an error: pulls are then anonymous.
    pub fn load_docker_config(&mut self, path: &Path) -> Result<(), RegistryError> {
        #[derive(Deserialize)]
        struct Entry {
            auth: Option<String>,
            username: Option<String>,
            password: Option<String>,
        }
        #[derive(Deserialize)]
        struct Config {
            #[serde(default)]
            auths: BTreeMap<String, Entry>,
            #[serde(rename = "credsStore", default)]
            creds_store: Option<String>,
            #[serde(rename = "credHelpers", default)]
            cred_helpers: BTreeMap<String, String>,
        }
        let cfg_err = |detail: String| RegistryError::Config {
            path: path.display().to_string(),
            detail,
        };
        let body = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(cfg_err(e.to_string())),
        };
        let c: Config = serde_json::from_slice(&body).map_err(|e| cfg_err(e.to_string()))?;
        if let Some(store) = c.creds_store.filter(|s| !s.is_empty()) {
            self.creds_store = Some(store);
        }
        for (k, v) in c.cred_helpers {
            self.cred_helpers.insert(normalize_auth_key(&k), v);
        }
        for (key, e) in c.auths {
            let cred = match (e.auth.filter(|a| !a.is_empty()), e.username, e.password) {
                (Some(a), _, _) => {
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(a.trim())
                        .map_err(|e| cfg_err(format!("auth for {key}: {e}")))?;
                    let s = String::from_utf8(raw)
                        .map_err(|e| cfg_err(format!("auth for {key}: {e}")))?;
                    let (u, p) = s
                        .split_once(':')
                        .ok_or_else(|| cfg_err(format!("auth for {key} is not user:password")))?;
                    Credential {
                        username: u.into(),
                        password: p.into(),
                    }
                }
                (None, Some(u), Some(p)) => Credential {
                    username: u,
                    password: p,
                },
                _ => continue,
            };
            self.auths.insert(normalize_auth_key(&key), cred);
        }
        Ok(())
    }

    /// The credential for a registry host, as the docker CLI finds it: its
    /// `credHelpers` entry, else the `credsStore` helper, else `auths`.
    /// A helper that has nothing for the host (or fails) means anonymous.
    pub fn credential(&self, host: &str) -> Option<Credential> {
        let is_hub = is_hub(host);
        let server = server_key(host);
        let helper = helper_for(&self.cred_helpers, self.creds_store.as_deref(), host);
        if let Some(h) = helper {
            match helper_get(h, &server) {
                Ok(c) => return c,
                Err(e) => {
                    tracing::warn!(helper = %h, registry = %host, error = %e, "credential helper failed")
                }
            }
        }
        if let Some(c) = self.auths.get(host) {
            return Some(c.clone());
        }
        if is_hub {
            for k in ["index.docker.io", DEFAULT_DOMAIN, "registry-1.docker.io"] {
                if let Some(c) = self.auths.get(k) {
                    return Some(c.clone());
                }
            }
        }
        None
    }
}

impl RegistryClient {
    /// `docker login`: checks `cred` against the registry's `/v2/`, with
    /// basic auth or a bearer token fetched with it (no scope, as the
    /// docker CLI asks). docker.io's mirrors are not asked.
    pub fn login(&self, domain: &str, cred: &Credential) -> Result<(), RegistryError> {
        let endpoints: Vec<Endpoint> = self
            .options()
            .endpoints(domain)
            .into_iter()
            .filter(|e| !e.mirror)
            .collect();
        let mut last = None;
        for ep in &endpoints {
            match self.login_at(ep, cred) {
                Err(e @ RegistryError::Http { .. }) if ep.insecure_tls => last = Some(e),
                other => return other,
            }
        }
        Err(last.expect("at least one endpoint"))
    }

    fn login_at(&self, ep: &Endpoint, cred: &Credential) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", ep.base);
        let get = |auth: Option<Auth>| {
            let mut req = self
                .client(ep)?
                .get(&url)
                .timeout(Duration::from_secs(if ep.insecure_tls { 10 } else { 30 }));
            req = match auth {
                Some(Auth::Basic(c)) => req.basic_auth(c.username, Some(c.password)),
                Some(Auth::Bearer(t)) => req.bearer_auth(t),
                None => req,
            };
            req.send().map_err(|source| RegistryError::Http {
                url: url.clone(),
                source,
            })
        };
        let denied = |detail: String| RegistryError::Unauthorized {
            registry: ep.host.clone(),
            detail,
        };
        let resp = get(None)?;
        if resp.status().is_success() {
            return Ok(());
        }
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Err(RegistryError::Status {
                url: url.clone(),
                status: resp.status(),
                body: String::new(),
            });
        }
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge)
            .ok_or_else(|| denied("401 without a WWW-Authenticate challenge".into()))?;
        let auth = match challenge.scheme.as_str() {
            "basic" => Auth::Basic(cred.clone()),
            "bearer" => {
                let realm = challenge
                    .params
                    .get("realm")
                    .ok_or_else(|| denied("bearer challenge without a realm".into()))?;
                let service = challenge.params.get("service");
                Auth::Bearer(self.fetch_token(ep, realm, service, "", Some(cred))?)
            }
            other => return Err(denied(format!("unsupported auth scheme {other:?}"))),
        };
        let resp = get(Some(auth))?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(denied(format!(
                "{}: wrong user name or password for {}",
                resp.status(),
                cred.username
            ))),
            status => Err(RegistryError::Status {
                url,
                status,
                body: String::new(),
            }),
        }
    }
}

fn is_hub(host: &str) -> bool {
    matches!(
        host,
        DEFAULT_DOMAIN | "registry-1.docker.io" | "index.docker.io"
    )
}

/// The registry host a `docker login SERVER` argument names:
/// `https://host:5000/v2/` → `host:5000`; Docker Hub's names → `docker.io`.
pub fn registry_host(server: &str) -> String {
    let host = normalize_auth_key(server);
    if is_hub(&host) {
        DEFAULT_DOMAIN.to_string()
    } else {
        host
    }
}

/// The key a registry's credentials are stored under: the host, or Docker
/// Hub's legacy URL.
pub fn server_key(host: &str) -> String {
    if is_hub(host) {
        HUB_SERVER.to_string()
    } else {
        host.to_string()
    }
}

/// The helper for `host`: its `credHelpers` entry, else `credsStore`.
fn helper_for<'a>(
    helpers: &'a BTreeMap<String, String>,
    store: Option<&'a str>,
    host: &str,
) -> Option<&'a str> {
    helpers
        .get(host)
        .or_else(|| {
            is_hub(host)
                .then(|| helpers.get("index.docker.io"))
                .flatten()
        })
        .map(String::as_str)
        .or(store)
        .filter(|h| !h.is_empty())
}

/// Runs `docker-credential-<name> <action>` with `input` on stdin, as the
/// docker CLI does. Bounded to 30 seconds.
fn run_helper(name: &str, action: &str, input: &[u8]) -> Result<std::process::Output, String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(format!("invalid helper name {name:?}"));
    }
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(out) => out.map_err(|e| format!("{program}: {e}")),
        Err(_) => {
            // SAFETY: signalling the helper this function started.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            Err(format!("{program} did not answer within 30 s"))
        }
    }
}

/// `get` from a helper; Ok(None) when it has nothing for the server.
fn helper_get(name: &str, server: &str) -> Result<Option<Credential>, String> {
    let out = run_helper(name, "get", server.as_bytes())?;
    if !out.status.success() {
        // "credentials not found in native keychain": anonymous.
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct HelperAnswer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let a: HelperAnswer = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("docker-credential-{name}: bad answer: {e}"))?;
    if a.username == "<token>" {
        return Err(format!(
            "docker-credential-{name} returned an identity token, which rrun does not support yet"
        ));
    }
    Ok(Some(Credential {
        username: a.username,
        password: a.secret,
    }))
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn default_docker_config() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(|d| PathBuf::from(d).join("config.json"))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")))
}

/// Where `store_credential` put a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredIn {
    /// base64 in the file's `auths`.
    File,
    /// The named helper (`docker-credential-<name> store`).
    Helper(String),
}

/// The config file as a JSON object, keeping every key rrun does not know
/// (`psFormat`, `proxies`, …) untouched. A missing file is an empty one.
fn read_config_object(path: &Path) -> Result<Map<String, Value>, RegistryError> {
    let cfg_err = |detail: String| RegistryError::Config {
        path: path.display().to_string(),
        detail,
    };
    match std::fs::read(path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(b) => match serde_json::from_slice(&b).map_err(|e| cfg_err(e.to_string()))? {
            Value::Object(m) => Ok(m),
            _ => Err(cfg_err("not a JSON object".into())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(cfg_err(e.to_string())),
    }
}

/// Writes the config atomically with mode 0600 (it holds secrets), creating
/// its directory (0700) as the docker CLI does.
fn write_config_object(path: &Path, cfg: &Map<String, Value>) -> Result<(), RegistryError> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let cfg_err = |detail: String| RegistryError::Config {
        path: path.display().to_string(),
        detail,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| cfg_err(e.to_string()))?;
    let tmp = dir.join(format!(
        ".config.json.tmp-{}",
        crate::store::unique_suffix()
    ));
    let body = serde_json::to_vec_pretty(cfg).expect("a JSON object serialises");
    let res = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(&body)?;
            f.write_all(b"\n")?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(cfg_err(e.to_string()));
    }
    Ok(())
}

/// The helper named for `host` in a config object.
fn helper_in(cfg: &Map<String, Value>, host: &str) -> Option<String> {
    let helpers: BTreeMap<String, String> = cfg
        .get("credHelpers")
        .and_then(|h| serde_json::from_value(h.clone()).ok())
        .unwrap_or_default();
    let store = cfg.get("credsStore").and_then(Value::as_str);
    helper_for(&helpers, store, host).map(str::to_string)
}

/// `docker login`'s second half: saves `cred` for `host` in the helper the
/// config names for it, else base64 in `auths` (the file then holds the
/// password, as Docker warns).
pub fn store_credential(
    path: &Path,
    host: &str,
    cred: &Credential,
) -> Result<StoredIn, RegistryError> {
    let mut cfg = read_config_object(path)?;
    let server = server_key(host);
    if let Some(h) = helper_in(&cfg, host) {
        let input =
            json!({"ServerURL": server, "Username": cred.username, "Secret": cred.password});
        let out = run_helper(&h, "store", input.to_string().as_bytes()).map_err(|detail| {
            RegistryError::Config {
                path: path.display().to_string(),
                detail,
            }
        })?;
        if !out.status.success() {
            return Err(RegistryError::Config {
                path: path.display().to_string(),
                detail: format!(
                    "docker-credential-{h} store failed: {}",
                    String::from_utf8_lossy(&out.stdout).trim()
                ),
            });
        }
        return Ok(StoredIn::Helper(h));
    }
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", cred.username, cred.password));
    let auths = cfg
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    auths
        .as_object_mut()
        .expect("made an object above")
        .insert(server, json!({ "auth": auth }));
    write_config_object(path, &cfg)?;
    Ok(StoredIn::File)
}

/// `docker logout`: forgets `host`'s credentials, from its helper and from
/// `auths`. Returns whether there was anything to forget.
pub fn erase_credential(path: &Path, host: &str) -> Result<bool, RegistryError> {
    let mut cfg = read_config_object(path)?;
    let server = server_key(host);
    let mut found = false;
    if let Some(h) = helper_in(&cfg, host) {
        found |= run_helper(&h, "erase", server.as_bytes()).is_ok_and(|o| o.status.success());
    }
    if let Some(Value::Object(auths)) = cfg.get_mut("auths") {
        let keys: Vec<String> = auths
            .keys()
            .filter(|k| normalize_auth_key(k) == normalize_auth_key(&server))
            .cloned()
            .collect();
        for k in keys {
            auths.remove(&k);
            found = true;
        }
    }
    if found && path.exists() {
        write_config_object(path, &cfg)?;
    }
    Ok(found)
}

/// `https://index.docker.io/v1/` → `index.docker.io`; `host:5000` stays.
pub(crate) fn normalize_auth_key(key: &str) -> String {
    let k = key.split("://").nth(1).unwrap_or(key);
    k.split('/').next().unwrap_or(k).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},
                "127.0.0.1:5000":{"username":"a","password":"b:c"},"empty.io":{}}}"#,
        )
        .unwrap();
        let mut o = RegistryOptions::default();
        o.load_docker_config(&p).unwrap();
        assert_eq!(o.credential("docker.io").unwrap().username, "user");
        assert_eq!(o.credential("docker.io").unwrap().password, "pass");
        assert_eq!(o.credential("127.0.0.1:5000").unwrap().password, "b:c");
        assert!(o.credential("empty.io").is_none());
        assert!(!format!("{:?}", o.credential("docker.io")).contains("pass"));
        o.load_docker_config(&dir.path().join("missing.json"))
            .unwrap();
    }

    #[test]
    fn login_writes_auths_and_keeps_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/config.json");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            &p,
            r#"{"psFormat":"{{.ID}}","auths":{"other.io":{"auth":"eDp5"}}}"#,
        )
        .unwrap();
        let cred = Credential {
            username: "alice".into(),
            password: "pa:ss".into(),
        };
        assert_eq!(
            store_credential(&p, "127.0.0.1:5000", &cred).unwrap(),
            StoredIn::File
        );
        assert_eq!(
            store_credential(&p, "docker.io", &cred).unwrap(),
            StoredIn::File
        );
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "{{.ID}}");
        assert_eq!(v["auths"]["other.io"]["auth"], "eDp5");
        // base64("alice:pa:ss"), as the docker CLI writes it.
        assert_eq!(v["auths"]["127.0.0.1:5000"]["auth"], "YWxpY2U6cGE6c3M=");
        assert_eq!(v["auths"][HUB_SERVER]["auth"], "YWxpY2U6cGE6c3M=");
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&p).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        // What login wrote, pull and push read back.
        let mut o = RegistryOptions::default();
        o.load_docker_config(&p).unwrap();
        assert_eq!(o.credential("127.0.0.1:5000"), Some(cred.clone()));
        assert_eq!(o.credential("docker.io"), Some(cred));

        assert!(erase_credential(&p, "docker.io").unwrap());
        assert!(!erase_credential(&p, "docker.io").unwrap());
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert!(v["auths"].get(HUB_SERVER).is_none());
        assert!(v["auths"].get("127.0.0.1:5000").is_some());
        // Logout with no file at all: nothing to forget, nothing created.
        let none = dir.path().join("none/config.json");
        assert!(!erase_credential(&none, "x.io").unwrap());
        assert!(!none.exists());
    }

    #[test]
    fn helpers_chosen_as_docker_does() {
        let mut helpers = BTreeMap::new();
        helpers.insert("reg.io".to_string(), "pass".to_string());
        helpers.insert("index.docker.io".to_string(), "hub".to_string());
        assert_eq!(
            helper_for(&helpers, Some("desktop"), "reg.io"),
            Some("pass")
        );
        assert_eq!(
            helper_for(&helpers, Some("desktop"), "docker.io"),
            Some("hub")
        );
        assert_eq!(
            helper_for(&helpers, Some("desktop"), "x.io"),
            Some("desktop")
        );
        assert_eq!(helper_for(&helpers, Some(""), "x.io"), None);
        assert_eq!(server_key("docker.io"), HUB_SERVER);
        assert_eq!(server_key("127.0.0.1:5000"), "127.0.0.1:5000");
    }

    #[test]
    fn a_corrupt_config_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, "[1,2]").unwrap();
        let cred = Credential {
            username: "a".into(),
            password: "b".into(),
        };
        let e = store_credential(&p, "x.io", &cred).unwrap_err().to_string();
        assert!(
            e.contains("config.json") && e.contains("not a JSON object"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "[1,2]");
    }
}
