//! A Dockerfile as owned, typed data: parse-dockerfile reads the text
//! (parser directives including `escape`, heredocs, line continuations,
//! ARG before FROM, stages), and each instruction is kept with its line
//! number and raw text, unexpanded: variables are substituted later, in
//! the scope each stage has when the step runs.

use parse_dockerfile as pd;

use crate::error::BuildError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character (`\`, or the `escape` directive's).
    pub escape: char,
    /// `ARG`s before the first `FROM` (usable in `FROM` lines only).
    pub global_args: Vec<Step>,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Position in the file, from 0 (`COPY --from=0`).
    pub index: usize,
    /// `AS name`, lower-cased as Docker compares it.
    pub name: Option<String>,
    /// The `FROM` image, unexpanded.
    pub base: String,
    pub platform: Option<String>,
    /// The `FROM` line.
    pub line: usize,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub line: usize,
    /// The instruction as written (continuations kept), for messages and
    /// ONBUILD triggers.
    pub raw: String,
    pub instr: Instr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    Exec(Vec<String>),
    /// Continuations (escape + newline) removed.
    Shell(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HereDoc {
    /// The delimiter (`EOF` of `<<EOF`): COPY names the file after it when
    /// the destination is a directory.
    pub name: String,
    /// False when the delimiter was quoted: no substitution.
    pub expand: bool,
    pub content: String,
}

impl HereDoc {
    /// For a `#!` script, how the kernel would run it (the interpreter and
    /// its one optional argument, the rest of the line), reading it from
    /// `/dev/stdin`.
    pub fn shebang_argv(&self) -> Option<Vec<String>> {
        let line = self.content.lines().next()?.strip_prefix("#!")?.trim();
        let mut argv = match line.split_once([' ', '\t']) {
            Some((interp, arg)) => vec![interp.to_string(), arg.trim().to_string()],
            None => vec![line.to_string()],
        };
        argv.push("/dev/stdin".into());
        Some(argv)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(String),
    HereDoc(HereDoc),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyArgs {
    pub flags: Vec<Flag>,
    pub sources: Vec<Source>,
    pub dest: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunArgs {
    pub flags: Vec<Flag>,
    pub cmd: Cmd,
    pub heredocs: Vec<HereDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthArgs {
    pub flags: Vec<Flag>,
    pub cmd: Cmd,
}

/// One instruction; string arguments are raw (quotes, escapes and
/// variables still in them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instr {
    Run(RunArgs),
    Copy(CopyArgs),
    Add(CopyArgs),
    Env(String),
    Arg(String),
    Label(String),
    Maintainer(String),
    Workdir(String),
    User(String),
    /// JSON form: exact paths; string form: raw words.
    Volume {
        json: bool,
        paths: Vec<String>,
    },
    Expose(Vec<String>),
    Cmd(Cmd),
    Entrypoint(Cmd),
    /// None: `HEALTHCHECK NONE`.
    Healthcheck(Option<HealthArgs>),
    Shell(Vec<String>),
    Stopsignal(String),
    /// The trigger's text (`RUN make`), stored in the image and run when it
    /// is used as a base.
    Onbuild(String),
}

impl Instr {
    /// The keyword, for messages.
    pub fn keyword(&self) -> &'static str {
        match self {
            Instr::Run(_) => "RUN",
            Instr::Copy(_) => "COPY",
            Instr::Add(_) => "ADD",
            Instr::Env(_) => "ENV",
            Instr::Arg(_) => "ARG",
            Instr::Label(_) => "LABEL",
            Instr::Maintainer(_) => "MAINTAINER",
            Instr::Workdir(_) => "WORKDIR",
            Instr::User(_) => "USER",
            Instr::Volume { .. } => "VOLUME",
            Instr::Expose(_) => "EXPOSE",
            Instr::Cmd(_) => "CMD",
            Instr::Entrypoint(_) => "ENTRYPOINT",
            Instr::Healthcheck(_) => "HEALTHCHECK",
            Instr::Shell(_) => "SHELL",
            Instr::Stopsignal(_) => "STOPSIGNAL",
            Instr::Onbuild(_) => "ONBUILD",
        }
    }
}

/// Byte offset → 1-based line.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        Lines(
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        )
    }
    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&s| s <= offset)
    }
}

