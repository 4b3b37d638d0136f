#!/usr/bin/env bash
# netd benchmarks (root): attach cost, embedded DNS throughput and latency
# (dnsperf), bridge and published-port throughput (iperf3). Everything runs
# in network namespaces the benchmark creates and removes; no traffic leaves
# them. Needs the packages in scripts/deps/netd.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "scripts/bench-netd.sh: run it as root (it creates network namespaces)" >&2
    exit 1
fi
for tool in dnsperf iperf3 ip nft; do
    command -v "$tool" >/dev/null || { echo "scripts/bench-netd.sh: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done
timeout 1800 cargo build --release -p netd --example netd-bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/netd-bench"
timeout 300 "$bin"
