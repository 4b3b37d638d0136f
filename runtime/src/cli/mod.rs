//! `rrun`: Docker's command line, talking to `rrund` over its socket.
//!
//! Exit codes as Docker's: 125 when rrun itself fails, 126/127 when the
//! container's command cannot be run / is not found, else the container's.
//! One file per domain: containers, run (and its flags in runflags and
//! netflags), exec, ps, images, networks, volumes, events, stats, system,
//! login (and logout);
//! manage has the `container …`/`image …` forms, cmdline reads the command
//! line (Docker's flag errors); format holds the output helpers, template
//! the `--format` templates and tabwriter their tables, client the HTTP,
//! tty the terminal.

mod autostart;
pub mod blkioflags;
pub mod build;
pub mod client;
pub mod cmdline;
pub mod compose;
pub mod containers;
pub mod copy;
pub mod events;
pub mod exec;
pub mod filesystems;
pub mod format;
pub mod history;
pub mod images;
pub mod login;
pub mod manage;
pub mod netflags;
pub mod networks;
pub mod progress;
pub mod ps;
pub mod run;
pub mod runflags;
pub mod stats;
pub mod system;
pub mod tabwriter;
pub mod template;
pub mod tty;
pub mod update;
pub mod volumes;

use anyhow::Result;
use clap::{Parser, Subcommand};

use client::Client;

#[derive(Debug, Parser)]
#[command(
    name = "rrun",
    version,
    about = "A lightweight Docker-compatible container engine"
)]
pub struct Cli {
    /// Daemon socket to connect to.
    #[arg(short = 'H', long = "host", global = true, env = "RRUN_HOST",
          default_value = crate::apimodel::DEFAULT_HOST)]
    pub host: String,
    #[command(subcommand)]
    pub command: Cmd,
}

