//! Which files make the project, where its directory is, and the variables
//! interpolation sees: `-f` or `COMPOSE_FILE` or the default names (looked
//! for in the working directory and its parents, with the matching
//! override file); `.env` beside the project or `--env-file`; the shell's
//! variables over the files' (docker/compose#9045 got this backwards).

use crate::dotenv;
use crate::error::LoadError;
use crate::LoadOptions;
use indexmap::IndexMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The largest file the loader reads: a Compose file, `.env`, an
/// `env_file:` or an `extends: file:` (Compose files are kilobytes).
pub(crate) const MAX_FILE: u64 = 16 << 20;

/// The text of a host file the project names. Only a regular file of at
/// most [`MAX_FILE`] bytes: `env_file: /dev/zero` would otherwise never end
/// and a FIFO would block the loader forever. Not-found stays `NotFound`.
pub(crate) fn read_host(path: &Path) -> io::Result<String> {
    use std::os::unix::fs::OpenOptionsExt;
    regular(&std::fs::metadata(path)?)?;
    // Non-blocking, so that a FIFO put in its place since cannot block
    // the open; the open file is checked again.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    regular(&file.metadata()?)?;
    capped(file)
}

/// All of `r` (standard input for `-f -`), up to [`MAX_FILE`] bytes.
pub(crate) fn capped(r: impl Read) -> io::Result<String> {
    let mut text = String::new();
    r.take(MAX_FILE + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE {
        return Err(too_large());
    }
    Ok(text)
}

fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "larger than {} MiB, the most rrun reads: name a smaller file",
            MAX_FILE >> 20
        ),
    )
}

fn regular(meta: &std::fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_file() {
        return if meta.len() > MAX_FILE {
            Err(too_large())
        } else {
            Ok(())
        };
    }
    let kind = if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({kind}): name a regular file"),
    ))
}

