//! Pure: the block IO options (`--blkio-weight`, `--blkio-weight-device`,
//! `--device-read-bps`, `--device-write-bps`, `--device-read-iops`,
//! `--device-write-iops`; HostConfig's `Blkio*` fields): checked at create
//! with Docker's messages and warnings, and made into the OCI spec's
//! `linux.resources.blockIO` with the devices' numbers looked up by the
//! caller ([`crate::daemon::bundle_opts`]).

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder};
use serde::{Deserialize, Serialize};
use std::path::Path;

use super::RunOptions;

/// `--blkio-weight-device /dev/sda:200`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct WeightDevice {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub weight: u16,
}

/// `--device-read-bps /dev/sda:1mb` and the like.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ThrottleDevice {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub rate: u64,
}

/// Which block IO settings the host's cgroups can apply (moby's sysinfo):
/// on cgroup v2 all of them when the `io` controller is there; on v1 the
/// weights need `blkio.weight` (CFQ) or `blkio.bfq.weight` (BFQ), the
/// limits the throttle files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoSupport {
    pub weight: bool,
    pub weight_device: bool,
    pub throttle: bool,
}

impl IoSupport {
    /// This machine.
    pub fn probe() -> IoSupport {
        let root = Path::new("/sys/fs/cgroup");
        if let Ok(c) = std::fs::read_to_string(root.join("cgroup.controllers")) {
            let io = c.split_whitespace().any(|c| c == "io");
            return IoSupport {
                weight: io,
                weight_device: io,
                throttle: io,
            };
        }
        let has = |f: &str| root.join("blkio").join(f).exists();
        IoSupport {
            weight: has("blkio.weight") || has("blkio.bfq.weight"),
            weight_device: has("blkio.weight_device") || has("blkio.bfq.weight_device"),
            throttle: has("blkio.throttle.read_bps_device"),
        }
    }
}

/// The throttle lists with their flags and Docker's warning when the host
/// cannot apply them.
fn throttles(o: &mut RunOptions) -> [(&'static str, &mut Vec<ThrottleDevice>, &'static str); 4] {
    [
        ("--device-read-bps", &mut o.blkio_device_read_bps,
            "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded."),
        ("--device-write-bps", &mut o.blkio_device_write_bps,
            "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded."),
        ("--device-read-iops", &mut o.blkio_device_read_iops,
            "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded."),
        ("--device-write-iops", &mut o.blkio_device_write_iops,
            "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded."),
    ]
}

/// Docker's checks (moby's verifyPlatformContainerResources): what the
/// host cannot apply is dropped with a warning, a weight out of 10–1000 or
/// a device that is not a path under /dev refused. Returns the warnings.
pub fn validate_blkio(o: &mut RunOptions, io: IoSupport) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    if o.blkio_weight > 0 && !io.weight {
        warnings.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".to_string());
        o.blkio_weight = 0;
    }
    if o.blkio_weight > 0 && !(10..=1000).contains(&o.blkio_weight) {
        return Err("Range of blkio weight is from 10 to 1000".into());
    }
    if !o.blkio_weight_device.is_empty() && !io.weight_device {
        warnings.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.".to_string());
        o.blkio_weight_device.clear();
    }
    for d in &o.blkio_weight_device {
        device_path("--blkio-weight-device", &d.path)?;
        if d.weight > 0 && !(10..=1000).contains(&d.weight) {
            return Err(format!(
                "invalid weight for device: {}:{} (--blkio-weight-device: a weight from 10 to 1000, or 0)",
                d.path, d.weight
            ));
        }
    }
    for (flag, list, warning) in throttles(o) {
        if !list.is_empty() && !io.throttle {
            warnings.push(warning.to_string());
            list.clear();
        }
        for d in list.iter() {
            device_path(flag, &d.path)?;
        }
    }
    Ok(warnings)
}

/// docker/cli's rule: a device is named by its path under /dev.
fn device_path(flag: &str, path: &str) -> Result<(), String> {
    if path.starts_with("/dev/") {
        Ok(())
    } else {
        Err(format!(
            "bad format for device path: {path:?} ({flag} takes DEVICE_PATH:VALUE with a path under /dev)"
        ))
    }
}

/// The device numbers of a block device (its path on the host), or why not.
pub type BlockDevice<'a> = &'a dyn Fn(&str) -> Result<(i64, i64), String>;

