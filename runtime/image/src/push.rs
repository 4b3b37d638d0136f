//! Pushing: an image of the store goes to a registry through the same
//! client that pulls. Each blob (layers, then the config) is first asked
//! for with a HEAD and skipped when the registry has it; a blob that
//! another repository of the same registry holds (as the local tags say)
//! is cross-mounted (`POST …/blobs/uploads/?mount=<digest>&from=<repo>`);
//! the rest is uploaded in one PUT (monolithic) or in PATCH chunks. The
//! manifest goes last, byte for byte as it was pulled, loaded or built, so
//! its digest is the one the image is known by here.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::blocking::Body;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};

use crate::manifest::{parse_manifest, Descriptor, Manifest, ManifestKind, MT_OCI_MANIFEST};
use crate::manifest::{MAX_MANIFEST_SIZE, MT_DOCKER_MANIFEST};
use crate::reference::{Digest, Reference};
use crate::registry::{Access, Endpoint, RegistryClient, RegistryError};
use crate::store::{Store, StoreError};

/// What a push reports as it goes, one event at a time. The daemon turns
/// these into Docker's JSON progress (`Preparing`, `Layer already exists`,
/// `Mounted from …`, `Pushing`, `Pushed`, and the final digest line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushProgress {
    Preparing {
        digest: Digest,
        size: u64,
    },
    /// The registry already had it (HEAD answered 200).
    Exists {
        digest: Digest,
    },
    /// Cross-mounted from another repository of the registry.
    Mounted {
        digest: Digest,
        from: String,
    },
    /// Bytes sent so far.
    Uploading {
        digest: Digest,
        sent: u64,
        size: u64,
    },
    Pushed {
        digest: Digest,
    },
    /// The manifest is in: Docker's `TAG: digest: D size: N` line.
    ManifestPushed {
        tag: String,
        digest: Digest,
        size: u64,
    },
}

pub type PushProgressFn = Arc<dyn Fn(&PushProgress) + Send + Sync>;

impl PushProgress {
    /// The JSON lines `docker push` prints for this event (the Engine
    /// API's push stream): `status`, `id` (the short digest),
    /// `progressDetail`, and for the manifest the `aux` line with Tag,
    /// Digest and Size.
    pub fn docker_json(&self) -> Vec<serde_json::Value> {
        use serde_json::json;
        let id = |d: &Digest| d.hex()[..12].to_string();
        let line = |status: String, d: &Digest| json!({"status": status, "progressDetail": {}, "id": id(d)});
        match self {
            PushProgress::Preparing { digest, .. } => vec![line("Preparing".into(), digest)],
            PushProgress::Exists { digest } => vec![line("Layer already exists".into(), digest)],
            PushProgress::Mounted { digest, from } => {
                vec![line(format!("Mounted from {from}"), digest)]
            }
            PushProgress::Uploading { digest, sent, size } => vec![json!({
                "status": "Pushing",
                "progressDetail": {"current": sent, "total": size},
                "id": id(digest),
            })],
            PushProgress::Pushed { digest } => vec![line("Pushed".into(), digest)],
            PushProgress::ManifestPushed { tag, digest, size } => vec![
                json!({"status": format!("{tag}: digest: {digest} size: {size}")}),
                json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest.to_string(), "Size": size}}),
            ],
        }
    }
}

#[derive(Clone)]
pub struct PushOptions {
    pub progress: Option<PushProgressFn>,
    /// Layers uploaded at once (Docker's default is 5).
    pub max_concurrent_uploads: usize,
    /// Upload blobs in PATCH chunks of this many bytes (raised to the
    /// registry's `OCI-Chunk-Min-Length` when it names one) instead of one
    /// monolithic PUT.
    pub chunk_size: Option<u64>,
    /// Set it to stop the push (a client went away); no manifest is pushed.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            progress: None,
            max_concurrent_uploads: 5,
            chunk_size: None,
            cancel: None,
        }
    }
}

impl std::fmt::Debug for PushOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushOptions")
            .field("chunk_size", &self.chunk_size)
            .finish()
    }
}

