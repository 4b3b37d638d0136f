//! `rrun-image`: drives the image library from the command line until the
//! daemon exists (and for tests).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use rrun_image::archive;
use rrun_image::images::{self, Removed};
use rrun_image::pull::{pull, Progress, PullOptions};
use rrun_image::registry::{RegistryClient, RegistryOptions};
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
    let docker = cli.docker_config.clone().or_else(|| {
        std::env::var_os("DOCKER_CONFIG")
            .map(|d| PathBuf::from(d).join("config.json"))
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
            })
    });
    if let Some(p) = docker {
        o.load_docker_config(&p)?;
    }
    Ok(o)
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
        } => {
            let r = Reference::parse(reference)?;
            let client = RegistryClient::new(registry_options(&cli)?)?;
            let out = Arc::new(Mutex::new(std::io::stdout()));
            let progress: Option<rrun_image::pull::ProgressFn> = (!quiet).then(|| {
                let out = out.clone();
                Arc::new(move |p: &Progress| {
                    let line = match p {
                        Progress::Resolved { manifest, layers } => {
                            format!("{manifest}: {layers} layers")
                        }
                        Progress::LayerExists { digest } => {
                            format!("{}: Already exists", short(digest))
                        }
                        Progress::LayerStarted { digest, size } => {
                            format!("{}: Pulling ({size} bytes)", short(digest))
                        }
                        Progress::LayerProgress {
                            digest,
                            received,
                            size,
                        } => {
                            format!("{}: Downloading {received}/{size}", short(digest))
                        }
                        Progress::LayerDone { digest } => {
                            format!("{}: Pull complete", short(digest))
                        }
                    };
                    let _ = writeln!(out.lock().expect("stdout lock"), "{line}");
                }) as rrun_image::pull::ProgressFn
            });
            let opts = PullOptions {
                platform: platform.as_deref().map(Platform::parse).transpose()?,
                max_concurrent_downloads: *max_concurrent_downloads,
                progress,
                ..Default::default()
            };
            let img = pull(&store, &client, &r, &opts)
                .with_context(|| format!("pulling {}", r.familiar()))?;
            let mut o = out.lock().expect("stdout lock");
            writeln!(o, "Digest: {}", img.manifest)?;
            writeln!(o, "Id: {}", img.config)?;
            writeln!(o, "{}", r)?;
        }
        Cmd::Ls { json } => {
            for img in images::list_images(&store)? {
                if *json {
                    println!("{}", images::inspect_json(&img));
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
        }
        Cmd::Inspect { names } => {
            let mut all = Vec::new();
            for n in names {
                all.push(images::inspect_json(&images::find_image(&store, n)?));
            }
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        Cmd::Tag { source, target } => {
            images::tag(&store, source, target)?;
        }
        Cmd::Rm { names, force } => {
            for n in names {
                for r in images::remove(&store, n, *force, &images::no_containers)? {
                    match r {
                        Removed::Untagged(t) => println!("Untagged: {t}"),
                        Removed::Deleted(d) => println!("Deleted: {d}"),
                    }
                }
            }
        }
        Cmd::Prune => {
            let r = images::garbage_collect(&store, &images::no_containers)?;
            for b in &r.blobs {
                println!("deleted blob: {b}");
            }
            for s in &r.snapshots {
                println!("deleted snapshot: {s}");
            }
            println!("removed {} temp files", r.temp_files);
        }
        Cmd::Load { input } => {
            let loaded = match input {
                Some(p) => {
                    let f = std::fs::File::open(p)
                        .with_context(|| format!("opening {}", p.display()))?;
                    archive::load(&store, f)?
                }
                None => archive::load(&store, std::io::stdin().lock())?,
            };
            for (digest, refs) in loaded.images {
                if refs.is_empty() {
                    println!("Loaded image ID: {digest}");
                }
                for r in refs {
                    println!("Loaded image: {}", r.familiar());
                }
            }
        }
        Cmd::Save { names, output } => {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            match output {
                Some(p) => {
                    // Written beside the target and renamed: never a torn archive.
                    let tmp = p.with_extension("rrun-tmp");
                    let f = std::fs::File::create(&tmp)
                        .with_context(|| format!("creating {}", tmp.display()))?;
                    archive::save(&store, &names, std::io::BufWriter::new(f))?;
                    std::fs::rename(&tmp, p)?;
                }
                None => archive::save(&store, &names, std::io::stdout().lock())?,
            }
        }
        Cmd::Import { tarball, reference } => {
            let r = Reference::parse(reference)?;
            let id = archive::import(&store, tarball, &r)?;
            println!("{id}");
        }
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

fn short(d: &rrun_image::Digest) -> &str {
    &d.hex()[..12]
}