/// `linux.resources.blockIO` for the options (None when none is set); the
/// devices' numbers come from `dev`, which refuses a path that is not a
/// block device. The flag is in the error.
pub fn block_io(o: &RunOptions, dev: BlockDevice) -> Result<Option<LinuxBlockIo>, String> {
    let num = |flag: &str, path: &str| dev(path).map_err(|e| format!("{flag} {path}: {e}"));
    let mut b = LinuxBlockIo::default();
    if o.blkio_weight > 0 {
        b.set_weight(Some(o.blkio_weight));
    }
    if !o.blkio_weight_device.is_empty() {
        let mut list = Vec::new();
        for d in &o.blkio_weight_device {
            let (major, minor) = num("--blkio-weight-device", &d.path)?;
            let w = LinuxWeightDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .weight(d.weight)
                .build()
                .map_err(|e| e.to_string())?;
            list.push(w);
        }
        b.set_weight_device(Some(list));
    }
    let mut o = o.clone();
    for (i, (flag, devices, _)) in throttles(&mut o).into_iter().enumerate() {
        if devices.is_empty() {
            continue;
        }
        let mut list = Vec::new();
        for d in devices.iter() {
            let (major, minor) = num(flag, &d.path)?;
            let t = LinuxThrottleDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .rate(d.rate)
                .build()
                .map_err(|e| e.to_string())?;
            list.push(t);
        }
        match i {
            0 => b.set_throttle_read_bps_device(Some(list)),
            1 => b.set_throttle_write_bps_device(Some(list)),
            2 => b.set_throttle_read_iops_device(Some(list)),
            _ => b.set_throttle_write_iops_device(Some(list)),
        };
    }
    Ok((b != LinuxBlockIo::default()).then_some(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: IoSupport = IoSupport {
        weight: true,
        weight_device: true,
        throttle: true,
    };

    fn throttle(path: &str, rate: u64) -> Vec<ThrottleDevice> {
        vec![ThrottleDevice {
            path: path.into(),
            rate,
        }]
    }

    #[test]
    fn checks_follow_docker() {
        let mut o = RunOptions {
            blkio_weight: 5,
            ..Default::default()
        };
        assert_eq!(
            validate_blkio(&mut o, ALL).unwrap_err(),
            "Range of blkio weight is from 10 to 1000"
        );
        // A host that cannot apply it: dropped with Docker's warning.
        let w = validate_blkio(&mut o, IoSupport::default()).unwrap();
        assert!(w[0].contains("Weight discarded"), "{w:?}");
        assert_eq!(o.blkio_weight, 0);
        let mut o = RunOptions {
            blkio_weight_device: vec![WeightDevice {
                path: "/dev/sda".into(),
                weight: 2000,
            }],
            ..Default::default()
        };
        assert!(validate_blkio(&mut o, ALL)
            .unwrap_err()
            .starts_with("invalid weight for device: /dev/sda:2000"));
        let mut o = RunOptions {
            blkio_device_write_iops: throttle("/etc/passwd", 10),
            ..Default::default()
        };
        assert!(validate_blkio(&mut o, ALL)
            .unwrap_err()
            .contains("--device-write-iops takes DEVICE_PATH:VALUE"));
        let w = validate_blkio(&mut o, IoSupport::default()).unwrap();
        assert!(w[0].contains("IOPS Block write limit"), "{w:?}");
        assert!(o.blkio_device_write_iops.is_empty());
    }

    #[test]
    fn spec_has_the_devices_numbers() {
        let o = RunOptions {
            blkio_weight: 300,
            blkio_weight_device: vec![WeightDevice {
                path: "/dev/sda".into(),
                weight: 200,
            }],
            blkio_device_read_bps: throttle("/dev/sda", 1 << 20),
            blkio_device_write_iops: throttle("/dev/sdb", 50),
            ..Default::default()
        };
        let dev = |p: &str| match p {
            "/dev/sda" => Ok((8, 0)),
            "/dev/sdb" => Ok((8, 16)),
            _ => Err("not a block device".to_string()),
        };
        let b = block_io(&o, &dev).unwrap().unwrap();
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["weight"], 300);
        assert_eq!(v["weightDevice"][0]["major"], 8);
        assert_eq!(v["weightDevice"][0]["weight"], 200);
        assert_eq!(v["throttleReadBpsDevice"][0]["rate"], 1 << 20);
        assert_eq!(v["throttleWriteIOPSDevice"][0]["minor"], 16);
        assert!(v.get("throttleWriteBpsDevice").is_none());
        let o = RunOptions {
            blkio_device_read_iops: throttle("/dev/null", 5),
            ..Default::default()
        };
        assert_eq!(
            block_io(&o, &dev).unwrap_err(),
            "--device-read-iops /dev/null: not a block device"
        );
        assert_eq!(block_io(&RunOptions::default(), &dev).unwrap(), None);
    }
}
