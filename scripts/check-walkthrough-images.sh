#!/usr/bin/env bash
# Checks the walkthrough's images (scripts/build-walkthrough-images.sh)
# without a container engine: unpacks each (one layer) and runs it under
# chroot in namespaces of its own (one network namespace for all, as on one
# user network; a mount and pid namespace per "container", so the server is
# pid 1 and every mount goes away with it). Nothing leaves loopback.
#
#   mysql     no password option: refuses with the official message; with
#             MYSQL_ROOT_PASSWORD + MYSQL_DATABASE: initialises, listens on
#             0.0.0.0:3306 as user mysql, root over TCP and the socket; stopped
#             and started again on the same data directory, the data is there;
#             the _FILE variants, MYSQL_USER and /docker-entrypoint-initdb.d
#             (*.sql, *.sql.gz, *.sh sourced and executable);
#             MYSQL_RANDOM_ROOT_PASSWORD prints a password that works;
#             MYSQL_ALLOW_EMPTY_PASSWORD
#   todo-app  against that server: the log lines, the JSON API, rows in
#             todo_items; again bind-mounted from scripts/todo-app with
#             MYSQL_PASSWORD_FILE
#   netshoot  dig, ip, curl, nc, ping run
#
# KEEP_WORK=1 keeps the unpacked trees and the logs in /tmp.
# Root. Prints one line per check and "N passed, N failed". Needs the images
# built; takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
images="${RRUN_TEST_IMAGES:-$PWD/.cache/images}"
images=$(realpath "$images")
repo=$PWD
. scripts/lib/oci-layout.sh

work=$(mktemp -d /tmp/rrun-check-images.XXXXXX)
ns=rrun-check-$$
pids=()
passed=0 failed=0

cleanup() {
    local p
    for p in "${pids[@]}"; do
        [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null || true
    done
    ip netns del "$ns" 2>/dev/null || true
    if [ -n "${KEEP_WORK:-}" ]; then
        echo "kept $work (logs: $work/*.log)" >&2
        return
    fi
    remove_tree "$work" || echo "left $work: mounts remain" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

has_line() { local want=$1; shift; "$@" | grep -qxF -- "$want"; } # has_line LINE CMD...
has_match() { local re=$1; shift; "$@" | grep -qE -- "$re"; }     # has_match ERE CMD...
json_true() { local f=$1; shift; "$@" | jq -e "$f" >/dev/null; }  # json_true FILTER CMD...
fails() { ! "$@"; }
joined() { "$@" | tr '\t' , | paste -sd' '; } # rows as "a,b c,d"

ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAILED: $*"; failed=$((failed + 1)); }
check() { # check DESCRIPTION CMD...
    local what=$1; shift
    if "$@" >"$work/check.out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/    /' "$work/check.out" | tail -20; fi
}

unpack() { # unpack NAME: $work/NAME/rootfs (tar: umoci unpack takes a minute)
    local lay=$images/$1/oci manifest layer
    manifest=$(jq -r '.manifests[0].digest' "$lay/index.json")
    layer=$(jq -r '.layers[0].digest' "$lay/blobs/sha256/${manifest#sha256:}")
    mkdir -p "$work/$1/rootfs"
    timeout 300 tar --numeric-owner -xzf "$lay/blobs/sha256/${layer#sha256:}" -C "$work/$1/rootfs"
}

# ct_inner ROOTFS WORKDIR NBINDS BINDS... NENV ENV... CMD...: runs inside the
# new mount and pid namespaces: /proc, /dev and the binds, then CMD chrooted.
ct_inner() {
    set -e
    local r=$1 wd=$2 n=$3 b envs
    shift 3
    mount -t proc proc "$r/proc"
    mount --bind /dev "$r/dev"
    while [ "$n" -gt 0 ]; do
        b=$1; shift; n=$((n - 1))
        mkdir -p "$r${b#*:}"
        mount --bind "${b%%:*}" "$r${b#*:}"
    done
    n=$1; shift
    envs=("${@:1:$n}"); shift "$n"
    cd /
    exec chroot "$r" /usr/bin/env -i "${envs[@]}" /bin/sh -c 'cd "$0" && exec "$@"' "$wd" "$@"
}

# start_ct NAME IMAGE [-v HOST:CTR] [-e K=V] [-w DIR] -- CMD...: a background
# "container" of IMAGE (entrypoint and cmd given in full), output in
# $work/NAME.log; sets CT_PID (the timeout process around it).
declare -A ct_pid
start_ct() {
    local name=$1 image=$2; shift 2
    local binds=() envs=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root) wd=/
    while [ "$1" != -- ]; do
        case $1 in
            -v) binds+=("$2") ;;
            -e) envs+=("$2") ;;
            -w) wd=$2 ;;
        esac
        shift 2
    done
    shift
    timeout 600 ip netns exec "$ns" unshare --mount --pid --fork --kill-child \
        bash -c "$(declare -f ct_inner); ct_inner \"\$@\"" ct "$work/$image/rootfs" "$wd" \
        "${#binds[@]}" "${binds[@]}" "${#envs[@]}" "${envs[@]}" "$@" \
        >"$work/$name.log" 2>&1 </dev/null &
    ct_pid[$name]=$!
    pids+=($!)
}

