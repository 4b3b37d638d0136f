//! `rrun-oci`: the executor behind runc's command line, so containerd,
//! Podman and conformance suites can drive it unchanged.

mod args;
mod cgroup;
mod commands;
mod drivers;
mod info;
mod live;
mod oom;
pub mod state;
mod supervise;

pub use args::{command, normalize_args, runc_version, wants_version};
pub use commands::{force_delete, kill_init, read_spec};

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "rrun-oci",
    about = "rrun's OCI runtime, with runc's command line"
)]
pub struct Cli {
    /// Directory for the containers' state.
    #[arg(long, global = true, default_value = "/run/rrun-oci")]
    pub root: PathBuf,
    /// Write log messages to this file instead of stderr.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of the log: text or json.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd (transient scopes; cgroupsPath in
    /// slice:prefix:name form) instead of cgroupfs.
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility (true, false or auto).
    #[arg(long, global = true)]
    pub rootless: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Path to the bundle (the directory holding config.json).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the container's pid to.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is set.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Use chroot instead of pivot_root (for roots on a ramdisk).
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc compatibility.
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many fds above stderr (3, 4, ...) to the container.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container: set it up and leave it waiting for `start`.
    Create(CreateArgs),
    /// Run the user program of a created container.
    Start { id: String },
    /// Print a container's state as JSON.
    State { id: String },
    /// Send a signal (default SIGTERM) to a container's init.
    Kill {
        /// Send it to every process of the container.
        #[arg(short, long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// Delete a stopped (or, with --force, any) container.
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Create and start a container, wait for it, and exit with its status.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return after start instead of waiting.
        #[arg(short, long)]
        detach: bool,
        /// Keep the container after it exits.
        #[arg(long)]
        keep: bool,
    },
    /// Run a new process in a running container.
    Exec(ExecArgs),
    /// List the processes of a container.
    Ps {
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        /// Options passed to ps(1) (default -ef).
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        ps_args: Vec<String>,
    },
    /// List containers.
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Print only the ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Suspend every process of a container (the cgroup freezer).
    Pause { id: String },
    /// Resume a paused container.
    Resume { id: String },
    /// Change a running container's resources.
    Update {
        /// linux.resources as JSON, from this file ("-" for stdin).
        #[arg(short, long)]
        resources: Option<PathBuf>,
        id: String,
    },
    /// Print a container's resource usage and OOM kills as runc's events.
    Events {
        /// Print one event and exit.
        #[arg(long)]
        stats: bool,
        /// Time between events.
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Not supported: there is no CRIU support.
    Checkpoint {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Not supported: there is no CRIU support.
    Restore {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Print what this runtime supports, as JSON.
    Features,
    /// Write a default config.json into a bundle.
    Spec {
        #[arg(short, long)]
        bundle: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// A process.json to run instead of the command line.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Return once the process runs.
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Working directory of the process.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Extra environment variables (KEY=VALUE).
    #[arg(short, long)]
    pub env: Vec<String>,
    /// `uid[:gid]` to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids.
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Set no_new_privs for the process.
    #[arg(long)]
    pub no_new_privs: bool,
    /// Pass this many fds above stderr (3, 4, ...) to the process.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    init_logging(&cli);
    match commands::dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            if cli.log.is_some() {
                eprintln!("rrun-oci: {e:#}");
            }
            1
        }
    }
}

fn init_logging(cli: &Cli) {
    // A shim runs several commands in one process: the first one's
    // subscriber stays (they all log to the same file), and the next ones
    // build no filter and open no file (0.1 ms of a start's path).
    if tracing::dispatcher::has_been_set() {
        return;
    }
    let level = if cli.debug {
        "debug"
    } else {
        "warn,libcgroups=error"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let file = cli.log.as_ref().and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    let _ = match (file, cli.log_format) {
        (Some(f), LogFormat::Json) => builder
            .event_format(RuncJson)
            .with_writer(std::sync::Mutex::new(f))
            .try_init(),
        (Some(f), LogFormat::Text) => builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(f))
            .try_init(),
        (None, _) => builder
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .without_time()
            .with_target(false)
            .try_init(),
    };
}

/// runc's JSON log lines, `{"level":"error","msg":"...","time":"..."}`,
/// which containerd reads to report a runtime's errors.
struct RuncJson;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for RuncJson
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        struct Msg(String);
        impl tracing::field::Visit for Msg {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                } else {
                    self.0.push_str(&format!(" {}={value:?}", field.name()));
                }
            }
        }
        let mut msg = Msg(String::new());
        event.record(&mut msg);
        let line = serde_json::json!({
            "level": event.metadata().level().as_str().to_ascii_lowercase(),
            "msg": msg.0,
            "time": state::now_rfc3339(),
        });
        writeln!(writer, "{line}")
    }
}
