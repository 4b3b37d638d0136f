//! Output as Docker's CLI writes it: tabwriter tables, `--format`
//! templates (`{{json .}}`, `{{.Field}}`), inspect arrays, human sizes and
//! the prune confirmation.

use anyhow::Result;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

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

/// `--format`: `{{json .}}`, `{{.Field}}`, `{{.A.B}}` and literal text.
pub fn format_value(tpl: &str, v: &Value) -> String {
    let mut out = String::new();
    let mut rest = tpl;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("}}") else {
            out.push_str(&rest[i..]);
            return out;
        };
        let expr = rest[i + 2..i + j].trim();
        rest = &rest[i + j + 2..];
        let (json_out, path) = match expr.strip_prefix("json ") {
            Some(p) => (true, p.trim()),
            None => (false, expr),
        };
        let mut cur = v;
        for part in path
            .trim_start_matches('.')
            .split('.')
            .filter(|p| !p.is_empty())
        {
            cur = &cur[part];
        }
        if json_out {
            out.push_str(&cur.to_string());
        } else {
            match cur {
                Value::String(s) => out.push_str(s),
                Value::Null => out.push_str("<no value>"),
                other => out.push_str(&other.to_string()),
            }
        }
    }
    out.push_str(rest);
    out.replace("\\t", "\t").replace("\\n", "\n")
}

/// Inspect output: each name through `get`, printed as one JSON array or
/// a line per object through `format`; errors on stderr, exit code 1 if
/// any failed.
pub fn print_inspected<T: Serialize>(
    names: &[String],
    format: Option<&str>,
    get: impl Fn(&str) -> Result<T>,
) -> Result<i32> {
    let mut out = Vec::new();
    let mut failed = false;
    for n in names {
        match get(n).and_then(|v| Ok(serde_json::to_value(v)?)) {
            Ok(v) => out.push(v),
            Err(e) => {
                eprintln!("{e:#}");
                failed = true;
            }
        }
    }
    match format {
        Some(f) => out.iter().for_each(|v| println!("{}", format_value(f, v))),
        None => println!("{}", serde_json::to_string_pretty(&Value::Array(out))?),
    }
    Ok(if failed { 1 } else { 0 })
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

/// Renders `rows` with a `--format` template: `table …` gets a header
/// (from `headers`: field → title) and aligned columns.
pub fn print_formatted(tpl: &str, rows: &[Value], headers: &[(&str, &str)]) {
    let (is_table, tpl) = match tpl.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start()),
        None => (false, tpl),
    };
    if !is_table {
        for r in rows {
            println!("{}", format_value(tpl, r));
        }
        return;
    }
    let head: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut lines = vec![format_value(tpl, &Value::Object(head))];
    lines.extend(rows.iter().map(|r| format_value(tpl, r)));
    let cells: Vec<Vec<String>> = lines
        .iter()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect();
    print!("{}", table(&cells));
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
    fn formats_render() {
        let v = json!({"Name": "n", "IPAM": {"Driver": "default"}});
        assert_eq!(format_value("{{.Name}}", &v), "n");
        assert_eq!(format_value("{{.IPAM.Driver}}/{{.Name}}", &v), "default/n");
        assert_eq!(
            format_value("{{json .IPAM}}", &v),
            r#"{"Driver":"default"}"#
        );
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1_500_000), "1.5MB");
        assert_eq!(human_size(1_035_900), "1.036MB");
        assert_eq!(human_size(123_456_789), "123.5MB");
    }
}
