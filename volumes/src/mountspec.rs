//! Pure parsing of Docker's mount flags: `-v`, `--mount`, `--tmpfs` and
//! `--volumes-from`, with Docker's grammar and Docker's error messages.
//!
//! The result is a [`MountSpec`]: what the user asked for, checked, with the
//! destination cleaned. Turning specs into mounts is [`crate::plan`]'s job.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::name::{NameError, VolumeName};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("invalid volume specification: '{0}'")]
    InvalidSpec(String),
    #[error("invalid volume specification: '{raw}': {source}")]
    InvalidSpecBecause { raw: String, source: Box<SpecError> },
    #[error("invalid mode: {0}")]
    InvalidMode(String),
    #[error("invalid mount config for type \"{kind}\": {reason}")]
    MountConfig { kind: &'static str, reason: String },
    #[error("create {name}: {source}")]
    VolumeName { name: String, source: NameError },
    #[error("invalid field '{0}' must be a key=value pair")]
    NotKeyValue(String),
    #[error("invalid value for {key}: {value}")]
    InvalidValue { key: String, value: String },
    #[error("unexpected key '{key}' in '{field}'")]
    UnexpectedKey { key: String, field: String },
    #[error("target is required")]
    TargetRequired,
    #[error("cannot mix '{prefix}-*' options with mount type '{kind}'")]
    MixedOptions {
        prefix: &'static str,
        kind: &'static str,
    },
    #[error("invalid mount path: '{0}' mount path must be absolute")]
    NotAbsolute(String),
    #[error("invalid specification: destination can't be '/'")]
    TargetIsRoot,
    #[error("volumes-from specification cannot be an empty string")]
    EmptyVolumesFrom,
    #[error("invalid mount spec {0:?}: bad quoting")]
    BadQuoting(String),
}

/// Mount propagation, as in `-v /a:/b:rshared` or `bind-propagation=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    Private,
    RPrivate,
    Shared,
    RShared,
    Slave,
    RSlave,
}

impl Propagation {
    pub fn parse(s: &str) -> Option<Propagation> {
        Some(match s {
            "private" => Propagation::Private,
            "rprivate" => Propagation::RPrivate,
            "shared" => Propagation::Shared,
            "rshared" => Propagation::RShared,
            "slave" => Propagation::Slave,
            "rslave" => Propagation::RSlave,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::RPrivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::RShared => "rshared",
            Propagation::Slave => "slave",
            Propagation::RSlave => "rslave",
        }
    }
}

/// SELinux relabelling asked with `z` (shared) or `Z` (private).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Relabel {
    Shared,
    Private,
}

/// Where a mount's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A host path. `create_source` is true for `-v /host:/ctr`, which
    /// creates a missing host directory; `--mount type=bind` requires it to
    /// exist.
    Bind {
        source: PathBuf,
        create_source: bool,
        nonrecursive: bool,
    },
    /// A named volume, or an anonymous one when `name` is `None`.
    Volume {
        name: Option<VolumeName>,
        nocopy: bool,
        driver: Option<String>,
        driver_opts: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
    },
    /// A fresh tmpfs; `options` are mount options such as `size=64m`.
    Tmpfs { options: Vec<String> },
}

impl MountKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            MountKind::Bind { .. } => "bind",
            MountKind::Volume { .. } => "volume",
            MountKind::Tmpfs { .. } => "tmpfs",
        }
    }
}

/// One mount the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// Absolute, cleaned path inside the container.
    pub target: String,
    pub kind: MountKind,
    pub readonly: bool,
    /// Only ever set for binds.
    pub propagation: Option<Propagation>,
    pub relabel: Option<Relabel>,
}

/// `--volumes-from container[:ro|:rw]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumesFrom {
    pub container: String,
    /// `Some(true)` for `:ro`: every mount becomes read-only. `:rw` or no
    /// suffix keep each mount's own mode (a read-only mount stays so).
    pub force_readonly: bool,
}

/// Lexically clean an absolute path like Go's `path.Clean`: no `.`, no
/// `..`, no repeated or trailing `/`.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

