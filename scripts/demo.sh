#!/usr/bin/env bash
# The main job on a fresh machine, in one command: builds and installs rrun,
# builds the offline images and serves them from a local registry that
# rrund uses as its docker.io mirror, starts rrund, and runs the
# multi-container walkthrough of Docker's getting-started guide with rrun in
# place of docker, printing each command as a user would type it and what it
# printed. Root. Run from anywhere:
#
#   sudo scripts/demo.sh
#
# It runs its own daemon (socket /run/rrun-demo/rrun.sock, state under
# /var/lib/rrun-demo) so it never touches a rrund you already run, and
# removes what it made at the end (containers, network, volumes, the
# daemon); the installed binaries stay. Offline: the only upstream DNS
# server the daemon gets is a stub on 127.0.0.77 that answers NXDOMAIN, and
# routed traffic out of the host's uplink is dropped while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ "$(id -u)" = 0 ] || { echo "scripts/demo.sh: run it as root" >&2; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[36m$ %s\033[0m\n' "$*" >&2; }
rrun() { timeout 300 /usr/local/bin/rrun "$@"; }
# Prints and runs an rrun command.
r() { show "rrun $*"; rrun "$@"; }

say "install rrun (scripts/install.sh: Debian packages, release build, /usr/local/bin)"
scripts/install.sh
export PATH="$HOME/.cargo/bin:$PATH"

say "the offline images (scripts/build-test-images.sh: busybox, mysql from MariaDB, netshoot, the to-do app)"
export RRUN_TEST_IMAGES="${RRUN_TEST_IMAGES:-$repo/.cache/images}"
scripts/build-test-images.sh

state=/var/lib/rrun-demo
run=/run/rrun-demo
export RRUN_HOST=unix://$run/rrun.sock
# The demo starts its daemon itself, with its own daemon.json; rrun must not
# start a default one in the moment before that daemon listens.
export RRUN_NO_AUTOSTART=1
mkdir -p "$state" "$run"
reg_pid='' stub_pid='' rrund_pid=''
. scripts/lib/guard.sh  # guard_up/guard_down: the network rule's table, rrun_demo_guard_<pid>
# The demo daemon's nftables table and default bridge on the host: names
# of its own, from its data root (README, "Several rrund run side by
# side"), so a rrund of the user's (`inet rrun`, `rrun0`) keeps its rules
# and its published ports while the demo runs, and the clean-up removes
# only what the demo made.
own="rrun-$(printf %s "$(realpath "$state")" | sha256sum | cut -c1-8)"
# Its accept rules in Docker's DOCKER-USER chain, marked with its table's name.
remove_docker_user_rules() {
    local fam h
    for fam in ip ip6; do
        for h in $(nft -a list chain "$fam" filter DOCKER-USER 2>/dev/null |
            sed -n "s/.*comment \"$own\" # handle \([0-9]*\)\$/\1/p"); do
            nft delete rule "$fam" filter DOCKER-USER handle "$h"
        done
    done
}
cleanup() {
    set +e
    if [ -n "$rrund_pid" ]; then
        for c in $(rrun ps -aq 2>/dev/null); do rrun rm -f -v "$c" >/dev/null 2>&1; done
        rrun network rm todo-app >/dev/null 2>&1
        rrun volume rm todo-mysql-data >/dev/null 2>&1
        kill -TERM "$rrund_pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$rrund_pid" 2>/dev/null || break; sleep 0.1; done
        ip link delete "$own" 2>/dev/null
        nft delete table inet "$own" 2>/dev/null
        remove_docker_user_rules
    fi
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null
    [ -n "$stub_pid" ] && kill "$stub_pid" 2>/dev/null
    guard_down
}
trap cleanup EXIT

# The network rule: nothing the demo starts leaves through the uplink.
guard_up demo

say "a local registry on 127.0.0.1 as the docker.io mirror"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$run/registry"
cat >"$run/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $state/registry
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$run/registry/config.yml" >"$run/registry/log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
push() { # LAYOUT REPO:TAG
    timeout 300 skopeo copy -q --dest-tls-verify=false "oci:$RRUN_TEST_IMAGES/$1/oci:latest" \
        "docker://127.0.0.1:$port/$2"
    echo "pushed $2"
}
push mysql library/mysql:5.7
push netshoot nicolaka/netshoot:latest
push todo-app getting-started/todo-app:latest
push busybox library/busybox:latest

# The upstream DNS stub: NXDOMAIN for every name that is not a container.
python3 scripts/lib/dns-stub.py 127.0.0.77 53 &
stub_pid=$!

