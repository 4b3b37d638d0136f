//! Golden config.json files: the spec the daemon writes for the run
//! options the end-to-end tests use (tests/run_options.rs, tests/exec.rs,
//! tests/daemon*.rs), captured from the code as it was when the spec was
//! still built as JSON, so the typed build can be checked against it.
//!
//! The pipeline is [`super::super::containers::start`]'s: create-time
//! validation, [`super::build`], the `--group-add` ids, the run options, the
//! terminal. Host facts are fixed (amd64, kernel 6.1, every capability).
//!
//! Comparison is semantic: capability lists are sets (oci-spec keeps them
//! in a `HashSet`), sysctls a map. Set `RRUN_BLESS_SPEC=1` to rewrite the
//! files (only when a change to config.json is intended).

use std::path::PathBuf;

use oci_spec::runtime::{LinuxDeviceType, Mount, MountBuilder};
use serde_json::Value;

use super::*;
use crate::daemon::runopts::{self, DevNode, Extra, Host, RunOptions, Ulimit, ALL_CAPS};
use crate::daemon::tty;

const GROUP: &str = "root:x:0:\nwheel:x:10:\naudio:x:29:\n";

fn host() -> Host {
    Host {
        ncpu: 2,
        caps: ALL_CAPS.iter().map(|c| c.to_string()).collect(),
        arch: "amd64".into(),
        kernel: (6, 1),
        swap_limit: true,
        io: Default::default(),
    }
}

fn input() -> SpecInput {
    let dir = "/var/lib/rrun/containers/0123abcd";
    SpecInput {
        args: vec!["sh".into(), "-c".into(), "true".into()],
        image_env: vec!["PATH=/bin:/usr/bin".into(), "A=1".into()],
        env: vec!["A=2".into(), "B=3".into()],
        cwd: String::new(),
        uid: 0,
        gid: 0,
        additional_gids: vec![],
        hostname: "0123abcd".into(),
        rootfs: format!("{dir}/rootfs"),
        network_mode: "bridge".into(),
        hostname_file: format!("{dir}/hostname"),
        hosts_file: format!("{dir}/hosts"),
        resolv_file: format!("{dir}/resolv.conf"),
        netns_path: Some("/run/rrun/netns/0123abcd".into()),
        mounts: vec![],
        cgroups_path: "/rrun/0123abcd".into(),
    }
}

