//! `rrun`: the command line of rrun (Docker's verbs, talking to rrund).

use clap::Parser;

fn main() {
    let cli = match rrun_runtime::cli::Cli::try_parse_from(std::env::args()) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // Docker exits 125 on a bad command line; help and version are not errors.
            std::process::exit(if e.use_stderr() { 125 } else { 0 });
        }
    };
    std::process::exit(rrun_runtime::cli::main(cli));
}
