//! The image endpoints beyond pull/list/tag/load: remove, inspect, save,
//! import, prune, and the list filters. The rules (Docker's delete
//! conflicts, garbage collection) live in `rrun_image`; this module tells
//! it which containers use which image.

use std::collections::BTreeSet;
use std::path::Path;

use crate::apimodel::models::{ImageDeleteResponseItem, ImageHistoryResponseItem, ImageSummary};
use crate::apimodel::{ImageListItem, ImagePruneReport};
use rrun_image::images::{self, ImageUser, LocalImage, Removed};
use rrun_image::{Digest, Reference};
use serde_json::Value;

use super::{find_image, Daemon, Filters, ImageError};

/// `[{"Untagged": …}, {"Deleted": …}]`, Docker's `ImageDeleteResponseItem`s.
pub fn removed_items(r: &[Removed]) -> Vec<ImageDeleteResponseItem> {
    r.iter()
        .map(|x| match x {
            Removed::Untagged(n) => ImageDeleteResponseItem {
                untagged: Some(n.clone()),
                deleted: None,
            },
            Removed::Deleted(d) => ImageDeleteResponseItem {
                untagged: None,
                deleted: Some(d.to_string()),
            },
        })
        .collect()
}

impl Daemon {
    /// Which containers (running or stopped) use the image with this id.
    pub fn image_users(&self, id: &Digest) -> Vec<ImageUser> {
        let id = id.to_string();
        self.all()
            .into_iter()
            .filter(|c| c.image == id)
            .map(|c| ImageUser {
                container: c.id,
                running: c.state.running,
            })
            .collect()
    }

    /// Every image in the store, named or not (untagged images are found
    /// through their manifest blobs).
    pub fn all_images(&self) -> Result<Vec<LocalImage>, ImageError> {
        // Keyed on the image id, as Docker's: another manifest of a named
        // image (left by a load) is not a second, dangling image.
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for img in images::list_images(&self.images)? {
            seen.insert(img.id.clone());
            out.push(img);
        }
        for d in self.images.list_blobs().map_err(ImageError::internal)? {
            if !looks_like_json(&self.images.blob_path(&d)) {
                continue;
            }
            if let Ok(img) = images::load_image(&self.images, &d) {
                if seen.insert(img.id.clone()) {
                    out.push(img);
                }
            }
        }
        Ok(out)
    }

    /// `DELETE /images/{name}`.
    pub fn image_remove(
        &self,
        name: &str,
        force: bool,
    ) -> Result<Vec<ImageDeleteResponseItem>, ImageError> {
        let users = |d: &Digest| self.image_users(d);
        let img = find_image(&self.images, name).ok();
        let removed = images::remove(&self.images, name, force, &users)?;
        let id = img.map(|i| i.id.to_string()).unwrap_or_default();
        for r in &removed {
            match r {
                Removed::Untagged(n) => self.events.emit("image", "untag", &id, &[("name", n)]),
                Removed::Deleted(d) => {
                    let d = d.to_string();
                    self.events.emit("image", "delete", &d, &[("name", &d)])
                }
            }
        }
        Ok(removed_items(&removed))
    }

    /// `GET /images/{name}/history`: the config's history, newest first;
    /// the top entry carries the image's id and tags, the others
    /// `<missing>` (as dockerd shows a pulled image's).
    pub fn image_history(&self, name: &str) -> Result<Vec<ImageHistoryResponseItem>, ImageError> {
        let img = find_image(&self.images, name)?;
        Ok(history_of(&img))
    }

