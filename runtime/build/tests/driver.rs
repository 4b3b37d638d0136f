//! Whole builds driven over a recording host (no root, no containers): what
//! the driver asks the host to run, copy and commit, what it takes from the
//! cache, and the image config it ends with.

use std::collections::BTreeMap;
use std::path::Path;

use rrun_build::{
    build, BuildEvent, BuildHost, BuildOptions, Commit, CopyFrom, CopySpec, HostError, HostImage,
    RunSpec,
};
use rrun_image::{ContainerConfig, ImageConfig};

#[derive(Default)]
struct Recorder {
    images: BTreeMap<String, HostImage>,
    cache: BTreeMap<String, HostImage>,
    runs: Vec<RunSpec>,
    copies: Vec<CopySpec>,
    commits: Vec<Commit>,
    tags: Vec<(String, Vec<String>)>,
    events: Vec<BuildEvent>,
    /// A RUN whose argv contains this fails, as a command exiting 1.
    fail_on: Option<String>,
}

fn image(id: &str, config: ContainerConfig) -> HostImage {
    HostImage {
        id: id.into(),
        config: ImageConfig {
            architecture: "amd64".into(),
            os: "linux".into(),
            config,
            ..Default::default()
        },
    }
}

impl Recorder {
    fn new() -> Recorder {
        let mut r = Recorder::default();
        let busybox = ContainerConfig {
            cmd: Some(vec!["sh".into()]),
            env: Some(vec!["PATH=/bin".into()]),
            ..Default::default()
        };
        r.images
            .insert("busybox".into(), image("sha256:busybox", busybox));
        r
    }
}

impl BuildHost for Recorder {
    type Layer = String;
    fn image(&mut self, reference: &str, _: Option<&str>) -> Result<HostImage, HostError> {
        self.images
            .get(reference)
            .cloned()
            .ok_or_else(|| format!("pull access denied for {reference}").into())
    }
    fn cached(&mut self, key: &str) -> Option<HostImage> {
        self.cache.get(key).cloned()
    }
    fn run(&mut self, _: Option<&HostImage>, spec: &RunSpec) -> Result<String, HostError> {
        self.runs.push(spec.clone());
        if let Some(f) = &self.fail_on {
            if spec.argv.iter().any(|a| a.contains(f.as_str())) {
                return Err("The command returned a non-zero code: 1\nlast output: boom".into());
            }
        }
        Ok(format!("run-layer-{}", self.runs.len()))
    }
    fn copy(&mut self, _: Option<&HostImage>, spec: &CopySpec) -> Result<String, HostError> {
        self.copies.push(spec.clone());
        Ok(format!("copy-layer-{}", self.copies.len()))
    }
    fn commit(
        &mut self,
        parent: Option<&HostImage>,
        layer: Option<String>,
        commit: &Commit,
        key: &str,
    ) -> Result<HostImage, HostError> {
        self.commits.push(commit.clone());
        let mut config = parent.map(|p| p.config.clone()).unwrap_or_default();
        config.config = commit.config.clone();
        config.history.push(serde_json::json!({
            "created_by": commit.created_by,
            "empty_layer": layer.is_none(),
        }));
        let img = HostImage {
            id: format!("sha256:img{}", self.cache.len() + 1),
            config,
        };
        self.cache.insert(key.to_string(), img.clone());
        Ok(img)
    }
    fn tag(&mut self, image: &HostImage, tags: &[String]) -> Result<(), HostError> {
        self.tags.push((image.id.clone(), tags.to_vec()));
        Ok(())
    }
    fn event(&mut self, e: &BuildEvent) {
        self.events.push(e.clone());
    }
}

const MULTI: &str = r#"# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS build
ARG VERSION=1.0
WORKDIR /src
COPY src.c .
RUN <<EOT
echo building $VERSION > /out.txt
EOT

FROM ${BASE} AS unused
RUN exit 1

