//! `docker push` and `docker login` on the daemon: the credentials a client
//! sends (`X-Registry-Auth`, the `/auth` body) checked and decoded once,
//! a registry client that holds them for the one request, and the push's
//! progress as Docker's JSON messages. Pushing itself is `rrun_image::push`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::apimodel::progress::ProgressMessage;
use base64::Engine as _;
use serde::Deserialize;

use rrun_image::credentials::{registry_host, Credential};
use rrun_image::push::{push, PushOptions, PushProgressFn};
use rrun_image::registry::{RegistryClient, RegistryError};
use rrun_image::Reference;

use super::*;

/// Docker's AuthConfig, as `X-Registry-Auth` (base64url JSON) and the
/// `POST /auth` body carry it. `auth` is base64 of `user:password`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuthConfig {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub auth: String,
    #[serde(default, rename = "serveraddress")]
    pub server_address: String,
}

impl AuthConfig {
    /// The user name and password, if the config holds any.
    pub fn credential(&self) -> Result<Option<Credential>, String> {
        if !self.username.is_empty() {
            return Ok(Some(Credential {
                username: self.username.clone(),
                password: self.password.clone(),
            }));
        }
        if self.auth.is_empty() {
            return Ok(None);
        }
        let raw = decode_base64(&self.auth).ok_or("auth is not base64")?;
        let text = String::from_utf8(raw).map_err(|_| "auth is not UTF-8")?;
        let (u, p) = text.split_once(':').ok_or("auth is not user:password")?;
        Ok(Some(Credential {
            username: u.into(),
            password: p.into(),
        }))
    }
}

/// Base64 as the docker CLI (URL-safe) or older clients (standard) write
/// it, padded or not.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let s = s.trim().trim_end_matches('=');
    let padded = format!("{s}{}", "=".repeat((4 - s.len() % 4) % 4));
    URL_SAFE
        .decode(&padded)
        .or_else(|_| STANDARD.decode(&padded))
        .ok()
}

/// `X-Registry-Auth`: absent, empty or `{}` means anonymous.
pub fn registry_auth_header(value: Option<&str>) -> Result<Option<Credential>, ImageError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad =
        |why: &str| ImageError::InvalidOption(format!("invalid X-Registry-Auth header: {why}"));
    let raw = decode_base64(v).ok_or_else(|| bad("not base64"))?;
    let cfg: AuthConfig = serde_json::from_slice(&raw).map_err(|e| bad(&e.to_string()))?;
    cfg.credential().map_err(|e| bad(&e))
}

impl Daemon {
    /// The daemon's registry client, or one that also holds `cred` for
    /// `domain` (a request's own credentials, used for that request only).
    pub(crate) fn registry_for(
        &self,
        domain: &str,
        cred: Option<Credential>,
    ) -> Option<RegistryClient> {
        let mut opts = self.registry.options().clone();
        opts.auths.insert(domain.to_string(), cred?);
        Some(RegistryClient::new(opts))
    }

    /// `POST /auth`: the credentials checked against the registry's `/v2/`.
    pub fn login(&self, a: &AuthConfig) -> Result<(), ImageError> {
        let cred = a
            .credential()
            .map_err(ImageError::InvalidOption)?
            .ok_or_else(|| ImageError::InvalidOption("a user name is required to log in".into()))?;
        let domain = registry_host(if a.server_address.is_empty() {
            "docker.io"
        } else {
            &a.server_address
        });
        match self.registry.login(&domain, &cred) {
            Ok(()) => Ok(()),
            // dockerd's words (registry/auth.go), naming the endpoint asked.
            Err(RegistryError::Unauthorized { .. }) => {
                let base = self
                    .registry
                    .options()
                    .endpoints(&domain)
                    .into_iter()
                    .rfind(|e| !e.mirror)
                    .map(|e| e.base)
                    .unwrap_or_else(|| format!("https://{domain}"));
                Err(ImageError::LoginRefused(base))
            }
            Err(e) => Err(ImageError::internal(e)),
        }
    }

