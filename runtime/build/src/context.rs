//! The build context: which files a COPY/ADD source names (Go
//! `filepath.Match` globs: `*`, `?`, `[…]`, never across a `/`; a
//! directory brings everything under it), with `.dockerignore` applied,
//! and the digest of their content that goes into the step's cache key
//! (path, type, mode, owner-independent, size and bytes; a symlink's
//! target), so a changed file makes the step and every later one run again.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use globset::GlobBuilder;
use sha2::Digest as _;

use crate::ignore::{clean, DockerIgnore};

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{0}: forbidden path outside the build context")]
    Outside(String),
    #[error("file not found in build context or excluded by .dockerignore: {0}")]
    NotFound(String),
    #[error("bad source pattern {pattern:?}: {detail}")]
    Pattern { pattern: String, detail: String },
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ContextError + '_ {
    move |source| ContextError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One context path a source matched (relative, slash-separated).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Matched {
    pub rel: String,
    pub is_dir: bool,
}

/// Every top-level match of `source` in `context` that `.dockerignore`
/// leaves in. A literal path that is absent or ignored, and a glob that
/// matches nothing, are errors.
pub fn resolve(
    context: &Path,
    source: &str,
    ignore: &DockerIgnore,
) -> Result<Vec<Matched>, ContextError> {
    let pattern = clean(source);
    if pattern == ".." || pattern.starts_with("../") {
        return Err(ContextError::Outside(source.into()));
    }
    let has_glob = pattern.contains(['*', '?', '[']);
    if !has_glob {
        let path = context.join(&pattern);
        let meta =
            fs::symlink_metadata(&path).map_err(|_| ContextError::NotFound(source.into()))?;
        if pattern != "."
            && ignore.excluded(&pattern)
            && !(meta.is_dir() && ignore.has_exceptions())
        {
            return Err(ContextError::NotFound(source.into()));
        }
        return Ok(vec![Matched {
            rel: pattern,
            is_dir: meta.is_dir(),
        }]);
    }
    let glob = GlobBuilder::new(&pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| ContextError::Pattern {
            pattern: source.into(),
            detail: e.to_string(),
        })?
        .compile_matcher();
    let depth = pattern.split('/').count();
    let mut out = Vec::new();
    let mut all = Vec::new();
    walk(context, "", Some(depth), &mut all)?;
    for (rel, is_dir) in all {
        if rel.split('/').count() == depth && glob.is_match(&rel) && !ignore.excluded(&rel) {
            out.push(Matched { rel, is_dir });
        }
    }
    if out.is_empty() {
        return Err(ContextError::NotFound(source.into()));
    }
    out.sort();
    Ok(out)
}

/// (relative path, is_dir) of everything under `rel`, down to `depth`
/// components when given; symlinks are not followed.
fn walk(
    context: &Path,
    rel: &str,
    depth: Option<usize>,
    out: &mut Vec<(String, bool)>,
) -> Result<(), ContextError> {
    let dir = context.join(rel);
    let mut names: Vec<String> = fs::read_dir(&dir)
        .map_err(io(&dir))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(io(&dir))?;
    names.sort();
    for n in names {
        let child = if rel.is_empty() {
            n
        } else {
            format!("{rel}/{n}")
        };
        let is_dir = fs::symlink_metadata(context.join(&child))
            .map_err(io(&dir))?
            .is_dir();
        out.push((child.clone(), is_dir));
        let deeper = depth.is_none_or(|d| child.split('/').count() < d);
        if is_dir && deeper {
            walk(context, &child, depth, out)?;
        }
    }
    Ok(())
}

/// The files a match brings (itself, or everything under a directory),
/// `.dockerignore` applied, in name order.
pub fn files_of(
    context: &Path,
    m: &Matched,
    ignore: &DockerIgnore,
) -> Result<Vec<String>, ContextError> {
    if !m.is_dir {
        return Ok(vec![m.rel.clone()]);
    }
    let mut all = Vec::new();
    let start = if m.rel == "." { "" } else { m.rel.as_str() };
    walk(context, start, None, &mut all)?;
    Ok(all
        .into_iter()
        .map(|(r, _)| r)
        .filter(|r| !ignore.excluded(r))
        .collect())
}

