//! `rrun compose`'s command line: Compose v2's global flags and commands.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// Compose configuration files.
    #[arg(short = 'f', long = "file")]
    pub file: Vec<PathBuf>,
    /// Project name.
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Specify an alternate working directory (default: the path of the first Compose file).
    #[arg(long)]
    pub project_directory: Option<PathBuf>,
    /// Specify an alternate environment file.
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Specify a profile to enable.
    #[arg(long = "profile")]
    pub profile: Vec<String>,
    #[command(subcommand)]
    pub cmd: ComposeCmd,
}

impl ComposeArgs {
    /// `config` and `version` read no daemon (and start none).
    pub fn needs_daemon(&self) -> bool {
        !matches!(self.cmd, ComposeCmd::Config(_) | ComposeCmd::Version(_))
    }
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ComposeCmd {
    /// Parse, resolve and render the Compose file in canonical format.
    #[command(alias = "convert")]
    Config(ConfigArgs),
    /// Create and start containers.
    Up(UpArgs),
    /// Creates containers for a service.
    Create(CreateArgs),
    /// Stop and remove containers, networks.
    Down(DownArgs),
    /// List containers.
    Ps(PsArgs),
    /// View output from containers.
    Logs(LogsArgs),
    /// Execute a command in a running container.
    Exec(ExecArgs),
    /// Run a one-off command on a service.
    Run(RunArgs),
    /// Stop services.
    Stop(StopArgs),
    /// Start services.
    Start(Services),
    /// Restart service containers.
    Restart(StopArgs),
    /// Removes stopped service containers.
    Rm(RmArgs),
    /// Force stop service containers.
    Kill(KillArgs),
    /// Pause services.
    Pause(Services),
    /// Unpause services.
    Unpause(Services),
    /// Display the running processes.
    Top(Services),
    /// Print the public port for a port binding.
    Port(PortArgs),
    /// List images used by the created containers.
    Images(ImagesArgs),
    /// Pull service images.
    Pull(PullArgs),
    /// Push service images.
    Push(PushArgs),
    /// Build or rebuild services.
    Build(BuildArgs),
    /// Receive real time events from containers.
    Events(EventsArgs),
    /// List running compose projects.
    Ls(LsArgs),
    /// Show the Docker Compose version information.
    Version(VersionArgs),
    /// Attach local standard input, output, and error streams to a service's running container.
    Attach(AttachArgs),
    /// Copy files/folders between a service container and the local filesystem.
    Cp(CpArgs),
    /// Scale services.
    Scale(ScaleArgs),
    /// Block until containers of all (or specified) services stop.
    Wait(WaitArgs),
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Do not attach STDIN.
    #[arg(long)]
    pub no_stdin: bool,
    /// Override the key sequence for detaching from a container.
    #[arg(long, default_value = "")]
    pub detach_keys: String,
    pub service: String,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// SERVICE:SRC_PATH or SRC_PATH|-
    pub src: String,
    /// DEST_PATH|- or SERVICE:DEST_PATH
    pub dest: String,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// SERVICE=REPLICAS
    #[arg(required = true)]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Drops project when the first container stops.
    #[arg(long)]
    pub down_project: bool,
    pub services: Vec<String>,
}

#[derive(Debug, Args, Default)]
pub struct Services {
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Only validate the configuration, don't print anything.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the service names, one per line.
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line.
    #[arg(long)]
    pub volumes: bool,
}

#[derive(Debug, Args, Default)]
pub struct CreateArgs {
    /// Build images before starting containers.
    #[arg(long)]
    pub build: bool,
    /// Recreate containers even if their configuration and image haven't changed.
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them.
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Remove containers for services not defined in the Compose file.
    #[arg(long)]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances (SERVICE=NUM).
    #[arg(long)]
    pub scale: Vec<String>,
    /// Pull image before running: always, missing or never (over each
    /// service's pull_policy).
    #[arg(long, value_parser = ["always", "missing", "never"])]
    pub pull: Option<String>,
    pub services: Vec<String>,
}

#[derive(Debug, Args, Default)]
pub struct UpArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Detached mode: run containers in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Restrict attaching to the specified services.
    #[arg(long)]
    pub attach: Vec<String>,
    /// Do not attach (stream logs) to the specified services.
    #[arg(long)]
    pub no_attach: Vec<String>,
    /// Don't start the services after creating them.
    #[arg(long, conflicts_with_all = ["detach", "wait"])]
    pub no_start: bool,
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// Wait for services to be running|healthy. Implies detached mode.
    #[arg(long)]
    pub wait: bool,
    /// Stops all containers if any container was stopped.
    #[arg(long)]
    pub abort_on_container_exit: bool,
    /// Return the exit code of the selected service container. Implies --abort-on-container-exit.
    #[arg(long)]
    pub exit_code_from: Option<String>,
    /// Produce monochrome output.
    #[arg(long)]
    pub no_color: bool,
    /// Use this timeout in seconds for container shutdown.
    #[arg(short, long)]
    pub timeout: Option<i64>,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Remove images used by services: "local" only those without a custom tag, "all" every one.
    #[arg(long, value_parser = ["all", "local"])]
    pub rmi: Option<String>,
    /// Remove named volumes declared in the "volumes" section and anonymous volumes.
    #[arg(short, long)]
    pub volumes: bool,
    /// Remove containers for services not defined in the Compose file.
    #[arg(long)]
    pub remove_orphans: bool,
    /// Specify a shutdown timeout in seconds.
    #[arg(short, long)]
    pub timeout: Option<i64>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all stopped containers.
    #[arg(short, long)]
    pub all: bool,
    /// Only display IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Display services.
    #[arg(long)]
    pub services: bool,
    /// Format output: table, json, or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    pub service: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    pub follow: bool,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    /// Number of lines to show from the end of the logs for each container.
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Produce monochrome output.
    #[arg(long)]
    pub no_color: bool,
    /// Don't print prefix in logs.
    #[arg(long)]
    pub no_log_prefix: bool,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Run the command as this user.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Path to workdir directory for this command.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Index of the container if the service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Disable pseudo-TTY allocation.
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Give extended privileges to the process.
    #[arg(long)]
    pub privileged: bool,
    pub service: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run the container in the background and print its ID.
    #[arg(short, long)]
    pub detach: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Bind mount a volume.
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Override the entrypoint of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Run the command as this user.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Run command with the service's ports enabled and mapped to the host.
    #[arg(long)]
    pub service_ports: bool,
    /// Publish a container's port(s) to the host.
    #[arg(short, long)]
    pub publish: Vec<String>,
    /// Add or override a label.
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// Disable pseudo-TTY allocation.
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Specify a shutdown timeout in seconds.
    #[arg(short, long)]
    pub timeout: Option<i64>,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Don't ask to confirm removal.
    #[arg(short, long)]
    pub force: bool,
    /// Stop the containers, if required, before removing.
    #[arg(short, long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers.
    #[arg(short, long)]
    pub volumes: bool,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// SIGNAL to send to the container.
    #[arg(short, long, default_value = "SIGKILL")]
    pub signal: String,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// tcp or udp.
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    pub service: String,
    pub private_port: u16,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only display IDs.
    #[arg(short, long)]
    pub quiet: bool,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Pull without printing progress information.
    #[arg(short, long)]
    pub quiet: bool,
    /// Ignore images that can be built.
    #[arg(long)]
    pub ignore_buildable: bool,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push what it can and ignore images with failures.
    #[arg(long)]
    pub ignore_push_failures: bool,
    /// Also push images of services declared as dependencies.
    #[arg(long)]
    pub include_deps: bool,
    /// Push without printing progress information.
    #[arg(short, long)]
    pub quiet: bool,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Do not use cache when building the image.
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image.
    #[arg(long)]
    pub pull: bool,
    /// Don't print anything to STDOUT.
    #[arg(short, long)]
    pub quiet: bool,
    /// Set build-time variables for services.
    #[arg(long)]
    pub build_arg: Vec<String>,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Output events as a stream of json objects.
    #[arg(long)]
    pub json: bool,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Show all stopped Compose projects.
    #[arg(short, long)]
    pub all: bool,
    /// Only display project names.
    #[arg(short, long)]
    pub quiet: bool,
    /// Format the output: table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Shows only Compose's version number.
    #[arg(long)]
    pub short: bool,
    /// Format the output: pretty or json.
    #[arg(short, long)]
    pub format: Option<String>,
}
