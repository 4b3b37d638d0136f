//! What each metadata instruction does to the image config (ENV, ARG,
//! LABEL, MAINTAINER, WORKDIR, USER, VOLUME, EXPOSE, CMD, ENTRYPOINT,
//! HEALTHCHECK, SHELL, STOPSIGNAL, ONBUILD), as Docker's builder does it,
//! and the variables a step sees: the stage's ARG values overlaid by its
//! ENV, as the reference says.

use std::collections::BTreeMap;

use rrun_image::{ContainerConfig, Healthcheck};

use crate::dockerfile::{Cmd, Flag, HealthArgs, Instr, Step};
use crate::error::BuildError;
use crate::words::{expand, expand_words, key_values, Vars, WordError};

/// Arguments every build accepts without an `ARG` line, kept out of the
/// image's history (Docker's predefined proxy args).
pub const PREDEFINED_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// A stage as it is being built.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageState {
    pub config: ContainerConfig,
    /// ARGs declared in this stage that have a value.
    pub args: Vars,
    pub author: Option<String>,
    /// CMD was set in this stage (then ENTRYPOINT keeps it).
    pub cmd_set: bool,
}

impl StageState {
    /// Starting from a base image's config.
    pub fn from_base(config: ContainerConfig) -> StageState {
        StageState {
            config,
            ..Default::default()
        }
    }

    /// The variables a step sees: ARGs, then ENV over them.
    pub fn vars(&self) -> Vars {
        let mut v = self.args.clone();
        for e in self.config.env.iter().flatten() {
            if let Some((k, val)) = e.split_once('=') {
                v.insert(k.into(), val.into());
            }
        }
        v
    }

    /// The shell for shell forms: SHELL's, else `/bin/sh -c`.
    pub fn shell(&self) -> Vec<String> {
        self.config
            .shell
            .clone()
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    /// A command form as argv.
    pub fn argv(&self, cmd: &Cmd) -> Vec<String> {
        match cmd {
            Cmd::Exec(v) => v.clone(),
            Cmd::Shell(s) => {
                let mut a = self.shell();
                a.push(s.clone());
                a
            }
        }
    }

    fn set_env(&mut self, key: &str, value: &str) {
        let env = self.config.env.get_or_insert_with(Vec::new);
        let entry = format!("{key}={value}");
        match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
            Some(e) => *e = entry,
            None => env.push(entry),
        }
    }
}

