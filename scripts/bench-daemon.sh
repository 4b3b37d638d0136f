#!/usr/bin/env bash
# rrund against dockerd (Debian's docker.io) and podman (Debian's podman,
# with runc) on the same machine, in the same run, alternating run by run,
# each timed run (and each phase of `fifty`) after the cores have settled
# (`settle`, 2 s at most):
#
#   run-rm   `<engine> run --rm busybox true` on the default bridge network,
#            with `--network none` and on a user network, RUNS times each
#            (default 20); medians and the ratio to Docker
#   fifty    50 containers started detached on a user network (sleep), then
#            all removed with one rm -f: total time of each phase, per engine
#   memory   the daemon's RSS idle and with the 50 containers running, and
#            one shim's RSS and PSS (rrund + its shims; dockerd + containerd +
#            containerd-shim-runc-v2; podman's conmon)
#   clients  the wall time of the clients users script against each daemon:
#            tests/py/test_testcontainers.py under pytest (testcontainers-
#            python 4, in the venv scripts/install-pydeps.sh makes) and a
#            docker-compose 1.29 sequence on a two-service busybox project
#            (up -d, ps, exec -T, logs, stop, up -d, down -v); CLIENT_RUNS
#            (default 5) runs alternating, medians (rrun and docker only)
#   attach   echo latency through `run -i --rm busybox cat` (a line to its
#            stdin until it is back on stdout), ATTACH_RUNS (5) runs of 40
#            lines, alternating; medians (rrun and docker only)
#
#   scripts/bench-daemon.sh [RUNS]      BENCH_PODMAN=0 to leave podman out
#
# With BENCH_RESULTS=FILE each figure is also appended to FILE as a line
# `figure<TAB>engine<TAB>value<TAB>unit` (scripts/bench.sh all collects them
# into one table and chart).
#
# Every engine runs inside one network namespace of the script's own
# (nsenter --net), so their bridges and iptables/nftables rules never touch
# the host's; the only upstream DNS server any of them is given is a stub on
# 127.0.0.1 answering NXDOMAIN. State lives in a temporary directory, removed
# at the end (BENCH_SCRATCH=ext4: on a fresh journaled ext4 of its own, as
# in bench-images.sh). Not run by scripts/test.sh. Root.
set -euo pipefail
cd "$(dirname "$0")/.."
# The daemons here are started by this script; rrun must never start one.
export RRUN_NO_AUTOSTART=1
runs=${1:-20}
want_podman=${BENCH_PODMAN:-1}
# BENCH_ONLY="run-rm fifty dns walk": a subset of the sections.
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

scripts/install-deps.sh >/dev/null
need=()
command -v dockerd >/dev/null || need+=(docker.io)
[ "$want_podman" = 1 ] && ! command -v podman >/dev/null && need+=(podman)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} for the comparison" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi
scripts/lib/build-release.sh -q
scripts/build-test-images.sh >/dev/null
bin=$PWD/target/release
images=${RRUN_TEST_IMAGES:-$PWD/.cache/images}

work=$(mktemp -d -p /var/tmp rrun-bench-daemon.XXXXXX)
# Every engine's state is in $work: with BENCH_SCRATCH=ext4, on a fresh
# journaled ext4 (scripts/lib/scratch.sh).
. scripts/lib/scratch.sh
ns=rrbench$$
# The docker client that belongs to Debian's dockerd (20.10), not a newer one on PATH.
dcli=/usr/bin/docker
[ -x "$dcli" ] || dcli=docker
. scripts/lib/bench-engines.sh
cleanup() {
    set +e
    if [ "$want_podman" = 1 ]; then
        pm rm -af >/dev/null 2>&1
        pm system reset -f >/dev/null 2>&1
    fi
    engines_down
    pkill -f "containerd.*$work" 2>/dev/null
    scratch_release
}
trap cleanup EXIT
scratch_mount "$work"
scratch_note "$work" "the figures"
timed_init

