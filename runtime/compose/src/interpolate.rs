//! Compose's variable interpolation, run on the untyped tree before typing
//! (so `"${PORT}:80"` types as a port): `$V`, `${V}`, `${V:-d}`, `${V-d}`,
//! `${V:?err}`, `${V?err}`, `${V:+r}`, `${V+r}`, `$$`, and nesting in the
//! default, error and replacement words (`${A:-${B}}`).

use crate::error::LoadError;
use crate::node::{index, join};
use serde_yaml_ng::Value;

/// Why a template could not be expanded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TemplateError {
    /// `${V:?msg}` / `${V?msg}` with V missing.
    Missing { name: String, message: String },
    /// Not a template Compose accepts.
    Bad(&'static str),
}

/// Expands every variable of `text`; `lookup` gives a variable's value
/// (`None`: unset). An unset plain variable is the empty string, as in
/// Compose (which only warns).
pub(crate) fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    substitute_noting(text, lookup, &mut Vec::new())
}

/// [`substitute`], noting in `unset` the variables used without a default
/// that are not set (Compose warns about each).
pub(crate) fn substitute_noting(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end =
                closing_brace(inner).ok_or(TemplateError::Bad("a `${` is never closed by `}`"))?;
            out.push_str(&braced(&inner[..end], lookup, unset)?);
            rest = &inner[end + 1..];
        } else {
            let len = name_len(after);
            if len == 0 {
                return Err(TemplateError::Bad(
                    "`$` must start a variable: write `$$` for a literal `$`",
                ));
            }
            out.push_str(&plain(&after[..len], lookup, unset));
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn plain(name: &str, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<String>) -> String {
    lookup(name).unwrap_or_else(|| {
        if !unset.iter().any(|u| u == name) {
            unset.push(name.to_string());
        }
        String::new()
    })
}

/// The length of the variable name at the start of `s` (`[_a-zA-Z][_a-zA-Z0-9]*`).
fn name_len(s: &str) -> usize {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, c)) if c == '_' || c.is_ascii_alphabetic() => {}
        _ => return 0,
    }
    chars
        .find(|(_, c)| !(*c == '_' || c.is_ascii_alphanumeric()))
        .map_or(s.len(), |(i, _)| i)
}

