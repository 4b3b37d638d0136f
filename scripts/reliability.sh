#!/usr/bin/env bash
# The reliability families of issue 17, each run as its own cargo test
# binaries, with one closing table: family | tests | passed | failed.
# Run as root after a build (scripts/test.sh builds everything and the test
# images); `scripts/reliability.sh security hostile` runs only those
# families. Exits non-zero if any test failed or a family has no tests yet.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "scripts/reliability.sh: run it as root; the tests create namespaces, mounts, cgroups and nftables tables" >&2
    exit 1
fi
export PATH="$HOME/.cargo/bin:$PATH"
export RRUN_TEST_IMAGES="${RRUN_TEST_IMAGES:-$PWD/.cache/images}"
[ -e "$RRUN_TEST_IMAGES/busybox/rootfs/bin/busybox" ] || {
    echo "scripts/reliability.sh: no test images in $RRUN_TEST_IMAGES: run scripts/build-test-images.sh" >&2
    exit 1
}

# The network rule, as in scripts/test.sh: nothing a test starts leaves
# through the host's uplink.
. scripts/lib/guard.sh
trap guard_down EXIT
guard_up reliability

# Each family: one line per cargo test run, "<cargo args> [-- <exact test names>]".
# The CVE tests that predate the suite are run from where they live.
family_security=(
    "--test security_oci"
    "--test security_daemon"
    "--test security_net"
    "--test oci -- --exact init_binary_cannot_be_overwritten_from_the_container cwd_through_proc_self_fd_is_refused no_runtime_fd_leaks_into_the_container mount_target_symlink_cannot_escape_the_rootfs proc_is_never_mounted_through_a_symlink"
    "--test archive -- --exact a_symlink_to_root_stays_inside_the_container"
    "-p rrun-image --test unpack"
    "-p netd --test ipv6"
    "-p netd --test firewall"
)
family_hostile=("--test hostile_api" "--test hostile_images" "--test hostile_registry")
# Crashes and faults: kill -9 of rrund during requests (more rounds here
# than in scripts/test.sh; its line "crash_daemon: N rounds, K kills ..."
# goes into the table), killed shims, inits and rrun-oci, torn state at
# start-up, a silent or gone upstream DNS, a full data root.
export RRUN_CRASH_ROUNDS="${RRUN_CRASH_ROUNDS:-100}"
family_crash=(
    "--test crash_daemon -- --nocapture"
    "--test crash_parts"
    "--test crash_state"
    "--test crash_dns -- --nocapture"
    "--test crash_disk"
)
# A family with no test file is reported as such, never as passed.
family_load=()
family_fuzz=()
# Load: 100 clients, 200 containers on 4 networks per two rounds, rounds
# repeated for 5 minutes (scripts/test.sh runs the same test small, two
# rounds); its "load: …" line goes into the table.
export RRUN_LOAD_CLIENTS="${RRUN_LOAD_CLIENTS:-100}" RRUN_LOAD_CONTAINERS="${RRUN_LOAD_CONTAINERS:-200}" \
    RRUN_LOAD_NETWORKS="${RRUN_LOAD_NETWORKS:-4}" RRUN_LOAD_SECONDS="${RRUN_LOAD_SECONDS:-300}"
[ -e tests/load.rs ] && family_load=("--test load -- --nocapture")
# fuzz: the stable smoke over the seed corpus, then libFuzzer on every
# target for RRUN_FUZZ_SECONDS each (default 60).
[ -x scripts/fuzz.sh ] && family_fuzz=("--test fuzz_smoke" "fuzz")

families=("$@")
[ ${#families[@]} -gt 0 ] || families=(security hostile crash load fuzz)

log=$(mktemp)
rows=()
status=0
for fam in "${families[@]}"; do
    declare -p "family_$fam" >/dev/null 2>&1 || { echo "unknown family: $fam (security, hostile, crash, load, fuzz)" >&2; exit 2; }
    declare -n runs="family_$fam"
    if [ ${#runs[@]} -eq 0 ]; then
        rows+=("$fam|0|0|0|not written yet")
        status=1
        continue
    fi
    passed=0 failed=0 note=""
    for run in "${runs[@]}"; do
        echo "== $fam: $run"
        if [ "$run" = fuzz ]; then
            fuzz_secs=${RRUN_FUZZ_SECONDS:-60}
            timeout $((3600 + 20 * fuzz_secs)) scripts/fuzz.sh "$fuzz_secs" 2>&1 | tee "$log"
        else
            # shellcheck disable=SC2086 # the run line is words on purpose
            timeout 1800 cargo test --locked --no-fail-fast $run 2>&1 | tee "$log"
        fi
        rc=${PIPESTATUS[0]}
        read -r p f < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
            END { printf "%d %d\n", p, f }' "$log")
        # A run that failed with no failed test (a build error, a crashed
        # or timed-out binary) counts as one failure.
        if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
            f=1
            note="$note${note:+; }'$run' exited $rc"
        fi
        # What a test reports of itself (rounds and kills) goes in the note.
        summary=$(grep -aoE '^(crash_daemon: [0-9]+ rounds, [0-9]+ kills[^;]*|load: .*)' "$log" | tail -1)
        [ -z "$summary" ] || note="$note${note:+; }$summary"
        passed=$((passed + p)) failed=$((failed + f))
    done
    [ "$failed" -eq 0 ] || status=1
    rows+=("$fam|$((passed + failed))|$passed|$failed|$note")
    unset -n runs
done
rm -f "$log"

echo
printf '%-10s | %5s | %6s | %6s | %s\n' family tests passed failed note
printf -- '-----------+-------+--------+--------+------\n'
for r in "${rows[@]}"; do
    IFS='|' read -r f t p x n <<<"$r"
    printf '%-10s | %5s | %6s | %6s | %s\n' "$f" "$t" "$p" "$x" "$n"
done
exit "$status"