/// The names Compose looks for, in its order.
const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];
const OVERRIDE_FILES: [&str; 4] = [
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// Where the project's files and variables come from.
#[derive(Debug)]
pub(crate) struct Setup {
    /// Absolute; `-` for standard input.
    pub files: Vec<PathBuf>,
    pub project_dir: PathBuf,
    /// `.env` (or `--env-file`) values, then the shell's over them.
    pub env: IndexMap<String, String>,
    /// Several default files in the same directory (one is used).
    pub warnings: Vec<String>,
}

pub(crate) fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() || p == Path::new("-") {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// The files, directory and variables of `opts`. `from_str`: the YAML comes
/// from the caller, so no file is looked for.
pub(crate) fn setup(opts: &LoadOptions, from_str: bool) -> Result<Setup, LoadError> {
    let wd = &opts.working_dir;
    let explicit_dir = opts.project_directory.as_ref().map(|d| absolute(wd, d));
    let mut warnings = Vec::new();
    let files = if from_str || !opts.files.is_empty() {
        opts.files.iter().map(|f| absolute(wd, f)).collect()
    } else {
        let base = explicit_dir.clone().unwrap_or_else(|| wd.clone());
        let early = read_env_files(opts, &base)?;
        match variable(opts, &early, "COMPOSE_FILE") {
            Some(list) if !list.is_empty() => {
                let sep =
                    variable(opts, &early, "COMPOSE_PATH_SEPARATOR").unwrap_or_else(|| ":".into());
                list.split(sep.as_str())
                    .filter(|s| !s.is_empty())
                    .map(|f| absolute(&base, Path::new(f)))
                    .collect()
            }
            _ => {
                let found = discover(wd)?;
                warnings = several_defaults(&found);
                found
            }
        }
    };
    let project_dir = match (&explicit_dir, files.first()) {
        (Some(dir), _) => dir.clone(),
        (None, Some(f)) if f != Path::new("-") => {
            f.parent().map_or_else(|| wd.clone(), Path::to_path_buf)
        }
        _ => wd.clone(),
    };
    let mut env = read_env_files(opts, &project_dir)?;
    for (k, v) in &opts.environment {
        env.insert(k.clone(), v.clone());
    }
    Ok(Setup {
        files,
        project_dir,
        env,
        warnings,
    })
}

/// A variable of the shell, else of the env files.
fn variable(opts: &LoadOptions, files: &IndexMap<String, String>, name: &str) -> Option<String> {
    opts.environment
        .get(name)
        .or_else(|| files.get(name))
        .cloned()
}

/// `--env-file`s (each must exist), else `<dir>/.env` when it exists.
fn read_env_files(opts: &LoadOptions, dir: &Path) -> Result<IndexMap<String, String>, LoadError> {
    let paths: Vec<PathBuf> = if opts.env_files.is_empty() {
        let dot = dir.join(".env");
        if dot.is_file() {
            vec![dot]
        } else {
            vec![]
        }
    } else {
        opts.env_files
            .iter()
            .map(|f| absolute(&opts.working_dir, f))
            .collect()
    };
    let mut env = IndexMap::new();
    for path in paths {
        let label = path.display().to_string();
        let text = read_host(&path).map_err(|source| LoadError::Read {
            file: label.clone(),
            source,
        })?;
        let lookup = |name: &str| {
            opts.environment
                .get(name)
                .or_else(|| env.get(name))
                .cloned()
        };
        let parsed = dotenv::parse(&text, &label, &lookup)?;
        env.extend(parsed);
    }
    Ok(env)
}

/// Compose's warning when the directory of the first file holds more than
/// one of the default names.
fn several_defaults(files: &[PathBuf]) -> Vec<String> {
    let Some(dir) = files.first().and_then(|f| f.parent()) else {
        return vec![];
    };
    let found: Vec<String> = DEFAULT_FILES
        .iter()
        .filter(|n| dir.join(n).is_file())
        .map(|n| n.to_string())
        .collect();
    if found.len() < 2 {
        return vec![];
    }
    vec![format!(
        "found several Compose files in {}: {}; using {}",
        dir.display(),
        found.join(", "),
        found[0]
    )]
}

/// The first default file in `dir` or its nearest parent, with its
/// override file beside it when there is one.
fn discover(start: &Path) -> Result<Vec<PathBuf>, LoadError> {
    for dir in start.ancestors() {
        let Some(main) = DEFAULT_FILES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
        else {
            continue;
        };
        let mut files = vec![main];
        files.extend(
            OVERRIDE_FILES
                .iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file()),
        );
        return Ok(files);
    }
    Err(LoadError::NoFile {
        dir: start.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("rrun-compose-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn opts(wd: &Path) -> LoadOptions {
        LoadOptions {
            working_dir: wd.to_path_buf(),
            ..Default::default()
        }
    }

    #[test]
    fn default_names_are_found_in_parents_with_their_override() {
        let dir = tmp("discover");
        std::fs::write(dir.join("docker-compose.yml"), "services: {}").unwrap();
        std::fs::write(dir.join("docker-compose.override.yml"), "services: {}").unwrap();
        let sub = dir.join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let s = setup(&opts(&sub), false).unwrap();
        assert_eq!(
            s.files,
            vec![
                dir.join("docker-compose.yml"),
                dir.join("docker-compose.override.yml")
            ]
        );
        assert_eq!(s.project_dir, dir);
        assert!(setup(&opts(&sub), false).unwrap().warnings.is_empty());
        std::fs::write(dir.join("compose.yaml"), "services: {}").unwrap();
        let s = setup(&opts(&sub), false).unwrap();
        assert_eq!(s.files[0], dir.join("compose.yaml"));
        assert!(s.warnings[0].ends_with(": compose.yaml, docker-compose.yml; using compose.yaml"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_file_is_one_clear_error() {
        let dir = tmp("none");
        let err = setup(&opts(&dir), false).unwrap_err().to_string();
        assert!(err.starts_with("no Compose file in "), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn compose_file_from_dotenv_split_on_the_separator() {
        let dir = tmp("composefile");
        std::fs::write(
            dir.join(".env"),
            "COMPOSE_FILE=one.yml;two.yml\nCOMPOSE_PATH_SEPARATOR=;\n",
        )
        .unwrap();
        let s = setup(&opts(&dir), false).unwrap();
        assert_eq!(s.files, vec![dir.join("one.yml"), dir.join("two.yml")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shell_wins_over_dotenv_and_env_file_replaces_dotenv() {
        let dir = tmp("env");
        std::fs::write(dir.join(".env"), "A=file\nB=file\n").unwrap();
        std::fs::write(dir.join("other.env"), "C=other\n").unwrap();
        let mut o = opts(&dir);
        o.files = vec!["compose.yaml".into()];
        o.environment.insert("A".into(), "shell".into());
        let s = setup(&o, false).unwrap();
        assert_eq!(
            (s.env["A"].as_str(), s.env["B"].as_str()),
            ("shell", "file")
        );
        o.env_files = vec!["other.env".into()];
        let s = setup(&o, false).unwrap();
        assert_eq!(s.env.get("B"), None);
        assert_eq!(s.env["C"], "other");
        o.env_files = vec!["missing.env".into()];
        assert!(setup(&o, false)
            .unwrap_err()
            .to_string()
            .contains("missing.env: cannot read it"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn project_directory_is_the_first_files_unless_given() {
        let dir = tmp("pdir");
        let mut o = opts(&dir);
        o.files = vec!["sub/compose.yaml".into()];
        assert_eq!(setup(&o, false).unwrap().project_dir, dir.join("sub"));
        o.project_directory = Some("elsewhere".into());
        assert_eq!(setup(&o, false).unwrap().project_dir, dir.join("elsewhere"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
