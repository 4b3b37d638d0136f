//! Pulling: resolve the reference to one image manifest (choosing this
//! machine's platform from a list), fetch the config, then fetch the layers
//! in parallel (bounded), each hashed, stored, decompressed and unpacked into
//! its snapshot in a single streaming pass, with memory bounded whatever the
//! input.

use std::fs;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sha2::Digest as _;

use crate::manifest::{
    chain_ids, parse_manifest, select_platform, Descriptor, ImageConfig, Manifest, ManifestError,
    ManifestKind, Platform, MAX_CONFIG_SIZE,
};
use crate::reference::{Digest, Reference};
use crate::registry::{Endpoint, RegistryClient, RegistryError};
use crate::store::{io_err, unique_suffix, BlobWriter, Store, StoreError};
use crate::stream::{decoder, is_bomb, with_decoded, DiffReader};
pub(crate) use crate::stream::{sniff, Compression};
use crate::timing::{self, Phase};
use crate::unpack::{unpack_layer, UnpackError};

/// What a pull reports as it goes, one event at a time, from any thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The reference resolved to this image manifest.
    Resolved {
        manifest: Digest,
        layers: usize,
    },
    /// The layer's snapshot is already here: not fetched again.
    LayerExists {
        digest: Digest,
    },
    LayerStarted {
        digest: Digest,
        size: u64,
    },
    /// Compressed bytes received so far.
    LayerProgress {
        digest: Digest,
        received: u64,
        size: u64,
    },
    /// Downloaded, verified and unpacked.
    LayerDone {
        digest: Digest,
    },
}

pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

#[derive(Clone)]
pub struct PullOptions {
    /// The platform to choose from a manifest list (default: this machine).
    pub platform: Option<Platform>,
    /// Layers fetched at once (Docker's default is 3).
    pub max_concurrent_downloads: usize,
    /// A layer that decompresses to more than this is cut off (zip bombs).
    pub max_layer_uncompressed: u64,
    pub progress: Option<ProgressFn>,
    /// Set it to stop the pull (a client went away): layer streams fail at
    /// their next read and nothing half-done is kept.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            max_concurrent_downloads: 3,
            max_layer_uncompressed: 64 << 30,
            progress: None,
            cancel: None,
        }
    }
}

impl std::fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullOptions")
            .field("platform", &self.platform)
            .field("max_concurrent_downloads", &self.max_concurrent_downloads)
            .field("max_layer_uncompressed", &self.max_layer_uncompressed)
            .finish()
    }
}

/// The image a pull left in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    pub reference: Reference,
    /// The platform-specific image manifest.
    pub manifest: Digest,
    /// The image id, as Docker names it: the config's digest.
    pub config: Digest,
    /// One snapshot per layer, bottom first.
    pub chain_ids: Vec<Digest>,
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(
        "{what} {expected}: the registry sent content that hashes to {actual}; nothing was stored"
    )]
    DigestMismatch {
        what: &'static str,
        expected: Digest,
        actual: Digest,
    },
    #[error("layer {digest}: the registry sent {received} bytes but the manifest says {expected}")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        received: u64,
    },
    #[error("layer {digest}: the registry kept sending past the {size} bytes the manifest gives; cut off")]
    BlobTooLong { digest: Digest, size: u64 },
    #[error("the pull was cancelled")]
    Cancelled,
    #[error("layer {digest}: decompresses to more than {limit} bytes; refused")]
    LayerTooLarge { digest: Digest, limit: u64 },
    #[error("layer {digest}: {source}")]
    Unpack {
        digest: Digest,
        #[source]
        source: UnpackError,
    },
    #[error("layer {digest}: reading the stream: {source}")]
    Stream {
        digest: Digest,
        #[source]
        source: io::Error,
    },
}

/// Pulls `reference` into `store`. docker.io mirrors are tried first; a
/// failure on a mirror falls back to the next endpoint.
pub fn pull(
    store: &Store,
    client: &RegistryClient,
    reference: &Reference,
    opts: &PullOptions,
) -> Result<PulledImage, PullError> {
    each_endpoint(client, reference, |ep| {
        pull_from(store, client, ep, reference, opts)
    })
}

