//! Heredocs later in a RUN command line (`RUN cat <<EOF > /file`,
//! `RUN python3 <<EOF`): BuildKit hands the whole command, heredocs
//! included, to the shell. parse-dockerfile reads a heredoc only at the
//! start of RUN's arguments, so such a RUN is rewritten, before parsing,
//! into the form it reads, the command and its heredocs as one script:
//!
//! ```text
//! RUN cat <<EOF > /f        RUN <<'RRUN_HEREDOC_SCRIPT'
//! hi                  →     cat <<EOF > /f
//! EOF                       hi
//!                           EOF
//!                           RRUN_HEREDOC_SCRIPT
//! ```
//!
//! The quoted outer delimiter keeps the Dockerfile from expanding anything;
//! the shell expands the inner heredocs as their own quoting says, with
//! the stage's ARG and ENV values in its environment. A map gives each
//! rewritten line its line in the file as written, for error messages.
//!
//! The exec form reads no heredoc, as in BuildKit's parser (its
//! `canContainHeredoc` is false for a JSON form): in `RUN ["sh", "-c",
//! "cat <<EOF"]` the `<<EOF` is text of the argument, and the lines after
//! it are instructions. `RUN ["cat"] <<EOF` is not JSON as a whole, so
//! BuildKit runs the line as a shell command (`/bin/sh -c '["cat"] <<EOF
//! …'`), which fails; here that is an error before anything runs. A
//! command that only starts with `[` (`RUN [ -f /x ] && cat <<EOF`) is
//! shell form.

const WRAP: &str = "RRUN_HEREDOC_SCRIPT";

/// The delimiters of the `<<WORD`, `<<-WORD`, `<<"WORD"` markers in `line`
/// (with whether tabs are stripped before the closing one).
fn markers(line: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("<<") {
        let after = &rest[i + 2..];
        let (strip, after) = match after.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, after),
        };
        let word: String = after
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        if !word.is_empty() {
            out.push((word, strip));
        }
        rest = after;
    }
    out
}

/// How a RUN line's command reads.
#[derive(Debug, PartialEq)]
enum RunLine<'a> {
    /// Not a RUN, or nothing to rewrite.
    Other,
    /// The flags and the command of a shell-form RUN with a heredoc past
    /// the start of its command.
    LateHeredoc(&'a str, &'a str),
    /// An exec form (a JSON array) with `<<` in it: text, not a heredoc.
    ExecWithMarker,
    /// A JSON array followed by a heredoc marker.
    HeredocAfterExec,
}

/// Whether `args` is, as a whole, a JSON array (the exec form).
fn is_json_array(args: &str) -> bool {
    serde_json::from_str::<Vec<serde_json::Value>>(args).is_ok()
}

/// What follows a JSON array at the start of `args`, if one is there.
fn after_json_array(args: &str) -> Option<&str> {
    let mut it = serde_json::Deserializer::from_str(args).into_iter::<Vec<serde_json::Value>>();
    match it.next() {
        Some(Ok(_)) => Some(&args[it.byte_offset()..]),
        _ => None,
    }
}

fn classify(line: &str, escape: char) -> RunLine<'_> {
    let t = line.trim_start();
    let Some(kw) = t.get(..3) else {
        return RunLine::Other;
    };
    if !kw.eq_ignore_ascii_case("run") || !t[3..].starts_with([' ', '\t']) {
        return RunLine::Other;
    }
    let mut args = t[3..].trim_start();
    let flags_start = args;
    while args.starts_with("--") {
        let end = args.find([' ', '\t']).unwrap_or(args.len());
        args = args[end..].trim_start();
    }
    let flags = flags_start[..flags_start.len() - args.len()].trim_end();
    if !args.contains("<<") || markers(args).is_empty() {
        return RunLine::Other;
    }
    // An exec form continued on the next line is whole only once joined
    // (BuildKit joins first, and reads no heredoc in it): left as it is.
    if args.starts_with('[') && line.trim_end().ends_with(escape) {
        return RunLine::Other;
    }
    if is_json_array(args) {
        return RunLine::ExecWithMarker;
    }
    // `RUN ["cat"] <<EOF`; not `RUN [ "$X" ] && cat <<EOF`, a shell test
    // that happens to be JSON.
    if after_json_array(args).is_some_and(|rest| rest.trim_start().starts_with("<<")) {
        return RunLine::HeredocAfterExec;
    }
    if args.starts_with("<<") {
        return RunLine::Other;
    }
    RunLine::LateHeredoc(flags, args)
}

/// A Dockerfile with its late-heredoc RUNs rewritten.
#[derive(Debug)]
pub struct Rewritten {
    pub text: String,
    /// The line as written of each line of `text` (1-based; 0 unused).
    pub line_of: Vec<usize>,
    /// The lines of exec-form RUNs with a `<<` in their JSON, which read no
    /// heredoc: an unknown instruction after one is its would-be body.
    pub exec_markers: Vec<usize>,
}

/// The error for `RUN ["cmd"] <<EOF` (its line as written).
const HEREDOC_AFTER_EXEC: &str = "a heredoc goes with RUN's shell form only (`RUN <<EOF`, `RUN cat <<EOF`, `RUN <<EOF cat`), not after the exec form's JSON array: Docker runs such a line as a shell command, which fails";