/// What a push left on the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub reference: Reference,
    pub manifest: Digest,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    /// Docker's wording.
    #[error("An image does not exist locally with the tag: {0}")]
    NoSuchImage(String),
    #[error("{0}: push a tag, not a digest (tag the image first: rrun tag)")]
    DigestReference(String),
    #[error("blob {digest} of {image} is not in the local store (it was never downloaded); pull the image again before pushing it")]
    BlobMissing { image: String, digest: Digest },
    #[error("{url}: the registry's upload answer has no Location header")]
    NoLocation { url: String },
    #[error("the registry stored the manifest of {reference} as {actual}, not {expected}")]
    DigestChanged {
        reference: String,
        expected: Digest,
        actual: String,
    },
    #[error("the push was cancelled")]
    Cancelled,
}

/// Pushes the local image `reference` (a `name:tag`) to its registry.
/// Listed insecure registries are tried over TLS first and plain HTTP next,
/// as for a pull; docker.io's mirrors are never pushed to.
pub fn push(
    store: &Store,
    client: &RegistryClient,
    reference: &Reference,
    opts: &PushOptions,
) -> Result<Pushed, PushError> {
    if reference.digest().is_some() {
        return Err(PushError::DigestReference(reference.familiar()));
    }
    let manifest_digest = store
        .resolve(reference)?
        .ok_or_else(|| PushError::NoSuchImage(reference.familiar()))?;
    let body = store.read_blob(&manifest_digest, MAX_MANIFEST_SIZE)?;
    let manifest = match parse_manifest(&manifest_digest, None, &body)? {
        ManifestKind::Image(m) => m,
        ManifestKind::Index(_) => return Err(PushError::NoSuchImage(reference.familiar())),
    };
    let local = LocalManifest {
        digest: manifest_digest,
        body,
        manifest,
    };
    let endpoints: Vec<Endpoint> = client
        .options()
        .endpoints(reference.domain())
        .into_iter()
        .filter(|e| !e.mirror)
        .collect();
    let mut last = None;
    for ep in &endpoints {
        match push_to(store, client, ep, reference, &local, opts) {
            Err(PushError::Registry(e @ RegistryError::Http { .. })) if ep.insecure_tls => {
                tracing::debug!(endpoint = %ep.base, error = %e, "no TLS on an insecure registry; trying plain HTTP");
                last = Some(PushError::Registry(e));
            }
            other => return other,
        }
    }
    Err(last.expect("at least one endpoint"))
}

struct LocalManifest {
    digest: Digest,
    body: Vec<u8>,
    manifest: Manifest,
}

fn report(opts: &PushOptions, p: PushProgress) {
    if let Some(f) = &opts.progress {
        f(&p);
    }
}

fn push_to(
    store: &Store,
    client: &RegistryClient,
    ep: &Endpoint,
    reference: &Reference,
    local: &LocalManifest,
    opts: &PushOptions,
) -> Result<Pushed, PushError> {
    client.ping(ep)?;
    let repo = reference.path();
    let mounts = mount_sources(store, reference)?;
    let blobs = &local.manifest.layers;
    for desc in blobs.iter().chain(std::iter::once(&local.manifest.config)) {
        if !store.has_blob(&desc.digest) {
            return Err(PushError::BlobMissing {
                image: reference.familiar(),
                digest: desc.digest.clone(),
            });
        }
    }
    let cancelled = || {
        opts.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
            .then_some(PushError::Cancelled)
    };
    let one = |desc: &Descriptor| {
        let from = mounts.get(&desc.digest).map(String::as_str);
        push_blob(store, client, ep, repo, desc, from, opts)
    };
    // Layers at once (Docker's max-concurrent-uploads), then the config:
    // the manifest only goes up once everything it names is there.
    crate::parallel::for_each(blobs, opts.max_concurrent_uploads, cancelled, one)?;
    crate::parallel::for_each(
        std::slice::from_ref(&local.manifest.config),
        1,
        cancelled,
        one,
    )?;
    let tag = reference.tag().unwrap_or("latest");
    put_manifest(client, ep, reference, tag, local)?;
    // Docker's RepoDigests gains the digest the registry knows it by.
    store.set_ref(&reference.with_digest(local.digest.clone()), &local.digest)?;
    report(
        opts,
        PushProgress::ManifestPushed {
            tag: tag.to_string(),
            digest: local.digest.clone(),
            size: local.body.len() as u64,
        },
    );
    Ok(Pushed {
        reference: reference.clone(),
        manifest: local.digest.clone(),
        size: local.body.len() as u64,
    })
}

