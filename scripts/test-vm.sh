#!/usr/bin/env bash
# rrun on a modern host: boots Debian 12 with systemd as pid 1 and the
# unified cgroup v2 hierarchy in a virtual machine and runs the in-VM suite
# (scripts/vm/suite.sh) there against the binaries built here
# (target/debug/{rrun,rrund,rrun-oci,rrun-shim}) and scripts/rrund.service.
#
#   scripts/test-vm.sh        exits non-zero on any failure; its last line is
#                             cargo's "test result: … N passed; M failed;"
#   RRUN_VM_WALKTHROUGH=0     without the walkthrough (mysql, netshoot,
#                             todo-app; about 3.5 of the suite's 7 to 10 minutes
#                             under software emulation)
#
# The VM has no network at all (-nic none). Files go in, and results come out,
# through a second ext4 disk image (mkfs.ext4 -d in, debugfs out): no loop
# devices, no mounts on the host. The root image is built by
# scripts/vm/build-image.sh, cached under $RRUN_VM_CACHE (default
# /var/cache/rrun-vm, outside the checkout so CI's clean clones reuse it) by a
# hash of its recipe, and booted read-only (-snapshot). KVM is used when a
# short bounded boot shows it works, TCG (software emulation) otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${RRUN_VM_CACHE:-/var/cache/rrun-vm}
images=${RRUN_TEST_IMAGES:-$PWD/.cache/images}
bins=${RRUN_VM_BINS:-$PWD/target/debug}

for tool in qemu-system-x86_64 debootstrap mkfs.ext4 debugfs docker-registry skopeo; do
    command -v "$tool" >/dev/null || { echo "test-vm.sh: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
# The binaries and the tests/oci.rs executable, as test.sh built them (a
# no-op then); its cgroup cases run again inside.
export PATH="$HOME/.cargo/bin:$PATH"
timeout 1800 cargo build --locked --workspace --bins -q
oci_tests=$(timeout 1800 cargo test --locked --no-run --test oci 2>&1 | grep -o 'target/debug/deps/oci-[0-9a-f]*' | head -1)
cri_tests=$(timeout 1800 cargo test --locked --no-run --test cri 2>&1 | grep -o 'target/debug/deps/cri-[0-9a-f]*' | head -1)
for b in rrun rrund rrun-oci rrun-shim; do
    [ -x "$bins/$b" ] || { echo "test-vm.sh: $bins/$b is missing (cargo build --bins first)" >&2; exit 1; }
done
[ -x "$oci_tests" ] || { echo "test-vm.sh: the tests/oci.rs executable was not found" >&2; exit 1; }
[ -x "$cri_tests" ] || { echo "test-vm.sh: the tests/cri.rs executable was not found" >&2; exit 1; }
[ -d "$images/busybox/oci" ] || { echo "test-vm.sh: no test images in $images (scripts/build-test-images.sh)" >&2; exit 1; }

start=$SECONDS
img=$(scripts/vm/build-image.sh "$cache")
work=$(mktemp -d /tmp/rrun-vm.XXXXXX)
qemu_pid=""
trap '[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null; rm -rf "$work"' EXIT

# The data disk: the suite, the binaries (debug info stripped: a third of the
# size), the unit, and the test images as OCI layouts.
d=$work/data
mkdir -p "$d/bin" "$d/images"
for b in rrun rrund rrun-oci rrun-shim; do
    objcopy --strip-debug "$bins/$b" "$d/bin/$b"
done
cp scripts/rrund.service "$d/"
cp scripts/vm/suite.sh scripts/vm/lib.sh scripts/vm/t-*.sh "$d/"
# The suite's log goes to the data disk and, for a look while it runs, to
# the serial console.
printf '#!/bin/bash\ncd /mnt/data && bash suite.sh 2>&1 | tee /mnt/data/suite.log\n' >"$d/run.sh"
# The walkthrough unless RRUN_VM_WALKTHROUGH=0.
[ "${RRUN_VM_WALKTHROUGH:-1}" = 1 ] && echo walkthrough >"$d/options"
objcopy --strip-debug "$oci_tests" "$d/bin/oci-tests"
objcopy --strip-debug "$cri_tests" "$d/bin/cri-tests"
mkdir -p "$d/timages/busybox"
cp -a "$images/busybox/rootfs" "$d/timages/busybox/rootfs"
# and its OCI layout (t-callers.sh: ctr, podman, tests/cri.rs)
cp -a "$images/busybox/oci" "$d/timages/busybox/oci"

# fill_registry DIR LAYOUT=REPO:TAG...: pushes the test images' OCI layouts
# (skopeo) into the storage directory of a docker-registry started here on
# 127.0.0.1 for the purpose; the VM serves that storage with its own
# docker-registry (skopeo cannot be debootstrapped into the image).
fill_registry() {
    local dir=$1 port cfg=$work/registry.yml log=$work/registry.log pid="" try i
    shift
    for try in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 20000))
        printf 'version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$dir" "$port" >"$cfg"
        docker-registry serve "$cfg" >"$log" 2>&1 &
        pid=$!
        for i in $(seq 100); do
            grep -q "listening on 127.0.0.1:$port" "$log" && break 2
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=""
    done
    [ -n "$pid" ] || { echo "test-vm.sh: docker-registry did not start: $(tail -3 "$log")" >&2; return 1; }
    local status=0 pair
    for pair in "$@"; do
        [ -d "$images/${pair%%=*}/oci" ] || continue
        timeout 300 skopeo copy --quiet --dest-tls-verify=false "oci:$images/${pair%%=*}/oci:latest" \
            "docker://127.0.0.1:$port/${pair#*=}" || { status=1; break; }
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
    return "$status"
}
fill_registry "$d/registry" busybox=library/busybox:latest mysql=library/mysql:5.7 \
    netshoot=nicolaka/netshoot:latest todo-app=getting-started/todo-app:latest
