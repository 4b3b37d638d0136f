//! The container's seccomp filter as the BPF program the kernel loads,
//! made once per profile.
//!
//! libseccomp turns a profile into BPF when the filter is exported or
//! loaded; for Docker's default profile that took 5–8 ms of every
//! container's start (and `rrun-oci run`'s), more than anything else the
//! init does. The runtime now asks libseccomp for the program before the
//! fork, keeps it under its state root (`<root>/.seccomp/<sha256>`, a
//! directory only root can reach: 0700, as the root is), and hands it to
//! the init, which loads it with the `seccomp(2)` call libseccomp would
//! make: the same program, the same flags (TSYNC, LOG, SPEC_ALLOW from the
//! profile's flags), no_new_privs left to the runtime as before.
//!
//! The file's name is the SHA-256 of everything the program depends on:
//! the profile as JSON, the architecture, libseccomp's version and
//! [`FORMAT`]; change [`FORMAT`] whenever `spec::seccomp::compile` changes
//! what it makes. The file holds the program's own SHA-256 before it: a
//! file cut short or changed is never loaded, but made again.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompFilterFlag};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek};
use std::path::Path;

/// Bump when `spec::seccomp::compile` changes what it makes.
const FORMAT: &str = "rrun-seccomp-bpf-2";

/// seccomp(2)'s operation and flags (linux/seccomp.h).
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_FILTER_FLAG_TSYNC: libc::c_ulong = 1;
const SECCOMP_FILTER_FLAG_LOG: libc::c_ulong = 2;
const SECCOMP_FILTER_FLAG_SPEC_ALLOW: libc::c_ulong = 4;

/// A filter ready to load: its instructions (8 bytes each, host order, as
/// libseccomp exports them) and seccomp(2)'s flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeccompProgram {
    /// Sent to the init in base64, not as JSON's array of numbers, which
    /// is about 2.6 times as long (10 KB of instructions for Docker's
    /// profile) and parsed number by number.
    #[serde(with = "base64_bytes")]
    bpf: Vec<u8>,
    flags: libc::c_ulong,
}

/// Where the programs are kept under the runtime's state root: a name no
/// container id can have (ids never start with '.').
const CACHE_DIR: &str = ".seccomp";

impl SeccompProgram {
    /// The program of `spec`'s seccomp profile, kept under the runtime's
    /// state root `root`; None without a profile.
    pub fn for_spec(root: &Path, spec: &oci_spec::runtime::Spec) -> Result<Option<SeccompProgram>> {
        let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
            return Ok(None);
        };
        Self::for_profile(profile, &root.join(CACHE_DIR)).map(Some)
    }

    /// The program of `profile`, from `cache` (a directory) when it was made
    /// before; made, checked and kept there otherwise. A cache that cannot
    /// be written costs only the time.
    pub fn for_profile(profile: &LinuxSeccomp, cache: &Path) -> Result<SeccompProgram> {
        let flags = flags(profile);
        let file = cache.join(key(profile)?);
        if let Some(bpf) = std::fs::read(&file).ok().and_then(|b| unseal(&b)) {
            return Ok(SeccompProgram { bpf, flags });
        }
        let bpf = export(profile)?;
        keep(cache, &file, &bpf);
        Ok(SeccompProgram { bpf, flags })
    }

    /// Loads the filter into the calling thread, as libseccomp's
    /// `seccomp_load` does.
    pub fn load(&self) -> Result<()> {
        let insns: Vec<libc::sock_filter> = self
            .bpf
            .chunks_exact(8)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        let prog = libc::sock_fprog {
            len: u16::try_from(insns.len()).context("seccomp program too long")?,
            filter: insns.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: seccomp(2) reads `prog` and the instructions it points
        // to, both alive for the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                self.flags,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error()).context("load the seccomp filter");
        }
        Ok(())
    }
}

