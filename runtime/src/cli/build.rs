//! `rrun build` / `rrun image build`: docker/cli's classic builder client
//! (`DOCKER_BUILDKIT=0 docker build`): the context directory as a tar
//! without what `.dockerignore` excludes, `POST /build` with the flags as
//! its query, and the daemon's stream printed as it comes.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use rrun_build::ignore::DockerIgnore;

use super::client::{enc, Client};
use super::format::kv;

// `build`'s flags.
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Name and optionally a tag in the 'name:tag' format.
    #[arg(short, long)]
    pub tag: Vec<String>,
    /// Name of the Dockerfile (default: 'PATH/Dockerfile'); `-` reads it
    /// from stdin.
    #[arg(short, long)]
    pub file: Option<String>,
    /// Set build-time variables.
    #[arg(long)]
    pub build_arg: Vec<String>,
    /// Set metadata for an image.
    #[arg(long)]
    pub label: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image.
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image.
    #[arg(long)]
    pub pull: bool,
    /// Suppress the build output and print image ID on success.
    #[arg(short, long)]
    pub quiet: bool,
    /// Always remove intermediate containers.
    #[arg(long)]
    pub force_rm: bool,
    /// Set the networking mode for the RUN instructions during build.
    #[arg(long)]
    pub network: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip) for RUN.
    #[arg(long)]
    pub add_host: Vec<String>,
    /// Write the image ID to the file.
    #[arg(long)]
    pub iidfile: Option<std::path::PathBuf>,
    /// Set platform (this host's only: linux/<arch>).
    #[arg(long)]
    pub platform: Option<String>,
    /// Set type of progress output (auto, plain, tty); the classic builder
    /// prints the same either way.
    #[arg(long, value_parser = ["auto", "plain", "tty"])]
    pub progress: Option<String>,
    /// The context: a directory, or `-` for a tar archive (or a
    /// Dockerfile alone) on stdin.
    pub context: String,
}

/// `POST /build`'s query, as docker/cli's classic builder sends it.
pub fn build_query(a: &BuildArgs) -> Result<String> {
    let mut q: Vec<String> = a.tag.iter().map(|t| format!("t={}", enc(t))).collect();
    if let Some(f) = &a.file {
        q.push(format!("dockerfile={}", enc(f)));
    }
    // `--build-arg NAME` takes NAME's value from rrun's environment.
    let args: BTreeMap<String, String> = a
        .build_arg
        .iter()
        .filter_map(|b| match b.split_once('=') {
            Some((k, v)) => Some((k.to_string(), v.to_string())),
            None => std::env::var(b).ok().map(|v| (b.clone(), v)),
        })
        .collect();
    q.push(format!("buildargs={}", enc(&serde_json::to_string(&args)?)));
    let labels: BTreeMap<String, String> = kv(&a.label).into_iter().collect();
    q.push(format!("labels={}", enc(&serde_json::to_string(&labels)?)));
    if let Some(t) = &a.target {
        q.push(format!("target={}", enc(t)));
    }
    if let Some(n) = &a.network {
        q.push(format!("networkmode={}", enc(n)));
    }
    for h in &a.add_host {
        q.push(format!("extrahosts={}", enc(h)));
    }
    if let Some(p) = &a.platform {
        q.push(format!("platform={}", enc(p)));
    }
    q.push(format!("nocache={}", a.no_cache));
    q.push(format!("pull={}", a.pull));
    q.push(format!("q={}", a.quiet));
    q.push("rm=true".into());
    q.push(format!("forcerm={}", a.force_rm));
    Ok(format!("/build?{}", q.join("&")))
}

/// The context directory as a tar, less what `.dockerignore` excludes
/// (the Dockerfile and `.dockerignore` themselves always go, as docker's).
/// With `stdin_dockerfile`, that text goes in too, under `dockerfile`'s
/// name (`-f -`, as docker's `.dockerfile.<random>`).
pub fn context_tar(
    dir: &Path,
    dockerfile: &str,
    stdin_dockerfile: Option<&[u8]>,
) -> Result<Vec<u8>> {
    let ignore = match std::fs::read_to_string(dir.join(".dockerignore")) {
        Ok(text) => DockerIgnore::parse(&text).context("read .dockerignore")?,
        Err(_) => DockerIgnore::default(),
    };
    let keep = [dockerfile.to_string(), ".dockerignore".to_string()];
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    add_dir(&mut tar, dir, "", &ignore, &keep)?;
    if let Some(text) = stdin_dockerfile {
        append_file(&mut tar, dockerfile, text)?;
    }
    Ok(tar.into_inner()?)
}

