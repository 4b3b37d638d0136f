//! `rrun run` and `rrun create`: the flags, the create body, and the run
//! sequence (wait and attach before the start, as Docker's CLI does).

use anyhow::Result;
use clap::{ArgAction, Args};

use crate::apimodel::models::{
    ContainerCreateBody, ContainerCreateResponse, ContainerWaitResponse, HostConfig,
};
use crate::apimodel::query::{AttachQuery, CreateQuery, RemoveQuery, WaitQuery};

use super::client::{self, url, Client};
use super::containers::start;
use super::format::kv;
use super::images::{self, with_tag};
use super::{exec, netflags, runflags, tty};

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// Run the container in the background and print its ID.
    #[arg(short, long)]
    pub detach: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    #[arg(long)]
    pub name: Option<String>,
    /// Set platform if server is multi-platform capable.
    #[arg(long)]
    pub platform: Option<String>,
    /// Set environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Set meta data on a container.
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    /// Bind mount a volume (`[name|/host:]/container[:ro]`).
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Connect a container to a network (bridge, a network's name, host,
    /// none, container:<name|id>).
    #[arg(long, alias = "net")]
    pub network: Option<String>,
    #[command(flatten)]
    pub net: netflags::NetFlags,
    #[command(flatten)]
    pub logging: runflags::LogFlags,
    /// Keep STDIN open and pipe rrun's stdin to it.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Override the key sequence for detaching (`ctrl-<x>,<y>`).
    #[arg(long, default_value = "")]
    pub detach_keys: String,
    #[command(flatten)]
    pub opts: runflags::RunOptionArgs,
    /// The image, then the command and its arguments. One positional, so
    /// that, as with Docker, nothing after the image is taken for an rrun
    /// flag (`--entrypoint sh mysql:5.7 -c '…'`).
    #[arg(
        value_name = "IMAGE [COMMAND] [ARG...]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    argv: Vec<String>,
    #[arg(skip)]
    pub image: String,
    #[arg(skip)]
    pub command: Vec<String>,
}

impl RunArgs {
    /// The first positional word (the image, once it is checked not to
    /// be a flag).
    pub fn first_word(&self) -> Option<&str> {
        self.argv.first().map(String::as_str)
    }

    /// Splits the positional words into the image and the command.
    pub fn split(mut self) -> RunArgs {
        let mut words = std::mem::take(&mut self.argv).into_iter();
        self.image = words.next().unwrap_or_default();
        self.command = words.collect();
        self
    }
}

/// The create body of `run`/`create`'s flags.
pub fn create_body(a: &RunArgs) -> Result<ContainerCreateBody> {
    let mut host = HostConfig {
        auto_remove: Some(a.rm),
        binds: Some(a.volume.clone()),
        network_mode: Some(a.network.clone().unwrap_or_default()),
        console_size: tty::console_size(a.tty),
        ..Default::default()
    };
    a.opts.apply(&mut host);
    a.logging.apply(&mut host)?;
    let mut body = ContainerCreateBody {
        image: Some(a.image.clone()),
        cmd: (!a.command.is_empty()).then(|| a.command.clone()),
        entrypoint: a.entrypoint.as_ref().map(|e| match e.is_empty() {
            true => vec![],
            false => vec![e.clone()],
        }),
        env: Some(a.env.clone()),
        working_dir: Some(a.workdir.clone().unwrap_or_default()),
        user: Some(a.user.clone().unwrap_or_default()),
        hostname: Some(a.hostname.clone().unwrap_or_default()),
        labels: Some(kv(&a.label)),
        tty: Some(a.tty),
        open_stdin: Some(a.interactive),
        stdin_once: Some(a.interactive),
        attach_stdin: Some(a.interactive && !a.detach),
        attach_stdout: Some(!a.detach),
        attach_stderr: Some(!a.detach),
        stop_signal: a.opts.stop_signal.clone(),
        stop_timeout: a.opts.stop_timeout,
        healthcheck: a.opts.healthcheck()?,
        ..Default::default()
    };
    a.net.apply(&mut body, &mut host, a.network.as_deref())?;
    body.host_config = Some(host);
    Ok(body)
}