fn check_target(target: &str) -> Result<String, SpecError> {
    if clean_path(target) == "/" && target.starts_with('/') {
        return Err(SpecError::TargetIsRoot);
    }
    if !target.starts_with('/') {
        return Err(SpecError::NotAbsolute(target.to_string()));
    }
    Ok(clean_path(target))
}

/// Options accepted after the second colon of `-v`.
#[derive(Default)]
struct Mode {
    readonly: bool,
    relabel: Option<Relabel>,
    propagation: Option<Propagation>,
    nocopy: bool,
}

/// Docker's `linuxValidMountMode`: comma-separated words, at most one of
/// each family (rw/ro, z/Z, propagation, copy/nocopy, consistency).
fn parse_mode(mode: &str) -> Option<Mode> {
    let mut out = Mode::default();
    if mode.is_empty() {
        return Some(out);
    }
    let mut counts = [0u8; 5];
    for word in mode.split(',') {
        let family = match word {
            "rw" | "ro" => {
                out.readonly = word == "ro";
                0
            }
            "z" | "Z" => {
                out.relabel = Some(if word == "z" {
                    Relabel::Shared
                } else {
                    Relabel::Private
                });
                1
            }
            "copy" | "nocopy" => {
                out.nocopy = word == "nocopy";
                3
            }
            "consistent" | "cached" | "delegated" => 4,
            other => {
                out.propagation = Some(Propagation::parse(other)?);
                2
            }
        };
        // A second word of one family is refused at once: counting on
        // overflowed a u8 at 256 words (a panic; wrapped, an accepted mode),
        // which the volume_flags fuzz target found.
        if counts[family] == 1 {
            return None;
        }
        counts[family] = 1;
    }
    Some(out)
}

/// Parse `-v` / `--volume`: `[source:]target[:mode]`.
///
/// A source that is an absolute path is a bind; any other source is a
/// volume name; no source is an anonymous volume.
pub fn parse_volume_flag(raw: &str) -> Result<MountSpec, SpecError> {
    let parts: Vec<&str> = raw.splitn(4, ':').collect();
    if parts[0].is_empty() {
        return Err(SpecError::InvalidSpec(raw.to_string()));
    }
    let (source, target, mode_str) = match parts.as_slice() {
        [target] => ("", *target, ""),
        [source, target] => {
            // `/foo:rw` names no volume: a destination cannot take a mode alone.
            if parse_mode(target).is_some() {
                return Err(SpecError::InvalidSpec(raw.to_string()));
            }
            (*source, *target, "")
        }
        [source, target, mode] => (*source, *target, *mode),
        _ => return Err(SpecError::InvalidSpec(raw.to_string())),
    };
    let mode = parse_mode(mode_str).ok_or_else(|| SpecError::InvalidMode(mode_str.to_string()))?;
    let kind_name = if source.starts_with('/') {
        "bind"
    } else {
        "volume"
    };
    let because = |e: SpecError| SpecError::InvalidSpecBecause {
        raw: raw.to_string(),
        source: Box::new(SpecError::MountConfig {
            kind: kind_name,
            reason: e.to_string(),
        }),
    };
    let target = check_target(target).map_err(because)?;
    let kind = if source.starts_with('/') {
        MountKind::Bind {
            source: PathBuf::from(clean_path(source)),
            create_source: true,
            nonrecursive: false,
        }
    } else {
        if mode.propagation.is_some() {
            // Docker accepts the word and ignores it for volumes; so do we.
            tracing::debug!(spec = raw, "propagation mode ignored for a volume");
        }
        let name = if source.is_empty() {
            None
        } else {
            Some(
                VolumeName::try_from(source).map_err(|e| SpecError::VolumeName {
                    name: source.to_string(),
                    source: e,
                })?,
            )
        };
        MountKind::Volume {
            name,
            nocopy: mode.nocopy,
            driver: None,
            driver_opts: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    };
    let propagation = match kind {
        MountKind::Bind { .. } => mode.propagation,
        _ => None,
    };
    Ok(MountSpec {
        target,
        kind,
        readonly: mode.readonly,
        propagation,
        relabel: mode.relabel,
    })
}

fn parse_bool(key: &str, value: Option<&str>) -> Result<bool, SpecError> {
    match value {
        None => Ok(true),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(v) => Err(SpecError::InvalidValue {
            key: key.to_string(),
            value: v.to_string(),
        }),
    }
}

/// Docker's rendering of a tmpfs size: the largest unit dividing it.
fn tmpfs_size_option(bytes: u64) -> String {
    for (suffix, divisor) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if bytes.is_multiple_of(divisor) {
            return format!("size={}{suffix}", bytes / divisor);
        }
    }
    format!("size={bytes}")
}

