//! Output as Docker's CLI writes it: tables, `--format` output (the
//! templates themselves are in `template`), inspect arrays, human sizes
//! and the prune confirmation.

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

use super::template::{Format, Reader};
use super::Exit;

/// Prints rows as Docker's tabwriter does: columns padded by three spaces.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map(|s| s.chars().count()).unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < r.len() {
                let pad = widths[i] - cell.chars().count() + 3;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Inspect output as docker/cli's inspect.Inspect: each name's JSON as the
/// daemon sent it, through `get`; no format is an indented JSON array (the
/// daemon's key order kept, as docker's json.Indent keeps it), `json` a
/// compact one, a template one line per object. Errors go to stderr after
/// the output, exit code 1; a template that does not parse is exit code 64.
pub fn print_inspected(
    names: &[String],
    format: Option<&str>,
    get: impl Fn(&str) -> Result<String>,
) -> Result<i32> {
    let tpl = match format {
        None | Some("") | Some("json") => None,
        Some(f) => Some(Format::parse(f, Reader::Plain, "").map_err(|e| fail(64, e))?),
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in names {
        match get(n) {
            Ok(raw) => found.push(raw),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let mut out = String::new();
    let array = format!("[{}]", found.join(","));
    match (&tpl, format) {
        (Some(t), _) => {
            for raw in &found {
                let v: Value = serde_json::from_str(raw)?;
                match t.render(&v) {
                    Ok(line) => out.push_str(&format!("{line}\n")),
                    Err(e) => errors.push(format!("template parsing error: {e}")),
                }
            }
            if out.is_empty() {
                out.push('\n');
            }
        }
        (None, Some("json")) => out = format!("{}\n", go_indent(&array, "")),
        (None, _) => out = format!("{}\n", go_indent(&array, "    ")),
    }
    print!("{out}");
    errors.iter().for_each(|e| eprintln!("{e}"));
    Ok(if errors.is_empty() { 0 } else { 1 })
}

/// Go's json.Indent (`indent` per level; an empty `indent` is
/// json.Compact): whitespace outside strings dropped, `{}` and `[]` kept
/// whole, every member of a non-empty object or array on its own line.
pub fn go_indent(raw: &str, indent: &str) -> String {
    let compact = indent.is_empty();
    let mut out = String::with_capacity(raw.len() * 2);
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    let mut chars = raw.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        if !compact {
            out.push('\n');
            out.push_str(&indent.repeat(depth));
        }
    };
    while let Some(ch) = chars.next() {
        if in_str {
            out.push(ch);
            match (escaped, ch) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match ch {
            ' ' | '\t' | '\n' | '\r' => {}
            '"' => {
                in_str = true;
                out.push(ch);
            }
            '{' | '[' => {
                out.push(ch);
                while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}') | Some(']')) {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(ch);
            }
            ',' => {
                out.push(ch);
                newline(&mut out, depth);
            }
            ':' => out.push_str(if compact { ":" } else { ": " }),
            _ => out.push(ch),
        }
    }
    out
}

/// Prints `message` on stderr as the command's one error line and ends
/// rrun with `code`.
pub fn fail(code: i32, message: impl std::fmt::Display) -> anyhow::Error {
    eprintln!("{message}");
    Exit(code).into()
}

/// A list command's `--format` (or its default table), parsed before
/// anything is asked of the daemon: a bad template is docker's one line
/// and exit code 1.
pub fn list_format(format: Option<&str>, default_table: &str) -> Result<Format> {
    let raw = format.filter(|f| !f.is_empty()).unwrap_or(default_table);
    Format::parse(raw, Reader::List, default_table).map_err(|e| fail(1, e))
}

/// Prints list rows through a parsed `--format`.
pub fn print_rows(f: &Format, rows: &[Value], headers: &[(&str, &str)]) -> Result<()> {
    let out = f.render_rows(rows, headers).map_err(|e| fail(1, e))?;
    print!("{out}");
    Ok(())
}

/// Serializes list rows for a template.
pub fn rows_of<T: Serialize>(rows: &[T]) -> Result<Vec<Value>> {
    Ok(rows
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?)
}

pub fn confirm(force: bool, what: &str) -> Result<bool> {
    if force {
        return Ok(true);
    }
    eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// `key=value` flags (labels, options) as a map; a bare key maps to "".
pub fn kv(list: &[String]) -> HashMap<String, String> {
    list.iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// Docker's `units.HumanSize` of a byte count.
pub fn human_size(b: u64) -> String {
    rrun_units::human_size(b as f64)
}

/// docker/cli's size cell of `images` and `history`
/// (`units.HumanSizeWithPrecision(size, 3)`: `1.04MB`).
pub fn short_size(b: u64) -> String {
    rrun_units::human_size_with_precision(b as f64, 3)
}

/// A list row's `Labels` cell: `k=v` pairs by key, joined with commas.
pub fn labels_text(labels: Option<&HashMap<String, String>>) -> String {
    let sorted: std::collections::BTreeMap<_, _> = labels.into_iter().flatten().collect();
    let pairs: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}

/// An RFC 3339 time as Go's `time.Time.String()` prints it
/// (`2024-01-02 03:04:05.5 +0000 UTC`); the text itself if it is no time.
pub fn go_time(rfc3339: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return rfc3339.to_string();
    };
    let t = t.with_timezone(&chrono::Utc);
    let frac = format!("{:09}", t.timestamp_subsec_nanos());
    let frac = frac.trim_end_matches('0');
    let dot = if frac.is_empty() { "" } else { "." };
    format!("{}{dot}{frac} +0000 UTC", t.format("%Y-%m-%d %H:%M:%S"))
}

/// Docker's `ps`-style short id: the first 12 characters unless `no_trunc`.
pub fn short_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.chars().take(12).collect()
    }
}

/// `Deleted Containers:` and its list, when there is one.
pub fn print_deleted(what: &str, names: &[String]) {
    if !names.is_empty() {
        println!("Deleted {what}:");
        names.iter().for_each(|n| println!("{n}"));
        println!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_like_tabwriter() {
        let t = table(&[
            vec!["A".into(), "BB".into(), "C".into()],
            vec!["xxxx".into(), "".into(), "z".into()],
        ]);
        assert_eq!(t, "A      BB   C\nxxxx        z\n");
    }

    #[test]
    fn sizes_and_inspect_json() {
        let raw = "[{\"b\":1,\"a\":[],\"s\":\"x, \\\"{y}\\\": z\",\"o\":{ },\"l\":[1,2]}]\n";
        let want = "[\n    {\n        \"b\": 1,\n        \"a\": [],\n        \"s\": \"x, \\\"{y}\\\": z\",\n        \"o\": {},\n        \"l\": [\n            1,\n            2\n        ]\n    }\n]";
        assert_eq!(go_indent(raw, "    "), want);
        let compact = "[{\"b\":1,\"a\":[],\"s\":\"x, \\\"{y}\\\": z\",\"o\":{},\"l\":[1,2]}]";
        assert_eq!(go_indent(raw, ""), compact);
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1_500_000), "1.5MB");
        assert_eq!(human_size(1_035_900), "1.036MB");
        assert_eq!(human_size(123_456_789), "123.5MB");
    }
}
