//! The host files a project names (`-f`, `--env-file`, `env_file:`,
//! `extends: file:`) are read only when they are regular files of at most
//! 16 MiB: `/dev/zero` would never end and a FIFO would block forever. Each
//! refusal is one line naming the file; nothing hangs.

mod common;

use common::Dir;
use rrun_compose::{load, LoadOptions};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// The one-line error of loading `opts`, or a failure after 20 s (the
/// loader hanging on a file is the bug these tests guard against).
fn refused(opts: LoadOptions) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(load(&opts).map(|p| p.name));
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(name)) => panic!("project {name} loaded, expected a refusal"),
        Ok(Err(e)) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "more than one line: {line}");
            line
        }
        Err(_) => panic!("the loader did not return within 20 s"),
    }
}

fn fifo(dir: &Dir, name: &str) -> PathBuf {
    let path = dir.path().join(name);
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    path
}

fn with_file(dir: &Dir, yaml: &str) -> LoadOptions {
    dir.write("compose.yaml", yaml);
    let mut o = dir.opts();
    o.files = vec!["compose.yaml".into()];
    o
}

#[test]
fn env_file_of_a_device_or_fifo_is_refused() {
    let dir = Dir::new("devices");
    let e = refused(with_file(
        &dir,
        "services:\n  web:\n    image: busybox\n    env_file: /dev/zero\n",
    ));
    assert!(e.contains("services.web.env_file"), "{e}");
    assert!(
        e.contains("/dev/zero") && e.contains("not a regular file (a character device)"),
        "{e}"
    );

    fifo(&dir, "pipe.env");
    let e = refused(with_file(
        &dir,
        "services:\n  web:\n    image: busybox\n    env_file: ./pipe.env\n",
    ));
    assert!(e.contains("pipe.env") && e.contains("(a FIFO)"), "{e}");

    // `required: false` forgives a missing file, not a wrong one.
    let e = refused(with_file(
        &dir,
        "services:\n  web:\n    image: busybox\n    env_file: [{path: /dev/zero, required: false}]\n",
    ));
    assert!(e.contains("not a regular file"), "{e}");
    let o = with_file(
        &dir,
        "services:\n  web:\n    image: busybox\n    env_file: [{path: ./none.env, required: false}]\n",
    );
    assert!(load(&o).is_ok());
}

#[test]
fn extends_file_of_a_fifo_or_directory_is_refused() {
    let dir = Dir::new("extends");
    fifo(&dir, "base.yml");
    let e = refused(with_file(
        &dir,
        "services:\n  web:\n    extends: {file: base.yml, service: b}\n",
    ));
    assert!(
        e.contains("services.web.extends") && e.contains("(a FIFO)"),
        "{e}"
    );

    std::fs::create_dir(dir.path().join("adir")).unwrap();
    let e = refused(with_file(
        &dir,
        "services:\n  web:\n    extends: {file: adir, service: b}\n",
    ));
    assert!(e.contains("(a directory)"), "{e}");
}

#[test]
fn compose_and_env_files_must_be_regular_and_small() {
    let dir = Dir::new("sizes");
    let mut o = dir.opts();
    o.files = vec!["/dev/zero".into()];
    let e = refused(o);
    assert!(
        e.starts_with("/dev/zero: cannot read it: not a regular file"),
        "{e}"
    );

    // A sparse 17 MiB file: refused by its size before any read.
    let big = dir.write("big.yml", "");
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(17 << 20)
        .unwrap();
    let mut o = dir.opts();
    o.files = vec!["big.yml".into()];
    let e = refused(o);
    assert!(
        e.starts_with("big.yml: cannot read it: larger than 16 MiB"),
        "{e}"
    );

    fifo(&dir, "pipe.env");
    let mut o = with_file(&dir, "services:\n  web:\n    image: busybox\n");
    o.env_files = vec!["pipe.env".into()];
    let e = refused(o);
    assert!(
        e.contains("pipe.env: cannot read it: not a regular file (a FIFO)"),
        "{e}"
    );
}
