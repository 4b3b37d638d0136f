#!/usr/bin/env bash
# Benchmarks, printed as a table of medians. Each comparison alternates the
# contenders run by run on the same input, so drift in the machine's load
# hits both alike.
#
#   scripts/bench.sh [executor] [N]     rrun-oci run vs runc run, busybox `true`
#   scripts/bench.sh containerd [N]     `ctr run --rm` busybox `true` through
#                                       containerd's runc v2 shim, with
#                                       rrun-oci vs runc as its runc binary
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
    stop_containerd
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

# A containerd of the benchmark's own (root, state, sockets under $work; no
# CRI plugin), in a network namespace of its own, with busybox imported.
ctrd_ns=rrun-bench-$$
ctrd_pid=
ctr_() { timeout 60 ctr --address "$work/containerd.sock" -n "$ctrd_ns" "$@"; }
start_containerd() {
    command -v containerd >/dev/null || { echo "containerd is not installed"; exit 1; }
    printf '%s\n' 'version = 2' "root = \"$work/containerd-root\"" "state = \"$work/containerd-state\"" \
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]' \
        '[grpc]' "address = \"$work/containerd.sock\"" \
        '[ttrpc]' "address = \"$work/containerd.sock.ttrpc\"" \
        '[debug]' "address = \"$work/containerd-debug.sock\"" >"$work/containerd.toml"
    unshare --net -- containerd --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 &
    ctrd_pid=$!
    for _ in $(seq 300); do ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done
    ctr_ version >/dev/null || { echo "containerd did not start:"; tail "$work/containerd.log"; exit 1; }
    tar -C "${RRUN_TEST_IMAGES:-$PWD/.cache/images}/busybox/oci" -cf "$work/busybox.tar" .
    ctr_ images import --base-name docker.io/library/busybox "$work/busybox.tar" >/dev/null
}
stop_containerd() {
    [ -n "$ctrd_pid" ] || return 0
    ctr_ images rm docker.io/library/busybox:latest >/dev/null 2>&1 || true
    ctr_ namespaces remove "$ctrd_ns" >/dev/null 2>&1 || true
    kill "$ctrd_pid" 2>/dev/null || true
    wait "$ctrd_pid" 2>/dev/null || true
    for h in /sys/fs/cgroup/*/; do rmdir "$h$ctrd_ns" 2>/dev/null || true; done
    rmdir "/run/containerd/runc/$ctrd_ns" 2>/dev/null || true
    ctrd_pid=
}

bench_containerd() {
    start_containerd
    local img=docker.io/library/busybox:latest runc_bin r c
    runc_bin=$(command -v runc)
    : >"$work/rrun.ns"; : >"$work/runc.ns"
    for _ in 1 2; do # warm-up: snapshot, shim binary, cgroup parents
        ctr_ run --rm --runc-binary "$oci" "$img" bench-rrun true
        ctr_ run --rm --runc-binary "$runc_bin" "$img" bench-runc true
    done
    for _ in $(seq "$n"); do
        t0=$(now_ns); ctr_ run --rm --runc-binary "$oci" "$img" bench-rrun true; t1=$(now_ns)
        echo $(( (t1 - t0) / 1000 )) >>"$work/rrun.ns"
        t0=$(now_ns); ctr_ run --rm --runc-binary "$runc_bin" "$img" bench-runc true; t1=$(now_ns)
        echo $(( (t1 - t0) / 1000 )) >>"$work/runc.ns"
    done
    r=$(median <"$work/rrun.ns"); c=$(median <"$work/runc.ns")
    printf '%-48s %12s %12s\n' "ctr run --rm busybox true (median of $n, µs)" "rrun-oci" "runc $(runc --version | head -1 | awk '{print $3}')"
    printf '%-48s %12s %12s\n' "containerd $(containerd --version | awk '{print $3}'), runc v2 shim" "$r" "$c"
    awk -v r="$r" -v c="$c" 'BEGIN { printf "rrun-oci / runc = %.2f\n", r / c }'
}

case "$what" in
    executor) bench_executor ;;
    containerd) bench_containerd ;;
    *) echo "usage: scripts/bench.sh [executor|containerd] [N]" >&2; exit 2 ;;

esac