/// The `# escape=` parser directive's character, if the file starts
/// with one (directives come before anything else).
fn escape_directive(text: &str) -> char {
    for l in text.lines() {
        let Some(d) = l.trim().strip_prefix('#') else {
            break;
        };
        let d: String = d.chars().filter(|c| !c.is_whitespace()).collect();
        if let Some(c) = d
            .to_ascii_lowercase()
            .strip_prefix("escape=")
            .and_then(|v| v.chars().next())
        {
            return c;
        }
    }
    '\\'
}

/// Parses a Dockerfile. Errors name the line.
pub fn parse(text: &str) -> Result<Dockerfile, BuildError> {
    let rewritten = crate::heredoc_wrap::rewrite(text, escape_directive(text))
        .map_err(|(line, message)| BuildError::Parse { line, message })?;
    let text = rewritten.text.as_str();
    let orig = |line: usize| rewritten.line_of.get(line).copied().unwrap_or(line);
    let df = pd::parse(text).map_err(|e| {
        let line = orig(e.line());
        BuildError::Parse {
            line,
            message: with_exec_hint(e.to_string(), line, &rewritten.exec_markers),
        }
    })?;
    let escape = df
        .parser_directives
        .escape
        .as_ref()
        .map_or('\\', |d| d.value.value);
    let lines = Lines::new(text);
    let starts: Vec<usize> = df.instructions.iter().map(keyword_start).collect();
    let raw = |i: usize| {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        raw_text(&text[starts[i]..end])
    };
    let mut out = Dockerfile {
        escape,
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    for (i, instr) in df.instructions.iter().enumerate() {
        let line = orig(lines.line(starts[i]));
        if let pd::Instruction::From(f) = instr {
            out.stages.push(Stage {
                index: out.stages.len(),
                name: f.as_.as_ref().map(|(_, n)| n.value.to_lowercase()),
                base: f.image.value.to_string(),
                platform: flag_value(&f.options, "platform"),
                line,
                steps: Vec::new(),
            });
            continue;
        }
        let raw = raw(i);
        let mut instr = convert(instr, escape, text)?;
        name_heredocs(&mut instr, &raw);
        let step = Step { line, raw, instr };
        match out.stages.last_mut() {
            Some(s) => s.steps.push(step),
            None => out.global_args.push(step),
        }
    }
    Ok(out)
}

/// A parse error after an exec-form RUN with `<<` in its JSON: an unknown
/// instruction there is most likely the body of a heredoc it cannot have.
fn with_exec_hint(message: String, line: usize, exec_markers: &[usize]) -> String {
    let run = line.saturating_sub(1);
    if !exec_markers.contains(&run) || !message.contains("unknown instruction") {
        return message;
    }
    format!(
        "{message} (the exec-form RUN on line {run} reads no heredoc: its `<<` is text of its JSON \
         array; write the heredoc in the shell form, `RUN <<EOF` or `RUN cmd <<EOF`)"
    )
}

/// The delimiters of the `<<NAME` / `<<-"NAME"` markers on the
/// instruction's first line, given to its heredocs in order.
fn name_heredocs(instr: &mut Instr, raw: &str) {
    let first = raw.lines().next().unwrap_or("");
    let mut names = first.split_whitespace().filter_map(|w| {
        let w = w.strip_prefix("<<")?;
        let w = w.strip_prefix('-').unwrap_or(w);
        Some(w.trim_matches(['"', '\'']).to_string())
    });
    let docs: Vec<&mut HereDoc> = match instr {
        Instr::Run(r) => r.heredocs.iter_mut().collect(),
        Instr::Copy(c) | Instr::Add(c) => c
            .sources
            .iter_mut()
            .filter_map(|s| match s {
                Source::HereDoc(h) => Some(h),
                Source::Path(_) => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    for d in docs {
        d.name = names.next().unwrap_or_default();
    }
}

/// The text of an instruction up to the next one, without trailing blank
/// and comment lines.
fn raw_text(s: &str) -> String {
    let mut lines: Vec<&str> = s.lines().collect();
    while lines
        .last()
        .is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        lines.pop();
    }
    lines.join("\n").trim().to_string()
}

fn keyword_start(i: &pd::Instruction<'_>) -> usize {
    use pd::Instruction as I;
    match i {
        I::Add(x) => x.add.span.start,
        I::Arg(x) => x.arg.span.start,
        I::Cmd(x) => x.cmd.span.start,
        I::Copy(x) => x.copy.span.start,
        I::Entrypoint(x) => x.entrypoint.span.start,
        I::Env(x) => x.env.span.start,
        I::Expose(x) => x.expose.span.start,
        I::From(x) => x.from.span.start,
        I::Healthcheck(x) => x.healthcheck.span.start,
        I::Label(x) => x.label.span.start,
        I::Maintainer(x) => x.maintainer.span.start,
        I::Onbuild(x) => x.onbuild.span.start,
        I::Run(x) => x.run.span.start,
        I::Shell(x) => x.shell.span.start,
        I::Stopsignal(x) => x.stopsignal.span.start,
        I::User(x) => x.user.span.start,
        I::Volume(x) => x.volume.span.start,
        I::Workdir(x) => x.workdir.span.start,
        _ => 0,
    }
}

fn flags(f: &[pd::Flag<'_>]) -> Vec<Flag> {
    f.iter()
        .map(|f| Flag {
            name: f.name.value.to_string(),
            value: f.value.as_ref().map(|v| v.value.to_string()),
        })
        .collect()
}

fn flag_value(f: &[pd::Flag<'_>], name: &str) -> Option<String> {
    f.iter()
        .find(|f| f.name.value == name)
        .and_then(|f| f.value.as_ref().map(|v| v.value.to_string()))
}

fn command(c: &pd::Command<'_>, escape: char) -> Cmd {
    match c {
        pd::Command::Exec(v) => Cmd::Exec(v.value.iter().map(|s| s.value.to_string()).collect()),
        pd::Command::Shell(s) => Cmd::Shell(join_continuations(s.value, escape)),
        // The parser's enum is non-exhaustive; nothing else exists today.
        _ => Cmd::Shell(String::new()),
    }
}

/// Removes escape + newline (and comment lines inside the continuation),
/// as the builder does before handing a shell form to the shell.
pub fn join_continuations(s: &str, escape: char) -> String {
    let mut out = String::new();
    let mut lines = s.split('\n').peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_end();
        if lines.peek().is_some() && trimmed.ends_with(escape) {
            out.push_str(&trimmed[..trimmed.len() - escape.len_utf8()]);
            while lines
                .peek()
                .is_some_and(|l| l.trim_start().starts_with('#'))
            {
                lines.next();
            }
        } else {
            out.push_str(line);
            if lines.peek().is_some() {
                out.push('\n');
            }
        }
    }
    out
}

fn heredoc(h: &pd::HereDoc<'_>) -> HereDoc {
    HereDoc {
        name: String::new(),
        expand: h.expand,
        content: h.value.to_string(),
    }
}

fn copy_args(
    options: &[pd::Flag<'_>],
    src: &[pd::Source<'_>],
    dest: &pd::UnescapedString<'_>,
) -> CopyArgs {
    CopyArgs {
        flags: flags(options),
        sources: src
            .iter()
            .map(|s| match s {
                pd::Source::Path(p) => Source::Path(p.value.to_string()),
                pd::Source::HereDoc(h) => Source::HereDoc(heredoc(h)),
                _ => Source::Path(String::new()),
            })
            .collect(),
        dest: dest.value.to_string(),
    }
}

fn strings<'a>(v: impl IntoIterator<Item = &'a pd::UnescapedString<'a>>) -> Vec<String> {
    v.into_iter().map(|s| s.value.to_string()).collect()
}

fn convert(i: &pd::Instruction<'_>, escape: char, text: &str) -> Result<Instr, BuildError> {
    use pd::Instruction as I;
    Ok(match i {
        I::Run(r) => Instr::Run(RunArgs {
            flags: flags(&r.options),
            cmd: command(&r.arguments, escape),
            heredocs: r.here_docs.iter().map(heredoc).collect(),
        }),
        I::Copy(c) => Instr::Copy(copy_args(&c.options, &c.src, &c.dest)),
        I::Add(c) => Instr::Add(copy_args(&c.options, &c.src, &c.dest)),
        I::Env(e) => Instr::Env(e.arguments.value.to_string()),
        I::Arg(a) => Instr::Arg(a.arguments.value.to_string()),
        I::Label(l) => Instr::Label(l.arguments.value.to_string()),
        I::Maintainer(m) => Instr::Maintainer(m.name.value.to_string()),
        I::Workdir(w) => Instr::Workdir(w.arguments.value.to_string()),
        I::User(u) => Instr::User(u.arguments.value.to_string()),
        I::Volume(v) => match &v.arguments {
            pd::JsonOrStringArray::Json(j) => Instr::Volume {
                json: true,
                paths: strings(j.value.iter()),
            },
            pd::JsonOrStringArray::String(s) => Instr::Volume {
                json: false,
                paths: strings(s.iter()),
            },
        },
        I::Expose(e) => Instr::Expose(strings(e.arguments.iter())),
        I::Cmd(c) => Instr::Cmd(command(&c.arguments, escape)),
        I::Entrypoint(e) => Instr::Entrypoint(command(&e.arguments, escape)),
        I::Healthcheck(h) => Instr::Healthcheck(match &h.arguments {
            pd::HealthcheckArguments::Cmd { arguments, .. } => Some(HealthArgs {
                flags: flags(&h.options),
                cmd: command(arguments, escape),
            }),
            _ => None,
        }),
        I::Shell(s) => Instr::Shell(strings(s.arguments.iter())),
        I::Stopsignal(s) => Instr::Stopsignal(s.arguments.value.to_string()),
        I::Onbuild(o) => {
            let start = keyword_start(&o.instruction);
            let end = text[start..].find('\n').map_or(text.len(), |e| start + e);
            Instr::Onbuild(
                join_continuations(&text[start..end], escape)
                    .trim()
                    .to_string(),
            )
        }
        I::From(_) => unreachable!("FROM starts a stage"),
        other => {
            return Err(BuildError::Parse {
                line: 0,
                message: format!("unsupported instruction {other:?}"),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_lines_and_forms() {
        let text = "# syntax=docker/dockerfile:1\nARG BASE=busybox\nFROM ${BASE} AS Build\nENV A=1 \\\n    B=2\nRUN echo a \\\n  && echo b\nRUN <<EOT\necho hi\nEOT\nCOPY --from=build --chown=1:2 a b /dst/\n\nFROM build\nCMD [\"sh\"]\nONBUILD RUN make\n";
        let df = parse(text).unwrap();
        assert_eq!(df.escape, '\\');
        assert_eq!(df.global_args.len(), 1);
        assert_eq!(df.global_args[0].line, 2);
        assert_eq!(df.stages.len(), 2);
        let s = &df.stages[0];
        assert_eq!(
            (s.name.as_deref(), s.base.as_str(), s.line),
            (Some("build"), "${BASE}", 3)
        );
        assert_eq!(s.steps[0].line, 4);
        assert_eq!(s.steps[0].instr, Instr::Env("A=1     B=2".into()));
        match &s.steps[1].instr {
            Instr::Run(r) => assert_eq!(r.cmd, Cmd::Shell("echo a   && echo b".into())),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.steps[1].line, 6);
        match &s.steps[2].instr {
            Instr::Run(r) => {
                assert_eq!(r.heredocs[0].content, "echo hi\n");
                assert_eq!(r.heredocs[0].name, "EOT");
            }
            other => panic!("{other:?}"),
        }
        match &s.steps[3].instr {
            Instr::Copy(c) => {
                assert_eq!(c.flags[0].name, "from");
                assert_eq!(c.sources.len(), 2);
                assert_eq!(c.dest, "/dst/");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.steps[3].line, 11);
        assert_eq!(s.steps[3].raw, "COPY --from=build --chown=1:2 a b /dst/");
        assert_eq!(df.stages[1].line, 13);
        assert_eq!(
            df.stages[1].steps[1].instr,
            Instr::Onbuild("RUN make".into())
        );
    }

    #[test]
    fn escape_directive_and_errors_name_the_line() {
        let df = parse("# escape=`\nFROM scratch\nRUN echo a `\n  b\n").unwrap();
        assert_eq!(df.escape, '`');
        match &df.stages[0].steps[0].instr {
            Instr::Run(r) => assert_eq!(r.cmd, Cmd::Shell("echo a   b".into())),
            other => panic!("{other:?}"),
        }
        let e = parse("FROM scratch\nRUN true\nBOGUS x\n").unwrap_err();
        assert!(e.to_string().starts_with("Dockerfile:3: "), "{e}");
        assert!(e.to_string().contains("BOGUS"), "{e}");
        let e = parse("RUN true\n").unwrap_err();
        assert!(e.to_string().starts_with("Dockerfile:1: "), "{e}");
    }

    #[test]
    fn heredocs_and_the_exec_form() {
        // A heredoc inside the JSON string is the shell's business.
        let df = parse("FROM x\nRUN [\"sh\", \"-c\", \"cat <<EOF > /f\\nhi\\nEOF\"]\n").unwrap();
        match &df.stages[0].steps[0].instr {
            Instr::Run(r) => {
                assert_eq!(
                    r.cmd,
                    Cmd::Exec(vec![
                        "sh".into(),
                        "-c".into(),
                        "cat <<EOF > /f\nhi\nEOF".into()
                    ])
                );
                assert!(r.heredocs.is_empty());
            }
            other => panic!("{other:?}"),
        }
        // Its lines after an exec form are instructions, as BuildKit reads them.
        let e = parse("FROM x\nRUN [\"sh\", \"-c\", \"cat <<EOF > /f\"]\nhi\nEOF\n").unwrap_err();
        let e = e.to_string();
        assert!(e.starts_with("Dockerfile:3: unknown instruction"), "{e}");
        assert!(
            e.contains("the exec-form RUN on line 2 reads no heredoc"),
            "{e}"
        );
        let e = parse("FROM x\nRUN [\"cat\"] <<EOF\nhi\nEOF\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Dockerfile:2: a heredoc goes with RUN's shell form only"),
            "{e}"
        );
        // Any other unknown instruction is left as it was.
        let e = parse("FROM x\nRUN [\"echo\", \"<<X\"]\nRUN true\nhi\n").unwrap_err();
        assert!(!e.to_string().contains("exec-form"), "{e}");
    }

    #[test]
    fn a_shebang_script_runs_by_its_interpreter() {
        let doc = |content: &str| HereDoc {
            name: "EOF".into(),
            expand: true,
            content: content.into(),
        };
        assert_eq!(
            doc("#!/usr/bin/awk -f\nBEGIN {}\n").shebang_argv().unwrap(),
            ["/usr/bin/awk", "-f", "/dev/stdin"]
        );
        assert_eq!(
            doc("#! /usr/bin/env python3 -u\n").shebang_argv().unwrap(),
            ["/usr/bin/env", "python3 -u", "/dev/stdin"]
        );
        assert_eq!(
            doc("#!/bin/sh").shebang_argv().unwrap(),
            ["/bin/sh", "/dev/stdin"]
        );
        assert_eq!(doc("echo hi\n").shebang_argv(), None);
    }

    #[test]
    fn continuations() {
        assert_eq!(join_continuations("a \\\n# c\n b", '\\'), "a  b");
        assert_eq!(join_continuations("a\nb", '\\'), "a\nb");
    }
}