fn append_file(tar: &mut tar::Builder<Vec<u8>>, name: &str, text: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(text.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    tar.append_data(&mut h, name, text)?;
    Ok(())
}

/// What `build -` sends: stdin as it is when it is an archive (a tar, or
/// a gzipped one), else a context holding stdin as its `Dockerfile`
/// (`rrun build - < Dockerfile`, as docker's).
fn stdin_context(input: Vec<u8>) -> Result<Vec<u8>> {
    let is_tar = input.get(257..262) == Some(b"ustar".as_slice());
    if is_tar || input.starts_with(&[0x1f, 0x8b]) {
        return Ok(input);
    }
    let mut tar = tar::Builder::new(Vec::new());
    append_file(&mut tar, "Dockerfile", &input)?;
    Ok(tar.into_inner()?)
}

fn add_dir(
    tar: &mut tar::Builder<Vec<u8>>,
    root: &Path,
    rel: &str,
    ignore: &DockerIgnore,
    keep: &[String],
) -> Result<()> {
    let dir = root.join(rel);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("read {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let is_dir = e.file_type()?.is_dir();
        let excluded = ignore.excluded(&path) && !keep.contains(&path);
        // An excluded directory may still hold an exception (`!dir/keep`).
        if excluded && !(is_dir && ignore.has_exceptions()) {
            continue;
        }
        if is_dir {
            if !excluded {
                tar.append_dir(&path, e.path())?;
            }
            add_dir(tar, root, &path, ignore, keep)?;
        } else {
            tar.append_path_with_name(e.path(), &path)
                .with_context(|| format!("archive {}", e.path().display()))?;
        }
    }
    Ok(())
}

/// Prints the build's stream: `stream` text as it is, `status` lines,
/// the image id last with `-q`; an `error` is the build's error.
fn show_stream(
    body: impl std::io::Read,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<Option<String>> {
    let mut id = None;
    for line in std::io::BufReader::new(body).lines() {
        let line = line.context("read the build output")?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line).context("parse the build output")?;
        if let Some(err) = v["error"].as_str() {
            bail!("{err}");
        }
        if let Some(i) = v["aux"]["ID"].as_str() {
            id = Some(i.to_string());
        }
        if quiet {
            continue;
        }
        if let Some(s) = v["stream"].as_str() {
            out.write_all(s.as_bytes())?;
        } else if let Some(s) = v["status"].as_str() {
            writeln!(out, "{s}")?;
        }
        out.flush()?;
    }
    if let (true, Some(id)) = (quiet, &id) {
        writeln!(out, "{id}")?;
    }
    Ok(id)
}

pub fn build(c: &Client, a: &BuildArgs) -> Result<i32> {
    build_to(c, a, &mut std::io::stdout().lock())
}

/// [`build`] with its output to `out` (`rrun compose up` sends it to
/// stderr: stdout is the containers' log there).
pub fn build_to(c: &Client, a: &BuildArgs, out: &mut dyn Write) -> Result<i32> {
    let read_stdin = || -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).context("read stdin")?;
        Ok(buf)
    };
    let mut query_args = None;
    let body = match (a.context.as_str(), a.file.as_deref()) {
        ("-", Some("-")) => {
            bail!("invalid argument: can't use stdin for both build context and dockerfile")
        }
        ("-", _) => stdin_context(read_stdin()?)?,
        (dir, Some("-")) => {
            let mut b = [0u8; 6];
            let _ = getrandom::getrandom(&mut b);
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            let name = format!(".dockerfile.{hex}");
            let text = read_stdin()?;
            let tar = context_tar(Path::new(dir), &name, Some(&text))?;
            query_args = Some(name);
            tar
        }
        (dir, file) => context_tar(Path::new(dir), file.unwrap_or("Dockerfile"), None)?,
    };
    let query = match query_args {
        Some(name) => build_query(&BuildArgs {
            file: Some(name),
            ..a.clone()
        })?,
        None => build_query(a)?,
    };
    let resp = c.request("POST", &query, Some(("application/x-tar", body.into())))?;
    let id = show_stream(resp.body, a.quiet, out)?;
    if let (Some(path), Some(id)) = (&a.iidfile, id) {
        std::fs::write(path, &id).with_context(|| format!("write --iidfile {}", path.display()))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        a: BuildArgs,
    }

    #[test]
    fn queries_as_the_classic_builder_sends_them() {
        let a = Cmd::parse_from([
            "b",
            "-t",
            "app:1",
            "-t",
            "app:latest",
            "--build-arg",
            "V=1",
            "--target",
            "t",
            "-q",
            ".",
        ])
        .a;
        let q = build_query(&a).unwrap();
        assert!(
            q.starts_with("/build?t=app%3A1&t=app%3Alatest&buildargs=%7B%22V%22%3A%221%22%7D&"),
            "{q}"
        );
        assert!(q.contains("&target=t&") && q.contains("&q=true&"), "{q}");
    }

    #[test]
    fn the_context_leaves_out_what_dockerignore_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("Dockerfile"), "FROM busybox\n").unwrap();
        std::fs::write(
            p.join(".dockerignore"),
            "*.log\nsecret\nDockerfile\nlogs\n!logs/keep\n",
        )
        .unwrap();
        std::fs::write(p.join("a.log"), "x").unwrap();
        std::fs::write(p.join("secret"), "x").unwrap();
        std::fs::write(p.join("app.sh"), "x").unwrap();
        std::fs::create_dir(p.join("logs")).unwrap();
        std::fs::write(p.join("logs/keep"), "x").unwrap();
        std::fs::write(p.join("logs/drop"), "x").unwrap();
        let tar = context_tar(p, "Dockerfile", None).unwrap();
        let mut names: Vec<String> = tar::Archive::new(&tar[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [".dockerignore", "Dockerfile", "app.sh", "logs/keep"]
        );
    }

    #[test]
    fn the_stream_is_printed_and_an_error_is_the_error() {
        let ok = "{\"stream\":\"Step 1/1 : FROM busybox\\n\"}\n{\"aux\":{\"ID\":\"sha256:ab\"}}\n";
        assert!(show_stream(ok.as_bytes(), true, &mut std::io::sink()).is_ok());
        let bad = "{\"stream\":\"Step 1/1\\n\"}\n{\"error\":\"the command failed\"}\n";
        let e = show_stream(bad.as_bytes(), true, &mut std::io::sink()).unwrap_err();
        assert_eq!(e.to_string(), "the command failed");
    }
}
