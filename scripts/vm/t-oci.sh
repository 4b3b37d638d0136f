# rrun-oci on cgroup v2 with both drivers: cgroupfs (the default) and
# systemd (--systemd-cgroup, slice:prefix:name paths as containerd and
# Podman pass them; the container becomes a transient scope).
# shellcheck shell=bash

# bundle DIR CGROUPS_PATH: busybox sleeping, with memory and pids limits.
bundle() {
    mkdir -p "$1"
    cp -a timages/busybox/rootfs "$1/rootfs"
    (cd "$1" && rrun-oci spec)
    jq --arg cg "$2" '.process.terminal = false | .process.args = ["sleep", "600"]
        | .linux.cgroupsPath = $cg
        | .process.capabilities |= map_values(. + ["CAP_MKNOD"])
        | .linux.resources.memory.limit = 50331648 | .linux.resources.pids.limit = 30
        | .linux.resources.cpu = {"quota": 20000, "period": 100000}' \
        "$1/config.json" >"$1/config.json.new" && mv "$1/config.json.new" "$1/config.json"
}

# oci_run_d ARGS...: `rrun-oci ARGS run -d …` with stdio on files: a detached
# container keeps the stdio it is given, and a pipe would never close.
oci_run_d() { rrun-oci "$@" </dev/null >>/tmp/oci-run.log 2>&1; }

b=/tmp/oci-fs
bundle "$b" /vmtest/oci-fs
t "rrun-oci run -d (cgroupfs driver)" oci_run_d run -d --bundle "$b" oci-fs
eq "cgroupfs: memory.max" 50331648 "$(cat /sys/fs/cgroup/vmtest/oci-fs/memory.max)"
eq "cgroupfs: pids.max" 30 "$(cat /sys/fs/cgroup/vmtest/oci-fs/pids.max)"
eq "cgroupfs: cpu.max" "20000 100000" "$(cat /sys/fs/cgroup/vmtest/oci-fs/cpu.max)"
eq "cgroupfs: the container's init is in it" "$(rrun-oci state oci-fs | jq -r .pid)" \
    "$(cat /sys/fs/cgroup/vmtest/oci-fs/cgroup.procs)"
t "rrun-oci delete -f (cgroupfs)" rrun-oci delete -f oci-fs
t "cgroupfs: the cgroup is gone after delete" test ! -e /sys/fs/cgroup/vmtest/oci-fs
rmdir /sys/fs/cgroup/vmtest 2>/dev/null || true

b=/tmp/oci-sd
bundle "$b" system.slice:rrun-vmtest:oci-sd
tnot "without --systemd-cgroup a slice:prefix:name path is refused" oci_run_d run -d --bundle "$b" oci-sd-refused
tnot "the refused container left no state" rrun-oci state oci-sd-refused
t "rrun-oci --systemd-cgroup run -d" oci_run_d --systemd-cgroup run -d --bundle "$b" oci-sd
scope=/sys/fs/cgroup/system.slice/rrun-vmtest-oci-sd.scope
eq "systemd: the container is a transient scope" active "$(systemctl is-active rrun-vmtest-oci-sd.scope)"
eq "systemd: memory.max of the scope" 50331648 "$(cat "$scope/memory.max")"
eq "systemd: pids.max of the scope" 30 "$(cat "$scope/pids.max")"
eq "systemd: cpu.max of the scope" "20000 100000" "$(cat "$scope/cpu.max")"
eq "systemd: systemd knows the limit (MemoryMax)" 50331648 "$(systemctl show -P MemoryMax rrun-vmtest-oci-sd.scope)"
eq "systemd: the container's init is in the scope" "$(rrun-oci state oci-sd | jq -r .pid)" \
    "$(cat "$scope/cgroup.procs")"
# (seen from the host: inside, the cgroup namespace shows "/")
t "systemd: exec joins the scope" bash -c 'rrun-oci exec -d --pid-file /tmp/exec.pid oci-sd sleep 60 </dev/null >/dev/null 2>&1 &&
    grep -q "^0::/system.slice/rrun-vmtest-oci-sd.scope$" /proc/$(cat /tmp/exec.pid)/cgroup'
# The device policy under the systemd driver: the scope gets the eBPF filter too.
vda="$((16#$(stat -c %t /dev/vda))) $((16#$(stat -c %T /dev/vda)))"
b=/tmp/oci-dev
bundle "$b" system.slice:rrun-vmtest:oci-dev
# Docker's rules: any node may be made (m), only the listed ones opened.
jq --arg s "mknod /tmp/disk b $vda && echo made; head -c 512 /tmp/disk | wc -c" '.process.args = ["sh", "-c", $s] | .root.readonly = false
    | .linux.resources.devices = [{"allow": false, "access": "rwm"},
        {"allow": true, "type": "b", "access": "m"}, {"allow": true, "type": "c", "access": "m"}]' \
    "$b/config.json" >"$b/config.json.new" && mv "$b/config.json.new" "$b/config.json"
eq "systemd: a disk node can be made (CAP_MKNOD) but not read" "made 0" \
    "$(timeout 120 rrun-oci --systemd-cgroup run --bundle "$b" oci-dev 2>/dev/null </dev/null | tr '\n' ' ' | sed 's/ $//')"
t "systemd: kill" rrun-oci kill oci-sd KILL
wait_for 20 bash -c '[ "$(rrun-oci state oci-sd | jq -r .status)" = stopped ]'
t "systemd: delete" rrun-oci delete oci-sd
wait_for 20 test ! -e "$scope"
t "systemd: the scope is gone after delete" test ! -e "$scope"
eq "systemd: the unit is gone" inactive "$(systemctl is-active rrun-vmtest-oci-sd.scope)"

# A nested slice, as the kubelet's pods: kubepods-burstable-pod1.slice.
b=/tmp/oci-pod
bundle "$b" kubepods-burstable-podvm1.slice:cri-containerd:oci-pod
t "systemd: run in a nested slice" oci_run_d --systemd-cgroup run -d --bundle "$b" oci-pod
t "systemd: the scope is under the expanded slice path" test -e \
    /sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podvm1.slice/cri-containerd-oci-pod.scope/cgroup.procs
t "systemd: delete -f in the nested slice" rrun-oci delete -f oci-pod

# The cgroup cases of tests/oci.rs (built on the host), on cgroup v2.
cases=(memory_limit_is_enforced pids_limit_stops_a_fork_bomb delete_force_leaves_no_mount_cgroup_or_process
    cgroup_namespace_hides_the_host_hierarchy_and_limits_show device_cgroup_denies_what_no_rule_allows
    cgroup_resources_reach_the_kernel cgroup_bind_without_a_cgroup_namespace_is_read_only
    a_cgroup_with_someone_elses_processes_is_refused events_report_oom_kills_and_stats_as_runc_does)
out=$(RRUN_BIN_DIR=/usr/local/bin RRUN_TEST_IMAGES=$PWD/timages timeout 600 bin/oci-tests --exact --test-threads 2 "${cases[@]}" 2>&1)
echo "$out" | grep -E '^test |panicked|assert' | sed 's/^/    /'
for c in "${cases[@]}"; do
    if grep -q "^test $c \.\.\. ok$" <<<"$out"; then ok "tests/oci.rs $c"; else bad "tests/oci.rs $c" "not ok (above)"; fi
done
