#!/usr/bin/env bash
# Builds rrun's release binaries: `cargo build --release <args>`, then the
# four binaries again, each linked statically (glibc, crt-static, a
# self-relocating static PIE; libseccomp from libseccomp-dev's libseccomp.a):
#   - rrun-shim runs beside every container: it maps no shared library and
#     costs about 1 MiB of RSS instead of 2 (libc's pages);
#   - rrun, rrund and rrun-oci are executed on every container's start (the
#     CLI; rrund as the shim and as the container's init; rrun-oci under
#     containerd): without the dynamic loader, an exec of `rrun` that fails
#     to connect takes 1.0 ms instead of 2.6 (perf stat -r 100, 2-core VM).
#     glibc's getaddrinfo and getpwuid_r still read /etc/nsswitch.conf and
#     answer "files" and "dns" from the binary itself; other NSS modules are
#     loaded only if they are of the glibc the binaries were built with.
# cargo has no per-binary target features on stable, hence the second step;
# a later plain `cargo build` links them dynamically again (which works too).
# Usage: scripts/lib/build-release.sh [cargo build args...]
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
# libseccomp-sys links libseccomp.a when told; Debian keeps it in the
# multiarch directory, which the linker does not search by itself.
export LIBSECCOMP_LINK_TYPE=static
LIBSECCOMP_LIB_PATH="/usr/lib/$(gcc -print-multiarch)"
export LIBSECCOMP_LIB_PATH
timeout 3000 cargo build --release "$@"
for bin in rrun-shim:rrun-shim rrun-runtime:rrun rrun-runtime:rrund rrun-runtime:rrun-oci; do
    timeout 900 cargo rustc --release -q --locked -p "${bin%%:*}" --bin "${bin#*:}" -- -C target-feature=+crt-static
done
