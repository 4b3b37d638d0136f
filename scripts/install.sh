#!/usr/bin/env bash
# Builds rrun in release mode and installs its binaries to $PREFIX/bin
# (default /usr/local). Installs the Debian packages the build needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}

scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
scripts/lib/build-release.sh
for b in rrun-oci rrun rrund rrun-shim; do
    if [ -x "target/release/$b" ]; then
        install -D -m 0755 "target/release/$b" "$prefix/bin/$b"
        echo "installed $prefix/bin/$b"
    fi
done
# The API socket is 0660 root:rrun, as Docker's is root:docker: members of
# the group may drive rrund, which is as good as root (say so to whoever
# adds users to it: `usermod -aG rrun <user>`).
if ! getent group rrun >/dev/null; then
    groupadd --system rrun
    echo "created the system group rrun (members may use /run/rrun/rrun.sock)"
fi
if [ -f scripts/rrund.service ] && [ -x "$prefix/bin/rrund" ]; then
    install -D -m 0644 scripts/rrund.service /etc/systemd/system/rrund.service
    echo "installed /etc/systemd/system/rrund.service (systemctl daemon-reload && systemctl enable --now rrund)"
fi
