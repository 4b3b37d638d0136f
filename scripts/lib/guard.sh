# The network rule's guard, sourced by scripts/test.sh, reliability.sh and
# demo.sh: an nftables table of this run's own, rrun_<what>_guard_<pid>,
# dropping routed traffic that leaves through the host's uplink (the
# default-route interfaces). Each run has its own, so runs at once never
# remove each other's; the tables of runs that died without removing
# theirs (their pid gone) are removed first.
#   guard_up <what>    makes it (sets $guard)
#   guard_down         removes it (safe to call twice)
guard_up() {
    local t pid dev
    for t in $(nft list tables inet 2>/dev/null | awk '{print $3}' | grep -E '^rrun_[a-z]+_guard(_[0-9]+)?$'); do
        pid=${t##*_guard}
        pid=${pid#_}
        if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
            nft delete table inet "$t" 2>/dev/null || true
        fi
    done
    guard="rrun_$1_guard_$$"
    nft add table inet "$guard"
    nft add chain inet "$guard" forward '{ type filter hook forward priority -300; policy accept; }'
    for dev in $(ip -o route show default 2>/dev/null | awk '{for (i=1;i<NF;i++) if ($i=="dev") print $(i+1)}' | sort -u); do
        nft add rule inet "$guard" forward oifname "$dev" counter drop
    done
}
guard_down() { [ -z "${guard:-}" ] || nft delete table inet "$guard" 2>/dev/null || true; }
