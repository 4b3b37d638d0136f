//! COPY and ADD carried out: files from the build context, from another
//! stage's or an image's root filesystem (`--from`), or heredocs, written
//! into the root filesystem of the step's container, as Docker's builder
//! does it:
//!
//! - a file goes to `DEST` when DEST is not a directory, else into it under
//!   its own name; a directory's *contents* are merged into DEST (what is
//!   there stays unless a copied file replaces it);
//! - DEST ending in `/`, several sources, or an existing directory make
//!   DEST a directory (created with its parents, 0755);
//! - files keep their permission bits and mtime; from the context they are
//!   owned by 0:0, from `--from` they keep their owner; `--chown` (names
//!   looked up in the destination's /etc/passwd and /etc/group) and
//!   `--chmod` (octal) override;
//! - `ADD` of a local tar archive (plain, gzip or zstd) unpacks it into
//!   DEST; ADD from a URL is refused (not done yet).
//!
//! Every path in the destination is resolved inside its root with libpathrs
//! (`..` and symlinks, absolute ones included, cannot lead out of the
//! container's root: CVE-2014-9356, CVE-2018-15664's class of escapes);
//! files are opened with O_NOFOLLOW on the source side, so a symlink is
//! copied as a symlink, never followed out of the context.

use std::fs::{self, File, Permissions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use pathrs::flags::OpenFlags;
use pathrs::{InodeType, Root};

use crate::driver::{CopyFrom, CopySpec};

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {source}")]
    Root {
        path: PathBuf,
        #[source]
        source: pathrs::error::Error,
    },
    #[error("--chown={0}: {1}")]
    Owner(String, String),
    #[error("{0}: ADD from a URL is not supported by rrun's builder yet")]
    Url(String),
    #[error("{0}: no such file or directory in the source image")]
    NoSource(String),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CopyError + 'a {
    move |source| CopyError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn root_err(path: &Path) -> impl FnOnce(pathrs::error::Error) -> CopyError + '_ {
    move |source| CopyError::Root {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a COPY reads and writes.
#[derive(Debug, Clone, Copy)]
pub struct CopyRoots<'a> {
    pub context: &'a Path,
    /// The `--from` stage's or image's root filesystem, mounted by the host.
    pub from: Option<&'a Path>,
    /// The root filesystem of the step's container.
    pub dest: &'a Path,
}

/// Who a copied entry belongs to and which mode it gets.
#[derive(Debug, Clone, Copy)]
struct Attrs {
    /// `--chown`.
    chown: Option<(u32, u32)>,
    /// Keep the source's owner (`--from`, ADD's archives); else 0:0.
    keep_owner: bool,
    /// `--chmod`.
    chmod: Option<u32>,
}

/// What the source says about an entry.
#[derive(Debug, Clone, Copy, Default)]
struct SrcAttrs {
    owner: Option<(u32, u32)>,
    mtime: Option<(i64, i64)>,
}

impl SrcAttrs {
    fn of(m: &fs::Metadata) -> SrcAttrs {
        SrcAttrs {
            owner: Some((m.uid(), m.gid())),
            mtime: Some((m.mtime(), m.mtime_nsec())),
        }
    }
}

/// Carries out `spec`.
pub fn copy_into(spec: &CopySpec, roots: &CopyRoots<'_>) -> Result<(), CopyError> {
    let dest_root = Root::open(roots.dest).map_err(root_err(roots.dest))?;
    let chown = match &spec.chown {
        Some(c) => Some(resolve_owner(&dest_root, c)?),
        None => None,
    };
    let chmod = spec
        .chmod
        .as_deref()
        .and_then(|m| u32::from_str_radix(m, 8).ok());
    let mut w = Writer {
        root: dest_root,
        attrs: Attrs {
            chown,
            keep_owner: matches!(spec.from, CopyFrom::Image { .. }),
            chmod,
        },
    };
    let count = match &spec.from {
        CopyFrom::Context { sources, urls } => {
            if let Some(u) = urls.first() {
                return Err(CopyError::Url(u.clone()));
            }
            sources.len()
        }
        CopyFrom::Image { paths, .. } => paths.len(),
    } + spec.inline.len();
    let dest = Path::new(&spec.dest);
    let dest_is_dir = spec.dest.ends_with('/') || count > 1 || w.is_dir(dest);
    let target = |name: &str| -> PathBuf {
        if dest_is_dir {
            dest.join(name)
        } else {
            dest.to_path_buf()
        }
    };
    if dest_is_dir {
        w.mkdir_all(dest)?;
    }
    for (name, content) in &spec.inline {
        let mut data = io::Cursor::new(content.as_bytes());
        w.write_from(&target(name), &mut data, SrcAttrs::default(), 0o644)?;
    }
    match &spec.from {
        CopyFrom::Context { sources, .. } => {
            for s in sources {
                let src = roots.context.join(&s.rel);
                if s.is_dir {
                    w.mkdir_all(dest)?;
                    let base = if s.rel == "." { "" } else { s.rel.as_str() };
                    for f in &s.files {
                        let rel = f.strip_prefix(base).unwrap_or(f).trim_start_matches('/');
                        w.copy_entry(&roots.context.join(f), &dest.join(rel))?;
                    }
                } else if spec.add && is_archive(&src) {
                    // An archive's entries keep their owners.
                    w.mkdir_all(dest)?;
                    w.attrs.keep_owner = true;
                    w.unpack(&src, dest)?;
                    w.attrs.keep_owner = false;
                } else {
                    let name = Path::new(&s.rel)
                        .file_name()
                        .map_or(s.rel.clone(), |n| n.to_string_lossy().into_owned());
                    w.copy_entry(&src, &target(&name))?;
                }
            }
        }
        CopyFrom::Image { paths, .. } => {
            let from = roots.from.expect("the host mounts the --from root");
            let from_root = Root::open(from).map_err(root_err(from))?;
            for p in paths {
                w.copy_from_image(&from_root, p, &target, dest_is_dir)?;
            }
        }
    }
    Ok(())
}

struct Writer {
    root: Root,
    attrs: Attrs,
}

impl Writer {
    fn is_dir(&self, p: &Path) -> bool {
        self.root
            .resolve(p)
            .and_then(|h| h.reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY))
            .is_ok()
    }

    fn mkdir_all(&self, p: &Path) -> Result<(), CopyError> {
        self.root
            .mkdir_all(p, &Permissions::from_mode(0o755))
            .map(|_| ())
            .map_err(root_err(p))
    }

    /// Replaces whatever non-directory is at `p` (never following it).
    fn clear(&self, p: &Path) {
        let _ = self.root.remove_file(p);
    }

    /// Owner, mode and mtime of a newly written entry.
    fn finish(&self, f: &File, p: &Path, src: SrcAttrs, mode: u32) -> Result<(), CopyError> {
        let kept = if self.attrs.keep_owner {
            src.owner
        } else {
            None
        };
        let (uid, gid) = self.attrs.chown.or(kept).unwrap_or((0, 0));
        nix::unistd::fchown(f.as_raw_fd(), Some(uid.into()), Some(gid.into()))
            .map_err(|e| io_err("chown", p)(e.into()))?;
        // After chown, which clears set-id bits.
        let mode = self.attrs.chmod.unwrap_or(mode);
        f.set_permissions(Permissions::from_mode(mode))
            .map_err(io_err("chmod", p))?;
        if let Some((sec, nsec)) = src.mtime {
            let t = nix::sys::time::TimeSpec::new(sec, nsec);
            nix::sys::stat::futimens(f.as_raw_fd(), &t, &t)
                .map_err(|e| io_err("set the mtime of", p)(e.into()))?;
        }
        Ok(())
    }

    fn write_from(
        &self,
        p: &Path,
        r: &mut dyn Read,
        src: SrcAttrs,
        mode: u32,
    ) -> Result<(), CopyError> {
        if let Some(parent) = p.parent() {
            self.mkdir_all(parent)?;
        }
        self.clear(p);
        let mut f = self
            .root
            .create_file(
                p,
                OpenFlags::O_WRONLY | OpenFlags::O_EXCL | OpenFlags::O_NOFOLLOW,
                &Permissions::from_mode(0o600),
            )
            .map_err(root_err(p))?;
        io::copy(r, &mut f).map_err(io_err("write", p))?;
        self.finish(&f, p, src, mode)
    }

    /// One entry of the source side (not followed if a symlink) to `to`.
    fn copy_entry(&self, from: &Path, to: &Path) -> Result<(), CopyError> {
        let meta = fs::symlink_metadata(from).map_err(io_err("stat", from))?;
        let ft = meta.file_type();
        let mode = meta.mode() & 0o7777;
        if ft.is_dir() {
            self.mkdir_all(to)?;
            let d = self
                .root
                .resolve(to)
                .and_then(|h| h.reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY))
                .map_err(root_err(to))?;
            return self.finish(&d, to, SrcAttrs::of(&meta), mode);
        }
        if ft.is_symlink() {
            let target = fs::read_link(from).map_err(io_err("readlink", from))?;
            if let Some(parent) = to.parent() {
                self.mkdir_all(parent)?;
            }
            self.clear(to);
            return self
                .root
                .create(to, &InodeType::Symlink(target))
                .map_err(root_err(to));
        }
        if !ft.is_file() {
            // Devices, fifos and sockets are not copied by the builder.
            return Ok(());
        }
        let mut src = File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(from)
            .map_err(io_err("open", from))?;
        self.write_from(to, &mut src, SrcAttrs::of(&meta), mode)
    }

    /// Everything under `dir` (a real directory on the source side) merged
    /// into `to`; `to` itself keeps its own mode and owner when it exists.
    fn copy_tree(&self, dir: &Path, to: &Path) -> Result<(), CopyError> {
        self.mkdir_all(to)?;
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(io_err("read", dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err("read", dir))?;
        names.sort();
        for n in names {
            let (from, dest) = (dir.join(&n), to.join(&n));
            self.copy_entry(&from, &dest)?;
            if fs::symlink_metadata(&from)
                .map_err(io_err("stat", &from))?
                .is_dir()
            {
                self.copy_tree(&from, &dest)?;
            }
        }
        Ok(())
    }

    /// `COPY --from`: the path resolved inside the source root (its own
    /// symlinks followed there), then copied like a context path.
    fn copy_from_image(
        &self,
        from_root: &Root,
        path: &str,
        target: &dyn Fn(&str) -> PathBuf,
        dest_is_dir: bool,
    ) -> Result<(), CopyError> {
        let handle = from_root
            .resolve(path)
            .map_err(|_| CopyError::NoSource(path.to_string()))?;
        let fd = handle
            .reopen(OpenFlags::O_PATH)
            .map_err(root_err(Path::new(path)))?;
        // The resolved inode, reached through our own descriptor.
        let real = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        let meta = fs::metadata(&real).map_err(io_err("stat", Path::new(path)))?;
        let name = Path::new(path)
            .file_name()
            .map_or("".into(), |n| n.to_string_lossy().into_owned());
        if meta.is_dir() {
            let dest = if dest_is_dir {
                target("")
            } else {
                target(&name)
            };
            let dir = fs::read_link(&real).map_err(io_err("readlink", &real))?;
            return self.copy_tree(&dir, &dest);
        }
        let mut f = fs::File::open(&real).map_err(io_err("open", Path::new(path)))?;
        self.write_from(
            &target(&name),
            &mut f,
            SrcAttrs::of(&meta),
            meta.mode() & 0o7777,
        )
    }

    /// ADD's local archive, unpacked into `into`: entries go through the
    /// same in-root writer, so a `../` name or a symlinked parent cannot
    /// leave the destination root.
    fn unpack(&self, archive: &Path, into: &Path) -> Result<(), CopyError> {
        let f = File::open(archive).map_err(io_err("open", archive))?;
        let mut head = [0u8; 4];
        let n = File::open(archive)
            .and_then(|mut f| f.read(&mut head))
            .map_err(io_err("read", archive))?;
        let reader: Box<dyn Read> = match &head[..n] {
            [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(f)),
            [0x28, 0xb5, 0x2f, 0xfd] => {
                Box::new(zstd::stream::read::Decoder::new(f).map_err(io_err("read", archive))?)
            }
            _ => Box::new(f),
        };
        let mut ar = tar::Archive::new(reader);
        for e in ar.entries().map_err(io_err("read", archive))? {
            let mut e = e.map_err(io_err("read", archive))?;
            let name = e.path().map_err(io_err("read", archive))?.into_owned();
            let rel = crate::ignore::clean(&name.to_string_lossy());
            if rel == "." {
                continue;
            }
            let to = into.join(rel.trim_start_matches("../"));
            let h = e.header().clone();
            let mode = h.mode().unwrap_or(0o644) & 0o7777;
            let src = SrcAttrs {
                owner: Some((h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32)),
                mtime: h.mtime().ok().map(|t| (t as i64, 0)),
            };
            let w = self;
            match h.entry_type() {
                tar::EntryType::Directory => w.mkdir_all(&to)?,
                tar::EntryType::Symlink => {
                    let target = e
                        .link_name()
                        .map_err(io_err("read", archive))?
                        .unwrap_or_default()
                        .into_owned();
                    if let Some(p) = to.parent() {
                        w.mkdir_all(p)?;
                    }
                    w.clear(&to);
                    w.root
                        .create(&to, &InodeType::Symlink(target))
                        .map_err(root_err(&to))?;
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    w.write_from(&to, &mut e, src, mode)?
                }
                // Hard links, devices and fifos are not unpacked by ADD here.
                _ => {}
            }
        }
        Ok(())
    }
}