/// Applies a metadata instruction. `build_args` are `--build-arg` values;
/// `used` collects the names an ARG consumed. Returns the history text
/// (`ENV A=1`), with variables substituted.
pub fn apply(
    state: &mut StageState,
    step: &Step,
    escape: char,
    build_args: &BTreeMap<String, String>,
    used: &mut Vec<String>,
) -> Result<String, BuildError> {
    let kw = step.instr.keyword();
    let word_err = |source: WordError| BuildError::Word {
        line: step.line,
        keyword: kw,
        source,
    };
    let invalid = |detail: String| BuildError::Invalid {
        line: step.line,
        keyword: kw,
        detail,
    };
    let vars = state.vars();
    let one = |s: &str| expand(s, &vars, escape).map_err(word_err);
    match &step.instr {
        Instr::Env(raw) => {
            let kvs = key_values(raw, &vars, escape, true).map_err(word_err)?;
            let mut shown = Vec::new();
            for (k, v) in kvs {
                let v = v.ok_or_else(|| invalid(format!("{k} has no value (ENV KEY=VALUE)")))?;
                if k.is_empty() {
                    return Err(invalid("ENV names can not be blank".into()));
                }
                state.set_env(&k, &v);
                shown.push(format!("{k}={v}"));
            }
            Ok(format!("ENV {}", shown.join(" ")))
        }
        Instr::Arg(raw) => {
            let kvs = key_values(raw, &vars, escape, false).map_err(word_err)?;
            let mut shown = Vec::new();
            for (k, default) in kvs {
                let value = build_args.get(&k).cloned().or(default.clone());
                if build_args.contains_key(&k) {
                    used.push(k.clone());
                }
                if let Some(v) = value {
                    state.args.insert(k.clone(), v);
                }
                shown.push(match default {
                    Some(d) => format!("{k}={d}"),
                    None => k,
                });
            }
            Ok(format!("ARG {}", shown.join(" ")))
        }
        Instr::Label(raw) => {
            let kvs = key_values(raw, &vars, escape, true).map_err(word_err)?;
            let labels = state.config.labels.get_or_insert_with(BTreeMap::new);
            let mut shown = Vec::new();
            for (k, v) in kvs {
                let v = v.ok_or_else(|| invalid(format!("{k} has no value (LABEL KEY=VALUE)")))?;
                shown.push(format!("{k}={v}"));
                labels.insert(k, v);
            }
            Ok(format!("LABEL {}", shown.join(" ")))
        }
        Instr::Maintainer(m) => {
            state.author = Some(m.clone());
            Ok(format!("MAINTAINER {m}"))
        }
        Instr::Workdir(w) => {
            let w = one(w)?;
            let base = state
                .config
                .working_dir
                .clone()
                .unwrap_or_else(|| "/".into());
            let joined = if w.starts_with('/') {
                w
            } else {
                format!("{base}/{w}")
            };
            let dir = match crate::ignore::clean(&joined).as_str() {
                "." => "/".to_string(),
                c => format!("/{c}"),
            };
            state.config.working_dir = Some(dir.clone());
            Ok(format!("WORKDIR {dir}"))
        }
        Instr::User(u) => {
            let u = one(u)?;
            if u.is_empty() {
                return Err(invalid("USER needs a user name or id".into()));
            }
            state.config.user = Some(u.clone());
            Ok(format!("USER {u}"))
        }
        Instr::Volume { json, paths } => {
            let paths: Vec<String> = if *json {
                paths.iter().map(|p| one(p)).collect::<Result<_, _>>()?
            } else {
                let mut out = Vec::new();
                for p in paths {
                    out.extend(expand_words(p, &vars, escape).map_err(word_err)?);
                }
                out
            };
            if paths.is_empty() || paths.iter().any(|p| p.trim().is_empty()) {
                return Err(invalid(
                    "VOLUME specified can not be an empty string".into(),
                ));
            }
            let vols = state.config.volumes.get_or_insert_with(BTreeMap::new);
            for p in &paths {
                vols.insert(p.clone(), serde_json::json!({}));
            }
            Ok(format!("VOLUME [{}]", paths.join(" ")))
        }
        Instr::Expose(ports) => {
            let mut all = Vec::new();
            for p in ports {
                for w in expand_words(p, &vars, escape).map_err(word_err)? {
                    all.extend(expose_ports(&w).map_err(invalid)?);
                }
            }
            let exposed = state.config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in &all {
                exposed.insert(p.clone(), serde_json::json!({}));
            }
            Ok(format!("EXPOSE {}", all.join(" ")))
        }
        Instr::Cmd(c) => {
            state.config.cmd = Some(state.argv(c));
            state.cmd_set = true;
            Ok(format!("CMD {}", json_list(&state.argv(c))))
        }
        Instr::Entrypoint(c) => {
            state.config.entrypoint = Some(state.argv(c));
            // A CMD inherited from the base image does not survive a new
            // ENTRYPOINT; one set in this stage does.
            if !state.cmd_set {
                state.config.cmd = None;
            }
            Ok(format!("ENTRYPOINT {}", json_list(&state.argv(c))))
        }
        Instr::Healthcheck(h) => {
            let hc = healthcheck(h.as_ref()).map_err(invalid)?;
            let text = format!(
                "HEALTHCHECK {}",
                json_list(hc.test.as_deref().unwrap_or(&[]))
            );
            state.config.healthcheck = Some(hc);
            Ok(text)
        }
        Instr::Shell(s) => {
            if s.is_empty() {
                return Err(invalid(
                    "SHELL requires a JSON array, e.g. [\"/bin/bash\", \"-c\"]".into(),
                ));
            }
            state.config.shell = Some(s.clone());
            Ok(format!("SHELL {}", json_list(s)))
        }
        Instr::Stopsignal(s) => {
            let s = one(s)?;
            check_signal(&s).map_err(invalid)?;
            state.config.stop_signal = Some(s.clone());
            Ok(format!("STOPSIGNAL {s}"))
        }
        Instr::Onbuild(t) => {
            let upper = t.split_whitespace().next().unwrap_or("").to_uppercase();
            if matches!(upper.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(invalid(format!(
                    "{upper} isn't allowed as an ONBUILD trigger"
                )));
            }
            state
                .config
                .on_build
                .get_or_insert_with(Vec::new)
                .push(t.clone());
            Ok(format!("ONBUILD {t}"))
        }
        Instr::Run(_) | Instr::Copy(_) | Instr::Add(_) => {
            unreachable!("RUN, COPY and ADD are not metadata")
        }
    }
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).expect("strings serialise")
}

