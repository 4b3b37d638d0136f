//! The `local` driver's options, as Docker's: none (a directory under the
//! store), `type=tmpfs` with `o=size=…`, `type=none,o=bind,device=/path`
//! (a named bind of a host directory), or any other filesystem type with
//! `device` and `o`. Parsing is pure; [`mount`]/[`unmount`] act.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    #[error("volume driver {0:?} is not supported: only \"local\" is available")]
    UnknownDriver(String),
    #[error("invalid option: {0:?}")]
    InvalidOption(String),
    #[error("missing required option: \"device\"")]
    MissingDevice,
    #[error("missing required option: \"type\"")]
    MissingType,
    #[error("invalid device {0:?}: a bind device must be an absolute path without '..'")]
    BadBindDevice(String),
    #[error("mount {what} on {target:?}: {errno}")]
    Mount {
        what: String,
        target: PathBuf,
        errno: nix::errno::Errno,
    },
    #[error("unmount {target:?}: {errno}")]
    Unmount {
        target: PathBuf,
        errno: nix::errno::Errno,
    },
    #[error("bind device {0:?} is not an existing directory")]
    DeviceMissing(PathBuf),
}

/// How a volume's `_data` gets its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// Plain directory; nothing to mount.
    Directory,
    /// Mounted while in use: `mount -t fstype device _data -o options`.
    Mounted {
        fstype: Option<String>,
        device: String,
        flags: u64,
        data: String,
    },
}

/// Docker's option names for the local driver.
const VALID_OPTS: [&str; 4] = ["type", "device", "o", "size"];

/// Mount option words that are flags rather than filesystem data.
fn flag_of(word: &str) -> Option<(MsFlags, bool)> {
    Some(match word {
        "ro" => (MsFlags::MS_RDONLY, true),
        "rw" => (MsFlags::MS_RDONLY, false),
        "bind" => (MsFlags::MS_BIND, true),
        "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, true),
        "nosuid" => (MsFlags::MS_NOSUID, true),
        "suid" => (MsFlags::MS_NOSUID, false),
        "nodev" => (MsFlags::MS_NODEV, true),
        "dev" => (MsFlags::MS_NODEV, false),
        "noexec" => (MsFlags::MS_NOEXEC, true),
        "exec" => (MsFlags::MS_NOEXEC, false),
        "sync" => (MsFlags::MS_SYNCHRONOUS, true),
        "async" => (MsFlags::MS_SYNCHRONOUS, false),
        "noatime" => (MsFlags::MS_NOATIME, true),
        "nodiratime" => (MsFlags::MS_NODIRATIME, true),
        "relatime" => (MsFlags::MS_RELATIME, true),
        "strictatime" => (MsFlags::MS_STRICTATIME, true),
        "dirsync" => (MsFlags::MS_DIRSYNC, true),
        "defaults" => (MsFlags::empty(), true),
        _ => return None,
    })
}

/// Check the driver name and options of a create request and say how the
/// volume is backed. Pure.
pub fn parse_options(
    driver: &str,
    opts: &BTreeMap<String, String>,
) -> Result<Backing, DriverError> {
    if driver != "local" {
        return Err(DriverError::UnknownDriver(driver.to_string()));
    }
    if let Some(bad) = opts.keys().find(|k| !VALID_OPTS.contains(&k.as_str())) {
        return Err(DriverError::InvalidOption(bad.clone()));
    }
    if opts.get("size").is_some() {
        // Docker supports size only with project quotas on xfs.
        return Err(DriverError::InvalidOption("size".into()));
    }
    let ty = opts.get("type").map(String::as_str);
    let o = opts.get("o").map(String::as_str).unwrap_or("");
    let device = opts.get("device");
    if ty.is_none() && o.is_empty() && device.is_none() {
        return Ok(Backing::Directory);
    }
    let Some(ty) = ty else {
        return Err(DriverError::MissingType);
    };
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for word in o.split(',').filter(|w| !w.is_empty()) {
        match flag_of(word) {
            Some((f, true)) => flags |= f,
            Some((f, false)) => flags &= !f,
            None => data.push(word),
        }
    }
    let device = match (ty, device) {
        // Docker insists on device=tmpfs; a tmpfs has no device, so it is optional here.
        ("tmpfs", d) => d.cloned().unwrap_or_else(|| "tmpfs".into()),
        (_, None) => return Err(DriverError::MissingDevice),
        (_, Some(d)) => d.clone(),
    };
    if flags.contains(MsFlags::MS_BIND)
        && (!device.starts_with('/') || device.split('/').any(|c| c == ".."))
    {
        return Err(DriverError::BadBindDevice(device));
    }
    let fstype = (ty != "none").then(|| ty.to_string());
    Ok(Backing::Mounted {
        fstype,
        device,
        flags: flags.bits(),
        data: data.join(","),
    })
}

