//! `rrun history` / `rrun image history`: an image's layers as docker/cli
//! lists them, through its table or a `--format` template.

use anyhow::Result;
use clap::{ArgAction, Args};
use serde::Serialize;

use crate::apimodel::models::ImageHistoryResponseItem;

use super::client::Client;
use super::format::{list_format, print_rows, rows_of, short_size};
use super::images::encode_path;

// `history`'s flags.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format (`--human=false`
    /// for raw; no `-H`, which is rrun's global `--host`).
    #[arg(long, default_value = "true", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub human: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a template ('table', 'json', '{{.CreatedBy}}').
    #[arg(long)]
    pub format: Option<String>,
    pub image: String,
}

/// One `history` row: the fields a `--format` template sees.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryRow {
    #[serde(rename = "ID")]
    id: String,
    created_since: String,
    created_at: String,
    created_by: String,
    size: String,
    comment: String,
}

const HISTORY_TABLE: &str =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

const HISTORY_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

/// docker/cli's historyContext for one layer, `now` in Unix seconds.
pub fn history_row(h: &ImageHistoryResponseItem, a: &HistoryArgs, now: i64) -> HistoryRow {
    let id = match h.id.as_str() {
        "<missing>" => h.id.clone(),
        id if a.no_trunc => id.to_string(),
        id => id.trim_start_matches("sha256:").chars().take(12).collect(),
    };
    let created = chrono::DateTime::from_timestamp(h.created, 0).unwrap_or_default();
    let rfc3339 = created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let created_since = match a.human {
        true => format!("{} ago", rrun_units::human_duration_secs(now - h.created)),
        false => rfc3339.clone(),
    };
    let mut created_by = h.created_by.replace('\t', " ");
    if !a.no_trunc && created_by.chars().count() > 45 {
        created_by = created_by.chars().take(44).collect::<String>() + "…";
    }
    let size = match a.human {
        true => short_size(h.size.max(0) as u64),
        false => h.size.to_string(),
    };
    HistoryRow {
        id,
        created_since,
        created_at: rfc3339,
        created_by,
        size,
        comment: h.comment.clone(),
    }
}

pub fn history(c: &Client, a: &HistoryArgs) -> Result<i32> {
    let format = list_format(a.format.as_deref(), HISTORY_TABLE)?;
    let layers: Vec<ImageHistoryResponseItem> =
        c.get(&format!("/images/{}/history", encode_path(&a.image)))?;
    let now = chrono::Utc::now().timestamp();
    let rows: Vec<HistoryRow> = layers.iter().map(|h| history_row(h, a, now)).collect();
    if a.quiet {
        rows.iter().for_each(|r| println!("{}", r.id));
        return Ok(0);
    }
    print_rows(&format, &rows_of(&rows)?, HISTORY_HEADERS)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        a: HistoryArgs,
    }

    #[test]
    fn rows_as_docker_history() {
        let layer = ImageHistoryResponseItem {
            id: "sha256:0123456789abcdef".into(),
            created: 1000,
            created_by: "/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789 in / ".into(),
            size: 1_500_000,
            comment: "c".into(),
            ..Default::default()
        };
        let a = Cmd::parse_from(["h", "img"]).a;
        let r = history_row(&layer, &a, 1000 + 7200);
        assert_eq!(r.id, "0123456789ab");
        assert_eq!(r.created_since, "2 hours ago");
        assert_eq!(r.created_by.chars().count(), 45);
        assert!(r.created_by.ends_with('…'));
        assert_eq!(r.size, "1.5MB");
        let a = Cmd::parse_from(["h", "--human=false", "--no-trunc", "img"]).a;
        let r = history_row(&layer, &a, 0);
        assert_eq!(r.id, "sha256:0123456789abcdef");
        assert_eq!(r.size, "1500000");
        assert_eq!(r.created_since, "1970-01-01T00:16:40Z");
        let missing = ImageHistoryResponseItem {
            id: "<missing>".into(),
            ..Default::default()
        };
        assert_eq!(history_row(&missing, &a, 0).id, "<missing>");
    }
}