# (nsenter execs the program, so $! of `nsenter … &` is the program's pid.)
rr() { "${to[@]}" "$bin/rrun" -H "unix://$work/rrun.sock" "$@"; }
dk() { "${to[@]}" "$dcli" -H "unix://$work/docker.sock" "$@"; }
pm() {
    # Podman with runc needs explicit ulimits on these machines.
    local run=()
    if [ "$1" = run ]; then
        shift
        run=(run --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
    fi
    "${to[@]}" nsenter --net="/run/netns/$ns" podman --root "$work/podman/root" --runroot "$work/podman/run" \
        --runtime runc --cgroup-manager cgroupfs --events-backend file \
        --network-config-dir "$work/podman/net" "${run[@]}" "$@"
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Proportional set size (KiB): shared pages divided among their users.
pss_kib() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
# result FIGURE ENGINE VALUE UNIT: one line of $BENCH_RESULTS.
result() { [ -z "${BENCH_RESULTS:-}" ] || printf '%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_RESULTS"; }
# Sum of VmRSS over the pids given (KiB).
rss_sum() { local t=0 p; for p in "$@"; do t=$((t + $(rss_kib "$p"))); done; echo "$t"; }

netns_up
mkdir -p "$work/podman/net"
sleep 0.3
printf 'upstream stub: '
nsenter --net="/run/netns/$ns" dig +tries=1 +time=2 @127.0.0.1 nowhere.example 2>&1 |
    awk '/status:/ {print $6}'

# rrund and dockerd, busybox in each (and a docker-archive of it for podman).
engines_up
docker_version=$(dk version -f '{{.Server.Version}}')

engines="rrun docker"
if [ "$want_podman" = 1 ]; then
    pm load -q -i "$work/busybox-docker.tar" >/dev/null
    engines="rrun docker podman"
fi
# Waits, 2 s at most, until the two cores were nearly idle (busy at most a
# tenth of 100 ms): the previous contender's background work (containerd's
# cleanup after a `docker run`, rrund's spares) is not timed as the next
# one's. Every contender gets it, before each timed run.
settle() {
    local deadline=$(($(now_us) + 2000000)) a b busy total
    while [ "$(now_us)" -lt "$deadline" ]; do
        read -ra a </proc/stat
        sleep 0.1
        read -ra b </proc/stat
        busy=$(((b[1] + b[2] + b[3] + b[6] + b[7] + b[8]) - (a[1] + a[2] + a[3] + a[6] + a[7] + a[8])))
        total=$((busy + (b[4] + b[5]) - (a[4] + a[5])))
        [ $((busy * 10)) -le "$total" ] && return 0
    done
    return 0 # not settled: timed anyway (the script runs under set -e)
}
run_rm() { # ENGINE [NETWORK]
    local net=()
    [ -n "${2:-}" ] && net=(--network "$2")
    case $1 in
    rrun) rr run --rm "${net[@]}" busybox true ;;
    docker) dk run --rm "${net[@]}" busybox true ;;
    podman) pm run --rm "${net[@]}" busybox true ;;
    esac
}
for e in $engines; do run_rm "$e" >/dev/null || { echo "$e run --rm failed" >&2; exit 1; }; done

if want run-rm; then
for e in $engines; do
    case $e in rrun) rr network create rmnet ;; docker) dk network create rmnet ;; podman) pm network create rmnet ;; esac >/dev/null
done
for net in "" none rmnet; do
    label="default bridge"
    [ "$net" = none ] && label="--network none"
    [ "$net" = rmnet ] && label="user network"
    echo "== run --rm busybox true, $label, $runs runs alternating (ms, median)"
    for e in $engines; do : >"$work/$e.us"; done
    for _ in $(seq "$runs"); do
        for e in $engines; do
            settle
            timed 120 run_rm "$e" $net >/dev/null
            echo $((t1 - t0)) >>"$work/$e.us"
        done
    done
    docker_med=$(median <"$work/docker.us")
    for e in $engines; do
        m=$(median <"$work/$e.us")
        printf '%-8s %8.1f ms   %.2f x docker\n' "$e" "$(echo "$m / 1000" | bc -l)" "$(echo "$m / $docker_med" | bc -l)"
        result "run --rm, $label" "$e" "$(echo "scale=1; $m / 1000" | bc)" ms
    done
done
for e in $engines; do
    case $e in rrun) rr network rm rmnet ;; docker) dk network rm rmnet ;; podman) pm network rm rmnet ;; esac >/dev/null
done
fi

