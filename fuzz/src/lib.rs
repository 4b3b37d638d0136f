//! The fuzz targets' bodies, plain functions over bytes.
//!
//! `fuzz_targets/<name>.rs` hands each one to libFuzzer (`scripts/fuzz.sh`,
//! nightly, cargo-fuzz); `tests/fuzz_smoke.rs` in the root package includes
//! this file and runs every body, on stable, over `fuzz/corpus/<name>/` and
//! a few thousand deterministic mutations of it (the smoke in
//! `scripts/test.sh`). A body returns normally for any input; a panic, an
//! abort or a hang is a bug in the project code it drives.
//!
//! Each body checks what must hold beyond "no panic" where that is cheap:
//! a parsed image reference prints as text that parses back to itself,
//! an unpacked layer leaves everything next to its scratch root untouched.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A target's body.
pub type Body = fn(&[u8]);

/// Every target: its name (the file under fuzz_targets/ and the corpus
/// directory) and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("image_reference", image_reference),
    ("layer_unpack", layer_unpack),
    ("dns_message", dns_message),
    ("api_container_create", api_container_create),
    ("api_network_create", api_network_create),
    ("volume_flags", volume_flags),
    ("port_flags", port_flags),
    ("format_template", format_template),
    ("compose_load", compose_load),
    ("dockerfile", dockerfile),
];

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// A fresh scratch directory (on tmpfs when there is one), removed when
/// dropped.
fn scratch() -> tempfile::TempDir {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix("rrun-fuzz")
        .tempdir_in(base)
        .expect("scratch dir")
}

/// Image references (`rrun pull`, `FROM`, `image` in Compose) and digests.
pub fn image_reference(data: &[u8]) {
    use rrun_image::{Digest, Reference};
    let Some(s) = text(data) else { return };
    let _ = s.parse::<Digest>();
    let Ok(r) = Reference::parse(s) else { return };
    let _ = (r.domain(), r.path(), r.tag(), r.digest(), r.name());
    let _ = (r.familiar(), r.familiar_name(), r.manifest_selector());
    let _ = r.with_tag("latest");
    let shown = r.to_string();
    let again = Reference::parse(&shown)
        .unwrap_or_else(|e| panic!("{s:?} parsed, printed as {shown:?}, which does not: {e}"));
    assert_eq!(
        again, r,
        "{s:?} printed as {shown:?} parses to another reference"
    );
    // The familiar form is for display only: `docker.io/a.b/c` shows as
    // `a.b/c`, which names the registry `a.b`, as with Docker.
}

