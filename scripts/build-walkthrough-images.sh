#!/usr/bin/env bash
# Builds the images of the multi-container walkthrough (issue 7) from Debian
# packages, as OCI image layouts tagged `latest` (like busybox/oci), cached
# under ${RRUN_TEST_IMAGES:-.cache/images}:
#
#   debian/rootfs   `debootstrap --variant=minbase bookworm`, slimmed (no docs,
#                   man pages, locales); built once, the base of the three below
#   mysql/oci       Debian's mariadb-server + mariadb-client, with an entrypoint
#                   that behaves like the official mysql image's
#                   (scripts/mysql-image/docker-entrypoint.sh)
#   netshoot/oci    dnsutils, iproute2, curl, netcat-openbsd, iputils-ping; bash
#   todo-app/oci    python3 + python3-pymysql and scripts/todo-app/app.py at /app
#
# Each is rebuilt only when its inputs change: the key is a hash of the recipe
# (the functions below, the files copied in, scripts/lib/oci-layout.sh) and
# debootstrap's version. Packages come from deb.debian.org, the only traffic
# that leaves the machine; a cold build takes a few minutes. Root (debootstrap,
# chroot).
#
# Called by scripts/build-test-images.sh; run alone as
#   scripts/build-walkthrough-images.sh [mysql|netshoot|todo-app ...]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${RRUN_TEST_IMAGES:-$PWD/.cache/images}"
mkdir -p "$out"
out=$(realpath "$out")
mirror=http://deb.debian.org/debian
. scripts/lib/oci-layout.sh

if [ "$(id -u)" != 0 ]; then
    echo "build-walkthrough-images.sh: needs root (debootstrap, chroot)" >&2
    exit 1
fi
command -v debootstrap >/dev/null || {
    echo "debootstrap is not installed (scripts/install-deps.sh)" >&2
    exit 1
}

