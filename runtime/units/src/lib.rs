//! Docker's units, as its `go-units` package and Go's `time` package read
//! and write them: the one place rrun parses a size (`64m`, `1.5GiB`) or a
//! duration (`1m30s`), and prints one for people (`12.3MB`, `5 minutes`).
//!
//! Pure functions, unit-tested against the values Docker gives.

use std::time::Duration;

/// A size or a duration that could not be read; the message is Docker's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("invalid size: '{0}'")]
    Size(String),
    #[error("time: invalid duration \"{0}\"")]
    Duration(String),
    #[error("time: unknown unit \"{unit}\" in duration \"{value}\"")]
    DurationUnit { unit: String, value: String },
}

const DECIMAL: f64 = 1000.0;
const BINARY: f64 = 1024.0;

/// go-units `RAMInBytes`: `512`, `64m`, `1.5g`, `1GiB`, `10 MB`; every unit
/// is binary (k = 1024). Negative sizes are refused.
pub fn ram_in_bytes(s: &str) -> Result<i64, UnitError> {
    parse_size(s, BINARY)
}

/// go-units `FromHumanSize`: as [`ram_in_bytes`] with decimal units
/// (k = 1000).
pub fn from_human_size(s: &str) -> Result<i64, UnitError> {
    parse_size(s, DECIMAL)
}

/// go-units `parseSize`: a number (optionally followed by one space) and a
/// suffix of at most three letters: `b`, or one of `kmgtp` then nothing,
/// `b` or `ib`, in any case.
fn parse_size(s: &str, base: f64) -> Result<i64, UnitError> {
    let bad = || UnitError::Size(s.to_string());
    let sep = s
        .rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
        .ok_or_else(bad)?;
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    let size: f64 = num.parse().map_err(|_| bad())?;
    if !size.is_finite() || size < 0.0 {
        return Err(bad());
    }
    if sfx.is_empty() {
        return Ok(size as i64);
    }
    // go-units v0.5 says "invalid suffix" here; the message stays v0.4's
    // (Docker 20.10's, and what rrun has always printed) for every error.
    let lower = sfx.to_ascii_lowercase();
    let bad_suffix = bad;
    if lower.len() > 3 {
        return Err(bad_suffix());
    }
    let mut chars = lower.chars();
    let power = match chars.next() {
        Some('b') if lower.len() == 1 => return Ok(size as i64),
        Some('k') => 1,
        Some('m') => 2,
        Some('g') => 3,
        Some('t') => 4,
        Some('p') => 5,
        _ => return Err(bad_suffix()),
    };
    match chars.as_str() {
        "" | "b" | "ib" => Ok((size * base.powi(power)) as i64),
        _ => Err(bad_suffix()),
    }
}

/// go-units `HumanSize`: decimal units, four significant digits
/// (`1.5MB`, `999B`, `12.35GB`).
pub fn human_size(bytes: f64) -> String {
    human_size_with_precision(bytes, 4)
}

/// go-units `HumanSizeWithPrecision`: decimal units, `precision`
/// significant digits (`docker system df` uses 3).
pub fn human_size_with_precision(bytes: f64, precision: usize) -> String {
    const ABBRS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let (v, unit) = scale(bytes, DECIMAL, &ABBRS);
    format!("{}{unit}", format_g(v, precision))
}

/// go-units `BytesSize`: binary units, four significant digits
/// (`1.5MiB`, as `docker stats` prints memory).
pub fn bytes_size(bytes: f64) -> String {
    const ABBRS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let (v, unit) = scale(bytes, BINARY, &ABBRS);
    format!("{}{unit}", format_g(v, 4))
}

fn scale(mut v: f64, base: f64, abbrs: &[&'static str]) -> (f64, &'static str) {
    let mut i = 0;
    while v >= base && i + 1 < abbrs.len() {
        v /= base;
        i += 1;
    }
    (v, abbrs[i])
}

/// Go's `%.Ng` for the values sizes take (below 10^N after scaling, and
/// non-negative): N significant digits, trailing zeros dropped.
fn format_g(v: f64, n: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = v.abs().log10().floor() as i64 + 1;
    if digits > n as i64 {
        // Go switches to an exponent here; sizes never reach it once scaled,
        // but a huge count of bytes in YB could.
        return format!("{:.*e}", n.saturating_sub(1), v);
    }
    let decimals = (n as i64 - digits).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// go-units `HumanDuration`: `Less than a second`, `1 second`, `5 minutes`,
/// `About an hour`, `3 days`, `2 weeks`, `4 months`, `2 years`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let minutes = secs / 60;
    // Go rounds the hours (`int(d.Hours() + 0.5)`) but not the rest.
    let hours = (d.as_secs_f64() / 3600.0 + 0.5) as u64;
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", secs / 3600 / 24 / 365),
    }
}

/// [`human_duration`] of a number of seconds; negative counts as zero (a
/// clock that went back).
pub fn human_duration_secs(secs: i64) -> String {
    human_duration(Duration::from_secs(secs.max(0) as u64))
}

