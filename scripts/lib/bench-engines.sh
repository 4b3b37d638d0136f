# Sourced by the benchmarks that compare rrund with dockerd on one machine
# (bench-daemon.sh, bench-compose.sh, bench-build.sh): timing helpers, and
# both daemons started in a network namespace of the script's own, whose only
# upstream DNS server is a stub on its 127.0.0.1 answering NXDOMAIN.
#
# The caller sets $work (its temporary directory), $ns (the namespace's
# name, also dockerd's containerd namespace), $bin (rrun's binaries) and
# $images (the test images), and defines rr and dk, the clients of
# $work/rrun.sock and $work/docker.sock. Root.

rrund_pid='' dockerd_pid='' stub_pid=''

# Microseconds from bash's own clock: a `date` process for each stamp was
# 2-4 ms of this host's time inside every timed interval (its start is
# inside the end stamp), 6 ms with `timeout` on a 17 ms `run --rm`.
now_us() { echo "${EPOCHREALTIME//[.,]/}"; }
. "$(dirname "${BASH_SOURCE[0]}")/timed.sh"
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
wait_until() { # SECONDS CMD...
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}
stop_pid() { # PID
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
}

# The namespace, its loopback up, the DNS stub in it ($stub_pid).
netns_up() {
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    nsenter --net="/run/netns/$ns" python3 scripts/lib/dns-stub.py 127.0.0.1 53 &
    stub_pid=$!
}

# rrund ($rrund_pid) and dockerd ($dockerd_pid) in the namespace, each with
# busybox loaded (from the OCI layout, and a docker-archive of it).
engines_up() {
    tar -C "$images/busybox/oci" -cf "$work/busybox-oci.tar" .
    skopeo copy -q "oci:$images/busybox/oci:latest" "docker-archive:$work/busybox-docker.tar:busybox:latest"
    nsenter --net="/run/netns/$ns" "$bin/rrund" -H "unix://$work/rrun.sock" --data-root "$work/rrun/data" \
        --exec-root "$work/rrun/exec/oci" --config-file /nonexistent --dns 127.0.0.1 \
        --log-level warn >"$work/rrund.log" 2>&1 &
    rrund_pid=$!
    wait_until 30 rr version || { cat "$work/rrund.log"; exit 1; }
    local id
    id=$(rr load -i "$work/busybox-oci.tar" | sed -n 's/^Loaded image ID: //p')
    rr tag "$id" busybox >/dev/null

    mkdir -p "$work/docker"
    nsenter --net="/run/netns/$ns" dockerd --data-root "$work/docker/data" --exec-root "$work/docker/exec" \
        --pidfile "$work/docker/dockerd.pid" -H "unix://$work/docker.sock" \
        --containerd-namespace "$ns" --containerd-plugins-namespace "${ns}p" \
        --dns 127.0.0.1 --storage-driver overlay2 --log-level warn >"$work/dockerd.log" 2>&1 &
    dockerd_pid=$!
    wait_until 60 dk version || { tail -20 "$work/dockerd.log"; exit 1; }
    dk load -q -i "$work/busybox-docker.tar" >/dev/null
}

# Both daemons' containers removed and the daemons stopped, the stub
# stopped, what is still mounted under $work unmounted, the namespace and
# $work removed. Best effort: for an EXIT trap.
engines_down() {
    set +e
    if [ -n "$rrund_pid" ]; then
        for c in $(rr ps -aq 2>/dev/null); do rr rm -f "$c" >/dev/null 2>&1; done
        stop_pid "$rrund_pid"
    fi
    if [ -n "$dockerd_pid" ]; then
        dk rm -f $(dk ps -aq 2>/dev/null) >/dev/null 2>&1
        stop_pid "$dockerd_pid"
    fi
    stop_pid "$stub_pid"
    grep " $work" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
    ip netns delete "$ns" 2>/dev/null
    rm -rf "$work"
}
