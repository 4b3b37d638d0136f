//! `rrun images`, `rmi`, `save`, `import`, `image …`: Docker's image
//! commands, their flags and their output.

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use serde_json::Value;
use std::io::{IsTerminal, Read, Write};

use crate::apimodel::models::{ImageDeleteResponseItem, ImagePruneResponse, ImageSummary};
use crate::apimodel::query::{
    FiltersQuery, ImageCreateQuery, ImageDeleteQuery, ListQuery, LoadQuery, TagQuery,
};
use crate::apimodel::Filters;

use super::client::{enc, url, Client};
use super::format::{confirm, human_size, list_format, print_inspected, print_rows, short_size};

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images).
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling=, reference=, label=).
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a template ('table …', '{{json .}}', '{{.Repository}}').
    #[arg(long)]
    pub format: Option<String>,
    /// The repository (and tag) to list.
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image.
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents (accepted; there are none).
    #[arg(long)]
    pub no_prune: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instructions to the created image.
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Set commit message for imported image (accepted, not stored).
    #[arg(short, long)]
    pub message: Option<String>,
    /// A file, or `-` for STDIN.
    pub file: String,
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

// `load`'s flags.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN.
    #[arg(short, long)]
    pub input: Option<std::path::PathBuf>,
    /// Suppress the load output.
    #[arg(short, long)]
    pub quiet: bool,
}

// `pull`'s flags.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Suppress verbose output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable.
    #[arg(long)]
    pub platform: Option<String>,
    pub image: String,
}

// `tag`'s arguments.
#[derive(Debug, Args)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

// `image inspect`'s flags.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a template ('json', or a Go template).
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

fn short_id(id: &str, no_trunc: bool) -> String {
    let id = if no_trunc {
        id
    } else {
        id.trim_start_matches("sha256:")
    };
    super::format::short_id(id, no_trunc)
}

fn since(secs: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    format!("{} ago", rrun_units::human_duration_secs(now - secs))
}

/// One `images` row: the fields a `--format` template sees (Docker's
/// names, as strings).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageRow {
    #[serde(rename = "ID")]
    id: String,
    repository: String,
    tag: String,
    digest: String,
    created_since: String,
    created_at: String,
    size: String,
    virtual_size: String,
    shared_size: String,
    unique_size: String,
    containers: String,
}

