//! The content store and the tag map, under the state directory:
//!
//! ```text
//! images/blobs/sha256/<hex>    blobs, each verified against its digest while it streams in
//! images/tmp/                  blobs being written (never looks complete; swept by prune)
//! images/repositories.json     reference → manifest digest, written atomically
//! images/lock                  flock held while repositories.json is read-modify-written
//! snapshots/<chainid>/         unpacked layers, see `snapshot`
//! ```
//!
//! A blob is written to a temp file while its sha256 is computed, fsynced,
//! and renamed into place only when the digest matches, so a crash or a
//! corrupt download never leaves a file under `blobs/` that looks complete.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::reference::{Digest, DigestAlgorithm, Reference};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("digest mismatch for {expected}: the content hashes to {actual}; nothing was stored")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("blob {0} is not in the store")]
    BlobMissing(Digest),
    #[error("blob {digest} is larger than the {limit}-byte limit for its kind")]
    TooLarge { digest: Digest, limit: u64 },
    #[error("only sha256 digests are stored, not {0}")]
    UnsupportedAlgorithm(Digest),
    #[error("{path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("no such image: {0}")]
    NoSuchImage(String),
}

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The image store rooted at a state directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name for a temp file unique within this host (pid + counter + time).
pub(crate) fn unique_suffix() -> String {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{n}-{t}", std::process::id())
}

/// Repositories file: canonical reference string → manifest digest.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Repositories {
    #[serde(rename = "Refs", default)]
    pub refs: BTreeMap<String, Digest>,
}