/// Go's `time.ParseDuration`: `300ms`, `-1.5h`, `2h45m`, units `ns`, `us`
/// (`µs`), `ms`, `s`, `m`, `h`; `0` alone needs no unit. Returns
/// nanoseconds, signed as Go's `time.Duration` is.
pub fn parse_go_duration(s: &str) -> Result<i64, UnitError> {
    let bad = || UnitError::Duration(s.to_string());
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let value: f64 = num.parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let nanos_per = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(UnitError::Duration(s.to_string())),
            other => {
                return Err(UnitError::DurationUnit {
                    unit: other.into(),
                    value: s.into(),
                })
            }
        };
        total += value * nanos_per;
    }
    if total > i64::MAX as f64 {
        return Err(bad());
    }
    let nanos = total.round() as i64;
    Ok(if neg { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_in_bytes_reads_like_go_units() {
        // The cases of go-units' size_test.go (TestRAMInBytes).
        for (s, want) in [
            ("32", 32),
            ("32b", 32),
            ("32B", 32),
            ("32k", 32 * 1024),
            ("32K", 32 * 1024),
            ("32kb", 32 * 1024),
            ("32Kb", 32 * 1024),
            ("32Mb", 32 << 20),
            ("32Gb", 32 << 30),
            ("32Tb", 32 << 40),
            ("32Pb", 32 << 50),
            ("32PB", 32 << 50),
            ("32P", 32 << 50),
            ("32.3", 32),
            ("32.3 k", (32.3 * 1024.0) as i64),
            ("1GiB", 1 << 30),
            ("1.5g", 3 << 29),
            ("0", 0),
        ] {
            assert_eq!(ram_in_bytes(s), Ok(want), "{s}");
        }
        for s in [
            "", "hello", "-32", " 32 ", "32m b", "32bm", "32mbb", "32kib5", "1i", "1bb", "32.3.3",
        ] {
            assert!(ram_in_bytes(s).is_err(), "{s} should be refused");
        }
        assert_eq!(
            ram_in_bytes("10x").unwrap_err().to_string(),
            "invalid size: '10x'"
        );
        assert_eq!(
            ram_in_bytes("abc").unwrap_err().to_string(),
            "invalid size: 'abc'"
        );
    }

    #[test]
    fn from_human_size_is_decimal() {
        assert_eq!(from_human_size("32kb"), Ok(32_000));
        assert_eq!(from_human_size("1.5MB"), Ok(1_500_000));
        assert_eq!(from_human_size("2G"), Ok(2_000_000_000));
        assert_eq!(from_human_size("100"), Ok(100));
    }

    #[test]
    fn human_sizes_print_like_docker() {
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(999.0), "999B");
        assert_eq!(human_size(1000.0), "1kB");
        assert_eq!(human_size(1024.0), "1.024kB");
        assert_eq!(human_size(1_234_567.0), "1.235MB");
        assert_eq!(human_size(4_400_000.0), "4.4MB");
        assert_eq!(human_size_with_precision(1_234_567.0, 3), "1.23MB");
        assert_eq!(bytes_size(1024.0), "1KiB");
        assert_eq!(bytes_size(1_572_864.0), "1.5MiB");
        assert_eq!(bytes_size(500.0), "500B");
    }

    #[test]
    fn human_durations_read_like_docker_ps() {
        let s = human_duration_secs;
        assert_eq!(s(-3), "Less than a second");
        assert_eq!(s(0), "Less than a second");
        assert_eq!(s(1), "1 second");
        assert_eq!(s(59), "59 seconds");
        assert_eq!(s(60), "About a minute");
        assert_eq!(s(119), "About a minute");
        assert_eq!(s(120), "2 minutes");
        assert_eq!(s(3599), "59 minutes");
        assert_eq!(s(3600), "About an hour");
        // Hours are rounded: 1 h 45 min is "2 hours".
        assert_eq!(s(6300), "2 hours");
        assert_eq!(s(47 * 3600), "47 hours");
        assert_eq!(s(3 * 86400), "3 days");
        assert_eq!(s(15 * 86400), "2 weeks");
        assert_eq!(s(90 * 86400), "3 months");
        assert_eq!(s(800 * 86400), "2 years");
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("-1.5h"), Ok(-5_400_000_000_000));
        assert_eq!(
            parse_go_duration("2h45m"),
            Ok((2 * 3600 + 45 * 60) * 1_000_000_000)
        );
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("10us"), Ok(10_000));
        assert_eq!(parse_go_duration("10µs"), Ok(10_000));
        assert_eq!(parse_go_duration("5ns"), Ok(5));
        for bad in ["", "-", "10", "1x", "h", ".s", "1..5s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(
            parse_go_duration("3d").unwrap_err().to_string(),
            "time: unknown unit \"d\" in duration \"3d\""
        );
    }
}
