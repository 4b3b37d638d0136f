//! `--format`: Go's text/template (the gotmpl crate) with the functions
//! docker/cli adds (`json`, `split`, `join`, `title`, `lower`, `upper`,
//! `pad`, `truncate`), read as docker/cli reads it: a leading `table` asks
//! for a header row and tabwriter columns, `json` alone is `{{json .}}`,
//! and list commands turn a typed `\t` or `\n` into the character.
//!
//! Data reaches a template as JSON turned into gotmpl's values: objects
//! are maps (sorted keys, as Go ranges over a map), so a missing key prints
//! `<no value>` as Go's does for the decoded JSON docker's inspect falls
//! back to.

use gotmpl::{MissingKey, Template, TemplateError, Value};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::tabwriter;

/// How a `--format` string is read: docker/cli has two readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// `inspect`, `version`, `info`, `events`: the string as written.
    Plain,
    /// `ps`, `images`, `network ls`, `stats`, …: `table`, `json`, and
    /// `\t`/`\n` escapes (docker/cli's formatter.Context).
    List,
}

/// A parsed `--format`.
pub struct Format {
    table: bool,
    body: Template,
    header: Template,
}

/// What went wrong with a template: docker/cli's one line for it.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The template does not parse (`template: :1: …`).
    #[error("template parsing error: {0}")]
    Parse(String),
    /// Running it on some data failed.
    #[error("{0}")]
    Exec(String),
}

impl Format {
    /// Reads `raw` as docker/cli does; `default_table` stands in for a
    /// bare `table` (docker's default columns for that command).
    pub fn parse(raw: &str, reader: Reader, default_table: &str) -> Result<Format, FormatError> {
        let (table, text) = match reader {
            Reader::Plain => (false, raw.to_string()),
            Reader::List => list_text(raw, default_table),
        };
        // A list's row has only the fields docker's row context has: a
        // misspelt one is an error there too, not `<no value>`.
        let missing = match reader {
            Reader::Plain => MissingKey::Invalid,
            Reader::List => MissingKey::Error,
        };
        let text = match reader {
            Reader::List => label_calls(&text),
            Reader::Plain => text,
        };
        let body = build(&text, docker_funcs(), missing)?;
        let header = build(&text, header_funcs(), MissingKey::Invalid)?;
        Ok(Format {
            table,
            body,
            header,
        })
    }

    /// Whether the format began with `table`.
    pub fn is_table(&self) -> bool {
        self.table
    }

    /// The template run on one value.
    pub fn render(&self, data: &Json) -> Result<String, FormatError> {
        self.body
            .execute_to_string(&with_label_method(to_value(data)))
            .map_err(|e| FormatError::Exec(go_error(&e)))
    }

    /// docker/cli's list output: each row's text and a newline; with
    /// `table`, the header (the template run on `headers`, field name →
    /// title) first and every line through tabwriter.
    pub fn render_rows(
        &self,
        rows: &[Json],
        headers: &[(&str, &str)],
    ) -> Result<String, FormatError> {
        let mut out = String::new();
        for r in rows {
            out.push_str(&self.render(r)?);
            out.push('\n');
        }
        if !self.table {
            return Ok(out);
        }
        let titles: serde_json::Map<String, Json> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), Json::String(v.to_string())))
            .collect();
        let mut head = self
            .header
            .execute_to_string(&to_value(&Json::Object(titles)))
            .map_err(|e| FormatError::Exec(go_error(&e)))?;
        head.push('\n');
        head.push_str(&out);
        Ok(tabwriter::write(&head, 10, 3))
    }
}

