//! `rrun`: the command line of rrun (Docker's verbs, talking to rrund).

fn main() {
    let cli = match rrun_runtime::cli::cmdline::parse(std::env::args()) {
        Ok(c) => c,
        Err(r) => {
            if r.to_stderr {
                eprint!("{}", r.text);
            } else {
                print!("{}", r.text);
            }
            std::process::exit(r.code);
        }
    };
    std::process::exit(rrun_runtime::cli::main(cli));
}