/// Split one CSV record as the docker CLI does for `--mount`: a field in
/// double quotes may hold commas (`"volume-opt=o=size=1m,uid=1000"`), and
/// `""` inside quotes is one quote.
fn split_csv(raw: &str) -> Result<Vec<String>, SpecError> {
    let bad = || SpecError::BadQuoting(raw.to_string());
    let mut fields = Vec::new();
    let mut chars = raw.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next().ok_or_else(bad)? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    c => field.push(c),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return Err(bad());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '"' {
                    return Err(bad());
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

/// Parse `--mount type=…,source=…,target=…,…` with the docker CLI's keys.
pub fn parse_mount_flag(raw: &str) -> Result<MountSpec, SpecError> {
    #[derive(PartialEq)]
    enum Ty {
        Bind,
        Volume,
        Tmpfs,
    }
    let mut ty = Ty::Volume;
    let mut source = String::new();
    let mut target = String::new();
    let mut readonly = false;
    let mut propagation = None;
    let mut nonrecursive = false;
    let mut nocopy = false;
    let mut driver = None;
    let mut driver_opts = BTreeMap::new();
    let mut labels = BTreeMap::new();
    let mut tmpfs_size = None;
    let mut tmpfs_mode = None;
    // Which option families were used, to refuse mixing them with the type.
    let (mut used_bind, mut used_volume, mut used_tmpfs) = (false, false, false);

    for field in &split_csv(raw)? {
        let field = field.as_str();
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
            None => (field.to_ascii_lowercase(), None),
        };
        let need = |v: Option<&str>| {
            v.map(str::to_string)
                .ok_or(SpecError::NotKeyValue(field.to_string()))
        };
        match key.as_str() {
            "readonly" | "ro" => readonly = parse_bool(&key, value)?,
            "volume-nocopy" => {
                used_volume = true;
                nocopy = parse_bool(&key, value)?;
            }
            "bind-nonrecursive" => {
                used_bind = true;
                nonrecursive = parse_bool(&key, value)?;
            }
            "type" => {
                ty = match need(value)?.as_str() {
                    "bind" => Ty::Bind,
                    "volume" => Ty::Volume,
                    "tmpfs" => Ty::Tmpfs,
                    other => {
                        return Err(SpecError::InvalidValue {
                            key: "type".into(),
                            value: other.to_string(),
                        })
                    }
                }
            }
            "source" | "src" => source = need(value)?,
            "target" | "dst" | "destination" => target = need(value)?,
            "consistency" => {
                need(value)?;
            }
            "bind-propagation" => {
                used_bind = true;
                let v = need(value)?;
                propagation =
                    Some(
                        Propagation::parse(&v).ok_or_else(|| SpecError::MountConfig {
                            kind: "bind",
                            reason: format!("invalid propagation mode: {v}"),
                        })?,
                    );
            }
            "volume-driver" => {
                used_volume = true;
                driver = Some(need(value)?);
            }
            "volume-opt" | "volume-label" => {
                used_volume = true;
                let v = need(value)?;
                let (k, val) = v.split_once('=').unwrap_or((v.as_str(), ""));
                let map = if key == "volume-opt" {
                    &mut driver_opts
                } else {
                    &mut labels
                };
                map.insert(k.to_string(), val.to_string());
            }
            "tmpfs-size" => {
                used_tmpfs = true;
                let v = need(value)?;
                let bytes = rrun_units::ram_in_bytes(&v).map_err(|_| SpecError::InvalidValue {
                    key: key.clone(),
                    value: v.clone(),
                })?;
                tmpfs_size = Some(bytes as u64);
            }
            "tmpfs-mode" => {
                used_tmpfs = true;
                let v = need(value)?;
                tmpfs_mode =
                    Some(
                        u32::from_str_radix(&v, 8).map_err(|_| SpecError::InvalidValue {
                            key: key.clone(),
                            value: v.clone(),
                        })?,
                    );
            }
            _ if value.is_none() => return Err(SpecError::NotKeyValue(field.to_string())),
            _ => {
                return Err(SpecError::UnexpectedKey {
                    key: key.clone(),
                    field: field.to_string(),
                })
            }
        }
    }

    let kind_name = match ty {
        Ty::Bind => "bind",
        Ty::Volume => "volume",
        Ty::Tmpfs => "tmpfs",
    };
    for (used, prefix, allowed) in [
        (used_bind, "bind", Ty::Bind),
        (used_volume, "volume", Ty::Volume),
        (used_tmpfs, "tmpfs", Ty::Tmpfs),
    ] {
        if used && ty != allowed {
            return Err(SpecError::MixedOptions {
                prefix,
                kind: kind_name,
            });
        }
    }
    if target.is_empty() {
        return Err(SpecError::TargetRequired);
    }
    let config = |reason: String| SpecError::MountConfig {
        kind: kind_name,
        reason,
    };
    let target = check_target(&target).map_err(|e| config(e.to_string()))?;

    let kind = match ty {
        Ty::Bind => {
            if source.is_empty() {
                return Err(config("field Source must not be empty".into()));
            }
            if !source.starts_with('/') {
                return Err(config(SpecError::NotAbsolute(source).to_string()));
            }
            MountKind::Bind {
                source: PathBuf::from(clean_path(&source)),
                create_source: false,
                nonrecursive,
            }
        }
        Ty::Volume => {
            let name = if source.is_empty() {
                if readonly {
                    return Err(config(
                        "must not set ReadOnly mode when using anonymous volumes".into(),
                    ));
                }
                None
            } else {
                Some(
                    VolumeName::try_from(source.as_str()).map_err(|e| SpecError::VolumeName {
                        name: source.clone(),
                        source: e,
                    })?,
                )
            };
            MountKind::Volume {
                name,
                nocopy,
                driver,
                driver_opts,
                labels,
            }
        }
        Ty::Tmpfs => {
            if !source.is_empty() {
                return Err(config("field Source must not be specified".into()));
            }
            let mut options = Vec::new();
            if let Some(mode) = tmpfs_mode {
                options.push(format!("mode={mode:o}"));
            }
            if let Some(size) = tmpfs_size.filter(|&s| s > 0) {
                options.push(tmpfs_size_option(size));
            }
            MountKind::Tmpfs { options }
        }
    };
    Ok(MountSpec {
        target,
        kind,
        readonly,
        propagation,
        relabel: None,
    })
}

/// Parse `--tmpfs /path[:options]`; options are tmpfs mount options
/// (`size=64m,mode=1777,uid=1000,ro,…`) passed through as given.
pub fn parse_tmpfs_flag(raw: &str) -> Result<MountSpec, SpecError> {
    let (target, opts) = raw.split_once(':').unwrap_or((raw, ""));
    let target = check_target(target)?;
    let mut readonly = false;
    let mut options = Vec::new();
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => readonly = true,
            "rw" => readonly = false,
            other => options.push(other.to_string()),
        }
    }
    Ok(MountSpec {
        target,
        kind: MountKind::Tmpfs { options },
        readonly,
        propagation: None,
        relabel: None,
    })
}

