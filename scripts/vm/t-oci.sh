# rrun-oci on cgroup v2 with both drivers: cgroupfs (the default) and
# systemd (--systemd-cgroup, slice:prefix:name paths as containerd and
# Podman pass them; the container becomes a transient scope).
# shellcheck shell=bash

# bundle DIR CGROUPS_PATH: busybox sleeping, with memory and pids limits.
bundle() {
    mkdir -p "$1"
    cp -a images/busybox-rootfs "$1/rootfs"
    (cd "$1" && rrun-oci spec)
    jq --arg cg "$2" '.process.terminal = false | .process.args = ["sleep", "600"]
        | .linux.cgroupsPath = $cg
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
t "systemd: exec joins the scope" rrun-oci exec oci-sd sh -c "grep -q rrun-vmtest-oci-sd.scope /proc/self/cgroup"
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
