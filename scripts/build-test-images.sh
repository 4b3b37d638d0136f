#!/usr/bin/env bash
# Builds the test images from Debian packages, cached by content under
# .cache/images (or $RRUN_TEST_IMAGES). Each image is rebuilt only when its
# inputs (the packaged binaries and this script) change.
#
#   busybox/oci     OCI image layout (index.json, blobs/sha256/…), one layer
#   busybox/rootfs  the same tree unpacked, for OCI runtime bundles
#
# Then scripts/build-walkthrough-images.sh builds the images of the
# multi-container walkthrough (issue 7) on a Debian base: mysql, netshoot,
# todo-app. `build-test-images.sh busybox` builds only busybox (quick, offline).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${RRUN_TEST_IMAGES:-$PWD/.cache/images}"
mkdir -p "$out"

# sha, goarch, write_blob, oci_layout (shared with build-walkthrough-images.sh)
. scripts/lib/oci-layout.sh

build_busybox() {
    local bb=/bin/busybox key dest=$out/busybox
    [ -x "$bb" ] || { echo "busybox-static is not installed (scripts/install-deps.sh)"; exit 1; }
    key=$( (sha "$bb"; sha "$0"; sha scripts/lib/oci-layout.sh) | sha256sum | cut -c1-16)
    if [ -f "$dest/.key" ] && [ "$(cat "$dest/.key")" = "$key" ]; then
        echo "busybox: cached ($dest)"
        return
    fi
    echo "busybox: building ($dest)"
    rm -rf "$dest"; mkdir -p "$dest"
    local r=$dest/rootfs
    mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,root,var/tmp,home}
    chmod 1777 "$r/tmp" "$r/var/tmp"
    chmod 700 "$r/root"
    cp "$bb" "$r/bin/busybox"
    # Link every applet at the path busybox itself names for it.
    local applet
    while read -r applet; do
        [ "$applet" = bin/busybox ] && continue
        mkdir -p "$r/$(dirname "$applet")"
        ln -sf /bin/busybox "$r/$applet"
    done < <("$bb" --list-full)
    printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\ntester:x:1000:1000:tester:/home/tester:/bin/sh\n' >"$r/etc/passwd"
    printf 'root:x:0:\ndaemon:x:1:\naudio:x:29:\nusers:x:100:\nnogroup:x:65534:\ntester:x:1000:\n' >"$r/etc/group"
    mkdir -p "$r/home/tester"; chown 1000:1000 "$r/home/tester"
    oci_layout "$r" "$dest/oci" '{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]}'
    echo "$key" >"$dest/.key"
}

build_busybox

# The walkthrough's images (Debian base, mysql, netshoot, todo-app).
[ "${1:-}" = busybox ] && exit 0
RRUN_TEST_IMAGES="$out" scripts/build-walkthrough-images.sh