/// PUTs the manifest bytes under `tag` with their own media type, and
/// checks the registry kept the digest.
fn put_manifest(
    client: &RegistryClient,
    ep: &Endpoint,
    reference: &Reference,
    tag: &str,
    local: &LocalManifest,
) -> Result<(), PushError> {
    let repo = reference.path();
    let media_type = local.manifest.media_type.clone().unwrap_or_else(|| {
        // An OCI manifest may leave mediaType out; Docker's never does.
        if local.manifest.config.media_type.contains("docker") {
            MT_DOCKER_MANIFEST.into()
        } else {
            MT_OCI_MANIFEST.into()
        }
    });
    let url = format!("{}/v2/{repo}/manifests/{tag}", ep.base);
    let resp = client.request(
        ep,
        repo,
        &Access::Push { mount_from: None },
        || format!("manifest {repo}:{tag}"),
        |c| {
            Ok(c.put(&url)
                .header(CONTENT_TYPE, media_type.as_str())
                .timeout(Duration::from_secs(120))
                .body(local.body.clone()))
        },
    )?;
    if let Some(actual) = resp
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
    {
        if actual != local.digest.to_string() {
            return Err(PushError::DigestChanged {
                reference: reference.familiar(),
                expected: local.digest.clone(),
                actual: actual.to_string(),
            });
        }
    }
    Ok(())
}

/// Blob digest → another repository of the same registry that has it, as
/// the local names tell (an image pulled from or pushed to there).
fn mount_sources(
    store: &Store,
    reference: &Reference,
) -> Result<BTreeMap<Digest, String>, PushError> {
    let mut out = BTreeMap::new();
    for (name, manifest) in store.repositories()?.refs {
        let Ok(r) = Reference::parse(&name) else {
            continue;
        };
        if r.domain() != reference.domain() || r.path() == reference.path() {
            continue;
        }
        let Ok(body) = store.read_blob(&manifest, MAX_MANIFEST_SIZE) else {
            continue;
        };
        if let Ok(ManifestKind::Image(m)) = parse_manifest(&manifest, None, &body) {
            for d in m.layers.iter().chain(std::iter::once(&m.config)) {
                out.entry(d.digest.clone())
                    .or_insert_with(|| r.path().to_string());
            }
        }
    }
    Ok(out)
}

/// One blob: skipped when present, mounted when possible, else uploaded.
fn push_blob(
    store: &Store,
    client: &RegistryClient,
    ep: &Endpoint,
    repo: &str,
    desc: &Descriptor,
    mount_from: Option<&str>,
    opts: &PushOptions,
) -> Result<(), PushError> {
    let digest = &desc.digest;
    report(
        opts,
        PushProgress::Preparing {
            digest: digest.clone(),
            size: desc.size,
        },
    );
    let push = Access::Push { mount_from: None };
    let what = || format!("blob {digest} in {repo}");
    if blob_exists(client, ep, repo, digest)? {
        report(
            opts,
            PushProgress::Exists {
                digest: digest.clone(),
            },
        );
        return Ok(());
    }
    let location = match start_upload(client, ep, repo, digest, mount_from)? {
        Started::Mounted(from) => {
            report(
                opts,
                PushProgress::Mounted {
                    digest: digest.clone(),
                    from,
                },
            );
            return Ok(());
        }
        Started::Upload {
            location,
            min_chunk,
        } => {
            let chunk = opts.chunk_size.map(|c| c.max(min_chunk.unwrap_or(0)));
            match chunk {
                Some(c) => upload_chunked(store, client, ep, repo, desc, location, c, opts)?,
                None => location,
            }
        }
    };
    // Monolithic: the whole blob in the closing PUT; after chunks, an empty
    // closing PUT.
    let whole = opts.chunk_size.is_none();
    let url = with_query(&location, &format!("digest={digest}"));
    client.request(ep, repo, &push, what, |c| {
        let req = c
            .put(&url)
            .timeout(blob_timeout(desc.size))
            .header(CONTENT_TYPE, "application/octet-stream");
        Ok(if whole {
            let r = progress_reader(store, desc, 0, desc.size, opts)?;
            req.header(CONTENT_LENGTH, desc.size)
                .body(Body::sized(r, desc.size))
        } else {
            req.header(CONTENT_LENGTH, 0)
        })
    })?;
    report(
        opts,
        PushProgress::Pushed {
            digest: digest.clone(),
        },
    );
    Ok(())
}

