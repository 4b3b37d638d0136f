//! Typed reads from the untyped YAML tree, each failure naming the file and
//! the key path. The typing step works only through these.

use crate::error::LoadError;
use indexmap::IndexMap;
use serde_yaml_ng::{Mapping, Value};

/// One value of the tree and where it sits (`services.web.ports[0]`).
#[derive(Clone)]
pub(crate) struct Node<'a> {
    pub v: &'a Value,
    pub path: String,
    pub file: &'a str,
}

/// A YAML value's kind, for "must be a string, not a list".
pub(crate) fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// `text` with its line breaks escaped, so an error stays one line.
pub(crate) fn one_line(text: &str) -> String {
    text.replace('\r', "\\r").replace('\n', "\\n")
}

/// `a.b` or `a[0]` appended to a key path.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A scalar as Compose reads it where a string is expected (numbers and
/// booleans as written).
pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl<'a> Node<'a> {
    pub fn root(v: &'a Value, file: &'a str) -> Self {
        Node {
            v,
            path: String::new(),
            file,
        }
    }

    /// The key path as errors show it (`top level` for the root).
    pub fn shown_path(&self) -> String {
        if self.path.is_empty() {
            "top level".into()
        } else {
            self.path.clone()
        }
    }

    /// The value under `key` of this mapping, with its path.
    pub fn at(&self, key: &str, v: &'a Value) -> Node<'a> {
        Node {
            v,
            path: join(&self.path, key),
            file: self.file,
        }
    }

    /// The `i`th item of this list, with its path.
    pub fn item(&self, i: usize, v: &'a Value) -> Node<'a> {
        Node {
            v,
            path: index(&self.path, i),
            file: self.file,
        }
    }

    /// The value under `key` when this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        self.v.get(key).map(|v| self.at(key, v))
    }

    /// Each `(key, node)` of a mapping checked with [`Node::map`].
    pub fn fields(&self, allowed: &[&str]) -> Result<Vec<(String, Node<'a>)>, LoadError> {
        let m = self.map(allowed)?;
        Ok(m.iter()
            .filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v)))
            .filter(|(k, _)| !k.starts_with("x-"))
            .map(|(k, v)| {
                let node = self.at(&k, v);
                (k, node)
            })
            .collect())
    }

    pub fn wrong(&self, expected: &'static str) -> LoadError {
        LoadError::WrongType {
            file: self.file.to_string(),
            path: self.shown_path(),
            expected,
            found: kind(self.v),
        }
    }

    pub fn invalid(&self, what: &'static str, value: &str, hint: impl Into<String>) -> LoadError {
        LoadError::InvalidValue {
            file: self.file.to_string(),
            path: self.shown_path(),
            what,
            value: one_line(value),
            hint: one_line(&hint.into()),
        }
    }

    /// A string only (`image: 123` is refused, as Compose's schema does).
    pub fn str(&self) -> Result<String, LoadError> {
        match self.v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(self.wrong("a string")),
        }
    }

    /// A string, number or boolean, as text (`cpus: 0.5`, `user: 1000`).
    pub fn scalar(&self) -> Result<String, LoadError> {
        scalar_string(self.v).ok_or_else(|| self.wrong("a string or a number"))
    }

    pub fn bool(&self) -> Result<bool, LoadError> {
        match self.v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(self.wrong("true or false")),
        }
    }

    pub fn int(&self) -> Result<i64, LoadError> {
        match self.v {
            Value::Number(n) => n.as_i64().ok_or_else(|| self.wrong("an integer")),
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| self.invalid("integer", s, "write a whole number")),
            _ => Err(self.wrong("an integer")),
        }
    }

    /// A mapping whose keys are all in `allowed` (or start with `x-`).
    pub fn map(&self, allowed: &[&str]) -> Result<&'a Mapping, LoadError> {
        let Value::Mapping(m) = self.v else {
            return Err(self.wrong("a mapping"));
        };
        for key in m.keys() {
            let Some(key) = key.as_str() else {
                return Err(self.wrong("a mapping with string keys"));
            };
            if !key.starts_with("x-") && !allowed.contains(&key) {
                return Err(LoadError::UnknownKey {
                    file: self.file.to_string(),
                    path: self.shown_path(),
                    key: key.to_string(),
                });
            }
        }
        Ok(m)
    }

    /// A mapping with free keys (labels, driver_opts), as `(key, node)` pairs.
    pub fn entries(&self) -> Result<Vec<(String, Value)>, LoadError> {
        let Value::Mapping(m) = self.v else {
            return Err(self.wrong("a mapping"));
        };
        m.iter()
            .map(|(k, v)| {
                scalar_string(k)
                    .map(|k| (k, v.clone()))
                    .ok_or_else(|| self.wrong("a mapping with string keys"))
            })
            .collect()
    }

    pub fn seq(&self) -> Result<&'a Vec<Value>, LoadError> {
        match self.v {
            Value::Sequence(s) => Ok(s),
            _ => Err(self.wrong("a list")),
        }
    }

    /// A list of scalars; a lone string is a list of one (`dns: 8.8.8.8`).
    pub fn str_list(&self) -> Result<Vec<String>, LoadError> {
        match self.v {
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| scalar_string(v).ok_or_else(|| self.item(i, v).wrong("a string")))
                .collect(),
            Value::String(s) => Ok(vec![s.clone()]),
            _ => Err(self.wrong("a string or a list of strings")),
        }
    }

    /// `KEY=VALUE` list or mapping; a list item without `=` or a mapping
    /// value of null has no value (`None`).
    pub fn key_values(&self, sep: char) -> Result<IndexMap<String, Option<String>>, LoadError> {
        let mut out = IndexMap::new();
        match self.v {
            Value::Sequence(items) => {
                for (i, item) in items.iter().enumerate() {
                    let text = self.item(i, item).scalar()?;
                    match text.split_once(sep) {
                        Some((k, v)) => out.insert(k.to_string(), Some(v.to_string())),
                        None => out.insert(text, None),
                    };
                }
            }
            Value::Mapping(_) => {
                for (k, v) in self.entries()? {
                    let value = match &v {
                        Value::Null => None,
                        other => Some(self.at(&k, other).scalar()?),
                    };
                    out.insert(k, value);
                }
            }
            _ => return Err(self.wrong("a list of KEY=VALUE or a mapping")),
        }
        Ok(out)
    }

    /// Like [`Node::key_values`], a missing value being the empty string.
    pub fn string_map(&self, sep: char) -> Result<IndexMap<String, String>, LoadError> {
        Ok(self
            .key_values(sep)?
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect())
    }
}
