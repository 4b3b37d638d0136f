#!/usr/bin/env bash
# Build and push benchmark (issue 15): rrund against dockerd (Debian's
# docker.io, 20.10) on the same machine, in the same run, alternating run by
# run, medians of RUNS (default 5) runs after one warm-up round:
#
#   build   a small multi-stage Dockerfile (ARG before FROM, a builder stage
#           with COPY and RUN, COPY --from, USER, WORKDIR, HEALTHCHECK,
#           .dockerignore) over a context of 200 small files:
#             cold      `build --no-cache` (the base image is local)
#             rebuild   the same build again, nothing changed (all cached)
#           rrun build → rrund; DOCKER_BUILDKIT=0 docker build → dockerd
#           (the classic builder, the protocol rrund serves); and
#           DOCKER_BUILDKIT=1 docker build → dockerd's BuildKit, for scale
#   push    a 50 MiB image (one layer of random bytes, so it does not
#           compress) to a docker-registry with fresh storage for every
#           push: rrun push (rrund), docker push (dockerd; it gzips the
#           layer while pushing), skopeo copy (from an OCI layout of the
#           same image)
#
#   scripts/bench-build.sh              RUNS=3 SIZE_MIB=100 scripts/bench-build.sh
#
# Every daemon, the registry and skopeo run inside one network namespace of
# the script's own (nsenter --net); the only upstream DNS server is a stub on
# its 127.0.0.1 answering NXDOMAIN. State lives in a temporary directory,
# removed at the end. Release binaries of $CARGO_TARGET_DIR (built if
# missing). Not run by scripts/test.sh. Root.
set -euo pipefail
cd "$(dirname "$0")/.."
export RRUN_NO_AUTOSTART=1
runs=${RUNS:-5}
size=${SIZE_MIB:-50}
target=${CARGO_TARGET_DIR:-$PWD/target}
[ -x "$target/release/rrund" ] && [ -x "$target/release/rrun" ] ||
    CARGO_TARGET_DIR=$target cargo build --release -q -p rrun-runtime --bins
bin=$target/release
images=${RRUN_TEST_IMAGES:-$PWD/.cache/images}
[ -f "$images/busybox/oci/index.json" ] || { echo "no busybox test image under $images: run scripts/build-test-images.sh" >&2; exit 1; }
for c in dockerd skopeo docker-registry nsenter bc; do
    command -v "$c" >/dev/null || { echo "bench-build: $c is missing" >&2; exit 1; }
done
# The docker client that belongs to Debian's dockerd (20.10).
dcli=/usr/bin/docker
[ -x "$dcli" ] || dcli=docker

work=$(mktemp -d -p /var/tmp rrun-bench-build.XXXXXX)
ns=rrbuild$$
rr() { timeout 600 "$bin/rrun" -H "unix://$work/rrun.sock" "$@"; }
dk() { timeout 600 "$dcli" -H "unix://$work/docker.sock" "$@"; }
in_ns() { nsenter --net="/run/netns/$ns" "$@"; }
. scripts/lib/bench-engines.sh
reg_pid=''
cleanup() { stop_pid "$reg_pid"; engines_down; }
trap cleanup EXIT
trap 'exit 130' INT TERM
secs() { printf "%.2f" "$(echo "scale=3; $1 / 1000000" | bc)"; }

netns_up
engines_up
docker_version=$(dk version -f '{{.Server.Version}}')