/// docker/cli's list rows have a method, `.Label "key"`, which gotmpl has
/// no notion of: a call of it becomes `(call .Label "key")`, and each row
/// carries `Label` as a function ([`with_label_method`]).
fn label_calls(text: &str) -> String {
    static CALL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = CALL.get_or_init(|| {
        regex::Regex::new(r#"\.Label\s+("(?:[^"\\]|\\.)*"|`[^`]*`)"#).expect("a valid regex")
    });
    re.replace_all(text, "(call .Label $1)").into_owned()
}

/// A row with `Labels` (docker's `k=v,k2=v2` text, or a map) gets `Label`:
/// the value of one label, empty when it has none.
fn with_label_method(row: Value) -> Value {
    let Value::Map(m) = &row else { return row };
    let labels: BTreeMap<String, String> = match m.get("Labels") {
        Some(Value::String(s)) => s
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        Some(Value::Map(l)) => l
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        _ => return row,
    };
    let label: gotmpl::ValueFunc = Arc::new(move |args: &[Value]| {
        let key = str_arg("Label", args, 0)?;
        Ok(Value::String(
            labels.get(key).map_or("", String::as_str).into(),
        ))
    });
    let mut m = (**m).clone();
    m.insert("Label".into(), Value::Function(label));
    Value::Map(Arc::new(m))
}

/// formatter.Context.preFormat: `table` off the front, `json` as
/// `{{json .}}`, spaces trimmed, `\t` and `\n` as typed turned into the
/// characters.
fn list_text(raw: &str, default_table: &str) -> (bool, String) {
    let (table, text) = match raw.strip_prefix("table") {
        Some(rest) if rest.trim().is_empty() && !default_table.is_empty() => {
            (true, default_table.trim_start_matches("table").to_string())
        }
        Some(rest) => (true, rest.to_string()),
        None if raw == "json" => (false, "{{json .}}".to_string()),
        None => (false, raw.to_string()),
    };
    let text = text
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n");
    (table, text)
}

fn build(text: &str, funcs: gotmpl::FuncMap, missing: MissingKey) -> Result<Template, FormatError> {
    Template::new("")
        .funcs(funcs)
        .missing_key(missing)
        .parse(text)
        .map_err(|e| FormatError::Parse(go_error(&e)))
}

/// Go's shape of a template error: `template: :LINE: message` for a parse
/// error (Go names no column there), gotmpl's text otherwise.
fn go_error(e: &TemplateError) -> String {
    match e {
        TemplateError::Parse { line, message, .. } | TemplateError::Lex { line, message, .. } => {
            format!("template: :{line}: {message}")
        }
        other => format!("template: {other}"),
    }
}

/// JSON as gotmpl's values: objects become maps, numbers stay integers
/// where they are (docker's typed structs print `42`, not `4.2e+01`).
pub fn to_value(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::Uint(u),
            _ => Value::Float(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => Value::String(s.as_str().into()),
        Json::Array(a) => Value::List(a.iter().map(to_value).collect()),
        Json::Object(o) => {
            let m: BTreeMap<Arc<str>, Value> = o
                .iter()
                .map(|(k, x)| (Arc::from(k.as_str()), to_value(x)))
                .collect();
            Value::Map(Arc::new(m))
        }
    }
}

/// gotmpl's value back as JSON, for the `json` function.
fn to_json(v: &Value) -> Json {
    match v {
        Value::Nil | Value::Function(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Uint(u) => Json::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.to_string()),
        Value::List(l) => Json::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, x)| (k.to_string(), to_json(x))).collect()),
    }
}

type Res = gotmpl::Result<Value>;

fn arg<'a>(name: &str, args: &'a [Value], i: usize) -> gotmpl::Result<&'a Value> {
    args.get(i).ok_or_else(|| {
        TemplateError::Exec(format!(
            "wrong number of args for {name}: want {}, got {}",
            i + 1,
            args.len()
        ))
    })
}

/// A string argument, as Go's call of a `func(string …)` checks it.
fn str_arg<'a>(name: &str, args: &'a [Value], i: usize) -> gotmpl::Result<&'a str> {
    let v = arg(name, args, i)?;
    v.as_str().ok_or_else(|| {
        TemplateError::Exec(format!(
            "error calling {name}: wrong type for value; expected string; got {}",
            v.type_name()
        ))
    })
}

fn int_arg(name: &str, args: &[Value], i: usize) -> gotmpl::Result<i64> {
    let v = arg(name, args, i)?;
    v.as_int().ok_or_else(|| {
        TemplateError::Exec(format!(
            "error calling {name}: wrong type for value; expected int; got {}",
            v.type_name()
        ))
    })
}

fn string(s: impl Into<Arc<str>>) -> Value {
    Value::String(s.into())
}