    /// The references `POST /images/{name}/push?tag=` means: `name:tag`,
    /// or every local tag of `name` when the tag is empty (`push -a`).
    fn push_targets(&self, name: &str, tag: &str) -> Result<Vec<Reference>, String> {
        let full = match tag {
            "" => name.to_string(),
            t if t.starts_with("sha256:") => format!("{name}@{t}"),
            t => format!("{name}:{t}"),
        };
        let reference = Reference::parse(&full).map_err(|e| e.to_string())?;
        if !tag.is_empty() {
            return Ok(vec![reference]);
        }
        let refs = self.images.repositories().map_err(|e| e.to_string())?.refs;
        let tagged: Vec<Reference> = refs
            .keys()
            .filter_map(|k| Reference::parse(k).ok())
            .filter(|r| {
                r.domain() == reference.domain()
                    && r.path() == reference.path()
                    && r.tag().is_some()
                    && r.digest().is_none()
            })
            .collect();
        if tagged.is_empty() {
            return Err(format!(
                "An image does not exist locally with the tag: {}",
                reference.familiar_name()
            ));
        }
        Ok(tagged)
    }

    /// `POST /images/{name}/push`: Docker's progress messages through
    /// `send`, a failure as the last message's `error` (the answer is a
    /// 200 stream by then, as with dockerd).
    pub fn push_stream(
        &self,
        name: &str,
        tag: &str,
        cred: Option<Credential>,
        cancel: Arc<AtomicBool>,
        send: Arc<dyn Fn(ProgressMessage) + Send + Sync>,
    ) {
        if let Err(e) = self.push_all(name, tag, cred, cancel, send.clone()) {
            send(ProgressMessage::error(e));
        }
    }

    fn push_all(
        &self,
        name: &str,
        tag: &str,
        cred: Option<Credential>,
        cancel: Arc<AtomicBool>,
        send: Arc<dyn Fn(ProgressMessage) + Send + Sync>,
    ) -> Result<(), String> {
        let targets = self.push_targets(name, tag)?;
        let first = &targets[0];
        send(ProgressMessage::status(format!(
            "The push refers to repository [{}/{}]",
            first.domain(),
            first.path()
        )));
        let own = self.registry_for(first.domain(), cred);
        let client = own.as_ref().unwrap_or(&self.registry);
        let s = send.clone();
        let progress: PushProgressFn = Arc::new(move |p| {
            // rrun-image writes them as JSON values: read back into the
            // one progress type (every field optional, so none is lost).
            for v in p.docker_json() {
                if let Ok(m) = serde_json::from_value(v) {
                    s(m);
                }
            }
        });
        let opts = PushOptions {
            progress: Some(progress),
            cancel: Some(cancel),
            ..Default::default()
        };
        for r in &targets {
            push(&self.images, client, r, &opts).map_err(|e| e.to_string())?;
            let n = r.familiar();
            self.events.emit("image", "push", &n, &[("name", &n)]);
            tracing::info!(image = %n, "pushed");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_auth_headers_decode_as_dockerd_reads_them() {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE.encode(s);
        assert!(registry_auth_header(None).unwrap().is_none());
        assert!(registry_auth_header(Some(&enc("{}"))).unwrap().is_none());
        let c = registry_auth_header(Some(&enc(
            r#"{"username":"alice","password":"s3cret?>","serveraddress":"127.0.0.1:5000"}"#,
        )))
        .unwrap()
        .unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("alice", "s3cret?>")
        );
        // Unpadded, and the `auth` field alone.
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:pw");
        let h = enc(&format!(r#"{{"auth":"{auth}"}}"#));
        let c = registry_auth_header(Some(h.trim_end_matches('=')))
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("bob", "pw"));
        let e = registry_auth_header(Some("!!!")).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(e.to_string().contains("X-Registry-Auth"), "{e}");
    }
}
