//! COPY and ADD for real (run as root: ownership is part of what is
//! checked): Dockerfiles built through a host whose "container" is a plain
//! directory, so what lands there is exactly what `copy_into` wrote.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use rrun_build::copy::{copy_into, CopyRoots};
use rrun_build::{
    build, BuildHost, BuildOptions, Commit, CopyFrom, CopySpec, HostError, HostImage, RunSpec,
};
use rrun_image::ImageConfig;

/// Every step writes into `root`; `--from` images are directories too.
struct DirHost {
    context: PathBuf,
    root: PathBuf,
    images: BTreeMap<String, PathBuf>,
    n: usize,
}

impl BuildHost for DirHost {
    type Layer = ();
    fn image(&mut self, reference: &str, _: Option<&str>) -> Result<HostImage, HostError> {
        if reference == "base" || self.images.contains_key(reference) {
            return Ok(HostImage {
                id: reference.into(),
                config: ImageConfig::default(),
            });
        }
        Err(format!("no image {reference}").into())
    }
    fn cached(&mut self, _: &str) -> Option<HostImage> {
        None
    }
    fn run(&mut self, _: Option<&HostImage>, _: &RunSpec) -> Result<(), HostError> {
        Err("no RUN in this test".into())
    }
    fn copy(&mut self, _: Option<&HostImage>, spec: &CopySpec) -> Result<(), HostError> {
        let from = match &spec.from {
            CopyFrom::Image { id, .. } => Some(self.images[id].clone()),
            CopyFrom::Context { .. } => None,
        };
        let roots = CopyRoots {
            context: &self.context,
            from: from.as_deref(),
            dest: &self.root,
        };
        Ok(copy_into(spec, &roots)?)
    }
    fn commit(
        &mut self,
        _: Option<&HostImage>,
        _: Option<()>,
        c: &Commit,
        _: &str,
    ) -> Result<HostImage, HostError> {
        self.n += 1;
        Ok(HostImage {
            id: format!("img{}", self.n),
            config: ImageConfig {
                config: c.config.clone(),
                ..Default::default()
            },
        })
    }
    fn tag(&mut self, _: &HostImage, _: &[String]) -> Result<(), HostError> {
        Ok(())
    }
}

struct Case {
    _tmp: tempfile::TempDir,
    host: DirHost,
}