/// One row per repository:tag (one `<none>` row for an untagged image).
pub fn image_rows(list: &[ImageSummary], no_trunc: bool) -> Vec<ImageRow> {
    let mut rows = Vec::new();
    for v in list {
        let size = short_size(v.size.max(0) as u64);
        let mut tags = v.repo_tags.clone();
        if tags.is_empty() {
            tags.push("<none>:<none>".into());
        }
        let digest = v
            .repo_digests
            .first()
            .and_then(|d| d.split_once('@'))
            .map(|(_, d)| d.to_string())
            .unwrap_or_else(|| "<none>".into());
        for t in tags {
            let (repo, tag) = split_tag(&t);
            rows.push(ImageRow {
                id: short_id(&v.id, no_trunc),
                repository: repo.into(),
                tag: tag.into(),
                digest: digest.clone(),
                created_since: since(v.created),
                created_at: chrono::DateTime::from_timestamp(v.created, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
                    .unwrap_or_default(),
                size: size.clone(),
                virtual_size: size.clone(),
                shared_size: "N/A".into(),
                unique_size: "N/A".into(),
                containers: match v.containers {
                    n if n < 0 => "N/A".into(),
                    n => n.to_string(),
                },
            });
        }
    }
    rows
}

pub fn images(c: &Client, a: &ImagesArgs) -> Result<i32> {
    let default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let format = list_format(a.format.as_deref(), default)?;
    let mut filters = a.filter.clone();
    if let Some(r) = &a.reference {
        filters.push(format!("reference={r}"));
    }
    let q = ListQuery {
        all: a.all,
        filters: Filters::from_flags(&filters)?,
    };
    let list: Vec<ImageSummary> = c.get(&url("/images/json", &q)?)?;
    if a.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for v in &list {
            let id = short_id(&v.id, a.no_trunc);
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(0);
    }
    let rows = image_rows(&list, a.no_trunc)
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<Value>, _>>()?;
    print_rows(&format, &rows, IMAGE_HEADERS)?;
    Ok(0)
}

const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("VirtualSize", "SIZE"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("Containers", "CONTAINERS"),
];

/// Prints `Untagged: …` / `Deleted: …` lines (Docker's `rmi` output;
/// lower case in prune lists).
pub fn print_removed(items: &[ImageDeleteResponseItem], lower: bool) {
    let (u, d) = if lower {
        ("untagged", "deleted")
    } else {
        ("Untagged", "Deleted")
    };
    for it in items {
        if let Some(n) = &it.untagged {
            println!("{u}: {n}");
        }
        if let Some(n) = &it.deleted {
            println!("{d}: {n}");
        }
    }
}

pub fn rmi(c: &Client, a: &RmiArgs) -> Result<i32> {
    let mut failed = false;
    for n in &a.images {
        let q = ImageDeleteQuery {
            force: a.force,
            noprune: a.no_prune,
        };
        let path = url(&format!("/images/{}", encode_path(n)), &q)?;
        let removed = c.request("DELETE", &path, None);
        match removed.and_then(|r| r.json::<Vec<ImageDeleteResponseItem>>()) {
            Ok(v) => print_removed(&v, false),
            Err(e) => {
                eprintln!("{e:#}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// An image name in a path: `/` stays (the daemon takes the rest of the
/// path), everything else is percent-encoded.
pub fn encode_path(name: &str) -> String {
    name.split('/').map(enc).collect::<Vec<_>>().join("/")
}

pub fn inspect(c: &Client, a: &InspectArgs) -> Result<i32> {
    print_inspected(&a.images, a.format.as_deref(), |n| {
        c.get_raw(&format!("/images/{}/json", encode_path(n)))
    })
}

pub fn prune(c: &Client, a: &PruneArgs) -> Result<i32> {
    let what = if a.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    if !confirm(a.force, what)? {
        return Ok(0);
    }
    let (v, space) = prune_images(c, a.all, &a.filter)?;
    if !v.is_empty() {
        println!("Deleted Images:");
        print_removed(&v, true);
        println!();
    }
    println!("Total reclaimed space: {}", human_size(space));
    Ok(0)
}

/// `POST /images/prune`: what went, and the bytes reclaimed.
pub fn prune_images(
    c: &Client,
    all: bool,
    filter: &[String],
) -> Result<(Vec<ImageDeleteResponseItem>, u64)> {
    let mut filters = filter.to_vec();
    if all {
        filters.push("dangling=false".into());
    }
    let q = FiltersQuery {
        filters: Filters::from_flags(&filters)?,
    };
    let v: ImagePruneResponse = c.post(&url("/images/prune", &q)?)?.json()?;
    let space = v.space_reclaimed.unwrap_or(0).max(0) as u64;
    Ok((v.images_deleted.unwrap_or_default(), space))
}

pub fn save(c: &Client, a: &SaveArgs) -> Result<i32> {
    if a.output.is_none() && std::io::stdout().is_terminal() {
        anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let q: Vec<String> = a
        .images
        .iter()
        .map(|n| format!("names={}", enc(n)))
        .collect();
    let body = c
        .request("GET", &format!("/images/get?{}", q.join("&")), None)?
        .body;
    write_archive(body, a.output.as_deref())?;
    Ok(0)
}

/// An archive the daemon streams (`save`, `export`) written to `output`,
/// else to stdout.
pub fn write_archive(mut body: impl Read, output: Option<&std::path::Path>) -> Result<()> {
    match output {
        Some(p) => {
            // Written beside the target and renamed, so a failed save leaves
            // no half archive under the name asked for.
            let tmp = p.with_extension("rrun-save-tmp");
            let mut f =
                std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
            let copied = std::io::copy(&mut body, &mut f).and_then(|_| f.sync_all());
            if let Err(e) = copied {
                let _ = std::fs::remove_file(&tmp);
                return Err(e).context("write the archive");
            }
            std::fs::rename(&tmp, p).with_context(|| format!("write {}", p.display()))?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut body, &mut out).context("write the archive")?;
            out.flush()?;
        }
    }
    Ok(())
}

pub fn import(c: &Client, a: &ImportArgs) -> Result<i32> {
    let file = std::path::Path::new(&a.file);
    let data = read_input((a.file != "-").then_some(file))?;
    let (repo, tag) = match &a.reference {
        Some(r) => {
            let (n, t) = split_tag(r);
            (n.to_string(), t.to_string())
        }
        None => (String::new(), String::new()),
    };
    let q = ImageCreateQuery {
        from_src: Some("-".into()),
        repo: Some(repo),
        tag: Some(tag),
        changes: (!a.change.is_empty()).then(|| a.change.join("\n")),
        message: a.message.clone(),
        ..Default::default()
    };
    let text = c
        .request(
            "POST",
            &url("/images/create", &q)?,
            Some(("application/x-tar", data.into())),
        )?
        .text()?;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).context("parse the daemon's answer")?;
        if let Some(e) = v["error"].as_str() {
            anyhow::bail!("Error response from daemon: {e}");
        }
        if let Some(s) = v["status"].as_str() {
            println!("{s}");
        }
    }
    Ok(0)
}

/// An archive from a file, else (None) from stdin.
fn read_input(file: Option<&std::path::Path>) -> Result<Vec<u8>> {
    match file {
        Some(p) => std::fs::read(p).with_context(|| format!("read {}", p.display())),
        None => {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b).context("read stdin")?;
            Ok(b)
        }
    }
}

pub fn load(c: &Client, input: Option<std::path::PathBuf>, quiet: bool) -> Result<i32> {
    let data = read_input(input.as_deref())?;
    let q = url("/images/load", &LoadQuery { quiet })?;
    let text = c
        .request("POST", &q, Some(("application/x-tar", data.into())))?
        .text()?;
    for line in text.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            if let Some(s) = v["stream"].as_str() {
                print!("{s}");
            }
            // A bad archive: the daemon's error, in the stream (as dockerd).
            if let Some(e) = v["errorDetail"]["message"].as_str() {
                eprintln!("Error response from daemon: {e}");
                return Ok(1);
            }
        }
    }
    Ok(0)
}

/// `busybox` → `busybox:latest` (names with a tag or digest unchanged).
pub fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// Pulls through the daemon (the image for `platform` with `--platform`),
/// printing Docker's progress lines (to stderr when `to_stderr`, as `run`
/// does).
pub fn pull(
    c: &Client,
    image: &str,
    platform: Option<&str>,
    quiet: bool,
    to_stderr: bool,
) -> Result<()> {
    let full = with_tag(image);
    let (from, tag) = match full.split_once('@') {
        Some((f, d)) => (f.to_string(), d.to_string()),
        None => {
            let (f, t) = split_tag(&full);
            (f.to_string(), t.to_string())
        }
    };
    let q = ImageCreateQuery {
        from_image: Some(from),
        tag: Some(tag),
        platform: platform.map(str::to_string),
        ..Default::default()
    };
    let body = c.post(&url("/images/create", &q)?)?.body;
    show_progress(body, quiet, to_stderr)?;
    if !to_stderr {
        println!("{full}");
    }
    Ok(())
}

/// Prints a pull's or a push's JSON progress stream as Docker does: a
/// progress bar per layer on a terminal, else a line per status (to
/// stderr when `to_stderr`); an error in the stream is the error.
fn show_progress(body: impl Read, quiet: bool, to_stderr: bool) -> Result<()> {
    let say = |line: String| {
        if quiet {
            return;
        }
        if to_stderr {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    // On a terminal, a progress bar per layer, as Docker draws them.
    let tty = {
        use std::io::IsTerminal;
        !quiet
            && if to_stderr {
                std::io::stderr().is_terminal()
            } else {
                std::io::stdout().is_terminal()
            }
    };
    let mut bars = tty.then(|| super::progress::Bars::new(to_stderr));
    for l in std::io::BufRead::lines(std::io::BufReader::new(body)) {
        let l = l.context("read the progress")?;
        if l.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&l).context("parse the progress")?;
        if let Some(err) = v["error"].as_str() {
            anyhow::bail!("Error response from daemon: {err}");
        }
        let status = v["status"].as_str().unwrap_or("");
        if let Some(bars) = bars.as_mut() {
            bars.update(&v);
            continue;
        }
        if status == "Downloading" {
            continue;
        }
        match v["id"].as_str() {
            Some(id) => say(format!("{id}: {status}")),
            None => say(status.to_string()),
        }
    }
    drop(bars);
    Ok(())
}

/// `name:tag` → (name, tag), minding a registry port.
pub fn split_tag(r: &str) -> (&str, &str) {
    match r.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => (r, "latest"),
    }
}

/// `rrun pull`: the progress, then the full name.
pub fn pull_cmd(c: &Client, image: &str, platform: Option<&str>, quiet: bool) -> Result<i32> {
    pull(c, image, platform, quiet, false)?;
    Ok(0)
}

// `push`'s flags.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository.
    #[arg(short, long)]
    pub all_tags: bool,
    /// Suppress verbose output.
    #[arg(short, long)]
    pub quiet: bool,
    /// NAME[:TAG]
    pub image: String,
}

