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

/// Where ARG values come from.
#[derive(Debug, Default)]
pub struct ArgValues {
    /// `--build-arg`s.
    pub build: BTreeMap<String, String>,
    /// The ARGs before the first FROM (a stage's `ARG NAME` takes its value).
    pub global: Vars,
    /// The names an ARG consumed (for the "not consumed" warning).
    pub used: Vec<String>,
}

/// Where a step's errors point, and the variables it sees.
struct Scope {
    line: usize,
    kw: &'static str,
    escape: char,
    vars: Vars,
}

impl Scope {
    fn word(&self, source: WordError) -> BuildError {
        BuildError::Word {
            line: self.line,
            keyword: self.kw,
            source,
        }
    }
    fn invalid(&self, detail: String) -> BuildError {
        BuildError::Invalid {
            line: self.line,
            keyword: self.kw,
            detail,
        }
    }
    fn one(&self, s: &str) -> Result<String, BuildError> {
        expand(s, &self.vars, self.escape).map_err(|e| self.word(e))
    }
    fn words(&self, s: &str) -> Result<Vec<String>, BuildError> {
        expand_words(s, &self.vars, self.escape).map_err(|e| self.word(e))
    }
    /// `KEY=VALUE` pairs that must all have a value.
    fn pairs(&self, raw: &str) -> Result<Vec<(String, String)>, BuildError> {
        let kvs = key_values(raw, &self.vars, self.escape, true).map_err(|e| self.word(e))?;
        kvs.into_iter()
            .map(|(k, v)| match v {
                Some(v) if !k.is_empty() => Ok((k, v)),
                _ => Err(self.invalid(format!("{k:?} has no value ({} KEY=VALUE)", self.kw))),
            })
            .collect()
    }
}

/// Applies a metadata instruction and returns the history text (`ENV
/// A=1`), with variables substituted.
pub fn apply(
    state: &mut StageState,
    step: &Step,
    escape: char,
    args: &mut ArgValues,
) -> Result<String, BuildError> {
    let sc = Scope {
        line: step.line,
        kw: step.instr.keyword(),
        escape,
        vars: state.vars(),
    };
    match &step.instr {
        Instr::Env(raw) => {
            let pairs = sc.pairs(raw)?;
            for (k, v) in &pairs {
                state.set_env(k, v);
            }
            Ok(format!("ENV {}", shown(&pairs)))
        }
        Instr::Arg(raw) => arg(state, &sc, raw, args),
        Instr::Label(raw) => {
            let pairs = sc.pairs(raw)?;
            let labels = state.config.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(pairs.iter().cloned());
            Ok(format!("LABEL {}", shown(&pairs)))
        }
        Instr::Maintainer(m) => {
            state.author = Some(m.clone());
            Ok(format!("MAINTAINER {m}"))
        }
        Instr::Workdir(w) => {
            let dir = workdir(state.config.working_dir.as_deref(), &sc.one(w)?);
            state.config.working_dir = Some(dir.clone());
            Ok(format!("WORKDIR {dir}"))
        }
        Instr::User(u) => {
            let u = sc.one(u)?;
            if u.is_empty() {
                return Err(sc.invalid("USER needs a user name or id".into()));
            }
            state.config.user = Some(u.clone());
            Ok(format!("USER {u}"))
        }
        Instr::Volume { json, paths } => volume(state, &sc, *json, paths),
        Instr::Expose(ports) => {
            let mut all = Vec::new();
            for p in ports {
                for w in sc.words(p)? {
                    all.extend(expose_ports(&w).map_err(|e| sc.invalid(e))?);
                }
            }
            let exposed = state.config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in &all {
                exposed.insert(p.clone(), serde_json::json!({}));
            }
            Ok(format!("EXPOSE {}", all.join(" ")))
        }
        Instr::Cmd(c) | Instr::Entrypoint(c) => Ok(command(state, c, sc.kw)),
        Instr::Healthcheck(_) | Instr::Shell(_) | Instr::Stopsignal(_) | Instr::Onbuild(_) => {
            run_config(state, &sc, &step.instr)
        }
        Instr::Run(_) | Instr::Copy(_) | Instr::Add(_) => {
            unreachable!("RUN, COPY and ADD are not metadata")
        }
    }
}

