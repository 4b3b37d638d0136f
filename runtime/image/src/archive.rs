//! Image archives: `save` (one tar that is both an OCI image layout and a
//! `docker save` archive, as Docker 25+ writes), `load` (Docker's
//! manifest.json archives, old and new, and OCI layout archives) and
//! `import` (a root filesystem tarball becomes a one-layer image).
//!
//! Archive member names are never joined onto a host path: only the names
//! these formats use are accepted, everything is stored through the
//! verified content store, and layers are unpacked by the same safe
//! unpacker as pulls.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use serde::Deserialize;
use serde_json::json;

use crate::images::{find_image, LocalImage};
use crate::manifest::{
    chain_ids, parse_manifest, select_platform, ContainerConfig, ImageConfig, ManifestKind,
    Platform, MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, MT_DOCKER_CONFIG, MT_DOCKER_LAYER_GZIP,
    MT_DOCKER_MANIFEST, MT_OCI_CONFIG, MT_OCI_INDEX, MT_OCI_LAYER, MT_OCI_LAYER_GZIP,
    MT_OCI_LAYER_ZSTD, MT_OCI_MANIFEST,
};
use crate::pull::{diff_id_of_blob, snapshot_from_blob, sniff, Compression, PullError};
use crate::reference::{Digest, Reference};
use crate::store::{io_err, Store, StoreError};

