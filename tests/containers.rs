//! The containers service end to end: names are unique under concurrent
//! creates and renames (issue 12's race), and a start that fails at any step
//! leaves nothing behind.

mod common;

use common::daemon::{http, Daemon};
use common::text;
use std::sync::{Arc, Barrier};

/// Runs `f(i)` on `n` threads released at once; returns their results.
fn all_at_once<T: Send + 'static>(
    n: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(n));
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, f) = (barrier.clone(), f.clone());
            std::thread::spawn(move || {
                barrier.wait();
                f(i)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn concurrent_creates_of_one_name_give_one_container() {
    let d = Arc::new(Daemon::start());
    d.load_busybox();
    for round in 0..5 {
        let name = format!("race{round}");
        let d2 = d.clone();
        let n2 = name.clone();
        let outs = all_at_once(20, move |_| {
            d2.rrun(&["create", "--name", &n2, "busybox", "true"])
        });
        let won = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(won, 1, "round {round}: {won} creates of one name succeeded");
        for o in outs.iter().filter(|o| !o.status.success()) {
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(125), "{err}");
            assert!(
                err.contains(&format!("The container name \"/{name}\" is already in use")),
                "{err}"
            );
        }
        let names = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
        assert_eq!(names.lines().filter(|n| *n == name).count(), 1, "{names}");
    }
    // A name given back by a failed create can be taken again.
    let bad = d.rrun(&[
        "create",
        "--name",
        "later",
        "--cap-add",
        "NOPE",
        "busybox",
        "true",
    ]);
    assert!(!bad.status.success());
    d.ok(&["create", "--name", "later", "busybox", "true"]);
}

#[test]
fn concurrent_renames_onto_one_name_give_one_winner() {
    let d = Arc::new(Daemon::start());
    d.load_busybox();
    let ids: Vec<String> = (0..20)
        .map(|i| {
            d.ok(&["create", "--name", &format!("src{i}"), "busybox", "true"])
                .trim()
                .to_string()
        })
        .collect();
    let socket = d.socket();
    let ids2 = ids.clone();
    let codes = all_at_once(20, move |i| {
        http(
            &socket,
            "POST",
            &format!("/v1.41/containers/{}/rename?name=dst", ids2[i]),
        )
        .map(|(code, _)| code)
    });
    let won = codes.iter().filter(|c| **c == Some(204)).count();
    let conflicts = codes.iter().filter(|c| **c == Some(409)).count();
    assert_eq!((won, conflicts), (1, 19), "{codes:?}");
    let names = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(names.lines().filter(|n| *n == "dst").count(), 1, "{names}");
    assert_eq!(names.lines().count(), 20, "{names}");
    // The loser's old names stay theirs, and the winner's old name is free.
    let winner_old = (0..20)
        .find(|i| !names.lines().any(|n| n == format!("src{i}")))
        .expect("one container left its old name");
    d.ok(&[
        "create",
        "--name",
        &format!("src{winner_old}"),
        "busybox",
        "true",
    ]);
}
