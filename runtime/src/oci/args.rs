//! runc's command line as its callers write it: Go's flag package takes
//! `-root` as well as `--root`, and `--version` prints runc's lines, which
//! go-runc parses.

use clap::CommandFactory;
use std::collections::HashSet;
use std::ffi::OsString;

/// The commands whose arguments after the container id belong to the
/// program they run (`exec ID CMD...`, `ps ID PS_ARGS...`): nothing there
/// is rewritten.
const PASS_THROUGH_AFTER_ID: &[&str] = &["exec", "ps", "checkpoint", "restore"];

/// rrun-oci's command line, built once per start: the arguments' rewrite,
/// the `--version` check and the parse all read it.
pub fn command() -> clap::Command {
    super::Cli::command()
}

/// The long flag names of the global options and of every subcommand.
fn long_flags(cmd: &clap::Command) -> (HashSet<String>, HashSet<String>) {
    let global = cmd
        .get_arguments()
        .filter_map(|a| a.get_long().map(String::from))
        .collect();
    let sub = cmd
        .get_subcommands()
        .flat_map(|s| s.get_arguments())
        .filter_map(|a| a.get_long().map(String::from))
        .collect();
    (global, sub)
}

/// Rewrites Go-style single-dash long flags (`-root /x`, `-log-format=json`)
/// to the double-dash form; short flags (`-b`, `-d`) and the arguments of
/// the container's own program are left alone.
pub fn normalize_args(cmd: &clap::Command, args: Vec<OsString>) -> Vec<OsString> {
    let (global, sub) = long_flags(cmd);
    let mut out = Vec::with_capacity(args.len());
    let mut command: Option<String> = None;
    let mut positionals = 0;
    let mut verbatim = false;
    for (i, arg) in args.into_iter().enumerate() {
        let Some(s) = arg.to_str().filter(|_| i > 0 && !verbatim) else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            verbatim = true;
            out.push(arg);
            continue;
        }
        if let Some(rest) = s.strip_prefix('-').filter(|r| !r.starts_with('-')) {
            let name = rest.split('=').next().unwrap_or_default();
            let known = if command.is_some() { &sub } else { &global };
            if name.len() > 1 && (known.contains(name) || global.contains(name)) {
                out.push(OsString::from(format!("-{s}")));
                continue;
            }
        }
        if !s.starts_with('-') {
            match &command {
                None => command = Some(s.to_string()),
                Some(c) => {
                    positionals += 1;
                    if PASS_THROUGH_AFTER_ID.contains(&c.as_str()) && positionals == 1 {
                        verbatim = true;
                    }
                }
            }
        }
        out.push(arg);
    }
    out
}

/// Whether `--version` (or `-v`) comes before any subcommand.
pub fn wants_version(cmd: &clap::Command, args: &[OsString]) -> bool {
    let subs: HashSet<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
    args.iter()
        .skip(1)
        .take_while(|a| a.to_str().is_none_or(|a| !subs.contains(a)))
        .any(|a| a == "--version" || a == "-v")
}

/// `--version` as runc prints it (go-runc reads `runc version X`, then the
/// `commit:` and `spec:` lines).
pub fn runc_version() -> String {
    let seccomp = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_else(|_| "unknown".into());
    format!(
        "runc version 1.1.5+rrun-oci.{v}\ncommit: rrun-oci-{v}\nspec: 1.2.0\nlibseccomp: {seccomp}\n",
        v = env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize_args(&command(), args.iter().map(OsString::from).collect())
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn go_style_flags_become_double_dash() {
        assert_eq!(
            norm(&[
                "rrun-oci",
                "-root",
                "/r",
                "-log-format=json",
                "create",
                "-bundle",
                "/b",
                "-pid-file=/p",
                "-b",
                "x",
                "id"
            ]),
            [
                "rrun-oci",
                "--root",
                "/r",
                "--log-format=json",
                "create",
                "--bundle",
                "/b",
                "--pid-file=/p",
                "-b",
                "x",
                "id"
            ]
        );
        assert_eq!(
            norm(&["rrun-oci", "kill", "-all", "id", "9"]),
            ["rrun-oci", "kill", "--all", "id", "9"]
        );
    }

    #[test]
    fn the_programs_own_arguments_are_left_alone() {
        assert_eq!(
            norm(&["rrun-oci", "exec", "-detach", "id", "sh", "-all", "-root"]),
            ["rrun-oci", "exec", "--detach", "id", "sh", "-all", "-root"]
        );
        assert_eq!(
            norm(&["rrun-oci", "ps", "id", "-ef"]),
            ["rrun-oci", "ps", "id", "-ef"]
        );
    }

    #[test]
    fn version_before_the_subcommand_only() {
        let v = |a: &[&str]| {
            wants_version(
                &command(),
                &a.iter().map(OsString::from).collect::<Vec<_>>(),
            )
        };
        assert!(v(&["rrun-oci", "--root", "/r", "--version"]));
        assert!(v(&["rrun-oci", "-v"]));
        assert!(!v(&["rrun-oci", "exec", "id", "prog", "--version"]));
    }

    #[test]
    fn version_is_in_runcs_shape() {
        let v = runc_version();
        let lines: Vec<&str> = v.lines().collect();
        assert!(lines[0].starts_with("runc version "), "{v}");
        assert!(lines[1].starts_with("commit: "), "{v}");
        assert!(lines[2].starts_with("spec: "), "{v}");
    }
}