# Build trees in progress: whatever is mounted in them is unmounted (and the
# unfinished tree removed) however the script ends.
building=()
cleanup() {
    local d
    for d in "${building[@]}"; do
        remove_tree "$d" || echo "build-walkthrough-images.sh: left $d (mounts remain)" >&2
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# in_chroot ROOT CMD...: runs CMD inside ROOT with /proc and /dev mounted and
# the host's resolver (for apt), and takes all of that away again.
in_chroot() {
    local root=$1 status=0; shift
    mount -t proc proc "$root/proc"
    mount --bind /dev "$root/dev"
    mount --bind /dev/pts "$root/dev/pts"
    rm -f "$root/etc/resolv.conf"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    chroot "$root" /usr/bin/env -i "$PATH_ENV" HOME=/root LC_ALL=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes "$@" || status=$?
    : >"$root/etc/resolv.conf"
    unmount_under "$root/dev"
    unmount_under "$root/proc"
    return "$status"
}

# apt_install ROOT PKG...: installs packages without recommends and leaves no
# package lists or downloaded .debs behind.
apt_install() {
    local root=$1; shift
    in_chroot "$root" sh -c 'apt-get -qq update && apt-get install -y -qq --no-install-recommends "$@" >/dev/null && apt-get clean' sh "$@"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
}

# slim ROOT: what Debian's own container images leave out too.
slim() {
    local root=$1
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
        "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
        "$root"/var/log/apt/* "$root"/var/log/dpkg.log "$root"/var/log/alternatives.log "$root"/var/log/bootstrap.log \
        "$root"/tmp/* "$root"/var/tmp/* "$root"/root/.cache
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
        "$root"/usr/share/lintian "$root"/usr/share/linda
    find "$root/usr/lib" -name '__pycache__' -type d -prune -exec rm -rf '{}' + 2>/dev/null || true
    # Device nodes are the engine's business (debootstrap made some): an
    # empty /dev, as in Debian's own images. Never through a bind of the host's.
    if [ -z "$(mounts_under "$root/dev")" ]; then
        find "$root/dev" -xdev -mindepth 1 -delete
    fi
}

# --- the Debian base: debootstrap once; each image starts from a copy.
build_base() { # $1: rootfs dir
    timeout 1800 debootstrap --variant=minbase bookworm "$1" "$mirror" >"$1.log" 2>&1 ||
        { tail -20 "$1.log" >&2; return 1; }
    # Later installs leave out docs, man pages and translations (copyrights kept).
    cat >"$1/etc/dpkg/dpkg.cfg.d/01-rrun-slim" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/lintian/*
EOF
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$1/etc/apt/apt.conf.d/01-rrun-norecommends"
    # Installs in a chroot start no services (Debian's images ship the same).
    printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
    chmod 755 "$1/usr/sbin/policy-rc.d"
    slim "$1"
    : >"$1/etc/resolv.conf"
    rm -f "$1.log"
}

base_key() {
    { dpkg-query -W -f='${Version}\n' debootstrap; declare -f build_base slim; } | sha256sum | cut -c1-16
}

# ensure_base: $out/debian/rootfs for the current key.
ensure_base() {
    local dest=$out/debian key; key=$(base_key)
    if [ -f "$dest/.key" ] && [ "$(cat "$dest/.key")" = "$key" ] && [ -d "$dest/rootfs" ]; then
        echo "debian: cached ($dest)"
        return
    fi
    echo "debian: debootstrap --variant=minbase bookworm ($dest)"
    local t0=$SECONDS b=$dest.build
    remove_tree "$b"; mkdir -p "$b"
    building+=("$b")
    build_base "$b/rootfs"
    remove_tree "$dest"
    mv "$b" "$dest"
    echo "$key" >"$dest/.key"
    building=("${building[@]/$b/}")
    echo "debian: built in $((SECONDS - t0))s"
}

# --- the images
recipe_mysql() {
    local r=$1
    apt_install "$r" mariadb-server mariadb-client
    # The official image starts with an empty data directory (the volume)
    # and a socket directory any user can use.
    rm -rf "$r/var/lib/mysql"
    mkdir -p "$r/var/lib/mysql" "$r/run/mysqld" "$r/docker-entrypoint-initdb.d"
    in_chroot "$r" chown mysql:mysql /var/lib/mysql /run/mysqld
    chmod 1777 "$r/run/mysqld"
    # Listen on every address, no DNS lookups of clients (the official
    # image's docker.cnf), logs to stderr.
    cat >"$r/etc/mysql/mariadb.conf.d/99-docker.cnf" <<'EOF'
[mysqld]
bind-address = 0.0.0.0
skip-host-cache
skip-name-resolve
EOF
    install -m 755 scripts/mysql-image/docker-entrypoint.sh "$r/usr/local/bin/docker-entrypoint.sh"
    ln -s usr/local/bin/docker-entrypoint.sh "$r/entrypoint.sh" # the official image's old name
    # Only the English server messages (the default lc-messages).
    local d
    for d in "$r"/usr/share/mysql/* "$r"/usr/share/mariadb/*; do
        [ -f "$d/errmsg.sys" ] && [ "$(basename "$d")" != english ] && rm -rf "$d"
    done
    # Test suites are not needed to serve, nor the offline Aria/MyISAM
    # table tools (about 50 MB; the server repairs tables itself).
    rm -rf "$r"/usr/share/mysql/mysql-test "$r"/usr/share/mariadb/mariadb-test \
        "$r"/usr/bin/aria_* "$r"/usr/bin/myisam_ftdump "$r"/usr/bin/myisamlog "$r"/usr/bin/myisampack \
        "$r"/usr/bin/mariadb-slap "$r"/usr/bin/mysqlslap
    slim "$r"
}
config_mysql() {
    jq -cn --arg path "$PATH_ENV" '{Env:[$path], Entrypoint:["docker-entrypoint.sh"], Cmd:["mysqld"],
        Volumes:{"/var/lib/mysql":{}}, ExposedPorts:{"3306/tcp":{}}}'
}
inputs_mysql() { echo scripts/mysql-image/docker-entrypoint.sh; }

recipe_netshoot() {
    apt_install "$1" dnsutils iproute2 curl netcat-openbsd iputils-ping
    slim "$1"
}
config_netshoot() {
    jq -cn --arg path "$PATH_ENV" '{Env:[$path], Cmd:["bash"]}'
}
inputs_netshoot() { :; }

recipe_todo_app() {
    local r=$1
    apt_install "$r" python3 python3-pymysql
    mkdir -p "$r/app"
    install -m 644 scripts/todo-app/app.py "$r/app/app.py"
    slim "$r"
}
config_todo_app() {
    jq -cn --arg path "$PATH_ENV" '{Env:[$path, "PYTHONUNBUFFERED=1"], WorkingDir:"/app",
        Cmd:["python3", "/app/app.py"], ExposedPorts:{"3000/tcp":{}}}'
}
inputs_todo_app() { echo scripts/todo-app/app.py; }

# build_image NAME: $out/NAME/oci from the base plus recipe_NAME.
build_image() {
    local name=$1 fn=${1//-/_} dest=$out/$1 key f
    key=$({
        base_key
        declare -f "recipe_$fn" "config_$fn" in_chroot apt_install slim
        sha scripts/lib/oci-layout.sh
        for f in $("inputs_$fn"); do sha "$f"; done
    } | sha256sum | cut -c1-16)
    if [ -f "$dest/.key" ] && [ "$(cat "$dest/.key")" = "$key" ] && [ -f "$dest/oci/index.json" ]; then
        echo "$name: cached ($dest)"
        return
    fi
    ensure_base
    echo "$name: building ($dest)"
    local t0=$SECONDS b=$out/$name.build
    remove_tree "$b"; mkdir -p "$b"
    building+=("$b")
    cp -a "$out/debian/rootfs" "$b/rootfs"
    "recipe_$fn" "$b/rootfs"
    oci_layout "$b/rootfs" "$b/oci" "$("config_$fn")" scripts/build-walkthrough-images.sh
    remove_tree "$b/rootfs"
    echo "$key" >"$b/.key"
    remove_tree "$dest"
    mv "$b" "$dest"
    building=("${building[@]/$b/}")
    echo "$name: built in $((SECONDS - t0))s, $(($(du -sb "$dest/oci/blobs" | cut -f1) / 1024 / 1024)) MiB compressed"
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(mysql netshoot todo-app)
for n in "${names[@]}"; do
    case "$n" in
        mysql | netshoot | todo-app) build_image "$n" ;;
        *) echo "build-walkthrough-images.sh: unknown image $n (mysql, netshoot, todo-app)" >&2; exit 2 ;;
    esac
done
