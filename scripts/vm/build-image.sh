#!/usr/bin/env bash
# Builds the VM image scripts/test-vm.sh boots: Debian 12 (debootstrap
# minbase, the packages in scripts/vm/packages.txt), systemd as pid 1, the
# unified cgroup v2 hierarchy, and the unit that runs the in-VM suite.
# Made into an ext4 disk image without loop devices (mkfs.ext4 -d).
#
#   build-image.sh CACHE_DIR   prints the directory holding root.img,
#                              vmlinuz and initrd.img
#
# The image is cached under CACHE_DIR by a hash of what goes into it (this
# script, the package list, the unit), so CI's clean checkouts on the same
# machine reuse it; it is rebuilt when missing or stale. Needs network only
# to the Debian mirror, and only when it builds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: build-image.sh CACHE_DIR}
mirror=${RRUN_VM_MIRROR:-http://deb.debian.org/debian}

key=$(cat "$here/build-image.sh" "$here/packages.txt" "$here/rrun-vm-suite.service" | sha256sum | cut -c1-16)
dest=$cache/image-$key
if [ -f "$dest/ok" ]; then
    echo "vm image: cached ($dest)" >&2
    echo "$dest"
    exit 0
fi

mkdir -p "$cache"
# One builder at a time per cache (two CI runs, or a test and a developer).
exec 9>"$cache/.build.lock"
flock -w 900 9 || { echo "vm image: another build holds $cache/.build.lock for 15 minutes" >&2; exit 1; }
if [ -f "$dest/ok" ]; then echo "$dest"; exit 0; fi

work=$(mktemp -d "$cache/.build-XXXXXX")
cleanup() {
    # debootstrap leaves proc and sys mounted in the tree when it fails.
    for m in proc sys dev/pts dev; do umount -l "$work/root/$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

packages=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/packages.txt" | grep -v '^$' | paste -sd,)
echo "vm image: debootstrap bookworm ($packages)" >&2
start=$SECONDS
# Downloaded packages are kept beside the image: a changed recipe then
# fetches only what is new.
mkdir -p "$cache/debs"
timeout 1200 debootstrap --variant=minbase --cache-dir="$cache/debs" --include="$packages" bookworm "$work/root" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
for m in proc sys dev/pts dev; do umount -l "$work/root/$m" 2>/dev/null || true; done
echo "vm image: debootstrap took $((SECONDS - start)) s" >&2

r=$work/root
echo rrun-vm >"$r/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 rrun-vm\n::1 localhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
printf '/dev/vda / ext4 rw,relatime 0 1\n' >"$r/etc/fstab"
# No password for root on the serial console: the VM has no network at all.
sed -i 's/^root:[^:]*:/root::/' "$r/etc/shadow"
# Nothing in the VM may try to reach out; the suite starts its own DNS stub.
: >"$r/etc/resolv.conf"
install -m 0644 "$here/rrun-vm-suite.service" "$r/etc/systemd/system/rrun-vm-suite.service"
ln -sf /etc/systemd/system/rrun-vm-suite.service "$r/etc/systemd/system/multi-user.target.wants/rrun-vm-suite.service"
# The registry is started by the suite on 127.0.0.1 only, not at boot.
rm -f "$r/etc/systemd/system/multi-user.target.wants/docker-registry.service"
# Units that only slow a test boot down or wait for hardware the VM lacks.
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer; do
    rm -f "$r/etc/systemd/system/timers.target.wants/$u"
done
rm -rf "$r/var/cache/apt/archives/"*.deb "$r/var/lib/apt/lists/"*

cp -L "$r/vmlinuz" "$work/vmlinuz"
cp -L "$r/initrd.img" "$work/initrd.img"
size=$(( $(du -sm "$r" | cut -f1) + 1024 ))
truncate -s "${size}M" "$work/root.img"
timeout 300 mkfs.ext4 -q -L rrun-vm-root -d "$r" "$work/root.img"
rm -rf "$r"
touch "$work/ok"
rm -rf "$dest"
mv "$work" "$dest"
trap - EXIT
# Older images of other recipes are dead weight.
for old in "$cache"/image-* "$cache"/.build-*; do
    [ "$old" = "$dest" ] || rm -rf "$old"
done
echo "vm image: built ($dest, $((SECONDS - start)) s)" >&2
echo "$dest"
