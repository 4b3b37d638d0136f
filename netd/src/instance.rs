//! What sets one rrund's networking apart from another's on the same host.
//!
//! Several rrund may run side by side (a service, and the demo or a test
//! run, each with a data root of its own). Each owns an nftables table and a
//! default bridge that no other touches: were they shared, each daemon's
//! firewall watch would put back its own rules over the other's, and
//! published ports would answer only now and then. The daemon on the
//! default data root keeps the historic names (`inet rrun`, `rrun0`); any
//! other derives them from its data root, so they are stable across
//! restarts and differ between data roots. Pure: no syscall here.

use std::path::Path;

use sha2::{Digest, Sha256};

/// The table (family `inet`) of the daemon on the default data root.
pub const DEFAULT_TABLE: &str = "rrun";
/// The default network's bridge of the daemon on the default data root.
pub const DEFAULT_BRIDGE: &str = "rrun0";

/// One daemon's names in the host's network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Its nftables table (family `inet`). Also the comment marking its
    /// rules in Docker's DOCKER-USER chain, so each daemon replaces only
    /// its own there.
    pub table: String,
    /// The bridge of its default `bridge` network (Docker's `docker0`).
    pub default_bridge: String,
}

impl Default for Instance {
    fn default() -> Self {
        Self {
            table: DEFAULT_TABLE.into(),
            default_bridge: DEFAULT_BRIDGE.into(),
        }
    }
}

impl Instance {
    /// The names of the daemon whose (canonical) data root is `root`:
    /// the historic ones when `is_default_root`, else `rrun-<8 hex>` for
    /// both table and bridge, the hex from a SHA-256 of the path (13
    /// characters: an interface name may have 15).
    pub fn for_data_root(root: &Path, is_default_root: bool) -> Instance {
        if is_default_root {
            return Instance::default();
        }
        let name = format!("rrun-{}", short_hash(root));
        Instance {
            table: name.clone(),
            default_bridge: name,
        }
    }
}

/// The first 8 hex digits of the SHA-256 of `root`'s bytes: the same as
/// `printf %s ROOT | sha256sum | cut -c1-8`, which scripts use to find a
/// daemon's names.
pub fn short_hash(root: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let digest = Sha256::digest(root.as_os_str().as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_data_root_keeps_the_historic_names() {
        let i = Instance::for_data_root(Path::new("/var/lib/rrun"), true);
        assert_eq!(i.table, "rrun");
        assert_eq!(i.default_bridge, "rrun0");
        assert_eq!(i, Instance::default());
    }

    #[test]
    fn other_data_roots_get_stable_distinct_short_names() {
        let a = Instance::for_data_root(Path::new("/var/lib/rrun-demo"), false);
        let b = Instance::for_data_root(Path::new("/tmp/rrund-test-x/data"), false);
        assert_eq!(
            a,
            Instance::for_data_root(Path::new("/var/lib/rrun-demo"), false),
            "stable"
        );
        assert_ne!(a.table, b.table);
        assert_ne!(a.default_bridge, b.default_bridge);
        for i in [&a, &b] {
            assert_ne!(i.table, DEFAULT_TABLE);
            assert_ne!(i.default_bridge, DEFAULT_BRIDGE);
            assert!(i.default_bridge.len() <= 15, "{}", i.default_bridge);
            assert!(i.table.starts_with("rrun-") && i.table.len() == 13);
            assert!(i.table[5..].bytes().all(|c| c.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn the_hash_is_sha256sums() {
        // `printf %s /var/lib/rrun-demo | sha256sum | cut -c1-8`
        assert_eq!(short_hash(Path::new("/var/lib/rrun-demo")), "45738108");
    }
}