/// `80`, `80/udp`, `8000-8002/tcp` → `80/tcp`, … (ranges expanded, as
/// Docker stores them).
pub fn expose_ports(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "invalid proto {proto:?} in {spec:?} (tcp, udp or sctp)"
        ));
    }
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("invalid port {p:?} in {spec:?}"))
    };
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(ports)?, port(ports)?),
    };
    if hi < lo {
        return Err(format!("invalid port range {ports:?}"));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

fn check_signal(s: &str) -> Result<(), String> {
    let name = s.trim_start_matches("SIG");
    let known = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    let rt = name
        .strip_prefix("RTMIN")
        .or_else(|| name.strip_prefix("RTMAX"));
    if known.contains(&name)
        || s.parse::<u8>().is_ok_and(|n| (1..=64).contains(&n))
        || rt
            .is_some_and(|r| r.is_empty() || r.trim_start_matches(['+', '-']).parse::<u8>().is_ok())
    {
        Ok(())
    } else {
        Err(format!("invalid signal {s:?}"))
    }
}

/// A Go duration (`30s`, `1m30s`, `1.5h`, `250ms`) in nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid duration {s:?} (e.g. 30s, 1m30s)");
    if s == "0" {
        return Ok(0);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Ok(total as i64)
}

fn healthcheck(h: Option<&HealthArgs>) -> Result<Healthcheck, String> {
    let Some(h) = h else {
        return Ok(Healthcheck {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        });
    };
    let mut hc = Healthcheck::default();
    for Flag { name, value } in &h.flags {
        let v = value.as_deref().unwrap_or("");
        match name.as_str() {
            "interval" => hc.interval = Some(min_duration(name, v)?),
            "timeout" => hc.timeout = Some(min_duration(name, v)?),
            "start-period" => hc.start_period = Some(min_duration(name, v)?),
            "start-interval" => hc.start_interval = Some(min_duration(name, v)?),
            "retries" => {
                let n: i64 = v.parse().map_err(|_| format!("invalid --retries {v:?}"))?;
                if n < 0 {
                    return Err("--retries cannot be negative".into());
                }
                hc.retries = Some(n);
            }
            other => return Err(format!("unknown flag: --{other}")),
        }
    }
    hc.test = Some(match &h.cmd {
        Cmd::Exec(v) => std::iter::once("CMD".to_string())
            .chain(v.iter().cloned())
            .collect(),
        Cmd::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
    });
    Ok(hc)
}

/// Docker refuses durations under 1 ms (0 means the default).
fn min_duration(flag: &str, v: &str) -> Result<i64, String> {
    let d = parse_duration(v).map_err(|e| format!("--{flag}: {e}"))?;
    if d != 0 && d < 1_000_000 {
        return Err(format!("--{flag} cannot be less than 1ms"));
    }
    Ok(d)
}
