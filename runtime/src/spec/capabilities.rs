//! Capability sets of a process, from the spec's names to the kernel's.

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;
use std::str::FromStr;

/// The five capability sets a process ends up with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

impl CapSets {
    pub fn get(&self, set: CapSet) -> &CapsHashSet {
        match set {
            CapSet::Bounding => &self.bounding,
            CapSet::Effective => &self.effective,
            CapSet::Permitted => &self.permitted,
            CapSet::Inheritable => &self.inheritable,
            CapSet::Ambient => &self.ambient,
        }
    }
}

/// Converts the spec's capabilities. A process without a `capabilities`
/// section gets none, as with runc. Names the running kernel's `caps` crate
/// does not know are returned apart so the caller can warn. Ambient
/// capabilities must also be permitted and inheritable (the kernel drops them
/// otherwise), so they are trimmed here and the trimmed ones reported too.
pub fn from_spec(c: Option<&LinuxCapabilities>) -> (CapSets, Vec<String>) {
    let mut unknown = Vec::new();
    let mut conv = |set: Option<&oci_spec::runtime::Capabilities>| -> CapsHashSet {
        let mut out = CapsHashSet::new();
        for cap in set.into_iter().flatten() {
            let name = format!("CAP_{cap}");
            match Capability::from_str(&name) {
                Ok(c) => {
                    out.insert(c);
                }
                Err(_) => unknown.push(name),
            }
        }
        out
    };
    let Some(c) = c else {
        return (CapSets::default(), unknown);
    };
    let mut sets = CapSets {
        bounding: conv(c.bounding().as_ref()),
        effective: conv(c.effective().as_ref()),
        permitted: conv(c.permitted().as_ref()),
        inheritable: conv(c.inheritable().as_ref()),
        ambient: conv(c.ambient().as_ref()),
    };
    let allowed: CapsHashSet = sets
        .permitted
        .intersection(&sets.inheritable)
        .copied()
        .collect();
    for cap in sets.ambient.difference(&allowed) {
        unknown.push(format!(
            "{cap} (ambient, but not permitted and inheritable)"
        ));
    }
    sets.ambient.retain(|c| allowed.contains(c));
    unknown.sort();
    (sets, unknown)
}

/// The kernel's bit mask of a set, as `/proc/<pid>/status` prints it
/// (`CapEff: 00000000a80425fb`).
pub fn mask(set: &CapsHashSet) -> u64 {
    set.iter().fold(0, |m, c| m | c.bitmask())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{Capability as C, LinuxCapabilitiesBuilder};

    #[test]
    fn default_spec_caps() {
        let (sets, unknown) = from_spec(Some(&LinuxCapabilities::default()));
        assert!(unknown.is_empty(), "{unknown:?}");
        let want: CapsHashSet = [
            Capability::CAP_AUDIT_WRITE,
            Capability::CAP_KILL,
            Capability::CAP_NET_BIND_SERVICE,
        ]
        .into();
        assert_eq!(sets.bounding, want);
        assert_eq!(sets.effective, want);
        assert_eq!(mask(&sets.effective), (1 << 29) | (1 << 5) | (1 << 10));
    }

    #[test]
    fn no_section_means_no_capabilities() {
        let (sets, _) = from_spec(None);
        assert_eq!(sets, CapSets::default());
    }

    #[test]
    fn ambient_needs_permitted_and_inheritable() {
        let c = LinuxCapabilitiesBuilder::default()
            .permitted(
                [C::NetRaw, C::Chown]
                    .into_iter()
                    .collect::<std::collections::HashSet<_>>(),
            )
            .inheritable(
                [C::NetRaw]
                    .into_iter()
                    .collect::<std::collections::HashSet<_>>(),
            )
            .ambient(
                [C::NetRaw, C::Chown]
                    .into_iter()
                    .collect::<std::collections::HashSet<_>>(),
            )
            .build()
            .unwrap();
        let (sets, notes) = from_spec(Some(&c));
        assert_eq!(sets.ambient, [Capability::CAP_NET_RAW].into());
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("CAP_CHOWN"), "{notes:?}");
    }
}
