//! `rrun-shim`: a running container's shim, once rrund's shim has created
//! and started it (see `shim::monitor`). Small on purpose: it holds only
//! the pump, for the container's whole life.

fn main() {
    std::process::exit(rrun_shim::monitor::main());
}
