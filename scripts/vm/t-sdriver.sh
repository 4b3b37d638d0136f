# rrund with daemon.json exec-opts native.cgroupdriver=systemd: containers
# as transient scopes (system.slice/rrun-<id>.scope) through rrun-oci
# --systemd-cgroup. The walkthrough (t-walkthrough.sh) then runs under it.
# shellcheck shell=bash

jq '. + {"exec-opts": ["native.cgroupdriver=systemd"]}' /etc/rrun/daemon.json >/etc/rrun/daemon.json.new
mv /etc/rrun/daemon.json.new /etc/rrun/daemon.json
t "systemctl restart rrund with the systemd cgroup driver" systemctl restart rrund
eq "/info: CgroupDriver systemd" systemd \
    "$(curl -sf -m 10 --unix-socket /run/rrun/rrun.sock http://rrun/info | jq -r .CgroupDriver)"
t "run with limits under the systemd driver" r run -d --name sd -m 48m --pids-limit 40 busybox sleep 600
sd_id=$(r inspect -f '{{.Id}}' sd)
scope=rrun-$sd_id.scope
eq "the container is a transient scope" active "$(systemctl is-active "$scope")"
eq "its cgroup is the scope's" "/sys/fs/cgroup/system.slice/$scope" "$(cg_dir sd)"
eq "memory.max of the scope" 50331648 "$(cat "/sys/fs/cgroup/system.slice/$scope/memory.max")"
eq "pids.max of the scope" 40 "$(cat "/sys/fs/cgroup/system.slice/$scope/pids.max")"
t "stats under the systemd driver" r stats --no-stream sd
t "the scope survives systemctl restart rrund" bash -c "systemctl restart rrund && systemctl is-active $scope"
t "rm -f under the systemd driver" r rm -f sd
wait_for 20 test ! -e "/sys/fs/cgroup/system.slice/$scope"
t "the scope is gone after rm" test ! -e "/sys/fs/cgroup/system.slice/$scope"
