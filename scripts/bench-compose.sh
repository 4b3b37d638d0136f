#!/usr/bin/env bash
# `rrun compose` on rrund against docker-compose 1.29 (Debian's package) on
# dockerd (Debian's docker.io), same machine, same run, alternating:
#
#   two      a two-service busybox project in the seed's shape (a db with a
#            named volume and a healthcheck, an app depending on it being
#            healthy, a published port): `up -d` until all run, then `down -v`;
#            RUNS times each (default 5), medians
#   fifty    50 busybox services: `up -d`, then `down`; RUNS times, medians
#   ps500    `ps -a` of a project of 500 created containers (one service,
#            `create --scale web=500`), RUNS times, median; rrun compose on
#            rrund only (docker-compose 1.29 asks for each container apart)
#
#   scripts/bench-compose.sh [RUNS]     BENCH_ONLY="two fifty ps500"
#
# Each daemon runs in a network namespace of the script's own (its bridges
# and rules never touch the host's) with a DNS stub on 127.0.0.1 as its only
# upstream; state in a temporary directory removed at the end. Root. Not run
# by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export RRUN_NO_AUTOSTART=1
runs=${1:-5}
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

command -v dockerd >/dev/null && [ -x /usr/bin/docker-compose ] || {
    echo "bench-compose: needs dockerd and docker-compose (apt-get install docker.io docker-compose)" >&2
    exit 1
}
[ "${BENCH_NO_BUILD:-0}" = 1 ] || scripts/lib/build-release.sh -q
bin=$PWD/target/release
images=${RRUN_TEST_IMAGES:-$PWD/.cache/images}

work=$(mktemp -d -p /var/tmp rrun-bench-compose.XXXXXX)
ns=rrcbench$$
rr() { timeout 300 "$bin/rrun" -H "unix://$work/rrun.sock" "$@"; }
dk() { timeout 300 /usr/bin/docker -H "unix://$work/docker.sock" "$@"; }
. scripts/lib/bench-engines.sh
trap engines_down EXIT

# compose ENGINE DIR ARGS...: rrun compose, or docker-compose 1.29 on dockerd.
compose() {
    local e=$1 dir=$2; shift 2
    case $e in
    rrun) rr compose --project-directory "$dir" -p bench "$@" ;;
    docker) DOCKER_HOST="unix://$work/docker.sock" COMPOSE_INTERACTIVE_NO_CLI=1 \
        timeout 600 /usr/bin/docker-compose --project-directory "$dir" -p bench \
        -f "$dir/compose.yaml" "$@" ;;
    esac
}
secs() { echo "$1 / 1000000" | bc -l; }

netns_up
engines_up
echo "dockerd $(dk version -f '{{.Server.Version}}'), $(/usr/bin/docker-compose version --short 2>/dev/null | head -1 || true) docker-compose"

# busybox's sleep as PID 1 ignores SIGTERM; this one stops at once.
idle="trap 'exit 0' TERM; sleep 3600 & wait"
mkdir -p "$work/two" "$work/fifty" "$work/ps500"
cat >"$work/two/compose.yaml" <<EOF
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo seed > /data/seed; $idle"]
    volumes: [dbdata:/data]
    healthcheck:
      test: ["CMD", "test", "-f", "/data/seed"]
      interval: 1s
  app:
    image: busybox
    depends_on:
      db:
        condition: service_healthy
    ports: ["127.0.0.1:18090:8080"]
    environment:
      DB_HOST: db
    command: ["sh", "-c", "$idle"]
volumes:
  dbdata:
EOF
{
    echo "services:"
    for i in $(seq 50); do
        printf '  s%d:\n    image: busybox\n    command: ["sh", "-c", "%s"]\n' "$i" "$idle"
    done
} >"$work/fifty/compose.yaml"
printf 'services:\n  web:\n    image: busybox\n    command: ["sh", "-c", "%s"]\n' "$idle" >"$work/ps500/compose.yaml"

# up_down NAME DIR: RUNS alternating rounds of up -d and down per engine.
up_down() {
    local name=$1 dir=$2 e t0 t1 t2
    for e in rrun docker; do : >"$work/$e.up"; : >"$work/$e.down"; done
    for _ in $(seq "$runs"); do
        for e in rrun docker; do
            t0=$(now_us)
            compose "$e" "$dir" up -d >/dev/null 2>&1 || { echo "$e up failed" >&2; compose "$e" "$dir" up -d; exit 1; }
            t1=$(now_us)
            compose "$e" "$dir" down -v -t 1 >/dev/null 2>&1 || { echo "$e down failed" >&2; exit 1; }
            t2=$(now_us)
            echo $((t1 - t0)) >>"$work/$e.up"
            echo $((t2 - t1)) >>"$work/$e.down"
        done
    done
    local du dd
    du=$(median <"$work/docker.up"); dd=$(median <"$work/docker.down")
    for e in rrun docker; do
        local u d
        u=$(median <"$work/$e.up"); d=$(median <"$work/$e.down")
        printf '%-6s %-6s up -d %7.2f s (%.2f x docker-compose)   down %7.2f s (%.2f x)\n' "$name" "$e" \
            "$(secs "$u")" "$(echo "$u / $du" | bc -l)" "$(secs "$d")" "$(echo "$d / $dd" | bc -l)"
    done
}

if want two; then
    echo "== the two-service project (healthy dependency, volume, port): up -d and down -v, $runs rounds, medians"
    up_down two "$work/two"
fi
if want fifty; then
    echo "== 50 busybox services: up -d and down, $runs rounds, medians"
    up_down fifty "$work/fifty"
fi
if want ps500; then
    echo "== rrun compose ps -a with 500 containers in the project, $runs runs, median"
    t0=$(now_us)
    compose rrun "$work/ps500" create --scale web=500 >/dev/null 2>&1
    t1=$(now_us)
    printf 'create --scale web=500: %.1f s\n' "$(secs $((t1 - t0)))"
    : >"$work/ps.us"
    for _ in $(seq "$runs"); do
        t0=$(now_us)
        n=$(compose rrun "$work/ps500" ps -a -q | wc -l)
        t1=$(now_us)
        echo $((t1 - t0)) >>"$work/ps.us"
    done
    [ "$n" = 500 ] || { echo "ps listed $n, not 500" >&2; exit 1; }
    printf 'ps -a (500 listed): %.3f s\n' "$(secs "$(median <"$work/ps.us")")"
    t0=$(now_us)
    compose rrun "$work/ps500" ps -a >/dev/null
    t1=$(now_us)
    printf 'ps -a (table): %.3f s\n' "$(secs $((t1 - t0)))"
    compose rrun "$work/ps500" down >/dev/null 2>&1
fi
