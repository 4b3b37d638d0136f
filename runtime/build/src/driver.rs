//! Drives a whole build over a [`BuildHost`]: the stages the target needs,
//! in dependency order; each instruction expanded in its stage's scope,
//! looked up in the cache by its key, and otherwise carried out (RUN in a
//! container, COPY/ADD into the filesystem) and committed by the host, one
//! image per step as Docker's classic builder makes them. The driver itself
//! touches nothing but the context directory (to hash what COPY reads), so
//! it is tested with a recording host, without root.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rrun_image::{ContainerConfig, ImageConfig};
use sha2::Digest as _;

use crate::context::{self, ContextError};
use crate::dockerfile::{parse, Cmd, CopyArgs, Dockerfile, Instr, RunArgs, Source, Step};
use crate::error::BuildError;
use crate::ignore::DockerIgnore;
use crate::instructions::{apply, ArgValues, StageState, PREDEFINED_ARGS};
use crate::stages::{select, stage_ref};
use crate::words::{expand, Vars};

pub type HostError = Box<dyn std::error::Error + Send + Sync>;

/// An image the host has: its id and config.
#[derive(Debug, Clone, PartialEq)]
pub struct HostImage {
    pub id: String,
    pub config: ImageConfig,
}

/// A RUN, ready to start in a container from the parent image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    pub argv: Vec<String>,
    /// The image's ENV plus the stage's ARG values (`K=V`).
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// A heredoc fed to the command's standard input.
    pub stdin: Option<String>,
    /// `--network` of RUN, else the build's.
    pub network: Option<String>,
}

/// Where a COPY reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyFrom {
    /// The context directory: each source's matches, `.dockerignore`
    /// applied; URLs (ADD) as written.
    Context {
        sources: Vec<ContextSource>,
        urls: Vec<String>,
    },
    /// Another stage's or an image's filesystem; paths as written.
    Image { id: String, paths: Vec<String> },
}

/// One match of a COPY source in the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextSource {
    /// The matched path (`src`, `app.conf`, `.`), relative to the context.
    pub rel: String,
    /// A directory's contents are copied, not the directory itself.
    pub is_dir: bool,
    /// Every path it brings (itself for a file; for a directory everything
    /// under it), relative to the context, in name order.
    pub files: Vec<String>,
}

/// A COPY or ADD, expanded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    pub add: bool,
    pub from: CopyFrom,
    /// Heredoc sources: (file name, content).
    pub inline: Vec<(String, String)>,
    /// Absolute (resolved against WORKDIR); a trailing `/` kept.
    pub dest: String,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    /// The stage's user, for resolving `--chown` names in its /etc/passwd.
    pub user: Option<String>,
}

/// The new image a step makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub config: ContainerConfig,
    /// The history entry (`/bin/sh -c #(nop)  ENV A=1`).
    pub created_by: String,
    pub author: Option<String>,
}

/// What the classic builder prints, as events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// `Step 2/7 : RUN make`
    Step {
        n: usize,
        total: usize,
        text: String,
    },
    UsingCache {
        id: String,
    },
    /// ` ---> <id>` after a step.
    Done {
        id: String,
    },
    Warning(String),
}

/// The engine's side of a build: the steps that need the host.
pub trait BuildHost {
    /// The changes a RUN or COPY made, until committed.
    type Layer;
    /// `FROM name`: the local image, pulled when missing (or always with
    /// `--pull`; the host knows).
    fn image(&mut self, reference: &str, platform: Option<&str>) -> Result<HostImage, HostError>;
    /// The image a step with this cache key made before, if still there.
    fn cached(&mut self, key: &str) -> Option<HostImage>;
    /// Runs `spec` in a container from `parent` (None: scratch).
    fn run(&mut self, parent: Option<&HostImage>, spec: &RunSpec)
        -> Result<Self::Layer, HostError>;
    /// Copies files into `parent`'s filesystem.
    fn copy(
        &mut self,
        parent: Option<&HostImage>,
        spec: &CopySpec,
    ) -> Result<Self::Layer, HostError>;
    /// A new image: parent plus `layer` (None: config only), remembered
    /// under `key` for later builds.
    fn commit(
        &mut self,
        parent: Option<&HostImage>,
        layer: Option<Self::Layer>,
        commit: &Commit,
        key: &str,
    ) -> Result<HostImage, HostError>;
    fn tag(&mut self, image: &HostImage, tags: &[String]) -> Result<(), HostError>;
    fn event(&mut self, _event: &BuildEvent) {}
}

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub context: PathBuf,
    /// The Dockerfile's text.
    pub dockerfile: String,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub tags: Vec<String>,
    /// `--label`s, added to the final image.
    pub labels: BTreeMap<String, String>,
    pub platform: Option<String>,
    /// `--network` for RUN.
    pub network: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildOutput {
    pub image: HostImage,
    pub steps: usize,
    pub cache_hits: usize,
    pub warnings: Vec<String>,
}

