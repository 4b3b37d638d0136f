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

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompOperator, LinuxSyscall,
};
use serde::de::IntoDeserializer;
use serde::Deserialize;

use LinuxSeccompAction::{ScmpActAllow, ScmpActErrno};
use LinuxSeccompOperator::{ScmpCmpEq, ScmpCmpMaskedEq, ScmpCmpNe};

/// Why a profile cannot be used; the message names the profile's part.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// Not JSON, or not a profile in Docker's format (Docker's message).
    #[error("Decoding seccomp profile failed: {0}")]
    Decode(#[from] serde_json::Error),
    /// An `archMap` entry for this machine names an architecture libseccomp
    /// does not know.
    #[error("seccomp profile: unknown architecture {0:?} in archMap; use libseccomp's names (SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64, …)")]
    UnknownArch(String),
    /// oci-spec refused a rule's argument (a bug in rrund).
    #[error("seccomp profile: {0}")]
    Oci(#[from] oci_spec::OciSpecError),
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A seccomp profile in Docker's format (moby `api/types/seccomp`): the OCI
/// section's fields plus `archMap` and conditional rules. Fields Docker
/// knows and rrun does not use (`flags`, `listenerPath`, comments) are
/// ignored, as they were when profiles were read as untyped JSON.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: LinuxSeccompAction,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    /// Architectures taken as they are (OCI form).
    #[serde(default, deserialize_with = "null_default")]
    pub architectures: Vec<Arch>,
    /// Native architecture → its sub-architectures. Names stay text: only
    /// the entry for this machine is used, so an unknown name elsewhere is
    /// no error (as in Docker).
    #[serde(default, deserialize_with = "null_default")]
    pub arch_map: Vec<ArchMap>,
    #[serde(default, deserialize_with = "null_default")]
    pub syscalls: Vec<Rule>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default, deserialize_with = "null_default")]
    pub sub_architectures: Vec<String>,
}

/// One rule: syscalls, an action, and when it applies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// The older single-name form.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub names: Vec<String>,
    pub action: LinuxSeccompAction,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    #[serde(default, deserialize_with = "null_default")]
    pub includes: Filter,
    #[serde(default, deserialize_with = "null_default")]
    pub excludes: Filter,
}

/// A condition on a syscall's argument, as in the OCI section.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: usize,
    pub value: u64,
    #[serde(default)]
    pub value_two: Option<u64>,
    pub op: LinuxSeccompOperator,
}

impl Arg {
    fn to_oci(self) -> Result<LinuxSeccompArg, SeccompError> {
        let b = LinuxSeccompArgBuilder::default()
            .index(self.index)
            .value(self.value)
            .op(self.op);
        let b = match self.value_two {
            Some(v) => b.value_two(v),
            None => b,
        };
        Ok(b.build()?)
    }
}

/// A rule's condition (moby's `Filter`): architectures (Go's names),
/// capabilities, a minimum kernel.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default, deserialize_with = "null_default")]
    pub arches: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub caps: Vec<String>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// A profile's JSON text (what `--security-opt seccomp=<file>` sends).
pub fn parse(text: &str) -> Result<Profile, SeccompError> {
    Ok(serde_json::from_str(text)?)
}

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

