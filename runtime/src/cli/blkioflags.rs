//! The values of `--cgroupns` and the block IO flags of `run`/`create`
//! (`--blkio-weight-device`, `--device-read-bps`, `--device-write-bps`,
//! `--device-read-iops`, `--device-write-iops`), parsed as docker/cli's
//! opts do so a bad value fails before anything is created.

use crate::apimodel::models::{
    HostConfigCgroupnsModeEnum, ResourcesBlkioWeightDevice, ThrottleDevice,
};

/// `--cgroupns host|private` (docker/cli's message, which clap's error
/// names the flag in).
pub fn parse_cgroupns(s: &str) -> Result<HostConfigCgroupnsModeEnum, String> {
    match s {
        "host" => Ok(HostConfigCgroupnsModeEnum::HOST),
        "private" => Ok(HostConfigCgroupnsModeEnum::PRIVATE),
        "" => Ok(HostConfigCgroupnsModeEnum::EMPTY),
        _ => Err(format!("invalid CGROUP mode {s:?} (host or private)")),
    }
}

/// `DEVICE_PATH:VALUE` with the path under /dev (docker/cli's rule).
fn split(s: &str) -> Result<(&str, &str), String> {
    let (path, v) = s
        .split_once(':')
        .filter(|(p, _)| !p.is_empty())
        .ok_or_else(|| format!("bad format: {s}"))?;
    if !path.starts_with("/dev/") {
        return Err(format!("bad format for device path: {s}"));
    }
    Ok((path, v))
}

/// `--blkio-weight-device /dev/sda:200` (weight 10 to 1000, or 0).
pub fn parse_weight_device(s: &str) -> Result<ResourcesBlkioWeightDevice, String> {
    let (path, v) = split(s)?;
    let weight: u16 = v
        .parse()
        .ok()
        .filter(|w| *w == 0 || (10..=1000).contains(w))
        .ok_or_else(|| format!("invalid weight for device: {s}"))?;
    Ok(ResourcesBlkioWeightDevice {
        path: Some(path.into()),
        weight: Some(weight.into()),
    })
}

/// `--device-read-bps /dev/sda:1mb` (a size, as `-m`).
pub fn parse_bps_device(s: &str) -> Result<ThrottleDevice, String> {
    let (path, v) = split(s)?;
    let rate = rrun_units::ram_in_bytes(v)
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| format!("invalid rate for device: {s}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"))?;
    Ok(ThrottleDevice {
        path: Some(path.into()),
        rate: Some(rate),
    })
}

/// `--device-read-iops /dev/sda:100` (a plain number).
pub fn parse_iops_device(s: &str) -> Result<ThrottleDevice, String> {
    let (path, v) = split(s)?;
    let rate = v
        .parse::<i64>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| format!("invalid rate for device: {s}. The correct format is <device-path>:<number>. Number must be a positive integer"))?;
    Ok(ThrottleDevice {
        path: Some(path.into()),
        rate: Some(rate),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_docker_cli() {
        assert_eq!(
            parse_cgroupns("private"),
            Ok(HostConfigCgroupnsModeEnum::PRIVATE)
        );
        assert!(parse_cgroupns("shared")
            .unwrap_err()
            .starts_with("invalid CGROUP mode"));
        let w = parse_weight_device("/dev/sda:200").unwrap();
        assert_eq!((w.path.as_deref(), w.weight), (Some("/dev/sda"), Some(200)));
        assert_eq!(
            parse_weight_device("/dev/sda:5").unwrap_err(),
            "invalid weight for device: /dev/sda:5"
        );
        assert_eq!(
            parse_weight_device("sda:200").unwrap_err(),
            "bad format for device path: sda:200"
        );
        assert_eq!(
            parse_weight_device("/dev/sda").unwrap_err(),
            "bad format: /dev/sda"
        );
        assert_eq!(
            parse_bps_device("/dev/sda:1mb").unwrap().rate,
            Some(1 << 20)
        );
        assert!(parse_bps_device("/dev/sda:fast")
            .unwrap_err()
            .starts_with("invalid rate for device: /dev/sda:fast."));
        assert_eq!(parse_iops_device("/dev/sda:100").unwrap().rate, Some(100));
        assert!(parse_iops_device("/dev/sda:1k").is_err());
    }
}