/// Builds what `opts` describes through `host`.
pub fn build<H: BuildHost>(host: &mut H, opts: &BuildOptions) -> Result<BuildOutput, BuildError> {
    let df = parse(&opts.dockerfile)?;
    let ignore = match std::fs::read_to_string(opts.context.join(".dockerignore")) {
        Ok(t) => DockerIgnore::parse(&t)?,
        Err(_) => DockerIgnore::default(),
    };
    let args = global_args(&df, &opts.build_args)?;
    let order = select(&df, opts.target.as_deref(), &args.global)?;
    let total = order
        .iter()
        .map(|&i| 1 + df.stages[i].steps.len())
        .sum::<usize>();
    let mut b = Builder {
        host,
        opts,
        df: &df,
        ignore,
        args,
        stage_images: BTreeMap::new(),
        n: 0,
        total,
        hits: 0,
    };
    let mut last = None;
    for &i in &order {
        let img = b.stage(i)?;
        b.stage_images.insert(i, img.clone());
        last = Some(img);
    }
    let mut image = last.expect("select returns the target");
    if !opts.labels.is_empty() {
        image = b.final_labels(image)?;
    }
    let line = df.stages[*order.last().expect("a target")].line;
    let image = image.ok_or_else(|| BuildError::Invalid {
        line,
        keyword: "FROM",
        detail: "a build from scratch with no instruction makes no image".into(),
    })?;
    b.host
        .tag(&image, &opts.tags)
        .map_err(|source| host_err(line, "tagging", source))?;
    let warnings = b.unused_args();
    for w in &warnings {
        b.host.event(&BuildEvent::Warning(w.clone()));
    }
    Ok(BuildOutput {
        image,
        steps: b.n,
        cache_hits: b.hits,
        warnings,
    })
}

fn host_err(line: usize, step: &str, source: HostError) -> BuildError {
    BuildError::Host {
        line,
        step: step.to_string(),
        source,
    }
}

/// The ARGs before the first FROM, with `--build-arg` values.
fn global_args(
    df: &Dockerfile,
    build_args: &BTreeMap<String, String>,
) -> Result<ArgValues, BuildError> {
    let mut args = ArgValues {
        build: build_args.clone(),
        ..Default::default()
    };
    let mut state = StageState::default();
    for step in &df.global_args {
        apply(&mut state, step, df.escape, &mut args)?;
    }
    args.global = state.args;
    Ok(args)
}

/// What a RUN or COPY does on the host, run only on a cache miss.
type Work<'a, H> =
    Box<dyn FnOnce(&mut H, Option<&HostImage>) -> Result<<H as BuildHost>::Layer, HostError> + 'a>;

struct Builder<'a, H: BuildHost> {
    host: &'a mut H,
    opts: &'a BuildOptions,
    df: &'a Dockerfile,
    ignore: DockerIgnore,
    args: ArgValues,
    /// Built stages: index → image (None: scratch with no step).
    stage_images: BTreeMap<usize, Option<HostImage>>,
    n: usize,
    total: usize,
    hits: usize,
}

/// The image a stage is at, and its config as the driver tracks it.
struct Current {
    image: Option<HostImage>,
    state: StageState,
}