fn names(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn allow(calls: &str) -> Rule {
    Rule {
        names: names(calls),
        action: ScmpActAllow,
        ..Rule::default()
    }
}

fn arg(index: usize, value: u64, op: LinuxSeccompOperator) -> Arg {
    Arg {
        index,
        value,
        value_two: None,
        op,
    }
}

fn only(arches: &[&str], caps: &[&str]) -> Filter {
    Filter {
        arches: strings(arches),
        caps: strings(caps),
        min_kernel: None,
    }
}

/// Without CAP_SYS_ADMIN: clone without namespace flags (the flags are the
/// 2nd argument on s390), and clone3 (whose flags cannot be inspected)
/// fails with ENOSYS so libcs fall back.
fn clone_rules() -> [Rule; 3] {
    let s390 = &["s390", "s390x"];
    [
        Rule {
            args: Some(vec![arg(0, CLONE_NS_MASK, ScmpCmpMaskedEq)]),
            excludes: only(s390, &["CAP_SYS_ADMIN"]),
            ..allow("clone")
        },
        Rule {
            args: Some(vec![arg(1, CLONE_NS_MASK, ScmpCmpMaskedEq)]),
            includes: only(s390, &[]),
            excludes: only(&[], &["CAP_SYS_ADMIN"]),
            ..allow("clone")
        },
        Rule {
            action: ScmpActErrno,
            errno_ret: Some(38),
            excludes: only(&[], &["CAP_SYS_ADMIN"]),
            ..allow("clone3")
        },
    ]
}

/// Docker's `archMap`: each native architecture with the ones it also runs.
const ARCH_MAP: &[(&str, &[&str])] = &[
    ("SCMP_ARCH_X86_64", &["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    ("SCMP_ARCH_AARCH64", &["SCMP_ARCH_ARM"]),
    (
        "SCMP_ARCH_MIPS64",
        &["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"],
    ),
    (
        "SCMP_ARCH_MIPS64N32",
        &["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"],
    ),
    (
        "SCMP_ARCH_MIPSEL64",
        &["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"],
    ),
    (
        "SCMP_ARCH_MIPSEL64N32",
        &["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"],
    ),
    ("SCMP_ARCH_S390X", &["SCMP_ARCH_S390"]),
    ("SCMP_ARCH_RISCV64", &[]),
];

/// Docker's default profile, in Docker's own format (as a user's
/// `--security-opt seccomp=profile.json` would be).
pub fn default_profile() -> Profile {
    let mut rules = vec![allow(ALLOW)];
    rules.push(Rule {
        includes: Filter {
            min_kernel: Some("4.8".into()),
            ..Filter::default()
        },
        ..allow("process_vm_readv process_vm_writev ptrace")
    });
    // No AF_VSOCK (40) sockets.
    rules.push(Rule {
        args: Some(vec![arg(0, 40, ScmpCmpNe)]),
        ..allow("socket")
    });
    // PER_LINUX, UNAME26, PER_LINUX32, UNAME26|PER_LINUX32, and the query.
    for persona in [0u64, 8, 131072, 131080, 4294967295] {
        rules.push(Rule {
            args: Some(vec![arg(0, persona, ScmpCmpEq)]),
            ..allow("personality")
        });
    }
    for (arches, calls) in BY_ARCH {
        rules.push(Rule {
            includes: only(arches, &[]),
            ..allow(calls)
        });
    }
    for (cap, calls) in BY_CAP {
        rules.push(Rule {
            includes: only(&[], &[cap]),
            ..allow(calls)
        });
        if *cap == "CAP_SYS_ADMIN" {
            rules.extend(clone_rules());
        }
    }
    Profile {
        default_action: ScmpActErrno,
        default_errno_ret: Some(1),
        architectures: vec![],
        arch_map: ARCH_MAP
            .iter()
            .map(|(a, subs)| ArchMap {
                architecture: a.to_string(),
                sub_architectures: strings(subs),
            })
            .collect(),
        syscalls: rules,
    }
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
fn native_scmp_arch(go_arch: &str) -> Option<Arch> {
    Some(match go_arch {
        "amd64" => Arch::ScmpArchX86_64,
        "386" => Arch::ScmpArchX86,
        "arm64" => Arch::ScmpArchAarch64,
        "arm" => Arch::ScmpArchArm,
        "s390x" => Arch::ScmpArchS390x,
        "ppc64le" => Arch::ScmpArchPpc64le,
        "riscv64" => Arch::ScmpArchRiscv64,
        _ => return None,
    })
}

/// libseccomp's name (`SCMP_ARCH_X86_64`) as oci-spec's [`Arch`].
fn parse_arch(name: &str) -> Option<Arch> {
    let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        name.into_deserializer();
    Arch::deserialize(de).ok()
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
fn applies(rule: &Rule, t: &Target) -> bool {
    let has_cap = |c: &String| t.caps.contains(c);
    let (inc, exc) = (&rule.includes, &rule.excludes);
    let arch = |a: &String| a == t.arch;
    if !inc.arches.is_empty() && !inc.arches.iter().any(arch) {
        return false;
    }
    if !inc.caps.iter().all(has_cap) {
        return false;
    }
    let kernel = |k: &Option<String>| k.as_deref().and_then(parse_kernel);
    if kernel(&inc.min_kernel).is_some_and(|k| t.kernel < k) {
        return false;
    }
    if exc.arches.iter().any(arch) || exc.caps.iter().any(has_cap) {
        return false;
    }
    kernel(&exc.min_kernel).is_none_or(|k| t.kernel < k)
}

/// The profile's architectures for the target: its own list, then the
/// native one with its sub-architectures when `archMap` names it.
fn architectures(profile: &Profile, t: &Target) -> Result<Vec<Arch>, SeccompError> {
    let mut arches = profile.architectures.clone();
    let Some(native) = native_scmp_arch(t.arch) else {
        return Ok(arches);
    };
    for m in &profile.arch_map {
        if parse_arch(&m.architecture) != Some(native) {
            continue;
        }
        arches.push(native);
        for sub in &m.sub_architectures {
            arches.push(parse_arch(sub).ok_or_else(|| SeccompError::UnknownArch(sub.clone()))?);
        }
    }
    Ok(arches)
}

/// A profile in Docker's format → the OCI `linux.seccomp` section for
/// this container. A profile already in OCI form (`architectures`) passes
/// through with its conditional parts resolved the same way.
pub fn to_oci(profile: &Profile, t: &Target) -> Result<LinuxSeccomp, SeccompError> {
    let mut syscalls = Vec::new();
    for rule in profile.syscalls.iter().filter(|r| applies(r, t)) {
        let mut names = rule.names.clone();
        names.extend(rule.name.iter().cloned());
        if names.is_empty() {
            continue;
        }
        let args = match &rule.args {
            Some(args) => Some(args.iter().map(|a| a.to_oci()).collect::<Result<_, _>>()?),
            None => None,
        };
        let mut out = LinuxSyscall::default();
        out.set_names(names)
            .set_action(rule.action)
            .set_errno_ret(rule.errno_ret)
            .set_args(args);
        syscalls.push(out);
    }
    let mut s = LinuxSeccomp::default();
    s.set_default_action(profile.default_action)
        .set_default_errno_ret(profile.default_errno_ret)
        .set_architectures(Some(architectures(profile, t)?))
        .set_syscalls(Some(syscalls));
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(v: &[&str]) -> Vec<String> {
        strings(v)
    }

    fn allowed<'a>(s: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
        s.syscalls()
            .iter()
            .flatten()
            .filter(|r| r.names().iter().any(|n| n == name))
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
        assert_eq!(s.default_action(), ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(1));
        assert_eq!(
            s.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
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
        let args = clone[0].args().clone().unwrap();
        assert_eq!(args[0].op(), ScmpCmpMaskedEq);
        assert_eq!(args[0].value(), CLONE_NS_MASK);
        assert_eq!(allowed(&s, "clone3")[0].errno_ret(), Some(38));
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
        assert!(clone.iter().all(|r| r.args().is_none()));
        assert!(allowed(&s, "clone3")
            .iter()
            .all(|r| r.action() == ScmpActAllow));
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
            s.architectures().as_deref(),
            Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..])
        );
        assert!(allowed(&s, "arch_prctl").is_empty());
        assert!(!allowed(&s, "set_tls").is_empty());
    }

    #[test]
    fn profiles_in_docker_and_oci_form_parse_and_bad_ones_are_refused() {
        let t = Target {
            caps: &[],
            arch: "amd64",
            kernel: (6, 1),
        };
        let e = parse(r#"{"syscalls": []}"#).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Decoding seccomp profile failed: missing field `defaultAction`"),
            "{e}"
        );
        assert!(parse("{not json").is_err());
        assert!(parse(r#"{"defaultAction": "SCMP_ACT_BOGUS"}"#).is_err());
        let p = parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"},
                             {"name": "add_key", "action": "SCMP_ACT_ERRNO", "args": null}]}"#,
        )
        .unwrap();
        let oci = to_oci(&p, &t).unwrap();
        assert_eq!(
            oci.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64][..])
        );
        let calls = oci.syscalls().clone().unwrap();
        assert_eq!(calls[0].names(), &["keyctl".to_string()]);
        assert_eq!(calls[1].names(), &["add_key".to_string()]);
        // Only this machine's archMap entry is read.
        let p = parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [
                {"architecture": "SCMP_ARCH_FUTURE", "subArchitectures": ["SCMP_ARCH_X"]},
                {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_NOPE"]}]}"#,
        )
        .unwrap();
        let e = to_oci(&p, &t).unwrap_err();
        assert!(e.to_string().contains("\"SCMP_ARCH_NOPE\""), "{e}");
        assert!(to_oci(&p, &Target { arch: "arm64", ..t }).is_ok());
    }
}