/// docker/cli's templates.basicFunctions.
fn docker_funcs() -> gotmpl::FuncMap {
    let mut m = gotmpl::FuncMap::new();
    let mut add = |name: &str, f: fn(&[Value]) -> Res| {
        m.insert(name.to_string(), Arc::new(f));
    };
    add("json", |a| {
        let v = to_json(arg("json", a, 0)?);
        Ok(string(serde_json::to_string(&v).unwrap_or_default()))
    });
    add("split", |a| {
        let (s, sep) = (str_arg("split", a, 0)?, str_arg("split", a, 1)?);
        Ok(Value::List(
            go_split(s, sep).into_iter().map(string).collect(),
        ))
    });
    add("join", |a| {
        let sep = str_arg("join", a, 1)?;
        let Value::List(items) = arg("join", a, 0)? else {
            return Err(TemplateError::Exec(
                "error calling join: wrong type for value; expected []string".into(),
            ));
        };
        let words: Vec<String> = items.iter().map(|v| v.to_string()).collect();
        Ok(string(words.join(sep)))
    });
    add("title", |a| Ok(string(go_title(str_arg("title", a, 0)?))));
    add("lower", |a| {
        Ok(string(str_arg("lower", a, 0)?.to_lowercase()))
    });
    add("upper", |a| {
        Ok(string(str_arg("upper", a, 0)?.to_uppercase()))
    });
    add("pad", |a| {
        let s = str_arg("pad", a, 0)?;
        let (pre, post) = (int_arg("pad", a, 1)?, int_arg("pad", a, 2)?);
        if s.is_empty() {
            return Ok(string(""));
        }
        let sp = |n: i64| " ".repeat(n.max(0) as usize);
        Ok(string(format!("{}{s}{}", sp(pre), sp(post))))
    });
    add("truncate", |a| {
        let s = str_arg("truncate", a, 0)?;
        let n = int_arg("truncate", a, 1)?.max(0) as usize;
        Ok(string(s.chars().take(n).collect::<String>()))
    });
    m
}

/// docker/cli's templates.HeaderFunctions: the header row keeps each
/// title as it is (only `pad` still pads, to keep the columns aligned).
fn header_funcs() -> gotmpl::FuncMap {
    let mut m = docker_funcs();
    for name in [
        "json", "split", "join", "title", "lower", "upper", "truncate",
    ] {
        m.insert(
            name.to_string(),
            Arc::new(|a: &[Value]| Ok(arg("header", a, 0)?.clone())),
        );
    }
    m
}

/// Go's strings.Split: an empty separator splits after each character.
fn go_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(String::from).collect()
}

