//! `rrun cp` / `rrun container cp`: files between a container and the host
//! through the archive endpoints, with docker/cli's path rules
//! (`archive.PrepareArchiveCopy`): into an existing directory as they are,
//! else renamed to the destination's base name; `dir/.` copies a
//! directory's contents; `-` is a tar stream on stdin or stdout.

use anyhow::{bail, Context, Result};
use base64::Engine;
use clap::Args;
use serde::Deserialize;
use std::path::{Component, Path, PathBuf};

use super::client::{enc, Client};
use super::format::short_size;

// `cp`'s flags.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Suppress progress output during copy.
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH or SRC_PATH|-
    pub src: String,
    /// DEST_PATH|- or CONTAINER:DEST_PATH
    pub dest: String,
}

/// docker/cli's splitCpArg: `ctr:path`, unless the word is an absolute
/// path or starts with `.` (a local path with a colon in it).
pub fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((ctr, path)) if !ctr.starts_with('.') => (Some(ctr), path),
        _ => (None, arg),
    }
}

/// The `X-Docker-Container-Path-Stat` header: Go's os.FileMode bits.
#[derive(Debug, Default, Deserialize)]
pub struct PathStat {
    #[serde(default)]
    pub mode: u32,
    #[serde(default, rename = "linkTarget")]
    pub link_target: String,
}

const MODE_DIR: u32 = 1 << 31;
const MODE_SYMLINK: u32 = 1 << 27;
/// Devices, pipes and sockets: not a destination (ValidateOutputPathFileMode).
const MODE_IRREGULAR: u32 = (1 << 26) | (1 << 25) | (1 << 24);

impl PathStat {
    fn from_header(h: Option<&hyper::header::HeaderValue>) -> Option<PathStat> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(h?.as_bytes())
            .ok()?;
        serde_json::from_slice(&raw).ok()
    }
    fn is_dir(&self) -> bool {
        self.mode & MODE_DIR != 0
    }
}

/// Where an archive of `src` is unpacked for `dst`, and the renaming of
/// its first path element (old base → new base), if any: docker/cli's
/// PrepareArchiveCopy. `dst` is (path, exists, is a directory).
pub fn prepare_copy(
    src: &str,
    src_is_dir: bool,
    dst: (&str, bool, bool),
) -> Result<(PathBuf, Option<(String, String)>)> {
    let (dst_path, exists, dst_is_dir) = dst;
    let (dst_dir, dst_base) = split_dir_entry(dst_path);
    let (_, src_base) = split_dir_entry(src);
    if exists && dst_is_dir {
        return Ok((PathBuf::from(dst_path), None));
    }
    if exists && src_is_dir {
        bail!("cannot copy a directory to an existing file: {dst_path}");
    }
    if !exists && !src_is_dir && (dst_path.ends_with('/') || dst_path.ends_with("/.")) {
        bail!("destination directory {dst_path} does not exist");
    }
    Ok((PathBuf::from(dst_dir), Some((src_base, dst_base))))
}

/// archive.SplitPathDirEntry: `a/b/` → (`a`, `b`); `b` → (`.`, `b`).
fn split_dir_entry(p: &str) -> (String, String) {
    let trimmed = p.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let path = Path::new(trimmed);
    let base = match trimmed.rsplit('/').next() {
        Some(".") => ".".to_string(),
        _ => path
            .file_name()
            .map_or(".".into(), |b| b.to_string_lossy().into_owned()),
    };
    let dir = match trimmed.rsplit_once('/') {
        Some(("", _)) => "/".to_string(),
        Some((d, _)) => d.to_string(),
        None => ".".to_string(),
    };
    (dir, base)
}

/// An entry's name with its first element renamed (RebaseArchiveEntries).
pub fn rebase(name: &str, rename: Option<&(String, String)>) -> String {
    let Some((old, new)) = rename else {
        return name.to_string();
    };
    let (first, rest) = match name.split_once('/') {
        Some((f, r)) => (f, Some(r)),
        None => (name, None),
    };
    if first != old {
        return name.to_string();
    }
    match rest {
        Some(r) => format!("{new}/{r}"),
        None => new.clone(),
    }
}

