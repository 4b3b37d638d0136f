# rrun-oci under its real callers on a systemd host: Debian's containerd
# (its io.containerd.runc.v2 shim with BinaryName rrun-oci and
# SystemdCgroup, as ctr's --runc-binary and --runc-systemd-cgroup set them)
# and Debian's Podman with its default systemd cgroup manager. Each
# container is a transient scope; its limits are the scope's. The busybox
# image comes in as an OCI layout (timages/busybox/oci), tarred into the
# archive ctr and podman take.
# shellcheck shell=bash

callers_start=$SECONDS
tar -C timages/busybox/oci -cf /tmp/busybox-oci.tar .
oci=/usr/local/bin/rrun-oci
c() { timeout 120 ctr -n rrun-vm "$@"; }
p() { timeout 120 podman --runtime "$oci" "$@"; }
export oci
export -f c p

# --- containerd --------------------------------------------------------
# The service, with no CRI plugin (the CRI case below starts a containerd
# of its own).
mkdir -p /etc/containerd
printf 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n' >/etc/containerd/config.toml
t "systemctl restart containerd" systemctl restart containerd
wait_for 60 c version || bad "containerd answers" "ctr version failed for 60 s"
t "ctr images import (the busybox OCI archive)" c images import --base-name docker.io/library/busybox /tmp/busybox-oci.tar
img=docker.io/library/busybox:latest
sd=(--runc-binary "$oci" --runc-systemd-cgroup)

# (ctr run --rm is tests/containerd.rs' on the host: only what the systemd
# driver changes is run here, to keep the VM's time down.)
t "ctr run -d (rrun-oci, systemd cgroup)" c run -d "${sd[@]}" --cgroup rrunctr.slice:ctr:vm1 \
    --memory-limit 50331648 "$img" vm1 sleep 600
scope=/sys/fs/cgroup/rrunctr.slice/ctr-vm1.scope
task_status() { c task ls | awk -v id="$1" '$1 == id {print $3}'; }
eq "the task is RUNNING" RUNNING "$(task_status vm1)"
eq "the task is a transient scope" active "$(systemctl is-active ctr-vm1.scope)"
eq "the scope is under the slice of the cgroupsPath" rrunctr.slice "$(systemctl show -P Slice ctr-vm1.scope)"
eq "memory.max of the scope (--memory-limit)" 50331648 "$(cat "$scope/memory.max")"
eq "the task's init is in the scope" "$(c task ls | awk '$1 == "vm1" {print $2}')" "$(cat "$scope/cgroup.procs")"
out=$(c task exec --exec-id e1 vm1 sh -c 'echo exec-out; exit 5' 2>&1)
status=$?
eq "ctr task exec: output and exit status" "exec-out 5" "$(echo $out) $status"
c task exec --exec-id e2 vm1 sleep 30 >/dev/null 2>&1 &
wait_for 30 bash -c "[ \$(wc -l <$scope/cgroup.procs) -ge 2 ]"
eq "an exec'd process joins the scope" 2 "$(wc -l <"$scope/cgroup.procs")"
t "ctr task pause" c task pause vm1
eq "the task is PAUSED" PAUSED "$(task_status vm1)"
eq "the scope is frozen" 1 "$(cat "$scope/cgroup.freeze")"
# The shim's runtime root: rrun-oci finds a systemd-driver cgroup through
# the container's processes (slice:prefix:name is a unit, not a directory).
eq "rrun-oci state says paused" paused \
    "$(timeout 30 rrun-oci --root /run/containerd/runc/rrun-vm state vm1 | jq -r .status)"
