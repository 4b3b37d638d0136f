//! `rrun-image`: drives the image library from the command line until the
//! daemon exists (and for tests).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use rrun_image::credentials::{self, Credential};
use rrun_image::images::{self, Removed};
use rrun_image::pull::{pull, Progress, PullOptions};
use rrun_image::push::{push, PushOptions, PushProgress};
use rrun_image::registry::{RegistryClient, RegistryOptions};
use rrun_image::{archive, Digest};
use rrun_image::{Platform, Reference, Store};

#[derive(Parser)]
#[command(name = "rrun-image", about = "Pull and manage rrun images")]
struct Cli {
    /// State directory (images/ and snapshots/ live under it).
    #[arg(long, default_value = "/var/lib/rrun", env = "RRUN_ROOT")]
    root: PathBuf,
    /// daemon.json with insecure-registries and registry-mirrors.
    #[arg(long, default_value = "/etc/rrun/daemon.json")]
    daemon_config: PathBuf,
    /// Docker client config with registry credentials (default
    /// $DOCKER_CONFIG/config.json or ~/.docker/config.json).
    #[arg(long)]
    docker_config: Option<PathBuf>,
    /// Replace docker.io's origin URL (for tests that must stay local).
    #[arg(long, hide = true)]
    docker_io_origin: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Pull an image from a registry.
    Pull {
        reference: String,
        /// os/arch[/variant] to choose from a multi-platform image.
        #[arg(long)]
        platform: Option<String>,
        /// Layers downloaded at once.
        #[arg(long, default_value_t = 3)]
        max_concurrent_downloads: usize,
        #[arg(short, long)]
        quiet: bool,
    },
    /// List images.
    Ls {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Docker-shaped JSON for one or more images.
    Inspect { names: Vec<String> },
    /// Give an image another name.
    Tag { source: String, target: String },
    /// Remove images (untag when other names remain).
    Rm {
        names: Vec<String>,
        #[arg(short, long)]
        force: bool,
    },
    /// Remove content no named image uses, and what interrupted pulls left.
    Prune,
    /// Load images from a `docker save` or OCI archive (tar, optionally compressed).
    Load {
        /// Read from this file instead of standard input.
        #[arg(short, long)]
        input: Option<PathBuf>,
    },
    /// Save images to a tar that is both a `docker save` and an OCI archive.
    Save {
        names: Vec<String>,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Create a one-layer image from a root filesystem tarball.
    Import { tarball: PathBuf, reference: String },
    /// Push an image to its registry.
    Push {
        reference: String,
        /// Upload blobs in PATCH chunks of this many bytes (default: one PUT).
        #[arg(long)]
        chunk_size: Option<u64>,
        /// Layers uploaded at once.
        #[arg(long, default_value_t = 5)]
        max_concurrent_uploads: usize,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Check credentials against a registry and store them in the Docker config.
    Login {
        /// Registry host (default: Docker Hub).
        server: Option<String>,
        #[arg(short, long)]
        username: String,
        #[arg(short, long)]
        password: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Forget a registry's credentials.
    Logout { server: Option<String> },
    /// Mount an image's root filesystem with overlayfs.
    Mount {
        name: String,
        #[arg(long)]
        upper: PathBuf,
        #[arg(long)]
        work: PathBuf,
        target: PathBuf,
    },
}

fn registry_options(cli: &Cli) -> Result<RegistryOptions> {
    let mut o = RegistryOptions {
        docker_io_origin: cli.docker_io_origin.clone(),
        ..Default::default()
    };
    if cli.daemon_config.exists() {
        o.load_daemon_json(&cli.daemon_config)?;
    }
    if let Some(p) = docker_config(cli) {
        o.load_docker_config(&p)?;
    }
    Ok(o)
}

fn docker_config(cli: &Cli) -> Option<PathBuf> {
    cli.docker_config
        .clone()
        .or_else(credentials::default_docker_config)
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("RRUN_LOG"))
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let store = Store::open(&cli.root)
        .with_context(|| format!("opening the store at {}", cli.root.display()))?;
    match &cli.cmd {
        Cmd::Pull {
            reference,
            platform,
            max_concurrent_downloads,
            quiet,
        } => cmd_pull(
            &cli,
            &store,
            reference,
            platform.as_deref(),
            *max_concurrent_downloads,
            *quiet,
        )?,
        Cmd::Ls { json } => cmd_ls(&store, *json)?,
        Cmd::Inspect { names } => {
            let mut all = Vec::new();
            for n in names {
                all.push(images::inspect(&images::find_image(&store, n)?));
            }
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        Cmd::Tag { source, target } => {
            images::tag(&store, source, target)?;
        }
        Cmd::Rm { names, force } => cmd_rm(&store, names, *force)?,
        Cmd::Prune => cmd_prune(&store)?,
        Cmd::Load { input } => cmd_load(&store, input.as_deref())?,
        Cmd::Save { names, output } => cmd_save(&store, names, output.as_deref())?,
        Cmd::Import { tarball, reference } => {
            let r = Reference::parse(reference)?;
            let id = archive::import(&store, tarball, &r)?;
            println!("{id}");
        }
        Cmd::Push {
            reference,
            chunk_size,
            max_concurrent_uploads,
            quiet,
        } => {
            let opts = PushOptions {
                progress: (!quiet)
                    .then(|| Arc::new(print_push) as rrun_image::push::PushProgressFn),
                chunk_size: *chunk_size,
                max_concurrent_uploads: *max_concurrent_uploads,
                cancel: None,
            };
            cmd_push(&cli, &store, reference, &opts)?
        }
        Cmd::Login {
            server,
            username,
            password,
            password_stdin,
        } => login(
            &cli,
            server.as_deref(),
            username,
            password.clone(),
            *password_stdin,
        )?,
        Cmd::Logout { server } => logout(&cli, server.as_deref())?,
        Cmd::Mount {
            name,
            upper,
            work,
            target,
        } => {
            let img = images::find_image(&store, name)?;
            rrun_image::rootfs::mount_rootfs(&store, &img, upper, work, target)?;
        }
    }
    Ok(())
}

fn cmd_ls(store: &Store, json: bool) -> Result<()> {
    for img in images::list_images(store)? {
        if json {
            println!("{}", serde_json::to_string(&images::inspect(&img))?);
            continue;
        }
        let tags = img.repo_tags();
        let id = &img.id.hex()[..12];
        if tags.is_empty() {
            println!("<none>\t<none>\t{id}\t{}", img.size());
        }
        for t in tags {
            let (repo, tag) = t.rsplit_once(':').unwrap_or((&t, "<none>"));
            println!("{repo}\t{tag}\t{id}\t{}", img.size());
        }
    }
    Ok(())
}

fn cmd_rm(store: &Store, names: &[String], force: bool) -> Result<()> {
    for n in names {
        for r in images::remove(store, n, force, &images::no_containers)? {
            match r {
                Removed::Untagged(t) => println!("Untagged: {t}"),
                Removed::Deleted(d) => println!("Deleted: {d}"),
            }
        }
    }
    Ok(())
}

fn cmd_prune(store: &Store) -> Result<()> {
    let r = images::garbage_collect(store, &images::no_containers)?;
    for b in &r.blobs {
        println!("deleted blob: {b}");
    }
    for s in &r.snapshots {
        println!("deleted snapshot: {s}");
    }
    println!("removed {} temp files", r.temp_files);
    Ok(())
}

fn cmd_load(store: &Store, input: Option<&std::path::Path>) -> Result<()> {
    let loaded = match input {
        Some(p) => {
            let f = std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
            archive::load(store, f)?
        }
        None => archive::load(store, std::io::stdin().lock())?,
    };
    for (digest, refs) in loaded.images {
        if refs.is_empty() {
            println!("Loaded image ID: {digest}");
        }
        for r in refs {
            println!("Loaded image: {}", r.familiar());
        }
    }
    Ok(())
}

fn cmd_save(store: &Store, names: &[String], output: Option<&std::path::Path>) -> Result<()> {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    match output {
        Some(p) => {
            // Written beside the target and renamed: never a torn archive.
            let tmp = p.with_extension("rrun-tmp");
            let f = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            archive::save(store, &names, std::io::BufWriter::new(f))?;
            std::fs::rename(&tmp, p)?;
        }
        None => archive::save(store, &names, std::io::stdout().lock())?,
    }
    Ok(())
}

/// `pull`: progress lines as the layers come, then the digest and id.
fn cmd_pull(
    cli: &Cli,
    store: &Store,
    reference: &str,
    platform: Option<&str>,
    max_concurrent_downloads: usize,
    quiet: bool,
) -> Result<()> {
    let r = Reference::parse(reference)?;
    let client = RegistryClient::new(registry_options(cli)?);
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let progress = (!quiet).then(|| pull_progress(out.clone()));
    let opts = PullOptions {
        platform: platform.map(Platform::parse).transpose()?,
        max_concurrent_downloads,
        progress,
        ..Default::default()
    };
    let img =
        pull(store, &client, &r, &opts).with_context(|| format!("pulling {}", r.familiar()))?;
    let mut o = out.lock().expect("stdout lock");
    writeln!(o, "Digest: {}", img.manifest)?;
    writeln!(o, "Id: {}", img.config)?;
    writeln!(o, "{}", r)?;
    Ok(())
}

fn pull_progress(out: Arc<Mutex<std::io::Stdout>>) -> rrun_image::pull::ProgressFn {
    Arc::new(move |p: &Progress| {
        let line = match p {
            Progress::Resolved { manifest, layers } => format!("{manifest}: {layers} layers"),
            Progress::LayerExists { digest } => format!("{}: Already exists", short(digest)),
            Progress::LayerStarted { digest, size } => {
                format!("{}: Pulling ({size} bytes)", short(digest))
            }
            Progress::LayerProgress {
                digest,
                received,
                size,
            } => format!("{}: Downloading {received}/{size}", short(digest)),
            Progress::LayerDone { digest } => format!("{}: Pull complete", short(digest)),
        };
        let _ = writeln!(out.lock().expect("stdout lock"), "{line}");
    })
}

fn cmd_push(cli: &Cli, store: &Store, reference: &str, opts: &PushOptions) -> Result<()> {
    let r = Reference::parse(reference)?;
    let client = RegistryClient::new(registry_options(cli)?);
    let pushed =
        push(store, &client, &r, opts).with_context(|| format!("pushing {}", r.familiar()))?;
    println!("Digest: {}", pushed.manifest);
    Ok(())
}

/// `logout [SERVER]`: forgets the credentials wherever they are kept.
fn logout(cli: &Cli, server: Option<&str>) -> Result<()> {
    let host = credentials::registry_host(server.unwrap_or("docker.io"));
    let path = docker_config(cli).context("no Docker config path (set HOME or DOCKER_CONFIG)")?;
    if credentials::erase_credential(&path, &host)? {
        println!("Removing login credentials for {host}");
    } else {
        println!("Not logged in to {host}");
    }
    Ok(())
}

fn print_push(p: &PushProgress) {
    let line = match p {
        PushProgress::Preparing { digest, .. } => format!("{}: Preparing", short(digest)),
        PushProgress::Exists { digest } => format!("{}: Layer already exists", short(digest)),
        PushProgress::Mounted { digest, from } => {
            format!("{}: Mounted from {from}", short(digest))
        }
        PushProgress::Uploading { digest, sent, size } => {
            format!("{}: Pushing {sent}/{size}", short(digest))
        }
        PushProgress::Pushed { digest } => format!("{}: Pushed", short(digest)),
        PushProgress::ManifestPushed { tag, digest, size } => {
            format!("{tag}: digest: {digest} size: {size}")
        }
    };
    println!("{line}");
}

/// `docker login`: the password from -p or stdin, checked against the
/// registry, then stored.
fn login(
    cli: &Cli,
    server: Option<&str>,
    username: &str,
    password: Option<String>,
    password_stdin: bool,
) -> Result<()> {
    let password = match (password, password_stdin) {
        (Some(_), true) => anyhow::bail!("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => p,
        (None, true) => {
            let mut s = String::new();
            std::io::stdin().read_line(&mut s)?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => anyhow::bail!("give a password with --password or --password-stdin"),
    };
    let host = credentials::registry_host(server.unwrap_or("docker.io"));
    let cred = Credential {
        username: username.to_string(),
        password,
    };
    let client = RegistryClient::new(registry_options(cli)?);
    client
        .login(&host, &cred)
        .with_context(|| format!("logging in to {host}"))?;
    let path = docker_config(cli).context("no Docker config path (set HOME or DOCKER_CONFIG)")?;
    credentials::store_credential(&path, &host, &cred)?;
    println!("Login Succeeded");
    Ok(())
}

fn short(d: &Digest) -> &str {
    &d.hex()[..12]
}
