#!/usr/bin/env bash
# Pull benchmark: rrun-image pull (download + verify + unpack into snapshots)
# against skopeo copy into an OCI directory (download + verify only) and
# skopeo copy + umoci unpack (download + unpack), from a docker-registry on
# 127.0.0.1. Median wall time of 5 runs each, and peak RSS of one run
# (/usr/bin/time -v). Nothing leaves the machine.
#
#   scripts/bench-images.sh            # prints a table
#   RUNS=3 scripts/bench-images.sh
#
# The benchmark image has three gzip layers built from this host's files
# (/usr/bin, /usr/share/doc, /etc), so numbers are comparable within a host,
# not across hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-image}
timeout 1800 cargo build --release -p rrun-image --bin rrun-image >&2
bin=$CARGO_TARGET_DIR/release/rrun-image

work=$(mktemp -d)
reg_pid=
cleanup() {
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

sha() { sha256sum "$1" | cut -d' ' -f1; }

# --- the image: an OCI layout with three gzip layers
lay=$work/layout
mkdir -p "$lay/blobs/sha256"
layers_json=() diffs_json=()
for src in /usr/bin /usr/share/doc /etc; do
    t=$work/layer.tar
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --ignore-failed-read \
        -C / -cf "$t" "${src#/}" 2>/dev/null || true
    diff=$(sha "$t")
    gzip -n -6 "$t"
    hex=$(sha "$t.gz"); size=$(stat -c %s "$t.gz")
    mv "$t.gz" "$lay/blobs/sha256/$hex"
    layers_json+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$hex\",\"size\":$size}")
    diffs_json+=("\"sha256:$diff\"")
done
arch=$(dpkg --print-architecture)
printf '{"architecture":"%s","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$arch" "$(IFS=,; echo "${diffs_json[*]}")" >"$work/config.json"
chex=$(sha "$work/config.json"); csize=$(stat -c %s "$work/config.json")
mv "$work/config.json" "$lay/blobs/sha256/$chex"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$chex" "$csize" "$(IFS=,; echo "${layers_json[*]}")" >"$work/manifest.json"
mhex=$(sha "$work/manifest.json"); msize=$(stat -c %s "$work/manifest.json")
mv "$work/manifest.json" "$lay/blobs/sha256/$mhex"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
    "$mhex" "$msize" >"$lay/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
total=$(du -sb "$lay/blobs" | cut -f1)

# --- the registry
# A random free port: nothing answers there yet.
while :; do
    port=$(shuf -i 20000-60000 -n 1)
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
done
cat >"$work/reg.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/regdata}}
http: {addr: 127.0.0.1:$port}
EOF
docker-registry serve "$work/reg.yml" >"$work/reg.log" 2>&1 &
reg_pid=$!
for _ in $(seq 200); do
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
    sleep 0.05
done
timeout 300 skopeo copy -q --dest-tls-verify=false "oci:$lay:bench" "docker://127.0.0.1:$port/bench/img:latest"
ref=127.0.0.1:$port/bench/img:latest

# time_cmd LABEL CMD... : median seconds over $runs fresh runs, then peak RSS (KiB) of one more
measure() {
    local label=$1; shift
    local times=() t0 t1
    for _ in $(seq "$runs"); do
        rm -rf "$work/dest"; mkdir -p "$work/dest"
        t0=$(date +%s.%N)
        timeout 600 "$@" >/dev/null 2>&1
        t1=$(date +%s.%N)
        times+=("$(echo "$t1 - $t0" | bc)")
    done
    rm -rf "$work/dest"; mkdir -p "$work/dest"
    local rss
    rss=$(/usr/bin/time -v timeout 600 "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}')
    local med
    med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-40s %8.2f s %10s KiB\n' "$label" "$med" "$rss"
}

skopeo_unpack() {
    skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$work/dest/oci:bench" &&
        umoci unpack --image "$work/dest/oci:bench" "$work/dest/bundle"
}

echo "image: 3 gzip layers, $((total / 1024 / 1024)) MiB compressed; median of $runs runs"
printf '%-40s %10s %14s\n' "command" "time" "peak RSS"
measure "rrun-image pull (verify+unpack)" "$bin" --root "$work/dest" --daemon-config /nonexistent pull -q "$ref"
measure "skopeo copy to oci dir (verify only)" skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$work/dest/oci:bench"
measure "skopeo copy + umoci unpack" bash -c "$(declare -f skopeo_unpack); work=$work ref=$ref skopeo_unpack"