t "ctr task resume" c task resume vm1
eq "the task is RUNNING again" RUNNING "$(task_status vm1)"
eq "the scope is thawed" 0 "$(cat "$scope/cgroup.freeze")"
t "ctr task kill" c task kill -s KILL vm1
wait_for 30 bash -c '[ "$(c task ls | awk '"'"'$1 == "vm1" {print $3}'"'"')" = STOPPED ]'
eq "the task is STOPPED" STOPPED "$(task_status vm1)"
t "ctr task delete" c task delete vm1
t "ctr container delete" c containers delete vm1
wait_for 20 test ! -e "$scope"
t "the scope is gone after delete" test ! -e "$scope"
eq "its unit is gone" inactive "$(systemctl is-active ctr-vm1.scope)"
eq "no rrun-oci state is left" x "$(ls /run/containerd/runc/rrun-vm 2>/dev/null)x"
c task delete -f vm1 >/dev/null 2>&1
c containers delete vm1 >/dev/null 2>&1
c images rm "$img" >/dev/null 2>&1
systemctl stop containerd

say "containerd part: $((SECONDS - callers_start)) s"
# The CRI plugin with SystemdCgroup = true, as the kubelet's systemd cgroup
# driver has it: tests/cri.rs (built on the host) runs a pod in a
# kubepods-besteffort-pod….slice with a containerd of its own.
case=a_pod_runs_with_the_systemd_cgroup_driver
out=$(RRUN_BIN_DIR=/usr/local/bin RRUN_TEST_IMAGES=$PWD/timages timeout 300 bin/cri-tests --ignored --exact "$case" 2>&1)
if grep -q "^test $case \.\.\. ok$" <<<"$out"; then
    ok "tests/cri.rs $case"
else
    bad "tests/cri.rs $case" "$(grep -E -A3 'panicked|^test ' <<<"$out" | head -12)"
fi

say "containerd and CRI parts: $((SECONDS - callers_start)) s"

# --- Podman ------------------------------------------------------------
# Debian's defaults: the systemd cgroup manager (machine.slice,
# libpod-<id>.scope), conmon, journald logs. No network: netavark is tested
# on the host (tests/podman.rs).
loaded=$(p load -i /tmp/busybox-oci.tar 2>&1 | sed -n 's/^Loaded image: //p' | head -1)
t "podman load (the busybox OCI archive): $loaded" p tag "$loaded" localhost/busybox:vm
pimg=localhost/busybox:vm
out=$(p run --rm --network none "$pimg" sh -c 'echo hello; exit 4' 2>&1)
status=$?
eq "podman run --rm: output and exit status" "hello 4" "$(echo $out) $status"
t "podman run -d --memory 48m" p run -d --name pvm --network none --memory 48m "$pimg" \
    sh -c 'echo started; exec sleep 600'
pcid=$(p inspect -f '{{.Id}}' pvm)
pscope=/sys/fs/cgroup/machine.slice/libpod-$pcid.scope
# (the systemd cgroup manager: cgroupfs would have made machine.slice a directory)
eq "the container is a transient scope" active "$(systemctl is-active "libpod-$pcid.scope")"
eq "memory.max of the scope (--memory 48m)" 50331648 "$(cat "$pscope/memory.max")"
eq "the container's init is in the scope" "$(p inspect -f '{{.State.Pid}}' pvm)" "$(cat "$pscope/cgroup.procs")"
eq "podman exec" from-exec "$(p exec pvm sh -c 'echo from-exec' 2>&1)"
wait_for 30 bash -c 'p logs pvm 2>&1 | grep -qx started'
eq "podman logs" started "$(p logs pvm 2>&1)"
t "podman pause" p pause pvm
eq "paused" paused "$(p inspect -f '{{.State.Status}}' pvm)"
eq "the scope is frozen" 1 "$(cat "$pscope/cgroup.freeze")"
t "podman unpause" p unpause pvm
eq "running again" running "$(p inspect -f '{{.State.Status}}' pvm)"
t "podman stop" p stop --time 2 pvm
eq "exited" exited "$(p inspect -f '{{.State.Status}}' pvm)"
wait_for 20 test ! -e "$pscope"
t "the scope is gone after stop" test ! -e "$pscope"
t "podman rm" p rm pvm
eq "nothing is left (podman ps -a)" "x" "$(p ps -aq)x"
# (What a failed step above may have left.)
p rm -f pvm >/dev/null 2>&1
p rmi -f "$pimg" >/dev/null 2>&1
say "t-callers.sh took $((SECONDS - callers_start)) s"
