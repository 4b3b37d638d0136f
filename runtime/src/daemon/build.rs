//! The daemon's side of a Dockerfile build ([`rrun_build::BuildHost`]):
//! a RUN is a real container of this daemon (create, start, wait, its
//! upper dir made a layer, then removed), a COPY writes into an overlay of
//! the parent image mounted under the build's scratch directory, and each
//! step's image is made by the commit machinery. Step images are
//! remembered by their cache key in `<data-root>/build-cache/`, so a
//! rebuild reuses them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::apimodel::progress::ProgressMessage;
use crate::state::logs::LogLine;

use rrun_build::copy::{copy_into, CopyRoots};
use rrun_build::{
    BuildEvent, BuildHost, Commit, CopyFrom, CopySpec, HostError, HostImage, RunSpec,
};
use rrun_image::commit::{commit_image, CommitSpec};
use rrun_image::images::{load_image, LocalImage};
use rrun_image::layer::{layer_from_upper, NewLayer};
use rrun_image::rootfs::{mount_rootfs, unmount_rootfs};
use rrun_image::{Digest, Reference};

use super::models::{ContainerConfig, CreateBody};
use super::*;

/// Progress lines as the classic builder streams them; false once the
/// client has gone away.
pub type Sink = Arc<dyn Fn(ProgressMessage) -> bool + Send + Sync>;

/// True once the client's connection has closed: asked while a RUN runs,
/// so that a client gone during a silent step (Ctrl-C of `docker build`)
/// stops it at once rather than at its next line of output.
pub type Closed = Arc<dyn Fn() -> bool + Send + Sync>;

/// One build's host: the daemon, where the build's scratch files go, and
/// the images the build has met (by id).
pub struct DaemonHost {
    pub d: Arc<Daemon>,
    pub send: Sink,
    pub closed: Closed,
    pub quiet: bool,
    /// `pull=1`: fetch FROM's image even when it is here.
    pub pull: bool,
    pub context: PathBuf,
    /// Scratch space for COPY's mounts, removed by the caller.
    pub scratch: PathBuf,
    /// To wait for a RUN's container from this blocking thread.
    pub rt: tokio::runtime::Handle,
    images: BTreeMap<String, LocalImage>,
    steps: usize,
    /// The client stopped reading: no further step starts.
    gone: std::cell::Cell<bool>,
    /// `--add-host` lines every RUN container gets.
    pub extra_hosts: Vec<String>,
}

fn err(e: impl std::fmt::Display) -> HostError {
    e.to_string().into()
}

