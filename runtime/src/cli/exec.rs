//! `rrun exec` and `rrun attach`, over the daemon's hijacked streams.

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{json, Value};

use super::client::{self, enc, Client};
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
    pub container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long)]
    pub no_stdin: bool,
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
    let socket = c.socket.clone();
    Box::new(move |h, w| {
        let c = Client {
            socket: socket.clone(),
        };
        let _ = c.post(&format!("{path}?h={h}&w={w}"), None);
    })
}

pub fn exec(c: &Client, a: ExecArgs) -> Result<i32> {
    check_tty_input(a.interactive && !a.detach, a.tty)?;
    let body = json!({
        "User": a.user.clone().unwrap_or_default(),
        "Privileged": a.privileged,
        "Tty": a.tty,
        "AttachStdin": a.interactive && !a.detach,
        "AttachStdout": !a.detach,
        "AttachStderr": !a.detach,
        "Detach": a.detach,
        "DetachKeys": "",
        "Env": env_list(&a.env),
        "WorkingDir": a.workdir.clone().unwrap_or_default(),
        "Cmd": a.command,
        "ConsoleSize": tty::console_size(a.tty),
    });
    let created = c
        .post(
            &format!("/containers/{}/exec", enc(&a.container)),
            Some(body),
        )?
        .json()?;
    let id = created["Id"]
        .as_str()
        .context("the daemon's answer has no Id")?
        .to_string();
    if a.detach {
        c.post(
            &format!("/exec/{id}/start"),
            Some(json!({"Detach": true, "Tty": a.tty})),
        )?;
        return Ok(0);
    }
    let conn = c.upgrade_with(
        &format!("/exec/{id}/start"),
        Some(json!({"Detach": false, "Tty": a.tty})),
    )?;
    let ended = Session {
        conn,
        tty: a.tty,
        stdin: a.interactive,
        resize: Some(resizer(c, format!("/exec/{id}/resize"))),
    }
    .run()?;
    if ended == Ended::Detached {
        eprintln!("{}", tty::DETACHED);
        return Ok(0);
    }
    let v = c.get(&format!("/exec/{id}/json"))?;
    Ok(v["ExitCode"].as_i64().unwrap_or(125) as i32)
}

pub fn attach(c: &Client, a: AttachArgs) -> Result<i32> {
    let v: Value = c.get(&format!("/containers/{}/json", enc(&a.container)))?;
    if v["State"]["Running"] != true {
        eprintln!("You cannot attach to a stopped container, start it first");
        return Err(Exit(1).into());
    }
    let id = v["Id"].as_str().unwrap_or_default().to_string();
    let tty = v["Config"]["Tty"] == true;
    let stdin = v["Config"]["OpenStdin"] == true && !a.no_stdin;
    check_tty_input(stdin, tty)?;
    let conn = c.upgrade(&format!(
        "/containers/{id}/attach?stream=1&stdin={}&stdout=1&stderr=1",
        u8::from(stdin)
    ))?;
    let ended = Session {
        conn,
        tty,
        stdin,
        resize: Some(resizer(c, format!("/containers/{id}/resize"))),
    }
    .run()?;
    if ended == Ended::Detached {
        eprintln!("{}", tty::DETACHED);
        return Ok(0);
    }
    // The stream ends with the container: its exit code is rrun's.
    let rx = c.post(&format!("/containers/{id}/wait"), None)?.json();
    match rx {
        Ok(w) => Ok(w["StatusCode"].as_i64().unwrap_or(0) as i32),
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
