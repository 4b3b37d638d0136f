//! `rrund`: the rrun daemon (Docker Engine API on a unix socket).
//!
//! The same binary is each container's shim (`rrund shim …`, hidden) and
//! its init (`init`, executed by the shim): those paths are taken first,
//! before any thread or async runtime exists.

use clap::Parser;
use rrun_runtime::daemon::config::{self, FileConfig, Options};
use rrun_runtime::shim;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "rrund", version, about = "rrun's container daemon")]
struct Cli {
    /// Socket to listen on (unix:///path).
    #[arg(short = 'H', long = "host")]
    host: Option<String>,
    /// Root of the persistent state.
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Root of the executor's runtime state.
    #[arg(long)]
    exec_root: Option<PathBuf>,
    /// Daemon configuration file (Docker's daemon.json keys).
    #[arg(long, default_value = config::DEFAULT_CONFIG)]
    config_file: PathBuf,
    /// Log level: debug, info, warn, error.
    #[arg(short, long)]
    log_level: Option<String>,
    /// The rrun-oci binary (default: next to rrund, else in PATH).
    #[arg(long)]
    oci_runtime: Option<PathBuf>,
    /// Upstream DNS server for containers (repeatable; ip or ip:port).
    #[arg(long = "dns")]
    dns: Vec<String>,
    /// Put bridges, firewall rules and published ports in this network
    /// namespace instead of the daemon's own (tests, appliances).
    #[arg(long, hide = true)]
    host_netns: Option<PathBuf>,
    /// Tests only: fail every start right after this step (rootfs,
    /// volume:N, network, files, shim) to exercise the undo.
    #[arg(long, hide = true)]
    fail_start_at: Option<String>,
}

fn main() {
    // A container's init, forked by a shim and executed from this binary
    // sealed (see linux::exe): before anything else, as in rrun-oci.
    if std::env::args_os().nth(1).is_some_and(|a| a == "init") {
        rrun_runtime::linux::init::main();
    }
    let argv: Vec<String> = std::env::args().collect();
    if matches!(
        argv.get(1).map(String::as_str),
        Some(shim::SUBCOMMAND | shim::exec::SUBCOMMAND)
    ) {
        // Started through /proc/self/fd/<n> (the daemon's read-only bind of
        // this binary), the kernel named the process "<n>": `ps` shows rrund.
        // SAFETY: prctl with a NUL-terminated name.
        unsafe { libc::prctl(libc::PR_SET_NAME, c"rrund".as_ptr(), 0, 0, 0) };
    }
    if argv.get(1).map(String::as_str) == Some(shim::SUBCOMMAND) {
        // `… end`: executed by rrun-shim once the container has ended.
        let code = match argv[2..].split_last() {
            _ if argv.get(2).map(String::as_str) == Some(shim::spare::MARK) => {
                Some(shim::spare::main())
            }
            Some((last, rest)) if last == shim::END => shim::ShimArgs::parse(rest).map(shim::end),
            _ => shim::ShimArgs::parse(&argv[2..]).map(shim::main),
        }
        .unwrap_or_else(|| {
            eprintln!("rrund shim: bad arguments");
            2
        });
        std::process::exit(code);
    }
    if argv.get(1).map(String::as_str) == Some(shim::exec::SUBCOMMAND) {
        let code = match shim::exec::ExecShimArgs::parse(&argv[2..]) {
            Some(a) => shim::exec::main(a),
            None => {
                eprintln!("rrund exec-shim: bad arguments");
                2
            }
        };
        std::process::exit(code);
    }
    let cli = Cli::parse();
    limit_malloc_arenas();
    let code = match options(cli) {
        Ok(opts) => {
            init_logging(&opts.log_level);
            match rrun_runtime::daemon::server::run(opts) {
                Ok(()) => 0,
                Err(e) => {
                    tracing::error!("{e:#}");
                    1
                }
            }
        }
        Err(e) => {
            eprintln!("rrund: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

/// At most two malloc arenas, before any thread exists. glibc gives each
/// thread that allocates an arena of its own (up to 8 per core); tokio's
/// workers and blocking threads each kept a partly used one, which made up
/// most of what the daemon's memory grew by over its first containers.
/// rrund's allocations are small and not contended enough to need more.
fn limit_malloc_arenas() {
    // SAFETY: mallopt with an integer parameter, in a single thread.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
}

fn options(cli: Cli) -> anyhow::Result<Options> {
    let file = FileConfig::load(&cli.config_file)?;
    let host = cli
        .host
        .or_else(|| file.hosts.first().cloned())
        .unwrap_or_else(|| config::DEFAULT_HOST.to_string());
    let oci_bin = cli.oci_runtime.unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|d| d.join("rrun-oci")))
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("rrun-oci"))
    });
    Ok(Options {
        socket: config::socket_path(&host)?,
        data_root: cli
            .data_root
            .or(file.data_root)
            .unwrap_or_else(|| config::DEFAULT_DATA_ROOT.into()),
        exec_root: cli
            .exec_root
            .or(file.exec_root)
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_EXEC_ROOT).join("oci")),
        oci_bin,
        log_level: cli
            .log_level
            .or(file.log_level)
            .unwrap_or_else(|| "info".into()),
        config_file: cli.config_file,
        dns: if cli.dns.is_empty() {
            file.dns
        } else {
            cli.dns
        }
        .iter()
        .map(|s| config::dns_server(s))
        .collect::<anyhow::Result<_>>()?,
        address_pools: file.default_address_pools,
        ipv6: file.ipv6,
        fixed_cidr_v6: file.fixed_cidr_v6,
        bridge: file.bridge,
        bip: file.bip,
        fixed_cidr: file.fixed_cidr,
        host_netns: cli.host_netns,
        fail_start_at: cli.fail_start_at,
        systemd_cgroup: config::systemd_cgroup(&file.exec_opts)?,
        default_cgroupns_mode: config::default_cgroupns_mode(
            file.default_cgroupns_mode.as_deref(),
            std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
        )?,
    })
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