/// A ustar header and body for one entry of a generated layer.
fn tar_entry(out: &mut Vec<u8>, name: &[u8], kind: u8, link: &[u8], body: &[u8]) {
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, len: usize, v: &[u8]| {
        let n = v.len().min(len);
        h[at..at + n].copy_from_slice(&v[..n]);
    };
    // Long names in the ustar prefix field, as tar writes them.
    if name.len() > 100 {
        let cut = name.len().saturating_sub(100).min(155);
        put(&mut h, 345, 155, &name[..cut]);
        put(&mut h, 0, 100, &name[cut..]);
    } else {
        put(&mut h, 0, 100, name);
    }
    put(&mut h, 100, 8, b"0000755\0");
    put(&mut h, 108, 8, b"0000000\0");
    put(&mut h, 116, 8, b"0000000\0");
    put(&mut h, 124, 12, format!("{:011o}\0", body.len()).as_bytes());
    put(&mut h, 136, 12, b"14000000000\0");
    h[156] = kind;
    put(&mut h, 157, 100, link);
    put(&mut h, 257, 8, b"ustar\x0000");
    put(&mut h, 329, 8, b"0000001\0");
    put(&mut h, 337, 8, b"0000003\0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, 8, format!("{sum:06o}\0 ").as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// Bytes → a tar stream: a first byte with the low bit clear takes the
/// rest as the tar itself; else the rest is entries, each
/// `kind name\0 link\0 len body`, with kinds regular, hard link, symlink,
/// char/block device, directory, FIFO, and names like `.wh.x` or `../x`
/// reachable in a few mutations.
fn layer_bytes(data: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    if mode & 1 == 0 {
        return rest.to_vec();
    }
    let mut out = Vec::new();
    let mut it = rest;
    let field = |it: &mut &[u8]| -> Vec<u8> {
        let end = it.iter().position(|&b| b == 0).unwrap_or(it.len());
        let f = it[..end].to_vec();
        *it = it.get(end + 1..).unwrap_or(&[]);
        f
    };
    while let Some((&kind, r)) = it.split_first() {
        it = r;
        let kind = b"0123456"[usize::from(kind) % 7];
        let name = field(&mut it);
        let link = field(&mut it);
        let len = it
            .first()
            .map_or(0, |&l| usize::from(l))
            .min(it.len().saturating_sub(1));
        let body = if kind == b'0' {
            &it[1.min(it.len())..1.min(it.len()) + len]
        } else {
            &[][..]
        };
        it = it.get(1 + len..).unwrap_or(&[]);
        tar_entry(&mut out, &name, kind, &link, body);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Layer unpacking into a scratch root (what a pull does with each layer),
/// a canary file and directory next to the root: a layer may do anything
/// inside the root and nothing outside it.
pub fn layer_unpack(data: &[u8]) {
    let layer = layer_bytes(data);
    let base = scratch();
    let root = base.path().join("root");
    std::fs::create_dir(&root).expect("root");
    std::fs::write(base.path().join("canary"), b"canary").expect("canary");
    std::fs::create_dir(base.path().join("canary.d")).expect("canary dir");
    let _ = rrun_image::unpack::unpack_layer(std::io::Cursor::new(layer), &root);
    let mut names: Vec<_> = std::fs::read_dir(base.path())
        .expect("read scratch")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["canary", "canary.d", "root"],
        "a layer wrote next to its root"
    );
    assert_eq!(
        std::fs::read(base.path().join("canary")).unwrap(),
        b"canary"
    );
    assert_eq!(
        std::fs::read_dir(base.path().join("canary.d"))
            .unwrap()
            .count(),
        0
    );
    // The layer may have made directories unwritable: open them up so the
    // scratch directory can be removed.
    writable(&root);
}

fn writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            writable(&e.path());
        }
    }
}

/// The resolver (netd's embedded DNS) given a query's raw bytes by a
/// container on two networks, one of them internal.
pub fn dns_message(data: &[u8]) {
    use netd::dns::records::{Asker, DnsEndpoint, Snapshot};
    use netd::dns::server::{decide, Decision};
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    let snap = SNAP.get_or_init(|| {
        let ep = |id: &str, net: &str, internal, names: &[&str], last: u8| DnsEndpoint {
            container_id: format!("{id:0<64}"),
            network: net.into(),
            internal,
            names: names.iter().map(|n| n.to_string()).collect(),
            ipv4: Some([172, 30, 0, last].into()),
            ipv6: Some(format!("fd00::{last}").parse().unwrap()),
            links: vec![("db".into(), "web".into())],
        };
        Snapshot::new(vec![
            ep("aa", "front", false, &["web", "www"], 2),
            ep("aa", "back", true, &["web"], 3),
            ep("bb", "front", false, &["api", "x.y"], 4),
            ep("cc", "other", false, &["hidden"], 5),
        ])
    });
    let (udp, query) = match data.split_first() {
        Some((&b, rest)) => (b & 1 == 0, rest),
        None => (true, data),
    };
    let asker_id = format!("{:0<64}", "aa");
    for asker in [
        Asker::Container(&asker_id),
        Asker::Ip([172, 30, 0, 4].into()),
        Asker::Ip([10, 0, 0, 1].into()),
    ] {
        if let Decision::Reply(bytes) = decide(snap, asker, query, udp) {
            if udp && query.len() <= 512 {
                assert!(bytes.len() <= 4096, "a {}-byte UDP reply", bytes.len());
            }
        }
    }
}

