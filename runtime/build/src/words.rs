//! The words of an instruction and their variables, as the Dockerfile
//! reference describes them: `$VAR` and `${VAR}`, `${VAR:-word}` (word when
//! unset or empty), `${VAR-word}` (when unset), `${VAR:+word}` (word when
//! set and not empty), `${VAR+word}` (when set), `${VAR:?message}` and
//! `${VAR?message}` (an error); single quotes keep everything literal,
//! double quotes keep spaces and still substitute, and the escape character
//! (`\` or the `escape` directive's) makes the next character literal.
//! Words are split first (quotes kept) and each word is then expanded and
//! unquoted, so a value with spaces from a variable stays one word.

use std::collections::BTreeMap;

/// Variables in scope: name → value.
pub type Vars = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordError {
    #[error("unterminated {0} quote")]
    Unterminated(char),
    #[error("bad substitution: \"${{{0}\" has no closing brace")]
    MissingBrace(String),
    #[error("bad substitution: \"${{{0}}}\" (supported: ${{VAR}}, ${{VAR:-word}}, ${{VAR:+word}}, ${{VAR-word}}, ${{VAR+word}}, ${{VAR:?message}})")]
    BadModifier(String),
    #[error("{name}: {message}")]
    Required { name: String, message: String },
}

/// Splits on whitespace outside quotes, keeping quotes and escapes for
/// [`expand`].
pub fn split_words(s: &str, escape: char) -> Result<Vec<String>, WordError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
                continue;
            }
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (q, c) if c == escape && q != Some('\'') => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
                continue;
            }
            _ => {}
        }
        cur.push(c);
        in_word = true;
    }
    if let Some(q) = quote {
        return Err(WordError::Unterminated(q));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Expands and unquotes one word.
pub fn expand(word: &str, vars: &Vars, escape: char) -> Result<String, WordError> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\'' => {
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == '\'')
                    .ok_or(WordError::Unterminated('\''))?;
                out.extend(&chars[i..i + end]);
                i += end + 1;
            }
            '"' => i = double_quoted(&chars, i, vars, escape, &mut out)?,
            '$' => i = substitute(&chars, i, vars, escape, &mut out)?,
            c if c == escape => {
                if let Some(&n) = chars.get(i) {
                    out.push(n);
                    i += 1;
                } else {
                    out.push(c);
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Substitutes variables only (heredocs): quotes and backslashes stay as
/// they are, except that `\$` is a literal `$`.
pub fn expand_vars(s: &str, vars: &Vars) -> Result<String, WordError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' if chars.get(i) == Some(&'$') => {
                out.push('$');
                i += 1;
            }
            // No escape character inside a substitution's word here.
            '$' => i = substitute(&chars, i, vars, '\0', &mut out)?,
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Splits `s` into words and expands each.
pub fn expand_words(s: &str, vars: &Vars, escape: char) -> Result<Vec<String>, WordError> {
    split_words(s, escape)?
        .iter()
        .map(|w| expand(w, vars, escape))
        .collect()
}

/// Inside double quotes from `i` (after the quote); returns the index after
/// the closing quote.
fn double_quoted(
    chars: &[char],
    mut i: usize,
    vars: &Vars,
    escape: char,
    out: &mut String,
) -> Result<usize, WordError> {
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '"' => return Ok(i),
            '$' => i = substitute(chars, i, vars, escape, out)?,
            c if c == escape => match chars.get(i) {
                Some(&n) if n == '"' || n == '$' || n == escape => {
                    out.push(n);
                    i += 1;
                }
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    Err(WordError::Unterminated('"'))
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// After a `$` at `i - 1`: appends the substitution, returns where to go on.
fn substitute(
    chars: &[char],
    i: usize,
    vars: &Vars,
    escape: char,
    out: &mut String,
) -> Result<usize, WordError> {
    match chars.get(i) {
        Some('{') => {
            let mut depth = 1;
            let mut j = i + 1;
            while j < chars.len() {
                match chars[j] {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            let inner: String = chars[i + 1..j.min(chars.len())].iter().collect();
            if j >= chars.len() {
                return Err(WordError::MissingBrace(inner));
            }
            out.push_str(&braced(&inner, vars, escape)?);
            Ok(j + 1)
        }
        Some(&c) if is_name_start(c) => {
            let end = chars[i..]
                .iter()
                .position(|&c| !is_name(c))
                .map_or(chars.len(), |p| i + p);
            let name: String = chars[i..end].iter().collect();
            out.push_str(vars.get(&name).map_or("", String::as_str));
            Ok(end)
        }
        // `$` before anything else is itself.
        _ => {
            out.push('$');
            Ok(i)
        }
    }
}

/// The inside of `${…}`.
fn braced(inner: &str, vars: &Vars, escape: char) -> Result<String, WordError> {
    let name_len = inner
        .char_indices()
        .find(|&(_, c)| !is_name(c))
        .map_or(inner.len(), |(p, _)| p);
    let (name, rest) = inner.split_at(name_len);
    if name.is_empty() || !name.starts_with(is_name_start) {
        return Err(WordError::BadModifier(inner.into()));
    }
    let value = vars.get(name);
    let set = value.is_some();
    let non_empty = value.is_some_and(|v| !v.is_empty());
    let word = |w: &str| expand(w, vars, escape);
    let current = || value.cloned().unwrap_or_default();
    Ok(match rest {
        "" => current(),
        _ if rest.starts_with(":-") => {
            if non_empty {
                current()
            } else {
                word(&rest[2..])?
            }
        }
        _ if rest.starts_with(":+") => {
            if non_empty {
                word(&rest[2..])?
            } else {
                String::new()
            }
        }
        _ if rest.starts_with(":?") || rest.starts_with('?') => {
            let colon = rest.starts_with(':');
            let ok = if colon { non_empty } else { set };
            if !ok {
                let msg = &rest[if colon { 2 } else { 1 }..];
                return Err(WordError::Required {
                    name: name.into(),
                    message: if msg.is_empty() {
                        "parameter not set".into()
                    } else {
                        word(msg)?
                    },
                });
            }
            current()
        }
        _ if rest.starts_with('-') => {
            if set {
                current()
            } else {
                word(&rest[1..])?
            }
        }
        _ if rest.starts_with('+') => {
            if set {
                word(&rest[1..])?
            } else {
                String::new()
            }
        }
        _ => return Err(WordError::BadModifier(inner.into())),
    })
}

/// `key=value` words (ENV, LABEL, ARG, as the reference's newer form) or
/// the legacy `ENV key value with spaces`. Values are expanded; a word
/// without `=` is a key with no value (None), as ARG allows.
pub fn key_values(
    raw: &str,
    vars: &Vars,
    escape: char,
    legacy: bool,
) -> Result<Vec<(String, Option<String>)>, WordError> {
    let words = split_words(raw, escape)?;
    if legacy && words.len() > 1 && !words[0].contains('=') {
        // `ENV key the rest`: one key, the rest of the line as its value.
        let key = expand(&words[0], vars, escape)?;
        let rest = raw.trim_start()[words[0].len()..].trim();
        return Ok(vec![(key, Some(expand(rest, vars, escape)?))]);
    }
    words
        .iter()
        .map(|w| {
            Ok(match w.split_once('=') {
                Some((k, v)) => (expand(k, vars, escape)?, Some(expand(v, vars, escape)?)),
                None => (expand(w, vars, escape)?, None),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [
            ("A", "1"),
            ("EMPTY", ""),
            ("SP", "two words"),
            ("P", "/usr/bin"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn x(s: &str) -> String {
        expand(s, &vars(), '\\').unwrap()
    }

    #[test]
    fn plain_and_braced() {
        assert_eq!(x("$A"), "1");
        assert_eq!(x("${A}x"), "1x");
        assert_eq!(x("$Ax"), "");
        assert_eq!(x("a$NOPE-b"), "a-b");
        assert_eq!(x("$P:/bin"), "/usr/bin:/bin");
        assert_eq!(x("cost $5"), "cost $5");
        assert_eq!(x("end$"), "end$");
    }

    #[test]
    fn modifiers_as_the_reference_says() {
        assert_eq!(x("${NOPE:-dflt}"), "dflt");
        assert_eq!(x("${EMPTY:-dflt}"), "dflt");
        assert_eq!(x("${EMPTY-dflt}"), "");
        assert_eq!(x("${NOPE-dflt}"), "dflt");
        assert_eq!(x("${A:-dflt}"), "1");
        assert_eq!(x("${A:+set}"), "set");
        assert_eq!(x("${EMPTY:+set}"), "");
        assert_eq!(x("${EMPTY+set}"), "set");
        assert_eq!(x("${NOPE:+set}"), "");
        // The word is itself expanded.
        assert_eq!(x("${NOPE:-$A-${P}}"), "1-/usr/bin");
        let e = expand("${NOPE:?give NOPE}", &vars(), '\\').unwrap_err();
        assert_eq!(e.to_string(), "NOPE: give NOPE");
        assert!(expand("${A", &vars(), '\\').is_err());
        assert!(expand("${A:=x}", &vars(), '\\').is_err());
        assert!(expand("${}", &vars(), '\\').is_err());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(x("'$A'"), "$A");
        assert_eq!(x("\"$A b\""), "1 b");
        assert_eq!(x("\\$A"), "$A");
        assert_eq!(x("\"\\$A \\\"q\\\" \\n\""), "$A \"q\" \\n");
        assert_eq!(x("a\\ b"), "a b");
        assert_eq!(expand("`$A", &vars(), '`').unwrap(), "$A");
        assert_eq!(expand("C:\\dir", &vars(), '`').unwrap(), "C:\\dir");
        assert_eq!(
            expand("'open", &vars(), '\\').unwrap_err(),
            WordError::Unterminated('\'')
        );
    }

    #[test]
    fn heredoc_text_keeps_quotes() {
        let got = expand_vars("printf 'a\\n' \"$A\" \\$A ${NOPE:-x}", &vars()).unwrap();
        assert_eq!(got, "printf 'a\\n' \"1\" $A x");
    }

    #[test]
    fn words_split_outside_quotes_only() {
        let v = vars();
        assert_eq!(
            expand_words("a \"b c\" 'd e' f\\ g $SP", &v, '\\').unwrap(),
            ["a", "b c", "d e", "f g", "two words"]
        );
        assert!(split_words("\"open", '\\').is_err());
    }

    #[test]
    fn env_forms() {
        let v = vars();
        assert_eq!(
            key_values("X=$A Y=\"a b\" Z", &v, '\\', false).unwrap(),
            [
                ("X".into(), Some("1".into())),
                ("Y".into(), Some("a b".into())),
                ("Z".into(), None)
            ]
        );
        assert_eq!(
            key_values("GREETING hello   $A world", &v, '\\', true).unwrap(),
            [("GREETING".into(), Some("hello   1 world".into()))]
        );
    }
}