/// The digest of what `sources` bring from the context: for each file in
/// order its path, kind, permission bits and bytes (or link target).
pub fn digest(
    context: &Path,
    sources: &[String],
    ignore: &DockerIgnore,
) -> Result<String, ContextError> {
    let mut h = sha2::Sha256::new();
    for s in sources {
        for m in resolve(context, s, ignore)? {
            h.update(format!("match {} {}\n", m.rel, m.is_dir));
            for f in files_of(context, &m, ignore)? {
                hash_entry(&mut h, context, &f)?;
            }
        }
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

fn hash_entry(h: &mut sha2::Sha256, context: &Path, rel: &str) -> Result<(), ContextError> {
    let path = context.join(rel);
    let meta = fs::symlink_metadata(&path).map_err(io(&path))?;
    let mode = meta.permissions().mode();
    if meta.file_type().is_symlink() {
        let target = fs::read_link(&path).map_err(io(&path))?;
        h.update(format!("link {rel} {}\n", target.display()));
    } else if meta.is_dir() {
        h.update(format!("dir {rel} {mode:o}\n"));
    } else {
        h.update(format!("file {rel} {mode:o} {}\n", meta.len()));
        let mut f = fs::File::open(&path).map_err(io(&path))?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = f.read(&mut buf).map_err(io(&path))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        fs::create_dir_all(p.join("src/gen")).unwrap();
        fs::write(p.join("src/a.rs"), "a").unwrap();
        fs::write(p.join("src/b.rs"), "b").unwrap();
        fs::write(p.join("src/gen/c.rs"), "c").unwrap();
        fs::write(p.join("app.log"), "log").unwrap();
        fs::write(p.join("Cargo.toml"), "x").unwrap();
        d
    }

    #[test]
    fn globs_dirs_and_ignore() {
        let d = ctx();
        let ig = DockerIgnore::parse("*.log\nsrc/gen\n").unwrap();
        let m = resolve(d.path(), "src/*.rs", &ig).unwrap();
        assert_eq!(
            m.iter().map(|m| m.rel.as_str()).collect::<Vec<_>>(),
            ["src/a.rs", "src/b.rs"]
        );
        let m = resolve(d.path(), "./src", &ig).unwrap();
        assert_eq!(
            files_of(d.path(), &m[0], &ig).unwrap(),
            ["src/a.rs", "src/b.rs"]
        );
        let e = resolve(d.path(), "app.log", &ig).unwrap_err().to_string();
        assert!(e.contains("excluded by .dockerignore: app.log"), "{e}");
        assert!(resolve(d.path(), "*.nothing", &ig).is_err());
        assert!(matches!(
            resolve(d.path(), "../etc/passwd", &ig),
            Err(ContextError::Outside(_))
        ));
        let all = resolve(d.path(), ".", &ig).unwrap();
        let files = files_of(d.path(), &all[0], &ig).unwrap();
        assert!(
            files.contains(&"Cargo.toml".to_string()) && !files.contains(&"app.log".to_string())
        );
    }

    #[test]
    fn digest_follows_content_and_ignores_excluded_files() {
        let d = ctx();
        let ig = DockerIgnore::parse("*.log\n").unwrap();
        let srcs = vec!["src".to_string(), "Cargo.toml".to_string()];
        let one = digest(d.path(), &srcs, &ig).unwrap();
        assert_eq!(one, digest(d.path(), &srcs, &ig).unwrap());
        fs::write(d.path().join("app.log"), "other").unwrap();
        assert_eq!(one, digest(d.path(), &srcs, &ig).unwrap());
        fs::write(d.path().join("src/gen/c.rs"), "changed").unwrap();
        let two = digest(d.path(), &srcs, &ig).unwrap();
        assert_ne!(one, two);
        fs::set_permissions(
            d.path().join("Cargo.toml"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_ne!(two, digest(d.path(), &srcs, &ig).unwrap());
    }
}