impl DaemonHost {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        d: Arc<Daemon>,
        send: Sink,
        closed: Closed,
        quiet: bool,
        pull: bool,
        context: PathBuf,
        scratch: PathBuf,
        rt: tokio::runtime::Handle,
    ) -> DaemonHost {
        DaemonHost {
            d,
            send,
            closed,
            quiet,
            pull,
            context,
            scratch,
            rt,
            images: BTreeMap::new(),
            steps: 0,
            gone: std::cell::Cell::new(false),
            extra_hosts: Vec::new(),
        }
    }

    fn say(&self, text: String) {
        if !self.quiet && !(self.send)(ProgressMessage::stream(text)) {
            self.gone.set(true);
        }
    }

    /// Whether the client has gone away: it stopped reading, or its
    /// connection closed.
    fn client_gone(&self) -> bool {
        if !self.gone.get() && (self.closed)() {
            tracing::info!("the build's client went away: cancelling the build");
            self.gone.set(true);
        }
        self.gone.get()
    }

    /// An error once the client has gone away (its build is cancelled).
    fn still_wanted(&self) -> Result<(), HostError> {
        if self.client_gone() {
            return Err(err("the client went away: build cancelled"));
        }
        Ok(())
    }

    fn remember(&mut self, img: LocalImage) -> HostImage {
        let h = HostImage {
            id: img.id.to_string(),
            config: img.config.clone(),
        };
        self.images.insert(h.id.clone(), img);
        h
    }

    fn local(&self, h: Option<&HostImage>) -> Result<Option<LocalImage>, HostError> {
        match h {
            None => Ok(None),
            Some(h) => self
                .images
                .get(&h.id)
                .cloned()
                .map(Some)
                .ok_or_else(|| err(format!("image {} is not part of this build", h.id))),
        }
    }

    fn cache_file(&self, key: &str) -> PathBuf {
        let name = key.strip_prefix("sha256:").unwrap_or(key);
        self.d.opts.data_root.join("build-cache").join(name)
    }

    /// A step's scratch directory (upper, work, rootfs), made afresh.
    fn scratch_dir(&mut self, what: &str) -> Result<PathBuf, HostError> {
        self.steps += 1;
        let dir = self.scratch.join(format!("{what}-{}", self.steps));
        for sub in ["upper", "work", "rootfs"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(err)?;
        }
        Ok(dir)
    }

    /// A RUN's heredoc to its command's stdin, through the shim's attach
    /// socket; the end of it closes the container's stdin (StdinOnce).
    fn write_stdin(&self, id: &str, text: &str) -> Result<(), HostError> {
        use std::io::Write;
        let sock = self.d.dir(id).join(crate::shim::ATTACH_SOCKET);
        let (_dir, p) = crate::shim::short_path(&sock).map_err(err)?;
        let mut s = std::os::unix::net::UnixStream::connect(p)
            .map_err(|e| err(format!("connect to the RUN container's stdin: {e}")))?;
        // A command that exits without reading all of it is not an error.
        let _ = s.write_all(text.as_bytes());
        let _ = s.shutdown(std::net::Shutdown::Write);
        Ok(())
    }

    /// The RUN's container record: the parent's config with the step's
    /// command, environment, user and directory (no entrypoint, as Docker's
    /// builder runs it).
    fn run_body(parent: &HostImage, spec: &RunSpec) -> CreateBody {
        let mut body = CreateBody {
            config: ContainerConfig {
                image: parent.id.clone(),
                cmd: Some(spec.argv.clone()),
                entrypoint: Some(Vec::new()),
                env: spec.env.clone(),
                user: spec.user.clone().unwrap_or_default(),
                working_dir: spec.workdir.clone().unwrap_or_default(),
                // A heredoc after the command (`RUN cat <<EOT`) is its
                // stdin, closed once written.
                open_stdin: spec.stdin.is_some(),
                stdin_once: spec.stdin.is_some(),
                attach_stdin: spec.stdin.is_some(),
                ..Default::default()
            },
            host_config: Default::default(),
            networking_config: Default::default(),
        };
        body.host_config.network_mode = spec.network.clone().unwrap_or_else(|| "bridge".into());
        body
    }

    /// Starts container `id` and waits for it to exit, relaying its
    /// output as it comes, with `stdin` written to it; its exit code.
    fn run_to_exit(&self, id: &str, stdin: Option<&str>) -> Result<i32, HostError> {
        let mut rx = self.d.subscribe(id).map_err(|e| err(e.to_string()))?;
        self.d.start(id).map_err(|e| err(e.to_string()))?;
        if let Some(text) = stdin {
            self.write_stdin(id, text)?;
        }
        let mut offset = 0;
        loop {
            let waited = self.rt.block_on(async {
                let exited = rx.wait_for(|s| !s.running && s.status != "created");
                tokio::time::timeout(std::time::Duration::from_millis(250), exited)
                    .await
                    .map(|r| r.map(|_| ()))
            });
            self.relay_output(id, &mut offset);
            if self.client_gone() {
                // Nobody reads: stop the step; the loop sees it exit, and
                // `run` removes the container, its mounts and upper dir.
                let _ = self.d.kill(id, "KILL");
            }
            match waited {
                Ok(r) => break r.map_err(err)?,
                Err(_elapsed) => continue,
            }
        }
        self.still_wanted()?;
        Ok(self
            .d
            .get(id)
            .map_err(|e| err(e.to_string()))?
            .state
            .exit_code)
    }

    /// The container's new output (complete lines of its json-file log
    /// after `offset`), sent as the build's.
    fn relay_output(&self, id: &str, offset: &mut u64) {
        use std::io::{Read, Seek, SeekFrom};
        let log = self.d.dir(id).join(format!("{id}-json.log"));
        let mut buf = Vec::new();
        let read = std::fs::File::open(log).and_then(|mut f| {
            f.seek(SeekFrom::Start(*offset))?;
            f.read_to_end(&mut buf)
        });
        if read.is_err() {
            return;
        }
        let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        *offset += end as u64 + 1;
        for line in buf[..end].split(|&b| b == b'\n') {
            if let Ok(l) = serde_json::from_slice::<LogLine>(line) {
                self.say(l.log);
            }
        }
    }

    /// Mounts `image`'s root under `dir` (its own upper and work).
    fn mount(&self, image: &LocalImage, dir: &Path) -> Result<PathBuf, HostError> {
        let root = dir.join("rootfs");
        mount_rootfs(
            &self.d.images,
            image,
            &dir.join("upper"),
            &dir.join("work"),
            &root,
        )
        .map_err(err)?;
        Ok(root)
    }
}