FROM ${BASE}
ARG BASE
LABEL version=${VERSION:-none} base=$BASE
COPY --from=build /out.txt /app/out.txt
COPY conf/ /etc/app/
USER nobody
HEALTHCHECK --interval=5s --retries=2 CMD ["true"]
ENV GREETING="hello world"
EXPOSE 8080 53/udp
CMD ["cat", "/app/out.txt"]
"#;

fn context() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("src.c"), "int main;").unwrap();
    std::fs::create_dir(p.join("conf")).unwrap();
    std::fs::write(p.join("conf/app.conf"), "port=8080").unwrap();
    std::fs::write(p.join("conf/server.key"), "secret").unwrap();
    std::fs::write(p.join(".dockerignore"), "**/*.key\n").unwrap();
    d
}

fn opts(ctx: &Path) -> BuildOptions {
    BuildOptions {
        context: ctx.to_path_buf(),
        dockerfile: MULTI.into(),
        tags: vec!["example/app:1".into()],
        ..Default::default()
    }
}

#[test]
fn multi_stage_build_config_cache_and_rebuild_from_a_changed_file() {
    let ctx = context();
    let mut host = Recorder::new();
    let out = build(&mut host, &opts(ctx.path())).unwrap();

    // Only the stages the target needs: the unused stage's RUN never ran.
    assert_eq!(host.runs.len(), 1);
    let run = &host.runs[0];
    assert_eq!(
        run.argv,
        ["/bin/sh", "-c", "echo building 1.0 > /out.txt\n"]
    );
    assert!(
        run.env.contains(&"VERSION=1.0".to_string()),
        "{:?}",
        run.env
    );
    assert!(run.env.contains(&"PATH=/bin".to_string()));
    assert_eq!(run.workdir.as_deref(), Some("/src"));

    assert_eq!(host.copies.len(), 3);
    assert_eq!(host.copies[0].dest, "/src/");
    let CopyFrom::Image { id, paths } = &host.copies[1].from else {
        panic!("{:?}", host.copies[1]);
    };
    assert_eq!(paths, &["/out.txt"]);
    let built = host.cache.values().find(|i| {
        i.config.history.last().unwrap()["created_by"]
            .as_str()
            .unwrap()
            .contains("echo building")
    });
    assert_eq!(id, &built.unwrap().id);
    let CopyFrom::Context { sources, .. } = &host.copies[2].from else {
        panic!("{:?}", host.copies[2]);
    };
    // .dockerignore kept the key out.
    assert_eq!(sources[0].files, ["conf/app.conf"]);
    assert_eq!(host.copies[2].dest, "/etc/app/");

    let c = &out.image.config.config;
    assert_eq!(c.user.as_deref(), Some("nobody"));
    assert_eq!(c.cmd, Some(vec!["cat".into(), "/app/out.txt".into()]));
    let labels = c.labels.clone().unwrap();
    // VERSION is not declared in the last stage; BASE is redeclared.
    assert_eq!(labels["version"], "none");
    assert_eq!(labels["base"], "busybox");
    let hc = c.healthcheck.clone().unwrap();
    assert_eq!(hc.test, Some(vec!["CMD".into(), "true".into()]));
    assert_eq!((hc.interval, hc.retries), (Some(5_000_000_000), Some(2)));
    assert!(c
        .env
        .clone()
        .unwrap()
        .contains(&"GREETING=hello world".to_string()));
    let ports: Vec<&String> = c.exposed_ports.as_ref().unwrap().keys().collect();
    assert_eq!(ports, ["53/udp", "8080/tcp"]);
    assert_eq!(
        host.tags,
        [(out.image.id.clone(), vec!["example/app:1".to_string()])]
    );
    assert_eq!(out.cache_hits, 0);
    assert!(
        matches!(&host.events[0], BuildEvent::Step { n: 1, total: 15, text } if text == "FROM busybox")
    );

    // A rebuild takes every step from the cache: no container, no copy, no commit.
    let commits = host.commits.len();
    let again = build(&mut host, &opts(ctx.path())).unwrap();
    assert_eq!(again.image.id, out.image.id);
    assert_eq!(again.cache_hits, commits);
    assert_eq!(
        (host.runs.len(), host.copies.len(), host.commits.len()),
        (1, 3, commits)
    );

    // An ignored file changes nothing; a copied one rebuilds from its step on.
    std::fs::write(ctx.path().join("conf/server.key"), "rotated").unwrap();
    assert_eq!(
        build(&mut host, &opts(ctx.path())).unwrap().image.id,
        out.image.id
    );
    std::fs::write(ctx.path().join("conf/app.conf"), "port=9090").unwrap();
    let changed = build(&mut host, &opts(ctx.path())).unwrap();
    assert_ne!(changed.image.id, out.image.id);
    assert_eq!(host.runs.len(), 1, "the build stage stays cached");
    assert_eq!(host.copies.len(), 4, "only the changed COPY copies again");
    // COPY conf/ and the five steps after it.
    assert_eq!(host.commits.len(), commits + 6);

    // --no-cache: everything again.
    let mut o = opts(ctx.path());
    o.no_cache = true;
    let fresh = build(&mut host, &o).unwrap();
    assert_eq!(fresh.cache_hits, 0);
    assert_eq!(host.runs.len(), 2);
}