/// Every subcommand's arguments are built only when it is the one given
/// (`defer`, here and in the nested command groups): clap otherwise builds
/// the whole tree, a thousand arguments, on every start of the CLI.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Create and run a new container from an image.
    Run(run::RunArgs),
    /// Create a new container.
    Create(run::RunArgs),
    /// Start one or more stopped containers.
    Start(containers::StartArgs),
    /// Stop one or more running containers.
    Stop(containers::StopArgs),
    /// Restart one or more containers.
    Restart(containers::StopArgs),
    /// Kill one or more running containers.
    Kill(containers::KillArgs),
    /// Remove one or more containers.
    Rm(containers::RmArgs),
    /// List containers.
    Ps(ps::PsArgs),
    /// Execute a command in a running container.
    Exec(exec::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(exec::AttachArgs),
    /// Fetch the logs of a container.
    Logs(containers::LogsArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(containers::WaitArgs),
    /// List port mappings or a specific mapping for the container.
    Port(containers::PortArgs),
    /// Return low-level information on containers, images, networks or volumes.
    Inspect(ObjectInspectArgs),
    /// Load an image from a tar archive or STDIN.
    Load(images::LoadArgs),
    /// Download an image from a registry.
    Pull(images::PullArgs),
    /// Upload an image to a registry.
    Push(images::PushArgs),
    /// Build an image from a Dockerfile.
    Build(build::BuildArgs),
    /// Log in to a registry.
    Login(login::LoginArgs),
    /// Log out from a registry.
    Logout(login::LogoutArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(images::TagArgs),
    /// List images.
    Images(images::ImagesArgs),
    /// Remove one or more images.
    Rmi(images::RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(images::SaveArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(images::ImportArgs),
    /// Rename a container.
    Rename(containers::RenameArgs),
    /// Display the running processes of a container.
    Top(containers::TopArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(stats::StatsArgs),
    /// Get real time events from the server.
    Events(events::EventsArgs),
    /// Create a new image from a container's changes.
    Commit(filesystems::CommitArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(copy::CpArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(filesystems::DiffArgs),
    /// Export a container's filesystem as a tar archive.
    Export(filesystems::ExportArgs),
    /// Pause all processes within one or more containers.
    Pause(containers::StartArgs),
    /// Unpause all processes within one or more containers.
    Unpause(containers::StartArgs),
    /// Update configuration of one or more containers.
    Update(update::UpdateArgs),
    /// Show the history of an image.
    History(history::HistoryArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(manage::ContainerCmd),
    /// Manage images.
    #[command(subcommand)]
    Image(manage::ImageCmd),
    /// Manage networks.
    #[command(subcommand)]
    Network(networks::NetworkCmd),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volumes::VolumeCmd),
    /// Manage rrun.
    #[command(subcommand)]
    System(system::SystemCmd),
    /// Define and run multi-container applications (Docker Compose).
    Compose(compose::args::ComposeArgs),
    /// Generate the autocompletion script for the specified shell.
    Completion { shell: clap_complete::Shell },
    /// Show the rrun version information.
    Version(system::FormatArgs),
    /// Display system-wide information.
    Info(system::FormatArgs),
}

// `rrun inspect`'s flags: `container inspect`'s and `--type`.
#[derive(Debug, clap::Args)]
pub struct ObjectInspectArgs {
    /// Only inspect objects of the given type (container, image, network, volume).
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[command(flatten)]
    pub args: containers::InspectArgs,
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
    let socket = match crate::apimodel::socket_path(&cli.host) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rrun: {e:#}");
            return 125;
        }
    };
    // Only commands that talk to the daemon start one.
    let offline = match &cli.command {
        Cmd::Completion { .. } => true,
        Cmd::Compose(a) => !a.needs_daemon(),
        _ => false,
    };
    if !offline {
        autostart::ensure(&socket, &cli.host);
    }
    let result = Client::new(socket).and_then(|c| dispatch(&c, cli.command));
    match result {
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
    use manage::{ContainerCmd as C, ImageCmd as I};
    let container = |cmd| manage::container(c, cmd);
    let image = |cmd| manage::image(c, cmd);
    match cmd {
        Cmd::Run(a) => container(C::Run(a)),
        Cmd::Create(a) => container(C::Create(a)),
        Cmd::Exec(a) => container(C::Exec(a)),
        Cmd::Attach(a) => container(C::Attach(a)),
        Cmd::Start(a) => container(C::Start(a)),
        Cmd::Stop(a) => container(C::Stop(a)),
        Cmd::Restart(a) => container(C::Restart(a)),
        Cmd::Kill(a) => container(C::Kill(a)),
        Cmd::Rm(a) => container(C::Rm(a)),
        Cmd::Ps(a) => container(C::Ls(a)),
        Cmd::Logs(a) => container(C::Logs(a)),
        Cmd::Wait(a) => container(C::Wait(a)),
        Cmd::Port(a) => container(C::Port(a)),
        Cmd::Rename(a) => container(C::Rename(a)),
        Cmd::Top(a) => container(C::Top(a)),
        Cmd::Stats(a) => container(C::Stats(a)),
        Cmd::Commit(a) => container(C::Commit(a)),
        Cmd::Cp(a) => container(C::Cp(a)),
        Cmd::Diff(a) => container(C::Diff(a)),
        Cmd::Export(a) => container(C::Export(a)),
        Cmd::Pause(a) => container(C::Pause(a)),
        Cmd::Unpause(a) => container(C::Unpause(a)),
        Cmd::Update(a) => container(C::Update(a)),
        Cmd::History(a) => image(I::History(a)),
        Cmd::Inspect(a) => containers::inspect(c, a.kind.as_deref(), &a.args),
        Cmd::Container(cmd) => container(cmd),
        Cmd::Load(a) => image(I::Load(a)),
        Cmd::Pull(a) => image(I::Pull(a)),
        Cmd::Push(a) => image(I::Push(a)),
        Cmd::Build(a) => image(I::Build(a)),
        Cmd::Login(a) => login::login(c, &a),
        Cmd::Logout(a) => login::logout(&a),
        Cmd::Tag(a) => image(I::Tag(a)),
        Cmd::Images(a) => image(I::Ls(a)),
        Cmd::Rmi(a) => image(I::Rm(a)),
        Cmd::Save(a) => image(I::Save(a)),
        Cmd::Import(a) => image(I::Import(a)),
        Cmd::Image(cmd) => image(cmd),
        Cmd::Events(a) => events::events(c, &a),
        Cmd::System(cmd) => system::system(c, cmd),
        Cmd::Compose(a) => compose::compose(c, a),
        Cmd::Completion { shell } => system::completion(shell),
        Cmd::Version(a) => system::version(c, a.format.as_deref()),
        Cmd::Info(a) => system::info(c, a.format.as_deref()),
        Cmd::Network(cmd) => networks::network(c, cmd),
        Cmd::Volume(cmd) => volumes::volume(c, cmd),
    }
}

/// Runs `f` on each name, printing it on success as Docker does; the exit
/// code is 1 if any failed.
pub fn each(names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<i32> {
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

/// Sends `method` to each name's path at once (see
/// [`Client::call_all`]), then prints each name that succeeded, and each
/// error, in the names' order, as Docker does; the exit code is 1 if any
/// failed.
pub fn each_at_once(
    c: &Client,
    method: &str,
    names: &[String],
    path: impl Fn(&str) -> Result<String>,
) -> Result<i32> {
    let paths: Vec<Result<String>> = names.iter().map(|n| path(n)).collect();
    let todo: Vec<String> = paths
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let mut answers = c.call_all(method, &todo).into_iter();
    let mut failed = false;
    for (n, p) in names.iter().zip(paths) {
        let outcome = p.and_then(|_| {
            answers
                .next()
                .unwrap_or_else(|| Err(anyhow::anyhow!("{n}: no answer from the daemon")))
        });
        match outcome {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("{e:#}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With deferred arguments (`Cmd`), a flag group's doc comment would
    /// replace the command's summary in its help (`rrun run --help` opening
    /// with "`run`/`create`'s logging flags"): those are plain comments.
    #[test]
    fn every_command_keeps_its_own_summary() {
        use clap::CommandFactory;
        fn check(c: &clap::Command, path: &str) {
            for sub in c.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
                assert!(!about.is_empty(), "{path} has no summary");
                assert!(
                    !about.contains('`')
                        && !about.ends_with("flags")
                        && !about.ends_with("arguments"),
                    "{path}'s summary is a flag group's doc: {about}"
                );
                check(sub, &path);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        check(&cmd, "rrun");
    }

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
        let Cmd::Network(networks::NetworkCmd::Create { subnet, ipv6, .. }) = cli.command else {
            panic!()
        };
        assert!(ipv6);
        assert_eq!(subnet, ["172.30.0.0/16", "fd00:1::/64"]);
        let cli = Cli::try_parse_from(["rrun", "port", "web", "80/tcp"]).unwrap();
        assert!(matches!(cli.command, Cmd::Port(_)));
    }
}
