# Timing without the timer in the interval (sourced): `stamp` and `timed`
# take bash's own clock (EPOCHREALTIME) in the shell itself, and `timed`
# keeps its watchdog beside the command instead of `timeout` in front of it.
# stamp VAR: now_us into VAR, without the forked subshell of $(now_us)
# (its exit, after the stamp, is inside the interval).
stamp() { printf -v "$1" %s "${EPOCHREALTIME//[.,]/}"; }
# The clients' per-command time limit: `timeout`, an exec (about 1 ms
# here) in front of every command. `timed` empties it for what it times.
to=(timeout 120)
# timed_init: opens the FIFO `timed`'s watchdogs wait on, as fd $never
# (read and write: no data, no EOF), on /run, its path removed at once
# (the daemons a script starts later inherit the fd, not a busy mount).
timed_init() {
    local f
    f=$(mktemp -u -p /run rrun-bench-never.XXXXXX)
    mkfifo "$f"
    exec {never}<>"$f"
    rm -f "$f"
}
# timed SECONDS CMD...: runs CMD with t0 and t1 (µs) stamped around it;
# no `timeout` in front of its commands (`to`), but a watchdog beside it, a
# forked shell blocked in `read`, that kills it after SECONDS (and the
# children of a shell function's subshell). Needs `timed_init`.
timed() {
    local limit=$1 pid wd rc=0
    shift
    : "${never:?timed needs timed_init}"
    local to=()
    stamp t0
    "$@" &
    pid=$!
    (read -r -t "$limit" -u "$never" _ || { pkill -KILL -P "$pid"; kill -KILL "$pid"; } 2>/dev/null) &
    wd=$!
    wait "$pid" || rc=$?
    stamp t1
    kill "$wd" 2>/dev/null || true
    wait "$wd" 2>/dev/null || true
    return "$rc"
}