say "rrund (its own socket and state; daemon.json: the mirror and the DNS stub)"
cat >"$run/daemon.json" <<EOF
{
  "data-root": "$state",
  "exec-root": "$run/oci",
  "registry-mirrors": ["http://127.0.0.1:$port"],
  "insecure-registries": ["127.0.0.1:$port"],
  "dns": ["127.0.0.77"]
}
EOF
cat "$run/daemon.json"
/usr/local/bin/rrund -H "$RRUN_HOST" --config-file "$run/daemon.json" >"$run/rrund.log" 2>&1 &
rrund_pid=$!
for _ in $(seq 100); do rrun version >/dev/null 2>&1 && break; sleep 0.1; done
r version

say "1. a network for the app"
r network create todo-app

say "2. the database, on the network as 'mysql', its data in a named volume"
db=$(r run -d --network todo-app --network-alias mysql -v todo-mysql-data:/var/lib/mysql \
    -e MYSQL_ROOT_PASSWORD=secret -e MYSQL_DATABASE=todos mysql:5.7)
echo "$db"
echo "(waiting for MariaDB to initialise its data directory)"
for _ in $(seq 180); do
    rrun exec "$db" mysql --protocol=tcp -h127.0.0.1 -uroot -psecret -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 1
done

say "3. the database's own client, at a terminal"
show "rrun exec -it $db mysql -u root -p"
python3 scripts/lib/pty-drive.py "Enter password:" secret "]>" "SHOW DATABASES;" "]>" exit \
    -- /usr/local/bin/rrun exec -it "$db" mysql -u root -p

say "4. name resolution on the network, from nicolaka/netshoot"
show "rrun run -it --rm --network todo-app nicolaka/netshoot"
python3 scripts/lib/pty-drive.py --timeout 120 "#" "dig mysql" "#" exit \
    -- /usr/local/bin/rrun run -it --rm --network todo-app nicolaka/netshoot

say "5. the app, its source bind-mounted from this repository"
cd scripts/todo-app
app=$(r run -dp 3000:3000 -w /app -v "$(pwd):/app" --network todo-app \
    -e MYSQL_HOST=mysql -e MYSQL_USER=root -e MYSQL_PASSWORD=secret -e MYSQL_DB=todos \
    getting-started/todo-app python3 app.py)
echo "$app"
cd "$repo"
for _ in $(seq 60); do rrun logs "$app" 2>&1 | grep -q "Listening on port 3000" && break; sleep 1; done
r logs "$app"
for item in "Buy groceries" "Walk the dog"; do
    show "curl -X POST http://127.0.0.1:3000/items -d '{\"name\": \"$item\"}'"
    curl -sf -m 5 -X POST -H 'Content-Type: application/json' -d "{\"name\": \"$item\"}" \
        http://127.0.0.1:3000/items
    echo
done
show "curl http://127.0.0.1:3000/items"
curl -sf -m 5 http://127.0.0.1:3000/items
echo
show "rrun exec -it $db mysql -p todos"
python3 scripts/lib/pty-drive.py "Enter password:" secret "]>" "select * from todo_items;" "]>" exit \
    -- /usr/local/bin/rrun exec -it "$db" mysql -p todos

say "6. both containers removed; the data stays in the volume"
r rm -f "$app" "$db"
r volume inspect todo-mysql-data
db=$(r run -d --network todo-app --network-alias mysql -v todo-mysql-data:/var/lib/mysql \
    -e MYSQL_ROOT_PASSWORD=secret mysql:5.7)
for _ in $(seq 120); do
    rrun exec "$db" mysql --protocol=tcp -h127.0.0.1 -uroot -psecret -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 1
done
show "rrun exec -it $db mysql -p todos"
python3 scripts/lib/pty-drive.py "Enter password:" secret "]>" "select * from todo_items;" "]>" exit \
    -- /usr/local/bin/rrun exec -it "$db" mysql -p todos
r rm -f "$db"

say "7. the data-volume-container pattern"
r create --name dbstore -v /var/lib/mysql busybox
db=$(r run -d --volumes-from dbstore -e MYSQL_ROOT_PASSWORD=secret -e MYSQL_DATABASE=kept mysql:5.7)
for _ in $(seq 180); do
    rrun exec "$db" mysql --protocol=tcp -h127.0.0.1 -uroot -psecret -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 1
done
r rm -f "$db"
db=$(r run -d --volumes-from dbstore -e MYSQL_ROOT_PASSWORD=secret mysql:5.7)
for _ in $(seq 120); do
    rrun exec "$db" mysql --protocol=tcp -h127.0.0.1 -uroot -psecret -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 1
done
r exec "$db" mysql -uroot -psecret -e 'SHOW DATABASES'

say "8. clean-up"
r rm -f "$db"
r rm -v dbstore
r network rm todo-app
r volume rm todo-mysql-data
r ps -a
echo
echo "The walkthrough ran. rrun stays installed in /usr/local/bin; scripts/test.sh runs every test."