/// Creates the container (pulling its image first when the daemon has
/// none, as Docker does); returns its id.
pub fn create(c: &Client, a: &RunArgs) -> Result<String> {
    let q = CreateQuery {
        name: a.name.clone(),
        platform: a.platform.clone(),
    };
    let path = url("/containers/create", &q)?;
    let body = create_body(a)?;
    let created: ContainerCreateResponse = match c.post_json(&path, &body) {
        Ok(r) => r.json()?,
        Err(e) => {
            // Missing, or here for another platform than `--platform`'s.
            let missing = e.downcast_ref::<client::ApiError>().is_some_and(|api| {
                api.status == 404
                    && (api.message.starts_with("No such image")
                        || api
                            .message
                            .contains("does not match the specified platform"))
            });
            if !missing {
                return Err(e);
            }
            // As Docker: pull it (progress on stderr), then create again.
            eprintln!("Unable to find image '{}' locally", with_tag(&a.image));
            images::pull(c, &a.image, a.platform.as_deref(), false, true)?;
            c.post_json(&path, &body)?.json()?
        }
    };
    // As docker/cli: what the daemon dropped (e.g. a limit the host's
    // cgroups cannot apply) is said on stderr.
    for w in &created.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(created.id)
}

/// `rrun create`: prints the new container's id.
pub fn create_cmd(c: &Client, a: RunArgs) -> Result<i32> {
    println!("{}", create(c, &a)?);
    Ok(0)
}

/// What `run` reads the container's output through, asked before the start.
enum Output {
    /// `-i`/`-t`: an upgraded connection (stdin too with `-i`).
    Session(client::Hijacked),
    /// Neither: a plain attach stream, demultiplexed. Asked after the start,
    /// a quick `--rm` container could be gone (and its log with it) before
    /// the request arrived.
    Stream(client::Response),
}

pub fn run(c: &Client, a: RunArgs) -> Result<i32> {
    if !a.detach {
        exec::check_tty_input(a.interactive, a.tty)?;
    }
    // Checked before anything is made.
    exec::detach_keys(&a.detach_keys)?;
    let id = create(c, &a)?;
    if a.detach {
        start(c, &id)?;
        println!("{id}");
        return Ok(0);
    }
    run_attached(c, &id, a.rm, a.interactive, a.tty, &a.detach_keys)
}

/// Runs a created container attached (`run` without `-d`; `compose run`
/// too): the wait registered and the output attached before the start;
/// the container's exit code.
pub fn run_attached(
    c: &Client,
    id: &str,
    rm: bool,
    interactive: bool,
    tty: bool,
    detach_keys: &str,
) -> Result<i32> {
    // Register the wait before starting, so a quick exit is not missed.
    let q = WaitQuery {
        condition: Some(if rm { "removed" } else { "next-exit" }.into()),
    };
    let waiter = c.post(&url(&format!("/containers/{id}/wait"), &q)?)?;
    let output = attach(c, interactive, tty, detach_keys, id).and_then(|out| {
        start(c, id)?;
        Ok(out)
    });
    let output = match output {
        Ok(out) => out,
        Err(e) => {
            if rm {
                let q = RemoveQuery {
                    force: true,
                    v: false,
                    link: false,
                };
                let _ = c.request("DELETE", &url(&format!("/containers/{id}"), &q)?, None);
            }
            return Err(e);
        }
    };
    match output {
        Output::Session(conn) => {
            let ended = tty::Session {
                conn,
                tty,
                stdin: interactive,
                detach_keys: exec::detach_keys(detach_keys)?,
                resize: Some(exec::resizer(c, format!("/containers/{id}/resize"))),
            }
            .run()?;
            if ended == tty::Ended::Detached {
                eprintln!("{}", tty::DETACHED);
                return Ok(0);
            }
        }
        Output::Stream(out) => tty::demux(out.body)?,
    }
    let v: ContainerWaitResponse = waiter.json()?;
    Ok(v.status_code as i32)
}

/// Attaches before the start, as Docker's CLI does.
fn attach(c: &Client, interactive: bool, tty: bool, detach_keys: &str, id: &str) -> Result<Output> {
    if interactive || tty {
        let conn = c.upgrade(
            &exec::attach_url(id, interactive, detach_keys)?,
            None::<&()>,
        )?;
        return Ok(Output::Session(conn));
    }
    let q = AttachQuery {
        stream: true,
        stdin: false,
        stdout: true,
        stderr: true,
        detach_keys: String::new(),
    };
    let path = url(&format!("/containers/{id}/attach"), &q)?;
    Ok(Output::Stream(c.request("POST", &path, None)?))
}