/// HEAD on the blob: whether the repository has it already.
fn blob_exists(
    client: &RegistryClient,
    ep: &Endpoint,
    repo: &str,
    digest: &Digest,
) -> Result<bool, PushError> {
    let url = format!("{}/v2/{repo}/blobs/{digest}", ep.base);
    let push = Access::Push { mount_from: None };
    match client.request(
        ep,
        repo,
        &push,
        || format!("blob {digest} in {repo}"),
        |c| Ok(c.head(&url).timeout(Duration::from_secs(60))),
    ) {
        Ok(_) => Ok(true),
        Err(RegistryError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

enum Started {
    Mounted(String),
    Upload {
        location: String,
        min_chunk: Option<u64>,
    },
}

/// `POST /v2/<repo>/blobs/uploads/`, asking to mount from `mount_from`
/// when given: 201 means mounted, 202 an upload session at `Location`.
fn start_upload(
    client: &RegistryClient,
    ep: &Endpoint,
    repo: &str,
    digest: &Digest,
    mount_from: Option<&str>,
) -> Result<Started, PushError> {
    let mut url = format!("{}/v2/{repo}/blobs/uploads/", ep.base);
    if let Some(from) = mount_from {
        url = format!("{url}?mount={digest}&from={from}");
    }
    let access = Access::Push {
        mount_from: mount_from.map(str::to_string),
    };
    let resp = client.request(
        ep,
        repo,
        &access,
        || format!("upload of {digest} to {repo}"),
        |c| {
            Ok(c.post(&url)
                .header(CONTENT_LENGTH, 0)
                .timeout(Duration::from_secs(60)))
        },
    )?;
    if resp.status() == reqwest::StatusCode::CREATED {
        if let Some(from) = mount_from {
            return Ok(Started::Mounted(from.to_string()));
        }
    }
    let min_chunk = resp
        .headers()
        .get("OCI-Chunk-Min-Length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    Ok(Started::Upload {
        location: location(ep, &resp, &url)?,
        min_chunk,
    })
}

/// The `Location` of an upload answer, made absolute (registries may send
/// a path).
fn location(
    ep: &Endpoint,
    resp: &reqwest::blocking::Response,
    url: &str,
) -> Result<String, PushError> {
    let loc = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| PushError::NoLocation {
            url: url.to_string(),
        })?;
    Ok(if loc.starts_with('/') {
        format!("{}{loc}", ep.base)
    } else {
        loc.to_string()
    })
}

/// PATCHes the blob in chunks of `chunk` bytes; returns the location to
/// close the upload at.
#[allow(clippy::too_many_arguments)]
fn upload_chunked(
    store: &Store,
    client: &RegistryClient,
    ep: &Endpoint,
    repo: &str,
    desc: &Descriptor,
    mut location: String,
    chunk: u64,
    opts: &PushOptions,
) -> Result<String, PushError> {
    let chunk = chunk.max(1);
    let mut offset = 0;
    while offset < desc.size {
        let len = chunk.min(desc.size - offset);
        let end = offset + len - 1;
        let url = location.clone();
        let resp = client.request(
            ep,
            repo,
            &Access::Push { mount_from: None },
            || format!("chunk {offset}-{end} of {}", desc.digest),
            |c| {
                let r = progress_reader(store, desc, offset, len, opts)?;
                Ok(c.patch(&url)
                    .timeout(blob_timeout(len))
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_RANGE, format!("{offset}-{end}"))
                    .header(CONTENT_LENGTH, len)
                    .body(Body::sized(r, len)))
            },
        )?;
        location = self::location(ep, &resp, &url)?;
        offset += len;
    }
    Ok(location)
}

