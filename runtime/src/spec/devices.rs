//! The device cgroup rules of a container, as runc builds them: nothing is
//! allowed unless a rule says so; then the spec's own rules; then the
//! devices every container needs; then the spec's device nodes, unless the
//! spec's own rules already say what may be done with that node (Docker's
//! `--device /dev/x:/dev/y:r` allows reading only).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType, Spec};

fn rule(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .typ(typ)
        .access(access);
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    b.build().expect("all fields set")
}

/// runc's AllowedDevices: mknod of anything (the node is useless without
/// an allow rule for it), and the standard character devices.
pub fn default_allowed() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    vec![
        rule(true, C, None, None, "m"),
        rule(true, B, None, None, "m"),
        rule(true, C, Some(1), Some(3), "rwm"), // null
        rule(true, C, Some(1), Some(8), "rwm"), // random
        rule(true, C, Some(1), Some(7), "rwm"), // full
        rule(true, C, Some(5), Some(0), "rwm"), // tty
        rule(true, C, Some(1), Some(5), "rwm"), // zero
        rule(true, C, Some(1), Some(9), "rwm"), // urandom
        rule(true, C, Some(136), None, "rwm"),  // /dev/pts/*
        rule(true, C, Some(5), Some(2), "rwm"), // /dev/ptmx
    ]
}

/// What libcgroups 0.7's v1 manager allows after the rules it is given
/// (its `default_devices` and `default_allow_devices`, which it does not
/// export): `linux::cgroups::write_v1_devices` writes them too, so that a
/// container's devices cgroup is the same whichever of the two wrote it.
pub fn libcgroups_v1_extra() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    vec![
        rule(true, C, Some(1), Some(3), "rwm"), // null
        rule(true, C, Some(1), Some(5), "rwm"), // zero
        rule(true, C, Some(1), Some(7), "rwm"), // full
        rule(true, C, Some(5), Some(0), "rwm"), // tty
        rule(true, C, Some(1), Some(9), "rwm"), // urandom
        rule(true, C, Some(1), Some(8), "rwm"), // random
        rule(true, C, None, None, "m"),
        rule(true, B, None, None, "m"),
        rule(true, C, Some(5), Some(1), "rwm"),    // console
        rule(true, C, Some(136), None, "rwm"),     // /dev/pts/*
        rule(true, C, Some(5), Some(2), "rwm"),    // /dev/ptmx
        rule(true, C, Some(10), Some(200), "rwm"), // tun/tap
    ]
}

/// The rules to apply, in order (later rules win).
pub fn rules(spec: &Spec) -> Vec<LinuxDeviceCgroup> {
    let linux = spec.linux().as_ref();
    let mut out = vec![rule(false, LinuxDeviceType::A, None, None, "rwm")];
    let own = linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone())
        .unwrap_or_default();
    let ruled = |major: i64, minor: i64| {
        own.iter()
            .any(|r| r.major() == Some(major) && r.minor() == Some(minor))
    };
    out.extend(own.iter().cloned());
    out.extend(default_allowed());
    for d in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        // The devices controller knows a, b and c only: a FIFO is made,
        // but no rule is written for it (runc does the same).
        let typ = match d.typ() {
            LinuxDeviceType::U => LinuxDeviceType::C,
            LinuxDeviceType::P | LinuxDeviceType::A => continue,
            t => t,
        };
        if !ruled(d.major(), d.minor()) {
            out.push(rule(true, typ, Some(d.major()), Some(d.minor()), "rwm"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceBuilder;

    #[test]
    fn starts_from_deny_all_and_allows_the_basics() {
        let r = rules(&Spec::default());
        assert!(!r[0].allow() && r[0].typ() == Some(LinuxDeviceType::A));
        let allowed = |maj, min| {
            r.iter()
                .any(|x| x.allow() && x.major() == Some(maj) && x.minor() == Some(min))
        };
        assert!(allowed(1, 3) && allowed(1, 9) && allowed(5, 2));
        // No block device is readable.
        assert!(!r.iter().any(|x| x.allow()
            && x.typ() == Some(LinuxDeviceType::B)
            && x.access().as_deref() != Some("m")));
    }

    #[test]
    fn spec_devices_get_allowed_after_the_defaults() {
        let mut spec = Spec::default();
        let mut linux = spec.linux().clone().unwrap();
        linux.set_devices(Some(vec![LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .build()
            .unwrap()]));
        spec.set_linux(Some(linux));
        let r = rules(&spec);
        let last = r.last().unwrap();
        assert!(last.allow() && last.major() == Some(10) && last.minor() == Some(229));
        assert_eq!(last.access().as_deref(), Some("rwm"));

        // A rule of the spec's own for that node is kept as the last word.
        let mut linux = spec.linux().clone().unwrap();
        let mut res = linux.resources().clone().unwrap_or_default();
        res.set_devices(Some(vec![rule(
            true,
            LinuxDeviceType::C,
            Some(10),
            Some(229),
            "r",
        )]));
        linux.set_resources(Some(res));
        spec.set_linux(Some(linux));
        let r = rules(&spec);
        let fuse: Vec<_> = r
            .iter()
            .filter(|x| x.major() == Some(10) && x.minor() == Some(229))
            .collect();
        assert_eq!(fuse.len(), 1);
        assert_eq!(fuse[0].access().as_deref(), Some("r"));
    }

    #[test]
    fn a_fifo_gets_no_device_cgroup_rule() {
        let mut spec = Spec::default();
        let mut linux = spec.linux().clone().unwrap();
        linux.set_devices(Some(vec![LinuxDeviceBuilder::default()
            .path("/dev/fifo")
            .typ(LinuxDeviceType::P)
            .major(8)
            .minor(666)
            .build()
            .unwrap()]));
        spec.set_linux(Some(linux));
        assert!(!rules(&spec)
            .iter()
            .any(|r| r.typ() == Some(LinuxDeviceType::P) || r.major() == Some(8)));
    }
}
