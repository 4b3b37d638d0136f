//! Secrets and configs whose value is not a host file (`environment:`, a
//! config's `content:`): written into the created container before it
//! starts, through `PUT /containers/{id}/archive`, as Compose v2 does, at
//! the reference's target, mode 0444 unless it gives one, owned by its
//! `uid`/`gid` (root's by default).

use anyhow::{anyhow, Context, Result};

use rrun_compose::model::{FileObject, FileReference, Service};
use rrun_compose::Project;

use super::super::client::{enc, Client};

/// The tar of `s`'s non-file secrets and configs; `None` when it has none.
/// Made before the container is created, so a missing variable changes
/// nothing.
pub fn archive(p: &Project, s: &Service) -> Result<Option<Vec<u8>>> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut any = false;
    for (kind, refs, objects) in [
        ("secret", &s.secrets, &p.secrets),
        ("config", &s.configs, &p.configs),
    ] {
        for r in refs {
            let value = match objects.get(&r.source) {
                Some(FileObject::Environment(var)) => {
                    p.environment.get(var).cloned().ok_or_else(|| {
                        anyhow!(
                            "{kind} {:?} of service {:?}: environment variable {var} is not set: \
                             set it in the shell or in .env",
                            r.source,
                            s.name
                        )
                    })?
                }
                Some(FileObject::Content(text)) => text.clone(),
                _ => continue,
            };
            append(&mut tar, r, value.as_bytes())
                .with_context(|| format!("{kind} {:?} of service {:?}", r.source, s.name))?;
            any = true;
        }
    }
    let bytes = tar.into_inner()?;
    Ok(any.then_some(bytes))
}

fn append(tar: &mut tar::Builder<Vec<u8>>, r: &FileReference, value: &[u8]) -> Result<()> {
    let id = |v: &Option<String>, what: &str| -> Result<u64> {
        v.as_deref().map_or(Ok(0), |s| {
            s.parse()
                .map_err(|_| anyhow!("{what} `{s}` is not a number: give a numeric id"))
        })
    };
    let mut h = tar::Header::new_gnu();
    h.set_size(value.len() as u64);
    h.set_mode(r.mode.unwrap_or(0o444));
    h.set_uid(id(&r.uid, "uid")?);
    h.set_gid(id(&r.gid, "gid")?);
    h.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    h.set_entry_type(tar::EntryType::Regular);
    let name = r.target.trim_start_matches('/');
    tar.append_data(&mut h, name, value)?;
    Ok(())
}

/// Writes `archive` into container `id` (created, not started yet).
pub fn put(c: &Client, id: &str, archive: Option<Vec<u8>>) -> Result<()> {
    let Some(body) = archive else { return Ok(()) };
    let url = format!("/containers/{}/archive?path=%2F&copyUIDGID=true", enc(id));
    c.request("PUT", &url, Some(("application/x-tar", body.into())))
        .context("write the secrets and configs into the container")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(source: &str, target: &str, mode: Option<u32>) -> FileReference {
        FileReference {
            source: source.into(),
            target: target.into(),
            uid: Some("1000".into()),
            gid: None,
            mode,
        }
    }

    #[test]
    fn environment_and_content_values_at_their_targets() {
        let mut p = Project::default();
        p.environment.insert("PASS".into(), "s3cret".into());
        p.secrets
            .insert("pass".into(), FileObject::Environment("PASS".into()));
        p.secrets
            .insert("file".into(), FileObject::File("/etc/hostname".into()));
        p.configs
            .insert("conf".into(), FileObject::Content("a=1\n".into()));
        let s = Service {
            name: "web".into(),
            secrets: vec![
                reference("pass", "/run/secrets/pass", None),
                reference("file", "/run/secrets/file", None),
            ],
            configs: vec![reference("conf", "/etc/app.conf", Some(0o440))],
            ..Default::default()
        };
        let tar = archive(&p, &s).unwrap().unwrap();
        let mut ar = tar::Archive::new(&tar[..]);
        let got: Vec<(String, u32, u64, String)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let mut text = String::new();
                std::io::Read::read_to_string(&mut e, &mut text).unwrap();
                let h = e.header();
                let name = e.path().unwrap().display().to_string();
                (name, h.mode().unwrap(), h.uid().unwrap(), text)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("run/secrets/pass".into(), 0o444, 1000, "s3cret".into()),
                ("etc/app.conf".into(), 0o440, 1000, "a=1\n".into()),
            ]
        );

        p.environment.clear();
        let e = archive(&p, &s).unwrap_err().to_string();
        assert_eq!(
            e,
            "secret \"pass\" of service \"web\": environment variable PASS is not set: \
             set it in the shell or in .env"
        );
        let none = Service {
            secrets: vec![reference("file", "/run/secrets/file", None)],
            ..Default::default()
        };
        assert!(archive(&p, &none).unwrap().is_none());
    }
}
