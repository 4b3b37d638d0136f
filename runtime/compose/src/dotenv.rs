//! `.env`, `--env-file` and `env_file:` files, read as Compose reads them:
//! `#` comment lines, an optional `export ` prefix, `KEY=VALUE` (or
//! `KEY: VALUE`), single quotes literal, double quotes with escapes and
//! variables, unquoted values cut at an inline ` #` comment, and `${}` in
//! values naming the environment or earlier lines. A line with a name alone
//! takes that variable from the environment, if set.

use crate::error::LoadError;
use crate::interpolate::{substitute, TemplateError};
use indexmap::IndexMap;

/// Parses `content` (the text of `file`); `env` is looked up first for
/// `${}` in values and for lines with a name alone.
pub(crate) fn parse(
    content: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<IndexMap<String, String>, LoadError> {
    let mut out: IndexMap<String, String> = IndexMap::new();
    // Editors on Windows may start the file with a byte order mark.
    let mut rest = content.strip_prefix('\u{feff}').unwrap_or(content);
    let mut line = 1;
    loop {
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace());
        line += rest[..rest.len() - trimmed.len()].matches('\n').count();
        rest = trimmed;
        if rest.is_empty() {
            return Ok(out);
        }
        if rest.starts_with('#') {
            rest = rest.find('\n').map_or("", |i| &rest[i..]);
            continue;
        }
        let err = |message: String| LoadError::EnvFile {
            file: file.to_string(),
            line,
            message: crate::node::one_line(&message),
        };
        let (key, after, inherited) = key_name(rest).map_err(err)?;
        if inherited {
            if let Some(v) = env(&key) {
                out.insert(key, v);
            }
            rest = after;
            continue;
        }
        let lookup = |name: &str| env(name).or_else(|| out.get(name).cloned());
        let (value, after) = value(after, &lookup).map_err(|m| err(format!("{key}: {m}")))?;
        line += rest[..rest.len() - after.len()].matches('\n').count();
        out.insert(key, value);
        rest = after;
    }
}

/// The name at the start of a statement, what follows `=`, and whether the
/// line has the name alone.
fn key_name(src: &str) -> Result<(String, &str, bool), String> {
    let src = src
        .strip_prefix("export")
        .filter(|r| r.starts_with([' ', '\t']))
        .map_or(src, |r| r.trim_start_matches([' ', '\t']));
    for (i, c) in src.char_indices() {
        match c {
            '=' | ':' | '\n' => {
                let key = src[..i].trim_end();
                if key.is_empty() {
                    return Err("a line starts with `=`: write NAME=VALUE".into());
                }
                if key.contains([' ', '\t']) {
                    return Err(format!("`{key}`: a variable name cannot hold a space"));
                }
                let after = src[i + 1..].trim_start_matches([' ', '\t']);
                return Ok((
                    key.to_string(),
                    if c == '\n' { &src[i..] } else { after },
                    c == '\n',
                ));
            }
            '_' | '.' | ' ' | '\t' | '\r' => {}
            c if c.is_alphanumeric() => {}
            c => {
                return Err(format!(
                    "unexpected character {c:?} in a variable name: write NAME=VALUE"
                ))
            }
        }
    }
    let key = src.trim_end();
    Ok((key.to_string(), "", true))
}

/// A value and the text after it.
fn value<'s>(
    src: &'s str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, &'s str), String> {
    let expand = |v: &str| {
        substitute(v, env).map_err(|e| match e {
            TemplateError::Missing { name, message } => {
                format!("required variable {name} is missing a value: {message}")
            }
            TemplateError::Bad(hint) => format!("invalid interpolation in `{v}`: {hint}"),
        })
    };
    let quote = match src.chars().next() {
        Some(q @ ('\'' | '"')) => q,
        _ => {
            let end = src.find('\n').unwrap_or(src.len());
            let raw = &src[..end];
            let raw = raw.split_once(" #").map_or(raw, |(v, _)| v);
            return Ok((expand(raw.trim_end())?, &src[end..]));
        }
    };
    let body = &src[1..];
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            let raw = &body[..i];
            let v = if quote == '\'' {
                raw.to_string()
            } else {
                double_quoted(raw, &expand)?
            };
            let after = &body[i + 1..];
            let after = after.find('\n').map_or("", |n| &after[n..]);
            return Ok((v, after));
        }
    }
    Err(format!("the value opened with {quote} is never closed"))
}

