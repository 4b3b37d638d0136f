//! `rrun`: Docker's command line, talking to `rrund` over its socket.
//!
//! Exit codes as Docker's: 125 when rrun itself fails, 126/127 when the
//! container's command cannot be run / is not found, else the container's.
//! One file per domain: containers, run (and its flags in runflags and
//! netflags), exec, ps, images, networks, volumes, events, stats, system;
//! format holds the output helpers, client the HTTP, tty the terminal.

mod autostart;
pub mod client;
pub mod containers;
pub mod events;
pub mod exec;
pub mod format;
pub mod images;
pub mod netflags;
pub mod networks;
pub mod progress;
pub mod ps;
pub mod run;
pub mod runflags;
pub mod stats;
pub mod system;
pub mod tty;
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

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create and run a new container from an image.
    Run(run::RunArgs),
    /// Create a new container.
    Create(run::RunArgs),
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
    Ps(ps::PsArgs),
    /// Execute a command in a running container.
    Exec(exec::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(exec::AttachArgs),
    /// Fetch the logs of a container.
    Logs(containers::LogsArgs),
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
    Stats(stats::StatsArgs),
    /// Get real time events from the server.
    Events(events::EventsArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(containers::ContainerCmd),
    /// Manage rrun.
    #[command(subcommand)]
    System(system::SystemCmd),
    /// Generate the autocompletion script for the specified shell.
    Completion { shell: clap_complete::Shell },
    /// Show the rrun version information.
    Version,
    /// Display system-wide information.
    Info,
    /// Manage networks.
    #[command(subcommand)]
    Network(networks::NetworkCmd),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volumes::VolumeCmd),
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
    if !matches!(cli.command, Cmd::Completion { .. }) {
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
    match cmd {
        Cmd::Run(a) => run::run(c, a.split()),
        Cmd::Create(a) => run::create_cmd(c, a.split()),
        Cmd::Exec(a) => exec::exec(c, a),
        Cmd::Attach(a) => exec::attach(c, a),
        Cmd::Start { containers } => containers::start_each(c, &containers),
        Cmd::Stop { time, containers } => containers::stop(c, "stop", time, &containers),
        Cmd::Restart { time, containers } => containers::stop(c, "restart", time, &containers),
        Cmd::Kill { signal, containers } => containers::kill(c, &signal, &containers),
        Cmd::Rm {
            force,
            volumes,
            containers,
        } => containers::rm(c, force, volumes, &containers),
        Cmd::Ps(a) => ps::ps(c, &a),
        Cmd::Logs(a) => containers::logs(c, &a),
        Cmd::Wait { containers } => containers::wait(c, &containers),
        Cmd::Inspect { format, containers } => {
            containers::inspect(c, format.as_deref(), &containers)
        }
        Cmd::Port {
            container,
            private_port,
        } => containers::port(c, &container, private_port.as_deref()),
        Cmd::Rename {
            container,
            new_name,
        } => containers::rename(c, &container, &new_name),
        Cmd::Top { container, .. } => containers::top(c, &container),
        Cmd::Container(cmd) => containers::container(c, cmd),
        Cmd::Load { input, quiet } => images::load(c, input, quiet),
        Cmd::Pull { quiet, image } => images::pull_cmd(c, &image, quiet),
        Cmd::Tag { source, target } => images::tag(c, &source, &target),
        Cmd::Images(a) => images::images(c, &a),
        Cmd::Rmi(a) => images::rmi(c, &a),
        Cmd::Save(a) => images::save(c, &a),
        Cmd::Import(a) => images::import(c, &a),
        Cmd::Image(cmd) => images::image(c, cmd),
        Cmd::Stats(a) => stats::stats(c, &a),
        Cmd::Events(a) => events::events(c, &a),
        Cmd::System(cmd) => system::system(c, cmd),
        Cmd::Completion { shell } => system::completion(shell),
        Cmd::Version => system::version(c),
        Cmd::Info => system::info(c),
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
        assert!(matches!(cli.command, Cmd::Port { .. }));
    }
}
