//! `rrun login` / `rrun logout`, as docker/cli's: the daemon checks the
//! credentials against the registry (`POST /auth`), then they are kept in
//! Docker's config.json (or the credential helper it names), where
//! `rrun push` finds them and sends them as `X-Registry-Auth`.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use clap::Args;

use crate::apimodel::models::AuthConfig;

use rrun_image::credentials::{
    default_docker_config, erase_credential, registry_host, server_key, store_credential,
};
use rrun_image::registry::{Credential, RegistryOptions};

use super::client::Client;

// `login`'s flags.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password.
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// The registry (default: Docker Hub).
    pub server: Option<String>,
}

// `logout`'s arguments.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (default: Docker Hub).
    pub server: Option<String>,
}

fn config_path() -> Result<PathBuf> {
    default_docker_config().context("neither DOCKER_CONFIG nor HOME is set")
}

/// The registry host a `SERVER` argument names (Docker Hub without one).
fn host_of(server: Option<&str>) -> String {
    registry_host(server.unwrap_or("docker.io"))
}

pub fn login(c: &Client, a: &LoginArgs) -> Result<i32> {
    let Some(username) = a.username.clone().filter(|u| !u.is_empty()) else {
        bail!("rrun login needs a username (-u); interactive prompts are not supported");
    };
    let password = match (&a.password, a.password_stdin) {
        (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => p.clone(),
        (None, true) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("read the password from stdin")?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => bail!("rrun login needs a password (-p or --password-stdin)"),
    };
    let host = host_of(a.server.as_deref());
    let body = AuthConfig {
        username: Some(username.clone()),
        password: Some(password.clone()),
        serveraddress: Some(server_key(&host)),
    };
    c.post_json("/auth", &body)?;
    let cred = Credential { username, password };
    store_credential(&config_path()?, &host, &cred)?;
    println!("Login Succeeded");
    Ok(0)
}

pub fn logout(a: &LogoutArgs) -> Result<i32> {
    let host = host_of(a.server.as_deref());
    if erase_credential(&config_path()?, &host)? {
        println!("Removing login credentials for {}", server_key(&host));
    } else {
        println!("Not logged in to {}", server_key(&host));
    }
    Ok(0)
}

/// The `X-Registry-Auth` value for pushing `image`: the stored credentials
/// of its registry, base64url JSON as docker/cli sends it; None without any.
pub fn registry_auth(image: &str) -> Result<Option<String>> {
    let Ok(r) = rrun_image::Reference::parse(image) else {
        return Ok(None);
    };
    let mut opts = RegistryOptions::default();
    opts.load_docker_config(&config_path()?)?;
    Ok(opts.credential(r.domain()).map(|c| {
        let v = AuthConfig {
            username: Some(c.username),
            password: Some(c.password),
            serveraddress: Some(r.domain().to_string()),
        };
        let text = serde_json::to_string(&v).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE.encode(text)
    }))
}