/// Writes the program to `file`: its SHA-256, then the program, through a
/// temporary file of this process's own and a rename, so that two runtimes
/// making the same program at once never mix their writes.
fn keep(cache: &Path, file: &Path, bpf: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::create_dir_all(cache).is_err() {
        return;
    }
    let _ = std::fs::set_permissions(cache, std::fs::Permissions::from_mode(0o700));
    let mut sealed = Sha256::digest(bpf).to_vec();
    sealed.extend_from_slice(bpf);
    let tmp = cache.join(format!(".{}.tmp", std::process::id()));
    if std::fs::write(&tmp, &sealed).is_err() || std::fs::rename(&tmp, file).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The program in a kept file, if its digest matches (a file cut short or
/// changed is never loaded: it is made again).
fn unseal(sealed: &[u8]) -> Option<Vec<u8>> {
    let (digest, bpf) = sealed.split_at_checked(32)?;
    (valid(bpf) && Sha256::digest(bpf).as_slice() == digest).then(|| bpf.to_vec())
}

/// A program libseccomp could have written: whole instructions, at least
/// one, no more than the kernel takes in one filter.
fn valid(bpf: &[u8]) -> bool {
    !bpf.is_empty() && bpf.len().is_multiple_of(8) && bpf.len() / 8 <= u16::MAX as usize
}

fn flags(profile: &LinuxSeccomp) -> libc::c_ulong {
    let mut f = 0;
    for flag in profile.flags().iter().flatten() {
        f |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            _ => 0,
        };
    }
    f
}

/// The cache file's name: see the module.
fn key(profile: &LinuxSeccomp) -> Result<String> {
    let v = libseccomp::ScmpVersion::current().context("libseccomp's version")?;
    let mut h = Sha256::new();
    h.update(FORMAT);
    h.update([0]);
    h.update(std::env::consts::ARCH);
    h.update(format!("\0{}.{}.{}\0", v.major, v.minor, v.micro));
    h.update(serde_json::to_vec(profile)?);
    Ok(hex::encode(h.finalize()))
}

/// libseccomp's program for `profile` (the slow part), through a memfd.
fn export(profile: &LinuxSeccomp) -> Result<Vec<u8>> {
    let ctx = crate::spec::seccomp::compile(profile)?;
    let fd = nix::sys::memfd::memfd_create(
        c"rrun-seccomp",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
    .context("memfd for the seccomp program")?;
    let mut f = std::fs::File::from(fd);
    ctx.export_bpf(&f).context("export the seccomp program")?;
    f.rewind()?;
    let mut bpf = Vec::new();
    f.read_to_end(&mut bpf)?;
    if !valid(&bpf) {
        bail!("libseccomp exported {} bytes, not a program", bpf.len());
    }
    Ok(bpf)
}

/// Bytes as one base64 string in serde's formats.
mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxSeccompAction, LinuxSeccompBuilder, LinuxSyscallBuilder};

    #[test]
    fn a_program_travels_as_base64() {
        let p = SeccompProgram {
            bpf: vec![0, 1, 2, 255, 32, 0, 0, 0],
            flags: SECCOMP_FILTER_FLAG_LOG,
        };
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains(r#""bpf":"AAEC/yAAAAA=""#), "{json}");
        assert_eq!(serde_json::from_str::<SeccompProgram>(&json).unwrap(), p);
        let bad = json.replace("AAEC", "A!EC");
        assert!(serde_json::from_str::<SeccompProgram>(&bad).is_err());
    }

    fn profile(deny: &str) -> LinuxSeccomp {
        LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActAllow)
            .syscalls(vec![LinuxSyscallBuilder::default()
                .names(vec![deny.to_string()])
                .action(LinuxSeccompAction::ScmpActErrno)
                .errno_ret(1u32)
                .build()
                .unwrap()])
            .build()
            .unwrap()
    }

    #[test]
    fn the_kept_program_is_libseccomps_and_each_profile_has_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let p = profile("mkdir");
        let made = SeccompProgram::for_profile(&p, dir.path()).unwrap();
        assert_eq!(made.bpf, export(&p).unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // Read back from the cache: the same program.
        assert_eq!(SeccompProgram::for_profile(&p, dir.path()).unwrap(), made);
        let other = SeccompProgram::for_profile(&profile("rmdir"), dir.path()).unwrap();
        assert_ne!(other.bpf, made.bpf);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_damaged_cache_file_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = profile("mkdir");
        let made = SeccompProgram::for_profile(&p, dir.path()).unwrap();
        let file = dir.path().join(key(&p).unwrap());
        let kept = std::fs::read(&file).unwrap();
        assert_eq!(unseal(&kept).unwrap(), made.bpf);
        // Cut short by whole instructions, or one byte changed: made again.
        for bad in [kept[..kept.len() - 8].to_vec(), {
            let mut b = kept.clone();
            *b.last_mut().unwrap() ^= 1;
            b
        }] {
            std::fs::write(&file, &bad).unwrap();
            assert_eq!(SeccompProgram::for_profile(&p, dir.path()).unwrap(), made);
            assert_eq!(std::fs::read(&file).unwrap(), kept);
        }
    }

    #[test]
    fn the_profile_flags_become_seccomps_flags() {
        let mut p = profile("mkdir");
        p.set_flags(Some(vec![
            LinuxSeccompFilterFlag::SeccompFilterFlagLog,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
        ]));
        assert_eq!(
            flags(&p),
            SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_TSYNC
        );
        assert_eq!(flags(&profile("x")), 0);
    }
}