/// `POST /images/{name}/push`'s path, as docker/cli asks it: the tag (or
/// digest) apart, `latest` when there is none, no tag with `-a`.
pub fn push_path(a: &PushArgs) -> Result<String> {
    let last = a.image.rsplit('/').next().unwrap_or(&a.image);
    let (name, tag) = match a.image.split_once('@') {
        Some((name, digest)) => (name, digest),
        None if a.all_tags && last.contains(':') => {
            anyhow::bail!("tag can't be used with --all-tags/-a")
        }
        None if a.all_tags => (a.image.as_str(), ""),
        None => split_tag(&a.image),
    };
    Ok(format!(
        "/images/{}/push?tag={}",
        encode_path(name),
        enc(tag)
    ))
}

/// `rrun push`: the stored credentials of the image's registry sent along
/// (as docker/cli does), the daemon's progress shown as pull's.
pub fn push(c: &Client, a: &PushArgs) -> Result<i32> {
    let auth = super::login::registry_auth(&a.image)?;
    let headers: Vec<(&str, String)> = auth.map(|v| ("X-Registry-Auth", v)).into_iter().collect();
    let body = c.request_with("POST", &push_path(a)?, None, &headers)?.body;
    show_progress(body, a.quiet, false)?;
    Ok(0)
}