/// The host facts a create is checked against, probed once.
fn host_facts() -> &'static rrun_runtime::daemon::runopts::Host {
    static HOST: OnceLock<rrun_runtime::daemon::runopts::Host> = OnceLock::new();
    HOST.get_or_init(rrun_runtime::daemon::runopts::Host::probe)
}

/// `POST /containers/create`'s body as rrund reads it (axum's `Json` is
/// serde_json), then every check of a create that needs no image or state.
pub fn api_container_create(data: &[u8]) {
    use rrun_runtime::daemon::containers::plan::{self, ContainerName};
    use rrun_runtime::daemon::containers::{health, ports};
    use rrun_runtime::daemon::models::CreateBody;
    let Ok(body) = serde_json::from_slice::<CreateBody>(data) else {
        return;
    };
    let mut config = body.config;
    let mut host = body.host_config;
    let _ = ports::wanted_ports(&host.port_bindings, host.publish_all_ports, &[]);
    let exposed: Vec<String> = config.exposed_ports.keys().cloned().collect();
    let _ = ports::wanted_ports(&host.port_bindings, true, &exposed);
    let _ = rrun_runtime::daemon::containers::logopts::with_defaults(
        host.log_config.take(),
        Path::new("/nonexistent/rrun-fuzz/daemon.json"),
    );
    let _ = plan::check_host_config(&mut host, &config.hostname, host_facts());
    let _ = ContainerName::from_request(config.hostname.get(..).filter(|s| !s.is_empty()));
    if let Some(hc) = &config.healthcheck {
        let _ = health::validate(hc);
    }
    plan::merge_image_config(&mut config, &Default::default());
    let _ = rrun_runtime::daemon::spec::command(
        &[],
        &[],
        config.entrypoint.as_deref(),
        config.cmd.as_deref(),
    );
    let _ = serde_json::to_vec(&config);
}

/// `POST /networks/create`'s body: the name and the IPAM request.
pub fn api_network_create(data: &[u8]) {
    // Typed as rrund reads it (bollard-stubs' NetworkCreateRequest).
    let Ok(body) =
        serde_json::from_slice::<rrun_runtime::apimodel::models::NetworkCreateRequest>(data)
    else {
        return;
    };
    let name = netd::name::NetworkName::try_from(body.name.as_str())
        .unwrap_or_else(|_| netd::name::NetworkName::try_from("fuzz").unwrap());
    let mut req = netd::CreateNetwork::bridge(name);
    req.enable_ipv6 = body.enable_ipv6.unwrap_or(false);
    let config = body
        .ipam
        .as_ref()
        .and_then(|i| i.config.clone())
        .unwrap_or_default();
    let _ = rrun_runtime::daemon::networks::ipam_request(&config, &mut req);
    let _ = serde_json::to_vec(&body);
}

/// `-v`, `--mount` and `--volumes-from` (the CLI and rrund share them).
pub fn volume_flags(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let _ = volumes::mountspec::parse_volume_flag(s);
    let _ = volumes::mountspec::parse_mount_flag(s);
    let _ = volumes::mountspec::parse_volumes_from(s);
}

/// `-p` as the CLI reads it, the port key and binding as rrund reads them
/// from `PortBindings`, and `EXPOSE`.
pub fn port_flags(data: &[u8]) {
    use rrun_runtime::daemon::models::PortBinding;
    let Some(s) = text(data) else { return };
    if let Ok(list) = rrun_runtime::cli::netflags::parse_publish(s) {
        let mut bindings = std::collections::BTreeMap::<String, Vec<PortBinding>>::new();
        for p in list.into_iter().take(64) {
            bindings.entry(p.key).or_default().push(PortBinding {
                host_ip: p.host_ip,
                host_port: p.host_port,
            });
        }
        let _ = rrun_runtime::daemon::containers::ports::wanted_ports(&bindings, false, &[]);
    }
    let (key, rest) = s.split_once(' ').unwrap_or((s, ""));
    let (ip, port) = rest.rsplit_once(':').unwrap_or(("", rest));
    let mut bindings = std::collections::BTreeMap::new();
    bindings.insert(
        key.to_string(),
        vec![PortBinding {
            host_ip: ip.to_string(),
            host_port: port.to_string(),
        }],
    );
    let _ = rrun_runtime::daemon::containers::ports::wanted_ports(&bindings, true, &[s.into()]);
    let _ = rrun_build::instructions::expose_ports(s);
}