/// `f` on the reference's endpoints in order (mirrors first) until one
/// answers: a failing mirror, or plain HTTP refused on an insecure
/// registry's TLS endpoint, goes on to the next; any other error ends it.
pub(crate) fn each_endpoint<T>(
    client: &RegistryClient,
    reference: &Reference,
    mut f: impl FnMut(&Endpoint) -> Result<T, PullError>,
) -> Result<T, PullError> {
    let endpoints = client.options().endpoints(reference.domain());
    let mut last = None;
    for ep in &endpoints {
        match f(ep) {
            Ok(v) => return Ok(v),
            Err(e) if ep.mirror => {
                tracing::warn!(mirror = %ep.base, error = %e, "mirror failed; trying the next endpoint");
                last = Some(e);
            }
            Err(PullError::Registry(e @ RegistryError::Http { .. })) if ep.insecure_tls => {
                tracing::debug!(endpoint = %ep.base, error = %e, "no TLS on an insecure registry; trying plain HTTP");
                last = Some(PullError::Registry(e));
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("at least one endpoint"))
}

fn report(opts: &PullOptions, p: Progress) {
    if let Some(f) = &opts.progress {
        f(&p);
    }
}

pub(crate) fn verify(what: &'static str, expected: &Digest, body: &[u8]) -> Result<(), PullError> {
    let actual = Digest::sha256_of(body);
    if &actual != expected {
        return Err(PullError::DigestMismatch {
            what,
            expected: expected.clone(),
            actual,
        });
    }
    Ok(())
}

fn pull_from(
    store: &Store,
    client: &RegistryClient,
    ep: &Endpoint,
    reference: &Reference,
    opts: &PullOptions,
) -> Result<PulledImage, PullError> {
    let repo = reference.path();
    client.ping(ep)?;
    let (body, ct) = client.get_manifest(ep, repo, &reference.manifest_selector())?;
    let top_digest = Digest::sha256_of(&body);
    if let Some(d) = reference.digest() {
        verify("manifest", d, &body)?;
    }
    let (manifest_digest, manifest) = match parse_manifest(&top_digest, ct.as_deref(), &body)? {
        ManifestKind::Image(m) => {
            store.put_blob(&top_digest, &body)?;
            (top_digest.clone(), m)
        }
        ManifestKind::Index(idx) => {
            let wanted = opts.platform.clone().unwrap_or_else(Platform::host);
            let desc = select_platform(&idx, &top_digest, &wanted)?.clone();
            let (mbody, mct) = client.get_manifest(ep, repo, &desc.digest.to_string())?;
            verify("manifest", &desc.digest, &mbody)?;
            let m = match parse_manifest(&desc.digest, mct.as_deref(), &mbody)? {
                ManifestKind::Image(m) => m,
                ManifestKind::Index(_) => {
                    return Err(ManifestError::UnsupportedMediaType(
                        "a manifest list inside a manifest list".into(),
                    )
                    .into())
                }
            };
            store.put_blob(&top_digest, &body)?;
            store.put_blob(&desc.digest, &mbody)?;
            (desc.digest, m)
        }
    };
    report(
        opts,
        Progress::Resolved {
            manifest: manifest_digest.clone(),
            layers: manifest.layers.len(),
        },
    );

    let config = fetch_config(store, client, ep, repo, &manifest)?;
    // A single-platform image asked for with --platform must match it, as
    // Docker checks.
    if let Some(p) = &opts.platform {
        if config.os != p.os || config.architecture != p.architecture {
            return Err(ManifestError::NoMatchingPlatform {
                wanted: p.to_string(),
                digest: manifest_digest,
                available: config.platform().to_string(),
            }
            .into());
        }
    }
    let chains = chain_ids(&config.rootfs.diff_ids);
    let jobs: Vec<LayerJob> = manifest
        .layers
        .iter()
        .zip(config.rootfs.diff_ids.iter())
        .zip(chains.iter())
        .filter_map(|((desc, diff_id), chain)| {
            if snapshot_path(store, chain).is_dir() {
                report(
                    opts,
                    Progress::LayerExists {
                        digest: desc.digest.clone(),
                    },
                );
                None
            } else {
                Some(LayerJob {
                    desc: desc.clone(),
                    diff_id: diff_id.clone(),
                    chain: chain.clone(),
                })
            }
        })
        .collect();
    run_jobs(store, client, ep, repo, &jobs, opts)?;

    // Record the names last, so a failed pull never leaves a tag pointing at
    // an image whose layers are missing.
    if reference.tag().is_some() {
        let tagged = Reference::parse(&format!(
            "{}:{}",
            reference.name(),
            reference.tag().unwrap_or("latest")
        ))
        .expect("a parsed name with its own tag parses");
        store.set_ref(&tagged, &manifest_digest)?;
    }
    // Docker's RepoDigests: the digest the registry knows the image by (the
    // list's, for a multi-platform image).
    store.set_ref(&reference.with_digest(top_digest), &manifest_digest)?;
    Ok(PulledImage {
        reference: reference.clone(),
        manifest: manifest_digest,
        config: manifest.config.digest.clone(),
        chain_ids: chains,
    })
}

fn fetch_config(
    store: &Store,
    client: &RegistryClient,
    ep: &Endpoint,
    repo: &str,
    manifest: &Manifest,
) -> Result<ImageConfig, PullError> {
    let d = &manifest.config.digest;
    let body = if store.has_blob(d) {
        store.read_blob(d, MAX_CONFIG_SIZE)?
    } else {
        let body = client.get_blob_bytes(ep, repo, d, MAX_CONFIG_SIZE)?;
        verify("config", d, &body)?;
        store.put_blob(d, &body)?;
        body
    };
    let config = ImageConfig::parse(d, &body)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(ManifestError::LayerCountMismatch {
            config: d.clone(),
            diff_ids: config.rootfs.diff_ids.len(),
            layers: manifest.layers.len(),
        }
        .into());
    }
    Ok(config)
}

pub fn snapshot_path(store: &Store, chain: &Digest) -> PathBuf {
    store.snapshots_dir().join(chain.hex())
}

struct LayerJob {
    desc: Descriptor,
    diff_id: Digest,
    chain: Digest,
}

/// Runs the layer jobs on at most `max_concurrent_downloads` threads. After
/// the first failure no new layer starts; the first error is returned.
fn run_jobs(
    store: &Store,
    client: &RegistryClient,
    ep: &Endpoint,
    repo: &str,
    jobs: &[LayerJob],
    opts: &PullOptions,
) -> Result<(), PullError> {
    let cancelled = || {
        opts.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
            .then_some(PullError::Cancelled)
    };
    crate::parallel::for_each(jobs, opts.max_concurrent_downloads, cancelled, |job| {
        fetch_layer(store, client, ep, repo, job, opts)
    })
}

/// Compressed bytes as they arrive: capped at the descriptor's size (a
/// never-ending blob is cut off), hashed, copied into the content store.
struct Tee {
    inner: Box<dyn Read + Send>,
    hasher: sha2::Sha256,
    blob: Option<BlobWriter>,
    received: u64,
    size: u64,
    digest: Digest,
    progress: Option<ProgressFn>,
    last_report: u64,
    /// The stream went past `size` and was cut off.
    overflowed: bool,
    cancel: Option<Arc<AtomicBool>>,
}

#[derive(Clone)]
struct SharedTee(Arc<Mutex<Tee>>);

impl Read for SharedTee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut t = self.0.lock().expect("tee lock");
        if t.cancel.as_ref().is_some_and(|c| c.load(Ordering::SeqCst)) {
            // Not ErrorKind::Interrupted: io::copy would retry that forever.
            return Err(io::Error::other("pull cancelled"));
        }
        let n = timing::timed(Phase::Download, || t.inner.read(buf))?;
        if t.received + n as u64 > t.size {
            t.overflowed = true;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the registry sent more than the {} bytes the manifest says",
                    t.size
                ),
            ));
        }
        timing::timed(Phase::BlobHash, || t.hasher.update(&buf[..n]));
        if let Some(b) = t.blob.as_mut() {
            timing::timed(Phase::BlobWrite, || b.write_all(&buf[..n]))?;
        }
        t.received += n as u64;
        if let Some(p) = &t.progress {
            if t.received - t.last_report >= (1 << 20) || (n == 0 && t.received != t.last_report) {
                p(&Progress::LayerProgress {
                    digest: t.digest.clone(),
                    received: t.received,
                    size: t.size,
                });
                t.last_report = t.received;
            }
        }
        Ok(n)
    }
}

