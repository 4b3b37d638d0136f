#!/usr/bin/env bash
# Pull benchmark (issue 3): time and peak memory of pulling an image from a
# docker-registry on 127.0.0.1 (random port), in one run, alternating between
# the tools, median of $RUNS (5) runs each:
#
#   rrun-image pull       download + verify + unpack into snapshots (fresh --root each run)
#   skopeo copy           into an OCI directory (download + verify only; fresh dir each run)
#   skopeo + umoci        skopeo copy, then umoci unpack (download + unpack)
#   docker pull           against a private dockerd (own data/exec root, socket and
#                         pidfile; no bridge, no iptables, no ip_forward), `docker rmi`
#                         between runs; installed with apt-get (docker.io) when missing
#
# Peak memory: Maximum resident set size from /usr/bin/time -v for rrun-image,
# skopeo and skopeo+umoci (the largest process of the pipeline). For docker the
# work happens in dockerd, not in the client: its VmHWM is reset before each
# pull (/proc/PID/clear_refs, 5) and read after it; the table shows that peak
# and its increase over dockerd's RSS just before the pull.
#
#   scripts/bench-images.sh                       # Debian base image, prints a table
#   RUNS=3 BENCH_IMAGES="debian mysql host" scripts/bench-images.sh
#   BENCH_DOCKER=0 scripts/bench-images.sh        # without docker pull
#   RRUN_IMAGE_BIN=/tmp/old/rrun-image scripts/bench-images.sh   # a binary built before
#   BENCH_RRUN_BEFORE=/tmp/old/rrun-image scripts/bench-images.sh  # this tree's beside it, alternating
#   BENCH_SCRATCH=ext4 scripts/bench-images.sh    # all on a fresh journaled ext4 (loop mount)
#
# Where it all happens (the registry's storage, each tool's destination,
# dockerd's data root): a temp dir under $TMPDIR, or with BENCH_SCRATCH=ext4
# a fresh ext4 with a journal mounted there (scripts/lib/scratch.sh says
# why).
#
# Images (BENCH_IMAGES, default "debian"):
#   debian  a Debian minbase rootfs imported as a one-layer gzip image with
#           rrun-image import. Its source (BENCH_DEBIAN_SOURCE):
#             test-images  (default, offline) the slimmed minbase rootfs the test
#                          images are built on, $RRUN_TEST_IMAGES/debian/rootfs
#                          (default .cache/images; scripts/build-walkthrough-images.sh)
#             debootstrap  `debootstrap --variant=minbase bookworm` from
#                          deb.debian.org (traffic that leaves the machine), built
#                          once, cached under .cache/images/debian-base/KEY (KEY:
#                          debootstrap's version and the build recipe below)
#   mysql   the walkthrough's mysql image as built offline by the test images,
#           $RRUN_TEST_IMAGES/mysql/oci (an OCI layout, pushed as it is)
#   host    three gzip layers built from this host's /usr/bin, /usr/share/doc, /etc:
#           comparable within a host, not across hosts.
# Not run by scripts/test.sh. Root (debootstrap, dockerd, rrun-image's unpack).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
images=${BENCH_IMAGES:-debian}
want_docker=${BENCH_DOCKER:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-image}
# RRUN_IMAGE_BIN: a rrun-image binary built before (to compare two builds);
# unset, this tree's is built.
bin=${RRUN_IMAGE_BIN:-}
if [ -z "$bin" ]; then
    scripts/lib/build-release.sh -q >&2
    bin=$CARGO_TARGET_DIR/release/rrun-image
fi