/// `rrun tag SOURCE TARGET`.
pub fn tag(c: &Client, source: &str, target: &str) -> Result<i32> {
    let (repo, tag) = split_tag(target);
    let q = TagQuery {
        repo: repo.to_string(),
        tag: tag.to_string(),
    };
    c.post(&url(&format!("/images/{}/tag", enc(source)), &q)?)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_paths_as_docker_cli_asks() {
        let p = |image: &str, all_tags| {
            let a = PushArgs {
                all_tags,
                quiet: false,
                image: image.into(),
            };
            push_path(&a).map_err(|e| e.to_string())
        };
        assert_eq!(
            p("reg:5000/app", false).unwrap(),
            "/images/reg%3A5000/app/push?tag=latest"
        );
        assert_eq!(p("app:1", false).unwrap(), "/images/app/push?tag=1");
        assert_eq!(p("app", true).unwrap(), "/images/app/push?tag=");
        assert_eq!(
            p("app@sha256:ab", false).unwrap(),
            "/images/app/push?tag=sha256%3Aab"
        );
        assert!(p("app:1", true).unwrap_err().contains("--all-tags"));
    }

    #[test]
    fn rows_per_tag() {
        let list = vec![ImageSummary {
            id: "sha256:0123456789abcdef".into(),
            repo_tags: vec!["a:1".into(), "b:latest".into()],
            size: 1_500_000,
            containers: 2,
            ..Default::default()
        }];
        let rows: Vec<Value> = image_rows(&list, false)
            .iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["Repository"], "a");
        assert_eq!(rows[0]["ID"], "0123456789ab");
        assert_eq!(rows[1]["Size"], "1.5MB");
        let untagged = ImageSummary {
            id: "sha256:ff".into(),
            ..Default::default()
        };
        let rows = image_rows(&[untagged], true);
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect();
        assert_eq!(rows[0]["Tag"], "<none>");
        assert_eq!(rows[0]["ID"], "sha256:ff");
        assert_eq!(encode_path("localhost:5000/a b"), "localhost%3A5000/a%20b");
    }

    #[test]
    fn tags_split() {
        assert_eq!(split_tag("busybox"), ("busybox", "latest"));
        assert_eq!(split_tag("localhost:5000/x:1"), ("localhost:5000/x", "1"));
        assert_eq!(
            split_tag("localhost:5000/x"),
            ("localhost:5000/x", "latest")
        );
    }
}