/// Unpacks `archive` under `dir`, renaming as `rename` says; modes and
/// times kept, owners not (docker/cli's NoLchown); no entry leaves `dir`.
pub fn unpack(
    archive: impl std::io::Read,
    dir: &Path,
    rename: Option<&(String, String)>,
) -> Result<()> {
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries().context("read the archive")? {
        let mut entry = entry.context("read the archive")?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let name = rebase(name.trim_start_matches("./"), rename);
        let name = name.trim_end_matches('/');
        if name.is_empty() || name == "." {
            // The directory being copied into itself: it is `dir`.
            continue;
        }
        let rel = Path::new(name);
        if rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            bail!("refusing to unpack {name}: it leaves {}", dir.display());
        }
        let target = dir.join(rel);
        inside(dir, &target)?;
        if entry.header().entry_type().is_hard_link() {
            let link = entry.link_name()?.map(|l| l.to_string_lossy().into_owned());
            let link = rebase(link.as_deref().unwrap_or_default(), rename);
            std::fs::hard_link(dir.join(link), &target)
                .with_context(|| format!("link {}", target.display()))?;
            continue;
        }
        entry.set_preserve_permissions(true);
        entry
            .unpack(&target)
            .with_context(|| format!("write {}", target.display()))?;
    }
    Ok(())
}

/// Makes `target`'s parent and checks that it resolves inside `dir`: an
/// earlier entry may be a symlink that points out (a crafted archive).
fn inside(dir: &Path, target: &Path) -> Result<()> {
    let parent = target.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    let root = std::fs::canonicalize(dir)?;
    if !std::fs::canonicalize(parent)?.starts_with(&root) {
        bail!(
            "refusing to unpack {}: it leaves {}",
            target.display(),
            dir.display()
        );
    }
    Ok(())
}