/// Escapes of a double-quoted value (`\n`, `\r`, `\t`, `\\`, `\"`, `\$`),
/// then its variables (an escaped `$` is kept literal).
fn double_quoted(
    raw: &str,
    expand: &dyn Fn(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut text = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => text.push('\n'),
            Some('r') => text.push('\r'),
            Some('t') => text.push('\t'),
            Some('$') => text.push_str("$$"),
            Some(other) => text.push(other),
            None => text.push('\\'),
        }
    }
    expand(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(name: &str) -> Option<String> {
        (name == "HOME_DIR").then(|| "/home/me".to_string())
    }

    fn env_of(text: &str) -> IndexMap<String, String> {
        parse(text, ".env", &shell).unwrap()
    }

    #[test]
    fn comments_export_and_spacing() {
        let e = env_of("# a comment\n\n  export A=1\nB = two\n  # indented comment\nC:3\n");
        assert_eq!(e["A"], "1");
        assert_eq!(e["B"], "two");
        assert_eq!(e["C"], "3");
        assert_eq!(e.len(), 3);
    }

    #[test]
    fn unquoted_values_cut_inline_comments_only_after_a_space() {
        let e = env_of("A=foo # rootユーザのパス\nB=a#b\nC=  spaced  \nD=\n");
        assert_eq!(e["A"], "foo");
        assert_eq!(e["B"], "a#b");
        assert_eq!(e["C"], "spaced");
        assert_eq!(e["D"], "");
    }

    #[test]
    fn single_quotes_are_literal() {
        let e = env_of("A='x ${HOME_DIR} \\n # y'\n");
        assert_eq!(e["A"], "x ${HOME_DIR} \\n # y");
    }

    #[test]
    fn double_quotes_take_escapes_and_variables() {
        let e = env_of(
            "A=\"l1\\nl2 \\\"q\\\" ${HOME_DIR} \\$HOME_DIR\" # trailing\nB=\"multi\nline\"\n",
        );
        assert_eq!(e["A"], "l1\nl2 \"q\" /home/me $HOME_DIR");
        assert_eq!(e["B"], "multi\nline");
    }

    #[test]
    fn values_refer_to_earlier_lines_and_the_environment() {
        let e = env_of("USER=me\nDIR=${HOME_DIR}/$USER\nX=${NOPE:-fallback}\n");
        assert_eq!(e["DIR"], "/home/me/me");
        assert_eq!(e["X"], "fallback");
    }

    #[test]
    fn a_name_alone_is_taken_from_the_environment() {
        let e = env_of("HOME_DIR\nNOT_SET\nA=1");
        assert_eq!(e["HOME_DIR"], "/home/me");
        assert!(!e.contains_key("NOT_SET"));
        assert_eq!(e["A"], "1");
    }

    #[test]
    fn crlf_and_byte_order_mark() {
        let e = env_of("\u{feff}A=1\r\nB=\"two\"\r\nC='3' \r\n");
        assert_eq!(
            (e["A"].as_str(), e["B"].as_str(), e["C"].as_str()),
            ("1", "two", "3")
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("A=1\n\nB=\"open\n", ".env", &shell)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(".env: line 3: B: the value opened with"),
            "{err}"
        );
        let err = parse("A=1\nBAD KEY=2\n", ".env", &shell)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(".env: line 2:"), "{err}");
        let err = parse("A-B=2\n", ".env", &shell).unwrap_err().to_string();
        assert!(err.contains("unexpected character '-'"), "{err}");
    }
}
