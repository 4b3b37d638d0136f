//! Builds `reaper/main.rs` (the `--init` reaper) as a static executable,
//! which rrund embeds: it runs inside images that have no libc of their own.
//! A cargo binary target cannot be linked statically on its own (crt-static
//! is per build, and would break proc-macros), hence this one rustc call.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = PathBuf::from("reaper/main.rs");
    println!("cargo:rerun-if-changed={}", src.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("docker-init");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = std::env::var("TARGET").expect("TARGET");
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-name",
            "docker_init",
            "--target",
        ])
        .arg(&target)
        .args([
            "-C",
            "target-feature=+crt-static",
            "-C",
            "opt-level=s",
            "-C",
            "panic=abort",
            "-C",
            "strip=symbols",
            "-o",
        ])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("run rustc for the reaper");
    assert!(status.success(), "building the reaper failed");
}