impl<H: BuildHost> Builder<'_, H> {
    fn announce(&mut self, text: &str) {
        self.n += 1;
        self.host.event(&BuildEvent::Step {
            n: self.n,
            total: self.total,
            text: text.to_string(),
        });
    }

    /// Builds one stage; returns its image.
    fn stage(&mut self, i: usize) -> Result<Option<HostImage>, BuildError> {
        let s = &self.df.stages[i];
        let base = expand(&s.base, &self.args.global, self.df.escape).map_err(|source| {
            BuildError::Word {
                line: s.line,
                keyword: "FROM",
                source,
            }
        })?;
        self.announce(&format!("FROM {base}"));
        let image = if let Some(dep) = stage_ref(self.df, &base, false) {
            self.stage_images.get(&dep).cloned().flatten()
        } else if base == "scratch" {
            None
        } else {
            let platform = s.platform.clone().or_else(|| self.opts.platform.clone());
            Some(
                self.host
                    .image(&base, platform.as_deref())
                    .map_err(|e| host_err(s.line, &format!("FROM {base}"), e))?,
            )
        };
        let config = image
            .as_ref()
            .map(|i| i.config.config.clone())
            .unwrap_or_default();
        let mut cur = Current {
            image,
            state: StageState::from_base(config),
        };
        if let Some(img) = &cur.image {
            self.host.event(&BuildEvent::Done { id: img.id.clone() });
        }
        // The base's ONBUILD triggers run first, then leave the image.
        let triggers = cur.state.config.on_build.take().unwrap_or_default();
        for t in triggers {
            let steps = parse(&format!("FROM scratch\n{t}\n"))
                .map_err(|e| BuildError::Parse {
                    line: s.line,
                    message: format!("ONBUILD trigger {t:?} of the base image: {e}"),
                })?
                .stages
                .remove(0)
                .steps;
            for mut step in steps {
                step.line = s.line;
                self.step(&mut cur, &step)?;
            }
        }
        for step in &s.steps {
            self.step(&mut cur, step)?;
        }
        Ok(cur.image)
    }

    fn step(&mut self, cur: &mut Current, step: &Step) -> Result<(), BuildError> {
        self.announce(&step.raw);
        match &step.instr {
            Instr::Run(r) => self.run(cur, step, r),
            Instr::Copy(c) => self.copy(cur, step, c, false),
            Instr::Add(c) => self.copy(cur, step, c, true),
            _ => {
                let text = apply(&mut cur.state, step, self.df.escape, &mut self.args)?;
                let created_by = format!("/bin/sh -c #(nop)  {text}");
                if let Instr::Workdir(_) = step.instr {
                    // As Docker's builder: the directory is made, in a layer.
                    let mkdir = self.workdir_spec(cur);
                    let work: Work<'_, H> = Box::new(move |h, parent| h.copy(parent, &mkdir));
                    return self.commit(cur, step, created_by, Some((work, String::new())));
                }
                self.commit(cur, step, created_by, None)
            }
        }
    }

    /// WORKDIR's directory as a COPY of nothing into `DIR/` (which makes
    /// it, owned by root, 0755, if it is not there).
    fn workdir_spec(&self, cur: &Current) -> CopySpec {
        let dir = cur
            .state
            .config
            .working_dir
            .clone()
            .unwrap_or_else(|| "/".into());
        CopySpec {
            add: false,
            from: CopyFrom::Context {
                sources: Vec::new(),
                urls: Vec::new(),
            },
            inline: Vec::new(),
            dest: format!("{}/", dir.trim_end_matches('/')),
            chown: None,
            chmod: None,
            link: false,
            user: cur.state.config.user.clone(),
        }
    }

    /// The cache key of a step: its parent image, what it does, and (for
    /// COPY/ADD) the digest of what it reads.
    fn key(&self, parent: Option<&HostImage>, what: &str) -> String {
        let mut h = sha2::Sha256::new();
        h.update(b"rrun-build-cache-v1\n");
        h.update(parent.map_or("scratch", |p| p.id.as_str()));
        h.update(b"\n");
        h.update(what);
        format!("sha256:{}", hex::encode(h.finalize()))
    }

    /// Reuses a cached image for `created_by` (+ `extra`) or makes one:
    /// `work` (RUN/COPY) gives the layer; None is a config-only step.
    fn commit(
        &mut self,
        cur: &mut Current,
        step: &Step,
        created_by: String,
        work: Option<(Work<'_, H>, String)>,
    ) -> Result<(), BuildError> {
        let extra = work.as_ref().map_or("", |(_, e)| e.as_str());
        let commit = Commit {
            config: cur.state.config.clone(),
            created_by,
            author: cur.state.author.clone(),
        };
        let what = format!(
            "{}\n{}\n{extra}",
            commit.created_by,
            serde_json::to_string(&commit.config).expect("a config serialises")
        );
        let key = self.key(cur.image.as_ref(), &what);
        if !self.opts.no_cache {
            if let Some(hit) = self.host.cached(&key) {
                self.hits += 1;
                self.host
                    .event(&BuildEvent::UsingCache { id: hit.id.clone() });
                cur.image = Some(hit);
                return Ok(());
            }
        }
        let layer = match work {
            Some((f, _)) => Some(
                f(self.host, cur.image.as_ref()).map_err(|e| host_err(step.line, &step.raw, e))?,
            ),
            None => None,
        };
        let img = self
            .host
            .commit(cur.image.as_ref(), layer, &commit, &key)
            .map_err(|e| host_err(step.line, &step.raw, e))?;
        self.host.event(&BuildEvent::Done { id: img.id.clone() });
        cur.image = Some(img);
        Ok(())
    }

    fn run(&mut self, cur: &mut Current, step: &Step, r: &RunArgs) -> Result<(), BuildError> {
        let invalid = |detail: String| BuildError::Invalid {
            line: step.line,
            keyword: "RUN",
            detail,
        };
        let mut network = self.opts.network.clone();
        for f in &r.flags {
            match f.name.as_str() {
                "network" => network = f.value.clone(),
                other => {
                    return Err(invalid(format!(
                        "--{other} is not supported by rrun's builder (RUN takes --network)"
                    )))
                }
            }
        }
        let vars = cur.state.vars();
        let heredoc = |i: usize| -> Result<Option<String>, BuildError> {
            let Some(h) = r.heredocs.get(i) else {
                return Ok(None);
            };
            Ok(Some(if h.expand {
                expand_heredoc(&h.content, &vars)
            } else {
                h.content.clone()
            }))
        };
        // `RUN <<EOT` alone with a `#!` line: BuildKit runs the script as a
        // file, by its interpreter, unexpanded; here it is read from stdin.
        let shebang = match (&r.cmd, r.heredocs.as_slice()) {
            (Cmd::Shell(s), [doc]) if s.trim().is_empty() => doc.shebang_argv(),
            _ => None,
        };
        let (argv, stdin) = match (shebang, &r.cmd, heredoc(0)?) {
            (Some(argv), ..) => (argv, Some(r.heredocs[0].content.clone())),
            // `RUN <<EOT` alone: the heredoc is the script.
            (None, Cmd::Shell(s), Some(script)) if s.trim().is_empty() => {
                (cur.state.argv(&Cmd::Shell(script)), None)
            }
            (None, cmd, doc) => (cur.state.argv(cmd), doc),
        };
        let mut env = cur.state.config.env.clone().unwrap_or_default();
        let mut arg_env = Vec::new();
        for (k, v) in &cur.state.args {
            if !env.iter().any(|e| e.split('=').next() == Some(k)) {
                arg_env.push(format!("{k}={v}"));
            }
        }
        env.extend(arg_env.iter().cloned());
        let spec = RunSpec {
            argv,
            env,
            user: cur.state.config.user.clone(),
            workdir: cur.state.config.working_dir.clone(),
            stdin,
            network,
        };
        // Docker's history for RUN: `|N K=V … /bin/sh -c cmd`, build args
        // that are not predefined proxy args shown.
        let shown: Vec<&String> = arg_env
            .iter()
            .filter(|a| {
                !PREDEFINED_ARGS
                    .iter()
                    .any(|p| a.starts_with(&format!("{p}=")))
            })
            .collect();
        let mut created_by = spec.argv.join(" ");
        if !shown.is_empty() {
            let list: Vec<&str> = shown.iter().map(|s| s.as_str()).collect();
            created_by = format!("|{} {} {created_by}", shown.len(), list.join(" "));
        }
        let extra = format!("{:?}{:?}", spec.stdin, spec.network);
        let run: Work<'_, H> = Box::new(move |h, parent| h.run(parent, &spec));
        self.commit(cur, step, created_by, Some((run, extra)))
    }

    fn copy(
        &mut self,
        cur: &mut Current,
        step: &Step,
        c: &CopyArgs,
        add: bool,
    ) -> Result<(), BuildError> {
        let (spec, digest) = self.copy_spec(cur, step, c, add)?;
        let created_by = format!(
            "/bin/sh -c #(nop) {} {} in {}",
            if add { "ADD" } else { "COPY" },
            digest,
            spec.dest
        );
        let extra = format!("{:?}{:?}{}", spec.chown, spec.chmod, spec.link);
        let work: Work<'_, H> = Box::new(move |h, parent| h.copy(parent, &spec));
        self.commit(cur, step, created_by, Some((work, extra)))
    }

    /// A COPY/ADD expanded: its flags, sources (matched in the context or
    /// named in another stage/image) and destination; and the digest of
    /// what it copies.
    fn copy_spec(
        &mut self,
        cur: &Current,
        step: &Step,
        c: &CopyArgs,
        add: bool,
    ) -> Result<(CopySpec, String), BuildError> {
        let kw = if add { "ADD" } else { "COPY" };
        let vars = cur.state.vars();
        let ex = |s: &str| {
            expand(s, &vars, self.df.escape).map_err(|source| BuildError::Word {
                line: step.line,
                keyword: kw,
                source,
            })
        };
        let flags = copy_flags(step, c, add, &ex)?;
        let mut paths = Vec::new();
        let mut inline = Vec::new();
        for s in &c.sources {
            match s {
                Source::Path(p) => paths.push(ex(p)?),
                Source::HereDoc(h) => {
                    let content = if h.expand {
                        expand_heredoc(&h.content, &vars)
                    } else {
                        h.content.clone()
                    };
                    inline.push((h.name.clone(), content));
                }
            }
        }
        let dest = resolve_dest(&ex(&c.dest)?, cur.state.config.working_dir.as_deref());
        if (paths.len() + inline.len()) > 1 && !dest.ends_with('/') {
            return Err(invalid(step, kw, format!(
                "When using {kw} with more than one source file, the destination must be a directory and end with a /"
            )));
        }
        let mut h = sha2::Sha256::new();
        for (name, content) in &inline {
            h.update(format!("heredoc {name} {}\n", content.len()));
            h.update(content);
        }
        let from = match &flags.from {
            Some(f) => {
                let id = self.copy_source_image(step, f)?;
                h.update(format!("image {id} {paths:?}"));
                CopyFrom::Image { id, paths }
            }
            None => self.context_sources(step, kw, paths, &mut h)?,
        };
        let digest = format!("sha256:{}", hex::encode(h.finalize()));
        let spec = CopySpec {
            add,
            from,
            inline,
            dest,
            chown: flags.chown,
            chmod: flags.chmod,
            link: flags.link,
            user: cur.state.config.user.clone(),
        };
        Ok((spec, digest))
    }

    /// Context sources: matched, `.dockerignore` applied, hashed into `h`.
    fn context_sources(
        &self,
        step: &Step,
        kw: &'static str,
        paths: Vec<String>,
        h: &mut sha2::Sha256,
    ) -> Result<CopyFrom, BuildError> {
        let ctx_err = |e: ContextError| invalid(step, kw, e.to_string());
        let (urls, local): (Vec<String>, Vec<String>) = paths.into_iter().partition(|p| is_url(p));
        if kw == "COPY" && !urls.is_empty() {
            return Err(invalid(
                step,
                kw,
                format!("source can't be a URL for COPY: {}", urls[0]),
            ));
        }
        let ctx = &self.opts.context;
        h.update(context::digest(ctx, &local, &self.ignore).map_err(ctx_err)?);
        h.update(format!("urls {urls:?}"));
        let mut sources = Vec::new();
        for p in &local {
            for m in context::resolve(ctx, p, &self.ignore).map_err(ctx_err)? {
                let files = context::files_of(ctx, &m, &self.ignore).map_err(ctx_err)?;
                sources.push(ContextSource {
                    rel: m.rel,
                    is_dir: m.is_dir,
                    files,
                });
            }
        }
        Ok(CopyFrom::Context { sources, urls })
    }

    /// `--from=`: a built stage (name or index) or an image.
    fn copy_source_image(&mut self, step: &Step, from: &str) -> Result<String, BuildError> {
        if let Some(i) = stage_ref(self.df, from, true) {
            return match self.stage_images.get(&i) {
                Some(Some(img)) => Ok(img.id.clone()),
                _ => Err(BuildError::Invalid {
                    line: step.line,
                    keyword: "COPY",
                    detail: format!(
                        "--from={from}: that stage has no image (an empty scratch stage)"
                    ),
                }),
            };
        }
        let platform = self.opts.platform.clone();
        self.host
            .image(from, platform.as_deref())
            .map(|i| i.id)
            .map_err(|e| host_err(step.line, &format!("COPY --from={from}"), e))
    }

    /// `--label`s on the final image: one more config-only step.
    fn final_labels(&mut self, image: Option<HostImage>) -> Result<Option<HostImage>, BuildError> {
        let line = self.df.stages.last().map_or(0, |s| s.line);
        let config = image
            .as_ref()
            .map(|i| i.config.config.clone())
            .unwrap_or_default();
        let mut cur = Current {
            image,
            state: StageState::from_base(config),
        };
        let labels = cur.state.config.labels.get_or_insert_with(BTreeMap::new);
        let mut shown = Vec::new();
        for (k, v) in &self.opts.labels {
            labels.insert(k.clone(), v.clone());
            shown.push(format!("{k}={v}"));
        }
        let step = Step {
            line,
            raw: format!("LABEL {}", shown.join(" ")),
            instr: Instr::Label(String::new()),
        };
        let created_by = format!("/bin/sh -c #(nop)  {}", step.raw);
        self.commit(&mut cur, &step, created_by, None)?;
        Ok(cur.image)
    }

    /// Docker's warning for `--build-arg`s no ARG consumed.
    fn unused_args(&self) -> Vec<String> {
        let unused: Vec<&String> = self
            .opts
            .build_args
            .keys()
            .filter(|k| !self.args.used.contains(k) && !PREDEFINED_ARGS.contains(&k.as_str()))
            .collect();
        if unused.is_empty() {
            return Vec::new();
        }
        let list: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        vec![format!(
            "[Warning] One or more build-args [{}] were not consumed",
            list.join(" ")
        )]
    }
}