impl BuildHost for DaemonHost {
    type Layer = NewLayer;

    fn image(&mut self, reference: &str, _platform: Option<&str>) -> Result<HostImage, HostError> {
        let found = find_image(&self.d.images, reference);
        let img = match found {
            Ok(i) if !self.pull => i,
            _ => {
                let r = Reference::parse(reference).map_err(err)?;
                let opts = rrun_image::pull::PullOptions::default();
                let pulled = rrun_image::pull::pull(&self.d.images, &self.d.registry, &r, &opts)
                    .map_err(err)?;
                load_image(&self.d.images, &pulled.manifest).map_err(err)?
            }
        };
        Ok(self.remember(img))
    }

    fn cached(&mut self, key: &str) -> Option<HostImage> {
        let text = std::fs::read_to_string(self.cache_file(key)).ok()?;
        let digest: Digest = text.trim().parse().ok()?;
        let img = load_image(&self.d.images, &digest).ok()?;
        Some(self.remember(img))
    }

    fn run(&mut self, parent: Option<&HostImage>, spec: &RunSpec) -> Result<NewLayer, HostError> {
        self.still_wanted()?;
        let parent =
            parent.ok_or_else(|| err("RUN needs a base image (FROM scratch has no shell)"))?;
        let mut body = Self::run_body(parent, spec);
        body.host_config.extra_hosts = self.extra_hosts.clone();
        let (id, _) = self.d.create(None, body).map_err(|e| err(e.to_string()))?;
        self.say(format!(" ---> Running in {}\n", &id[..12.min(id.len())]));
        let ran = self.run_to_exit(&id, spec.stdin.as_deref());
        let layer = match ran {
            Ok(0) => layer_from_upper(&self.d.images, &self.d.dir(&id).join("upper")).map_err(err),
            Ok(code) => Err(err(format!(
                "The command '{}' returned a non-zero code: {code}",
                spec.argv.join(" ")
            ))),
            Err(e) => Err(e),
        };
        match self.d.remove(&id, true, true) {
            Ok(()) => self.say(format!(
                "Removing intermediate container {}\n",
                &id[..12.min(id.len())]
            )),
            Err(e) => {
                tracing::warn!(container = %id, error = %e, "remove a build container")
            }
        }
        layer
    }