/// The instructions `commit --change` and `import --change` take (moby's
/// `validCommitCommands`).
const CHANGE_INSTRUCTIONS: [&str; 11] = [
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// `--change` instructions applied to `base` as Docker's commit and import
/// apply them: each is a Dockerfile line, parsed and applied as a build
/// would (ENV adds to the config's variables and later lines see them; an
/// ENTRYPOINT without a CMD among the changes clears the CMD). The error is
/// one line naming the instruction.
pub fn apply_changes(base: ContainerConfig, changes: &[String]) -> Result<ContainerConfig, String> {
    let mut state = StageState::from_base(base);
    let mut args = ArgValues::default();
    for change in changes.iter().filter(|c| !c.trim().is_empty()) {
        let df = crate::dockerfile::parse(&format!("FROM scratch\n{change}\n"))
            .map_err(|e| change_error(change, e))?;
        for step in df.stages.iter().flat_map(|s| &s.steps) {
            let kw = step.instr.keyword();
            if !CHANGE_INSTRUCTIONS.contains(&kw) {
                return Err(format!("{kw} is not a valid change command"));
            }
            apply(&mut state, step, df.escape, &mut args).map_err(|e| change_error(change, e))?;
        }
    }
    Ok(state.config)
}

/// A build error about a `--change` line, without the Dockerfile line
/// number it would otherwise name.
fn change_error(change: &str, e: BuildError) -> String {
    match e {
        BuildError::Invalid {
            keyword, detail, ..
        } => format!("{keyword}: {detail}"),
        BuildError::Word {
            keyword, source, ..
        } => format!("{keyword}: {source}"),
        BuildError::Parse { message, .. } => format!("invalid change {change:?}: {message}"),
        e => format!("invalid change {change:?}: {e}"),
    }
}

/// HEALTHCHECK, SHELL, STOPSIGNAL, ONBUILD.
fn run_config(state: &mut StageState, sc: &Scope, instr: &Instr) -> Result<String, BuildError> {
    match instr {
        Instr::Healthcheck(h) => {
            let hc = healthcheck(h.as_ref()).map_err(|e| sc.invalid(e))?;
            let text = format!(
                "HEALTHCHECK {}",
                json_list(hc.test.as_deref().unwrap_or(&[]))
            );
            state.config.healthcheck = Some(hc);
            Ok(text)
        }
        Instr::Shell(s) => {
            if s.is_empty() {
                return Err(
                    sc.invalid("SHELL requires a JSON array, e.g. [\"/bin/bash\", \"-c\"]".into())
                );
            }
            state.config.shell = Some(s.clone());
            Ok(format!("SHELL {}", json_list(s)))
        }
        Instr::Stopsignal(s) => {
            let s = sc.one(s)?;
            check_signal(&s).map_err(|e| sc.invalid(e))?;
            state.config.stop_signal = Some(s.clone());
            Ok(format!("STOPSIGNAL {s}"))
        }
        Instr::Onbuild(t) => {
            let upper = t.split_whitespace().next().unwrap_or("").to_uppercase();
            if matches!(upper.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(sc.invalid(format!("{upper} isn't allowed as an ONBUILD trigger")));
            }
            state
                .config
                .on_build
                .get_or_insert_with(Vec::new)
                .push(t.clone());
            Ok(format!("ONBUILD {t}"))
        }
        _ => unreachable!("only the four instructions above come here"),
    }
}

fn shown(pairs: &[(String, String)]) -> String {
    let v: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    v.join(" ")
}

/// ARG: --build-arg, else the default here, else the global ARG's value.
fn arg(
    state: &mut StageState,
    sc: &Scope,
    raw: &str,
    args: &mut ArgValues,
) -> Result<String, BuildError> {
    let kvs = key_values(raw, &sc.vars, sc.escape, false).map_err(|e| sc.word(e))?;
    let mut shown = Vec::new();
    for (k, default) in kvs {
        let value = args
            .build
            .get(&k)
            .cloned()
            .or(default.clone())
            .or_else(|| args.global.get(&k).cloned());
        if args.build.contains_key(&k) {
            args.used.push(k.clone());
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

/// WORKDIR: relative to the current one, cleaned.
pub fn workdir(current: Option<&str>, w: &str) -> String {
    let joined = if w.starts_with('/') {
        w.to_string()
    } else {
        format!("{}/{w}", current.unwrap_or("/"))
    };
    match crate::ignore::clean(&joined).as_str() {
        "." => "/".to_string(),
        c => format!("/{c}"),
    }
}

fn volume(
    state: &mut StageState,
    sc: &Scope,
    json: bool,
    paths: &[String],
) -> Result<String, BuildError> {
    let mut all = Vec::new();
    for p in paths {
        if json {
            all.push(sc.one(p)?);
        } else {
            all.extend(sc.words(p)?);
        }
    }
    if all.is_empty() || all.iter().any(|p| p.trim().is_empty()) {
        return Err(sc.invalid("VOLUME specified can not be an empty string".into()));
    }
    let vols = state.config.volumes.get_or_insert_with(BTreeMap::new);
    for p in &all {
        vols.insert(p.clone(), serde_json::json!({}));
    }
    Ok(format!("VOLUME [{}]", all.join(" ")))
}

/// CMD or ENTRYPOINT. A CMD inherited from the base image does not survive
/// a new ENTRYPOINT; one set in this stage does.
fn command(state: &mut StageState, c: &Cmd, kw: &str) -> String {
    let argv = state.argv(c);
    if kw == "CMD" {
        state.config.cmd = Some(argv.clone());
        state.cmd_set = true;
    } else {
        state.config.entrypoint = Some(argv.clone());
        if !state.cmd_set {
            state.config.cmd = None;
        }
    }
    format!("{kw} {}", json_list(&argv))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_durations_signals_workdirs() {
        assert_eq!(expose_ports("80").unwrap(), ["80/tcp"]);
        assert_eq!(expose_ports("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(
            expose_ports("8000-8002/tcp").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(expose_ports("0").is_err());
        assert!(expose_ports("9-8").is_err());
        assert!(expose_ports("80/icmp").is_err());
        assert_eq!(parse_duration("30s").unwrap(), 30_000_000_000);
        assert_eq!(parse_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration("1.5h").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_duration("250ms").unwrap(), 250_000_000);
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("").is_err());
        assert!(check_signal("SIGTERM").is_ok());
        assert!(check_signal("KILL").is_ok());
        assert!(check_signal("9").is_ok());
        assert!(check_signal("SIGRTMIN+3").is_ok());
        assert!(check_signal("SIGNOPE").is_err());
        assert_eq!(workdir(None, "app"), "/app");
        assert_eq!(workdir(Some("/srv"), "a/../b/"), "/srv/b");
        assert_eq!(workdir(Some("/srv"), "/opt"), "/opt");
        assert_eq!(workdir(Some("/srv"), "../../.."), "/");
    }

    #[test]
    fn env_then_arg_scope_and_shell_forms() {
        let mut s = StageState::default();
        s.args.insert("A".into(), "from-arg".into());
        s.set_env("A", "from-env");
        s.set_env("B", "1");
        s.set_env("B", "2");
        assert_eq!(s.vars()["A"], "from-env");
        assert_eq!(s.config.env, Some(vec!["A=from-env".into(), "B=2".into()]));
        assert_eq!(
            s.argv(&Cmd::Shell("echo hi".into())),
            ["/bin/sh", "-c", "echo hi"]
        );
        s.config.shell = Some(vec!["/bin/bash".into(), "-ec".into()]);
        assert_eq!(s.argv(&Cmd::Shell("x".into())), ["/bin/bash", "-ec", "x"]);
        assert_eq!(s.argv(&Cmd::Exec(vec!["a".into()])), ["a"]);
    }

    #[test]
    fn changes_apply_on_the_base_config_as_commit_does() {
        let base = ContainerConfig {
            env: Some(vec!["A=1".into()]),
            cmd: Some(vec!["sleep".into(), "1".into()]),
            labels: Some([("x".to_string(), "y".to_string())].into()),
            ..Default::default()
        };
        let c = apply_changes(
            base.clone(),
            &[
                "ENV B=$A-2".into(),
                r#"CMD ["sh", "-c", "echo hi"]"#.into(),
                "WORKDIR /srv".into(),
                "EXPOSE 80 53/udp".into(),
                "LABEL a=b".into(),
                "USER nobody".into(),
                "HEALTHCHECK --interval=5s CMD true".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.env, Some(vec!["A=1".to_string(), "B=1-2".to_string()]));
        assert_eq!(
            c.cmd,
            Some(vec!["sh".into(), "-c".into(), "echo hi".into()])
        );
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp"]);
        assert_eq!(c.labels.as_ref().unwrap()["a"], "b");
        assert_eq!(c.labels.as_ref().unwrap()["x"], "y");
        assert_eq!(c.user.as_deref(), Some("nobody"));
        assert_eq!(c.healthcheck.unwrap().interval, Some(5_000_000_000));
        // An ENTRYPOINT alone clears the old CMD, as a build's would.
        let e = apply_changes(base.clone(), &["ENTRYPOINT /bin/app".into()]).unwrap();
        assert_eq!(
            e.entrypoint,
            Some(vec!["/bin/sh".into(), "-c".into(), "/bin/app".into()])
        );
        assert_eq!(e.cmd, None);
        assert_eq!(
            apply_changes(base.clone(), &["RUN rm -rf /".into()]).unwrap_err(),
            "RUN is not a valid change command"
        );
        assert!(apply_changes(base.clone(), &["ENV A".into()]).is_err());
        assert!(apply_changes(base, &["BOGUS x".into()]).is_err());
    }
}