fn stat(c: &Client, ctr: &str, path: &str) -> Result<Option<PathStat>> {
    let url = format!("/containers/{}/archive?path={}", enc(ctr), enc(path));
    match c.request("HEAD", &url, None) {
        Ok(r) => Ok(PathStat::from_header(
            r.headers.get("X-Docker-Container-Path-Stat"),
        )),
        Err(e)
            if e.downcast_ref::<super::client::ApiError>()
                .is_some_and(|a| a.status == 404) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// `cp CONTAINER:SRC DEST`.
fn copy_from(c: &Client, a: &CpArgs, ctr: &str, src: &str) -> Result<()> {
    let mut src = src.to_string();
    if a.follow_link {
        if let Some(s) = stat(c, ctr, &src)? {
            if s.mode & MODE_SYMLINK != 0 {
                let (parent, _) = split_dir_entry(&src);
                src = match s.link_target.starts_with('/') {
                    true => s.link_target,
                    false => format!("{parent}/{}", s.link_target),
                };
            }
        }
    }
    let url = format!("/containers/{}/archive?path={}", enc(ctr), enc(&src));
    let resp = c.request("GET", &url, None)?;
    let st =
        PathStat::from_header(resp.headers.get("X-Docker-Container-Path-Stat")).unwrap_or_default();
    if a.dest == "-" {
        return super::images::write_archive(resp.body, None);
    }
    let meta = std::fs::metadata(&a.dest).ok();
    let dst = (
        a.dest.as_str(),
        meta.is_some(),
        meta.is_some_and(|m| m.is_dir()),
    );
    let (dir, rename) = prepare_copy(&src, st.is_dir(), dst)?;
    let mut counted = Counted {
        inner: resp.body,
        n: 0,
    };
    unpack(&mut counted, &dir, rename.as_ref())?;
    if !a.quiet {
        eprintln!(
            "Successfully copied {} to {}",
            short_size(counted.n),
            a.dest
        );
    }
    Ok(())
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// A tar of local `src` whose first element is named `root`.
fn pack(src: &Path, root: &str, follow: bool) -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let src = match follow {
        true => std::fs::canonicalize(src).with_context(|| format!("resolve {}", src.display()))?,
        false => src.to_path_buf(),
    };
    let meta =
        std::fs::symlink_metadata(&src).with_context(|| format!("stat {}", src.display()))?;
    if meta.is_dir() {
        b.append_dir_all(root, &src)
    } else {
        b.append_path_with_name(&src, root)
    }
    .with_context(|| format!("archive {}", src.display()))?;
    Ok(b.into_inner()?)
}

/// `cp SRC CONTAINER:DEST`.
fn copy_to(c: &Client, a: &CpArgs, ctr: &str, dst: &str) -> Result<()> {
    let mut st = stat(c, ctr, dst)?;
    // As docker/cli: a symlink destination is the path it leads to (the
    // daemon resolved it inside the container).
    let mut target = dst.to_string();
    if let Some(s) = st.as_ref().filter(|s| s.mode & MODE_SYMLINK != 0) {
        target = match s.link_target.starts_with('/') {
            true => s.link_target.clone(),
            false => format!("{}/{}", split_dir_entry(dst).0, s.link_target),
        };
        st = stat(c, ctr, &target)?;
    }
    if st.as_ref().is_some_and(|s| s.mode & MODE_IRREGULAR != 0) {
        bail!("destination \"{ctr}:{dst}\" must be a directory or a regular file");
    }
    let dst = target.as_str();
    let (exists, is_dir) = (st.is_some(), st.as_ref().is_some_and(PathStat::is_dir));
    let (dir, body) = if a.src == "-" {
        if !is_dir {
            bail!("destination \"{ctr}:{dst}\" must be a directory");
        }
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut tar).context("read stdin")?;
        (PathBuf::from(dst), tar)
    } else {
        let src_meta = std::fs::metadata(&a.src).with_context(|| format!("stat {}", a.src))?;
        let (dir, rename) = prepare_copy(&a.src, src_meta.is_dir(), (dst, exists, is_dir))?;
        let (_, base) = split_dir_entry(&a.src);
        let root = rebase(&base, rename.as_ref());
        (dir, pack(Path::new(&a.src), &root, a.follow_link)?)
    };
    let size = body.len() as u64;
    let url = format!(
        "/containers/{}/archive?path={}&noOverwriteDirNonDir=true&copyUIDGID={}",
        enc(ctr),
        enc(&dir.to_string_lossy()),
        a.archive
    );
    c.request("PUT", &url, Some(("application/x-tar", body.into())))?;
    if !a.quiet {
        eprintln!("Successfully copied {} to {ctr}:{dst}", short_size(size));
    }
    Ok(())
}

pub fn cp(c: &Client, a: &CpArgs) -> Result<i32> {
    match (split_cp_arg(&a.src), split_cp_arg(&a.dest)) {
        ((Some(ctr), src), (None, _)) => copy_from(c, a, ctr, src)?,
        ((None, _), (Some(ctr), dst)) => copy_to(c, a, ctr, dst)?,
        ((Some(_), _), (Some(_), _)) => bail!("copying between containers is not supported"),
        _ => bail!("must specify at least one container source"),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_args_split_as_docker_cli() {
        assert_eq!(split_cp_arg("web:/etc/hosts"), (Some("web"), "/etc/hosts"));
        assert_eq!(split_cp_arg("/abs:x"), (None, "/abs:x"));
        assert_eq!(split_cp_arg("./a:b"), (None, "./a:b"));
        assert_eq!(split_cp_arg("plain"), (None, "plain"));
    }

    #[test]
    fn archive_copies_follow_prepare_archive_copy() {
        // Into an existing directory: as it is.
        let (d, r) = prepare_copy("/etc/app", true, ("/tmp/out", true, true)).unwrap();
        assert_eq!((d, r), (PathBuf::from("/tmp/out"), None));
        // A directory to a new name: renamed.
        let (d, r) = prepare_copy("/etc/app", true, ("/tmp/new", false, false)).unwrap();
        assert_eq!(d, PathBuf::from("/tmp"));
        assert_eq!(r, Some(("app".into(), "new".into())));
        assert_eq!(rebase("app/conf", r.as_ref()), "new/conf");
        assert_eq!(rebase("app", r.as_ref()), "new");
        assert_eq!(rebase("other/x", r.as_ref()), "other/x");
        // A directory's contents (`dir/.`) to a new name.
        let (_, r) = prepare_copy("/etc/app/.", true, ("out", false, false)).unwrap();
        assert_eq!(r, Some((".".into(), "out".into())));
        assert_eq!(rebase(".", r.as_ref()), "out");
        // A file over a file: renamed; a directory over a file or a file
        // into a missing directory: refused.
        let (d, r) = prepare_copy("/etc/hosts", false, ("x/h2", true, false)).unwrap();
        assert_eq!(
            (d, r),
            (PathBuf::from("x"), Some(("hosts".into(), "h2".into())))
        );
        assert!(prepare_copy("/etc", true, ("f", true, false)).is_err());
        assert!(prepare_copy("/etc/hosts", false, ("nodir/", false, false)).is_err());
    }

    #[test]
    fn unpacking_renames_and_stays_inside() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("app");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("conf"), "x").unwrap();
        std::os::unix::fs::symlink("conf", src.join("link")).unwrap();
        let tar = pack(&src, "app", false).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let rename = ("app".to_string(), "new".to_string());
        unpack(&tar[..], &out, Some(&rename)).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("new/conf")).unwrap(), "x");
        assert_eq!(
            std::fs::read_link(out.join("new/link")).unwrap(),
            Path::new("conf")
        );
        // A directory's contents (`app/.`) into an existing directory.
        let mut b = tar::Builder::new(Vec::new());
        b.append_dir_all(".", &src).unwrap();
        let contents = b.into_inner().unwrap();
        unpack(&contents[..], &out, None).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("conf")).unwrap(), "x");
        // An entry that climbs out is refused.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.as_gnu_mut().unwrap().name[..8].copy_from_slice(b"../evil\0");
        h.set_cksum();
        b.append(&h, &b"e"[..]).unwrap();
        let evil = b.into_inner().unwrap();
        assert!(unpack(&evil[..], &out, None).is_err());
        assert!(!dir.path().join("evil").exists());
    }
}