    fn copy(&mut self, parent: Option<&HostImage>, spec: &CopySpec) -> Result<NewLayer, HostError> {
        self.still_wanted()?;
        let dir = self.scratch_dir("copy")?;
        let parent = self.local(parent)?;
        let from_image = match &spec.from {
            CopyFrom::Image { id, .. } => Some(match self.images.get(id) {
                Some(i) => i.clone(),
                None => find_image(&self.d.images, id).map_err(|e| err(e.to_string()))?,
            }),
            CopyFrom::Context { .. } => None,
        };
        let mut mounted = Vec::new();
        let result = (|| {
            // FROM scratch: the new files are the whole layer.
            let dest = match &parent {
                Some(p) => {
                    let r = self.mount(p, &dir)?;
                    mounted.push(r.clone());
                    r
                }
                None => dir.join("upper"),
            };
            let from = match &from_image {
                Some(img) => {
                    let src = self.scratch_dir("from")?;
                    let r = self.mount(img, &src)?;
                    mounted.push(r.clone());
                    Some(r)
                }
                None => None,
            };
            let roots = CopyRoots {
                context: &self.context,
                from: from.as_deref(),
                dest: &dest,
            };
            copy_into(spec, &roots).map_err(err)
        })();
        for m in mounted {
            if let Err(e) = unmount_rootfs(&m) {
                tracing::warn!(error = %e, "unmount a build mount");
            }
        }
        result?;
        layer_from_upper(&self.d.images, &dir.join("upper")).map_err(err)
    }

    fn commit(
        &mut self,
        parent: Option<&HostImage>,
        layer: Option<NewLayer>,
        commit: &Commit,
        key: &str,
    ) -> Result<HostImage, HostError> {
        let parent = self.local(parent)?;
        let spec = CommitSpec {
            config: commit.config.clone(),
            created_by: commit.created_by.clone(),
            comment: None,
            author: commit.author.clone(),
            created: None,
        };
        let made = commit_image(&self.d.images, parent.as_ref(), layer.as_ref(), &spec, &[])
            .map_err(err)?;
        let file = self.cache_file(key);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        store::atomic_write(&file, made.manifest.to_string().as_bytes()).map_err(err)?;
        let img = load_image(&self.d.images, &made.manifest).map_err(err)?;
        Ok(self.remember(img))
    }

    fn tag(&mut self, image: &HostImage, tags: &[String]) -> Result<(), HostError> {
        let img = self.local(Some(image))?.expect("an image was given");
        for t in tags {
            let r = Reference::parse(t).map_err(err)?;
            self.d
                .images
                .set_ref(&r, &img.manifest_digest)
                .map_err(err)?;
            let name = r.familiar();
            self.d
                .events
                .emit("image", "tag", &image.id, &[("name", &name)]);
        }
        Ok(())
    }

    fn event(&mut self, event: &BuildEvent) {
        let short = |id: &str| {
            let hex = id.strip_prefix("sha256:").unwrap_or(id);
            hex[..12.min(hex.len())].to_string()
        };
        match event {
            BuildEvent::Step { n, total, text } => self.say(format!("Step {n}/{total} : {text}\n")),
            BuildEvent::UsingCache { id } => {
                self.say(format!(" ---> Using cache\n ---> {}\n", short(id)))
            }
            BuildEvent::Done { id } => self.say(format!(" ---> {}\n", short(id))),
            BuildEvent::Warning(w) => self.say(format!("[Warning] {w}\n")),
        }
    }
}

/// `POST /build`'s query, checked before the stream starts.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    pub tags: Vec<Reference>,
    /// The Dockerfile's path in the context.
    pub dockerfile: String,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub pull: bool,
    pub quiet: bool,
    /// `networkmode` for RUN: `default` (bridge), `none`, `host`.
    pub network: Option<String>,
    /// `extrahosts` (`--add-host name:ip`): /etc/hosts lines of RUN.
    pub extra_hosts: Vec<String>,
}

