//! Reading rrun's command line, with a bad one told in docker/cli's words:
//! `unknown flag: --x`, `unknown shorthand flag: 'x' in -x`, `flag needs
//! an argument: --name`, each with the command's usage line and where its
//! help is, exit code 125 (cobra's flag errors); a missing argument is
//! `'rrun rm' requires at least 1 argument` and exit code 1.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;

use super::{manage, Cli, Cmd};

/// What rrun prints instead of running: the text, where it goes and the
/// exit code.
#[derive(Debug)]
pub struct Refusal {
    pub text: String,
    pub to_stderr: bool,
    pub code: i32,
}

/// Parses `args` (the program name first).
pub fn parse<I, T>(args: I) -> Result<Cli, Refusal>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(|e| refusal(&e))?;
    if let Some(word) = run_flag_as_image(&cli.command) {
        let (cmd, usage) = run_usage(&cli.command);
        let flag = match word.starts_with("--") {
            true => word.clone(),
            false => format!("-{}", first_unknown_short(&word)),
        };
        return Err(flag_error(&unknown_flag(&flag, &word), cmd, usage));
    }
    Ok(cli)
}

/// `run`/`create`'s first positional word when it is a flag clap did not
/// know: everything from the image on is the container's, so clap lets a
/// `-` word through there; before the image it is never an image.
fn run_flag_as_image(cmd: &Cmd) -> Option<String> {
    let argv = match cmd {
        Cmd::Run(a) | Cmd::Create(a) => a.first_word(),
        Cmd::Container(manage::ContainerCmd::Run(a))
        | Cmd::Container(manage::ContainerCmd::Create(a)) => a.first_word(),
        _ => None,
    }?;
    (argv.len() > 1 && argv.starts_with('-')).then(|| argv.to_string())
}

/// The letter of a `-abc` cluster that `run` has no flag for (the letters
/// after one that takes a value are that value).
fn first_unknown_short(word: &str) -> char {
    let cmd = built_command();
    let run = cmd.find_subcommand("run");
    let args: Vec<&clap::Arg> = run.map(|r| r.get_arguments().collect()).unwrap_or_default();
    for c in word.trim_start_matches('-').chars() {
        match args.iter().find(|a| a.get_short() == Some(c)) {
            None => return c,
            Some(a) if a.get_action().takes_values() => break,
            Some(_) => {}
        }
    }
    word.chars().nth(1).unwrap_or('-')
}

fn run_usage(cmd: &Cmd) -> (&'static str, &'static str) {
    let create = matches!(
        cmd,
        Cmd::Create(_) | Cmd::Container(manage::ContainerCmd::Create(_))
    );
    let container = matches!(cmd, Cmd::Container(_));
    let name = match (container, create) {
        (false, false) => "rrun run",
        (false, true) => "rrun create",
        (true, false) => "rrun container run",
        (true, true) => "rrun container create",
    };
    (name, "[OPTIONS] IMAGE [COMMAND] [ARG...]")
}

/// pflag's wording for an unknown flag `word` (`flag` is the part clap
/// named, `-Z` of `-dZ`).
fn unknown_flag(flag: &str, word: &str) -> String {
    match flag.strip_prefix("--") {
        Some(long) => {
            let name = long.split('=').next().unwrap_or(long);
            format!("unknown flag: --{name}")
        }
        None => {
            let c = flag.trim_start_matches('-').chars().next().unwrap_or('-');
            format!("unknown shorthand flag: '{c}' in {word}")
        }
    }
}

/// cobra's flag error: the message, the usage line, where help is; 125.
fn flag_error(message: &str, cmd: &str, args: &str) -> Refusal {
    Refusal {
        text: format!(
            "{message}\n\nUsage:  {cmd} {args}\n\nRun '{cmd} --help' for more information\n"
        ),
        to_stderr: true,
        code: 125,
    }
}

/// The command path and its arguments from clap's usage line
/// (`Usage: rrun network ls [OPTIONS]`). The line of an error names the
/// flags that were given (`rrun rm --force <CONTAINERS>...`): the
/// arguments are the command's own usage's instead, as docker/cli prints
/// them whatever was given.
fn usage_parts(e: &clap::Error) -> (String, String) {
    let usage = match e.get(ContextKind::Usage) {
        Some(ContextValue::StyledStr(s)) => s.to_string(),
        _ => String::new(),
    };
    let (path, args) = split_usage(&usage);
    let own = own_usage(&path).map(|u| split_usage(&u).1);
    (path.join(" "), own.unwrap_or(args))
}

/// A usage text's first line as its command path and the rest.
fn split_usage(usage: &str) -> (Vec<String>, String) {
    let line = usage.lines().next().unwrap_or_default();
    let words: Vec<&str> = line.split_whitespace().skip(1).collect();
    let split = words
        .iter()
        .position(|w| w.starts_with(['[', '<', '-']))
        .unwrap_or(words.len());
    let path = words[..split].iter().map(|w| w.to_string()).collect();
    (path, words[split..].join(" "))
}

/// rrun's whole command tree, its subcommands' arguments included (they are
/// deferred, `Cmd`, and built only for an error's look at them).
fn built_command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// The usage of the command at `path` (`rrun container ls`), with no
/// argument given.
fn own_usage(path: &[String]) -> Option<String> {
    let mut cmd = built_command();
    let mut c = &mut cmd;
    for w in path.iter().skip(1) {
        c = c.find_subcommand_mut(w)?;
    }
    Some(c.render_usage().to_string())
}

fn context_str(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        _ => None,
    }
}