impl Store {
    /// Opens (creating if needed) the store under `state_dir`.
    pub fn open(state_dir: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let store = Store {
            root: state_dir.into(),
        };
        for d in [store.blobs_dir(), store.tmp_dir(), store.snapshots_dir()] {
            fs::create_dir_all(&d).map_err(io_err("create", &d))?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("images/blobs/sha256")
    }
    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("images/tmp")
    }
    pub fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots")
    }
    fn repositories_path(&self) -> PathBuf {
        self.root.join("images/repositories.json")
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        digest.algorithm() == DigestAlgorithm::Sha256 && self.blob_path(digest).is_file()
    }

    /// Reads a whole blob, refusing one larger than `limit` bytes.
    pub fn read_blob(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>, StoreError> {
        let path = self.blob_path(digest);
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::BlobMissing(digest.clone()))
            }
            Err(e) => return Err(io_err("open", &path)(e)),
        };
        let mut buf = Vec::new();
        f.take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(io_err("read", &path))?;
        if buf.len() as u64 > limit {
            return Err(StoreError::TooLarge {
                digest: digest.clone(),
                limit,
            });
        }
        Ok(buf)
    }

    /// Starts writing a blob that must hash to `expected`.
    pub fn blob_writer(&self, expected: &Digest) -> Result<BlobWriter, StoreError> {
        if expected.algorithm() != DigestAlgorithm::Sha256 {
            return Err(StoreError::UnsupportedAlgorithm(expected.clone()));
        }
        Ok(BlobWriter {
            inner: self.ingest_writer(&format!("blob-{}", expected.hex()))?,
            expected: expected.clone(),
        })
    }

    /// A blob writer that does not hash: its caller hashes the very bytes
    /// it writes (a pull's stream is hashed once, as it arrives) and hands
    /// the digest to [`BlobWriter::commit_hashed`], checked there against
    /// `expected`.
    pub(crate) fn blob_writer_hashed_by_caller(
        &self,
        expected: &Digest,
    ) -> Result<BlobWriter, StoreError> {
        let mut w = self.blob_writer(expected)?;
        w.inner.hasher = None;
        Ok(w)
    }

    /// Stores `data`, verifying it hashes to `expected`.
    pub fn put_blob(&self, expected: &Digest, data: &[u8]) -> Result<(), StoreError> {
        if self.has_blob(expected) {
            return Ok(());
        }
        let mut w = self.blob_writer(expected)?;
        let tmp = w.inner.tmp.clone();
        w.write_all(data).map_err(io_err("write", &tmp))?;
        w.commit()
    }

    /// Stores a stream whose digest is not known in advance (load, import):
    /// hashed as it is written, then renamed to its digest. Returns the
    /// digest and size.
    pub fn ingest<R: Read>(&self, mut r: R) -> Result<(Digest, u64), StoreError> {
        let mut w = self.ingest_writer("ingest")?;
        let tmp = w.tmp.clone();
        io::copy(&mut r, &mut w).map_err(io_err("write", &tmp))?;
        w.commit()
    }

    /// A writer for a blob whose digest is known only at the end (a layer
    /// being made): [`IngestWriter::commit`] names it by its hash.
    /// `what` starts the temp file's name.
    pub fn ingest_writer(&self, what: &str) -> Result<IngestWriter, StoreError> {
        let tmp = self.tmp_dir().join(format!("{what}-{}", unique_suffix()));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        Ok(IngestWriter {
            file: Some(file),
            tmp,
            blobs: self.blobs_dir(),
            hasher: Some(sha2::Sha256::new()),
            size: 0,
        })
    }

    pub fn remove_blob(&self, digest: &Digest) -> Result<(), StoreError> {
        let p = self.blob_path(digest);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove", &p)(e)),
        }
    }

    /// Every stored blob digest.
    pub fn list_blobs(&self) -> Result<Vec<Digest>, StoreError> {
        let dir = self.blobs_dir();
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(io_err("read", &dir))? {
            let e = e.map_err(io_err("read", &dir))?;
            if let Some(d) = e
                .file_name()
                .to_str()
                .and_then(|h| format!("sha256:{h}").parse::<Digest>().ok())
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Runs `f` on the tag map under the store lock, writing the result back
    /// atomically when `f` returns Ok.
    pub fn update_repositories<T>(
        &self,
        f: impl FnOnce(&mut Repositories) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _lock = self.lock()?;
        let mut repos = self.repositories()?;
        let out = f(&mut repos)?;
        let json = serde_json::to_vec_pretty(&repos).expect("repositories serialise");
        atomic_write(&self.repositories_path(), &json)?;
        Ok(out)
    }

    /// The tag map as it is on disk.
    pub fn repositories(&self) -> Result<Repositories, StoreError> {
        let p = self.repositories_path();
        match fs::read(&p) {
            Ok(b) => {
                serde_json::from_slice(&b).map_err(|source| StoreError::Corrupt { path: p, source })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Repositories::default()),
            Err(e) => Err(io_err("read", &p)(e)),
        }
    }

    /// Records `reference` → `manifest`.
    pub fn set_ref(&self, reference: &Reference, manifest: &Digest) -> Result<(), StoreError> {
        self.update_repositories(|r| {
            r.refs.insert(reference.to_string(), manifest.clone());
            Ok(())
        })
    }

    /// The manifest a reference points at, if it is known locally. A
    /// `name@digest` reference resolves to its digest's manifest when stored.
    pub fn resolve(&self, reference: &Reference) -> Result<Option<Digest>, StoreError> {
        let repos = self.repositories()?;
        if let Some(d) = repos.refs.get(&reference.to_string()) {
            return Ok(Some(d.clone()));
        }
        if let Some(d) = reference.digest() {
            let bare = reference.with_digest(d.clone());
            if let Some(m) = repos.refs.get(&bare.to_string()) {
                return Ok(Some(m.clone()));
            }
            if self.has_blob(d) {
                return Ok(Some(d.clone()));
            }
        }
        Ok(None)
    }

    fn lock(&self) -> Result<File, StoreError> {
        let p = self.root.join("images/lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io_err("open", &p))?;
        // SAFETY: flock on a valid, owned descriptor; released when `f` drops.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io_err("lock", &p)(io::Error::last_os_error()));
        }
        Ok(f)
    }
}

/// Writes a file so a crash leaves the old or the new content, never a torn
/// one: temp file, fsync, rename, fsync of the directory.
pub fn atomic_write(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        unique_suffix()
    ));
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map_err(io_err("write", path))
}

/// A blob of unknown digest being written; removed unless committed.
pub struct IngestWriter {
    file: Option<File>,
    tmp: PathBuf,
    blobs: PathBuf,
    /// None when the caller hashes (see `blob_writer_hashed_by_caller`).
    hasher: Option<sha2::Sha256>,
    size: u64,
}

