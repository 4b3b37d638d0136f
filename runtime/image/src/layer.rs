//! Making a layer from a container's overlay upper directory (what
//! `commit` and each build step need): the upper dir is walked in name
//! order and written as a tar in which overlayfs' whiteouts become
//! Docker's: a 0/0 character device `name` becomes an empty `.wh.name`, a
//! directory marked opaque (`trusted.overlay.opaque` or, on a `userxattr`
//! mount, `user.overlay.opaque` = `y`) is followed by `.wh..wh..opq`.
//! The tar is gzipped into the content store while both hashes are taken:
//! the diff id (of the tar) and the blob digest (of the gzip).
//!
//! Hard links inside the upper dir stay hard links; extended attributes
//! other than overlayfs' own go into PAX `SCHILY.xattr.` records (file
//! capabilities survive a commit). Sockets are left out, as tar cannot hold
//! them. An upper dir that overlayfs wrote with `redirect_dir` or
//! `metacopy` is refused: its files do not hold the whole change.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use crate::reference::Digest;
use crate::store::{Store, StoreError};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";
/// The xattr namespaces overlayfs keeps its own state in.
const OVERLAY_XATTRS: [&str; 2] = ["trusted.overlay.", "user.overlay."];

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("{path}: overlayfs wrote it with {feature}; the upper dir does not hold the whole change (mount without redirect_dir and metacopy)")]
    Unsupported { path: PathBuf, feature: String },
    #[error("{0}: a file name starting with .wh. cannot be stored in a layer (it would read as a whiteout)")]
    ReservedName(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LayerError + 'a {
    move |e| crate::store::io_err(op, path)(e).into()
}

/// A layer blob now in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLayer {
    /// sha256 of the gzip blob (what manifests list).
    pub digest: Digest,
    /// sha256 of the uncompressed tar (what configs list).
    pub diff_id: Digest,
    /// Bytes of the gzip blob.
    pub size: u64,
}

/// Writes the upper dir `upper` as a gzip layer into `store`.
pub fn layer_from_upper(store: &Store, upper: &Path) -> Result<NewLayer, LayerError> {
    let blob = store.ingest_writer("layer")?;
    let gz = flate2::write::GzEncoder::new(blob, flate2::Compression::fast());
    let mut tar_out = HashingWriter {
        inner: gz,
        hasher: sha2::Sha256::new(),
    };
    write_layer_tar(upper, &mut tar_out)?;
    let diff_id = Digest::sha256_from_bytes(&tar_out.hasher.finalize());
    let blob = tar_out
        .inner
        .finish()
        .map_err(io_err("compress a layer of", upper))?;
    let (digest, size) = blob.commit()?;
    Ok(NewLayer {
        digest,
        diff_id,
        size,
    })
}

