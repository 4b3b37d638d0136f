//! The OCI distribution client: endpoints (mirrors, insecure registries),
//! authentication (anonymous and credentialed bearer tokens, basic auth,
//! Docker's config.json), manifests and blob streams.
//!
//! Why reqwest (blocking, rustls) rather than `oci-client`: the pull has to
//! hash every byte itself as it streams (to verify the digest while the
//! layer is decompressed and unpacked in the same pass), try docker.io
//! mirrors before the origin, and speak plain HTTP to insecure registries
//! and localhost as Docker does; a plain HTTP client gives all of that with
//! no second copy of the protocol's state. Blocking, because unpacking is
//! syscall work that belongs on plain threads, never on an async executor.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use serde::Deserialize;

pub use crate::credentials::Credential;
use crate::manifest::MAX_MANIFEST_SIZE;
use crate::reference::{Digest, DEFAULT_DOMAIN};

/// Where docker.io really lives.
const DOCKER_IO_ORIGIN: &str = "https://registry-1.docker.io";
const TOKEN_MAX: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: the registry answered {status}: {body}")]
    Status {
        url: String,
        status: StatusCode,
        body: String,
    },
    #[error("{what} not found in {registry}")]
    NotFound { what: String, registry: String },
    #[error("{registry}: access denied ({detail}); check the credentials in your Docker config (docker login)")]
    Unauthorized { registry: String, detail: String },
    #[error("token service {realm}: {detail}")]
    Token { realm: String, detail: String },
    #[error("{url}: the response is larger than the {limit}-byte limit")]
    TooLarge { url: String, limit: u64 },
    #[error("reading {path}: {detail}")]
    Config { path: String, detail: String },
}

/// How to reach registries: daemon.json's `insecure-registries` and
/// `registry-mirrors`, and the credentials of `~/.docker/config.json`.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// `host[:port]` entries (or bare hosts) spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Base URLs of docker.io mirrors, tried in order before the origin.
    pub mirrors: Vec<String>,
    /// Registry host → credential.
    pub auths: BTreeMap<String, Credential>,
    /// Replaces docker.io's origin (`https://registry-1.docker.io`); tests
    /// point it at a closed local port so a mirror fallback never leaves
    /// the machine.
    pub docker_io_origin: Option<String>,
    /// config.json `credHelpers`: registry host → helper name
    /// (`docker-credential-<name>` on PATH).
    pub cred_helpers: BTreeMap<String, String>,
    /// config.json `credsStore`: the helper for every other registry.
    pub creds_store: Option<String>,
}

impl RegistryOptions {
    /// Reads `insecure-registries` and `registry-mirrors` from a daemon.json.
    pub fn load_daemon_json(&mut self, path: &Path) -> Result<(), RegistryError> {
        #[derive(Deserialize)]
        struct DaemonJson {
            #[serde(rename = "insecure-registries", default)]
            insecure: Vec<String>,
            #[serde(rename = "registry-mirrors", default)]
            mirrors: Vec<String>,
        }
        let cfg_err = |detail: String| RegistryError::Config {
            path: path.display().to_string(),
            detail,
        };
        let body = std::fs::read(path).map_err(|e| cfg_err(e.to_string()))?;
        let d: DaemonJson = serde_json::from_slice(&body).map_err(|e| cfg_err(e.to_string()))?;
        self.insecure_registries.extend(d.insecure);
        self.mirrors.extend(
            d.mirrors
                .into_iter()
                .map(|m| m.trim_end_matches('/').to_string()),
        );
        Ok(())
    }

    /// Docker treats localhost and 127.0.0.0/8 (and ::1) as insecure
    /// registries even when not listed.
    pub fn is_insecure(&self, domain: &str) -> bool {
        self.is_loopback(domain) || self.is_listed_insecure(domain)
    }

