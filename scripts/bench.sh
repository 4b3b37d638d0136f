#!/usr/bin/env bash
# Benchmarks, printed as a table of medians. Each comparison alternates the
# contenders run by run on the same input, so drift in the machine's load
# hits both alike.
#
#   scripts/bench.sh all [N]            every figure of the start path (issue
#                                       18) in one run: `run --rm` three ways,
#                                       50 starts and their removal, daemon and
#                                       shim memory, DNS (bench-daemon.sh, with
#                                       Docker and Podman), rrun-oci against
#                                       runc, pulls (bench-images.sh); prints
#                                       one table and draws it as a PNG chart
#                                       (BENCH_CHART, default bench.png)
#   scripts/bench.sh [executor] [N]     rrun-oci run vs runc run, busybox `true`
#   scripts/bench.sh containerd [N]     `ctr run --rm` busybox `true` through
#                                       containerd's runc v2 shim, with
#                                       rrun-oci vs runc as its runc binary
#   scripts/bench.sh cri [N]            CRI RunPodSandbox to a running container
#                                       (tests/cri.rs' benchmark), rrun-oci vs runc
#
# With BENCH_SCRATCH=ext4, `all`'s daemons and pulls keep their state on a
# fresh journaled ext4 of their own (scripts/lib/scratch.sh says why).
# Builds release binaries and the test images first. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-executor}
n=${2:-20}

scripts/install-deps.sh >/dev/null
scripts/lib/build-release.sh -q
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

# bash's own clock, no process inside the interval (scripts/lib/timed.sh).
. scripts/lib/timed.sh
timed_init

# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

bench_executor() {
    local b=$work/bundle
    mkdir -p "$b"
    cp -a "${RRUN_TEST_IMAGES:-$PWD/.cache/images}/busybox/rootfs" "$b/rootfs"
    "$oci" spec --bundle "$b"
    jq '.process.terminal=false | .process.args=["true"]' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
    command -v runc >/dev/null || { echo "runc is not installed"; exit 1; }
    : >"$work/rrun.us"; : >"$work/runc.us"
    for _ in 1 2; do # warm-up: page cache, cgroup hierarchy
        "$oci" --root "$work/rrun-root" run --bundle "$b" bench-rrun >/dev/null
        runc --root "$work/runc-root" run --bundle "$b" bench-runc >/dev/null
    done
    for _ in $(seq "$n"); do
        timed 30 "$oci" --root "$work/rrun-root" run --bundle "$b" bench-rrun >/dev/null
        echo $((t1 - t0)) >>"$work/rrun.us"
        timed 30 runc --root "$work/runc-root" run --bundle "$b" bench-runc >/dev/null
        echo $((t1 - t0)) >>"$work/runc.us"
    done
    local r c
    r=$(median <"$work/rrun.us"); c=$(median <"$work/runc.us")
    printf '%-44s %12s %12s\n' "run busybox true (median of $n, µs)" "rrun-oci" "runc $(runc --version | head -1 | awk '{print $3}')"
    printf '%-44s %12s %12s\n' "" "$r" "$c"
    awk -v r="$r" -v c="$c" 'BEGIN { printf "rrun-oci / runc = %.2f\n", r / c }'
    result "rrun-oci run of true alone" rrun "$(echo "scale=1; $r / 1000" | bc)" ms
    result "rrun-oci run of true alone" runc "$(echo "scale=1; $c / 1000" | bc)" ms
}

# A containerd of the benchmark's own (root, state, sockets under $work; no
# CRI plugin), in a network namespace of its own, with busybox imported.
ctrd_ns=rrun-bench-$$
ctrd_pid=
ctr_() { "${to[@]}" ctr --address "$work/containerd.sock" -n "$ctrd_ns" "$@"; }
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
    : >"$work/rrun.us"; : >"$work/runc.us"
    for _ in 1 2; do # warm-up: snapshot, shim binary, cgroup parents
        ctr_ run --rm --runc-binary "$oci" "$img" bench-rrun true
        ctr_ run --rm --runc-binary "$runc_bin" "$img" bench-runc true
    done
    for _ in $(seq "$n"); do
        timed 60 ctr_ run --rm --runc-binary "$oci" "$img" bench-rrun true
        echo $((t1 - t0)) >>"$work/rrun.us"
        timed 60 ctr_ run --rm --runc-binary "$runc_bin" "$img" bench-runc true
        echo $((t1 - t0)) >>"$work/runc.us"
    done
    r=$(median <"$work/rrun.us"); c=$(median <"$work/runc.us")
    printf '%-48s %12s %12s\n' "ctr run --rm busybox true (median of $n, µs)" "rrun-oci" "runc $(runc --version | head -1 | awk '{print $3}')"
    printf '%-48s %12s %12s\n' "containerd $(containerd --version | awk '{print $3}'), runc v2 shim" "$r" "$c"
    awk -v r="$r" -v c="$c" 'BEGIN { printf "rrun-oci / runc = %.2f\n", r / c }'
}

