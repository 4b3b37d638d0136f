# cgroup v2 through rrund (run under the unit): limits applied and read back
# from the v2 files, stats from them, OOM kills, the delegated subtree, and
# every cgroup gone after rm.
# shellcheck shell=bash

t "run with memory, cpu, cpuset and pids limits" r run -d --name lim -m 64m --memory-swap 128m \
    --memory-reservation 32m --cpus 0.5 -c 512 --cpuset-cpus 1 --cpuset-mems 0 --pids-limit 50 \
    busybox sleep 600
cg=$(cg_dir lim)
say "lim's cgroup: $cg"
eq "memory.max" 67108864 "$(cat "$cg/memory.max")"
eq "memory.swap.max (--memory-swap minus -m)" 67108864 "$(cat "$cg/memory.swap.max")"
eq "memory.low (--memory-reservation)" 33554432 "$(cat "$cg/memory.low")"
eq "cpu.max (--cpus 0.5)" "50000 100000" "$(cat "$cg/cpu.max")"
# shares to weight as runc >= 1.3 and libcgroups convert them (1024, the
# default, becomes 100, the v2 default): 10^((l^2 + 125 l)/612 - 7/34), l = log2(512)
eq "cpu.weight (-c 512)" 59 "$(cat "$cg/cpu.weight")"
eq "cpuset.cpus" 1 "$(cat "$cg/cpuset.cpus")"
eq "cpuset.mems" 0 "$(cat "$cg/cpuset.mems")"
eq "pids.max" 50 "$(cat "$cg/pids.max")"
eq "the container sees the limit as the kernel applies it" 67108864 \
    "$(r exec lim cat /sys/fs/cgroup/memory.max 2>/dev/null || r exec lim sh -c 'cat /sys/fs/cgroup$(sed -n s/^0:://p /proc/self/cgroup)/memory.max')"
r exec lim sh -c 'for i in $(seq 80); do sleep 10 & done; wait' >/dev/null 2>&1 || true
eq "pids.events counts the refused forks" 1 "$(awk '$1 == "max" { print ($2 > 0) }' "$cg/pids.events")"

# stats: figures from the v2 files (memory.current, memory.max, cpu.stat, pids.current).
stats=$(curl -sf -m 20 --unix-socket /run/rrun/rrun.sock "http://rrun/containers/lim/stats?stream=false")
eq "stats: memory limit from memory.max" 67108864 "$(jq -r .memory_stats.limit <<<"$stats")"
usage=$(jq -r .memory_stats.usage <<<"$stats")
t "stats: memory usage from memory.current (${usage})" test "${usage:-0}" -gt 0
t "stats: cpu usage from cpu.stat" test "$(jq -r .cpu_stats.cpu_usage.total_usage <<<"$stats")" -gt 0
# The bomb's sleeps stay as zombies (sleep, the container's pid 1, reaps
# nothing), so the count is stable between the two reads.
eq "stats: pids.current" "$(cat "$cg/pids.current")" "$(jq -r .pids_stats.current <<<"$stats")"
eq "stats: pids.max" 50 "$(jq -r .pids_stats.limit <<<"$stats")"
t "rrun stats --no-stream" r stats --no-stream lim

# OOM: a process over memory.max is killed by the kernel; the container exits 137.
# Containers start at oom_score_adj 0 (Docker's default), not at the -500 of
# the unit's OOMScoreAdjust that rrund and its shims run with.
eq "the container's oom_score_adj is 0, not rrund's" 0 "$(cat "/proc/$(r inspect -f '{{.State.Pid}}' lim)/oom_score_adj")"

r run --name oom -m 32m --memory-swap 32m busybox sh -c 'x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived' >/dev/null 2>&1
eq "an out-of-memory container exits 137" 137 "$(r inspect -f '{{.State.ExitCode}}' oom)"
eq "State.OOMKilled (memory.events oom_kill)" true "$(r inspect -f '{{.State.OOMKilled}}' oom)"
t "a container that was not OOM-killed says false" bash -c "rrun run --name nooom busybox true && test \"\$(rrun inspect -f '{{.State.OOMKilled}}' nooom)\" = false && rrun rm nooom"
t "rm oom" r rm oom

# pause/unpause: cgroup v2's freezer (cgroup.freeze, and the kernel's
# "frozen 1" in cgroup.events once every process stopped).
t "pause lim" r pause lim
eq "cgroup.freeze after pause" 1 "$(cat "$cg/cgroup.freeze")"
wait_for 20 grep -qx 'frozen 1' "$cg/cgroup.events"
eq "cgroup.events: frozen" "frozen 1" "$(grep '^frozen' "$cg/cgroup.events")"
eq "inspect: paused" "paused true" "$(r inspect -f '{{.State.Status}} {{.State.Paused}}' lim)"
t "unpause lim" r unpause lim
eq "cgroup.freeze after unpause" 0 "$(cat "$cg/cgroup.freeze")"
eq "inspect: running again" "running false" "$(r inspect -f '{{.State.Status}} {{.State.Paused}}' lim)"
# (not an exec: the fork bomb above left lim at its pids.max)
wait_for 20 grep -qx 'frozen 0' "$cg/cgroup.events"
eq "cgroup.events: thawed" "frozen 0" "$(grep '^frozen' "$cg/cgroup.events")"

