# The in-VM suite: run by rrun-vm-suite.service (scripts/vm/build-image.sh)
# from the data disk scripts/test-vm.sh made, in Debian 12 with systemd as
# pid 1 and cgroup v2. Writes "N passed, N failed" to results.txt.
set -uo pipefail
cd "$(dirname "$0")"
. ./lib.sh
finish() { echo "$pass passed, $fail failed" | tee /mnt/data/results.txt; sync; }
trap finish EXIT

say "systemd $(systemctl --version | head -1 | cut -d' ' -f2), kernel $(uname -r)"
eq "cgroup2fs at /sys/fs/cgroup" cgroup2fs "$(stat -fc %T /sys/fs/cgroup)"
wait_for 120 bash -c '[[ $(systemctl is-system-running) =~ running|degraded ]]' || true
eq "the system booted clean (is-system-running)" running "$(systemctl is-system-running)"

# The walkthrough when scripts/test-vm.sh leaves the word in ./options (it
# does unless RRUN_VM_WALKTHROUGH=0): about 3.5 minutes under software
# emulation.
parts=(t-install.sh t-cgroup.sh t-oci.sh t-sdriver.sh t-callers.sh)
grep -qw walkthrough options 2>/dev/null && parts+=(t-walkthrough.sh)
for part in "${parts[@]}"; do
    say "== $part"
    . "./$part"
done
