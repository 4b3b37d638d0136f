#!/usr/bin/env bash
# netd benchmarks (root): attach cost, embedded DNS throughput and latency
# (dnsperf), bridge and published-port throughput (iperf3). Everything runs
# in network namespaces the benchmark creates and removes; no traffic leaves
# them. Needs the packages in scripts/deps/netd.txt.
#
#   scripts/bench-netd.sh                      everything, once
#   scripts/bench-netd.sh --dns                the DNS part only
#   scripts/bench-netd.sh --dns --compare OLD [--rounds N]
#       the DNS part of OLD (an older netd-bench binary, e.g. one built from
#       main) and of this tree's, alternating, N rounds (5); prints each run
#       and the medians of queries/s and average latency.
# NETD_BENCH_DNS_SECS and NETD_BENCH_DNS_INFLIGHT (see netd-bench.rs) pass
# through.
set -euo pipefail
cd "$(dirname "$0")/.."
only="" old="" rounds=5
while [ $# -gt 0 ]; do
    case $1 in
        --dns) only=dns ;;
        --compare) old=$2; shift ;;
        --rounds) rounds=$2; shift ;;
        *) echo "scripts/bench-netd.sh: unknown argument $1 (see the comment at the top)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$(id -u)" != 0 ]; then
    echo "scripts/bench-netd.sh: run it as root (it creates network namespaces)" >&2
    exit 1
fi
for tool in dnsperf iperf3 ip nft; do
    command -v "$tool" >/dev/null || { echo "scripts/bench-netd.sh: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done
if [ -n "$old" ] && [ ! -x "$old" ]; then
    echo "scripts/bench-netd.sh: $old is not an executable netd-bench" >&2
    exit 1
fi
timeout 1800 cargo build --release -p netd --example netd-bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/netd-bench"
if [ -z "$old" ]; then
    NETD_BENCH_ONLY=$only timeout 300 "$bin"
    exit 0
fi
# Alternating, so a change in the machine's load hits both alike.
declare -A qps lat
for r in $(seq 1 "$rounds"); do
    for which in before after; do
        b=$bin
        [ "$which" = before ] && b=$old
        out=$(NETD_BENCH_ONLY=dns timeout 300 "$b")
        q=$(sed -n 's/.*Queries per second: *\([0-9.]*\).*/\1/p' <<<"$out")
        l=$(sed -n 's/.*Average Latency (s): *\([0-9.]*\).*/\1/p' <<<"$out" | awk '{print $1 * 1000}')
        c=$(grep 'dns cpu' <<<"$out" | sed 's/^dns cpu: //' || true)
        printf 'round %s %-6s %10s q/s  %6.3f ms  %s\n' "$r" "$which" "$q" "$l" "$c"
        qps[$which]+="$q "
        lat[$which]+="$l "
    done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for which in before after; do
    printf 'median %-6s %10.0f q/s  %6.3f ms  (%s rounds)\n' "$which" \
        "$(median <<<"${qps[$which]}")" "$(median <<<"${lat[$which]}")" "$rounds"
done
