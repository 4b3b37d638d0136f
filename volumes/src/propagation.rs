//! Whether a bind source can propagate mounts the way its `-v …:rshared`
//! or `bind-propagation=rslave` asks. A shared propagation needs the
//! source's own mount to be shared on the host, a slave one needs it shared
//! or a slave; otherwise nothing would ever propagate and the user would
//! not know. Docker refuses such a container with these messages (moby
//! `daemon/oci_linux.go`, ensureShared and ensureSharedOrSlave).

use std::path::{Component, Path, PathBuf};

use crate::mountspec::Propagation;

/// The host mount holding a path, from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMount {
    pub mount_point: PathBuf,
    /// In a peer group (`shared:N`).
    pub shared: bool,
    /// Receives from a master (`master:N`).
    pub slave: bool,
}

/// `\040`-style octal escapes of mountinfo's path fields.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |n, c| n.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount `path` (absolute, resolved) is on: the longest mount point
/// holding it, the last one listed where several are stacked.
pub fn mount_of(mountinfo: &str, path: &Path) -> Option<HostMount> {
    let mut best: Option<HostMount> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(point) = fields.get(4).map(|f| PathBuf::from(unescape(f))) else {
            continue;
        };
        if !path.starts_with(&point) {
            continue;
        }
        let longer = best
            .as_ref()
            .is_none_or(|b| point.components().count() >= b.mount_point.components().count());
        if !longer {
            continue;
        }
        let optional = fields.iter().skip(6).take_while(|f| **f != "-");
        let (mut shared, mut slave) = (false, false);
        for f in optional {
            shared |= f.starts_with("shared:");
            slave |= f.starts_with("master:");
        }
        best = Some(HostMount {
            mount_point: point,
            shared,
            slave,
        });
    }
    best
}

/// `path` with symlinks resolved as far as it exists; the rest (a `-v`
/// source made at start) is on the same mount as its nearest existing
/// ancestor.
fn resolve(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (
            existing.file_name().map(|n| n.to_owned()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => {
                return path
                    .components()
                    .filter(|c| *c != Component::CurDir)
                    .collect()
            }
        }
    }
}

/// Why a bind of `source` cannot have propagation `p` on this host (given
/// the host's mountinfo), in Docker's words; `None` when it can.
pub fn refusal(mountinfo: &str, source: &Path, p: Propagation) -> Option<String> {
    let need_shared = matches!(p, Propagation::Shared | Propagation::RShared);
    let need_slave = matches!(p, Propagation::Slave | Propagation::RSlave);
    if !need_shared && !need_slave {
        return None;
    }
    let path = resolve(source);
    let m = mount_of(mountinfo, &path)?;
    let shown = source.display();
    let point = m.mount_point.display();
    if need_shared && !m.shared {
        return Some(format!(
            "path {shown} is mounted on {point} but it is not a shared mount"
        ));
    }
    if need_slave && !m.shared && !m.slave {
        return Some(format!(
            "path {shown} is mounted on {point} but it is not a shared or slave mount"
        ));
    }
    None
}

/// [`refusal`] against this process's mounts.
pub fn check(source: &Path, p: Propagation) -> Result<(), String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("read /proc/self/mountinfo: {e}"))?;
    refusal(&info, source, p).map_or(Ok(()), Err)
}

/// The container root's propagation Docker gives when binds ask for one:
/// `shared` if any bind is shared (it could not propagate through a slave
/// root), else `rslave` if any is a slave; `None` leaves the default.
pub fn root_propagation(binds: impl IntoIterator<Item = Propagation>) -> Option<&'static str> {
    let mut out = None;
    for p in binds {
        match p {
            Propagation::Shared | Propagation::RShared => return Some("shared"),
            Propagation::Slave | Propagation::RSlave => out = Some("rslave"),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:25 / /tmp rw,nosuid - tmpfs tmpfs rw
31 30 0:26 / /tmp/shared\\040dir rw shared:7 - tmpfs tmpfs rw
32 30 0:27 / /tmp/slave rw master:7 - tmpfs tmpfs rw
33 31 0:28 / /tmp/shared\\040dir rw - tmpfs tmpfs rw
34 22 0:29 / /srv rw shared:9 master:3 - tmpfs tmpfs rw
";

    #[test]
    fn the_longest_and_last_mount_point_holds_a_path() {
        let m = mount_of(INFO, Path::new("/tmp/x")).unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/tmp"));
        assert!(!m.shared && !m.slave);
        // Stacked: the last listed is on top, and it is private.
        let m = mount_of(INFO, Path::new("/tmp/shared dir/a")).unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/tmp/shared dir"));
        assert!(!m.shared);
        let m = mount_of(INFO, Path::new("/srv")).unwrap();
        assert!(m.shared && m.slave);
        // A prefix that is not a path component does not count.
        let m = mount_of(INFO, Path::new("/tmp/slaves")).unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/tmp"));
    }

    #[test]
    fn docker_refuses_propagation_the_source_mount_cannot_give() {
        let no = |p: &str, prop| refusal(INFO, Path::new(p), prop);
        assert_eq!(
            no("/tmp/x", Propagation::RShared).unwrap(),
            "path /tmp/x is mounted on /tmp but it is not a shared mount"
        );
        assert_eq!(
            no("/tmp/x", Propagation::Slave).unwrap(),
            "path /tmp/x is mounted on /tmp but it is not a shared or slave mount"
        );
        assert_eq!(no("/tmp/slave/a", Propagation::RSlave), None);
        assert!(no("/tmp/slave/a", Propagation::Shared).is_some());
        assert_eq!(no("/home", Propagation::RShared), None);
        assert_eq!(no("/tmp/x", Propagation::RPrivate), None);
    }

    #[test]
    fn escapes_are_decoded() {
        assert_eq!(unescape("/a\\040b\\011c"), "/a b\tc");
        assert_eq!(unescape("/a\\0"), "/a\\0");
    }

    #[test]
    fn the_root_is_shared_for_a_shared_bind_and_rslave_for_a_slave() {
        use Propagation::*;
        assert_eq!(root_propagation([RSlave, RShared]), Some("shared"));
        assert_eq!(root_propagation([Slave, RPrivate]), Some("rslave"));
        assert_eq!(root_propagation([RPrivate]), None);
    }
}
