//! Docker's default seccomp profile, and the conversion of a profile in
//! Docker's format (with `archMap` and cap/arch/kernel-conditional rules) to
//! the OCI `linux.seccomp` section for one container.
//!
//! The default profile is transcribed from moby's
//! `profiles/seccomp/default.json` (Copyright Docker, Inc., Apache-2.0):
//! default action ERRNO(EPERM), one allowlist, and groups that apply only
//! when the container holds a capability (CAP_SYS_ADMIN, CAP_SYS_PTRACE, …)
//! or runs on an architecture, plus the argument rules for `socket`
//! (no AF_VSOCK), `personality` and `clone` (no namespace flags without
//! CAP_SYS_ADMIN).

use serde_json::{json, Value};

/// Syscalls every container may make.
const ALLOW: &str =
    "accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown \
chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime \
clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect \
copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old \
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit \
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod \
fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork \
fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 \
futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 \
geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp \
getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit \
get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday \
getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch \
io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get \
ioprio_set io_setup io_submit io_uring_enter io_uring_register io_uring_setup ipc kill \
landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr \
link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 \
madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 \
mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive \
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv \
msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open \
openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free \
pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease \
pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv \
recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat \
renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask \
rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 \
rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max \
sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 \
sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select \
semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg \
sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 \
setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid \
setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area \
set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack \
signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs \
statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time \
timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime \
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime \
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat \
utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev";

