#!/usr/bin/env bash
# Push benchmark (issue 15): a 50 MiB image (one gzip layer of random bytes,
# so it does not compress) pushed to a docker-registry on 127.0.0.1 with
# fresh storage for every push, in one run, alternating between the tools,
# median of $RUNS (5) runs each:
#
#   rrun-image push   from rrun's store (its monolithic PUT per blob)
#   skopeo copy       from an OCI layout holding the same blobs
#
# docker push and rrun push through rrund are in scripts/bench-build.sh,
# which runs a private dockerd.
#
#   scripts/bench-push.sh            # prints a table
#   RUNS=3 SIZE_MIB=100 scripts/bench-push.sh
#
# Not run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
size=${SIZE_MIB:-50}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-image}
scripts/lib/build-release.sh -q >&2
bin=$CARGO_TARGET_DIR/release/rrun-image

work=$(mktemp -d)
reg_pid=''
stop_registry() {
    [ -n "$reg_pid" ] || return 0
    kill "$reg_pid" 2>/dev/null || true
    wait "$reg_pid" 2>/dev/null || true
    reg_pid=''
    rm -rf "$work/regdata"
}
cleanup() { stop_registry; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

. scripts/lib/registry.sh
start_registry() { registry_up; } # empty storage on a new port; sets $port
rrun() { timeout 600 "$bin" --root "$work/state" --daemon-config /nonexistent "$@"; }

# --- the image, in rrun's store and as an OCI layout
mkdir -p "$work/rootfs/data" "$work/layout"
head -c "$((size << 20))" /dev/urandom >"$work/rootfs/data/random.bin"
tar -C "$work/rootfs" -cf - . | gzip -1 >"$work/layer.tar.gz"
rrun import "$work/layer.tar.gz" bench/push:latest >/dev/null
rrun save -o "$work/image.tar" bench/push:latest
tar -C "$work/layout" -xf "$work/image.tar"
rm -rf "$work/rootfs" "$work/image.tar"
mib=$(($(stat -c %s "$work/layer.tar.gz") >> 20))

now() { date +%s%N; }
time_push() { # $1: tool; prints seconds
    start_registry
    local t0 t1
    case $1 in
    rrun)
        rrun tag bench/push:latest "127.0.0.1:$port/bench/push:latest"
        t0=$(now)
        rrun push -q "127.0.0.1:$port/bench/push:latest" >/dev/null
        t1=$(now)
        rrun rm "127.0.0.1:$port/bench/push:latest" >/dev/null
        ;;
    skopeo)
        t0=$(now)
        timeout 600 skopeo copy -q --dest-tls-verify=false "oci:$work/layout" \
            "docker://127.0.0.1:$port/bench/push:latest"
        t1=$(now)
        ;;
    esac
    stop_registry
    echo "scale=3; ($t1 - $t0) / 1000000000" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

tools=(rrun skopeo)
declare -A times
for t in "${tools[@]}"; do time_push "$t" >/dev/null; done # warm-up
for _ in $(seq "$runs"); do
    for t in "${tools[@]}"; do times[$t]+="$(time_push "$t") "; done
done
echo "push of a ${mib} MiB one-layer image to a fresh docker-registry on 127.0.0.1; one warm-up round, then $runs rounds alternating ${tools[*]}; medians"
for t in "${tools[@]}"; do
    printf '%-8s %6s s   (runs: %s)\n' "$t" "$(tr ' ' '\n' <<<"${times[$t]}" | grep . | median)" "${times[$t]}"
done
