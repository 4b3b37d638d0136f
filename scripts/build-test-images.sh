#!/usr/bin/env bash
# Builds the test images from Debian packages, cached by content under
# .cache/images (or $RRUN_TEST_IMAGES). Each image is rebuilt only when its
# inputs (the packaged binaries and this script) change.
#
#   busybox/oci     OCI image layout (index.json, blobs/sha256/…), one layer
#   busybox/rootfs  the same tree unpacked, for OCI runtime bundles
#
# Later issues add a Debian base and a MySQL-compatible image here.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${RRUN_TEST_IMAGES:-$PWD/.cache/images}"
mkdir -p "$out"

sha() { sha256sum "$1" | cut -d' ' -f1; }

goarch() {
    case "$(dpkg --print-architecture)" in
        amd64) echo amd64 ;;
        arm64) echo arm64 ;;
        *) dpkg --print-architecture ;;
    esac
}

# write_blob FILE DIR -> prints the digest's hex and moves FILE into DIR/blobs/sha256/
write_blob() {
    local file=$1 dir=$2 hex
    hex=$(sha "$file")
    mkdir -p "$dir/blobs/sha256"
    mv "$file" "$dir/blobs/sha256/$hex"
    echo "$hex"
}

# oci_layout ROOTFS DIR CONFIG_JSON_FRAGMENT: packs ROOTFS as a single gzip
# layer into an OCI image layout at DIR. The fragment is the image config's
# "config" object (Env, Cmd, ...).
oci_layout() {
    local rootfs=$1 dir=$2 cfg=$3 tmp
    tmp=$(mktemp -d)
    rm -rf "$dir"; mkdir -p "$dir"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
        -C "$rootfs" -cf "$tmp/layer.tar" .
    local diff_id; diff_id=$(sha "$tmp/layer.tar")
    gzip -n -6 "$tmp/layer.tar"
    local layer_size; layer_size=$(stat -c %s "$tmp/layer.tar.gz")
    local layer; layer=$(write_blob "$tmp/layer.tar.gz" "$dir")
    jq -cn --arg arch "$(goarch)" --arg diff "sha256:$diff_id" --argjson cfg "$cfg" \
        '{architecture:$arch, os:"linux", created:"1970-01-01T00:00:00Z", config:$cfg,
          rootfs:{type:"layers", diff_ids:[$diff]},
          history:[{created:"1970-01-01T00:00:00Z", created_by:"scripts/build-test-images.sh"}]}' \
        >"$tmp/config.json"
    local config_size; config_size=$(stat -c %s "$tmp/config.json")
    local config; config=$(write_blob "$tmp/config.json" "$dir")
    jq -cn --arg c "sha256:$config" --argjson cs "$config_size" --arg l "sha256:$layer" --argjson ls "$layer_size" \
        '{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
          config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$c, size:$cs},
          layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip", digest:$l, size:$ls}]}' \
        >"$tmp/manifest.json"
    local manifest_size; manifest_size=$(stat -c %s "$tmp/manifest.json")
    local manifest; manifest=$(write_blob "$tmp/manifest.json" "$dir")
    jq -cn --arg m "sha256:$manifest" --argjson ms "$manifest_size" --arg arch "$(goarch)" \
        '{schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json",
          manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$m, size:$ms,
                      platform:{architecture:$arch, os:"linux"},
                      annotations:{"org.opencontainers.image.ref.name":"latest"}}]}' >"$dir/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
    rm -rf "$tmp"
}

build_busybox() {
    local bb=/bin/busybox key dest=$out/busybox
    [ -x "$bb" ] || { echo "busybox-static is not installed (scripts/install-deps.sh)"; exit 1; }
    key=$( (sha "$bb"; sha "$0") | sha256sum | cut -c1-16)
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