# The device policy (on cgroup v2 an eBPF program attached to the
# container's cgroup, as runc's): the default capabilities allow mknod, but
# opening a device no rule allows must fail, here the VM's own root disk.
vda="$((16#$(stat -c %t /dev/vda))) $((16#$(stat -c %T /dev/vda)))"
eq "a disk node can be made (CAP_MKNOD) but not read" "made 0" \
    "$(r run --rm busybox sh -c "mknod /tmp/disk b $vda && echo made; head -c 512 /tmp/disk | wc -c" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"

# Block IO: per-device limits in io.max; the weight as runc writes it,
# io.bfq.weight as given under the BFQ scheduler, else io.weight with
# 10-1000 scaled to 1-10000; `update --blkio-weight` changes it live.
vdn="$((16#$(stat -c %t /dev/vda))):$((16#$(stat -c %T /dev/vda)))"
t "run with io limits" r run -d --name io --blkio-weight 300 --device-read-bps /dev/vda:1mb \
    --device-write-bps /dev/vda:2mb --device-read-iops /dev/vda:100 --device-write-iops /dev/vda:200 \
    busybox sleep 600
cgio=$(cg_dir io)
eq "io.max (--device-read-bps, -write-bps, -read-iops, -write-iops)" \
    "$vdn rbps=1048576 wbps=2097152 riops=100 wiops=200" "$(grep "^$vdn " "$cgio/io.max")"
if [ -e "$cgio/io.bfq.weight" ]; then wf=io.bfq.weight w300=300 w500=500; else wf=io.weight w300=2930 w500=4950; fi
eq "$wf (--blkio-weight 300)" "default $w300" "$(head -1 "$cgio/$wf")"
t "update --blkio-weight 500" r update --blkio-weight 500 io
eq "$wf after update" "default $w500" "$(head -1 "$cgio/$wf")"
eq "inspect: BlkioDeviceReadBps" '[{"Path":"/dev/vda","Rate":1048576}]' \
    "$(r inspect -f '{{json .HostConfig.BlkioDeviceReadBps}}' io)"

# --cgroupns: private (Docker's default on cgroup v2) shows the container's
# cgroup as / and only its own subtree under /sys/fs/cgroup; host shows the
# full path (and the container's own cgroup bound at /sys/fs/cgroup).
eq "inspect: CgroupnsMode private by default" private "$(r inspect -f '{{.HostConfig.CgroupnsMode}}' io)"
t "rm -f io" r rm -f io
own=$(r run --rm --cgroupns private busybox sh -c \
    'cat /proc/self/cgroup; grep -qx 1 /sys/fs/cgroup/cgroup.procs && echo own; ls /sys/fs/cgroup | grep -c "slice$"')
eq "--cgroupns private: / in /proc/self/cgroup, its own subtree at /sys/fs/cgroup" "0::/ own 0" "$(echo $own)"
own=$(r run --rm busybox cat /proc/self/cgroup)
eq "no --cgroupns: private" "0::/" "$own"
full=$(r run --rm --cgroupns host busybox sh -c 'cat /proc/self/cgroup; grep -qx 1 /sys/fs/cgroup/cgroup.procs && echo own')
eq "--cgroupns host: the full path, its own cgroup at /sys/fs/cgroup" "0::/rrun/ own" \
    "$(echo $full | sed -E 's/[0-9a-f]{64}//')"

# The delegated subtree (Delegate=yes): no process in a cgroup that has
# child cgroups (cgroup v2's no-internal-process rule, which systemd's
# delegation documentation asks of the delegate).
unit_cg=/sys/fs/cgroup$(systemctl show -P ControlGroup rrund)
say "rrund.service's cgroup: $unit_cg"
inner=$(for d in $(find "$unit_cg" /sys/fs/cgroup/rrun -mindepth 0 -type d 2>/dev/null); do
    if [ -n "$(find "$d" -mindepth 1 -maxdepth 1 -type d)" ] && [ -s "$d/cgroup.procs" ]; then echo "$d"; fi
done)
t "no processes in inner cgroups of rrund's subtree ($inner)" test -z "$inner"

t "rm -f lim" r rm -f lim
t "lim's cgroup is gone after rm" test ! -e "$cg"
left=$(find /sys/fs/cgroup -type d -name 'rrun*' ! -name rrun-vm-suite.service ! -name rrund.service 2>/dev/null | tr '\n' ' ')
say "cgroups named rrun left: ${left:-none}"