# init_pid NAME: the host pid of the container's pid 1 (unshare's child).
init_pid() {
    local unshare_pid
    unshare_pid=$(ps -o pid= --ppid "${ct_pid[$1]}" | tr -d ' ')
    ps -o pid= --ppid "$unshare_pid" | tr -d ' '
}

# running NAME: its processes have not ended (an ended child of ours stays a
# zombie until waited for, which kill -0 does not tell).
running() {
    local st
    st=$(ps -o stat= -p "${ct_pid[$1]}" 2>/dev/null) && [ "${st:0:1}" != Z ]
}

# stop_ct NAME: SIGTERM to its pid 1, then waits (30 s) for it to end; fails
# if it had to be killed.
stop_ct() {
    local p status=0; p=$(init_pid "$1")
    [ -n "$p" ] && kill -TERM "$p"
    local i
    for i in $(seq 300); do
        running "$1" || break
        if [ "$i" = 300 ]; then
            echo "$1 did not stop on SIGTERM" >&2
            kill -KILL "${ct_pid[$1]}" "$p" 2>/dev/null || true
            status=1
        fi
        sleep 0.1
    done
    wait "${ct_pid[$1]}" 2>/dev/null || true
    return "$status"
}

# in_ns IMAGE CMD...: a command from IMAGE's tree in the shared network
# namespace (no mounts needed: the client, curl, dig).
in_ns() {
    local image=$1; shift
    timeout 60 ip netns exec "$ns" unshare --mount --pid --fork --kill-child \
        bash -c "$(declare -f ct_inner); ct_inner \"\$@\"" ct "$work/$image/rootfs" / 0 \
        2 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
}

sql() { # sql PASSWORD SQL...: root over TCP 127.0.0.1 (no password if empty)
    local pw=(-p"$1"); shift
    [ "${pw[0]}" = -p ] && pw=()
    in_ns mysql mariadb -h127.0.0.1 -P3306 -uroot "${pw[@]}" -N -B -e "$*"
}

# wait_sql NAME PASSWORD: until the server answers over TCP (60 s), or its
# container ended.
wait_sql() {
    local i
    for i in $(seq 240); do
        sql "$2" 'SELECT 1' >/dev/null 2>&1 && return 0
        running "$1" || { echo "$1 exited:" >&2; tail -20 "$work/$1.log" >&2; return 1; }
        sleep 0.25
        [ "$i" = 240 ] && { tail -20 "$work/$1.log" >&2; return 1; }
    done
}

wait_log() { # wait_log NAME TEXT: until the container's log has TEXT (60 s)
    local i
    for i in $(seq 240); do
        grep -qF -- "$2" "$work/$1.log" && return 0
        sleep 0.25
    done
    tail -20 "$work/$1.log" >&2
    return 1
}

ip netns add "$ns"
ip -n "$ns" link set lo up

# ---------------------------------------------------------------- mysql
unpack mysql
mkdir -p "$work/data1" "$work/data2" "$work/data3" "$work/secrets" "$work/initdb"

# 1. No password option: a clear error, non-zero exit, nothing initialised.
start_ct nopw mysql -v "$work/data1:/var/lib/mysql" -- docker-entrypoint.sh mysqld
wait "${ct_pid[nopw]}" && status=0 || status=$?
check "mysql without a password option exits non-zero ($status)" test "$status" -ne 0
check "  ... saying which variables to set" grep -q 'Database is uninitialized and password option is not specified' "$work/nopw.log"
check "  ... and leaves the data directory empty" test -z "$(ls -A "$work/data1")"

# 2. First start: MYSQL_ROOT_PASSWORD, MYSQL_DATABASE.
t0=$(date +%s.%N)
start_ct db1 mysql -v "$work/data1:/var/lib/mysql" -e MYSQL_ROOT_PASSWORD=secret -e MYSQL_DATABASE=todos \
    -- docker-entrypoint.sh mysqld