    fn is_loopback(&self, domain: &str) -> bool {
        let host = host_of(domain);
        host == "localhost"
            || host == "::1"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Named in daemon.json's insecure-registries (host, host:port, CIDR).
    fn is_listed_insecure(&self, domain: &str) -> bool {
        let host = host_of(domain);
        self.insecure_registries.iter().any(|i| {
            let i = i.trim_end_matches('/');
            i == domain || i == host || in_cidr(host, i)
        })
    }

    /// Where to fetch a repository of `domain` from, in order: docker.io's
    /// mirrors then the origin; for others the registry itself, over HTTP
    /// when insecure and HTTPS otherwise.
    pub fn endpoints(&self, domain: &str) -> Vec<Endpoint> {
        let mut out = Vec::new();
        if domain == DEFAULT_DOMAIN {
            for m in &self.mirrors {
                let host = m
                    .split("://")
                    .nth(1)
                    .unwrap_or(m)
                    .trim_end_matches('/')
                    .to_string();
                out.push(Endpoint {
                    base: m.trim_end_matches('/').to_string(),
                    host,
                    mirror: true,
                    insecure_tls: false,
                });
            }
            out.push(Endpoint {
                base: self
                    .docker_io_origin
                    .clone()
                    .unwrap_or_else(|| DOCKER_IO_ORIGIN.into()),
                host: DEFAULT_DOMAIN.into(),
                mirror: false,
                insecure_tls: false,
            });
        } else if self.is_listed_insecure(domain) {
            // Docker's way with listed insecure registries: HTTPS without
            // certificate checks first, plain HTTP when TLS fails.
            out.push(Endpoint {
                base: format!("https://{domain}"),
                host: domain.to_string(),
                mirror: false,
                insecure_tls: true,
            });
            out.push(Endpoint {
                base: format!("http://{domain}"),
                host: domain.to_string(),
                mirror: false,
                insecure_tls: false,
            });
        } else if self.is_loopback(domain) {
            // Unlisted loopback registries: plain HTTP straight away. A TLS
            // attempt first would stall on a plain HTTP server that waits
            // for a request line that never comes.
            out.push(Endpoint {
                base: format!("http://{domain}"),
                host: domain.to_string(),
                mirror: false,
                insecure_tls: false,
            });
        } else {
            out.push(Endpoint {
                base: format!("https://{domain}"),
                host: domain.to_string(),
                mirror: false,
                insecure_tls: false,
            });
        }
        out
    }
}

/// Whether `host` is an IPv4 address inside `cidr` (`10.0.0.0/8`), as
/// daemon.json's insecure-registries allows.
fn in_cidr(host: &str, cidr: &str) -> bool {
    let Some((net, len)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(ip), Ok(net), Ok(len)) = (
        host.parse::<std::net::Ipv4Addr>(),
        net.parse::<std::net::Ipv4Addr>(),
        len.parse::<u32>(),
    ) else {
        return false;
    };
    if len > 32 {
        return false;
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(ip) & mask == u32::from(net) & mask
}

fn host_of(domain: &str) -> &str {
    if let Some(rest) = domain.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    domain.split(':').next().unwrap_or(domain)
}

/// One place to fetch from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `scheme://host[:port]`
    pub base: String,
    /// The host whose credentials apply.
    pub host: String,
    pub mirror: bool,
    /// HTTPS without certificate verification (an insecure registry); a
    /// transport failure here falls back to the next endpoint (plain HTTP).
    pub insecure_tls: bool,
}

/// What a request is for, which decides the token scope asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    Pull,
    /// Pull and push on the repository, and pull on the repository a
    /// blob is mounted from.
    Push {
        mount_from: Option<String>,
    },
}