echo "== 50 containers detached on a user network, then rm -f (s, total)"
mem_idle_rrun=$(rss_kib "$rrund_pid")
containerd_pid=$(pgrep -f "containerd --config $work/docker/exec" | head -1 || true)
[ -n "$containerd_pid" ] || containerd_pid=$(pgrep -P "$dockerd_pid" containerd | head -1 || true)
mem_idle_docker=$(rss_sum "$dockerd_pid" ${containerd_pid:-})
fifty() { # ENGINE CLI-FUNCTION
    local e=$1 f=$2 t0 t1 shims
    "$f" network create bench-net >/dev/null
    settle
    start50() { for i in $(seq 50); do "$f" run -d --network bench-net --name "b$i" busybox sleep 3600 >/dev/null; done; }
    timed 600 start50
    local starts=$((t1 - t0))
    case $e in
    rrun)
        mem_rrun_50=$(rss_kib "$rrund_pid")
        shims=$(pgrep -f "rrun(d|-shim) shim [0-9a-f]{64} .*$work/" || true)
        ;;
    docker)
        mem_docker_50=$(rss_sum "$dockerd_pid" ${containerd_pid:-})
        shims=$(pgrep -f "containerd-shim-runc-v2 -namespace rrbench$$" || true)
        ;;
    podman) shims=$(pgrep -f "conmon.*$work/podman" || true) ;;
    esac
    shim=$(echo "$shims" | head -1)
    declare -g "mem_${e}_shim=$(rss_kib "$shim")" "pss_${e}_shim=$(pss_kib "$shim")" \
        "mem_${e}_shims=$(rss_sum $shims)"
    # One `rm -f` of all 50, as the issue measures it (each CLI sends its
    # removals at once). Docker's `rm -f` kills at once; podman's waits the
    # stop timeout first (10 s for a `sleep` that ignores SIGTERM as pid 1).
    local now=()
    [ "$e" = podman ] && now=(-t 0)
    # Timed from here: the memory readings above are not the removal's.
    settle
    timed 120 "$f" rm -f "${now[@]}" $(seq -f 'b%g' 50) >/dev/null
    local removal=$((t1 - t0))
    "$f" network rm bench-net >/dev/null
    printf '%-8s start 50: %6.2f s   remove 50: %6.2f s\n' "$e" \
        "$(echo "$starts / 1000000" | bc -l)" "$(echo "$removal / 1000000" | bc -l)"
    result "50 detached starts, user network" "$e" "$(echo "scale=2; $starts / 1000000" | bc)" s
    result "rm -f of the 50" "$e" "$(echo "scale=2; $removal / 1000000" | bc)" s
}
if want fifty; then
    fifty rrun rr
    fifty docker dk
    [ "$want_podman" = 1 ] && fifty podman pm
fi