/// Go's strings.Title: the first letter of each word upper-cased; a word
/// starts after anything but a letter, digit, underscore or apostrophe.
fn go_title(s: &str) -> String {
    let mut prev_sep = true;
    s.chars()
        .map(|c| {
            let out = if prev_sep {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c
            };
            prev_sep = !(c.is_alphanumeric() || c == '_' || c == '\'');
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plain(tpl: &str, v: &Json) -> String {
        Format::parse(tpl, Reader::Plain, "")
            .unwrap()
            .render(v)
            .unwrap()
    }

    fn container() -> Json {
        json!({
            "Name": "/web",
            "State": {"Running": true, "Pid": 42, "Health": null},
            "Config": {"Labels": {"b": "2", "a": "1"}, "Cmd": ["sleep", "5"]},
            "NetworkSettings": {"Networks": {
                "todo-app": {"IPAddress": "172.18.0.2"},
                "bridge": {"IPAddress": "172.17.0.2"},
            }},
        })
    }

    #[test]
    fn the_issues_templates_render_as_gos() {
        let c = container();
        let ip = r#"{{(index .NetworkSettings.Networks "todo-app").IPAddress}}"#;
        assert_eq!(plain(ip, &c), "172.18.0.2");
        let all = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}";
        assert_eq!(plain(all, &c), "172.17.0.2 172.18.0.2 ");
        assert_eq!(
            plain("{{if .State.Running}}up{{else}}down{{end}}", &c),
            "up"
        );
        assert_eq!(plain("{{upper .Name}}", &c), "/WEB");
        assert_eq!(plain("{{json .Config.Labels}}", &c), r#"{"a":"1","b":"2"}"#);
        assert_eq!(
            plain("{{.Config.Cmd}} {{.Config.Labels}}", &c),
            "[sleep 5] map[a:1 b:2]"
        );
        assert_eq!(plain("{{.State.Pid}} {{len .Config.Cmd}}", &c), "42 2");
        assert_eq!(plain("{{printf \"%05d\" .State.Pid}}", &c), "00042");
        let kv = "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}";
        assert_eq!(plain(kv, &c), "a=1;b=2;");
    }

    #[test]
    fn missing_keys_print_no_value_and_null_is_json_null() {
        let c = container();
        assert_eq!(plain("{{.Nope}}", &c), "<no value>");
        assert_eq!(plain("{{.Nope.Deeper}}", &c), "<no value>");
        assert_eq!(plain("{{.State.Health}}", &c), "<no value>");
        assert_eq!(plain("{{json .State.Health}}", &c), "null");
        assert_eq!(plain(r#"{{index .Config.Labels "zz"}}"#, &c), "<no value>");
    }

    #[test]
    fn dockers_functions() {
        let v = json!({"S": "a,b,c", "L": ["x", "y"], "E": "", "T": "hello wide_world it's"});
        assert_eq!(plain(r#"{{split .S ","}}"#, &v), "[a b c]");
        assert_eq!(plain(r#"{{join .L "+"}}"#, &v), "x+y");
        assert_eq!(plain(r#"{{join (split .S ",") ":"}}"#, &v), "a:b:c");
        assert_eq!(plain("{{title .T}}", &v), "Hello Wide_world It's");
        assert_eq!(plain("{{lower \"AbC\"}}", &v), "abc");
        assert_eq!(
            plain("[{{pad .S 2 1}}][{{pad .E 2 1}}]", &v),
            "[  a,b,c ][]"
        );
        assert_eq!(
            plain("{{truncate .S 3}}|{{truncate .S 30}}", &v),
            "a,b|a,b,c"
        );
        assert_eq!(plain("{{println .S}}", &v), "a,b,c\n");
        assert_eq!(plain("{{if eq .S \"a,b,c\"}}y{{end}}", &v), "y");
        let err = Format::parse("{{upper .L}}", Reader::Plain, "")
            .unwrap()
            .render(&v);
        assert!(err.unwrap_err().to_string().contains("expected string"));
    }

    #[test]
    fn parse_errors_are_one_line_as_dockers() {
        let e = Format::parse("{{if}}", Reader::Plain, "")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("template parsing error: template: :1: "),
            "{e}"
        );
        assert!(!e.contains('\n'));
        assert!(Format::parse("{{.X", Reader::List, "").is_err());
        // gotmpl finds an unknown function when it runs (Go when it parses).
        let f = Format::parse("{{nosuchfunc .X}}", Reader::Plain, "").unwrap();
        assert!(f.render(&serde_json::json!({})).is_err());
    }

    #[test]
    fn table_directive_header_and_tabwriter() {
        let rows = [
            json!({"ID": "abc", "Names": "web"}),
            json!({"ID": "0123456789ab", "Names": "db"}),
        ];
        let headers = [("ID", "CONTAINER ID"), ("Names", "NAMES")];
        let f = Format::parse(r"table {{.ID}}\t{{.Names}}", Reader::List, "").unwrap();
        assert!(f.is_table());
        assert_eq!(
            f.render_rows(&rows, &headers).unwrap(),
            "CONTAINER ID   NAMES\nabc            web\n0123456789ab   db\n"
        );
        // Header functions keep titles; columns are at least 10 wide.
        let f = Format::parse(r"table {{lower .Names}}\t{{.ID}}", Reader::List, "").unwrap();
        assert_eq!(
            f.render_rows(&rows[..1], &headers).unwrap(),
            "NAMES     CONTAINER ID\nweb       abc\n"
        );
        // No rows: the header alone.
        assert_eq!(
            f.render_rows(&[], &headers).unwrap(),
            "NAMES     CONTAINER ID\n"
        );
        // `table` alone is the command's default; `json` is `{{json .}}`.
        let f = Format::parse("table", Reader::List, r"table {{.Names}}").unwrap();
        assert_eq!(f.render_rows(&rows[..1], &headers).unwrap(), "NAMES\nweb\n");
        let f = Format::parse("json", Reader::List, "").unwrap();
        assert_eq!(
            f.render_rows(&rows[..1], &headers).unwrap(),
            "{\"ID\":\"abc\",\"Names\":\"web\"}\n"
        );
    }

    #[test]
    fn list_rows_reject_unknown_fields_inspect_does_not() {
        let f = Format::parse("{{.Nope}}", Reader::List, "").unwrap();
        assert!(f.render(&json!({"ID": "x"})).is_err());
        let f = Format::parse(r"{{.ID}}\n", Reader::List, "").unwrap();
        assert_eq!(f.render(&json!({"ID": "x"})).unwrap(), "x\n");
        let f = Format::parse(r"{{.ID}}\n", Reader::Plain, "").unwrap();
        assert_eq!(f.render(&json!({"ID": "x"})).unwrap(), r"x\n");
    }

    #[test]
    fn rows_answer_the_label_method() {
        let row = json!({"Names": "web", "Labels": "com.docker.compose.project=p,tier=front"});
        let f = Format::parse(
            r#"{{.Names}} {{.Label "com.docker.compose.project"}} {{.Label "none"}}|{{.Label `tier` | upper}}|{{.Labels}}"#,
            Reader::List,
            "",
        )
        .unwrap();
        assert_eq!(
            f.render(&row).unwrap(),
            "web p |FRONT|com.docker.compose.project=p,tier=front"
        );
        let map_row = json!({"Name": "v", "Labels": {"a": "1"}});
        let f = Format::parse(r#"{{.Label "a"}}"#, Reader::List, "").unwrap();
        assert_eq!(f.render(&map_row).unwrap(), "1");
    }
}