impl Daemon {
    /// A whole build: the context unpacked into a scratch directory, the
    /// Dockerfile driven step by step, then Docker's closing lines; an
    /// error is the stream's last line. The scratch directory goes in any
    /// case.
    pub fn build_image(
        self: &Arc<Self>,
        r: BuildRequest,
        context_tar: &[u8],
        client: (Sink, Closed),
        rt: tokio::runtime::Handle,
    ) {
        let scratch = self.opts.data_root.join("build").join(store::new_id());
        let send = client.0.clone();
        let result = self.build_in(&r, context_tar, &scratch, client, rt);
        Self::report(&r, result, &send);
        // The last sender: the client's stream ends here, before the
        // scratch directory (the context, each step's upper dir) goes.
        drop(send);
        let started = std::time::Instant::now();
        match std::fs::remove_dir_all(&scratch) {
            Ok(()) => tracing::debug!(
                ms = started.elapsed().as_millis() as u64,
                "removed a build's scratch"
            ),
            Err(e) => {
                tracing::warn!(dir = %scratch.display(), error = %e, "remove a build's scratch")
            }
        }
    }

    /// Docker's closing lines of a build, or its error.
    fn report(r: &BuildRequest, result: Result<String, String>, send: &Sink) {
        match result {
            Ok(id) => {
                let short = id.strip_prefix("sha256:").unwrap_or(&id)[..12].to_string();
                send(ProgressMessage::image_id(id.clone()));
                if r.quiet {
                    send(ProgressMessage::stream(format!("{id}\n")));
                    return;
                }
                send(ProgressMessage::stream(format!(
                    "Successfully built {short}\n"
                )));
                for t in &r.tags {
                    let line = format!("Successfully tagged {}\n", t.familiar());
                    send(ProgressMessage::stream(line));
                }
            }
            Err(e) => {
                send(ProgressMessage::error(e));
            }
        }
    }

    fn build_in(
        self: &Arc<Self>,
        r: &BuildRequest,
        context_tar: &[u8],
        scratch: &Path,
        (send, closed): (Sink, Closed),
        rt: tokio::runtime::Handle,
    ) -> Result<String, String> {
        let context = scratch.join("context");
        std::fs::create_dir_all(&context).map_err(|e| e.to_string())?;
        // `docker build --compress` and docker-py's gzip=True send it
        // gzipped (Docker takes the compression from the magic number).
        let unpacked = if context_tar.starts_with(&[0x1f, 0x8b]) {
            tar::Archive::new(flate2::read::GzDecoder::new(context_tar)).unpack(&context)
        } else {
            tar::Archive::new(context_tar).unpack(&context)
        };
        // `{:#}`: tar's message names the file, its source says why (a full disk).
        unpacked.map_err(|e| {
            let e = anyhow::Error::from(e);
            format!("unpack the build context (a tar archive): {e:#}")
        })?;
        let dockerfile = read_dockerfile(&context, &r.dockerfile)?;
        let opts = rrun_build::BuildOptions {
            context: context.clone(),
            dockerfile,
            build_args: r.build_args.clone(),
            target: r.target.clone(),
            no_cache: r.no_cache,
            tags: r.tags.iter().map(Reference::familiar).collect(),
            labels: r.labels.clone(),
            platform: None,
            network: r.network.clone().filter(|n| n != "default"),
        };
        let mut host = DaemonHost::new(
            self.clone(),
            send,
            closed,
            r.quiet,
            r.pull,
            context,
            scratch.join("steps"),
            rt,
        );
        host.extra_hosts = r.extra_hosts.clone();
        let out = rrun_build::build(&mut host, &opts).map_err(|e| e.to_string())?;
        tracing::info!(image = %out.image.id, steps = out.steps, cached = out.cache_hits, "built");
        Ok(out.image.id)
    }
}

/// The Dockerfile at `rel` in the context (which it may not leave).
fn read_dockerfile(context: &Path, rel: &str) -> Result<String, String> {
    let rel = if rel.is_empty() { "Dockerfile" } else { rel };
    let p = Path::new(rel);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "the Dockerfile ({rel}) must be within the build context"
        ));
    }
    std::fs::read_to_string(context.join(p))
        .map_err(|e| format!("Cannot locate specified Dockerfile: {rel} ({e})"))
}
