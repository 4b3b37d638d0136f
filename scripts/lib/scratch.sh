# A benchmark's scratch space (sourced). With BENCH_SCRATCH=ext4, a fresh
# ext4 with a journal is loop-mounted on the benchmark's directory (its
# image beside it, BENCH_SCRATCH_SIZE, 6G, sparse); unset, the directory is
# left on the host's filesystem. Use it where the host's own filesystem
# measures something else: an ext4 without a journal (as on this project's
# VMs) will not reuse an inode deleted in the last 60 s (360 s while its
# inode table block is dirty) and skips each such inode on every create,
# so a run that follows the deletion of another run's files in the same
# block group spends its time in the kernel's inode allocator (perf:
# recently_deleted, find_inode_bit), whichever engine it is.
scratch_img=''

# scratch_mount DIR
scratch_mount() {
    case ${BENCH_SCRATCH:-} in
    '') ;;
    ext4)
        scratch_img=$1.img
        truncate -s "${BENCH_SCRATCH_SIZE:-6G}" "$scratch_img"
        mkfs.ext4 -q -F "$scratch_img"
        mount -o loop "$scratch_img" "$1"
        ;;
    *) echo "BENCH_SCRATCH: ext4 or unset" >&2; return 2 ;;
    esac
}

# scratch_release: removes the image (once DIR is unmounted).
scratch_release() {
    [ -z "$scratch_img" ] || rm -f "$scratch_img"
}

# scratch_note DIR WHAT: a note on stderr when DIR is on an ext4 without a
# journal, WHAT being what that weighs on.
scratch_note() {
    local dev
    dev=$(findmnt -n -o SOURCE -T "$1")
    if [ "$(cat "/sys/fs/ext4/${dev#/dev/}/journal_task" 2>/dev/null)" = "<none>" ]; then
        echo "note: $1 is on an ext4 without a journal: $2 include the kernel's wait to reuse recently deleted inodes (scripts/lib/scratch.sh; BENCH_SCRATCH=ext4)" >&2
    fi
}
