#!/usr/bin/env bash
# The fuzz targets of fuzz/ (issue 17) under libFuzzer, for as long as asked:
#   scripts/fuzz.sh [seconds-per-target] [target…]     (default 60 s, all)
#   RRUN_FUZZ_JOBS=2 runs two targets at once (default one).
# Needs nightly Rust (installed here with rustup if missing) and cargo-fuzz
# (installed with `cargo install cargo-fuzz --locked` if missing). Each
# target starts from its committed seeds (fuzz/corpus/<target>/, read only)
# and the inputs earlier runs kept (fuzz/target/corpus/<target>/). A crash,
# panic, leak, timeout (10 s) or out-of-memory (2 GiB) is a failure: its
# input is in fuzz/artifacts/<target>/; reproduce it with
# `cd fuzz && cargo +nightly fuzz run <target> artifacts/<target>/<file>`,
# fix it and copy the input into fuzz/corpus/<target>/ so the stable smoke
# (tests/fuzz_smoke.rs) keeps it fixed. One line per target in cargo's
# `test result:` form (scripts/reliability.sh counts them), then a table.
# Exits non-zero if any target failed.
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="$HOME/.cargo/bin:$PATH"

secs=${1:-60}
[ $# -gt 0 ] && shift
case "$secs" in ''|*[!0-9]*) echo "scripts/fuzz.sh: seconds per target must be a number, not '$secs'" >&2; exit 2;; esac

cargo +nightly --version >/dev/null 2>&1 || {
    echo "== installing nightly Rust"
    timeout 900 rustup toolchain install nightly --profile minimal || { echo "scripts/fuzz.sh: no nightly Rust (rustup toolchain install nightly)" >&2; exit 1; }
}
command -v cargo-fuzz >/dev/null || {
    echo "== installing cargo-fuzz"
    timeout 1200 cargo install cargo-fuzz --locked || { echo "scripts/fuzz.sh: cannot install cargo-fuzz" >&2; exit 1; }
}

# Its own target directory: sanitizer flags would rebuild the workspace's.
export CARGO_TARGET_DIR="$PWD/target"
mapfile -t all < <(cargo +nightly fuzz list)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
    printf '%s\n' "${all[@]}" | grep -qx "$t" || { echo "scripts/fuzz.sh: no target '$t' (${all[*]})" >&2; exit 2; }
done

echo "== build (nightly, address sanitizer, debug assertions)"
timeout 3600 cargo +nightly fuzz build -O --debug-assertions || { echo "scripts/fuzz.sh: build failed" >&2; exit 1; }

# The binaries built above run directly: `cargo fuzz run` would rebuild
# (and hold cargo's lock) whenever the sources changed meanwhile, so runs
# at once would wait for each other. RRUN_FUZZ_JOBS targets run at once.
bin_dir="target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
jobs=${RRUN_FUZZ_JOBS:-1}
fuzz_one() {
    local t=$1 log="target/fuzz-$1.log" before after rc runs artifact
    mkdir -p "target/corpus/$t" "artifacts/$t"
    before=$(ls "artifacts/$t" | wc -l)
    timeout $((secs + 300)) "$bin_dir/$t" -artifact_prefix="artifacts/$t/" "target/corpus/$t" "corpus/$t" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    artifact=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -1 | sed 's/Test unit written to //')
    after=$(ls "artifacts/$t" | wc -l)
    if [ "$rc" = 0 ] && [ "$after" = "$before" ]; then
        echo "test result: ok. 1 passed; 0 failed; ($t: ${runs:-?} runs in ${secs}s)"
        echo "$t|${runs:-?}|ok|" >"target/fuzz-$t.row"
    else
        grep -E 'ERROR: |panicked at|^SUMMARY' "$log" | head -5
        echo "test result: FAILED. 0 passed; 1 failed; ($t: exit $rc, log fuzz/$log)"
        echo "$t|${runs:-?}|FAILED|${artifact:-see fuzz/$log}" >"target/fuzz-$t.row"
    fi
}
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    echo "== fuzz $t for ${secs}s"
    rm -f "target/fuzz-$t.row"
    fuzz_one "$t" &
done
wait
status=0
rows=()
for t in "${targets[@]}"; do
    row=$(cat "target/fuzz-$t.row" 2>/dev/null || echo "$t|?|FAILED|no result")
    case "$row" in *"|ok|"*) ;; *) status=1 ;; esac
    rows+=("$row")
done

echo
printf '%-22s | %10s | %6s | %s\n' target runs result input
printf -- '-----------------------+------------+--------+------\n'
for r in "${rows[@]}"; do
    IFS='|' read -r t n res a <<<"$r"
    printf '%-22s | %10s | %6s | %s\n' "$t" "$n" "$res" "$a"
done
echo "(${secs}s per target, $jobs at once)"
exit "$status"