/// The index of the `}` closing a `${`, counting nested `${`.
fn closing_brace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The inside of `${...}`: a name and an optional operator with its word.
fn braced(
    inner: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, TemplateError> {
    let len = name_len(inner);
    if len == 0 {
        return Err(TemplateError::Bad(
            "`${` must be followed by a variable name",
        ));
    }
    let (name, op) = inner.split_at(len);
    if op.is_empty() {
        return Ok(plain(name, lookup, unset));
    }
    let value = lookup(name);
    let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    let mut word = |w: &str| substitute_noting(w, lookup, unset);
    let missing = |w: String| {
        Err(TemplateError::Missing {
            name: name.to_string(),
            message: w,
        })
    };
    if let Some(w) = op.strip_prefix(":-") {
        return if set_nonempty {
            Ok(value.unwrap_or_default())
        } else {
            word(w)
        };
    }
    if let Some(w) = op.strip_prefix(":?") {
        return if set_nonempty {
            Ok(value.unwrap_or_default())
        } else {
            missing(word(w)?)
        };
    }
    if let Some(w) = op.strip_prefix(":+") {
        return if set_nonempty {
            word(w)
        } else {
            Ok(String::new())
        };
    }
    if let Some(w) = op.strip_prefix('-') {
        return value.map_or_else(|| word(w), Ok);
    }
    if let Some(w) = op.strip_prefix('?') {
        return match value {
            Some(v) => Ok(v),
            None => missing(word(w)?),
        };
    }
    if let Some(w) = op.strip_prefix('+') {
        return if value.is_some() {
            word(w)
        } else {
            Ok(String::new())
        };
    }
    Err(TemplateError::Bad(
        "after the name comes `}` or one of `:-` `-` `:?` `?` `:+` `+`",
    ))
}

/// Interpolates every string value of `tree` in place (keys are left as
/// written, as Compose does); errors name `file` and the key path.
/// Returns the variables used without a default that are not set.
pub(crate) fn interpolate_tree(
    tree: &mut Value,
    file: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, LoadError> {
    let mut unset = Vec::new();
    walk(tree, "", file, lookup, &mut unset)?;
    Ok(unset)
}

fn walk(
    v: &mut Value,
    path: &str,
    file: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<(), LoadError> {
    match v {
        Value::String(s) if s.contains('$') => {
            *s = substitute_noting(s, lookup, unset)
                .map_err(|e| template_error(e, s, path, file))?;
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &index(path, i), file, lookup, unset)?;
            }
        }
        Value::Mapping(map) => {
            for (k, item) in map.iter_mut() {
                let key = crate::node::scalar_string(k).unwrap_or_default();
                walk(item, &join(path, &key), file, lookup, unset)?;
            }
        }
        Value::Tagged(t) => walk(&mut t.value, path, file, lookup, unset)?,
        _ => {}
    }
    Ok(())
}

fn template_error(e: TemplateError, template: &str, path: &str, file: &str) -> LoadError {
    match e {
        TemplateError::Missing { name, message } => LoadError::MissingVariable {
            file: file.to_string(),
            path: path.to_string(),
            name,
            message: crate::node::one_line(&message),
        },
        TemplateError::Bad(hint) => LoadError::BadTemplate {
            file: file.to_string(),
            path: path.to_string(),
            template: crate::node::one_line(template),
            hint,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".into()),
            "EMPTY" => Some(String::new()),
            "B" => Some("bee".into()),
            _ => None,
        }
    }

    fn sub(t: &str) -> Result<String, TemplateError> {
        substitute(t, &env)
    }

    #[test]
    fn plain_forms() {
        assert_eq!(sub("$SET-x").unwrap(), "value-x");
        assert_eq!(sub("${SET}x").unwrap(), "valuex");
        assert_eq!(sub("a${UNSET}b").unwrap(), "ab");
        assert_eq!(sub("cost $$5 $${SET}").unwrap(), "cost $5 ${SET}");
        assert_eq!(sub("no dollars").unwrap(), "no dollars");
    }

    #[test]
    fn defaults_tell_unset_from_empty() {
        assert_eq!(sub("${UNSET:-d}").unwrap(), "d");
        assert_eq!(sub("${EMPTY:-d}").unwrap(), "d");
        assert_eq!(sub("${SET:-d}").unwrap(), "value");
        assert_eq!(sub("${UNSET-d}").unwrap(), "d");
        assert_eq!(sub("${EMPTY-d}").unwrap(), "");
        assert_eq!(sub("${UNSET:-}").unwrap(), "");
        assert_eq!(sub("${UNSET:-a:b-c}").unwrap(), "a:b-c");
    }

    #[test]
    fn replacements() {
        assert_eq!(sub("${SET:+r}").unwrap(), "r");
        assert_eq!(sub("${EMPTY:+r}").unwrap(), "");
        assert_eq!(sub("${EMPTY+r}").unwrap(), "r");
        assert_eq!(sub("${UNSET+r}").unwrap(), "");
    }

    #[test]
    fn nested_words() {
        assert_eq!(sub("${UNSET:-${B}}").unwrap(), "bee");
        assert_eq!(sub("${UNSET:-${NOPE:-${B}x}}y").unwrap(), "beexy");
        assert_eq!(sub("${SET:+[${B}]}").unwrap(), "[bee]");
    }

    #[test]
    fn required_variables() {
        assert_eq!(sub("${SET:?need it}").unwrap(), "value");
        assert_eq!(sub("${EMPTY?need it}").unwrap(), "");
        assert_eq!(
            sub("${EMPTY:?need it}"),
            Err(TemplateError::Missing {
                name: "EMPTY".into(),
                message: "need it".into()
            })
        );
        assert_eq!(
            sub("${UNSET?set ${B}}"),
            Err(TemplateError::Missing {
                name: "UNSET".into(),
                message: "set bee".into()
            })
        );
    }

    #[test]
    fn bad_templates() {
        for bad in [
            "${", "${SET", "$", "a $ b", "${}", "${1A}", "${SET:x}", "$5",
        ] {
            assert!(matches!(sub(bad), Err(TemplateError::Bad(_))), "{bad}");
        }
    }

    #[test]
    fn tree_errors_name_the_key_path() {
        let mut tree: Value =
            serde_yaml_ng::from_str("services:\n  web:\n    ports: [\"${P:?give a port}:80\"]\n")
                .unwrap();
        let err = interpolate_tree(&mut tree, "compose.yaml", &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("compose.yaml: services.web.ports[0]: required variable P"),
            "{err}"
        );
        assert!(err.contains("give a port"), "{err}");
    }

    #[test]
    fn unset_variables_without_default_are_noted_once() {
        let mut unset = Vec::new();
        let out =
            substitute_noting("$A ${A} ${G:-x} ${C-y} ${D:+z} ${E:-$F}", &env, &mut unset).unwrap();
        assert_eq!(out, "  x y  ");
        assert_eq!(unset, ["A", "F"]);
    }

    #[test]
    fn tree_values_are_interpolated_keys_are_not() {
        let mut tree: Value = serde_yaml_ng::from_str("${SET}: [\"$SET\", {k: \"${B}\"}]").unwrap();
        interpolate_tree(&mut tree, "f", &env).unwrap();
        assert_eq!(
            serde_yaml_ng::to_string(&tree).unwrap(),
            "${SET}:\n- value\n- k: bee\n"
        );
    }
}