# --- the walkthrough's database: from `run -d mysql:5.7` (image present) to
# the first successful query through the name `mysql` from another
# container on the network (a client container started right after the
# database, retrying every 0.2 s), then memory with the database and the
# app running.
walk() { # ENGINE CLI-FUNCTION
    local e=$1 f=$2 t0 t1
    "$f" network create wt >/dev/null
    t0=$(now_us)
    "$f" run -d --name wt-db --network wt --network-alias mysql \
        -e MYSQL_ROOT_PASSWORD=secret -e MYSQL_DATABASE=todos mysql:5.7 >/dev/null
    "$f" run -d --name wt-probe --network wt --entrypoint sh mysql:5.7 -c \
        'until mysql -hmysql -uroot -psecret -e "SELECT 1" >/dev/null 2>&1; do sleep 0.2; done' >/dev/null
    "$f" wait wt-probe >/dev/null
    t1=$(now_us)
    "$f" run -d --name wt-app --network wt -e MYSQL_HOST=mysql -e MYSQL_USER=root \
        -e MYSQL_PASSWORD=secret -e MYSQL_DB=todos todo-app >/dev/null
    for _ in $(seq 600); do
        "$f" logs wt-app 2>&1 | grep -q 'Listening on port 3000' && break
        sleep 0.2
    done
    case $e in
    rrun) mem_walk_rrun=$(rss_sum "$rrund_pid" $(pgrep -f "rrun(d|-shim) shim [0-9a-f]{64} .*$work/")) ;;
    docker) mem_walk_docker=$(rss_sum "$dockerd_pid" ${containerd_pid:-} $(pgrep -f "containerd-shim-runc-v2 -namespace rrbench$$")) ;;
    esac
    "$f" rm -f wt-app wt-probe wt-db >/dev/null
    "$f" network rm wt >/dev/null
    printf '%-8s run -d mysql:5.7 -> first query by name from another container: %6.2f s\n' \
        "$e" "$(echo "($t1 - $t0) / 1000000" | bc -l)"
}
# --- the embedded DNS resolver, from inside a container's network namespace:
# dnsperf (10 s, nsenter) for another container's name and for a name
# forwarded upstream (the NXDOMAIN stub). Docker's resolver is at
# 127.0.0.11 too; Podman's aardvark-dns at the network's gateway.
dns_bench() { # ENGINE CLI-FUNCTION
    local e=$1 f=$2 pid server qps lat
    "$f" network create dnsnet >/dev/null
    "$f" run -d --name dns-target --network dnsnet --network-alias target busybox sleep 600 >/dev/null
    "$f" run -d --name dns-asker --network dnsnet busybox sleep 600 >/dev/null
    pid=$("$f" inspect -f '{{.State.Pid}}' dns-asker)
    server=127.0.0.11
    [ "$e" = podman ] && server=$("$f" network inspect dnsnet -f '{{(index .Subnets 0).Gateway}}')
    # One query of each kind first, shown, so a broken path is seen.
    for n in target nowhere.example; do
        printf '%-8s dig %-16s ' "$e" "$n"
        { nsenter -t "$pid" -n dig +tries=1 +time=3 "@$server" "$n" 2>&1 || true; } |
            awk '/status:/ {s=$6} /Query time/ {t=$4" "$5} END {print (s ? s : "no answer"), t}'
    done
    for q in "target A" "nowhere.example A"; do
        echo "$q" >"$work/q.txt"
        nsenter -t "$pid" -n timeout 30 dnsperf -s "$server" -d "$work/q.txt" -l 10 -c 4 -T 2 \
            >"$work/dnsperf.txt" 2>&1 || true
        qps=$(awk '/Queries per second/ {print $4}' "$work/dnsperf.txt")
        lat=$(awk '/Average Latency/ {print $4 * 1000}' "$work/dnsperf.txt")
        printf '%-8s %-20s %10s q/s   avg latency %8s ms\n' "$e" "${q% A}" "${qps:-?}" \
            "$(printf '%.3f' "${lat:-0}" 2>/dev/null || echo "?")"
        if [ "$q" = "target A" ]; then
            result "DNS, a container's name: queries/s" "$e" "$(printf '%.0f' "${qps:-0}")" "q/s"
            result "DNS, a container's name: latency" "$e" "$(printf '%.3f' "${lat:-0}")" ms
        fi
    done
    "$f" rm -f dns-target dns-asker >/dev/null
    "$f" network rm dnsnet >/dev/null
}
if want dns; then
    echo "== DNS from a container: dnsperf 10 s each (a container's name; a forwarded name)"
    for e in $engines; do
        case $e in rrun) dns_bench rrun rr ;; docker) dns_bench docker dk ;; podman) dns_bench podman pm ;; esac
    done
fi

if want walk && [ -f "$images/mysql/oci/index.json" ] && [ -f "$images/todo-app/oci/index.json" ]; then
    echo "== the walkthrough's database and app"
    for img in mysql:5.7 todo-app; do
        layout=${img%%:*}
        tar -C "$images/$layout/oci" -cf "$work/$layout-oci.tar" .
        skopeo copy -q "oci:$images/$layout/oci:latest" "docker-archive:$work/$layout-docker.tar:$img"
        id=$(rr load -i "$work/$layout-oci.tar" | sed -n 's/^Loaded image ID: //p')
        rr tag "$id" "$img" >/dev/null
        dk load -q -i "$work/$layout-docker.tar" >/dev/null
    done
    walk rrun rr
    walk docker dk
    walk rrun rr
    walk docker dk
fi

if want attach; then
    # One `run -i --rm busybox cat` per run: lines written to its stdin one
    # at a time, each timed until it comes back on stdout (the attach
    # stream both ways).
    aruns=${ATTACH_RUNS:-5}
    echo "== attach echo latency, $aruns runs alternating (us, median of the runs' medians / p90s)"
    for e in rrun docker; do : >"$work/$e.att"; done
    for _ in $(seq "$aruns"); do
        for e in rrun docker; do
            cli=("$bin/rrun" -H "unix://$work/rrun.sock")
            [ "$e" = docker ] && cli=("$dcli" -H "unix://$work/docker.sock")
            timeout 120 python3 scripts/lib/echo-latency.py "${cli[@]}" run -i --rm busybox cat >>"$work/$e.att"
        done
    done
    for e in rrun docker; do
        printf '%-8s median %6s us   p90 %6s us\n' "$e" "$(awk '{print $1}' "$work/$e.att" | median)" \
            "$(awk '{print $2}' "$work/$e.att" | median)"
    done
fi

