//! Hand-made images for the hostile-input tests: layers written entry by
//! entry (so names tar(1) would clean up reach the daemon as they are) and
//! OCI archives of them, for `rrun load`.

use super::{run_timeout, text};
use serde_json::json;
use std::path::{Path, PathBuf};

/// One entry of a hand-made layer (a ustar archive, so that names tar(1)
/// would clean up, like `../x`, reach the daemon as they are).
pub enum Entry<'a> {
    File(&'a str, &'a str),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    /// A character device: name, major, minor.
    CharDev(&'a str, u32, u32),
    /// An executable file of any bytes.
    Program(&'a str, &'a [u8]),
    /// A directory with one extended attribute (a PAX `SCHILY.xattr.` record).
    XattrDir(&'a str, &'a str, &'a [u8]),
}

fn octal(field: &mut [u8], value: u64) {
    let s = format!("{:0width$o}\0", value, width = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

/// One ustar header block.
fn header(name: &str, kind: u8, link: &str, size: usize, mode: u64, dev: (u32, u32)) -> [u8; 512] {
    let mut h = [0u8; 512];
    let name = &name.as_bytes()[..name.len().min(99)];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], mode);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size as u64);
    octal(&mut h[136..148], 1_700_000_000);
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], dev.0 as u64);
    octal(&mut h[337..345], dev.1 as u64);
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|b| *b as u64).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

fn push_block(out: &mut Vec<u8>, h: &[u8; 512], data: &[u8]) {
    out.extend_from_slice(h);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// One PAX record, `"<len> <key>=<value>\n"`, its length counting itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while (len.to_string().len() + rest) != len {
        len = len.to_string().len() + rest;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

/// A layer of `entries`, in order; a name past 99 bytes goes in a GNU
/// long-name entry before its own.
pub fn layer(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let (name, kind, link, data, mode, dev) = match e {
            Entry::File(n, d) => (*n, b'0', "", d.as_bytes(), 0o644, (0, 0)),
            Entry::Dir(n) => (*n, b'5', "", &b""[..], 0o755, (0, 0)),
            Entry::Symlink(n, t) => (*n, b'2', *t, &b""[..], 0o777, (0, 0)),
            Entry::Hardlink(n, t) => (*n, b'1', *t, &b""[..], 0o644, (0, 0)),
            Entry::CharDev(n, ma, mi) => (*n, b'3', "", &b""[..], 0o666, (*ma, *mi)),
            Entry::Program(n, d) => (*n, b'0', "", *d, 0o755, (0, 0)),
            Entry::XattrDir(n, key, value) => {
                let record = pax_record(&format!("SCHILY.xattr.{key}"), value);
                let h = header("././@PaxHeader", b'x', "", record.len(), 0o644, (0, 0));
                push_block(&mut out, &h, &record);
                (*n, b'5', "", &b""[..], 0o755, (0, 0))
            }
        };
        if name.len() > 99 {
            let mut long = name.as_bytes().to_vec();
            long.push(0);
            let h = header("././@LongLink", b'L', "", long.len(), 0o644, (0, 0));
            push_block(&mut out, &h, &long);
        }
        let h = header(name, kind, link, data.len(), mode, dev);
        push_block(&mut out, &h, data);
    }
    out.resize(out.len() + 1024, 0);
    out
}

pub fn sha256(bytes: &[u8]) -> String {
    // Through a file: a layer is not text.
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), bytes).unwrap();
    let out = run_timeout(
        10,
        Path::new("sha256sum"),
        &[f.path().to_str().unwrap()],
        None,
    );
    text(&out.stdout)[..64].to_string()
}

/// An OCI archive (a tar of an image layout) of `layers`, named `name`.
pub fn oci_archive(dir: &Path, name: &str, layers: &[Vec<u8>]) -> PathBuf {
    tar_layout(&oci_layout(dir, name, layers))
}

/// An OCI image layout of `layers` in `dir/<name>-layout` (one manifest,
/// named `hostile/<name>:latest`: a named image shows in `images`, where a
/// half-loaded one would be seen), for a test to alter before
/// [`tar_layout`].
pub fn oci_layout(dir: &Path, name: &str, layers: &[Vec<u8>]) -> PathBuf {
    let layout = dir.join(format!("{name}-layout"));
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> (String, usize) {
        let d = sha256(bytes);
        std::fs::write(blobs.join(&d), bytes).unwrap();
        (format!("sha256:{d}"), bytes.len())
    };
    // The layers' digests in one sha256sum run (an image may have
    // hundreds of layers).
    let staged: Vec<PathBuf> = (0..layers.len())
        .map(|i| layout.join(format!("layer-{i}")))
        .collect();
    for (l, p) in layers.iter().zip(&staged) {
        std::fs::write(p, l).unwrap();
    }
    let mut args: Vec<&str> = staged.iter().map(|p| p.to_str().unwrap()).collect();
    args.insert(0, "--");
    let out = run_timeout(60, Path::new("sha256sum"), &args, None);
    assert!(out.status.success(), "sha256sum: {}", text(&out.stderr));
    let sums = text(&out.stdout);
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for ((l, p), line) in layers.iter().zip(&staged).zip(sums.lines()) {
        let d = &line[..64];
        std::fs::rename(p, blobs.join(d)).unwrap();
        let d = format!("sha256:{d}");
        diff_ids.push(d.clone());
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": l.len()}));
    }
    let config = json!({"architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids}});
    let (cd, cs) = put(config.to_string().as_bytes());
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": descs});
    let (md, ms) = put(manifest.to_string().as_bytes());
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "latest",
            "io.containerd.image.name": format!("hostile/{name}:latest")}}]});
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    layout
}

/// The layout as an archive beside it (`<layout>.tar`), as `rrun load`
/// takes it.
pub fn tar_layout(layout: &Path) -> PathBuf {
    let tar = layout.with_extension("tar");
    let out = run_timeout(
        30,
        Path::new("/bin/tar"),
        &[
            "-C",
            layout.to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            ".",
        ],
        None,
    );
    assert!(out.status.success(), "tar: {}", text(&out.stderr));
    tar
}