fn is_url(p: &str) -> bool {
    p.starts_with("http://") || p.starts_with("https://")
}

/// Heredocs expand `$VAR` and keep quotes and backslashes as text.
fn expand_heredoc(content: &str, vars: &Vars) -> String {
    crate::words::expand_vars(content, vars).unwrap_or_else(|_| content.to_string())
}

/// The destination made absolute against WORKDIR, a trailing `/` kept.
pub fn resolve_dest(dest: &str, workdir: Option<&str>) -> String {
    let joined = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("{}/{dest}", workdir.unwrap_or("/"))
    };
    let dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
    let c = crate::ignore::clean(&joined);
    let mut out = if c == "." {
        "/".to_string()
    } else {
        format!("/{c}")
    };
    if dir && !out.ends_with('/') {
        out.push('/');
    }
    out
}

fn invalid(step: &Step, keyword: &'static str, detail: String) -> BuildError {
    BuildError::Invalid {
        line: step.line,
        keyword,
        detail,
    }
}

struct CopyFlags {
    from: Option<String>,
    chown: Option<String>,
    chmod: Option<String>,
    link: bool,
}

/// COPY's `--from`, `--chown`, `--chmod`, `--link`; ADD's the same but
/// `--from`. Anything else is refused with its name.
fn copy_flags(
    step: &Step,
    c: &CopyArgs,
    add: bool,
    ex: &dyn Fn(&str) -> Result<String, BuildError>,
) -> Result<CopyFlags, BuildError> {
    let kw = if add { "ADD" } else { "COPY" };
    let mut out = CopyFlags {
        from: None,
        chown: None,
        chmod: None,
        link: false,
    };
    for f in &c.flags {
        let v = f.value.as_deref().map(ex).transpose()?;
        match (f.name.as_str(), v) {
            ("from", Some(v)) if !add => out.from = Some(v),
            ("chown", Some(v)) => out.chown = Some(v),
            ("chmod", Some(v)) => {
                out.chmod = Some(check_chmod(&v).map_err(|d| invalid(step, kw, d))?)
            }
            ("link", None) => out.link = true,
            ("link", Some(v)) => out.link = v != "false",
            (name, _) => {
                return Err(invalid(
                    step,
                    kw,
                    format!("unknown or unsupported flag --{name}"),
                ))
            }
        }
    }
    Ok(out)
}

/// `--chmod` takes octal modes (as the classic builder does).
fn check_chmod(v: &str) -> Result<String, String> {
    match u32::from_str_radix(v, 8) {
        Ok(m) if m <= 0o7777 => Ok(v.to_string()),
        _ => Err(format!(
            "invalid --chmod={v}: an octal mode such as 0755 is expected"
        )),
    }
}
