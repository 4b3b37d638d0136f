# rrund as a systemd service: the unit of scripts/rrund.service, Type=notify
# readiness, KillMode=process across stop/start and restart.
# shellcheck shell=bash

# rrund's data root on a disk of its own (test-vm.sh makes it): the root
# image has too little room for the walkthrough's images.
mkdir -p /var/lib/rrun
t "the data root's disk is mounted" mount LABEL=rrun-vm-scratch /var/lib/rrun
install -m 0755 bin/rrun bin/rrund bin/rrun-oci bin/rrun-shim /usr/local/bin/
install -D -m 0644 rrund.service /etc/systemd/system/rrund.service
# The images come from the registry the suite starts on 127.0.0.1:5000; the
# upstream DNS is a loopback address where nothing listens (the VM has no
# network: nothing could be reached anyway).
mkdir -p /etc/rrun
cat >/etc/rrun/daemon.json <<'JSON'
{"registry-mirrors": ["http://127.0.0.1:5000"], "insecure-registries": ["127.0.0.1:5000"], "dns": ["127.0.0.53"]}
JSON

# A registry of our own on 127.0.0.1:5000, serving the storage test-vm.sh
# filled from the test images' OCI layouts.
cat >/etc/test-registry.yml <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $PWD/registry
http:
  addr: 127.0.0.1:5000
YML
t "registry started" systemd-run --unit=test-registry --collect docker-registry serve /etc/test-registry.yml
wait_for 30 curl -sf http://127.0.0.1:5000/v2/library/busybox/tags/list || bad "registry answers" "nothing on 127.0.0.1:5000"

out=$(systemd-analyze verify /etc/systemd/system/rrund.service 2>&1)
t "systemd-analyze verify rrund.service is clean ($out)" test -z "$out"

t "systemctl enable --now rrund" systemctl enable --now rrund
# Type=notify: enable --now returns once rrund said READY=1, which it says
# only after binding the socket, so the socket answers without any wait.
t "the socket answers as soon as the unit is started" rrun version
eq "rrund is active" active "$(systemctl is-active rrund)"
eq "rrund's main pid is rrund" rrund "$(ps -o comm= -p "$(systemctl show -P MainPID rrund)")"
t "systemctl status rrund is clean" systemctl status --no-pager rrund
eq "/info: CgroupVersion 2" 2 "$(curl -sf -m 10 --unix-socket /run/rrun/rrun.sock http://rrun/info | jq -r .CgroupVersion)"

# A container with a published port and a name on a user network.
t "network create" r network create vmnet
t "run a web server with a published port and an alias" r run -d --name web --network vmnet \
    --network-alias webalias -p 8080:80 busybox sh -c 'echo hello >/tmp/index.html; exec httpd -f -p 80 -h /tmp'
wait_for 30 curl -sf http://127.0.0.1:8080/index.html
eq "the published port answers" hello "$(curl -sf -m 5 http://127.0.0.1:8080/index.html)"
t "the alias resolves from another container" r run --rm --network vmnet busybox nslookup webalias 127.0.0.11
web_pid=$(r inspect -f '{{.State.Pid}}' web)

t "systemctl stop rrund" systemctl stop rrund
eq "rrund is inactive" inactive "$(systemctl is-active rrund)"
t "the container runs on without the daemon (KillMode=process)" kill -0 "$web_pid"
eq "its published port still answers" hello "$(curl -sf -m 5 http://127.0.0.1:8080/index.html)"
t "systemctl start rrund" systemctl start rrund
eq "rrund picked the container up" "true $web_pid" "$(r inspect -f '{{.State.Running}} {{.State.Pid}}' web 2>&1)"
t "exec into it after the restart" r exec web cat /tmp/index.html

t "systemctl restart rrund" systemctl restart rrund
eq "running after systemctl restart" "true $web_pid" "$(r inspect -f '{{.State.Running}} {{.State.Pid}}' web 2>&1)"
eq "the published port answers after the restart" hello "$(curl -sf -m 5 http://127.0.0.1:8080/index.html)"
t "the alias resolves after the restart" r run --rm --network vmnet busybox nslookup webalias 127.0.0.11
eq "no restarts or failures of the unit" "0 success" "$(systemctl show -P NRestarts rrund) $(systemctl show -P Result rrund)"
t "rm -f web" r rm -f web