/// `--format`: the template, a NUL, then the JSON it is run on (a first
/// byte picks the list reader or the plain one).
pub fn format_template(data: &[u8]) {
    use rrun_runtime::cli::template::{Format, Reader};
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some(s) = text(rest) else { return };
    let (tpl, json) = s.split_once('\0').unwrap_or((s, "{}"));
    // `{{range 3954357}}` (Go 1.22's range over an integer) loops that many
    // times, as asked: linear work, as in Go, but a libFuzzer timeout.
    // Numbers of five digits or more are left out.
    let digits = tpl.split(|c: char| !c.is_ascii_digit()).map(str::len);
    if digits.max().unwrap_or(0) >= 5 {
        return;
    }
    let reader = if pick & 1 == 0 {
        Reader::Plain
    } else {
        Reader::List
    };
    let Ok(f) = Format::parse(tpl, reader, "table {{.ID}}\t{{.Names}}") else {
        return;
    };
    let value =
        serde_json::from_str(json).unwrap_or(serde_json::json!({"ID": "abc", "Names": ["x"]}));
    let _ = f.render(&value);
    let _ = f.render_rows(
        &[value.clone(), value],
        &[("ID", "CONTAINER ID"), ("Names", "NAMES")],
    );
}

/// The Compose loader on one file's text, in an empty project directory.
pub fn compose_load(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let project = scratch();
    let dir = project.path().to_path_buf();
    let opts = rrun_compose::LoadOptions {
        files: vec![dir.join("compose.yaml")],
        environment: [("PORT", "8080"), ("EMPTY", ""), ("TAG", "1.2")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        working_dir: dir,
        ..Default::default()
    };
    let Ok(p) = rrun_compose::load_from_str(s, &opts) else {
        return;
    };
    let yaml = rrun_compose::to_yaml(&p);
    let names: Vec<String> = p.services.keys().take(2).cloned().collect();
    let _ = rrun_compose::with_services(&p, &names);
    // What `config` prints loads again.
    let mut again = opts.clone();
    again.project_name = Some(p.name.clone());
    if let Err(e) = rrun_compose::load_from_str(&yaml, &again) {
        panic!("`config` output does not load again: {e}\n{yaml}");
    }
}

/// A Dockerfile: parsed, its global ARGs and the target's stages chosen,
/// every metadata instruction of them applied; the text also read as a
/// `.dockerignore`.
pub fn dockerfile(data: &[u8]) {
    use rrun_build::dockerfile::Instr;
    use rrun_build::instructions::{apply, ArgValues, StageState};
    let Some(s) = text(data) else { return };
    if let Ok(ignore) = rrun_build::ignore::DockerIgnore::parse(s) {
        for p in ["a", "a/b", "Dockerfile", ".dockerignore", "x/../y"] {
            let _ = ignore.excluded(p);
        }
    }
    let Ok(df) = rrun_build::dockerfile::parse(s) else {
        return;
    };
    let mut args = ArgValues::default();
    args.build.insert("V".into(), "1".into());
    let mut state = StageState::default();
    for step in &df.global_args {
        if apply(&mut state, step, df.escape, &mut args).is_err() {
            return;
        }
    }
    args.global = state.args;
    let Ok(order) = rrun_build::stages::select(&df, None, &args.global) else {
        return;
    };
    for i in order {
        let mut state = StageState::default();
        for step in &df.stages[i].steps {
            match &step.instr {
                Instr::Run(r) => drop(state.argv(&r.cmd)),
                Instr::Copy(_) | Instr::Add(_) => {}
                _ => drop(apply(&mut state, step, df.escape, &mut args)),
            }
        }
    }
}