impl Access {
    fn scope(&self, repo: &str) -> String {
        match self {
            Access::Pull => format!("repository:{repo}:pull"),
            Access::Push { mount_from: None } => format!("repository:{repo}:pull,push"),
            Access::Push {
                mount_from: Some(from),
            } => format!("repository:{repo}:pull,push repository:{from}:pull"),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Auth {
    Basic(Credential),
    Bearer(String),
}

/// A registry client; cheap to share between threads.
pub struct RegistryClient {
    /// Built on first use ([`RegistryClient::client`]).
    http: Mutex<Option<Client>>,
    /// The same, skipping certificate checks, for insecure registries only.
    http_insecure: Mutex<Option<Client>>,
    opts: RegistryOptions,
    /// (endpoint base, token scope) → what to send.
    auth: Mutex<HashMap<(String, String), Auth>>,
}

/// A challenge from `WWW-Authenticate`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parses `Bearer realm="https://auth",service="registry",scope="a,b"`.
pub(crate) fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, mut rest) = match h.split_once(' ') {
        Some((s, r)) => (s, r.trim()),
        None => (h, ""),
    };
    let mut params = BTreeMap::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let mut val = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            val.push(n)
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => val.push(c),
                }
            }
            (val, &q[end? + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.insert(key, value);
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

impl RegistryClient {
    /// A client with `opts`; its HTTP clients are made on first use.
    pub fn new(opts: RegistryOptions) -> RegistryClient {
        RegistryClient {
            http: Mutex::new(None),
            http_insecure: Mutex::new(None),
            opts,
            auth: Mutex::new(HashMap::new()),
        }
    }

    /// The HTTP client for `ep`, built on its first use: building one loads
    /// the system's root certificates and starts reqwest's runtime thread,
    /// which a daemon that does not pull need not hold.
    pub(crate) fn client(&self, ep: &Endpoint) -> Result<Client, RegistryError> {
        let slot = if ep.insecure_tls {
            &self.http_insecure
        } else {
            &self.http
        };
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = Client::builder()
            .user_agent(concat!("rrun/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            // The blocking client's default 30 s total timeout would cut
            // off big layers; each request sets its own instead.
            .timeout(None::<Duration>)
            // Blob GETs redirect to storage; reqwest drops Authorization
            // on a redirect to another host.
            .redirect(reqwest::redirect::Policy::limited(10))
            .danger_accept_invalid_certs(ep.insecure_tls)
            .build()
            .map_err(|source| RegistryError::Http {
                url: "client".into(),
                source,
            })?;
        *slot = Some(c.clone());
        Ok(c)
    }

    pub fn options(&self) -> &RegistryOptions {
        &self.opts
    }

    /// `GET /v2/`: checks the endpoint speaks the distribution API before
    /// anything else (and fails fast on a dead mirror). A 401 is fine here:
    /// the challenge is answered per repository, with its scope, later.
    pub fn ping(&self, ep: &Endpoint) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", ep.base);
        let resp = self
            .client(ep)?
            .get(&url)
            // The HTTPS try of an insecure registry may meet a plain HTTP
            // server that never answers a ClientHello: give up soon.
            .timeout(Duration::from_secs(if ep.insecure_tls { 10 } else { 30 }))
            .send()
            .map_err(|source| RegistryError::Http {
                url: url.clone(),
                source,
            })?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::UNAUTHORIZED => Ok(()),
            StatusCode::NOT_FOUND => Err(RegistryError::NotFound {
                what: "the /v2/ API (not an OCI distribution registry?)".into(),
                registry: ep.host.clone(),
            }),
            status => Err(RegistryError::Status {
                url,
                status,
                body: String::new(),
            }),
        }
    }

    /// GETs a manifest by tag or digest; returns body and content type.
    /// The body is capped at [`MAX_MANIFEST_SIZE`].
    pub fn get_manifest(
        &self,
        ep: &Endpoint,
        repo: &str,
        selector: &str,
    ) -> Result<(Vec<u8>, Option<String>), RegistryError> {
        let url = format!("{}/v2/{repo}/manifests/{selector}", ep.base);
        let resp = self.send(
            ep,
            repo,
            &url,
            Some(MANIFEST_ACCEPT),
            Duration::from_secs(120),
            || format!("manifest {repo}:{selector}"),
        )?;
        let ct = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_capped(resp, &url, MAX_MANIFEST_SIZE)?;
        Ok((body, ct))
    }

    /// GETs a small blob (a config) whole, capped at `limit` bytes.
    pub fn get_blob_bytes(
        &self,
        ep: &Endpoint,
        repo: &str,
        digest: &Digest,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let resp = self.open_blob(ep, repo, digest, limit)?;
        read_capped(
            resp,
            &format!("{}/v2/{repo}/blobs/{digest}", ep.base),
            limit,
        )
    }

    /// Opens a blob stream. The caller must cap and hash what it reads.
    pub fn open_blob(
        &self,
        ep: &Endpoint,
        repo: &str,
        digest: &Digest,
        size: u64,
    ) -> Result<Response, RegistryError> {
        let url = format!("{}/v2/{repo}/blobs/{digest}", ep.base);
        // A stall cap, not a speed requirement: two minutes plus 64 KiB/s.
        let timeout = Duration::from_secs(120 + size / (64 << 10));
        self.send(ep, repo, &url, None, timeout, || {
            format!("blob {digest} of {repo}")
        })
    }

    /// Sends a GET with whatever auth this (endpoint, repo) has; on a 401
    /// answers the challenge once and retries.
    fn send(
        &self,
        ep: &Endpoint,
        repo: &str,
        url: &str,
        accept: Option<&str>,
        timeout: Duration,
        what: impl Fn() -> String,
    ) -> Result<Response, RegistryError> {
        self.request(ep, repo, &Access::Pull, what, |c| {
            let mut req = c.get(url).timeout(timeout);
            if let Some(a) = accept {
                req = req.header(ACCEPT, a);
            }
            Ok(req)
        })
    }

    /// Sends the request `make` builds (again after a 401, so a body is
    /// made afresh) with whatever auth this endpoint has for `access` to
    /// `repo`; on a 401 answers the challenge once and retries. Success
    /// statuses return the response; 401/403, 404 and the rest become
    /// errors naming `what`.
    pub(crate) fn request(
        &self,
        ep: &Endpoint,
        repo: &str,
        access: &Access,
        what: impl Fn() -> String,
        make: impl Fn(&Client) -> Result<RequestBuilder, RegistryError>,
    ) -> Result<Response, RegistryError> {
        let scope = access.scope(repo);
        let key = (ep.base.clone(), scope.clone());
        for attempt in 0..2 {
            let mut req = make(&self.client(ep)?)?;
            if let Some(auth) = self.auth.lock().expect("auth lock").get(&key).cloned() {
                req = match auth {
                    Auth::Basic(c) => req.basic_auth(c.username, Some(c.password)),
                    Auth::Bearer(t) => req.bearer_auth(t),
                };
            }
            let resp = req.send().map_err(|source| RegistryError::Http {
                url: source.url().map(|u| u.to_string()).unwrap_or_default(),
                source,
            })?;
            match resp.status() {
                s if s.is_success() => return Ok(resp),
                StatusCode::UNAUTHORIZED if attempt == 0 => {
                    let challenge = resp
                        .headers()
                        .get(WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_challenge);
                    let auth = self.answer(ep, access, &scope, challenge)?;
                    self.auth
                        .lock()
                        .expect("auth lock")
                        .insert(key.clone(), auth);
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(RegistryError::Unauthorized {
                        registry: ep.host.clone(),
                        detail: format!("{} for {}", resp.status(), what()),
                    })
                }
                StatusCode::NOT_FOUND => {
                    return Err(RegistryError::NotFound {
                        what: what(),
                        registry: ep.host.clone(),
                    })
                }
                status => {
                    let url = resp.url().to_string();
                    let body = read_capped(resp, &url, 4096)
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    return Err(RegistryError::Status { url, status, body });
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// Turns a 401 challenge into credentials to send.
    fn answer(
        &self,
        ep: &Endpoint,
        access: &Access,
        scope: &str,
        challenge: Option<Challenge>,
    ) -> Result<Auth, RegistryError> {
        let cred = self.opts.credential(&ep.host);
        let unauthorized = |detail: &str| RegistryError::Unauthorized {
            registry: ep.host.clone(),
            detail: detail.to_string(),
        };
        let Some(ch) = challenge else {
            return Err(unauthorized("401 without a WWW-Authenticate challenge"));
        };
        match ch.scheme.as_str() {
            "basic" => cred.map(Auth::Basic).ok_or_else(|| {
                unauthorized("the registry wants a user name and password and none is configured")
            }),
            "bearer" => {
                let realm = ch
                    .params
                    .get("realm")
                    .ok_or_else(|| unauthorized("bearer challenge without a realm"))?;
                // A pull takes the scope the challenge names (the registry
                // knows best what it checks); a push asks for
                // what it needs, as the docker CLI does.
                let scope = match (access, ch.params.get("scope")) {
                    (Access::Pull, Some(s)) => s.clone(),
                    _ => scope.to_string(),
                };
                let token =
                    self.fetch_token(ep, realm, ch.params.get("service"), &scope, cred.as_ref())?;
                Ok(Auth::Bearer(token))
            }
            other => Err(unauthorized(&format!("unsupported auth scheme {other:?}"))),
        }
    }

    pub(crate) fn fetch_token(
        &self,
        ep: &Endpoint,
        realm: &str,
        service: Option<&String>,
        scope: &str,
        cred: Option<&Credential>,
    ) -> Result<String, RegistryError> {
        let terr = |detail: String| RegistryError::Token {
            realm: realm.to_string(),
            detail,
        };
        let mut url = reqwest::Url::parse(realm).map_err(|e| terr(format!("bad realm: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scope.split(' ').filter(|s| !s.is_empty()) {
                q.append_pair("scope", s);
            }
        }
        // An insecure registry's token service gets the same leniency.
        let mut req = self
            .client(ep)
            .map_err(|e| terr(e.to_string()))?
            .get(url.clone())
            .timeout(Duration::from_secs(60));
        if let Some(c) = cred {
            req = req.basic_auth(&c.username, Some(&c.password));
        }
        let resp = req.send().map_err(|e| terr(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(terr(format!(
                "answered {}{}",
                resp.status(),
                if cred.is_none() {
                    " (no credentials configured)"
                } else {
                    ""
                }
            )));
        }
        #[derive(Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body = read_capped(resp, url.as_str(), TOKEN_MAX)?;
        let t: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| terr(format!("bad token response: {e}")))?;
        let token = t
            .token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| terr("no token in the response".into()))?;
        // A token must be sendable as a header value.
        HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| terr("token is not a valid header".into()))?;
        Ok(token)
    }
}

/// Reads a whole response, failing once it passes `limit` bytes.
fn read_capped(resp: Response, url: &str, limit: u64) -> Result<Vec<u8>, RegistryError> {
    if resp.content_length().is_some_and(|l| l > limit) {
        return Err(RegistryError::TooLarge {
            url: url.to_string(),
            limit,
        });
    }
    let mut buf = Vec::new();
    resp.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| RegistryError::Status {
            url: url.to_string(),
            status: StatusCode::OK,
            body: format!("reading the body: {e}"),
        })?;
    if buf.len() as u64 > limit {
        return Err(RegistryError::TooLarge {
            url: url.to_string(),
            limit,
        });
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_names_every_kind() {
        use crate::manifest::*;
        for mt in [
            MT_DOCKER_LIST,
            MT_DOCKER_MANIFEST,
            MT_OCI_INDEX,
            MT_OCI_MANIFEST,
        ] {
            assert!(MANIFEST_ACCEPT.contains(mt));
        }
    }

    #[test]
    fn token_scopes_per_access() {
        assert_eq!(Access::Pull.scope("a/b"), "repository:a/b:pull");
        assert_eq!(
            Access::Push { mount_from: None }.scope("a/b"),
            "repository:a/b:pull,push"
        );
        assert_eq!(
            Access::Push {
                mount_from: Some("x/y".into())
            }
            .scope("a/b"),
            "repository:a/b:pull,push repository:x/y:pull"
        );
    }

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["service"], "registry.docker.io");
        assert_eq!(c.params["scope"], "repository:library/busybox:pull");
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], "Registry Realm");
        let c = parse_challenge(r#"Bearer realm="x", scope="a:b:pull,push""#).unwrap();
        assert_eq!(c.params["scope"], "a:b:pull,push");
    }

    #[test]
    fn endpoints_and_insecure() {
        let mut o = RegistryOptions {
            insecure_registries: vec!["myreg.local:5000".into(), "plain.example".into()],
            mirrors: vec![
                "http://127.0.0.1:9/".into(),
                "https://mirror.example".into(),
            ],
            ..Default::default()
        };
        o.mirrors = o
            .mirrors
            .iter()
            .map(|m| m.trim_end_matches('/').to_string())
            .collect();
        let eps = o.endpoints("docker.io");
        assert_eq!(
            eps.iter().map(|e| e.base.as_str()).collect::<Vec<_>>(),
            [
                "http://127.0.0.1:9",
                "https://mirror.example",
                DOCKER_IO_ORIGIN
            ]
        );
        assert!(eps[0].mirror && !eps[2].mirror);
        let bases = |d: &str| {
            o.endpoints(d)
                .into_iter()
                .map(|e| e.base)
                .collect::<Vec<_>>()
        };
        // Unlisted loopback: plain HTTP.
        assert_eq!(bases("localhost:5000"), ["http://localhost:5000"]);
        assert_eq!(bases("127.0.0.1:5000"), ["http://127.0.0.1:5000"]);
        assert_eq!(bases("127.0.0.5"), ["http://127.0.0.5"]);
        // Listed (or in a listed CIDR): HTTPS without certificate checks,
        // then plain HTTP.
        assert_eq!(
            bases("myreg.local:5000"),
            ["https://myreg.local:5000", "http://myreg.local:5000"]
        );
        assert_eq!(bases("plain.example:8443")[1], "http://plain.example:8443");
        assert!(o.endpoints("plain.example:8443")[0].insecure_tls);
        // Everything else: verified HTTPS only.
        assert_eq!(bases("quay.io"), ["https://quay.io"]);
        assert_eq!(bases("myreg.local:5001"), ["https://myreg.local:5001"]);
        assert!(!o.endpoints("quay.io")[0].insecure_tls);
        let mut o2 = o.clone();
        o2.insecure_registries.push("10.1.0.0/16".into());
        assert_eq!(
            o2.endpoints("10.1.2.3:5000")[1].base,
            "http://10.1.2.3:5000"
        );
        assert_eq!(o2.endpoints("10.2.0.1:5000").len(), 1);
    }
}