check "mysql first start answers root@127.0.0.1 with the password" wait_sql db1 secret
echo "    (first start to first query: $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s)"
check "  SHOW DATABASES lists todos" has_line todos sql secret 'SHOW DATABASES'
check "  root@'%' exists" has_line % sql secret "SELECT host FROM mysql.user WHERE user='root'"
check "  wrong password refused" fails sql wrong 'SELECT 1'
check "  listens on 0.0.0.0:3306" has_match '0.0.0.0:3306 ' timeout 10 ip netns exec "$ns" ss -Hltn
p=$(init_pid db1)
mysql_uid=$(awk -F: '$1 == "mysql" { print $3 }' "$work/mysql/rootfs/etc/passwd")
check "  pid 1 of its namespace is the server (uid, name: $(ps -o uid=,comm= -p "$p" | tr -s ' '))" \
    has_match "^ *$mysql_uid +(mysqld|mariadbd)\$" ps -o uid=,comm= -p "$p"
check "  the client over the socket inside (mysql -u root -p, as in the walkthrough)" \
    has_line todos timeout 30 nsenter -t "$p" -m chroot "$work/mysql/rootfs" mysql -u root -psecret -N -e 'SHOW DATABASES'
check "  data directory now owned by mysql ($(stat -c %u "$work/data1"))" test "$(stat -c %u "$work/data1")" = "$mysql_uid"
check "  root writes a row over TCP" sql secret "CREATE TABLE todos.t (v varchar(20)); INSERT INTO todos.t VALUES ('kept')"
check "  stops on SIGTERM" stop_ct db1
check "  ... cleanly" grep -q 'Shutdown complete' "$work/db1.log"

# 3. Later start on the same data: no password option needed, data kept.
start_ct db1b mysql -v "$work/data1:/var/lib/mysql" -- docker-entrypoint.sh mysqld
check "mysql second start on the same data directory (no env) answers" wait_sql db1b secret
check "  the row written before is there" has_line kept sql secret 'SELECT v FROM todos.t'
check "  initialisation skipped" grep -q 'initialisation skipped' "$work/db1b.log"

# ---------------------------------------------------------------- todo-app
unpack todo-app
start_ct app1 todo-app -w /app -e MYSQL_HOST=127.0.0.1 -e MYSQL_USER=root -e MYSQL_PASSWORD=secret -e MYSQL_DB=todos \
    -- python3 /app/app.py
