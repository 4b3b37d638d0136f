//! `docker commit`: a container's changes (its upper dir) as a new layer
//! on its image, with its config (and the request's overrides and
//! `--change` instructions) as the new image's. The layer and image
//! making is `rrun_image`'s; this decides what goes in.

use rrun_image::commit::{commit_image, CommitSpec};
use rrun_image::layer::layer_from_upper;
use rrun_image::manifest::ContainerConfig as ImageRunConfig;

use super::containers::pause::PAUSED;
use super::*;

/// The query of `POST /commit`.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    pub container: String,
    pub repo: String,
    pub tag: String,
    pub comment: String,
    pub author: String,
    /// Freeze a running container while its layer is written (default).
    pub pause: bool,
    /// Dockerfile instructions (`ENV A=1`, `CMD ["sh"]`).
    pub changes: Vec<String>,
    /// The request body: a run config, merged over the container's.
    pub config: Option<ImageRunConfig>,
}

impl Daemon {
    /// `POST /commit`: the new image's id.
    pub fn commit(&self, r: &CommitRequest) -> Result<String, ContainerError> {
        let c = self.container(&r.container)?;
        let refs = images::repo_tag_refs(&r.repo, &r.tag)?;
        let config = run_config(&c, r)?;
        let parent = find_image(&self.images, &c.image)?;
        let freeze = r.pause && c.state.running && c.state.status != PAUSED;
        if freeze {
            self.oci_run(&["pause", &c.id])
                .map_err(|reason| ImageError::CommitPause {
                    id: c.id.clone(),
                    reason,
                })?;
        }
        let layer = layer_from_upper(&self.images, &self.dir(&c.id).join("upper"));
        if freeze {
            if let Err(e) = self.oci_run(&["resume", &c.id]) {
                tracing::warn!(container = %c.id, error = %e, "resume after commit");
            }
        }
        let layer = layer.map_err(|e| commit_failed(&c.id, e))?;
        let spec = CommitSpec {
            config,
            created_by: std::iter::once(c.path.clone())
                .chain(c.args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" "),
            comment: Some(r.comment.clone()).filter(|s| !s.is_empty()),
            author: Some(r.author.clone()).filter(|s| !s.is_empty()),
            created: None,
        };
        let made = commit_image(&self.images, Some(&parent), Some(&layer), &spec, &refs)
            .map_err(|e| commit_failed(&c.id, e))?;
        let id = made.id.to_string();
        let image_ref = refs.first().map(|r| r.familiar()).unwrap_or_default();
        self.container_event(
            &c,
            "commit",
            &[
                ("comment", &r.comment),
                ("imageID", &id),
                ("imageRef", &image_ref),
            ],
        );
        tracing::info!(container = %c.id, image = %id, "committed");
        Ok(id)
    }
}

/// The new image's run config: the container's, or the body's when given,
/// then the `--change` instructions on top (the keys they set replace).
fn commit_failed(id: &str, e: impl std::fmt::Display) -> ImageError {
    ImageError::Commit {
        id: id.to_string(),
        reason: e.to_string(),
    }
}

fn run_config(c: &store::Container, r: &CommitRequest) -> Result<ImageRunConfig, ImageError> {
    let own = serde_json::to_value(&c.config)
        .and_then(serde_json::from_value::<ImageRunConfig>)
        .map_err(ImageError::internal)?;
    let asked = r.config.clone().unwrap_or_else(|| own.clone());
    let changed = rrun_build::instructions::apply_changes(asked, &r.changes)
        .map_err(ImageError::InvalidOption)?;
    Ok(merge(changed, own))
}