# --- the build context
ctx=$work/ctx
mkdir -p "$ctx/src"
for i in $(seq 200); do printf 'file %s\n%s\n' "$i" "$(head -c 600 /dev/urandom | base64 -w 0)" >"$ctx/src/f$i.txt"; done
echo "scratch" >"$ctx/src/ignored.tmp"
printf '*.tmp\nsrc/*.tmp\n' >"$ctx/.dockerignore"
cat >"$ctx/Dockerfile" <<'EOF'
ARG BASE=busybox
FROM ${BASE} AS build
WORKDIR /src
COPY src/ ./
RUN mkdir -p /out && for f in *.txt; do tr a-z A-Z <"$f" >"/out/$f"; done && sha256sum /out/*.txt >/out/SUMS

FROM ${BASE}
RUN echo "app:x:1000:1000::/app:/bin/sh" >>/etc/passwd
COPY --from=build /out /app
USER app
WORKDIR /app
HEALTHCHECK --interval=30s CMD test -f /app/SUMS
CMD ["wc", "-l", "/app/SUMS"]
EOF

build() { # ENGINE [--no-cache]
    local e=$1; shift
    case $e in
    rrun) rr build -q -t bench/build "$@" "$ctx" ;;
    classic) DOCKER_BUILDKIT=0 dk build -q -t bench/build "$@" "$ctx" ;;
    buildkit) DOCKER_BUILDKIT=1 dk build -q -t bench/build "$@" "$ctx" ;;
    esac
}
engines="rrun classic buildkit"
for e in $engines; do
    if ! build "$e" --no-cache >"$work/warm.log" 2>&1; then
        [ "$e" = buildkit ] || { cat "$work/warm.log" >&2; exit 1; }
        echo "(dockerd's BuildKit failed here, left out: $(tail -1 "$work/warm.log"))"
        engines="rrun classic"
    fi
done
# The images work, and the same way.
want="200 /app/SUMS"
[ "$(rr run --rm bench/build)" = "$want" ] || { echo "rrun's image is wrong" >&2; exit 1; }
[ "$(dk run --rm bench/build)" = "$want" ] || { echo "docker's image is wrong" >&2; exit 1; }

echo "== build of a multi-stage Dockerfile (200-file context), $runs runs alternating (s, median)"
for e in $engines; do : >"$work/$e.cold"; : >"$work/$e.warm"; done
for _ in $(seq "$runs"); do
    for e in $engines; do
        t0=$(now_us); build "$e" --no-cache >/dev/null; t1=$(now_us)
        build "$e" >/dev/null; t2=$(now_us)
        echo $((t1 - t0)) >>"$work/$e.cold"
        echo $((t2 - t1)) >>"$work/$e.warm"
    done
done
label() { case $1 in rrun) echo "rrun build (rrund)" ;; classic) echo "docker build, classic" ;; buildkit) echo "docker build, BuildKit" ;; esac; }
for e in $engines; do
    printf '%-24s cold %6.2f s   no-change rebuild %6.2f s\n' "$(label "$e")" \
        "$(secs "$(median <"$work/$e.cold")")" "$(secs "$(median <"$work/$e.warm")")"
done

# --- push
. scripts/lib/registry.sh
start_registry() { rm -rf "$work/regdata"; registry_up in_ns; } # empty, in the namespace
stop_registry() { stop_pid "$reg_pid"; reg_pid=''; }

mkdir -p "$work/rootfs/data" "$work/layout"
head -c "$((size << 20))" /dev/urandom >"$work/rootfs/data/random.bin"
tar -C "$work/rootfs" -cf "$work/layer.tar" .
rm -rf "$work/rootfs"
rr import "$work/layer.tar" bench/push:latest >/dev/null
dk import "$work/layer.tar" bench/push:latest >/dev/null
rr save -o "$work/image.tar" bench/push:latest
tar -C "$work/layout" -xf "$work/image.tar"
rm -f "$work/image.tar" "$work/layer.tar"

time_push() { # TOOL: microseconds of the push itself (a fresh registry each time)
    start_registry
    local ref="127.0.0.1:$port/bench/push:latest" t0 t1
    case $1 in
    rrun) rr tag bench/push:latest "$ref" ;;
    docker) dk tag bench/push:latest "$ref" ;;
    esac
    t0=$(now_us)
    case $1 in
    rrun) rr push -q "$ref" >/dev/null ;;
    docker) dk push -q "$ref" >/dev/null ;;
    skopeo) in_ns timeout 600 skopeo copy -q --dest-tls-verify=false "oci:$work/layout" "docker://$ref" ;;
    esac
    t1=$(now_us)
    case $1 in
    rrun) rr rmi "$ref" >/dev/null ;;
    docker) dk rmi "$ref" >/dev/null ;;
    esac
    stop_registry
    echo $((t1 - t0))
}
tools="rrun docker skopeo"
for t in $tools; do time_push "$t" >/dev/null; done # warm-up
for t in $tools; do : >"$work/$t.push"; done
for _ in $(seq "$runs"); do
    for t in $tools; do time_push "$t" >>"$work/$t.push"; done
done
echo "== push of a ${size} MiB one-layer image to a fresh docker-registry on 127.0.0.1, $runs runs alternating (s, median)"
for t in $tools; do
    printf '%-8s %6.2f s   (runs: %s)\n' "$t" "$(secs "$(median <"$work/$t.push")")" \
        "$(while read -r us; do printf '%s ' "$(secs "$us")"; done <"$work/$t.push")"
done
echo "(docker $docker_version; rrun release build; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); $(uname -r))"