#[test]
fn target_builds_only_its_stages() {
    let ctx = context();
    let mut host = Recorder::new();
    let mut o = opts(ctx.path());
    o.target = Some("build".into());
    let out = build(&mut host, &o).unwrap();
    assert_eq!(host.runs.len(), 1);
    assert_eq!(host.copies.len(), 1);
    assert_eq!(out.image.config.config.working_dir.as_deref(), Some("/src"));
    o.target = Some("nope".into());
    let e = build(&mut host, &o).unwrap_err().to_string();
    assert!(
        e.contains("\"nope\"") && e.contains("build (line 3)"),
        "{e}"
    );
}

fn build_err(dockerfile: &str, host: &mut Recorder) -> String {
    let ctx = context();
    let o = BuildOptions {
        context: ctx.path().to_path_buf(),
        dockerfile: dockerfile.into(),
        ..Default::default()
    };
    build(host, &o).unwrap_err().to_string()
}

#[test]
fn every_bad_input_names_its_line() {
    let mut h = Recorder::new();
    let cases = [
        ("FROM busybox\nRUN true\nFROOM x\n", "Dockerfile:3: "),
        ("FROM busybox\n\nCOPY missing.txt /\n", "Dockerfile:3: COPY: file not found in build context or excluded by .dockerignore: missing.txt"),
        ("FROM busybox\nCOPY conf/server.key /\n", "Dockerfile:2: COPY: file not found in build context or excluded by .dockerignore"),
        ("FROM busybox\nCOPY src.c conf /dst\n", "Dockerfile:2: COPY: When using COPY with more than one source file"),
        ("FROM busybox\nCOPY ../secret /\n", "Dockerfile:2: COPY: ../secret: forbidden path outside the build context"),
        ("FROM busybox\nCOPY --chmod=999 src.c /\n", "Dockerfile:2: COPY: invalid --chmod=999"),
        ("FROM busybox\nCOPY --bogus src.c /\n", "Dockerfile:2: COPY: unknown or unsupported flag --bogus"),
        ("FROM busybox\nCOPY http://example.invalid/x /\n", "Dockerfile:2: COPY: source can't be a URL"),
        ("FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n", "Dockerfile:2: circular dependency between stages: b -> a -> b"),
        ("FROM nosuchimage\n", "Dockerfile:1: FROM nosuchimage: pull access denied for nosuchimage"),
        ("FROM busybox\nEXPOSE 80/xyz\n", "Dockerfile:2: EXPOSE: invalid proto"),
        ("FROM busybox\nENV A=${B\n", "Dockerfile:2: ENV: bad substitution"),
        ("FROM busybox\nHEALTHCHECK --interval=5 CMD true\n", "Dockerfile:2: HEALTHCHECK: --interval: invalid duration"),
        ("FROM busybox\nSTOPSIGNAL SIGNOPE\n", "Dockerfile:2: STOPSIGNAL: invalid signal"),
        ("FROM busybox\nRUN --mount=type=cache,target=/x true\n", "Dockerfile:2: RUN: --mount is not supported"),
        ("FROM busybox\nLABEL novalue\n", "Dockerfile:2: LABEL: \"novalue\" has no value"),
    ];
    for (df, want) in cases {
        let e = build_err(df, &mut h);
        assert!(e.starts_with(want), "{df:?}:\n got  {e}\n want {want}…");
    }
    // A failing RUN: its line, the command, the host's exit code and output.
    h.fail_on = Some("false".into());
    let e = build_err("FROM busybox\nRUN true\nRUN false\n", &mut h);
    assert!(
        e.starts_with("Dockerfile:3: RUN false: The command returned a non-zero code: 1"),
        "{e}"
    );
    assert!(e.contains("boom"), "{e}");
    // Nothing was tagged by any failed build.
    assert!(h.tags.is_empty(), "{:?}", h.tags);
}