/// What the request's config leaves unset comes from the container's, as
/// dockerd's commit merges them (daemon/commit.go `merge`): single values
/// when empty, Env, Labels, ports and volumes key by key, the Healthcheck
/// field by field, and Cmd with the Entrypoint only when neither was given;
/// Shell and OnBuild are the request's alone, as there.
fn merge(mut new: ImageRunConfig, own: ImageRunConfig) -> ImageRunConfig {
    fn unset<T>(v: &Option<Vec<T>>) -> bool {
        v.as_ref().is_none_or(Vec::is_empty)
    }
    if new.user.as_deref().unwrap_or("").is_empty() {
        new.user = own.user;
    }
    if new.working_dir.as_deref().unwrap_or("").is_empty() {
        new.working_dir = own.working_dir;
    }
    if new.stop_signal.as_deref().unwrap_or("").is_empty() {
        new.stop_signal = own.stop_signal;
    }
    if unset(&new.entrypoint) && unset(&new.cmd) {
        new.cmd = own.cmd;
        new.entrypoint = own.entrypoint;
    }
    let key = |e: &String| e.split('=').next().unwrap_or("").to_string();
    let mut env = new.env.take().unwrap_or_default();
    for e in own.env.unwrap_or_default() {
        if !env.iter().any(|n| key(n) == key(&e)) {
            env.push(e);
        }
    }
    new.env = (!env.is_empty()).then_some(env);
    new.labels = fill(new.labels, own.labels);
    new.exposed_ports = fill(new.exposed_ports, own.exposed_ports);
    new.volumes = fill(new.volumes, own.volumes);
    new.healthcheck = match (new.healthcheck, own.healthcheck) {
        (Some(mut h), Some(o)) => {
            let zero = |v: Option<i64>| v.unwrap_or(0) == 0;
            if unset(&h.test) {
                h.test = o.test;
            }
            for (mine, theirs) in [
                (&mut h.interval, o.interval),
                (&mut h.timeout, o.timeout),
                (&mut h.start_period, o.start_period),
                (&mut h.retries, o.retries),
            ] {
                if zero(*mine) {
                    *mine = theirs;
                }
            }
            Some(h)
        }
        (h, o) => h.or(o),
    };
    new
}

/// `new`'s entries, plus `own`'s whose keys `new` lacks.
fn fill<V>(
    new: Option<std::collections::BTreeMap<String, V>>,
    own: Option<std::collections::BTreeMap<String, V>>,
) -> Option<std::collections::BTreeMap<String, V>> {
    let mut m = new.unwrap_or_default();
    for (k, v) in own.unwrap_or_default() {
        m.entry(k).or_insert(v);
    }
    (!m.is_empty()).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_override_the_containers_config() {
        let mut c = store::Container::default();
        c.config.env = vec!["A=1".into()];
        c.config.cmd = Some(vec!["sleep".into(), "1".into()]);
        c.config.labels = [("x".to_string(), "y".to_string())].into();
        let r = CommitRequest {
            changes: vec!["CMD [\"echo\", \"hi\"]".into(), "USER nobody".into()],
            ..Default::default()
        };
        let cfg = run_config(&c, &r).unwrap();
        assert_eq!(cfg.cmd, Some(vec!["echo".to_string(), "hi".to_string()]));
        assert_eq!(cfg.user.as_deref(), Some("nobody"));
        assert_eq!(cfg.env, Some(vec!["A=1".to_string()]));
        assert_eq!(cfg.labels.unwrap()["x"], "y");
        // A config in the body is merged over the container's, as dockerd
        // does: its Env by key, its Cmd kept, the rest inherited.
        let merged = CommitRequest {
            config: Some(ImageRunConfig {
                env: Some(vec!["A=2".into(), "B=3".into()]),
                cmd: Some(vec!["top".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let cfg = run_config(&c, &merged).unwrap();
        assert_eq!(cfg.env, Some(vec!["A=2".to_string(), "B=3".to_string()]));
        assert_eq!(cfg.cmd, Some(vec!["top".to_string()]));
        assert_eq!(cfg.labels.unwrap()["x"], "y");
        let empty = CommitRequest {
            config: Some(ImageRunConfig::default()),
            ..Default::default()
        };
        let cfg = run_config(&c, &empty).unwrap();
        assert_eq!(cfg.cmd, Some(vec!["sleep".to_string(), "1".to_string()]));
        let bad = CommitRequest {
            changes: vec!["RUN rm -rf /".into()],
            ..Default::default()
        };
        assert!(run_config(&c, &bad).is_err());
        assert!(images::repo_tag_refs("UPPER", "").is_err());
        assert_eq!(images::repo_tag_refs("", "").unwrap(), vec![]);
        let named = images::repo_tag_refs("a/b:1", "").unwrap();
        assert_eq!(named[0].familiar(), "a/b:1");
        let tagged = images::repo_tag_refs("a/b", "2").unwrap();
        assert_eq!(tagged[0].familiar(), "a/b:2");
    }
}
