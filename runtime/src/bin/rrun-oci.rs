//! `rrun-oci`: rrun's runc-compatible OCI runtime.
use clap::Parser;

fn main() {
    // The container init is this same binary re-executed from a sealed
    // memfd; it must run before anything else starts (no threads, no
    // argument parsing that could allocate behind our back).
    if std::env::args_os().nth(1).is_some_and(|a| a == "init") {
        rrun_runtime::linux::init::main();
    }
    let args = rrun_runtime::oci::normalize_args(std::env::args_os().collect());
    if rrun_runtime::oci::wants_version(&args) {
        print!("{}", rrun_runtime::oci::runc_version());
        return;
    }
    let cli = rrun_runtime::oci::Cli::parse_from(args);
    std::process::exit(rrun_runtime::oci::run(cli));
}