# result FIGURE ENGINE VALUE UNIT: one line of $BENCH_RESULTS.
result() { [ -z "${BENCH_RESULTS:-}" ] || printf '%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_RESULTS"; }

# The table of $BENCH_RESULTS: one row per figure, a column per engine.
table() {
    awk -F'\t' '
        !($1 in seen) { seen[$1] = 1; order[++n] = $1 }
        { v[$1, $2] = $3; unit[$1] = $4; if (!($2 in eng)) { eng[$2] = 1; engines[++m] = $2 } }
        END {
            printf "%-44s", "figure"; for (j = 1; j <= m; j++) printf " %12s", engines[j]; printf "\n"
            for (i = 1; i <= n; i++) {
                f = order[i]; printf "%-44s", f " (" unit[f] ")"
                for (j = 1; j <= m; j++) printf " %12s", ((f, engines[j]) in v) ? v[f, engines[j]] : "-"
                printf "\n"
            }
        }' "$1"
}

# The chart: one panel per figure, a bar per engine, each with its own axis.
chart() { # RESULTS PNG
    command -v gnuplot >/dev/null || { echo "gnuplot missing: no chart (scripts/install-deps.sh installs it)"; return 0; }
    local dir=$work/chart figures i=0 f
    mkdir -p "$dir"
    mapfile -t figures < <(cut -f1 "$1" | awk '!s[$0]++')
    local cols=4 rows=$(( (${#figures[@]} + 3) / 4 ))
    {
        echo "set terminal pngcairo size 1600,$((rows * 330)) font 'sans,10'"
        echo "set output '$2'"
        echo "set multiplot layout $rows,$cols title 'rrun beside Docker and Podman (medians; $(date -u +%F), $(nproc) cores)'"
        echo "set style fill solid 0.8 noborder; set boxwidth 0.6; set yrange [0:*]; set grid ytics"
        echo "unset key; set xtics nomirror; set ytics nomirror"
        for f in "${figures[@]}"; do
            i=$((i + 1))
            awk -F'\t' -v f="$f" '$1 == f { c = ($2 == "rrun") ? 1 : ($2 == "docker") ? 2 : ($2 == "podman") ? 3 : 4; print n++, $3, "\"" $2 "\"", c }' "$1" >"$dir/$i.dat"
            echo "set title \"$f\" noenhanced; set ylabel '$(awk -F'\t' -v f="$f" '$1 == f {print $4; exit}' "$1")'"
            echo "plot '$dir/$i.dat' using 1:2:4:xtic(3) with boxes lc variable, '' using 1:2:(sprintf('%g', \$2)) with labels offset 0,0.7"
        done
        echo "unset multiplot"
    } >"$dir/plot.gp"
    gnuplot "$dir/plot.gp" && echo "chart: $2"
}

bench_all() {
    local results=$work/results.tsv
    : >"$results"
    export BENCH_RESULTS=$results
    BENCH_ONLY="run-rm fifty dns" scripts/bench-daemon.sh "$n"
    bench_executor
    RUNS=${PULL_RUNS:-3} BENCH_IMAGES=${BENCH_PULL_IMAGES:-debian mysql} scripts/bench-images.sh
    echo
    echo "== all figures (medians; lower is better, but for queries/s)"
    table "$results"
    chart "$results" "${BENCH_CHART:-$PWD/bench.png}"
}

case "$what" in
    all) bench_all ;;
    executor) bench_executor ;;
    containerd) bench_containerd ;;
    cri)
        # The CRI client is the test harness's (k8s-cri over tonic; a debug
        # build, as it only waits on gRPC); the runtime binary is the
        # release build, as in the other benchmarks.
        RRUN_BIN_DIR=$PWD/target/release RRUN_BENCH_N=$n timeout 1800 \
            cargo test -q --test cri -- --ignored --nocapture bench_pod_startup 2>&1 |
            grep -E '^RunPodSandbox|panicked|error'
        ;;
    *) echo "usage: scripts/bench.sh [all|executor|containerd|cri] [N]" >&2; exit 2 ;;

esac
