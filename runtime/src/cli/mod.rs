//! `rrun`: Docker's command line, talking to `rrund` over its socket.
//!
//! Exit codes as Docker's: 125 when rrun itself fails, 126/127 when the
//! container's command cannot be run / is not found, else the container's.

mod autostart;
pub mod client;
pub mod exec;
pub mod images;
pub mod more;
pub mod netvol;
pub mod progress;
pub mod runflags;
pub mod tty;

use anyhow::{Context, Result};
use clap::{ArgAction, Args, Parser, Subcommand};
use serde_json::{json, Value};
use std::io::{Read, Write};

use client::{enc, Client};

#[derive(Debug, Parser)]
#[command(
    name = "rrun",
    version,
    about = "A lightweight Docker-compatible container engine"
)]
pub struct Cli {
    /// Daemon socket to connect to.
    #[arg(short = 'H', long = "host", global = true, env = "RRUN_HOST",
          default_value = crate::daemon::config::DEFAULT_HOST)]
    pub host: String,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create and run a new container from an image.
    Run(RunArgs),
    /// Create a new container.
    Create(RunArgs),
    /// Start one or more stopped containers.
    Start { containers: Vec<String> },
    /// Stop one or more running containers.
    Stop {
        /// Seconds to wait before killing the container.
        #[arg(short = 't', long = "time")]
        time: Option<i64>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Restart one or more containers.
    Restart {
        /// Seconds to wait before killing the container.
        #[arg(short = 't', long = "time")]
        time: Option<i64>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Kill one or more running containers.
    Kill {
        #[arg(short = 's', long = "signal", default_value = "KILL")]
        signal: String,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove one or more containers.
    Rm {
        /// Force the removal of a running container (uses SIGKILL).
        #[arg(short, long)]
        force: bool,
        /// Remove anonymous volumes associated with the container.
        #[arg(short, long)]
        volumes: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List containers.
    Ps {
        /// Show all containers (default shows just running).
        #[arg(short, long)]
        all: bool,
        /// Only display container IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Don't truncate output.
        #[arg(long)]
        no_trunc: bool,
        /// Filter output based on conditions provided (name=, id=, status=, label=, ancestor=).
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        /// Format output using a template ('table …', '{{json .}}', '{{.Names}}').
        #[arg(long)]
        format: Option<String>,
    },
    /// Execute a command in a running container.
    Exec(exec::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(exec::AttachArgs),
    /// Fetch the logs of a container.
    Logs {
        #[arg(short, long)]
        follow: bool,
        #[arg(short = 't', long)]
        timestamps: bool,
        #[arg(short = 'n', long, default_value = "all")]
        tail: String,
        container: String,
    },
    /// Block until one or more containers stop, then print their exit codes.
    Wait {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List port mappings or a specific mapping for the container.
    Port {
        container: String,
        /// PRIVATE_PORT[/PROTO]
        private_port: Option<String>,
    },
    /// Return low-level information on containers.
    Inspect {
        /// Format output using a template.
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Load an image from a tar archive or STDIN.
    Load {
        #[arg(short, long)]
        input: Option<std::path::PathBuf>,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Download an image from a registry.
    Pull {
        #[arg(short, long)]
        quiet: bool,
        image: String,
    },
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag { source: String, target: String },
    /// List images.
    Images(images::ImagesArgs),
    /// Remove one or more images.
    Rmi(images::RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(images::SaveArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(images::ImportArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(images::ImageCmd),
    /// Rename a container.
    Rename { container: String, new_name: String },
    /// Display the running processes of a container.
    Top {
        container: String,
        /// ps options (accepted; the output is always `ps -ef`'s columns).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Display a live stream of container(s) resource usage statistics.
    Stats(more::StatsArgs),
    /// Get real time events from the server.
    Events(more::EventsArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(more::ContainerCmd),
    /// Manage rrun.
    #[command(subcommand)]
    System(more::SystemCmd),
    /// Generate the autocompletion script for the specified shell.
    Completion { shell: clap_complete::Shell },
    /// Show the rrun version information.
    Version,
    /// Display system-wide information.
    Info,
    /// Manage networks.
    #[command(subcommand)]
    Network(netvol::NetworkCmd),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(netvol::VolumeCmd),
}

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
    pub net: netvol::NetFlags,
    #[command(flatten)]
    pub logging: more::LogFlags,
    /// Keep STDIN open and pipe rrun's stdin to it.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
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
    /// Splits the positional words into the image and the command.
    pub fn split(mut self) -> RunArgs {
        let mut words = std::mem::take(&mut self.argv).into_iter();
        self.image = words.next().unwrap_or_default();
        self.command = words.collect();
        self
    }
}

/// An error with the exit code rrun ends with.
#[derive(Debug)]
pub struct Exit(pub i32);
impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}
impl std::error::Error for Exit {}

/// Runs the command line; returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    let socket = match crate::daemon::config::socket_path(&cli.host) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rrun: {e:#}");
            return 125;
        }
    };
    // Only commands that talk to the daemon start one.
    if !matches!(cli.command, Cmd::Completion { .. }) {
        autostart::ensure(&socket, &cli.host);
    }
    let c = Client { socket };
    match dispatch(&c, cli.command) {
        Ok(code) => code,
        Err(e) => {
            if let Some(Exit(code)) = e.downcast_ref::<Exit>() {
                return *code;
            }
            eprintln!("{e:#}");
            125
        }
    }
}

fn dispatch(c: &Client, cmd: Cmd) -> Result<i32> {
    match cmd {
        Cmd::Run(a) => run(c, a.split()),
        Cmd::Exec(a) => exec::exec(c, a),
        Cmd::Attach(a) => exec::attach(c, a),
        Cmd::Create(a) => {
            let id = create(c, &a.split())?;
            println!("{id}");
            Ok(0)
        }
        Cmd::Start { containers } => each(&containers, |n| {
            start(c, n)?;
            Ok(())
        }),
        Cmd::Stop { time, containers } => each(&containers, |n| {
            let t = time.map(|t| format!("?t={t}")).unwrap_or_default();
            c.post(&format!("/containers/{}/stop{t}", enc(n)), None)?;
            Ok(())
        }),
        Cmd::Restart { time, containers } => each(&containers, |n| {
            let t = time.map(|t| format!("?t={t}")).unwrap_or_default();
            c.post(&format!("/containers/{}/restart{t}", enc(n)), None)?;
            Ok(())
        }),
        Cmd::Kill { signal, containers } => each(&containers, |n| {
            c.post(
                &format!("/containers/{}/kill?signal={}", enc(n), enc(&signal)),
                None,
            )?;
            Ok(())
        }),
        Cmd::Rm {
            force,
            volumes,
            containers,
        } => each(&containers, |n| {
            c.request(
                "DELETE",
                &format!("/containers/{}?force={force}&v={volumes}", enc(n)),
                None,
            )?;
            Ok(())
        }),
        Cmd::Ps {
            all,
            quiet,
            no_trunc,
            filter,
            format,
        } => match format {
            Some(f) if !quiet => ps_format(c, all, no_trunc, &filter, &f),
            _ => ps(c, all, quiet, no_trunc, &filter),
        },
        Cmd::Logs {
            follow,
            timestamps,
            tail,
            container,
        } => {
            let path = format!(
                "/containers/{}/logs?stdout=1&stderr=1&follow={follow}&timestamps={timestamps}&tail={}",
                enc(&container),
                enc(&tail)
            );
            // A container with a terminal has one raw stream (Docker's).
            let raw =
                c.get(&format!("/containers/{}/json", enc(&container)))?["Config"]["Tty"] == true;
            tty::output(c.request("GET", &path, None)?.body, raw)?;
            Ok(0)
        }
        Cmd::Wait { containers } => {
            let mut failed = false;
            for n in &containers {
                match c
                    .post(&format!("/containers/{}/wait", enc(n)), None)
                    .and_then(|r| r.json())
                {
                    Ok(v) => println!("{}", v["StatusCode"]),
                    Err(e) => {
                        eprintln!("{e:#}");
                        failed = true;
                    }
                }
            }
            Ok(if failed { 1 } else { 0 })
        }
        Cmd::Inspect { format, containers } => {
            let mut out = Vec::new();
            let mut failed = false;
            for n in &containers {
                // A container, else an image of that name (as Docker's).
                let got = c.get(&format!("/containers/{}/json", enc(n))).or_else(|e| {
                    c.get(&format!("/images/{}/json", images::encode_path(n)))
                        .map_err(|_| e)
                });
                match got {
                    Ok(v) => out.push(v),
                    Err(e) => {
                        eprintln!("{e:#}");
                        failed = true;
                    }
                }
            }
            match format {
                Some(f) => out
                    .iter()
                    .for_each(|v| println!("{}", netvol::format_value(&f, v))),
                None => println!("{}", serde_json::to_string_pretty(&Value::Array(out))?),
            }
            Ok(if failed { 1 } else { 0 })
        }
        Cmd::Port {
            container,
            private_port,
        } => netvol::port(c, &container, private_port.as_deref()),
        Cmd::Load { input, quiet } => load(c, input, quiet),
        Cmd::Pull { quiet, image } => {
            pull(c, &image, quiet, false)?;
            Ok(0)
        }
        Cmd::Tag { source, target } => {
            let (repo, tag) = split_tag(&target);
            c.post(
                &format!(
                    "/images/{}/tag?repo={}&tag={}",
                    enc(&source),
                    enc(repo),
                    enc(tag)
                ),
                None,
            )?;
            Ok(0)
        }
        Cmd::Images(a) => images::images(c, &a),
        Cmd::Rmi(a) => images::rmi(c, &a),
        Cmd::Save(a) => images::save(c, &a),
        Cmd::Import(a) => images::import(c, &a),
        Cmd::Image(cmd) => match images::image(c, cmd)? {
            Some(next) => dispatch(c, next),
            None => Ok(0),
        },
        Cmd::Rename {
            container,
            new_name,
        } => more::rename(c, &container, &new_name),
        Cmd::Top { container, .. } => more::top(c, &container),
        Cmd::Stats(a) => more::stats(c, &a),
        Cmd::Events(a) => more::events(c, &a),
        Cmd::Container(cmd) => more::container(c, cmd),
        Cmd::System(cmd) => more::system(c, cmd),
        Cmd::Completion { shell } => more::completion(shell),
        Cmd::Version => version(c),
        Cmd::Info => info(c),
        Cmd::Network(cmd) => netvol::network(c, cmd),
        Cmd::Volume(cmd) => netvol::volume(c, cmd),
    }
}

/// Runs `f` on each name, printing it on success as Docker does; the exit
/// code is 1 if any failed.
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<i32> {
    let mut failed = false;
    for n in names {
        match f(n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("{e:#}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// `name:tag` → (name, tag), minding a registry port.
fn split_tag(r: &str) -> (&str, &str) {
    match r.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => (r, "latest"),
    }
}

fn create_body(a: &RunArgs) -> Result<Value> {
    let mut body = base_create_body(a)?;
    a.opts.apply(&mut body);
    Ok(body)
}

fn base_create_body(a: &RunArgs) -> Result<Value> {
    let labels: serde_json::Map<String, Value> = a
        .label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), json!(v)),
            None => (l.clone(), json!("")),
        })
        .collect();
    let mut body = json!({
        "Image": a.image,
        "Cmd": if a.command.is_empty() { Value::Null } else { json!(a.command) },
        "Entrypoint": a.entrypoint.as_ref().map(|e| if e.is_empty() { json!([]) } else { json!([e]) }),
        "Env": a.env,
        "WorkingDir": a.workdir.clone().unwrap_or_default(),
        "User": a.user.clone().unwrap_or_default(),
        "Hostname": a.hostname.clone().unwrap_or_default(),
        "Labels": labels,
        "Tty": a.tty,
        "OpenStdin": a.interactive,
        "StdinOnce": a.interactive,
        "AttachStdin": a.interactive && !a.detach,
        "AttachStdout": !a.detach,
        "AttachStderr": !a.detach,
        "HostConfig": {
            "AutoRemove": a.rm,
            "Binds": a.volume,
            "NetworkMode": a.network.clone().unwrap_or_default(),
        },
    });
    netvol::apply(&mut body, &a.net, a.network.as_deref())?;
    more::apply_log_flags(&mut body, &a.logging)?;
    Ok(body)
}

fn create(c: &Client, a: &RunArgs) -> Result<String> {
    let name = a
        .name
        .as_ref()
        .map(|n| format!("?name={}", enc(n)))
        .unwrap_or_default();
    let path = format!("/containers/create{name}");
    let mut body = create_body(a)?;
    body["HostConfig"]["ConsoleSize"] = tty::console_size(a.tty);
    let v = match c.post(&path, Some(body.clone())) {
        Ok(r) => r.json()?,
        Err(e) => {
            let missing = e
                .downcast_ref::<client::ApiError>()
                .is_some_and(|api| api.status == 404 && api.message.starts_with("No such image"));
            if !missing {
                return Err(e);
            }
            // As Docker: pull it (progress on stderr), then create again.
            eprintln!("Unable to find image '{}' locally", with_tag(&a.image));
            pull(c, &a.image, false, true)?;
            c.post(&path, Some(body))?.json()?
        }
    };
    v["Id"]
        .as_str()
        .map(String::from)
        .context("the daemon's answer has no Id")
}

/// Starts a container; a program that cannot run gives Docker's 126/127.
fn start(c: &Client, id: &str) -> Result<()> {
    match c.post(&format!("/containers/{}/start", enc(id)), None) {
        Ok(_) => Ok(()),
        Err(e) => {
            if let Some(api) = e.downcast_ref::<client::ApiError>() {
                let code = crate::daemon::start_error_code(&api.message);
                if code == 126 || code == 127 {
                    eprintln!("{api}");
                    return Err(Exit(code).into());
                }
            }
            Err(e)
        }
    }
}

fn run(c: &Client, a: RunArgs) -> Result<i32> {
    if !a.detach {
        exec::check_tty_input(a.interactive, a.tty)?;
    }
    let id = create(c, &a)?;
    if a.detach {
        start(c, &id)?;
        println!("{id}");
        return Ok(0);
    }
    // Register the wait before starting, so a quick exit is not missed.
    let condition = if a.rm { "removed" } else { "next-exit" };
    let waiter = c.post(
        &format!("/containers/{id}/wait?condition={condition}"),
        None,
    )?;
    // With -i or -t, attach (stdin too with -i) before the start, as
    // Docker's CLI does.
    let attached = if a.interactive || a.tty {
        Some(c.upgrade(&format!(
            "/containers/{id}/attach?stream=1&stdin={}&stdout=1&stderr=1",
            u8::from(a.interactive)
        ))?)
    } else {
        None
    };
    // Without a terminal, the output through a plain attach stream, also
    // asked before the start: asked after it, a quick `--rm` container
    // could be gone (and its log with it) before the request arrived.
    let streamed = match attached {
        Some(_) => None,
        None => {
            let url = format!("/containers/{id}/attach?stream=1&stdout=1&stderr=1");
            match c.request("POST", &url, None) {
                Ok(r) => Some(r),
                Err(e) => {
                    if a.rm {
                        let _ = c.request("DELETE", &format!("/containers/{id}?force=true"), None);
                    }
                    return Err(e);
                }
            }
        }
    };
    if let Err(e) = start(c, &id) {
        if a.rm {
            let _ = c.request("DELETE", &format!("/containers/{id}?force=true"), None);
        }
        return Err(e);
    }
    match attached {
        Some(conn) => {
            let ended = tty::Session {
                conn,
                tty: a.tty,
                stdin: a.interactive,
                resize: Some(exec::resizer(c, format!("/containers/{id}/resize"))),
            }
            .run()?;
            if ended == tty::Ended::Detached {
                eprintln!("{}", tty::DETACHED);
                return Ok(0);
            }
        }
        None => {
            if let Some(out) = streamed {
                demux(out.body)?;
            }
        }
    }
    let v = waiter.json()?;
    Ok(v["StatusCode"].as_i64().unwrap_or(125) as i32)
}

/// Copies a multiplexed stream to stdout and stderr as frames arrive.
fn demux(mut body: Box<dyn Read>) -> Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 32768];
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    loop {
        let n = body.read(&mut chunk).context("read the log stream")?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let (frames, used) = crate::daemon::logs::deframe(&buf);
        buf.drain(..used);
        for (stream, payload) in frames {
            if stream == crate::daemon::logs::STDERR {
                let mut e = stderr.lock();
                let _ = e.write_all(&payload);
                let _ = e.flush();
            } else {
                let mut o = stdout.lock();
                // A closed stdout (rrun logs | head) ends the copy quietly.
                if o.write_all(&payload).and_then(|_| o.flush()).is_err() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Prints rows as Docker's tabwriter does: columns padded by three spaces.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map(|s| s.chars().count()).unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < r.len() {
                let pad = widths[i] - cell.chars().count() + 3;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Docker's `ps` NAMES cell: the names without their leading `/`, joined
/// with commas.
pub fn ps_names(names: &Value) -> String {
    names
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(|x| x.as_str())
                .map(|x| x.trim_start_matches('/'))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// Docker's `ps` COMMAND cell: quoted, cut to 20 characters with `…`.
pub fn ps_command(cmd: &str, no_trunc: bool) -> String {
    let cut = if !no_trunc && cmd.chars().count() > 20 {
        let s: String = cmd.chars().take(19).collect();
        format!("{s}…")
    } else {
        cmd.to_string()
    };
    format!("\"{cut}\"")
}

/// Docker's `ps` PORTS cell: `0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 443/tcp`.
pub fn ps_ports(ports: &Value) -> String {
    let mut cells: Vec<String> = ports
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let private = format!(
                        "{}/{}",
                        p["PrivatePort"],
                        p["Type"].as_str().unwrap_or("tcp")
                    );
                    match p["PublicPort"].as_u64() {
                        Some(public) => format!(
                            "{}->{private}",
                            netvol::join_host_port(p["IP"].as_str().unwrap_or("0.0.0.0"), public)
                        ),
                        None => private,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    cells.sort();
    cells.dedup();
    cells.join(", ")
}

/// `-f k=v` flags → Docker's `filters` JSON.
pub fn filters_json(flags: &[String]) -> Result<String> {
    let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for f in flags {
        let (k, v) = f
            .split_once('=')
            .with_context(|| format!("bad format of filter (expected name=value): {f}"))?;
        m.entry(k.to_string()).or_default().push(v.to_string());
    }
    Ok(serde_json::to_string(&m)?)
}

fn ps(c: &Client, all: bool, quiet: bool, no_trunc: bool, filter: &[String]) -> Result<i32> {
    let filters = filters_json(filter)?;
    let list = c.get(&format!(
        "/containers/json?all={all}&filters={}",
        enc(&filters)
    ))?;
    let list = list.as_array().cloned().unwrap_or_default();
    let short = |id: &str| -> String {
        if no_trunc {
            id.to_string()
        } else {
            id.chars().take(12).collect()
        }
    };
    if quiet {
        for v in &list {
            println!("{}", short(v["Id"].as_str().unwrap_or("")));
        }
        return Ok(0);
    }
    let now = chrono::Utc::now().timestamp();
    let mut rows = vec![[
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    .map(String::from)
    .to_vec()];
    for v in &list {
        let created = v["Created"].as_i64().unwrap_or(now);
        rows.push(vec![
            short(v["Id"].as_str().unwrap_or("")),
            v["Image"].as_str().unwrap_or("").to_string(),
            ps_command(v["Command"].as_str().unwrap_or(""), no_trunc),
            format!("{} ago", rrun_units::human_duration_secs(now - created)),
            v["Status"].as_str().unwrap_or("").to_string(),
            ps_ports(&v["Ports"]),
            ps_names(&v["Names"]),
        ]);
    }
    print!("{}", table(&rows));
    Ok(0)
}

/// `ps --format`: Docker's fields through the template.
fn ps_format(c: &Client, all: bool, no_trunc: bool, filter: &[String], tpl: &str) -> Result<i32> {
    let filters = filters_json(filter)?;
    let list = c.get(&format!(
        "/containers/json?all={all}&filters={}",
        enc(&filters)
    ))?;
    let rows: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| more::ps_fields(v, no_trunc))
        .collect();
    images::print_formatted(tpl, &rows, more::PS_HEADERS);
    Ok(0)
}

fn load(c: &Client, input: Option<std::path::PathBuf>, quiet: bool) -> Result<i32> {
    let data = match input {
        Some(p) => std::fs::read(&p).with_context(|| format!("read {}", p.display()))?,
        None => {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b).context("read stdin")?;
            b
        }
    };
    let q = if quiet { "?quiet=1" } else { "" };
    let text = c
        .request(
            "POST",
            &format!("/images/load{q}"),
            Some(("application/x-tar", data)),
        )?
        .text()?;
    for line in text.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            if let Some(s) = v["stream"].as_str() {
                print!("{s}");
            }
        }
    }
    Ok(0)
}

/// `busybox` → `busybox:latest` (names with a tag or digest unchanged).
fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// Pulls through the daemon, printing Docker's progress lines (to stderr
/// when `to_stderr`, as `run` does).
fn pull(c: &Client, image: &str, quiet: bool, to_stderr: bool) -> Result<()> {
    let full = with_tag(image);
    let (from, tag) = match full.split_once('@') {
        Some((f, d)) => (f.to_string(), d.to_string()),
        None => {
            let (f, t) = split_tag(&full);
            (f.to_string(), t.to_string())
        }
    };
    let body = c
        .post(
            &format!("/images/create?fromImage={}&tag={}", enc(&from), enc(&tag)),
            None,
        )?
        .body;
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
    let mut bars = tty.then(|| progress::Bars::new(to_stderr));
    for l in std::io::BufRead::lines(std::io::BufReader::new(body)) {
        let l = l.context("read the pull progress")?;
        if l.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&l).context("parse the pull progress")?;
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
    if !to_stderr {
        println!("{full}");
    }
    Ok(())
}

fn version(c: &Client) -> Result<i32> {
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       {}", &client::API_PREFIX[2..]);
    println!(" OS/Arch:           linux/{}", std::env::consts::ARCH);
    println!();
    let v = c.get("/version")?;
    println!("Server: rrun");
    println!(" Engine:");
    println!(
        "  Version:          {}",
        v["Version"].as_str().unwrap_or("")
    );
    println!(
        "  API version:      {} (minimum version {})",
        v["ApiVersion"].as_str().unwrap_or(""),
        v["MinAPIVersion"].as_str().unwrap_or("")
    );
    println!(
        "  OS/Arch:          {}/{}",
        v["Os"].as_str().unwrap_or(""),
        v["Arch"].as_str().unwrap_or("")
    );
    println!(
        "  Kernel:           {}",
        v["KernelVersion"].as_str().unwrap_or("")
    );
    Ok(0)
}

fn info(c: &Client) -> Result<i32> {
    let v = c.get("/info")?;
    let s = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("Server:");
    println!(" Containers: {}", s("Containers"));
    println!("  Running: {}", s("ContainersRunning"));
    println!("  Paused: {}", s("ContainersPaused"));
    println!("  Stopped: {}", s("ContainersStopped"));
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    println!(" Storage Driver: {}", s("Driver"));
    println!(" Logging Driver: {}", s("LoggingDriver"));
    println!(" Cgroup Driver: {}", s("CgroupDriver"));
    println!(" Cgroup Version: {}", s("CgroupVersion"));
    println!(" Default Runtime: {}", s("DefaultRuntime"));
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" OSType: {}", s("OSType"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    println!(" Name: {}", s("Name"));
    println!(" Docker Root Dir: {}", s("DockerRootDir"));
    println!(" Live Restore Enabled: {}", s("LiveRestoreEnabled"));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_short_flags_parse() {
        let cli = Cli::try_parse_from([
            "rrun", "run", "-dit", "--rm", "-e", "A=1", "busybox", "sh", "-c", "echo hi",
        ])
        .unwrap();
        let Cmd::Run(a) = cli.command else { panic!() };
        let a = a.split();
        assert!(a.detach && a.interactive && a.tty && a.rm);
        assert_eq!(a.env, vec!["A=1"]);
        assert_eq!(a.image, "busybox");
        assert_eq!(a.command, vec!["sh", "-c", "echo hi"]);
        let cli = Cli::try_parse_from(["rrun", "run", "-h", "box", "busybox"]).unwrap();
        let Cmd::Run(a) = cli.command else { panic!() };
        let a = a.split();
        assert_eq!(a.hostname.as_deref(), Some("box"));
    }

    #[test]
    fn table_pads_like_tabwriter() {
        let t = table(&[
            vec!["A".into(), "BB".into(), "C".into()],
            vec!["xxxx".into(), "".into(), "z".into()],
        ]);
        assert_eq!(t, "A      BB   C\nxxxx        z\n");
        assert_eq!(ps_command("echo hi", false), "\"echo hi\"");
        assert_eq!(
            ps_command("sh -c 'while true; do sleep 1; done'", false),
            "\"sh -c 'while true; …\""
        );
    }

    #[test]
    fn ps_ports_bracket_ipv6() {
        let ports = json!([
            {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"PrivatePort": 443, "Type": "tcp"},
        ]);
        assert_eq!(
            ps_ports(&ports),
            "0.0.0.0:8080->80/tcp, 443/tcp, [::]:8080->80/tcp"
        );
    }

    #[test]
    fn ipv6_flags_parse() {
        let cli = Cli::try_parse_from([
            "rrun",
            "network",
            "create",
            "--ipv6",
            "--subnet",
            "172.30.0.0/16",
            "--subnet",
            "fd00:1::/64",
            "n",
        ])
        .unwrap();
        let Cmd::Network(netvol::NetworkCmd::Create { subnet, ipv6, .. }) = cli.command else {
            panic!()
        };
        assert!(ipv6);
        assert_eq!(subnet, ["172.30.0.0/16", "fd00:1::/64"]);
        let cli = Cli::try_parse_from(["rrun", "port", "web", "80/tcp"]).unwrap();
        assert!(matches!(cli.command, Cmd::Port { .. }));
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