const MT_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Layers of a loaded or imported image may decompress to this much.
const MAX_LAYER: u64 = 64 << 30;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Image(#[from] crate::images::ImageError),
    #[error(transparent)]
    Layer(#[from] PullError),
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    #[error("reading the archive: {0}")]
    Tar(#[source] io::Error),
    #[error("writing the archive: {0}")]
    Write(#[source] io::Error),
    #[error("the archive is not an image archive: {0}")]
    Format(String),
}

/// What `load` did: each image's manifest digest and the names it got.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub images: Vec<(Digest, Vec<Reference>)>,
}

/// `docker save`: writes `names` (references or ids) as one tar.
pub fn save<W: Write>(store: &Store, names: &[&str], out: W) -> Result<(), ArchiveError> {
    let mut images: Vec<(LocalImage, Vec<Reference>)> = Vec::new();
    for n in names {
        let img = find_image(store, n)?;
        // Given by name, the archive carries that name; given by id, all of
        // the image's tags (Docker's rule).
        let tags = match Reference::parse(n) {
            Ok(r) if img.refs.contains(&r) && r.digest().is_none() => vec![r],
            _ => img
                .refs
                .iter()
                .filter(|r| r.digest().is_none())
                .cloned()
                .collect(),
        };
        images.push((img, tags));
    }
    let mut tar = tar::Builder::new(out);
    let mut written = std::collections::BTreeSet::new();
    let mut add_blob = |tar: &mut tar::Builder<W>, d: &Digest| -> Result<(), ArchiveError> {
        if !written.insert(d.clone()) {
            return Ok(());
        }
        let path = store.blob_path(d);
        let mut f = fs::File::open(&path).map_err(io_err("open", &path))?;
        let len = f.metadata().map_err(io_err("stat", &path))?.len();
        let mut h = file_header(len);
        tar.append_data(&mut h, format!("blobs/sha256/{}", d.hex()), &mut f)
            .map_err(ArchiveError::Write)
    };
    let mut index = Vec::new();
    let mut docker_manifest = Vec::new();
    for (img, tags) in &images {
        add_blob(&mut tar, &img.manifest_digest)?;
        add_blob(&mut tar, &img.id)?;
        for l in &img.manifest.layers {
            add_blob(&mut tar, &l.digest)?;
        }
        let size = store
            .blob_path(&img.manifest_digest)
            .metadata()
            .map(|m| m.len())
            .unwrap_or(0);
        let mt = img
            .manifest
            .media_type
            .clone()
            .unwrap_or_else(|| MT_OCI_MANIFEST.into());
        if tags.is_empty() {
            index.push(json!({"mediaType": mt, "digest": img.manifest_digest, "size": size}));
        }
        for t in tags {
            index.push(
                json!({"mediaType": mt, "digest": img.manifest_digest, "size": size,
                "annotations": {"io.containerd.image.name": t.to_string(),
                                "org.opencontainers.image.ref.name": t.tag().unwrap_or("latest")}}),
            );
        }
        docker_manifest.push(json!({
            "Config": format!("blobs/sha256/{}", img.id.hex()),
            "RepoTags": tags.iter().map(Reference::familiar).collect::<Vec<_>>(),
            "Layers": img.manifest.layers.iter().map(|l| format!("blobs/sha256/{}", l.digest.hex())).collect::<Vec<_>>(),
        }));
    }
    let small = |tar: &mut tar::Builder<W>, name: &str, body: &[u8]| {
        let mut h = file_header(body.len() as u64);
        tar.append_data(&mut h, name, body)
            .map_err(ArchiveError::Write)
    };
    small(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    small(
        &mut tar,
        "index.json",
        json!({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": index})
            .to_string()
            .as_bytes(),
    )?;
    small(
        &mut tar,
        "manifest.json",
        serde_json::Value::from(docker_manifest)
            .to_string()
            .as_bytes(),
    )?;
    tar.into_inner()
        .map_err(ArchiveError::Write)?
        .flush()
        .map_err(ArchiveError::Write)
}

fn file_header(len: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(len);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

/// A member of the archive kept aside until the index is read.
enum Member {
    /// Already in the content store (a `blobs/sha256/<hex>` member).
    Blob(Digest),
    /// Small metadata, in memory.
    Small(Vec<u8>),
}

/// `docker load`: reads a tar (optionally gzip/zstd-compressed) from `r`.
pub fn load<R: Read>(store: &Store, r: R) -> Result<Loaded, ArchiveError> {
    let mut r = io::BufReader::new(r);
    let head = io::BufRead::fill_buf(&mut r)
        .map_err(ArchiveError::Tar)?
        .to_vec();
    let r: Box<dyn Read> = match sniff(&head) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(r).map_err(ArchiveError::Tar)?)
        }
        Compression::None => Box::new(r),
    };
    let mut members: HashMap<String, Member> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut archive = tar::Archive::new(r);
    for entry in archive.entries().map_err(ArchiveError::Tar)? {
        let mut entry = entry.map_err(ArchiveError::Tar)?;
        let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Symlink => {
                // Old `docker save` links duplicate layers: a/layer.tar -> ../b/layer.tar.
                if let Some(t) = entry.link_name_bytes() {
                    let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    links.insert(
                        name.clone(),
                        normalize(&format!("{dir}/{}", String::from_utf8_lossy(&t))),
                    );
                }
                continue;
            }
            _ => continue,
        }
        if let Some(hex) = name.strip_prefix("blobs/sha256/") {
            let digest: Digest = format!("sha256:{hex}")
                .parse()
                .map_err(|_| ArchiveError::Format(format!("bad blob name {name:?}")))?;
            if !store.has_blob(&digest) {
                let mut w = store.blob_writer(&digest)?;
                io::copy(&mut entry, &mut w).map_err(ArchiveError::Tar)?;
                w.commit()?; // verified: a mismatch names the digest
            }
            members.insert(name, Member::Blob(digest));
        } else if name.ends_with("/layer.tar") {
            let (digest, _) = store.ingest(&mut entry)?;
            members.insert(name, Member::Blob(digest));
        } else if name.ends_with(".json") || name == "repositories" || name == "oci-layout" {
            let mut buf = Vec::new();
            (&mut entry)
                .take(MAX_CONFIG_SIZE + 1)
                .read_to_end(&mut buf)
                .map_err(ArchiveError::Tar)?;
            if buf.len() as u64 > MAX_CONFIG_SIZE {
                return Err(ArchiveError::Format(format!(
                    "{name} is larger than {MAX_CONFIG_SIZE} bytes"
                )));
            }
            members.insert(name, Member::Small(buf));
        }
    }
    for (from, to) in links {
        if let Some(Member::Blob(d)) = members.get(&to) {
            let d = d.clone();
            members.insert(from, Member::Blob(d));
        }
    }
    if members.contains_key("manifest.json") {
        load_docker(store, &members)
    } else if members.contains_key("index.json") {
        load_oci(store, &members)
    } else {
        Err(ArchiveError::Format(
            "no manifest.json or index.json".into(),
        ))
    }
}

fn normalize(name: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

fn member_bytes(
    store: &Store,
    members: &HashMap<String, Member>,
    name: &str,
) -> Result<Vec<u8>, ArchiveError> {
    match members.get(name) {
        Some(Member::Small(b)) => Ok(b.clone()),
        Some(Member::Blob(d)) => Ok(store.read_blob(d, MAX_CONFIG_SIZE)?),
        None => Err(ArchiveError::Format(format!(
            "{name} is named but not in the archive"
        ))),
    }
}

fn load_docker(store: &Store, members: &HashMap<String, Member>) -> Result<Loaded, ArchiveError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        config: String,
        #[serde(default)]
        repo_tags: Option<Vec<String>>,
        layers: Vec<String>,
    }
    let entries: Vec<Entry> =
        serde_json::from_slice(&member_bytes(store, members, "manifest.json")?)
            .map_err(|e| ArchiveError::Format(format!("manifest.json: {e}")))?;
    let mut loaded = Loaded::default();
    for e in entries {
        let config_body = member_bytes(store, members, &normalize(&e.config))?;
        let config_digest = Digest::sha256_of(&config_body);
        store.put_blob(&config_digest, &config_body)?;
        let config = ImageConfig::parse(&config_digest, &config_body)?;
        let mut layers = Vec::new();
        for l in &e.layers {
            match members.get(&normalize(l)) {
                Some(Member::Blob(d)) => layers.push(d.clone()),
                _ => {
                    return Err(ArchiveError::Format(format!(
                        "layer {l} is named but not in the archive"
                    )))
                }
            }
        }
        let manifest = build_manifest(
            store,
            &config_digest,
            config_body.len() as u64,
            &layers,
            true,
        )?;
        let refs = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| Reference::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        finish_image(store, &manifest, &config, &layers, &refs)?;
        loaded.images.push((manifest, refs));
    }
    Ok(loaded)
}

fn load_oci(store: &Store, members: &HashMap<String, Member>) -> Result<Loaded, ArchiveError> {
    #[derive(Deserialize)]
    struct Index {
        manifests: Vec<crate::manifest::Descriptor>,
    }
    let index: Index = serde_json::from_slice(&member_bytes(store, members, "index.json")?)
        .map_err(|e| ArchiveError::Format(format!("index.json: {e}")))?;
    let mut loaded = Loaded::default();
    for desc in index.manifests {
        check_size(store, &desc)?;
        let body = store.read_blob(&desc.digest, MAX_MANIFEST_SIZE)?;
        let (digest, manifest) = match parse_manifest(&desc.digest, None, &body)? {
            ManifestKind::Image(m) => (desc.digest.clone(), m),
            ManifestKind::Index(idx) => {
                let d = select_platform(&idx, &desc.digest, &Platform::host())?
                    .digest
                    .clone();
                match parse_manifest(&d, None, &store.read_blob(&d, MAX_MANIFEST_SIZE)?)? {
                    ManifestKind::Image(m) => (d, m),
                    ManifestKind::Index(_) => {
                        return Err(ArchiveError::Format("nested index".into()))
                    }
                }
            }
        };
        for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
            check_size(store, d)?;
        }
        let config_body = store.read_blob(&manifest.config.digest, MAX_CONFIG_SIZE)?;
        let config = ImageConfig::parse(&manifest.config.digest, &config_body)?;
        let layers: Vec<Digest> = manifest.layers.iter().map(|l| l.digest.clone()).collect();
        // The full name, as containerd and Docker write it; else a ref.name
        // that is itself a full reference (skopeo's oci-archive:…:name).
        let name = desc
            .annotations
            .get("io.containerd.image.name")
            .or_else(|| {
                desc.annotations
                    .get("org.opencontainers.image.ref.name")
                    .filter(|n| n.contains(['/', ':']))
            });
        let refs = match name {
            Some(n) => vec![Reference::parse(n)?],
            None => {
                tracing::warn!(manifest = %digest, "image in the archive has no name; loaded untagged");
                vec![]
            }
        };
        finish_image(store, &digest, &config, &layers, &refs)?;
        loaded.images.push((digest, refs));
    }
    Ok(loaded)
}