/// clap's error as docker/cli words it; help and `--version` as clap prints them.
fn refusal(e: &clap::Error) -> Refusal {
    let (cmd, args) = usage_parts(e);
    let arg = context_str(e, ContextKind::InvalidArg).unwrap_or_default();
    match e.kind() {
        ErrorKind::UnknownArgument if arg.starts_with('-') => {
            let flag = arg.split_whitespace().next().unwrap_or(&arg);
            flag_error(&unknown_flag(flag, flag), &cmd, &args)
        }
        ErrorKind::InvalidValue
            if context_str(e, ContextKind::InvalidValue).unwrap_or_default().is_empty() =>
        {
            let flag = arg.split_whitespace().next().unwrap_or(&arg);
            flag_error(&format!("flag needs an argument: {flag}"), &cmd, &args)
        }
        ErrorKind::InvalidSubcommand => {
            let word = context_str(e, ContextKind::InvalidSubcommand).unwrap_or_default();
            Refusal {
                text: format!(
                    "rrun: unknown command: {cmd} {word}\n\nUsage:  {cmd}\n\nRun '{cmd} --help' for more information\n"
                ),
                to_stderr: true,
                code: 1,
            }
        }
        ErrorKind::MissingRequiredArgument if !cmd.is_empty() => Refusal {
            text: format!(
                "rrun: '{cmd}' requires at least 1 argument\n\nUsage:  {cmd} {args}\n\nSee '{cmd} --help' for more information\n"
            ),
            to_stderr: true,
            code: 1,
        },
        _ => Refusal {
            text: e.render().to_string(),
            to_stderr: e.use_stderr(),
            // Docker exits 125 on a bad command line; help and version are not errors.
            code: if e.use_stderr() { 125 } else { 0 },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(args: &[&str]) -> Refusal {
        let mut argv = vec!["rrun"];
        argv.extend(args);
        parse(argv).expect_err("refused")
    }

    #[test]
    fn the_usage_line_is_the_commands_own_whatever_flags_were_given() {
        for (args, usage) in [
            (
                &["container", "ls", "-q", "--bogus"][..],
                "Usage:  rrun container ls [OPTIONS]\n",
            ),
            (
                &["rm", "-f", "--bogus", "x"][..],
                "Usage:  rrun rm [OPTIONS] <CONTAINERS>...\n",
            ),
            (
                &["images", "-a", "--bogus"][..],
                "Usage:  rrun images [OPTIONS] [REFERENCE]\n",
            ),
        ] {
            let r = refused(args);
            assert_eq!(r.code, 125, "{args:?}");
            assert!(r.text.contains(usage), "{args:?}: {}", r.text);
        }
        let r = refused(&["container", "ls", "-q", "--bogus"]);
        assert!(
            r.text
                .contains("Run 'rrun container ls --help' for more information"),
            "{}",
            r.text
        );
    }

    #[test]
    fn a_flag_before_the_image_is_never_the_image() {
        let r = refused(&[
            "run",
            "-d",
            "--name",
            "x",
            "--no-such-flag",
            "true",
            "busybox",
            "sleep",
            "5",
        ]);
        assert_eq!(r.code, 125);
        assert_eq!(
            r.text,
            "unknown flag: --no-such-flag\n\nUsage:  rrun run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'rrun run --help' for more information\n"
        );
        let r = refused(&["container", "create", "--bogus=1", "busybox"]);
        assert!(
            r.text
                .starts_with("unknown flag: --bogus\n\nUsage:  rrun container create "),
            "{}",
            r.text
        );
        let r = refused(&["run", "-dZ", "busybox"]);
        assert!(
            r.text.starts_with("unknown shorthand flag: 'Z' in -dZ\n"),
            "{}",
            r.text
        );
        // After the image, every word is the container's.
        let cli = parse(["rrun", "run", "busybox", "--bogus", "-Z"]).unwrap();
        let Cmd::Run(a) = cli.command else { panic!() };
        assert_eq!(a.split().command, ["--bogus", "-Z"]);
    }

    #[test]
    fn other_commands_flag_errors_are_dockers() {
        let r = refused(&["ps", "--bogus"]);
        assert_eq!(r.code, 125);
        assert!(
            r.text
                .starts_with("unknown flag: --bogus\n\nUsage:  rrun ps [OPTIONS]\n"),
            "{}",
            r.text
        );
        assert!(r
            .text
            .ends_with("Run 'rrun ps --help' for more information\n"));
        let r = refused(&["network", "ls", "--bogus"]);
        assert!(
            r.text.contains("Usage:  rrun network ls [OPTIONS]"),
            "{}",
            r.text
        );
        let r = refused(&["run", "--name"]);
        assert!(
            r.text.starts_with("flag needs an argument: --name\n"),
            "{}",
            r.text
        );
        assert_eq!(r.code, 125);
        let r = refused(&["rm"]);
        assert_eq!(r.code, 1);
        assert!(
            r.text
                .starts_with("rrun: 'rrun rm' requires at least 1 argument\n"),
            "{}",
            r.text
        );
        assert_eq!(refused(&["--help"]).code, 0);
        let r = refused(&["container", "bogus"]);
        assert_eq!(r.code, 1);
        assert!(
            r.text
                .starts_with("rrun: unknown command: rrun container bogus\n"),
            "{}",
            r.text
        );
        let r = refused(&["bogus"]);
        assert!(
            r.text.starts_with("rrun: unknown command: rrun bogus\n"),
            "{}",
            r.text
        );
    }
}