fn mount(dst: &str, typ: &str, src: &str, opts: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(dst)
        .typ(typ)
        .source(src)
        .options(opts.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .unwrap()
}

/// Mounts as [`SpecInput`] takes them.
fn as_input(mounts: Vec<Mount>) -> Vec<Mount> {
    mounts
}

fn dev(path: &str, typ: LinuxDeviceType, major: i64, minor: i64, access: &str) -> DevNode {
    DevNode {
        path: path.into(),
        typ,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
        access: access.into(),
    }
}

/// One start: the options, what the daemon resolved, the terminal.
#[derive(Default)]
struct Case {
    opts: RunOptions,
    input: Option<SpecInput>,
    devices: Vec<DevNode>,
    tty: bool,
    console: Option<[u16; 2]>,
}

fn opts(f: impl FnOnce(&mut RunOptions)) -> Case {
    let mut o = RunOptions::default();
    f(&mut o);
    Case {
        opts: o,
        ..Default::default()
    }
}

fn with_input(f: impl FnOnce(&mut SpecInput)) -> Case {
    let mut i = input();
    f(&mut i);
    Case {
        input: Some(i),
        ..Default::default()
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const NO_MKDIR: &str = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#;

type Cases = Vec<(&'static str, Case)>;

fn cases() -> Cases {
    let mut all = vec![("default", Case::default())];
    all.extend(network_and_mounts());
    all.extend(resources());
    all.extend(security());
    all.extend(process());
    all
}

fn network_and_mounts() -> Cases {
    vec![
        (
            "network_host",
            with_input(|i| {
                i.network_mode = "host".into();
                i.netns_path = None;
            }),
        ),
        (
            "network_none_user_cwd",
            with_input(|i| {
                i.network_mode = "none".into();
                i.netns_path = None;
                (i.uid, i.gid, i.cwd) = (1000, 10, "/work".into());
                i.image_env.clear();
                i.cgroups_path = "system.slice:rrun:0123abcd".into();
            }),
        ),
        (
            "mounts",
            with_input(|i| {
                i.mounts = as_input(vec![
                    mount(
                        "/data",
                        "bind",
                        "/var/lib/rrun/volumes/v/_data",
                        &["rbind", "rprivate", "rw"],
                    ),
                    mount("/src", "bind", "/home/u/src", &["rbind", "rprivate", "ro"]),
                    mount(
                        "/run",
                        "tmpfs",
                        "tmpfs",
                        &["nosuid", "nodev", "noexec", "size=1m", "rw"],
                    ),
                ])
            }),
        ),
    ]
}

fn resources() -> Cases {
    vec![
        (
            "memory_cpus_pids",
            opts(|o| {
                (o.memory, o.nano_cpus, o.pids_limit) = (64 << 20, 500_000_000, Some(20));
            }),
        ),
        (
            "cpu_quota_period",
            opts(|o| (o.cpu_quota, o.cpu_period) = (20000, 50000)),
        ),
        (
            "cpuset_reservation_shares",
            opts(|o| {
                o.cpuset_cpus = "0".into();
                o.cpuset_mems = "0".into();
                o.memory_reservation = 32 << 20;
                o.cpu_shares = 512;
            }),
        ),
        (
            "memory_swap_unlimited_pids_unlimited",
            opts(|o| {
                (o.memory, o.memory_swap, o.pids_limit) = (64 << 20, -1, Some(-1));
            }),
        ),
    ]
}

fn security() -> Cases {
    vec![
        (
            "cap_drop_all_add_net_raw",
            opts(|o| {
                o.cap_drop = strings(&["ALL"]);
                o.cap_add = strings(&["net_raw"]);
            }),
        ),
        (
            "cap_add_sys_admin_drop_chown",
            opts(|o| {
                o.cap_add = strings(&["CAP_SYS_ADMIN"]);
                o.cap_drop = strings(&["chown"]);
            }),
        ),
        (
            "privileged",
            Case {
                devices: vec![
                    dev("/dev/null", LinuxDeviceType::C, 1, 3, "rwm"),
                    dev("/dev/sda", LinuxDeviceType::B, 8, 0, "rwm"),
                ],
                ..opts(|o| o.privileged = true)
            },
        ),
        (
            "seccomp_unconfined",
            opts(|o| o.security_opt = strings(&["seccomp=unconfined"])),
        ),
        (
            "seccomp_custom",
            opts(|o| o.security_opt = vec![format!("seccomp={NO_MKDIR}")]),
        ),
        (
            "no_new_privileges",
            opts(|o| o.security_opt = strings(&["no-new-privileges"])),
        ),
        ("read_only", opts(|o| o.readonly_rootfs = true)),
    ]
}

fn process() -> Cases {
    vec![
        (
            "ulimits",
            opts(|o| {
                o.ulimits = vec![
                    Ulimit {
                        name: "nofile".into(),
                        soft: 123,
                        hard: 456,
                    },
                    Ulimit {
                        name: "core".into(),
                        soft: -1,
                        hard: -1,
                    },
                ]
            }),
        ),
        (
            "sysctls",
            opts(|o| {
                o.sysctls = [("net.ipv4.ip_forward", "1"), ("kernel.shmmax", "1000")]
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .into();
            }),
        ),
        (
            "shm_oom_groups",
            opts(|o| {
                o.shm_size = 1 << 20;
                o.oom_score_adj = 300;
                o.group_add = strings(&["10", "audio"]);
            }),
        ),
        (
            "devices",
            Case {
                devices: vec![
                    dev("/dev/mynull", LinuxDeviceType::C, 1, 3, "rwm"),
                    dev("/dev/fuse", LinuxDeviceType::C, 10, 229, "r"),
                ],
                ..Default::default()
            },
        ),
        ("init", opts(|o| o.init = Some(true))),
        (
            "tty",
            Case {
                tty: true,
                console: Some([24, 80]),
                ..Default::default()
            },
        ),
        (
            "tty_no_size",
            Case {
                tty: true,
                console: Some([0, 0]),
                ..Default::default()
            },
        ),
        (
            "console_without_tty",
            Case {
                console: Some([24, 80]),
                ..Default::default()
            },
        ),
    ]
}

/// The config.json the daemon writes for a case, as JSON.
fn config_json(case: &Case) -> Value {
    let h = host();
    let mut o = case.opts.clone();
    runopts::validate(&mut o, &h).unwrap();
    let i = case.input.clone().unwrap_or_else(input);
    let mut spec = build(&i).unwrap();
    runopts::add_groups(
        &mut spec,
        runopts::resolve_groups(&o.group_add, GROUP).unwrap(),
    );
    let x = Extra {
        host: &h,
        devices: case.devices.clone(),
        init_binary: "/run/rrun/docker-init".into(),
        joined: Default::default(),
        block_io: None,
    };
    runopts::apply(&mut spec, &o, &x).unwrap();
    tty::apply_terminal(&mut spec, case.tty, case.console);
    serde_json::to_value(&spec).unwrap()
}

/// Capability lists as sorted sets; nothing else changes.
fn normalize(mut v: Value) -> Value {
    if let Some(caps) = v
        .get_mut("process")
        .and_then(|p| p.get_mut("capabilities"))
        .and_then(Value::as_object_mut)
    {
        for set in caps.values_mut() {
            if let Some(a) = set.as_array_mut() {
                a.sort_by_key(|c| c.as_str().unwrap_or_default().to_string());
            }
        }
    }
    v
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/daemon/spec/golden")
        .join(format!("{name}.json"))
}

#[test]
fn config_json_matches_the_golden_files() {
    let bless = std::env::var_os("RRUN_BLESS_SPEC").is_some();
    let mut failed = Vec::new();
    for (name, case) in cases() {
        let got = normalize(config_json(&case));
        let path = golden_path(name);
        if bless {
            let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
            std::fs::write(&path, text).unwrap();
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (RRUN_BLESS_SPEC=1 writes it)", path.display()));
        let want = normalize(serde_json::from_str(&text).unwrap());
        if got != want {
            failed.push(format!(
                "{name}:\n got {}\nwant {}",
                serde_json::to_string(&got).unwrap(),
                serde_json::to_string(&want).unwrap()
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "config.json differs:\n{}",
        failed.join("\n")
    );
}

/// Every golden file is a spec the executor (rrun-oci) accepts.
#[test]
fn golden_files_parse_as_oci_specs() {
    for (name, _) in cases() {
        let text = std::fs::read_to_string(golden_path(name)).unwrap();
        let _: oci_spec::runtime::Spec =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
