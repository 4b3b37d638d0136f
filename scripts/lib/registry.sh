# Sourced by the benchmarks that use a local registry (bench-images.sh,
# bench-push.sh, bench-build.sh): Debian's docker-registry on a free port of
# 127.0.0.1, storage in $work/regdata, its log in $work/reg.log.
#
#   registry_up [CMD...]   starts it, through CMD when given (`nsenter
#                          --net=…` for a namespace's loopback); sets $port
#                          and $reg_pid; returns once it answers, or exits
registry_up() {
    local p
    while :; do
        p=$(shuf -i 20000-60000 -n 1)
        "$@" bash -c "echo >/dev/tcp/127.0.0.1/$p" 2>/dev/null || break
    done
    port=$p
    cat >"$work/reg.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/regdata}}
http: {addr: 127.0.0.1:$port}
EOF
    "$@" docker-registry serve "$work/reg.yml" >"$work/reg.log" 2>&1 &
    reg_pid=$!
    for _ in $(seq 400); do
        "$@" curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    cat "$work/reg.log" >&2
    exit 1
}