size=$(( $(du -sm "$d" | cut -f1) * 2 + 256 ))
truncate -s "${size}M" "$work/data.img"
timeout 300 mkfs.ext4 -q -L rrun-vm-data -d "$d" "$work/data.img"
rm -rf "$d"
# rrund's data root (/var/lib/rrun, mounted by t-install.sh): an empty disk
# of its own, sparse, as the root image has about 1 GB free and the
# walkthrough's images and database need more.
truncate -s 8G "$work/scratch.img"
timeout 300 mkfs.ext4 -q -L rrun-vm-scratch "$work/scratch.img"

# boot ACCEL CMDLINE_EXTRA TIMEOUT LOG: boots the image, returns qemu's status.
boot() {
    local accel=$1 extra=$2 limit=$3 log=$4 cpu=max
    [ "$accel" = kvm ] && cpu=host
    timeout --kill-after=10 "$limit" qemu-system-x86_64 \
        -accel "$accel" -cpu "$cpu" -m 2048 -smp 2 \
        -display none -vga none -monitor none -serial "file:$log" -nic none -no-reboot \
        -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
        -append "root=/dev/vda rw console=ttyS0 panic=-1 $extra" \
        -drive "file=$img/root.img,format=raw,if=virtio,snapshot=on" \
        -drive "file=$work/data.img,format=raw,if=virtio" \
        -drive "file=$work/scratch.img,format=raw,if=virtio" &
    qemu_pid=$!
    local status=0
    wait "$qemu_pid" || status=$?
    qemu_pid=""
    return "$status"
}

# KVM only when it really boots this kernel: /dev/kvm may exist and still be a
# variant that cannot run a stock Debian kernel. The probe's init is
# /bin/true: the kernel reaching user space is enough, it then panics and
# (-no-reboot) qemu exits.
accel=tcg
if [ -w /dev/kvm ]; then
    boot kvm "rdinit=/bin/true" 30 "$work/probe.log" >/dev/null 2>&1 || true
    grep -q 'Run /bin/true as init process' "$work/probe.log" 2>/dev/null && accel=kvm
fi
echo "vm: booting Debian 12 (systemd, cgroup v2) with $accel"

boot_start=$SECONDS
status=0
boot "$accel" "rrun.vmtest" "${RRUN_VM_TIMEOUT:-2400}" "$work/console.log" || status=$?
echo "vm: powered off after $((SECONDS - boot_start)) s (qemu status $status)"

results=$(debugfs -R 'cat /results.txt' "$work/data.img" 2>/dev/null || true)
debugfs -R 'cat /suite.log' "$work/data.img" 2>/dev/null | sed 's/^/  /' || true
if [ -z "$results" ]; then
    echo "vm: no results from the VM; the console's last lines:"
    tail -60 "$work/console.log" | sed 's/^/  /'
    echo "test result: FAILED. 0 passed; 1 failed; 0 ignored (scripts/test-vm.sh: no results)"
    exit 1
fi
passed=$(awk '{print $1}' <<<"$results")
failed=$(awk '{print $3}' <<<"$results")
if [ "$status" != 0 ]; then
    echo "vm: qemu did not power off cleanly (status $status); the console's last lines:"
    tail -30 "$work/console.log" | sed 's/^/  /'
    failed=$((failed + 1))
fi
echo "vm: $((SECONDS - start)) s in all"
if [ "$failed" = 0 ]; then
    echo "test result: ok. $passed passed; 0 failed; 0 ignored (scripts/test-vm.sh)"
else
    echo "test result: FAILED. $passed passed; $failed failed; 0 ignored (scripts/test-vm.sh)"
    exit 1
fi