/// Whether ADD unpacks `p`: a tar, possibly gzip- or zstd-compressed.
fn is_archive(p: &Path) -> bool {
    let mut head = vec![0u8; 512];
    let Ok(mut f) = File::open(p) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    let head = &head[..n];
    head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (n >= 262 && &head[257..262] == b"ustar")
}

/// `--chown=user[:group]`: numbers as they are, names from the
/// destination's /etc/passwd and /etc/group; no group means the user's
/// number (Docker's rule).
fn resolve_owner(root: &Root, spec: &str) -> Result<(u32, u32), CopyError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let lookup = |file: &str, name: &str| -> Result<u32, CopyError> {
        if let Ok(n) = name.parse::<u32>() {
            return Ok(n);
        }
        let mut text = String::new();
        root.resolve(file)
            .and_then(|h| h.reopen(OpenFlags::O_RDONLY))
            .map_err(|_| {
                CopyError::Owner(spec.into(), format!("no {file} to look up {name:?} in"))
            })?
            .read_to_string(&mut text)
            .map_err(io_err("read", Path::new(file)))?;
        text.lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 2 && f[0] == name)
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| CopyError::Owner(spec.into(), format!("no {name:?} in {file}")))
    };
    let uid = lookup("/etc/passwd", user)?;
    let gid = match group {
        Some(g) => lookup("/etc/group", g)?,
        None => uid,
    };
    Ok((uid, gid))
}
