# Helpers of the in-VM suite (sourced by suite.sh). Every external command
# has a timeout; waits poll against a deadline.
# shellcheck shell=bash
pass=0
fail=0
export RRUN_NO_AUTOSTART=1 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "[$(date +%T)] $*"; }
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

# timed SECS CMD...: CMD (a command or a shell function) under timeout(1).
timed() {
    local secs=$1
    shift
    if [ "$(type -t "$1")" = function ]; then
        export -f "$1"
        set -- bash -c '"$@"' _ "$@"
    fi
    timeout "$secs" "$@"
}

# t NAME CMD...: passes when CMD (a command or a function) succeeds within
# $T seconds (120 unless given).
t() {
    local name=$1 out
    shift
    if out=$(timed "${T:-120}" "$@" 2>&1); then ok "$name"; else bad "$name" "$(tail -8 <<<"$out")"; fi
}

# tnot NAME CMD...: passes when CMD fails (within 120 s).
tnot() {
    local name=$1 out
    shift
    if out=$(timed 120 "$@" 2>&1); then bad "$name" "succeeded: $(tail -3 <<<"$out")"; else ok "$name"; fi
}

# eq NAME WANT GOT (WANT is never empty: two empty strings prove nothing)
eq() { if [ -n "$2" ] && [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "want '$2', got '$3'"; fi; }

# wait_for SECS CMD...: polls CMD every 0.2 s until it succeeds or SECS pass.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until timed 20 "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

r() { timeout 120 rrun "$@"; }
export -f r

# The cgroup v2 directory of a running container's init.
cg_dir() {
    local pid
    pid=$(r inspect -f '{{.State.Pid}}' "$1") || return 1
    echo "/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$pid/cgroup")"
}
