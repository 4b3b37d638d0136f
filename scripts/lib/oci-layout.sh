# Shared by the image build scripts (sourced, not run): writing OCI image
# layouts and cleaning up build trees that had mounts in them.
# shellcheck shell=bash

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

# oci_layout ROOTFS DIR CONFIG_JSON_FRAGMENT [CREATED_BY]: packs ROOTFS as a
# single gzip layer into an OCI image layout at DIR, tagged `latest`. The
# fragment is the image config's "config" object, passed through as it is:
# Env, Cmd, Entrypoint, WorkingDir, User, Volumes, ExposedPorts, Labels, ...
oci_layout() {
    local rootfs=$1 dir=$2 cfg=$3 created_by=${4:-scripts/build-test-images.sh} tmp
    jq -e 'type == "object"' <<<"$cfg" >/dev/null || { echo "oci_layout: config is not a JSON object: $cfg" >&2; return 1; }
    tmp=$(mktemp -d)
    rm -rf "$dir"; mkdir -p "$dir"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
        -C "$rootfs" -cf "$tmp/layer.tar" .
    local diff_id; diff_id=$(sha "$tmp/layer.tar")
    gzip -n -6 "$tmp/layer.tar"
    local layer_size; layer_size=$(stat -c %s "$tmp/layer.tar.gz")
    local layer; layer=$(write_blob "$tmp/layer.tar.gz" "$dir")
    jq -cn --arg arch "$(goarch)" --arg diff "sha256:$diff_id" --argjson cfg "$cfg" --arg by "$created_by" \
        '{architecture:$arch, os:"linux", created:"1970-01-01T00:00:00Z", config:$cfg,
          rootfs:{type:"layers", diff_ids:[$diff]},
          history:[{created:"1970-01-01T00:00:00Z", created_by:$by}]}' \
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

# mounts_under DIR: prints every mount point at or below DIR, deepest first.
mounts_under() {
    local d; d=$(realpath -m "$1")
    findmnt -rn -o TARGET | awk -v p="$d" '$0 == p || index($0, p "/") == 1' | sort -r
}

# unmount_under DIR: unmounts everything at or below DIR (deepest first);
# fails if anything is still mounted there afterwards.
unmount_under() {
    local m
    while read -r m; do
        [ -n "$m" ] && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; }
    done < <(mounts_under "$1")
    [ -z "$(mounts_under "$1")" ] || { echo "still mounted under $1:" >&2; mounts_under "$1" >&2; return 1; }
}

# remove_tree DIR: rm -rf, but only once nothing is mounted below DIR (a
# build chroot has the host's /dev bound into it: never delete through that).
remove_tree() {
    [ -e "$1" ] || return 0
    unmount_under "$1" || { echo "not removing $1: mounts remain" >&2; return 1; }
    rm -rf --one-file-system "$1"
}
