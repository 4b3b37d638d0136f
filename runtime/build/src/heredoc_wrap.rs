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

/// The RUN line's flags (`--network=none` …) and the command after them;
/// `None` when it is not a RUN or has no heredoc past the start of the
/// command, or is in exec form.
fn late_heredoc_run(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start();
    let kw = t.get(..3)?;
    if !kw.eq_ignore_ascii_case("run") || !t[3..].starts_with([' ', '\t']) {
        return None;
    }
    let mut args = t[3..].trim_start();
    let flags_start = args;
    while args.starts_with("--") {
        let end = args.find([' ', '\t']).unwrap_or(args.len());
        args = args[end..].trim_start();
    }
    let flags = flags_start[..flags_start.len() - args.len()].trim_end();
    let late = !args.starts_with("<<") && !args.starts_with('[') && args.contains("<<");
    (late && !markers(args).is_empty()).then_some((flags, args))
}

/// `text` with each late-heredoc RUN rewritten, and the original line of
/// each rewritten line (1-based; index 0 unused).
pub fn rewrite(text: &str, escape: char) -> (String, Vec<usize>) {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = String::with_capacity(text.len());
    let mut map = vec![0];
    let mut emit = |out: &mut String, s: &str, orig: usize| {
        out.push_str(s);
        out.push('\n');
        map.push(orig);
    };
    let mut i = 0;
    let mut continued = false;
    while i < lines.len() {
        let line = lines[i];
        let found = if continued {
            None
        } else {
            late_heredoc_run(line)
        };
        continued = line.trim_end().ends_with(escape) && !line.trim_start().starts_with('#');
        let Some((flags, command)) = found else {
            emit(&mut out, line, i + 1);
            i += 1;
            continue;
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
    (out, map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_heredoc_becomes_part_of_a_script() {
        let text = "FROM busybox\nRUN --network=none cat <<EOF > /f\nhi $X\nEOF\nRUN <<EOT\necho ok\nEOT\nCMD x";
        let (out, map) = rewrite(text, '\\');
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
        let (out, map) = rewrite(text, '\\');
        assert!(out.starts_with("RUN <<'RRUN_HEREDOC_SCRIPT'\npaste <<A <<-\"B\"\n1\nA\n\t2\n\tB\nRRUN_HEREDOC_SCRIPT\n"), "{out}");
        assert!(
            out.ends_with("RUN echo a \\\n  <<not-a-run\nRUN [\"cat\", \"<<X\"]\nRUN echo '<<'"),
            "{out}"
        );
        assert_eq!(map.len() - 1, out.split('\n').count());
    }
}