/// A blob must be as long as its descriptor says, as containerd's content
/// store checks (issue 17: a descriptor whose size lies was loaded). A
/// missing blob is left to the read that needs it.
fn check_size(store: &Store, desc: &crate::manifest::Descriptor) -> Result<(), ArchiveError> {
    match store.blob_path(&desc.digest).metadata() {
        Ok(m) if m.len() != desc.size => Err(ArchiveError::Format(format!(
            "blob {} is {} bytes but its descriptor says {}: the archive is corrupt",
            desc.digest,
            m.len(),
            desc.size
        ))),
        _ => Ok(()),
    }
}

/// Writes a Docker schema 2 manifest for layers already in the store.
pub(crate) fn build_manifest(
    store: &Store,
    config: &Digest,
    config_size: u64,
    layers: &[Digest],
    docker: bool,
) -> Result<Digest, ArchiveError> {
    let mut descs = Vec::new();
    for l in layers {
        let path = store.blob_path(l);
        let size = path.metadata().map_err(io_err("stat", &path))?.len();
        let mut head = [0u8; 4];
        let n = fs::File::open(&path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(io_err("read", &path))?;
        let mt = match (sniff(&head[..n]), docker) {
            (Compression::Gzip, true) => MT_DOCKER_LAYER_GZIP,
            (Compression::Gzip, false) => MT_OCI_LAYER_GZIP,
            (Compression::Zstd, _) => MT_OCI_LAYER_ZSTD,
            (Compression::None, true) => MT_DOCKER_LAYER,
            (Compression::None, false) => MT_OCI_LAYER,
        };
        descs.push(json!({"mediaType": mt, "digest": l, "size": size}));
    }
    let (mt, cmt) = if docker {
        (MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG)
    } else {
        (MT_OCI_MANIFEST, MT_OCI_CONFIG)
    };
    let body = json!({
        "schemaVersion": 2,
        "mediaType": mt,
        "config": {"mediaType": cmt, "digest": config, "size": config_size},
        "layers": descs,
    })
    .to_string();
    let digest = Digest::sha256_of(body.as_bytes());
    store.put_blob(&digest, body.as_bytes())?;
    Ok(digest)
}

/// Unpacks every layer into its snapshot (verifying diff ids) and names the
/// image, names last.
pub(crate) fn finish_image(
    store: &Store,
    manifest: &Digest,
    config: &ImageConfig,
    layers: &[Digest],
    refs: &[Reference],
) -> Result<(), ArchiveError> {
    if config.rootfs.diff_ids.len() != layers.len() {
        return Err(ArchiveError::Format(format!(
            "the config lists {} layers but the archive has {}",
            config.rootfs.diff_ids.len(),
            layers.len()
        )));
    }
    let chains = chain_ids(&config.rootfs.diff_ids);
    for ((blob, diff), chain) in layers.iter().zip(&config.rootfs.diff_ids).zip(&chains) {
        snapshot_from_blob(store, blob, diff, chain, MAX_LAYER)?;
    }
    for r in refs {
        store.set_ref(r, manifest)?;
    }
    Ok(())
}

/// `docker import FILE REPO[:TAG]`: a root filesystem tarball (plain, gzip
/// or zstd) becomes a one-layer image for this machine's platform.
pub fn import(
    store: &Store,
    tarball: &Path,
    reference: &Reference,
) -> Result<Digest, ArchiveError> {
    import_with(
        store,
        tarball,
        std::slice::from_ref(reference),
        &ContainerConfig::default(),
    )
}

/// [`import`] with any number of names (none leaves the image dangling, as
/// `docker import` without a name does) and the image config's `config`
/// object (`docker import --change`).
pub fn import_with(
    store: &Store,
    tarball: &Path,
    refs: &[Reference],
    run_config: &ContainerConfig,
) -> Result<Digest, ArchiveError> {
    let f = fs::File::open(tarball).map_err(io_err("open", tarball))?;
    let (layer, _) = store.ingest(f)?;
    let diff_id = diff_id_of_blob(store, &layer, MAX_LAYER)?;
    let host = Platform::host();
    let now = rfc3339_now();
    let config = json!({
        "architecture": host.architecture,
        "os": host.os,
        "variant": host.variant,
        "created": now,
        "config": run_config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": now, "created_by": "rrun-image import", "comment": "Imported from tarball"}],
    })
    .to_string();
    let config_digest = Digest::sha256_of(config.as_bytes());
    store.put_blob(&config_digest, config.as_bytes())?;
    let parsed = ImageConfig::parse(&config_digest, config.as_bytes())?;
    let manifest = build_manifest(
        store,
        &config_digest,
        config.len() as u64,
        std::slice::from_ref(&layer),
        false,
    )?;
    finish_image(store, &manifest, &parsed, &[layer], refs)?;
    Ok(config_digest)
}

/// The time now as RFC 3339 UTC.
pub(crate) fn rfc3339_now() -> String {
    rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

/// Seconds since the epoch as RFC 3339 UTC (civil-from-days, no time crate).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn member_names() {
        assert_eq!(normalize("./blobs/sha256/ab"), "blobs/sha256/ab");
        assert_eq!(normalize("a/../b/layer.tar"), "b/layer.tar");
        assert_eq!(normalize("../../etc/passwd"), "etc/passwd");
    }
}