/// Syscalls allowed only with a capability: (capability, syscalls).
const BY_CAP: &[(&str, &str)] = &[
    ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
    (
        "CAP_SYS_ADMIN",
        "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount \
         mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname \
         sethostname setns syslog umount umount2 unshare",
    ),
    ("CAP_SYS_BOOT", "reboot"),
    ("CAP_SYS_CHROOT", "chroot"),
    ("CAP_SYS_MODULE", "delete_module init_module finit_module"),
    ("CAP_SYS_PACCT", "acct"),
    (
        "CAP_SYS_PTRACE",
        "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
    ),
    ("CAP_SYS_RAWIO", "iopl ioperm"),
    (
        "CAP_SYS_TIME",
        "settimeofday stime clock_settime clock_settime64",
    ),
    ("CAP_SYS_TTY_CONFIG", "vhangup"),
    (
        "CAP_SYS_NICE",
        "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    ),
    ("CAP_SYSLOG", "syslog"),
    ("CAP_BPF", "bpf"),
    ("CAP_PERFMON", "perf_event_open"),
];

/// Syscalls allowed only on some architectures (Go's names): (arches, syscalls).
const BY_ARCH: &[(&[&str], &str)] = &[
    (&["ppc64le"], "sync_file_range2 swapcontext"),
    (
        &["arm", "arm64"],
        "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
    ),
    (&["amd64", "x32"], "arch_prctl"),
    (&["amd64", "x32", "x86"], "modify_ldt"),
    (
        &["s390", "s390x"],
        "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
    ),
    (&["riscv64"], "riscv_flush_icache"),
];

/// `clone` flags a container without CAP_SYS_ADMIN may not pass: every
/// CLONE_NEW* flag (mask 0x7E020000).
const CLONE_NS_MASK: u64 = 2114060288;

fn names(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

/// Docker's default profile, in Docker's own format (as a user's
/// `--security-opt seccomp=profile.json` would be).
pub fn default_profile() -> Value {
    let mut rules = vec![json!({"names": names(ALLOW), "action": "SCMP_ACT_ALLOW"})];
    rules.push(json!({
        "names": ["process_vm_readv", "process_vm_writev", "ptrace"],
        "action": "SCMP_ACT_ALLOW",
        "includes": {"minKernel": "4.8"},
    }));
    // No AF_VSOCK (40) sockets.
    rules.push(json!({
        "names": ["socket"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}],
    }));
    // PER_LINUX, UNAME26, PER_LINUX32, UNAME26|PER_LINUX32, and the query.
    for persona in [0u64, 8, 131072, 131080, 4294967295] {
        rules.push(json!({
            "names": ["personality"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": persona, "op": "SCMP_CMP_EQ"}],
        }));
    }
    for (arches, calls) in BY_ARCH {
        rules.push(json!({
            "names": names(calls), "action": "SCMP_ACT_ALLOW",
            "includes": {"arches": arches},
        }));
    }
    for (cap, calls) in BY_CAP {
        rules.push(json!({
            "names": names(calls), "action": "SCMP_ACT_ALLOW",
            "includes": {"caps": [cap]},
        }));
        if *cap == "CAP_SYS_ADMIN" {
            // Without CAP_SYS_ADMIN: clone without namespace flags (the
            // flags are the 2nd argument on s390), and clone3 (whose flags
            // cannot be inspected) fails with ENOSYS so libcs fall back.
            rules.push(json!({
                "names": ["clone"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": CLONE_NS_MASK, "op": "SCMP_CMP_MASKED_EQ"}],
                "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]},
            }));
            rules.push(json!({
                "names": ["clone"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 1, "value": CLONE_NS_MASK, "op": "SCMP_CMP_MASKED_EQ"}],
                "includes": {"arches": ["s390", "s390x"]},
                "excludes": {"caps": ["CAP_SYS_ADMIN"]},
            }));
            rules.push(json!({
                "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                "excludes": {"caps": ["CAP_SYS_ADMIN"]},
            }));
        }
    }
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
            {"architecture": "SCMP_ARCH_MIPS64", "subArchitectures": ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"]},
            {"architecture": "SCMP_ARCH_MIPS64N32", "subArchitectures": ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"]},
            {"architecture": "SCMP_ARCH_MIPSEL64", "subArchitectures": ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"]},
            {"architecture": "SCMP_ARCH_MIPSEL64N32", "subArchitectures": ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"]},
            {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]},
            {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null},
        ],
        "syscalls": rules,
    })
}

/// Go's name of the machine's architecture (`runtime.GOARCH`), which the
/// profiles' `arches` conditions use.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// libseccomp's name of the native architecture (for `archMap`).
fn native_scmp_arch(go_arch: &str) -> &'static str {
    match go_arch {
        "amd64" => "SCMP_ARCH_X86_64",
        "386" => "SCMP_ARCH_X86",
        "arm64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "s390x" => "SCMP_ARCH_S390X",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "riscv64" => "SCMP_ARCH_RISCV64",
        _ => "",
    }
}

/// What a profile's conditions are evaluated against.
pub struct Target<'a> {
    /// The container's capabilities (`CAP_…`).
    pub caps: &'a [String],
    /// Go's architecture name.
    pub arch: &'a str,
    /// The running kernel's (major, minor).
    pub kernel: (u32, u32),
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn parse_kernel(s: &str) -> Option<(u32, u32)> {
    let mut it = s.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it
        .next()
        .map(|m| {
            m.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    Some((major, minor))
}

/// True if a rule applies to the target (moby's includes/excludes rules:
/// every `includes` condition holds and no `excludes` condition does).
fn applies(rule: &Value, t: &Target) -> bool {
    let has_cap = |c: &str| t.caps.iter().any(|x| x == c);
    let inc = &rule["includes"];
    let arches = strs(&inc["arches"]);
    if !arches.is_empty() && !arches.contains(&t.arch) {
        return false;
    }
    let caps = strs(&inc["caps"]);
    if !caps.is_empty() && !caps.iter().all(|c| has_cap(c)) {
        return false;
    }
    if let Some(k) = inc["minKernel"].as_str().and_then(parse_kernel) {
        if t.kernel < k {
            return false;
        }
    }
    let exc = &rule["excludes"];
    if strs(&exc["arches"]).contains(&t.arch) {
        return false;
    }
    if strs(&exc["caps"]).iter().any(|c| has_cap(c)) {
        return false;
    }
    if let Some(k) = exc["minKernel"].as_str().and_then(parse_kernel) {
        if t.kernel >= k {
            return false;
        }
    }
    true
}

/// A profile in Docker's format → the OCI `linux.seccomp` section for
/// this container. A profile already in OCI form (`architectures`) passes
/// through with its conditional parts resolved the same way.
pub fn to_oci(profile: &Value, t: &Target) -> Result<Value, String> {
    let default = profile["defaultAction"]
        .as_str()
        .ok_or("seccomp profile has no defaultAction")?;
    let mut arches: Vec<String> = strs(&profile["architectures"])
        .into_iter()
        .map(String::from)
        .collect();
    let native = native_scmp_arch(t.arch);
    if let Some(maps) = profile["archMap"].as_array() {
        for m in maps {
            if m["architecture"].as_str() == Some(native) {
                arches.push(native.to_string());
                arches.extend(strs(&m["subArchitectures"]).into_iter().map(String::from));
            }
        }
    }
    let mut syscalls = Vec::new();
    for rule in profile["syscalls"].as_array().into_iter().flatten() {
        if !applies(rule, t) {
            continue;
        }
        let mut names = strs(&rule["names"]);
        if let Some(n) = rule["name"].as_str() {
            names.push(n);
        }
        if names.is_empty() {
            continue;
        }
        let action = rule["action"]
            .as_str()
            .ok_or("seccomp profile: a rule has no action")?;
        let mut out = json!({"names": names, "action": action});
        if let Some(e) = rule.get("errnoRet").filter(|e| !e.is_null()) {
            out["errnoRet"] = e.clone();
        }
        if let Some(a) = rule.get("args").filter(|a| a.is_array()) {
            out["args"] = a.clone();
        }
        syscalls.push(out);
    }
    let mut s = json!({
        "defaultAction": default,
        "architectures": arches,
        "syscalls": syscalls,
    });
    if let Some(e) = profile.get("defaultErrnoRet").filter(|e| !e.is_null()) {
        s["defaultErrnoRet"] = e.clone();
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn allowed(s: &Value, name: &str) -> Vec<Value> {
        s["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| strs(&r["names"]).contains(&name))
            .cloned()
            .collect()
    }

    #[test]
    fn default_profile_for_docker_default_caps_on_amd64() {
        let c = caps(super::super::spec::DEFAULT_CAPS);
        let t = Target {
            caps: &c,
            arch: "amd64",
            kernel: (6, 1),
        };
        let s = to_oci(&default_profile(), &t).unwrap();
        assert_eq!(s["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(s["defaultErrnoRet"], 1);
        assert_eq!(
            s["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        assert!(allowed(&s, "unshare").is_empty());
        assert!(allowed(&s, "mount").is_empty());
        assert!(allowed(&s, "keyctl").is_empty());
        assert!(allowed(&s, "add_key").is_empty());
        assert!(!allowed(&s, "arch_prctl").is_empty());
        assert!(!allowed(&s, "chroot").is_empty()); // CAP_SYS_CHROOT is a default
        assert!(allowed(&s, "riscv_flush_icache").is_empty());
        // clone only without namespace flags; clone3 says ENOSYS.
        let clone = allowed(&s, "clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0]["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        assert_eq!(clone[0]["args"][0]["value"], CLONE_NS_MASK);
        assert_eq!(allowed(&s, "clone3")[0]["errnoRet"], 38);
        // ptrace from 4.8 on.
        assert_eq!(allowed(&s, "ptrace").len(), 1);
        let old = to_oci(
            &default_profile(),
            &Target {
                kernel: (4, 4),
                ..t
            },
        )
        .unwrap();
        assert!(allowed(&old, "ptrace").is_empty());
    }

    #[test]
    fn capabilities_open_their_groups() {
        let c = caps(&["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]);
        let t = Target {
            caps: &c,
            arch: "amd64",
            kernel: (6, 1),
        };
        let s = to_oci(&default_profile(), &t).unwrap();
        assert!(!allowed(&s, "unshare").is_empty());
        assert!(!allowed(&s, "kcmp").is_empty());
        // With CAP_SYS_ADMIN, clone is unconditional and clone3 allowed.
        let clone = allowed(&s, "clone");
        assert!(clone.iter().all(|r| r["args"].is_null()));
        assert!(allowed(&s, "clone3")
            .iter()
            .all(|r| r["action"] == "SCMP_ACT_ALLOW"));
    }

    #[test]
    fn arch_rules_follow_the_target() {
        let c = caps(&[]);
        let t = Target {
            caps: &c,
            arch: "arm64",
            kernel: (6, 1),
        };
        let s = to_oci(&default_profile(), &t).unwrap();
        assert_eq!(
            s["architectures"],
            json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        );
        assert!(allowed(&s, "arch_prctl").is_empty());
        assert!(!allowed(&s, "set_tls").is_empty());
    }

    #[test]
    fn profiles_without_default_action_are_refused() {
        let t = Target {
            caps: &[],
            arch: "amd64",
            kernel: (6, 1),
        };
        assert!(to_oci(&json!({"syscalls": []}), &t).is_err());
        let oci = to_oci(
            &json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                    "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}),
            &t,
        )
        .unwrap();
        assert_eq!(oci["architectures"], json!(["SCMP_ARCH_X86_64"]));
        assert_eq!(oci["syscalls"][0]["names"], json!(["keyctl"]));
    }
}