work=$(mktemp -d)
. scripts/lib/scratch.sh
reg_pid='' dockerd_pid='' dd='' made_key=''
unmount_under() { # unmounts everything mounted at or below $1, deepest first
    findmnt -rn -o TARGET | awk -v p="$1" '$0 == p || index($0, p "/") == 1' | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
stop_dockerd() {
    [ -n "$dockerd_pid" ] || return 0
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
    dockerd_pid=''
    # dockerd stops the containerd it started; make sure of it.
    local cpid
    for f in "$dd/exec/containerd/containerd.pid" "$dd/exec/libcontainerd/docker-containerd.pid"; do
        cpid=$(cat "$f" 2>/dev/null || true)
        [ -n "$cpid" ] && kill -KILL "$cpid" 2>/dev/null || true
    done
    unmount_under "$dd"
    [ -n "$made_key" ] && rm -f /etc/docker/key.json
    made_key=''
}
cleanup() {
    stop_dockerd
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null || true
    unmount_under "$work"
    rm -rf "$work"
    scratch_release
}
trap cleanup EXIT
trap 'exit 130' INT TERM
scratch_mount "$work"

sha() { sha256sum "$1" | cut -d' ' -f1; }
. scripts/lib/registry.sh

# --- the registry
registry_up
scratch_note "$work" "unpack times"

# --- image "debian": debootstrap minbase, imported, cached
build_debian() { # $1: build dir; leaves $1/rootfs.tar.gz
    local root=$1/rootfs
    timeout 1800 debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian \
        >"$1/debootstrap.log" 2>&1
    # As Debian's own images: no downloaded packages or package lists.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar --sort=name --numeric-owner --xattrs --xattrs-include='*' -C "$root" -cf - . |
        gzip -n -6 >"$1/rootfs.tar.gz.tmp"
    mv "$1/rootfs.tar.gz.tmp" "$1/rootfs.tar.gz"
}
test_images=${RRUN_TEST_IMAGES:-$PWD/.cache/images}
push_debian() { # pushes 127.0.0.1:$port/debian-base:latest, prints its size
    case ${BENCH_DEBIAN_SOURCE:-test-images} in
    test-images) push_debian_offline; return ;;
    debootstrap) ;;
    *) echo "BENCH_DEBIAN_SOURCE: test-images or debootstrap" >&2; return 2 ;;
    esac
    command -v debootstrap >/dev/null ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
    local cache=.cache/images/debian-base key
    key=$({ dpkg-query -W -f='${Version}\n' debootstrap; declare -f build_debian; } | sha256sum | cut -c1-16)
    if [ ! -s "$cache/$key/rootfs.tar.gz" ]; then
        echo "building the Debian base image (debootstrap, cached as $cache/$key)" >&2
        local b=$cache/$key.build
        unmount_under "$PWD/$b"; rm -rf "$b"; mkdir -p "$b"
        if ! build_debian "$b"; then
            tail -20 "$b/debootstrap.log" >&2
            unmount_under "$PWD/$b"; rm -rf "$b"
            return 1
        fi
        unmount_under "$PWD/$b/rootfs"; rm -rf "$b/rootfs"
        rm -rf "${cache:?}/$key"; mv "$b" "$cache/$key"
    fi
    "$bin" --root "$work/import" --daemon-config /nonexistent import \
        "$cache/$key/rootfs.tar.gz" debian-base:latest >/dev/null
    "$bin" --root "$work/import" --daemon-config /nonexistent save -o "$work/debian.tar" debian-base:latest
    timeout 300 skopeo copy -q --dest-tls-verify=false "oci-archive:$work/debian.tar" \
        "docker://127.0.0.1:$port/debian-base:latest"
    rm -rf "$work/import" "$work/debian.tar"
    echo "debian-base (debootstrap --variant=minbase bookworm, 1 gzip layer, $(($(stat -c %s "$cache/$key/rootfs.tar.gz") / 1024 / 1024)) MiB compressed)"
}

push_debian_offline() { # the test images' Debian rootfs, no network
    local root=$test_images/debian/rootfs
    if [ ! -d "$root" ]; then
        echo "no $root: run scripts/build-walkthrough-images.sh (or BENCH_DEBIAN_SOURCE=debootstrap)" >&2
        return 1
    fi
    tar --sort=name --numeric-owner --xattrs --xattrs-include='*' -C "$root" -cf - . |
        gzip -n -6 >"$work/rootfs.tar.gz"
    "$bin" --root "$work/import" --daemon-config /nonexistent import \
        "$work/rootfs.tar.gz" debian-base:latest >/dev/null
    "$bin" --root "$work/import" --daemon-config /nonexistent save -o "$work/debian.tar" debian-base:latest
    timeout 300 skopeo copy -q --dest-tls-verify=false "oci-archive:$work/debian.tar" \
        "docker://127.0.0.1:$port/debian-base:latest"
    echo "debian-base (the test images' slimmed minbase rootfs, 1 gzip layer, $(($(stat -c %s "$work/rootfs.tar.gz") / 1024 / 1024)) MiB compressed)"
    unmount_under "$work/import"
    rm -rf "$work/import" "$work/debian.tar" "$work/rootfs.tar.gz"
}