/// Mount a volume's backing on its `_data` directory.
pub fn mount(backing: &Backing, target: &Path) -> Result<(), DriverError> {
    let Backing::Mounted {
        fstype,
        device,
        flags,
        data,
    } = backing
    else {
        return Ok(());
    };
    let flags = MsFlags::from_bits_truncate(*flags);
    let what = format!("{} ({})", device, fstype.as_deref().unwrap_or("bind"));
    let fail = |errno| DriverError::Mount {
        what: what.clone(),
        target: target.into(),
        errno,
    };
    let data = (!data.is_empty()).then_some(data.as_str());
    if flags.contains(MsFlags::MS_BIND) {
        if !Path::new(device).is_dir() {
            return Err(DriverError::DeviceMissing(device.into()));
        }
        // A bind ignores every flag but MS_REC on the first call: read-only
        // and the others take a remount.
        nix::mount::mount(
            Some(device.as_str()),
            target,
            None::<&str>,
            flags & (MsFlags::MS_BIND | MsFlags::MS_REC),
            None::<&str>,
        )
        .map_err(fail)?;
        let rest = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if !rest.is_empty() {
            let remount = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | rest;
            if let Err(e) =
                nix::mount::mount(None::<&str>, target, None::<&str>, remount, None::<&str>)
            {
                let _ = nix::mount::umount2(target, MntFlags::MNT_DETACH);
                return Err(fail(e));
            }
        }
        return Ok(());
    }
    nix::mount::mount(
        Some(device.as_str()),
        target,
        fstype.as_deref(),
        flags,
        data,
    )
    .map_err(fail)
}

/// Unmount a volume's `_data`.
pub fn unmount(target: &Path) -> Result<(), DriverError> {
    nix::mount::umount2(target, MntFlags::UMOUNT_NOFOLLOW).map_err(|errno| DriverError::Unmount {
        target: target.into(),
        errno,
    })
}

/// Whether `path` (canonical) is a mount point in the calling thread's mount
/// namespace (`/proc/thread-self`, not `/proc/self`: a thread may have its own).
pub fn is_mount_point(path: &Path) -> std::io::Result<bool> {
    let info = std::fs::read_to_string("/proc/thread-self/mountinfo")?;
    let want = path.as_os_str().as_encoded_bytes();
    Ok(info.lines().any(|line| {
        line.split(' ')
            .nth(4)
            .is_some_and(|mp| unescape_mountinfo(mp) == want)
    }))
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plain_directory() {
        assert_eq!(parse_options("local", &opts(&[])), Ok(Backing::Directory));
    }

    #[test]
    fn tmpfs() {
        let b = parse_options(
            "local",
            &opts(&[("type", "tmpfs"), ("o", "size=1m,uid=1000,noexec")]),
        )
        .unwrap();
        assert_eq!(
            b,
            Backing::Mounted {
                fstype: Some("tmpfs".into()),
                device: "tmpfs".into(),
                flags: MsFlags::MS_NOEXEC.bits(),
                data: "size=1m,uid=1000".into()
            }
        );
    }

    #[test]
    fn named_bind() {
        let b = parse_options(
            "local",
            &opts(&[("type", "none"), ("o", "bind,ro"), ("device", "/srv/x")]),
        )
        .unwrap();
        assert_eq!(
            b,
            Backing::Mounted {
                fstype: None,
                device: "/srv/x".into(),
                flags: (MsFlags::MS_BIND | MsFlags::MS_RDONLY).bits(),
                data: String::new()
            }
        );
    }

    #[test]
    fn errors() {
        let e = |p: &[(&str, &str)]| parse_options("local", &opts(p)).unwrap_err().to_string();
        assert_eq!(e(&[("colour", "red")]), "invalid option: \"colour\"");
        assert_eq!(
            e(&[("type", "ext4")]),
            "missing required option: \"device\""
        );
        assert_eq!(
            e(&[("o", "bind"), ("device", "/x")]),
            "missing required option: \"type\""
        );
        assert!(e(&[("type", "none"), ("o", "bind"), ("device", "rel")]).contains("absolute"));
        assert!(e(&[("type", "none"), ("o", "bind"), ("device", "/a/../b")]).contains("absolute"));
        assert_eq!(
            parse_options("nfs", &opts(&[])).unwrap_err().to_string(),
            "volume driver \"nfs\" is not supported: only \"local\" is available"
        );
    }

    #[test]
    fn mountinfo_unescape() {
        assert_eq!(unescape_mountinfo(r"/a\040b\\"), b"/a b\\\\".to_vec());
        assert_eq!(unescape_mountinfo(r"/x\134y"), b"/x\\y".to_vec());
    }
}