impl IngestWriter {
    /// fsyncs and renames the blob to its digest; returns digest and size.
    pub fn commit(self) -> Result<(Digest, u64), StoreError> {
        let digest = self.digest().expect("an ingest writer hashes");
        self.commit_as(digest)
    }

    fn digest(&self) -> Option<Digest> {
        let h = self.hasher.as_ref()?;
        Some(Digest::sha256_from_bytes(&h.clone().finalize()))
    }

    /// fsyncs and renames the blob to `digest`, already checked.
    fn commit_as(mut self, digest: Digest) -> Result<(Digest, u64), StoreError> {
        let file = self.file.take().expect("file present until commit");
        file.sync_all().map_err(io_err("fsync", &self.tmp))?;
        drop(file);
        let dest = self.blobs.join(digest.hex());
        if let Err(e) = fs::rename(&self.tmp, &dest) {
            let _ = fs::remove_file(&self.tmp);
            return Err(io_err("rename", &dest)(e));
        }
        File::open(&self.blobs)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync", &self.blobs))?;
        Ok((digest, self.size))
    }
}

impl Write for IngestWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self
            .file
            .as_mut()
            .expect("file present until commit")
            .write(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for IngestWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A blob being written: hashes what it is given, and only `commit` with a
/// matching digest moves it into `blobs/`. Dropped uncommitted, it removes
/// its temp file.
pub struct BlobWriter {
    inner: IngestWriter,
    expected: Digest,
}

impl BlobWriter {
    pub fn written(&self) -> u64 {
        self.inner.size
    }

    /// Verifies the digest, fsyncs, and renames into place.
    pub fn commit(self) -> Result<(), StoreError> {
        let actual = self
            .inner
            .digest()
            .expect("a writer the caller hashes commits with commit_hashed");
        self.commit_hashed(actual)
    }

    /// [`BlobWriter::commit`] with the digest the caller computed of every
    /// byte it wrote (for a writer made by `blob_writer_hashed_by_caller`).
    pub(crate) fn commit_hashed(self, actual: Digest) -> Result<(), StoreError> {
        if actual != self.expected {
            return Err(StoreError::DigestMismatch {
                expected: self.expected.clone(),
                actual,
            });
        }
        self.inner.commit_as(actual).map(|_| ())
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_verified_and_mismatch_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let good = Digest::sha256_of(b"hello");
        store.put_blob(&good, b"hello").unwrap();
        assert_eq!(store.read_blob(&good, 100).unwrap(), b"hello");

        let wrong = Digest::sha256_of(b"other");
        let err = store.put_blob(&wrong, b"hello").unwrap_err();
        assert!(err.to_string().contains(&wrong.to_string()), "{err}");
        assert!(!store.has_blob(&wrong));
        assert_eq!(
            fs::read_dir(store.tmp_dir()).unwrap().count(),
            0,
            "temp file left behind"
        );
        assert!(matches!(
            store.read_blob(&good, 2),
            Err(StoreError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_blob_hashed_by_its_writer_is_still_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let good = Digest::sha256_of(b"hello");
        let mut w = store.blob_writer_hashed_by_caller(&good).unwrap();
        w.write_all(b"hello").unwrap();
        let err = w.commit_hashed(Digest::sha256_of(b"other")).unwrap_err();
        assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
        assert!(!store.has_blob(&good));
        assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
        let mut w = store.blob_writer_hashed_by_caller(&good).unwrap();
        w.write_all(b"hello").unwrap();
        w.commit_hashed(good.clone()).unwrap();
        assert_eq!(store.read_blob(&good, 100).unwrap(), b"hello");
    }

    #[test]
    fn repositories_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r = Reference::parse("busybox").unwrap();
        let d = Digest::sha256_of(b"m");
        store.set_ref(&r, &d).unwrap();
        assert_eq!(store.resolve(&r).unwrap(), Some(d.clone()));
        let again = Store::open(dir.path()).unwrap();
        assert_eq!(
            again.repositories().unwrap().refs["docker.io/library/busybox:latest"],
            d
        );
    }
}
