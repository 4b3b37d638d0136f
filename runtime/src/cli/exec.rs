//! `rrun exec` and `rrun attach`, over the daemon's hijacked streams.

use anyhow::Result;
use clap::Args;

use crate::apimodel::detach;
use crate::apimodel::models::{
    ContainerInspectResponse, ContainerWaitResponse, ExecConfig, ExecInspectResponse,
    ExecStartConfig, IdResponse,
};
use crate::apimodel::query::{AttachQuery, ResizeQuery};

use super::client::{self, enc, url, Client};
use super::tty::{self, Ended, Session};
use super::Exit;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Give extended privileges to the command.
    #[arg(long)]
    pub privileged: bool,
    /// Override the key sequence for detaching (`ctrl-<x>,<y>`).
    #[arg(long, default_value = "")]
    pub detach_keys: String,
    pub container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long)]
    pub no_stdin: bool,
    /// Override the key sequence for detaching (`ctrl-<x>,<y>`).
    #[arg(long, default_value = "")]
    pub detach_keys: String,
    pub container: String,
}

/// `-e NAME` takes NAME's value from rrun's environment (dropped if unset),
/// as Docker does.
pub fn env_list(flags: &[String]) -> Vec<String> {
    flags
        .iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e.clone())
            } else {
                std::env::var(e).ok().map(|v| format!("{e}={v}"))
            }
        })
        .collect()
}

/// Docker refuses `-it` when stdin is not a terminal.
pub fn check_tty_input(interactive: bool, tty: bool) -> Result<()> {
    if interactive && tty && !tty::stdin_is_tty() {
        eprintln!("the input device is not a TTY");
        return Err(Exit(1).into());
    }
    Ok(())
}

/// A resize callback posting to `path` (`/containers/{id}/resize` or
/// `/exec/{id}/resize`).
pub fn resizer(c: &Client, path: String) -> Box<dyn Fn(u16, u16) + Send + Sync> {
    let c = c.clone();
    Box::new(move |h, w| {
        if let Ok(u) = url(&path, &ResizeQuery { h, w }) {
            let _ = c.post(&u);
        }
    })
}

/// `--detach-keys` parsed as Docker does; its error is Docker's line.
pub fn detach_keys(spec: &str) -> Result<Vec<u8>> {
    detach::parse(spec).map_err(|e| anyhow::anyhow!(e))
}

/// The attach request of a terminal session: the stream, stdin if asked.
pub fn attach_url(id: &str, stdin: bool, detach_keys: &str) -> Result<String> {
    let q = AttachQuery {
        stream: true,
        stdin,
        stdout: true,
        stderr: true,
        detach_keys: detach_keys.into(),
    };
    url(&format!("/containers/{id}/attach"), &q)
}

pub fn exec(c: &Client, a: ExecArgs) -> Result<i32> {
    check_tty_input(a.interactive && !a.detach, a.tty)?;
    let keys = detach_keys(&a.detach_keys)?;
    let body = ExecConfig {
        user: Some(a.user.clone().unwrap_or_default()),
        privileged: Some(a.privileged),
        tty: Some(a.tty),
        attach_stdin: Some(a.interactive && !a.detach),
        attach_stdout: Some(!a.detach),
        attach_stderr: Some(!a.detach),
        detach_keys: Some(a.detach_keys.clone()),
        env: Some(env_list(&a.env)),
        working_dir: Some(a.workdir.clone().unwrap_or_default()),
        cmd: Some(a.command.clone()),
        console_size: tty::console_size(a.tty),
    };
    let created: IdResponse = c
        .post_json(&format!("/containers/{}/exec", enc(&a.container)), &body)?
        .json()?;
    let id = created.id;
    let start = |detach| ExecStartConfig {
        detach: Some(detach),
        tty: Some(a.tty),
        console_size: None,
    };
    if a.detach {
        c.post_json(&format!("/exec/{id}/start"), &start(true))?;
        return Ok(0);
    }
    let conn = c.upgrade(&format!("/exec/{id}/start"), Some(&start(false)))?;
    let ended = Session {
        conn,
        tty: a.tty,
        stdin: a.interactive,
        detach_keys: keys,
        resize: Some(resizer(c, format!("/exec/{id}/resize"))),
    }
    .run()?;
    if ended == Ended::Detached {
        eprintln!("{}", tty::DETACHED);
        return Ok(0);
    }
    let v: ExecInspectResponse = c.get(&format!("/exec/{id}/json"))?;
    Ok(v.exit_code.unwrap_or(125) as i32)
}

pub fn attach(c: &Client, a: AttachArgs) -> Result<i32> {
    let v: ContainerInspectResponse = c.get(&format!("/containers/{}/json", enc(&a.container)))?;
    if !v.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
        eprintln!("You cannot attach to a stopped container, start it first");
        return Err(Exit(1).into());
    }
    let id = v.id.unwrap_or_default();
    let config = v.config.unwrap_or_default();
    let tty = config.tty.unwrap_or(false);
    let stdin = config.open_stdin.unwrap_or(false) && !a.no_stdin;
    check_tty_input(stdin, tty)?;
    let keys = detach_keys(&a.detach_keys)?;
    let conn = c.upgrade(&attach_url(&id, stdin, &a.detach_keys)?, None::<&()>)?;
    let ended = Session {
        conn,
        tty,
        stdin,
        detach_keys: keys,
        resize: Some(resizer(c, format!("/containers/{id}/resize"))),
    }
    .run()?;
    if ended == Ended::Detached {
        eprintln!("{}", tty::DETACHED);
        return Ok(0);
    }
    // The stream ends with the container: its exit code is rrun's.
    let rx = c
        .post(&format!("/containers/{id}/wait"))
        .and_then(|r| r.json::<ContainerWaitResponse>());
    match rx {
        Ok(w) => Ok(w.status_code as i32),
        Err(e) => match e.downcast_ref::<client::ApiError>() {
            Some(api) if api.status == 404 => Ok(0),
            _ => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        a: ExecArgs,
    }

    #[test]
    fn exec_flags_parse_like_dockers() {
        let t = T::try_parse_from([
            "exec",
            "-it",
            "-e",
            "A=1",
            "--env",
            "B=2",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "--privileged",
            "c1",
            "sh",
            "-c",
            "echo -n hi",
        ])
        .unwrap();
        let a = t.a;
        assert!(a.interactive && a.tty && a.privileged && !a.detach);
        assert_eq!(a.env, vec!["A=1", "B=2"]);
        assert_eq!(a.user.as_deref(), Some("nobody"));
        assert_eq!(a.workdir.as_deref(), Some("/tmp"));
        assert_eq!(a.container, "c1");
        assert_eq!(a.command, vec!["sh", "-c", "echo -n hi"]);
        assert!(T::try_parse_from(["exec", "c1"]).is_err());
    }

    #[test]
    fn bare_env_names_come_from_the_environment() {
        let v = env_list(&["A=1".into(), "RRUN_SURELY_UNSET_VAR".into()]);
        assert_eq!(v, vec!["A=1"]);
    }
}