fn blob_timeout(size: u64) -> Duration {
    // A stall cap, not a speed requirement: two minutes plus 64 KiB/s.
    Duration::from_secs(120 + size / (64 << 10))
}

fn with_query(url: &str, q: &str) -> String {
    if url.contains('?') {
        format!("{url}&{q}")
    } else {
        format!("{url}?{q}")
    }
}

/// `len` bytes of a stored blob from `offset`, reporting progress and
/// failing once the push is cancelled.
fn progress_reader(
    store: &Store,
    desc: &Descriptor,
    offset: u64,
    len: u64,
    opts: &PushOptions,
) -> Result<ProgressReader, RegistryError> {
    use std::io::{Seek, SeekFrom};
    let path = store.blob_path(&desc.digest);
    let open = || -> io::Result<File> {
        let mut f = File::open(&path)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(f)
    };
    let file = open().map_err(|e| RegistryError::Config {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    Ok(ProgressReader {
        inner: file.take(len),
        digest: desc.digest.clone(),
        sent: offset,
        size: desc.size,
        last_report: offset,
        progress: opts.progress.clone(),
        cancel: opts.cancel.clone(),
    })
}

struct ProgressReader {
    inner: io::Take<File>,
    digest: Digest,
    sent: u64,
    size: u64,
    last_report: u64,
    progress: Option<PushProgressFn>,
    cancel: Option<Arc<AtomicBool>>,
}

impl Read for ProgressReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
        {
            return Err(io::Error::other("push cancelled"));
        }
        let n = self.inner.read(buf)?;
        self.sent += n as u64;
        if let Some(p) = &self.progress {
            if self.sent - self.last_report >= (1 << 20)
                || (n == 0 && self.sent != self.last_report)
            {
                p(&PushProgress::Uploading {
                    digest: self.digest.clone(),
                    sent: self.sent,
                    size: self.size,
                });
                self.last_report = self.sent;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_push_json_lines() {
        let d = Digest::sha256_of(b"x");
        let short = &d.hex()[..12];
        let p = PushProgress::Mounted {
            digest: d.clone(),
            from: "a/b".into(),
        };
        assert_eq!(
            p.docker_json(),
            [serde_json::json!({"status": "Mounted from a/b", "progressDetail": {}, "id": short})]
        );
        let up = PushProgress::Uploading {
            digest: d.clone(),
            sent: 5,
            size: 9,
        };
        assert_eq!(up.docker_json()[0]["progressDetail"]["total"], 9);
        let m = PushProgress::ManifestPushed {
            tag: "1".into(),
            digest: d.clone(),
            size: 527,
        }
        .docker_json();
        assert_eq!(m[0]["status"], format!("1: digest: {d} size: 527"));
        assert_eq!(m[1]["aux"]["Size"], 527);
    }

    #[test]
    fn upload_urls() {
        assert_eq!(
            with_query("http://r/u/1", "digest=x"),
            "http://r/u/1?digest=x"
        );
        assert_eq!(
            with_query("http://r/u/1?_state=abc", "digest=x"),
            "http://r/u/1?_state=abc&digest=x"
        );
    }

    #[test]
    fn mount_sources_come_from_other_repositories_of_the_same_registry() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let layer = Digest::sha256_of(b"layer");
        let config = Digest::sha256_of(b"config");
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MT_DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": 6},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer, "size": 5}],
        })
        .to_string();
        let md = Digest::sha256_of(m.as_bytes());
        store.put_blob(&md, m.as_bytes()).unwrap();
        for name in ["reg:5000/a/base:1", "other:5000/x:1", "reg:5000/b/app:1"] {
            store
                .set_ref(&Reference::parse(name).unwrap(), &md)
                .unwrap();
        }
        let target = Reference::parse("reg:5000/b/app:1").unwrap();
        let got = mount_sources(&store, &target).unwrap();
        assert_eq!(got.get(&layer).map(String::as_str), Some("a/base"));
        assert_eq!(got.get(&config).map(String::as_str), Some("a/base"));
        let lone = Reference::parse("third:1/z:1").unwrap();
        assert!(mount_sources(&store, &lone).unwrap().is_empty());
    }
}