struct HashingWriter<W> {
    inner: W,
    hasher: sha2::Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the tar of `upper` (with Docker's whiteouts) to `out`.
pub fn write_layer_tar<W: Write>(upper: &Path, out: W) -> Result<(), LayerError> {
    let mut w = TarWalk {
        builder: tar::Builder::new(out),
        upper,
        links: HashMap::new(),
    };
    w.builder.mode(tar::HeaderMode::Complete);
    w.dir_entries(Path::new(""))?;
    w.builder
        .into_inner()
        .and_then(|mut o| o.flush())
        .map_err(io_err("write the layer of", upper))?;
    Ok(())
}

struct TarWalk<'a, W: Write> {
    builder: tar::Builder<W>,
    upper: &'a Path,
    /// (dev, inode) → the first name written for a multiply linked file.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> TarWalk<'_, W> {
    /// The entries of the directory `rel` (relative to the upper dir), in
    /// name order, each followed by its own contents.
    fn dir_entries(&mut self, rel: &Path) -> Result<(), LayerError> {
        let dir = self.upper.join(rel);
        let mut names: Vec<_> = fs::read_dir(&dir)
            .map_err(io_err("read", &dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err("read", &dir))?;
        names.sort();
        for name in names {
            self.entry(&rel.join(&name), &name)?;
        }
        Ok(())
    }

    fn entry(&mut self, rel: &Path, name: &OsStr) -> Result<(), LayerError> {
        let path = self.upper.join(rel);
        if name.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return Err(LayerError::ReservedName(rel.to_path_buf()));
        }
        let meta = fs::symlink_metadata(&path).map_err(io_err("stat", &path))?;
        let ft = meta.file_type();
        for (key, feature) in [
            ("trusted.overlay.redirect", "redirect_dir"),
            ("trusted.overlay.metacopy", "metacopy"),
        ] {
            if !ft.is_symlink() && xattr::get(&path, key).ok().flatten().is_some() {
                return Err(LayerError::Unsupported {
                    path,
                    feature: feature.into(),
                });
            }
        }
        if ft.is_char_device() && meta.rdev() == 0 {
            let wh = rel.with_file_name(format!("{WHITEOUT_PREFIX}{}", name.to_string_lossy()));
            return self.empty_file(&wh, &meta);
        }
        if ft.is_socket() {
            tracing::debug!(path = %path.display(), "socket left out of the layer");
            return Ok(());
        }
        let mut h = header(&meta);
        self.pax_xattrs(&path, ft.is_symlink())?;
        let add = |e| io_err("write the layer entry", &path)(e);
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            self.builder
                .append_data(&mut h, rel, io::empty())
                .map_err(add)?;
            if is_opaque(&path) {
                self.empty_file(&rel.join(OPAQUE_WHITEOUT), &meta)?;
            }
            return self.dir_entries(rel);
        }
        if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(io_err("readlink", &path))?;
            h.set_entry_type(tar::EntryType::Symlink);
            return self.builder.append_link(&mut h, rel, target).map_err(add);
        }
        if ft.is_file() {
            return self.file(rel, &path, &meta, h);
        }
        // Devices and fifos.
        h.set_entry_type(if ft.is_char_device() {
            tar::EntryType::Char
        } else if ft.is_block_device() {
            tar::EntryType::Block
        } else {
            tar::EntryType::Fifo
        });
        let dev = meta.rdev();
        h.set_device_major(libc::major(dev)).map_err(add)?;
        h.set_device_minor(libc::minor(dev)).map_err(add)?;
        self.builder
            .append_data(&mut h, rel, io::empty())
            .map_err(add)
    }

    /// A regular file, or a hard link to one written before.
    fn file(
        &mut self,
        rel: &Path,
        path: &Path,
        meta: &fs::Metadata,
        mut h: tar::Header,
    ) -> Result<(), LayerError> {
        let add = |e| io_err("write the layer entry", path)(e);
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                let first = first.clone();
                return self.builder.append_link(&mut h, rel, first).map_err(add);
            }
            self.links.insert(key, rel.to_path_buf());
        }
        h.set_entry_type(tar::EntryType::Regular);
        let f = fs::File::open(path).map_err(io_err("open", path))?;
        // Never more than the header says, should the file grow meanwhile.
        let size = meta.len();
        self.builder
            .append_data(&mut h, rel, io::Read::take(f, size))
            .map_err(add)
    }

    /// An empty regular file (a whiteout) owned and dated as `meta`.
    fn empty_file(&mut self, rel: &Path, meta: &fs::Metadata) -> Result<(), LayerError> {
        let mut h = header(meta);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o600);
        h.set_size(0);
        self.builder
            .append_data(&mut h, rel, io::empty())
            .map_err(io_err("write the whiteout", rel))
    }

    /// The entry's extended attributes, overlayfs' own left out.
    fn pax_xattrs(&mut self, path: &Path, symlink: bool) -> Result<(), LayerError> {
        if symlink {
            return Ok(());
        }
        let mut records = Vec::new();
        // A file system without xattrs lists none.
        for key in xattr::list(path).into_iter().flatten() {
            let Some(k) = key.to_str() else { continue };
            if OVERLAY_XATTRS.iter().any(|p| k.starts_with(p)) {
                continue;
            }
            if let Some(v) = xattr::get(path, &key).map_err(io_err("read xattrs of", path))? {
                records.push((format!("SCHILY.xattr.{k}"), v));
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        self.builder
            .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .map_err(io_err("write the xattrs of", path))
    }
}

fn is_opaque(dir: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|k| xattr::get(dir, k).ok().flatten().as_deref() == Some(b"y"))
}

/// A header with the entry's mode, owner and mtime (size set for files).
fn header(meta: &fs::Metadata) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(u64::from(meta.uid()));
    h.set_gid(u64::from(meta.gid()));
    h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    h.set_size(if meta.is_file() { meta.len() } else { 0 });
    h
}