# --- image "mysql": the walkthrough's image from the test images (OCI layout)
push_mysql() {
    local lay=$test_images/mysql/oci
    if [ ! -s "$lay/index.json" ]; then
        echo "no $lay: run scripts/build-walkthrough-images.sh mysql" >&2
        return 1
    fi
    timeout 300 skopeo copy -q --dest-tls-verify=false "oci:$lay:latest" "docker://127.0.0.1:$port/mysql:latest"
    echo "mysql (the walkthrough's image from $lay, $(($(du -sb "$lay/blobs" | cut -f1) / 1024 / 1024)) MiB compressed)"
}

# --- image "host": an OCI layout with three gzip layers of this host's files
push_host() {
    local lay=$work/layout t diff hex size chex csize mhex msize arch
    mkdir -p "$lay/blobs/sha256"
    local layers_json=() diffs_json=()
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
    local total
    total=$(du -sb "$lay/blobs" | cut -f1)
    timeout 300 skopeo copy -q --dest-tls-verify=false "oci:$lay:bench" "docker://127.0.0.1:$port/bench/host:latest"
    rm -rf "$lay"
    echo "bench/host (this host's /usr/bin, /usr/share/doc, /etc; 3 gzip layers, $((total / 1024 / 1024)) MiB compressed)"
}

# --- a private dockerd: nothing shared with a system docker, no host networking changes
dcli=docker
start_dockerd() {
    if ! command -v dockerd >/dev/null; then
        echo "installing docker.io for the benchmark" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
    fi
    [ -x "$(dirname "$(command -v dockerd)")/../bin/docker" ] && dcli=$(dirname "$(command -v dockerd)")/../bin/docker
    dd=$work/docker
    mkdir -p "$dd/data" "$dd/exec"
    [ -e /etc/docker/key.json ] || made_key=1
    links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)
    dockerd --data-root "$dd/data" --exec-root "$dd/exec" --pidfile "$dd/dockerd.pid" \
        -H "unix://$dd/docker.sock" --bridge=none --iptables=false --ip6tables=false \
        --ip-forward=false --ip-masq=false --insecure-registry "127.0.0.1:$port" \
        --storage-driver overlay2 --log-level warn >"$dd/dockerd.log" 2>&1 &
    dockerd_pid=$!
    local deadline=$((SECONDS + 60))
    until DOCKER_HOST=unix://$dd/docker.sock "$dcli" version >/dev/null 2>&1; do
        if ! kill -0 "$dockerd_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
            echo "dockerd did not come up:" >&2; tail -20 "$dd/dockerd.log" >&2
            return 1
        fi
        sleep 0.2
    done
    docker_version=$(DOCKER_HOST=unix://$dd/docker.sock "$dcli" version -f '{{.Server.Version}}')
}
dk() { DOCKER_HOST=unix://$dd/docker.sock "$dcli" "$@"; }

# --- one timed run: sets T (seconds) and R (peak RSS, KiB)
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    if ! /usr/bin/time -v -o "$work/time.txt" timeout 600 "$@" >/dev/null 2>"$work/err.txt"; then
        echo "failed: $*" >&2; tail -5 "$work/err.txt" >&2; return 1
    fi
    t1=$(date +%s.%N)
    T=$(echo "$t1 - $t0" | bc)
    R=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
}
skopeo_unpack() {
    skopeo copy -q --src-tls-verify=false "docker://$1" "oci:$2/oci:bench" &&
        umoci unpack --image "$2/oci:bench" "$2/bundle"
}
run_one() { # TOOL REF
    rm -rf "$work/dest"; mkdir -p "$work/dest"
    # Flush what the previous run left dirty, so no tool pays for another's
    # writeback (rrun-image syncs its snapshots before it reports success).
    sync
    case $1 in
    rrun) timed "$bin" --root "$work/dest" --daemon-config /nonexistent pull -q "$2" ;;
    rrun-before) timed "$BENCH_RRUN_BEFORE" --root "$work/dest" --daemon-config /nonexistent pull -q "$2" ;;
    skopeo) timed skopeo copy -q --src-tls-verify=false "docker://$2" "oci:$work/dest/oci:bench" ;;
    umoci) timed bash -c "$(declare -f skopeo_unpack); skopeo_unpack $2 $work/dest" ;;
    docker)
        local pid before
        pid=$dockerd_pid
        echo 5 >"/proc/$pid/clear_refs"
        before=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
        timed "$dcli" -H "unix://$dd/docker.sock" pull -q "$2"
        R=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
        D=$((R - before))
        dk rmi -f "$2" >/dev/null
        dk image prune -af >/dev/null
        ;;
    esac
    rm -rf "$work/dest"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mib() { printf '%.1f' "$(echo "scale=3; $1 / 1024" | bc)"; }

