#!/usr/bin/env bash
# Builds rrun's release binaries: `cargo build --release <args>`, then
# rrun-shim again, linked statically (glibc, crt-static). A running
# container's shim is rrun-shim: linked statically it maps no shared
# library, and costs about 1 MiB of RSS instead of 2 (libc's pages).
# cargo has no per-binary target features on stable, hence the second step;
# a later plain `cargo build` links it dynamically again (which works too).
# Usage: scripts/lib/build-release.sh [cargo build args...]
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
timeout 3000 cargo build --release "$@"
timeout 600 cargo rustc --release -q --locked -p rrun-shim --bin rrun-shim -- -C target-feature=+crt-static