    /// `create --platform`: an image here of another platform is dockerd's
    /// 404 in its words, after which a client pulls that platform, as for a
    /// missing image (the create's own 404).
    pub fn check_image_platform(
        &self,
        name: &str,
        p: &rrun_image::manifest::Platform,
    ) -> Result<(), ImageError> {
        let img = match images::find_image(&self.images, name) {
            Ok(img) => img,
            Err(images::ImageError::NoSuchImage(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let c = &img.config;
        let variant_differs = matches!((&c.variant, &p.variant), (Some(a), Some(b)) if a != b);
        if c.os == p.os && c.architecture == p.architecture && !variant_differs {
            return Ok(());
        }
        Err(ImageError::PlatformMismatch {
            name: name.to_string(),
            wanted: p.to_string(),
            actual: c.platform().to_string(),
        })
    }

    /// `GET /images/{name}/json`.
    pub fn image_inspect(&self, name: &str) -> Result<images::ImageInspect, ImageError> {
        let img = find_image(&self.images, name)?;
        Ok(images::inspect(&img))
    }

    /// `POST /images/prune`: dangling images (no name) not used by any
    /// container; with `dangling=false`, every image no container uses.
    pub fn image_prune(&self, filters: &Filters) -> Result<ImagePruneReport, ImageError> {
        let f = ImageFilter::new(filters, PRUNE_FILTERS, self)?;
        let all = f.dangling == Some(false);
        let mut deleted = Vec::new();
        let mut space = 0u64;
        for img in self.all_images()? {
            if (!all && !img.refs.is_empty()) || !self.image_users(&img.id).is_empty() {
                continue;
            }
            if !f.matches(&img) {
                continue;
            }
            let size = img.size();
            match self.image_remove(&img.id.to_string(), true) {
                Ok(r) => {
                    space += size;
                    deleted.extend(r);
                }
                Err(e) => tracing::warn!(image = %img.id, error = %e, "prune"),
            }
        }
        let users = |d: &Digest| self.image_users(d);
        images::garbage_collect(&self.images, &users)?;
        Ok(ImagePruneReport {
            images_deleted: (!deleted.is_empty()).then_some(deleted),
            space_reclaimed: space,
        })
    }

    /// `POST /images/create?fromSrc=-`: the body is a root filesystem
    /// tarball; `changes` are Dockerfile instructions for its config.
    pub fn image_import(
        &self,
        tarball: &Path,
        repo: &str,
        tag: &str,
        changes: &[String],
    ) -> Result<String, ImageError> {
        let config = rrun_build::instructions::apply_changes(Default::default(), changes)
            .map_err(ImageError::InvalidOption)?;
        let refs = repo_tag_refs(repo, tag)?;
        let id = rrun_image::archive::import_with(&self.images, tarball, &refs, &config)
            .map_err(|e| ImageError::InvalidOption(e.to_string()))?;
        let name = refs.first().map(|r| r.familiar()).unwrap_or_default();
        self.events
            .emit("image", "import", &id.to_string(), &[("name", &name)]);
        Ok(id.to_string())
    }

    /// `GET /images/json` with `all` and `filters` (dangling, reference,
    /// label, before, since, until). Untagged images are listed (`<none>`,
    /// as Docker's), except, without `all`, the intermediate ones a build
    /// left under a later image.
    pub fn image_list(
        &self,
        filters: &Filters,
        all: bool,
    ) -> Result<Vec<ImageListItem>, ImageError> {
        let f = ImageFilter::new(filters, LIST_FILTERS, self)?;
        // An untagged manifest whose layers are not all unpacked is what a
        // refused load or pull left behind, not an image (prune removes it).
        let whole = |i: &LocalImage| {
            !i.refs.is_empty()
                || i.chain_ids
                    .iter()
                    .all(|c| rrun_image::pull::snapshot_path(&self.images, c).is_dir())
        };
        let imgs: Vec<LocalImage> = self.all_images()?.into_iter().filter(whole).collect();
        let imgs = if all {
            imgs
        } else {
            without_intermediates(imgs)
        };
        let containers = self.all();
        Ok(imgs
            .iter()
            .filter(|i| f.matches(i))
            .map(|i| {
                let id = i.id.to_string();
                let size = i.size() as i64;
                ImageListItem {
                    summary: ImageSummary {
                        parent_id: String::new(),
                        repo_tags: f.shown_tags(i),
                        repo_digests: i.repo_digests(),
                        created: i
                            .config
                            .created
                            .as_deref()
                            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                            .map_or(0, |t| t.timestamp()),
                        size,
                        shared_size: -1,
                        labels: i
                            .config
                            .config
                            .labels
                            .clone()
                            .unwrap_or_default()
                            .into_iter()
                            .collect(),
                        containers: containers.iter().filter(|c| c.image == id).count() as i64,
                        id,
                        manifests: None,
                        descriptor: None,
                    },
                    virtual_size: size,
                }
            })
            .collect())
    }
}

/// The name an import or a commit gives: `repo` (which may carry its own
/// tag, as the docker CLI sends `name:tag`) and `tag`; none without a repo.
pub fn repo_tag_refs(repo: &str, tag: &str) -> Result<Vec<Reference>, ImageError> {
    if repo.is_empty() {
        return Ok(vec![]);
    }
    let full = if tag.is_empty() {
        repo.to_string()
    } else {
        format!("{repo}:{tag}")
    };
    Reference::parse(&full)
        .map(|r| vec![r])
        .map_err(|e| ImageError::InvalidReference {
            reference: full.clone(),
            reason: e.to_string(),
        })
}

/// [`Daemon::image_history`] of one image: each non-empty step takes the
/// next layer (its size is the layer blob's).
pub fn history_of(img: &LocalImage) -> Vec<ImageHistoryResponseItem> {
    let mut layers = img.manifest.layers.iter();
    let text = |e: &Value, k: &str| e[k].as_str().unwrap_or_default().to_string();
    let mut out: Vec<ImageHistoryResponseItem> = img
        .config
        .history
        .iter()
        .map(|e| {
            let size = if e["empty_layer"].as_bool() == Some(true) {
                0
            } else {
                layers.next().map_or(0, |l| l.size as i64)
            };
            ImageHistoryResponseItem {
                id: "<missing>".into(),
                created: chrono::DateTime::parse_from_rfc3339(&text(e, "created"))
                    .map_or(0, |t| t.timestamp()),
                created_by: text(e, "created_by"),
                tags: vec![],
                size,
                comment: text(e, "comment"),
            }
        })
        .collect();
    out.reverse();
    if out.is_empty() {
        out.push(ImageHistoryResponseItem {
            id: String::new(),
            created: 0,
            created_by: String::new(),
            tags: vec![],
            size: img.size() as i64,
            comment: String::new(),
        });
    }
    out[0].id = img.id.to_string();
    out[0].tags = img.repo_tags();
    out
}

/// The filters `GET /images/json` accepts, and `POST /images/prune`.
const LIST_FILTERS: &[&str] = &["before", "dangling", "label", "reference", "since", "until"];
const PRUNE_FILTERS: &[&str] = &["dangling", "label", "label!", "until"];

/// A checked image filter, with `before`/`since` images looked up.
struct ImageFilter<'a> {
    f: &'a Filters,
    dangling: Option<bool>,
    /// Nanoseconds: created before / after / before.
    before: Option<i64>,
    since: Option<i64>,
    until: Option<i64>,
}

impl<'a> ImageFilter<'a> {
    fn new(f: &'a Filters, keys: &[&str], d: &Daemon) -> Result<ImageFilter<'a>, ImageError> {
        f.validate(keys)?;
        let created_of = |key: &str| -> Result<Option<i64>, ImageError> {
            match f.get(key).first() {
                None => Ok(None),
                Some(name) => Ok(Some(created_ns(&find_image(&d.images, name)?))),
            }
        };
        let until = super::events::until_of(f)?;
        Ok(ImageFilter {
            dangling: f.bool_value("dangling")?,
            before: created_of("before")?,
            since: created_of("since")?,
            until,
            f,
        })
    }

    fn matches(&self, i: &LocalImage) -> bool {
        let labels = i.config.config.labels.clone().unwrap_or_default();
        let created = created_ns(i);
        self.dangling.is_none_or(|d| d == i.refs.is_empty())
            && self.f.match_labels("label", &labels)
            && self.f.match_no_labels("label!", &labels)
            && self.before.is_none_or(|b| created < b)
            && self.since.is_none_or(|s| created > s)
            && self.until.is_none_or(|u| created < u)
            && (!self.f.contains("reference")
                || i.repo_tags().iter().any(|t| {
                    self.f
                        .get("reference")
                        .iter()
                        .any(|p| reference_matches(p, t))
                }))
    }
}

impl ImageFilter<'_> {
    /// The tags a list shows: with a `reference` filter only those it
    /// matches, as dockerd (the other names of the image are not rows).
    fn shown_tags(&self, i: &LocalImage) -> Vec<String> {
        let pats = self.f.get("reference");
        i.repo_tags()
            .into_iter()
            .filter(|t| pats.is_empty() || pats.iter().any(|p| reference_matches(p, t)))
            .collect()
    }
}

/// Without the untagged images that are another image's parent (its
/// layers and its history a strict prefix of the other's): a build's
/// intermediate steps, which Docker shows only with `-a`. (Two images of
/// the same layers and history length, two imports of one tar, are not
/// parent and child.)
fn without_intermediates(imgs: Vec<LocalImage>) -> Vec<LocalImage> {
    let under_another = |i: &LocalImage| {
        let h = &i.config.history;
        imgs.iter().any(|j| {
            j.id != i.id
                && j.chain_ids.starts_with(&i.chain_ids)
                && j.config.history.len() > h.len()
                && j.config.history[..h.len()] == h[..]
        })
    };
    let keep: Vec<bool> = imgs
        .iter()
        .map(|i| !i.refs.is_empty() || !under_another(i))
        .collect();
    imgs.into_iter()
        .zip(keep)
        .filter_map(|(i, k)| k.then_some(i))
        .collect()
}

/// An image's `Created` in nanoseconds (0 when it has none).
fn created_ns(i: &LocalImage) -> i64 {
    i.config
        .created
        .as_deref()
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(0)
}

/// Docker's `reference` filter: a glob on `name[:tag]` (`busy*`, `*:1.0`).
pub fn reference_matches(pattern: &str, repo_tag: &str) -> bool {
    let (name, _) = repo_tag.rsplit_once(':').unwrap_or((repo_tag, ""));
    glob(pattern, repo_tag) || glob(pattern, name)
}

/// `*` any run (not `/`), `?` one character.
fn glob(p: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (p.chars().collect(), s.chars().collect());
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len())
                .take_while(|i| *i == 0 || s[i - 1] != '/')
                .any(|i| go(&p[1..], &s[i..])),
            Some('?') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(&p, &s)
}

fn looks_like_json(path: &Path) -> bool {
    use std::io::Read;
    let small = std::fs::metadata(path).is_ok_and(|m| m.len() <= 4 << 20);
    small
        && std::fs::File::open(path)
            .and_then(|mut f| {
                let mut b = [0u8; 1];
                f.read(&mut b).map(|n| n == 1 && b[0] == b'{')
            })
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_globs() {
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busy*", "busybox:latest"));
        assert!(reference_matches("*:latest", "busybox:latest"));
        assert!(!reference_matches("alpine", "busybox:latest"));
        assert!(!reference_matches("*", "localhost:5000/busybox:1"));
    }
}