/// A snapshot being unpacked; removed unless committed.
struct TempSnapshot {
    path: PathBuf,
    committed: bool,
}

impl TempSnapshot {
    fn create(store: &Store, chain: &Digest) -> Result<TempSnapshot, StoreError> {
        let tmp = TempSnapshot {
            path: store
                .snapshots_dir()
                .join(format!(".tmp-{}-{}", chain.hex(), unique_suffix())),
            committed: false,
        };
        fs::create_dir(&tmp.path).map_err(io_err("create", &tmp.path))?;
        fs::set_permissions(
            &tmp.path,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .map_err(io_err("chmod", &tmp.path))?;
        Ok(tmp)
    }
}

/// Unpacks a layer blob already in the store (load, import) into the
/// snapshot `chain`, checking it against `diff_id`. A no-op when the
/// snapshot exists.
pub(crate) fn snapshot_from_blob(
    store: &Store,
    blob: &Digest,
    diff_id: &Digest,
    chain: &Digest,
    limit: u64,
) -> Result<(), PullError> {
    if snapshot_path(store, chain).is_dir() {
        return Ok(());
    }
    let _clock = timing::layer(&blob.to_string());
    let path = store.blob_path(blob);
    let file = fs::File::open(&path).map_err(io_err("open", &path))?;
    let tmp = TempSnapshot::create(store, chain)?;
    let diff = decode_and_unpack(file, &tmp.path, limit, blob)?;
    if &diff != diff_id {
        return Err(PullError::DigestMismatch {
            what: "uncompressed layer (diff id)",
            expected: diff_id.clone(),
            actual: diff,
        });
    }
    commit_snapshot(store, tmp, chain)
}

/// The diff id of a layer blob in the store: sha256 of its uncompressed
/// bytes.
pub(crate) fn diff_id_of_blob(
    store: &Store,
    blob: &Digest,
    limit: u64,
) -> Result<Digest, PullError> {
    let path = store.blob_path(blob);
    let file = fs::File::open(&path).map_err(io_err("open", &path))?;
    let stream_err = |source| PullError::Stream {
        digest: blob.clone(),
        source,
    };
    let mut diff = DiffReader::new(decoder(BufReader::new(file)).map_err(stream_err)?, limit);
    io::copy(&mut diff, &mut io::sink()).map_err(|e| {
        if is_bomb(&e) {
            PullError::LayerTooLarge {
                digest: blob.clone(),
                limit,
            }
        } else {
            stream_err(e)
        }
    })?;
    Ok(Digest::sha256_from_bytes(&diff.hasher.finalize()))
}

impl Drop for TempSnapshot {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn fetch_layer(
    store: &Store,
    client: &RegistryClient,
    ep: &Endpoint,
    repo: &str,
    job: &LayerJob,
    opts: &PullOptions,
) -> Result<(), PullError> {
    let digest = &job.desc.digest;
    let _clock = timing::layer(&digest.to_string());
    report(
        opts,
        Progress::LayerStarted {
            digest: digest.clone(),
            size: job.desc.size,
        },
    );
    let resp = client.open_blob(ep, repo, digest, job.desc.size)?;
    let blob = if store.has_blob(digest) {
        None
    } else {
        Some(store.blob_writer_hashed_by_caller(digest)?)
    };
    let tee = SharedTee(Arc::new(Mutex::new(Tee {
        inner: Box::new(resp),
        hasher: sha2::Sha256::new(),
        blob,
        received: 0,
        size: job.desc.size,
        digest: digest.clone(),
        progress: opts.progress.clone(),
        last_report: 0,
        overflowed: false,
        cancel: opts.cancel.clone(),
    })));

    let tmp = TempSnapshot::create(store, &job.chain)?;

    let unpacked = decode_and_unpack(tee.clone(), &tmp.path, opts.max_layer_uncompressed, digest);
    // Whatever happened, read the rest of the stream (bounded by the size
    // cap) so the digest covers every byte: a corrupt blob is then reported
    // as the digest mismatch it is, not as the decoder error it caused.
    let drained = io::copy(&mut tee.clone(), &mut io::sink());
    let mut t = tee.0.lock().expect("tee lock");
    if t.cancel.as_ref().is_some_and(|c| c.load(Ordering::SeqCst)) {
        return Err(PullError::Cancelled);
    }
    if t.overflowed {
        return Err(PullError::BlobTooLong {
            digest: digest.clone(),
            size: job.desc.size,
        });
    }
    let actual = Digest::sha256_from_bytes(&t.hasher.clone().finalize());
    if &actual != digest {
        return Err(PullError::DigestMismatch {
            what: "layer",
            expected: digest.clone(),
            actual,
        });
    }
    let diff = unpacked?;
    drained.map_err(|source| PullError::Stream {
        digest: digest.clone(),
        source,
    })?;
    if t.received != job.desc.size {
        return Err(PullError::SizeMismatch {
            digest: digest.clone(),
            expected: job.desc.size,
            received: t.received,
        });
    }
    if diff != job.diff_id {
        return Err(PullError::DigestMismatch {
            what: "uncompressed layer (diff id)",
            expected: job.diff_id.clone(),
            actual: diff,
        });
    }
    if let Some(b) = t.blob.take() {
        // The tee hashed every byte it wrote to the blob: `actual`.
        timing::timed(Phase::Sync, || b.commit_hashed(actual))?;
    }
    commit_snapshot(store, tmp, &job.chain)?;
    report(
        opts,
        Progress::LayerDone {
            digest: digest.clone(),
        },
    );
    Ok(())
}

/// Sniffs the compression (gzip, zstd or none), unpacks, drains, and
/// returns the diff id. Decoding and hashing run on a thread of their own.
fn decode_and_unpack<R: Read + Send>(
    tee: R,
    dest: &Path,
    limit: u64,
    digest: &Digest,
) -> Result<Digest, PullError> {
    let layer_err = |e: io::Error| {
        if is_bomb(&e) {
            PullError::LayerTooLarge {
                digest: digest.clone(),
                limit,
            }
        } else {
            PullError::Stream {
                digest: digest.clone(),
                source: e,
            }
        }
    };
    let unpack = |chunks: &mut crate::stream::ChunkReader| match unpack_layer(chunks, dest) {
        Err(UnpackError::Tar(e)) if is_bomb(&e) => Err(layer_err(e)),
        res => res.map_err(|source| PullError::Unpack {
            digest: digest.clone(),
            source,
        }),
    };
    // Tar's end-of-archive blocks and any padding count for the diff id:
    // with_decoded reads them after the unpack.
    let (_, hasher) = with_decoded(tee, limit, &digest.to_string(), unpack, layer_err)?;
    Ok(Digest::sha256_from_bytes(&hasher.finalize()))
}

/// Makes an unpacked snapshot durable and visible: syncfs, then rename to
/// its chain id, then fsync of `snapshots/`. Its presence means complete.
fn commit_snapshot(store: &Store, mut tmp: TempSnapshot, chain: &Digest) -> Result<(), PullError> {
    let dir = fs::File::open(&tmp.path).map_err(io_err("open", &tmp.path))?;
    // SAFETY: syncfs on a valid descriptor.
    if timing::timed(Phase::Sync, || unsafe { libc::syncfs(dir.as_raw_fd()) }) != 0 {
        return Err(StoreError::Io {
            op: "syncfs",
            path: tmp.path.clone(),
            source: io::Error::last_os_error(),
        }
        .into());
    }
    let _commit = timing::span(Phase::Commit);
    let dest = snapshot_path(store, chain);
    match fs::rename(&tmp.path, &dest) {
        Ok(()) => tmp.committed = true,
        // Another pull of the same layer won the race: keep theirs.
        Err(_) if dest.is_dir() => {}
        Err(e) => return Err(io_err("rename", &dest)(e).into()),
    }
    let snaps = store.snapshots_dir();
    fs::File::open(&snaps)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync", &snaps))?;
    Ok(())
}