bench() { # DESCRIPTION REF
    local tools=(rrun skopeo umoci) t i
    [ -n "${BENCH_RRUN_BEFORE:-}" ] && tools=(rrun-before "${tools[@]}")
    [ -n "$dockerd_pid" ] && tools+=(docker)
    declare -A times=() rss=() delta=()
    # one warm-up round (page cache, registry), not counted
    for t in "${tools[@]}"; do run_one "$t" "$2"; done
    for i in $(seq "$runs"); do
        for t in "${tools[@]}"; do
            run_one "$t" "$2"
            times[$t]+="$T "
            rss[$t]+="$R "
            [ "$t" = docker ] && delta[$t]+="$D "
        done
    done
    echo
    echo "image: $1"
    echo "from: docker-registry on 127.0.0.1:$port; one warm-up round, then $runs rounds alternating ${tools[*]}; medians"
    printf '%-44s %9s %12s  %s\n' "command" "time" "peak RSS" "runs (s)"
    local label med r extra
    for t in "${tools[@]}"; do
        case $t in
        rrun) label="rrun-image pull (verify + unpack)" ;;
        rrun-before) label="rrun-image pull, BENCH_RRUN_BEFORE's" ;;
        skopeo) label="skopeo copy to oci: dir (verify only)" ;;
        umoci) label="skopeo copy + umoci unpack" ;;
        docker) label="docker pull ($docker_version, dockerd peak)" ;;
        esac
        med=$(tr ' ' '\n' <<<"${times[$t]}" | grep . | median)
        r=$(tr ' ' '\n' <<<"${rss[$t]}" | grep . | median)
        extra=''
        [ "$t" = docker ] && extra="(+$(mib "$(tr ' ' '\n' <<<"${delta[$t]}" | grep . | median)") MiB over idle dockerd)"
        printf '%-44s %7.2f s %8s MiB  %s%s\n' "$label" "$med" "$(mib "$r")" \
            "$(for x in ${times[$t]}; do printf '%.2f ' "$x"; done)" "$extra"
        # For scripts/bench.sh all: the pull of each tool that unpacks.
        case $t in rrun | docker) engine=$t ;; umoci) engine=skopeo+umoci ;; *) engine='' ;; esac
        if [ -n "${BENCH_RESULTS:-}" ] && [ -n "$engine" ]; then
            printf 'pull %s (%s)\t%s\t%.2f\ts\n' "${1%% *}" "${BENCH_SCRATCH:-disk}" "$engine" "$med" \
                >>"$BENCH_RESULTS"
        fi
    done
}

descs=() refs=()
for img in $images; do
    case $img in
    debian) descs+=("$(push_debian)"); refs+=("127.0.0.1:$port/debian-base:latest") ;;
    mysql) descs+=("$(push_mysql)"); refs+=("127.0.0.1:$port/mysql:latest") ;;
    host) descs+=("$(push_host)"); refs+=("127.0.0.1:$port/bench/host:latest") ;;
    *) echo "unknown image $img (debian, mysql, host)" >&2; exit 2 ;;
    esac
done
if [ "$want_docker" = 1 ]; then
    start_dockerd
fi
for i in "${!refs[@]}"; do
    bench "${descs[$i]}" "${refs[$i]}"
done
if [ -n "$dockerd_pid" ]; then
    stop_dockerd
    links_after=$(ip -o link show | awk -F': ' '{print $2}' | sort)
    [ "$links_before" = "$links_after" ] || echo "warning: network links changed while dockerd ran" >&2
fi