impl Case {
    fn new() -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let (ctx, root) = (tmp.path().join("ctx"), tmp.path().join("root"));
        for d in [&ctx, &root.join("etc/app"), &ctx.join("conf/sub")] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(ctx.join("conf/app.conf"), "port=80").unwrap();
        std::fs::set_permissions(
            ctx.join("conf/app.conf"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        std::fs::write(ctx.join("conf/sub/deep.conf"), "deep").unwrap();
        std::fs::write(ctx.join("conf/server.key"), "secret").unwrap();
        std::os::unix::fs::symlink("app.conf", ctx.join("conf/link.conf")).unwrap();
        std::fs::write(ctx.join("hello.txt"), "hello").unwrap();
        std::fs::write(ctx.join(".dockerignore"), "**/*.key\n").unwrap();
        std::fs::write(root.join("etc/app/old.conf"), "kept").unwrap();
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1500:1500::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\nstaff:x:1600:\n").unwrap();
        Case {
            host: DirHost {
                context: ctx,
                root,
                images: BTreeMap::new(),
                n: 0,
            },
            _tmp: tmp,
        }
    }

    fn build(&mut self, dockerfile: &str) -> Result<(), String> {
        let o = BuildOptions {
            context: self.host.context.clone(),
            dockerfile: dockerfile.into(),
            ..Default::default()
        };
        build(&mut self.host, &o)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn path(&self, p: &str) -> PathBuf {
        self.host.root.join(p.trim_start_matches('/'))
    }
}

fn owner(p: &Path) -> (u32, u32) {
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.uid(), m.gid())
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn directories_merge_files_keep_modes_and_ignore_applies() {
    let mut c = Case::new();
    std::os::unix::fs::chown(c.host.context.join("hello.txt"), Some(1000), Some(1000)).unwrap();
    c.build("FROM base\nCOPY conf/ /etc/app/\nWORKDIR /srv\nCOPY hello.txt greeting.txt\nCOPY hello.txt conf/app.conf ./many/\n")
        .unwrap();
    assert_eq!(
        std::fs::read(c.path("etc/app/app.conf")).unwrap(),
        b"port=80"
    );
    assert_eq!(mode(&c.path("etc/app/app.conf")), 0o640);
    assert_eq!(
        std::fs::read(c.path("etc/app/sub/deep.conf")).unwrap(),
        b"deep"
    );
    assert_eq!(
        std::fs::read(c.path("etc/app/old.conf")).unwrap(),
        b"kept",
        "merged, not replaced"
    );
    assert!(
        !c.path("etc/app/server.key").exists(),
        ".dockerignore applies"
    );
    assert_eq!(
        std::fs::read_link(c.path("etc/app/link.conf")).unwrap(),
        Path::new("app.conf")
    );
    // From the context: owned by root whoever owned it there.
    assert_eq!(owner(&c.path("srv/greeting.txt")), (0, 0));
    assert_eq!(std::fs::read(c.path("srv/greeting.txt")).unwrap(), b"hello");
    assert!(c.path("srv/many/hello.txt").is_file() && c.path("srv/many/app.conf").is_file());
}

#[test]
fn chown_chmod_heredoc_and_from_image() {
    let mut c = Case::new();
    let img = c._tmp.path().join("img");
    std::fs::create_dir_all(img.join("opt/tool/lib")).unwrap();
    std::fs::write(img.join("opt/tool/lib/x.so"), "elf").unwrap();
    std::os::unix::fs::chown(img.join("opt/tool/lib/x.so"), Some(4242), Some(4343)).unwrap();
    // A symlink in the source image resolves inside that image.
    std::os::unix::fs::symlink("/opt/tool", img.join("current")).unwrap();
    c.host.images.insert("toolimg".into(), img);
    c.build(
        "FROM base\nCOPY --chown=app:staff --chmod=0700 hello.txt /home/app/\nCOPY --chown=77 hello.txt /n.txt\nCOPY <<greet.sh <<other.txt /scripts/\necho hi\ngreet.sh\nplain\nother.txt\nCOPY --from=toolimg /current/lib /usr/lib/tool\n",
    )
    .unwrap();
    let p = c.path("home/app/hello.txt");
    assert_eq!(owner(&p), (1500, 1600));
    assert_eq!(mode(&p), 0o700);
    assert_eq!(owner(&c.path("n.txt")), (77, 77));
    assert_eq!(
        std::fs::read_to_string(c.path("scripts/greet.sh")).unwrap(),
        "echo hi\n"
    );
    assert_eq!(
        std::fs::read_to_string(c.path("scripts/other.txt")).unwrap(),
        "plain\n"
    );
    // --from keeps the source's owner; a directory's contents are copied.
    let so = c.path("usr/lib/tool/x.so");
    assert_eq!(std::fs::read(&so).unwrap(), b"elf");
    assert_eq!(owner(&so), (4242, 4343));
    let e = c
        .build("FROM base\nCOPY --chown=nobody hello.txt /\n")
        .unwrap_err();
    assert!(e.starts_with("Dockerfile:2: COPY --chown=nobody hello.txt /: --chown=nobody: no \"nobody\" in /etc/passwd"), "{e}");
    let e = c
        .build("FROM base\nCOPY --from=toolimg /missing /x\n")
        .unwrap_err();
    assert!(
        e.contains("/missing: no such file or directory in the source image"),
        "{e}"
    );
}

#[test]
fn add_unpacks_local_archives_and_refuses_urls() {
    let mut c = Case::new();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o755);
    h.set_uid(321);
    h.set_gid(654);
    h.set_cksum();
    b.append_data(&mut h, "pkg/bin/run", &b"#!sh"[..]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &b.into_inner().unwrap()).unwrap();
    std::fs::write(c.host.context.join("pkg.tar.gz"), gz.finish().unwrap()).unwrap();
    c.build("FROM base\nADD pkg.tar.gz /opt/\nCOPY pkg.tar.gz /copied/\n")
        .unwrap();
    let run = c.path("opt/pkg/bin/run");
    assert_eq!(std::fs::read(&run).unwrap(), b"#!sh");
    assert_eq!(owner(&run), (321, 654));
    assert_eq!(mode(&run), 0o755);
    // COPY never unpacks.
    assert!(c.path("copied/pkg.tar.gz").is_file());
    let e = c
        .build("FROM base\nADD http://127.0.0.1:9/x.tgz /x\n")
        .unwrap_err();
    assert!(e.contains("ADD from a URL is not supported"), "{e}");
}

#[test]
fn symlinks_in_the_destination_cannot_lead_out_of_its_root() {
    let mut c = Case::new();
    let outside = c._tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    // An absolute symlink inside the container root naming a host path,
    // and a relative one climbing out.
    std::os::unix::fs::symlink(&outside, c.path("evil")).unwrap();
    std::os::unix::fs::symlink("../../../../../../..", c.path("up")).unwrap();
    // Where the absolute link points does not exist inside the root: a
    // clear error, and nothing written anywhere.
    let e = c.build("FROM base\nCOPY hello.txt /evil/\n").unwrap_err();
    assert!(
        e.starts_with("Dockerfile:2: COPY hello.txt /evil/: /evil/"),
        "{e}"
    );
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
    // Once it exists inside the root, the copy lands there.
    std::fs::create_dir_all(c.path(outside.to_str().unwrap())).unwrap();
    c.build("FROM base\nCOPY hello.txt /evil/\nCOPY hello.txt /up/tmp/\n")
        .unwrap();
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "wrote through the symlink onto the host"
    );
    // Both landed inside the root, where the links point from within it.
    let inside = c.path(outside.to_str().unwrap()).join("hello.txt");
    assert!(inside.is_file(), "{}", inside.display());
    assert!(c.path("tmp/hello.txt").is_file());
}
