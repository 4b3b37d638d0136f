#!/usr/bin/env bash
# Benchmarks, printed as a table of medians. Each comparison alternates the
# contenders run by run on the same input, so drift in the machine's load
# hits both alike.
#
#   scripts/bench.sh [executor] [N]     rrun-oci run vs runc run, busybox `true`
#
# Builds release binaries and the test images first. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-executor}
n=${2:-20}

scripts/install-deps.sh >/dev/null
cargo build --release -q -p rrun-runtime --bin rrun-oci
scripts/build-test-images.sh >/dev/null
oci=$PWD/target/release/rrun-oci

# State under /run (tmpfs), as both runtimes keep it in real use.
work=$(mktemp -d -p /run rrun-bench.XXXXXX)
cleanup() {
    "$oci" --root "$work/rrun-root" delete --force bench-rrun >/dev/null 2>&1 || true
    runc --root "$work/runc-root" delete --force bench-runc >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

now_ns() { date +%s%N; }

# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

bench_executor() {
    local b=$work/bundle
    mkdir -p "$b"
    cp -a "${RRUN_TEST_IMAGES:-$PWD/.cache/images}/busybox/rootfs" "$b/rootfs"
    "$oci" spec --bundle "$b"
    jq '.process.terminal=false | .process.args=["true"]' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
    command -v runc >/dev/null || { echo "runc is not installed"; exit 1; }
    : >"$work/rrun.ns"; : >"$work/runc.ns"
    for _ in 1 2; do # warm-up: page cache, cgroup hierarchy
        "$oci" --root "$work/rrun-root" run --bundle "$b" bench-rrun >/dev/null
        runc --root "$work/runc-root" run --bundle "$b" bench-runc >/dev/null
    done
    for _ in $(seq "$n"); do
        t0=$(now_ns); timeout 30 "$oci" --root "$work/rrun-root" run --bundle "$b" bench-rrun >/dev/null; t1=$(now_ns)
        echo $(( (t1 - t0) / 1000 )) >>"$work/rrun.ns"
        t0=$(now_ns); timeout 30 runc --root "$work/runc-root" run --bundle "$b" bench-runc >/dev/null; t1=$(now_ns)
        echo $(( (t1 - t0) / 1000 )) >>"$work/runc.ns"
    done
    local r c
    r=$(median <"$work/rrun.ns"); c=$(median <"$work/runc.ns")
    printf '%-44s %12s %12s\n' "run busybox true (median of $n, µs)" "rrun-oci" "runc $(runc --version | head -1 | awk '{print $3}')"
    printf '%-44s %12s %12s\n' "" "$r" "$c"
    awk -v r="$r" -v c="$c" 'BEGIN { printf "rrun-oci / runc = %.2f\n", r / c }'
}

case "$what" in
    executor) bench_executor ;;
    *) echo "usage: scripts/bench.sh [executor] [N]" >&2; exit 2 ;;
esac
