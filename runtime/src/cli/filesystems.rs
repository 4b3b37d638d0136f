//! A container's filesystem: `commit` (as an image), `diff` (its changes
//! against the image) and `export` (as a tar archive), in docker/cli's
//! words.

use anyhow::Result;
use clap::{ArgAction, Args};
use serde_json::Value;

use super::client::{enc, Client};
use super::images::{split_tag, write_archive};

// `commit`'s flags.
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Commit message.
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit (`--pause=false` not to).
    #[arg(short, long, default_value = "true", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub pause: bool,
    pub container: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

// `diff`'s arguments.
#[derive(Debug, Args)]
pub struct DiffArgs {
    pub container: String,
}

// `export`'s flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
    pub container: String,
}

/// `POST /commit`'s query, as docker/cli sends it (`changes` repeated).
pub fn commit_query(a: &CommitArgs) -> String {
    let mut q = vec![format!("container={}", enc(&a.container))];
    if let Some(r) = &a.reference {
        let (repo, tag) = split_tag(r);
        q.push(format!("repo={}", enc(repo)));
        q.push(format!("tag={}", enc(tag)));
    }
    q.push(format!(
        "comment={}",
        enc(a.message.as_deref().unwrap_or(""))
    ));
    q.push(format!("author={}", enc(a.author.as_deref().unwrap_or(""))));
    q.push(format!("pause={}", a.pause));
    q.extend(a.change.iter().map(|c| format!("changes={}", enc(c))));
    format!("/commit?{}", q.join("&"))
}

/// `rrun commit`: prints the new image's id.
pub fn commit(c: &Client, a: &CommitArgs) -> Result<i32> {
    let v: Value = c.post(&commit_query(a))?.json()?;
    println!("{}", v["Id"].as_str().unwrap_or_default());
    Ok(0)
}

/// One change as `docker diff` prints it: `C /etc`, `A /new`, `D /gone`.
pub fn change_line(change: &Value) -> String {
    let kind = match change["Kind"].as_u64() {
        Some(0) => "C",
        Some(1) => "A",
        Some(2) => "D",
        _ => "?",
    };
    format!("{kind} {}", change["Path"].as_str().unwrap_or_default())
}

pub fn diff(c: &Client, a: &DiffArgs) -> Result<i32> {
    let changes: Option<Vec<Value>> =
        c.get(&format!("/containers/{}/changes", enc(&a.container)))?;
    changes
        .iter()
        .flatten()
        .for_each(|ch| println!("{}", change_line(ch)));
    Ok(0)
}

pub fn export(c: &Client, a: &ExportArgs) -> Result<i32> {
    use std::io::IsTerminal;
    if a.output.is_none() && std::io::stdout().is_terminal() {
        anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let body = c
        .request(
            "GET",
            &format!("/containers/{}/export", enc(&a.container)),
            None,
        )?
        .body;
    write_archive(body, a.output.as_deref())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        a: CommitArgs,
    }

    #[test]
    fn commit_queries_and_diff_lines() {
        let a = Cmd::parse_from([
            "c",
            "-m",
            "a b",
            "-c",
            "CMD [\"sh\"]",
            "--pause=false",
            "web",
            "repo:1",
        ])
        .a;
        assert_eq!(
            commit_query(&a),
            "/commit?container=web&repo=repo&tag=1&comment=a%20b&author=&pause=false&changes=CMD%20%5B%22sh%22%5D"
        );
        assert!(Cmd::parse_from(["c", "web"]).a.pause);
        assert_eq!(change_line(&json!({"Kind": 1, "Path": "/new"})), "A /new");
        assert_eq!(change_line(&json!({"Kind": 2, "Path": "/gone"})), "D /gone");
        assert_eq!(change_line(&json!({"Kind": 0, "Path": "/etc"})), "C /etc");
    }
}