/// `text` with each late-heredoc RUN rewritten, and the original line of
/// each rewritten line; an error (line, message) for a heredoc after an
/// exec form.
pub fn rewrite(text: &str, escape: char) -> Result<Rewritten, (usize, String)> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = String::with_capacity(text.len());
    let mut map = vec![0];
    let mut emit = |out: &mut String, s: &str, orig: usize| {
        out.push_str(s);
        out.push('\n');
        map.push(orig);
    };
    let mut exec_markers = Vec::new();
    let mut i = 0;
    let mut continued = false;
    while i < lines.len() {
        let line = lines[i];
        let found = if continued {
            RunLine::Other
        } else {
            classify(line, escape)
        };
        continued = line.trim_end().ends_with(escape) && !line.trim_start().starts_with('#');
        let (flags, command) = match found {
            RunLine::LateHeredoc(flags, command) => (flags, command),
            RunLine::HeredocAfterExec => return Err((i + 1, HEREDOC_AFTER_EXEC.to_string())),
            other => {
                if other == RunLine::ExecWithMarker {
                    exec_markers.push(i + 1);
                }
                emit(&mut out, line, i + 1);
                i += 1;
                continue;
            }
        };
        let sep = if flags.is_empty() { "" } else { " " };
        emit(&mut out, &format!("RUN {flags}{sep}<<'{WRAP}'"), i + 1);
        emit(&mut out, command, i + 1);
        let first = i;
        i += 1;
        for (word, strip) in markers(command) {
            while i < lines.len() {
                let l = lines[i];
                emit(&mut out, l, i + 1);
                i += 1;
                let end = if strip { l.trim_start_matches('\t') } else { l };
                if end == word {
                    break;
                }
            }
        }
        emit(&mut out, WRAP, i.max(first + 1));
    }
    // Every piece was written with a newline; the last had none.
    out.pop();
    Ok(Rewritten {
        text: out,
        line_of: map,
        exec_markers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_forms_split_over_lines_and_json_shaped_shell_tests_stay_as_written() {
        let text = "FROM busybox\nRUN [\"sh\", \"-c\", \"cat <<EOF > /f\", \\\n  \"x\"]\nCMD x";
        let r = rewrite(text, '\\').unwrap();
        assert_eq!(r.text, text);
        let text = "FROM busybox\nRUN [ \"$X\" ] && cat <<EOF > /f\nhi\nEOF\nCMD x";
        let r = rewrite(text, '\\').unwrap();
        assert!(
            r.text.contains("<<'"),
            "rewritten as a late heredoc: {}",
            r.text
        );
        assert_eq!(
            rewrite("FROM busybox\nRUN [\"cat\"] <<EOF\nhi\nEOF", '\\')
                .unwrap_err()
                .0,
            2
        );
    }

    #[test]
    fn a_late_heredoc_becomes_part_of_a_script() {
        let text = "FROM busybox\nRUN --network=none cat <<EOF > /f\nhi $X\nEOF\nRUN <<EOT\necho ok\nEOT\nCMD x";
        let Rewritten {
            text: out,
            line_of: map,
            ..
        } = rewrite(text, '\\').unwrap();
        assert_eq!(
            out,
            "FROM busybox\nRUN --network=none <<'RRUN_HEREDOC_SCRIPT'\ncat <<EOF > /f\nhi $X\nEOF\n\
             RRUN_HEREDOC_SCRIPT\nRUN <<EOT\necho ok\nEOT\nCMD x"
        );
        // Each rewritten line names its line as written.
        assert_eq!(map[1..], [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn two_heredocs_tabs_and_what_is_left_alone() {
        let text = "RUN paste <<A <<-\"B\"\n1\nA\n\t2\n\tB\nRUN echo a \\\n  <<not-a-run\nRUN [\"cat\", \"<<X\"]\nRUN echo '<<'";
        let Rewritten {
            text: out,
            line_of: map,
            exec_markers,
        } = rewrite(text, '\\').unwrap();
        assert_eq!(exec_markers, [8]);
        assert!(out.starts_with("RUN <<'RRUN_HEREDOC_SCRIPT'\npaste <<A <<-\"B\"\n1\nA\n\t2\n\tB\nRRUN_HEREDOC_SCRIPT\n"), "{out}");
        assert!(
            out.ends_with("RUN echo a \\\n  <<not-a-run\nRUN [\"cat\", \"<<X\"]\nRUN echo '<<'"),
            "{out}"
        );
        assert_eq!(map.len() - 1, out.split('\n').count());
    }
}

#[cfg(test)]
mod exec_form {
    use super::*;

    #[test]
    fn json_is_exec_form_and_reads_no_heredoc() {
        let exec = "RUN [\"sh\", \"-c\", \"cat <<EOF > /f\"]\nhi\nEOF";
        let r = rewrite(exec, '\\').unwrap();
        assert_eq!(r.text, exec, "left to the parser as written");
        assert_eq!(r.exec_markers, [1]);
        let (line, e) = rewrite("FROM x\nRUN [\"cat\"] <<EOF\nhi\nEOF", '\\').unwrap_err();
        assert_eq!(line, 2);
        assert!(e.contains("shell form only"), "{e}");
    }

    #[test]
    fn a_test_command_is_shell_form() {
        let r = rewrite("RUN [ -d / ] && cat <<EOF > /f\nhi\nEOF", '\\').unwrap();
        assert!(
            r.text
                .starts_with("RUN <<'RRUN_HEREDOC_SCRIPT'\n[ -d / ] && cat <<EOF"),
            "{}",
            r.text
        );
        assert!(r.exec_markers.is_empty());
    }
}