check "todo-app logs 'Connected to mysql db at host 127.0.0.1'" wait_log app1 'Connected to mysql db at host 127.0.0.1'
check "  then 'Listening on port 3000'" wait_log app1 'Listening on port 3000'
api() { in_ns netshoot curl -fsS --max-time 10 "$@"; }
unpack netshoot
item=$(api -X POST -H 'Content-Type: application/json' -d '{"name":"Buy milk"}' http://127.0.0.1:3000/items || true)
id=$(jq -r .id <<<"$item" 2>/dev/null || true)
check "  POST /items returns the item with an id ($item)" test -n "$id" -a "$id" != null
api -X POST -H 'Content-Type: application/json' -d '{"name":"Walk the dog"}' http://127.0.0.1:3000/items >/dev/null || true
check "  GET /items lists both" json_true 'length == 2' api http://127.0.0.1:3000/items
check "  PUT /items/<id> completes it" json_true '.completed == true' \
    api -X PUT -H 'Content-Type: application/json' -d '{"name":"Buy milk","completed":true}' "http://127.0.0.1:3000/items/$id"
check "  the rows are in todos.todo_items" has_line 'Buy milk,1 Walk the dog,0' \
    joined sql secret 'SELECT name, completed FROM todos.todo_items ORDER BY name'
check "  DELETE /items/<id>" api -X DELETE "http://127.0.0.1:3000/items/$id"
check "  then GET /items lists one" json_true 'length == 1' api http://127.0.0.1:3000/items
check "  GET / serves the page" has_match 'Todo App' api http://127.0.0.1:3000/
check "  stops on SIGTERM" stop_ct app1

# The walkthrough's form: the source bind-mounted at /app, the password from a file.
printf 'secret\n' >"$work/secrets/app-pw"
start_ct app2 todo-app -v "$repo/scripts/todo-app:/app" -v "$work/secrets:/run/secrets" -w /app \
    -e MYSQL_HOST=127.0.0.1 -e MYSQL_USER=root -e MYSQL_PASSWORD_FILE=/run/secrets/app-pw -e MYSQL_DB=todos \
    -- python3 app.py
check "todo-app from the bind-mounted scripts/todo-app with MYSQL_PASSWORD_FILE" wait_log app2 'Listening on port 3000'
check "  lists the item left before" json_true '.[0].name == "Walk the dog"' api http://127.0.0.1:3000/items
stop_ct app2
stop_ct db1b

# ---------------------------------------------------------------- mysql: _FILE, user, initdb.d
printf 'filesecret\n' >"$work/secrets/root-pw"
printf 'appdb' >"$work/secrets/db"
printf 'app' >"$work/secrets/user"
printf 'apppw' >"$work/secrets/user-pw"
cat >"$work/initdb/01-schema.sql" <<'EOF'
CREATE TABLE from_sql (v varchar(20));
INSERT INTO from_sql VALUES ('sql');
EOF
echo "INSERT INTO from_sql VALUES ('sql.gz');" | gzip >"$work/initdb/02-more.sql.gz"
cat >"$work/initdb/03-sourced.sh" <<'EOF'
echo "INSERT INTO from_sql VALUES ('sourced');" | docker_process_sql
EOF
cat >"$work/initdb/04-run.sh" <<'EOF'
#!/bin/sh
touch /var/lib/mysql/ran-executable-script
EOF
chmod +x "$work/initdb/04-run.sh"
start_ct db2 mysql -v "$work/data2:/var/lib/mysql" -v "$work/secrets:/run/secrets" -v "$work/initdb:/docker-entrypoint-initdb.d" \
    -e MYSQL_ROOT_PASSWORD_FILE=/run/secrets/root-pw -e MYSQL_DATABASE_FILE=/run/secrets/db \
    -e MYSQL_USER_FILE=/run/secrets/user -e MYSQL_PASSWORD_FILE=/run/secrets/user-pw \
    -e MYSQL_INITDB_SKIP_TZINFO=1 -- docker-entrypoint.sh mysqld
check "mysql with MYSQL_ROOT_PASSWORD_FILE: root's password from the file" wait_sql db2 filesecret
check "  MYSQL_DATABASE_FILE created appdb" has_line appdb sql filesecret 'SHOW DATABASES'
check "  MYSQL_USER_FILE/MYSQL_PASSWORD_FILE: app logs in over TCP and sees appdb" \
    has_line appdb in_ns mysql mariadb -h127.0.0.1 -uapp -papppw -N -e 'SHOW DATABASES'
check "  initdb.d: .sql, .sql.gz and sourced .sh ran in appdb, in order" \
    has_line 'sql sql.gz sourced' joined sql filesecret 'SELECT v FROM appdb.from_sql'
check "  initdb.d: executable .sh ran" test -e "$work/data2/ran-executable-script"
stop_ct db2

start_ct db3 mysql -v "$work/data3:/var/lib/mysql" -e MYSQL_RANDOM_ROOT_PASSWORD=yes -e MYSQL_INITDB_SKIP_TZINFO=1 -- docker-entrypoint.sh mysqld
check "mysql with MYSQL_RANDOM_ROOT_PASSWORD prints GENERATED ROOT PASSWORD" wait_log db3 'GENERATED ROOT PASSWORD: '
genpw=$(grep -m1 '^GENERATED ROOT PASSWORD: ' "$work/db3.log" | cut -d' ' -f4)
check "  and that password works" wait_sql db3 "$genpw"
stop_ct db3

mkdir -p "$work/data4"
start_ct db4 mysql -v "$work/data4:/var/lib/mysql" -e MYSQL_ALLOW_EMPTY_PASSWORD=yes -e MYSQL_INITDB_SKIP_TZINFO=1 -- docker-entrypoint.sh mysqld
check "mysql with MYSQL_ALLOW_EMPTY_PASSWORD: root without a password over TCP" wait_sql db4 ''
stop_ct db4

# ---------------------------------------------------------------- netshoot
check "netshoot: dig, ip, curl, ping run" in_ns netshoot bash -c 'dig -v && ip -V && curl --version && ping -V'
check "  nc talks to a listener in the namespace" has_line hi \
    in_ns netshoot bash -c 'timeout 10 nc -l 127.0.0.1 9999 >/tmp/nc.out & for _ in $(seq 50); do echo hi | nc -N 127.0.0.1 9999 2>/dev/null && break; sleep 0.1; done; wait; cat /tmp/nc.out'

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