#[test]
fn onbuild_triggers_entrypoint_and_unused_build_args() {
    let ctx = context();
    let mut host = Recorder::new();
    let base = ContainerConfig {
        cmd: Some(vec!["serve".into()]),
        on_build: Some(vec!["RUN echo triggered".into()]),
        ..Default::default()
    };
    host.images
        .insert("onbase".into(), image("sha256:onbase", base));
    let o = BuildOptions {
        context: ctx.path().to_path_buf(),
        dockerfile:
            "FROM onbase\nARG USED\nENTRYPOINT [\"/app\"]\nRUN echo $USED\nONBUILD COPY . /src\n"
                .into(),
        build_args: [("USED", "yes"), ("EXTRA", "1"), ("HTTP_PROXY", "http://p")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    let out = build(&mut host, &o).unwrap();
    assert_eq!(host.runs[0].argv, ["/bin/sh", "-c", "echo triggered"]);
    assert_eq!(host.runs[1].argv, ["/bin/sh", "-c", "echo $USED"]);
    assert!(host.runs[1].env.contains(&"USED=yes".to_string()));
    let c = &out.image.config.config;
    // The base's trigger ran and is gone; this Dockerfile's is stored.
    assert_eq!(c.on_build, Some(vec!["COPY . /src".into()]));
    // ENTRYPOINT drops the CMD inherited from the base.
    assert_eq!(c.entrypoint, Some(vec!["/app".into()]));
    assert_eq!(c.cmd, None);
    assert_eq!(
        out.warnings,
        ["[Warning] One or more build-args [EXTRA] were not consumed"]
    );
    // RUN's history shows the build arg as the classic builder does.
    let run_commit = host
        .commits
        .iter()
        .find(|c| c.created_by.contains("echo $USED"))
        .unwrap();
    assert_eq!(run_commit.created_by, "|1 USED=yes /bin/sh -c echo $USED");
}

#[test]
fn labels_option_and_scratch() {
    let ctx = context();
    let mut host = Recorder::new();
    let mut o = BuildOptions {
        context: ctx.path().to_path_buf(),
        dockerfile: "FROM scratch\nCOPY src.c /\n".into(),
        ..Default::default()
    };
    o.labels.insert("org.example".into(), "x".into());
    let out = build(&mut host, &o).unwrap();
    assert_eq!(
        out.image.config.config.labels.as_ref().unwrap()["org.example"],
        "x"
    );
    assert_eq!(host.copies[0].dest, "/");
    let e = build_err("FROM scratch\n", &mut host);
    assert!(e.contains("makes no image"), "{e}");
}