if want clients; then
    scripts/install-pydeps.sh >/dev/null
    py=${RRUN_PYTHON:-$PWD/.cache/venv/bin/python}
    cruns=${CLIENT_RUNS:-5}
    mkdir -p "$work/compose"
    cat >"$work/compose/docker-compose.yml" <<'YAML'
version: "3.8"
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo db ready; exec sleep 3600"]
    volumes:
      - dbdata:/data
  app:
    image: busybox
    depends_on: [db]
    ports:
      - "127.0.0.1:18080:8080"
    command: ["sh", "-c", "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www"]
volumes:
  dbdata:
YAML
    tc_suite() { # SOCKET
        DOCKER_HOST="unix://$1" TESTCONTAINERS_RYUK_DISABLED=true timeout 300 \
            nsenter --net="/run/netns/$ns" "$py" -m pytest -q -p no:cacheprovider \
            tests/py/test_testcontainers.py >"$work/tc.log" 2>&1 || { cat "$work/tc.log" >&2; return 1; }
    }
    compose_seq() { # SOCKET
        local c=(env DOCKER_HOST="unix://$1" COMPOSE_INTERACTIVE_NO_CLI=1 timeout 120 docker-compose
            -p benchc -f "$work/compose/docker-compose.yml")
        "${c[@]}" up -d && "${c[@]}" ps && "${c[@]}" exec -T app echo hi &&
            "${c[@]}" logs && "${c[@]}" stop && "${c[@]}" up -d && "${c[@]}" down -v
    }
    echo "== clients, $cruns runs alternating (s, median): testcontainers module; docker-compose sequence"
    for e in rrun docker; do : >"$work/$e.tc"; : >"$work/$e.dc"; done
    for _ in $(seq "$cruns"); do
        for e in rrun docker; do
            sock=$work/rrun.sock
            [ "$e" = docker ] && sock=$work/docker.sock
            t0=$(now_us); tc_suite "$sock"; t1=$(now_us)
            compose_seq "$sock" >"$work/compose.log" 2>&1 || { cat "$work/compose.log" >&2; exit 1; }
            t2=$(now_us)
            echo $((t1 - t0)) >>"$work/$e.tc"
            echo $((t2 - t1)) >>"$work/$e.dc"
        done
    done
    for e in rrun docker; do
        printf '%-8s testcontainers %6.2f s   docker-compose %6.2f s\n' "$e" \
            "$(echo "$(median <"$work/$e.tc") / 1000000" | bc -l)" \
            "$(echo "$(median <"$work/$e.dc") / 1000000" | bc -l)"
    done
fi

echo "== memory (RSS, MiB)"
mib() { echo "scale=1; $1 / 1024" | bc; }
[ -n "${mem_rrun_50:-}" ] && printf 'rrund idle %s, with 50 containers %s; one shim %s (PSS %s; 50 shims %s)\n' \
    "$(mib "$mem_idle_rrun")" "$(mib "$mem_rrun_50")" "$(mib "$mem_rrun_shim")" "$(mib "$pss_rrun_shim")" "$(mib "$mem_rrun_shims")"
[ -n "${mem_docker_50:-}" ] && printf 'dockerd+containerd idle %s, with 50 containers %s; one containerd-shim %s (PSS %s; 50 shims %s)\n' \
    "$(mib "$mem_idle_docker")" "$(mib "$mem_docker_50")" "$(mib "$mem_docker_shim")" "$(mib "$pss_docker_shim")" "$(mib "$mem_docker_shims")"
[ -n "${mem_podman_shim:-}" ] && printf 'podman: one conmon %s (PSS %s; 50 conmons %s)\n' \
    "$(mib "$mem_podman_shim")" "$(mib "$pss_podman_shim")" "$(mib "$mem_podman_shims")"
result "daemon RSS, idle" rrun "$(mib "$mem_idle_rrun")" MiB
result "daemon RSS, idle" docker "$(mib "$mem_idle_docker")" MiB
for e in rrun docker podman; do
    r=mem_${e}_shim p=pss_${e}_shim
    r=${!r:-} p=${!p:-}
    [ -n "$r" ] || continue
    result "shim RSS (one container)" "$e" "$(mib "$r")" MiB
    result "shim PSS (one container)" "$e" "$(mib "$p")" MiB
done
if [ -n "${mem_walk_rrun:-}" ]; then
    printf 'walkthrough (database + app running): rrund + shims %s; dockerd + containerd + shims %s\n' \
        "$(mib "$mem_walk_rrun")" "$(mib "$mem_walk_docker")"
fi
echo "(docker $docker_version; $(nproc) cores; $(uname -r))"