/// Parse `--volumes-from container[:mode]`, as Docker's `ParseVolumesFrom`.
pub fn parse_volumes_from(raw: &str) -> Result<VolumesFrom, SpecError> {
    if raw.is_empty() {
        return Err(SpecError::EmptyVolumesFrom);
    }
    let (container, mode) = raw.split_once(':').unwrap_or((raw, ""));
    let parsed = parse_mode(mode).ok_or_else(|| SpecError::InvalidMode(mode.to_string()))?;
    // Propagation and copy modes cannot be imported (Docker refuses them too).
    let has_copy = mode.split(',').any(|w| w == "copy" || w == "nocopy");
    if parsed.propagation.is_some() || has_copy {
        return Err(SpecError::InvalidMode(mode.to_string()));
    }
    Ok(VolumesFrom {
        container: container.to_string(),
        force_readonly: parsed.readonly,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mode_word_repeated_past_255_times_is_refused_not_counted_over() {
        let many = vec!["rslave"; 300].join(",");
        assert!(parse_volume_flag(&format!("v:/v:{many}")).is_err());
        assert!(parse_volume_flag("v:/v:ro,rslave").is_ok());
        assert!(parse_volume_flag("v:/v:ro,rw").is_err());
    }

    fn vol(name: Option<&str>, nocopy: bool) -> MountKind {
        MountKind::Volume {
            name: name.map(|n| VolumeName::try_from(n).unwrap()),
            nocopy,
            driver: None,
            driver_opts: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }

    fn err(r: Result<MountSpec, SpecError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn v_named_volume() {
        let m = parse_volume_flag("todo-mysql-data:/var/lib/mysql").unwrap();
        assert_eq!(m.target, "/var/lib/mysql");
        assert_eq!(m.kind, vol(Some("todo-mysql-data"), false));
        assert!(!m.readonly);
    }

    #[test]
    fn v_anonymous_volume_and_clean_target() {
        let m = parse_volume_flag("/data//x/../y/").unwrap();
        assert_eq!(m.target, "/data/y");
        assert_eq!(m.kind, vol(None, false));
    }

    #[test]
    fn v_bind_with_every_mode_family() {
        let m = parse_volume_flag("/host/dir/:/ctr:ro,Z,rshared,nocopy,cached").unwrap();
        assert_eq!(
            m.kind,
            MountKind::Bind {
                source: "/host/dir".into(),
                create_source: true,
                nonrecursive: false
            }
        );
        assert!(m.readonly);
        assert_eq!(m.relabel, Some(Relabel::Private));
        assert_eq!(m.propagation, Some(Propagation::RShared));
        let m = parse_volume_flag("/h:/c:rw,z").unwrap();
        assert!(!m.readonly);
        assert_eq!(m.relabel, Some(Relabel::Shared));
        assert_eq!(m.propagation, None);
    }

    #[test]
    fn v_volume_nocopy_and_ro() {
        let m = parse_volume_flag("data:/d:ro,nocopy").unwrap();
        assert_eq!(m.kind, vol(Some("data"), true));
        assert!(m.readonly);
        // Propagation is accepted and dropped for volumes, as Docker does.
        assert_eq!(
            parse_volume_flag("data:/d:rslave").unwrap().propagation,
            None
        );
    }

    #[test]
    fn v_errors_are_dockers() {
        assert_eq!(
            err(parse_volume_flag(":/x")),
            "invalid volume specification: ':/x'"
        );
        assert_eq!(
            err(parse_volume_flag("")),
            "invalid volume specification: ''"
        );
        assert_eq!(
            err(parse_volume_flag("/foo:rw")),
            "invalid volume specification: '/foo:rw'"
        );
        assert_eq!(
            err(parse_volume_flag("a:/b:c:d")),
            "invalid volume specification: 'a:/b:c:d'"
        );
        assert_eq!(err(parse_volume_flag("a:/b:rw,ro")), "invalid mode: rw,ro");
        assert_eq!(err(parse_volume_flag("a:/b:bogus")), "invalid mode: bogus");
        assert_eq!(err(parse_volume_flag("a:/b:z,Z")), "invalid mode: z,Z");
        assert_eq!(
            err(parse_volume_flag("data:relative")),
            "invalid volume specification: 'data:relative': invalid mount config for type \
             \"volume\": invalid mount path: 'relative' mount path must be absolute"
        );
        assert_eq!(
            err(parse_volume_flag("/h:/")),
            "invalid volume specification: '/h:/': invalid mount config for type \"bind\": \
             invalid specification: destination can't be '/'"
        );
        assert_eq!(
            err(parse_volume_flag("./rel:/x")),
            "create ./rel: \"./rel\" includes invalid characters for a local volume name, only \
             \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host \
             directory, use absolute path"
        );
    }

    #[test]
    fn mount_volume_every_option() {
        let m = parse_mount_flag(
            "type=volume,src=data,dst=/d,ro,volume-nocopy,volume-driver=local,\
             volume-opt=type=tmpfs,volume-opt=o=size=1m,volume-label=a=b,consistency=cached",
        )
        .unwrap();
        assert_eq!(m.target, "/d");
        assert!(m.readonly);
        let MountKind::Volume {
            name,
            nocopy,
            driver,
            driver_opts,
            labels,
        } = m.kind
        else {
            panic!("not a volume");
        };
        assert_eq!(name.unwrap().as_str(), "data");
        assert!(nocopy);
        assert_eq!(driver.as_deref(), Some("local"));
        assert_eq!(driver_opts.get("type").map(String::as_str), Some("tmpfs"));
        assert_eq!(driver_opts.get("o").map(String::as_str), Some("size=1m"));
        assert_eq!(labels.get("a").map(String::as_str), Some("b"));
    }

    #[test]
    fn mount_defaults_to_volume_and_spellings() {
        let m = parse_mount_flag("source=data,destination=/d,readonly=false").unwrap();
        assert_eq!(m.kind, vol(Some("data"), false));
        assert!(!m.readonly);
        let m = parse_mount_flag("target=/anon").unwrap();
        assert_eq!(m.kind, vol(None, false));
        let m = parse_mount_flag("dst=/d,src=v,volume-nocopy=true").unwrap();
        assert_eq!(m.kind, vol(Some("v"), true));
    }

    #[test]
    fn mount_quoted_fields_keep_their_commas() {
        let m = parse_mount_flag(
            r#"type=volume,src=nfsvol,dst=/d,"volume-opt=o=addr=10.0.0.1,rw",volume-opt=type=nfs"#,
        )
        .unwrap();
        let MountKind::Volume { driver_opts, .. } = m.kind else {
            panic!("not a volume")
        };
        assert_eq!(
            driver_opts.get("o").map(String::as_str),
            Some("addr=10.0.0.1,rw")
        );
        assert_eq!(driver_opts.get("type").map(String::as_str), Some("nfs"));
        let m = parse_mount_flag(r#"dst=/d,"volume-label=q=a""b""#).unwrap();
        let MountKind::Volume { labels, .. } = m.kind else {
            panic!("not a volume")
        };
        assert_eq!(labels.get("q").map(String::as_str), Some("a\"b"));
        for bad in [r#"dst=/d,"src=x"#, r#"dst=/d,sr"c=x"#, r#"dst=/d,"src=x"y"#] {
            assert!(
                matches!(parse_mount_flag(bad), Err(SpecError::BadQuoting(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn mount_bind_options() {
        let m = parse_mount_flag(
            "type=bind,source=/h,target=/c,readonly=1,bind-propagation=rslave,bind-nonrecursive",
        )
        .unwrap();
        assert_eq!(
            m.kind,
            MountKind::Bind {
                source: "/h".into(),
                create_source: false,
                nonrecursive: true
            }
        );
        assert!(m.readonly);
        assert_eq!(m.propagation, Some(Propagation::RSlave));
    }

    #[test]
    fn mount_tmpfs_options() {
        let m = parse_mount_flag("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        assert_eq!(
            m.kind,
            MountKind::Tmpfs {
                options: vec!["mode=1770".into(), "size=64m".into()]
            }
        );
        let m = parse_mount_flag("type=tmpfs,dst=/t,tmpfs-size=1000").unwrap();
        assert_eq!(
            m.kind,
            MountKind::Tmpfs {
                options: vec!["size=1000".into()]
            }
        );
        let m = parse_mount_flag("type=tmpfs,dst=/t,tmpfs-size=2048").unwrap();
        assert_eq!(
            m.kind,
            MountKind::Tmpfs {
                options: vec!["size=2k".into()]
            }
        );
    }

    #[test]
    fn mount_errors_are_dockers() {
        let e = |s| err(parse_mount_flag(s));
        assert_eq!(e("type=volume,src=x"), "target is required");
        assert_eq!(
            e("type=bind,src=/a,dst=/b,foo=bar"),
            "unexpected key 'foo' in 'foo=bar'"
        );
        assert_eq!(
            e("type=bind,src=/a,dst=/b,foo"),
            "invalid field 'foo' must be a key=value pair"
        );
        assert_eq!(
            e("type=bind,src,dst=/b"),
            "invalid field 'src' must be a key=value pair"
        );
        assert_eq!(
            e("type=volume,dst=/b,readonly=maybe"),
            "invalid value for readonly: maybe"
        );
        assert_eq!(
            e("type=tmpfs,dst=/b,tmpfs-size=lots"),
            "invalid value for tmpfs-size: lots"
        );
        assert_eq!(
            e("type=tmpfs,dst=/b,tmpfs-mode=999"),
            "invalid value for tmpfs-mode: 999"
        );
        assert_eq!(e("type=nfs,dst=/b"), "invalid value for type: nfs");
        assert_eq!(
            e("type=bind,src=/a,dst=/b,volume-nocopy"),
            "cannot mix 'volume-*' options with mount type 'bind'"
        );
        assert_eq!(
            e("type=volume,src=a,dst=/b,bind-propagation=shared"),
            "cannot mix 'bind-*' options with mount type 'volume'"
        );
        assert_eq!(
            e("type=bind,src=/a,dst=/b,tmpfs-size=1m"),
            "cannot mix 'tmpfs-*' options with mount type 'bind'"
        );
        assert_eq!(
            e("type=bind,dst=/b"),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        assert_eq!(
            e("type=bind,src=rel,dst=/b"),
            "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"
        );
        assert_eq!(
            e("type=bind,src=/a,dst=/b,bind-propagation=sideways"),
            "invalid mount config for type \"bind\": invalid propagation mode: sideways"
        );
        assert_eq!(
            e("type=tmpfs,src=x,dst=/b"),
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
        assert_eq!(
            e("type=volume,dst=/b,ro"),
            "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes"
        );
        assert_eq!(
            e("type=volume,src=v,dst=/"),
            "invalid mount config for type \"volume\": invalid specification: destination can't be '/'"
        );
        assert_eq!(
            e("type=volume,src=v,dst=rel"),
            "invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute"
        );
    }

    #[test]
    fn tmpfs_flag() {
        let m = parse_tmpfs_flag("/run:rw,size=64m,mode=1777").unwrap();
        assert_eq!(m.target, "/run");
        assert_eq!(
            m.kind,
            MountKind::Tmpfs {
                options: vec!["size=64m".into(), "mode=1777".into()]
            }
        );
        assert!(!m.readonly);
        assert!(parse_tmpfs_flag("/x:ro").unwrap().readonly);
        assert_eq!(
            parse_tmpfs_flag("/").unwrap_err().to_string(),
            "invalid specification: destination can't be '/'"
        );
        assert_eq!(
            parse_tmpfs_flag("run").unwrap_err().to_string(),
            "invalid mount path: 'run' mount path must be absolute"
        );
    }

    #[test]
    fn volumes_from_flag() {
        assert_eq!(
            parse_volumes_from("db").unwrap(),
            VolumesFrom {
                container: "db".into(),
                force_readonly: false
            }
        );
        assert!(parse_volumes_from("db:ro").unwrap().force_readonly);
        assert!(!parse_volumes_from("db:rw").unwrap().force_readonly);
        assert_eq!(
            parse_volumes_from("").unwrap_err().to_string(),
            "volumes-from specification cannot be an empty string"
        );
        assert_eq!(
            parse_volumes_from("db:rshared").unwrap_err().to_string(),
            "invalid mode: rshared"
        );
        assert_eq!(
            parse_volumes_from("db:nocopy").unwrap_err().to_string(),
            "invalid mode: nocopy"
        );
        assert_eq!(
            parse_volumes_from("db:xx").unwrap_err().to_string(),
            "invalid mode: xx"
        );
    }

    #[test]
    fn ram_bytes() {}
}
