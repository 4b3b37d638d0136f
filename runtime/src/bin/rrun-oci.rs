//! `rrun-oci`: rrun's runc-compatible OCI runtime.
use clap::FromArgMatches;

fn main() {
    // The container init is this same binary re-executed from a sealed
    // memfd; it must run before anything else starts (no threads, no
    // argument parsing that could allocate behind our back).
    if std::env::args_os().nth(1).is_some_and(|a| a == "init") {
        rrun_runtime::linux::init::main();
    }
    let cmd = rrun_runtime::oci::command();
    let args = rrun_runtime::oci::normalize_args(&cmd, std::env::args_os().collect());
    if rrun_runtime::oci::wants_version(&cmd, &args) {
        print!("{}", rrun_runtime::oci::runc_version());
        return;
    }
    let matches = cmd.get_matches_from(args);
    let cli = rrun_runtime::oci::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    std::process::exit(rrun_runtime::oci::run(cli));
}
