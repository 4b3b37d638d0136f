#!/usr/bin/env bash
# The one test command. On a fresh Debian 12 machine, as root: installs what
# is missing, builds, builds the test images, and runs every test (unit tests
# and the root end-to-end tests). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "scripts/test.sh: run it as root; the end-to-end tests create namespaces, mounts, cgroups and nftables tables" >&2
    exit 1
fi

scripts/install-deps.sh
scripts/install-pydeps.sh
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || { echo "scripts/test.sh: cargo not found (install Rust with rustup)" >&2; exit 1; }

# The network rule: nothing a test starts may leave through the host's uplink.
# One table of our own drops routed traffic out of the default-route interface;
# it is removed however this script ends.
. scripts/lib/guard.sh
trap guard_down EXIT
guard_up test

echo "== build"
timeout 1800 cargo build --workspace --all-targets --locked
timeout 900 cargo clippy --workspace --all-targets --locked -- -D warnings
timeout 60 cargo fmt --all -- --check

echo "== test images"
export RRUN_TEST_IMAGES="$PWD/.cache/images"
timeout 1800 scripts/build-test-images.sh

echo "== tests"
# Tests isolate themselves (own state dirs, namespaces, unique names), so they
# run in parallel. Every external command inside has its own timeout.
log=$(mktemp)
set +e
timeout 2400 cargo test --workspace --locked --no-fail-fast -- --test-threads="$(( $(nproc) * 2 ))" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# rrun on a modern host: systemd as pid 1 and cgroup v2, in a Debian 12 VM
# (this machine has neither). Its last line is in cargo's form, so the
# summary below counts its checks too.
echo "== VM: systemd and cgroup v2 (scripts/test-vm.sh)"
timeout 3600 scripts/test-vm.sh 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
# The release binaries are linked statically (scripts/lib/build-release.sh;
# what scripts/install.sh installs and the benchmarks run): the tests of the
# start path, the executor, the CLI and a registry pull by name again, with
# them in place of the debug build.
echo "== release build, statically linked, against a subset of the tests"
if timeout 3000 scripts/lib/build-release.sh -q; then
    for t in "--test start_path --test oci --test daemon" "--test push_build docker_push_to_a_registry_then_another_daemon_pulls_it"; do
        # shellcheck disable=SC2086 # $t is two or more words on purpose
        RRUN_BIN_DIR="$PWD/target/release" timeout 1200 cargo test --locked --no-fail-fast $t -- --test-threads="$(( $(nproc) * 2 ))" 2>&1 | tee -a "$log"
        [ "${PIPESTATUS[0]}" = 0 ] || status=1
    done
else
    echo "test.sh: the release build failed"
    status=1
fi
set -e
# One closing line over every test binary (cargo prints one per binary, the
# last of them often a doc-test run with nothing in it).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1); if ($i ~ /^ignored/) ig += $(i-1) } }
     END { if (ig) printf "(%d ignored)\n", ig; printf "summary: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
