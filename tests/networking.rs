//! End-to-end tests of containers' networks and volumes through rrund and
//! rrun: names resolving across a user network and not across two,
//! published ports reached from the host, named volumes outliving their
//! containers, `--volumes-from`, and all of it after a daemon SIGKILL.
//! Each test has its own daemon, network namespace and DNS stub.

mod common;

use common::daemon::{inspect, serve, Daemon};
use common::{text, wait_for};
use std::process::Output;
use std::time::Duration;

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// The container's address on `net`.
fn ip_on(d: &Daemon, name: &str, net: &str) -> String {
    inspect(d, name)["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A URL fetched with curl from the daemon's host namespace, with a
/// timeout; None if it failed.
fn fetch_from_host(d: &Daemon, url: &str) -> Option<String> {
    let out = d.net.exec(10, &["curl", "-sf", "-m", "3", url]);
    out.status.success().then(|| text(&out.stdout))
}

#[test]
fn names_resolve_on_a_user_network_and_not_across_two() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&["network", "create", "net-a"]);
    d.ok(&["network", "create", "net-b"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "db1",
        "--network",
        "net-a",
        "--network-alias",
        "db",
        "busybox",
        "sleep",
        "300",
    ]);
    let ip = ip_on(&d, "db1", "net-a");
    assert!(ip.starts_with("172."), "address on net-a: {ip:?}");

    // The embedded resolver answers for the alias and the name.
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "net-a",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf; nslookup db; nslookup db1; ping -c1 -W3 db",
    ]);
    assert!(out.contains("nameserver 127.0.0.11"), "{out}");
    assert!(out.matches(&ip).count() >= 3, "{out}");
    assert!(out.contains("1 packets received"), "{out}");

    // Another network: neither the alias nor the name resolves, and the
    // address is not reachable.
    let out = d.rrun(&[
        "run",
        "--rm",
        "--network",
        "net-b",
        "busybox",
        "nslookup",
        "db",
    ]);
    assert_ne!(code(&out), 0, "db resolved on net-b: {}", text(&out.stdout));
    assert!(!text(&out.stdout).contains(&ip));
    let out = d.rrun(&[
        "run",
        "--rm",
        "--network",
        "net-b",
        "busybox",
        "ping",
        "-c1",
        "-W2",
        &ip,
    ]);
    assert_ne!(code(&out), 0, "net-b reached net-a: {}", text(&out.stdout));

    // Names that are not containers go upstream: the test's stub says
    // NXDOMAIN, nothing leaves the machine.
    let before = d.dns.queries.load(std::sync::atomic::Ordering::Relaxed);
    let out = d.rrun(&[
        "run",
        "--rm",
        "--network",
        "net-a",
        "busybox",
        "nslookup",
        "nowhere.example",
    ]);
    assert_ne!(code(&out), 0);
    assert!(d.dns.queries.load(std::sync::atomic::Ordering::Relaxed) > before);

    // Connecting a running container to the second network makes it
    // resolvable there, on eth1.
    d.ok(&["network", "connect", "--alias", "both", "net-b", "db1"]);
    let ip_b = ip_on(&d, "db1", "net-b");
    assert!(!ip_b.is_empty() && ip_b != ip);
    let pid = inspect(&d, "db1")["State"]["Pid"]
        .as_i64()
        .unwrap()
        .to_string();
    let out = common::run_timeout(
        10,
        std::path::Path::new("nsenter"),
        &["-t", &pid, "-n", "ip", "-o", "-4", "addr"],
        None,
    );
    let ifs = text(&out.stdout);
    assert!(ifs.contains("eth1") && ifs.contains(&ip_b), "{ifs}");
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "net-b",
        "busybox",
        "nslookup",
        "both",
    ]);
    assert!(out.contains(&ip_b), "{out}");
    d.ok(&["network", "disconnect", "net-b", "db1"]);
    assert_eq!(ip_on(&d, "db1", "net-b"), "");

    // A network in use cannot go; once free it can.
    let out = d.rrun(&["network", "rm", "net-a"]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("active endpoints"),
        "{}",
        text(&out.stderr)
    );
    d.ok(&["rm", "-f", "db1"]);
    assert_eq!(d.ok(&["network", "rm", "net-a"]).trim(), "net-a");
    let ls = d.ok(&["network", "ls"]);
    assert!(ls.starts_with("NETWORK ID"), "{ls}");
    for n in ["bridge", "host", "none", "net-b"] {
        assert!(ls.contains(n), "{ls}");
    }
    assert!(!ls.contains("net-a"));
    assert_eq!(
        d.ok(&["network", "prune", "-f"]).trim(),
        "Deleted Networks:\nnet-b"
    );
    let out = d.rrun(&["network", "rm", "bridge"]);
    assert_ne!(code(&out), 0, "the predefined bridge network was removed");
}

/// `--link name:alias` on a user network: the alias resolves to the linked
/// container for the linking one only (Docker's user-network links, as
/// docker-compose's `links:` make them); a missing target makes nothing.
#[test]
fn a_link_alias_resolves_for_the_linking_container_only() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&["network", "create", "linked"]);
    for name in ["db-real", "bystander"] {
        d.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "linked",
            "busybox",
            "sleep",
            "300",
        ]);
    }
    let ip = ip_on(&d, "db-real", "linked");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "app",
        "--network",
        "linked",
        "--link",
        "db-real:database",
        "busybox",
        "sleep",
        "300",
    ]);
    let out = d.ok(&["exec", "app", "nslookup", "database"]);
    assert!(out.contains(&ip), "{out}");
    let v = inspect(&d, "app");
    assert_eq!(
        v["NetworkSettings"]["Networks"]["linked"]["Links"],
        serde_json::json!(["db-real:database"]),
        "{v}"
    );
    let other = d.rrun(&["exec", "bystander", "nslookup", "database"]);
    assert!(
        !text(&other.stdout).contains(&ip),
        "{}",
        text(&other.stdout)
    );
    let bad = d.rrun(&[
        "run",
        "-d",
        "--name",
        "orphan",
        "--network",
        "linked",
        "--link",
        "nosuch:db",
        "busybox",
    ]);
    assert_ne!(bad.status.code(), Some(0));
    assert!(
        text(&bad.stderr).contains("could not get container for nosuch"),
        "{}",
        text(&bad.stderr)
    );
    assert!(!d
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .contains("orphan"));
}

/// Legacy links on the default bridge, as Docker's: the linking container
/// gets `ALIAS_PORT…`, `ALIAS_NAME` and `ALIAS_ENV_…` and an /etc/hosts
/// line; a link on a user network gives only the name (no variables); a
/// stopped target refuses the start with Docker's message.
#[test]
fn legacy_links_on_the_default_bridge_set_variables_and_hosts() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--hostname",
        "dbhost",
        "--expose",
        "3306",
        "-e",
        "MYSQL_ROOT_PASSWORD=secret",
        "busybox",
        "sleep",
        "300",
    ]);
    let ip = ip_on(&d, "db", "bridge");
    let out = d.ok(&[
        "run",
        "--rm",
        "--name",
        "web",
        "--link",
        "db:my-db",
        "-e",
        "MY_DB_NAME=own",
        "busybox",
        "sh",
        "-c",
        "env; cat /etc/hosts",
    ]);
    for want in [
        format!("MY_DB_PORT=tcp://{ip}:3306"),
        format!("MY_DB_PORT_3306_TCP=tcp://{ip}:3306"),
        format!("MY_DB_PORT_3306_TCP_ADDR={ip}"),
        "MY_DB_PORT_3306_TCP_PORT=3306".to_string(),
        "MY_DB_PORT_3306_TCP_PROTO=tcp".to_string(),
        "MY_DB_ENV_MYSQL_ROOT_PASSWORD=secret".to_string(),
        // The container's own environment wins over a link's.
        "MY_DB_NAME=own".to_string(),
        format!("{ip}\tmy-db dbhost db"),
    ] {
        assert!(out.lines().any(|l| l == want), "no {want:?} in\n{out}");
    }
    assert!(!out.contains("MY_DB_ENV_PATH"), "{out}");
    let out = d.ok(&["run", "--rm", "--link", "db", "busybox", "env"]);
    assert!(out.contains("DB_NAME=/"), "{out}");

    d.ok(&["network", "create", "userlinks"]);
    d.ok(&["network", "connect", "userlinks", "db"]);
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "userlinks",
        "--link",
        "db:other",
        "busybox",
        "env",
    ]);
    assert!(
        !out.contains("OTHER_"),
        "a user-network link set variables:\n{out}"
    );

    // `docker rm --link`: the parent no longer resolves the alias.
    d.ok(&[
        "run", "-d", "--name", "web2", "--link", "db:my-db", "busybox", "sleep", "300",
    ]);
    let before = d.ok(&["exec", "web2", "nslookup", "my-db"]);
    assert!(before.contains(&ip), "{before}");
    d.ok(&["rm", "--link", "/web2/my-db"]);
    let v = inspect(&d, "web2");
    assert!(
        v["HostConfig"]["Links"]
            .as_array()
            .is_none_or(|l| l.is_empty()),
        "{}",
        v["HostConfig"]
    );
    let after = d.rrun(&["exec", "web2", "nslookup", "my-db"]);
    assert!(
        !text(&after.stdout).contains(&ip),
        "{}",
        text(&after.stdout)
    );
    let out = d.rrun(&["rm", "--link", "web2/my-db"]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("No such container: web2/my-db"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(inspect(&d, "web2")["State"]["Running"], true);

    d.ok(&["stop", "-t", "0", "db"]);
    let out = d.rrun(&["run", "--rm", "--link", "db:my-db", "busybox", "true"]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("Cannot link to a non running container: /db AS /"),
        "{}",
        text(&out.stderr)
    );
}

/// `--mac-address` from rrun (the endpoint's settings) and from the docker
/// CLI (whichever field its API version uses): the interface has it,
/// inspect shows it, a bad one makes nothing.
#[test]
fn a_mac_address_is_the_interfaces() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&["network", "create", "macs"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "m1",
        "--network",
        "macs",
        "--mac-address",
        "92:d0:c6:0a:29:33",
        "busybox",
        "sleep",
        "300",
    ]);
    let own = d.ok(&["exec", "m1", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(own.trim(), "92:d0:c6:0a:29:33");
    let v = inspect(&d, "m1");
    assert_eq!(
        v["NetworkSettings"]["Networks"]["macs"]["MacAddress"],
        "92:d0:c6:0a:29:33"
    );
    let out = d.docker(
        &[
            "run",
            "--rm",
            "--mac-address",
            "02:42:0a:0b:0c:0d",
            "busybox",
            "cat",
            "/sys/class/net/eth0/address",
        ],
        None,
    );
    assert_eq!(
        text(&out.stdout).trim(),
        "02:42:0a:0b:0c:0d",
        "{}",
        text(&out.stderr)
    );
    for bad in ["92:d0:c6:0a:29", "01:00:5e:00:00:01"] {
        let out = d.rrun(&[
            "run",
            "-d",
            "--name",
            "badmac",
            "--mac-address",
            bad,
            "busybox",
        ]);
        assert_ne!(out.status.code(), Some(0));
        assert!(
            text(&out.stderr).contains("invalid MAC address"),
            "{}",
            text(&out.stderr)
        );
    }
    assert!(!d
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .contains("badmac"));
}

/// `--aux-address`: reserved, never given to a container, shown by
/// inspect; one outside every subnet makes no network.
#[test]
fn aux_addresses_are_never_given_out() {
    let d = Daemon::start();
    d.load_busybox();
    d.docker_ok(&[
        "network",
        "create",
        "--subnet",
        "172.31.77.0/24",
        "--aux-address",
        "router=172.31.77.2",
        "auxnet",
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&d.ok(&["network", "inspect", "auxnet"])).unwrap();
    assert_eq!(
        v[0]["IPAM"]["Config"][0]["AuxiliaryAddresses"],
        serde_json::json!({"router": "172.31.77.2"}),
        "{v}"
    );
    d.ok(&[
        "run",
        "-d",
        "--name",
        "first",
        "--network",
        "auxnet",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(ip_on(&d, "first", "auxnet"), "172.31.77.3");
    let taken = d.rrun(&[
        "run",
        "-d",
        "--network",
        "auxnet",
        "--ip",
        "172.31.77.2",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_ne!(taken.status.code(), Some(0));
    let bad = d.rrun(&[
        "network",
        "create",
        "--subnet",
        "172.31.78.0/24",
        "--aux-address",
        "x=10.0.0.1",
        "badaux",
    ]);
    assert_ne!(bad.status.code(), Some(0));
    assert!(
        text(&bad.stderr).contains("no matching subnet for aux-address"),
        "{}",
        text(&bad.stderr)
    );
    assert!(!d.ok(&["network", "ls"]).contains("badaux"));
}

#[test]
fn published_ports_are_reached_from_the_host() {
    let d = Daemon::start();
    d.load_busybox();
    serve(
        &d,
        &["--name", "web", "--hostname", "web-host", "-p", "18080:80"],
    );
    let got = wait_for("the published port", Duration::from_secs(20), || {
        fetch_from_host(&d, "http://127.0.0.1:18080/")
    });
    assert_eq!(got, "web-host\n");
    let ps = d.ok(&["ps"]);
    assert!(ps.contains("0.0.0.0:18080->80/tcp"), "{ps}");
    let ports = &inspect(&d, "web")["NetworkSettings"]["Ports"]["80/tcp"];
    assert_eq!(ports[0]["HostPort"], "18080", "{ports}");

    // Hairpin: the container reaches its own published port through the
    // host (its gateway's address), as it would through the host's name.
    let gw = inspect(&d, "web")["NetworkSettings"]["Networks"]["bridge"]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    // (busybox-static's wget crashes on a URL with a port: glibc's NSS.)
    let req = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {gw} 18080");
    let got = d.ok(&["exec", "web", "sh", "-c", &req]);
    assert!(got.ends_with("web-host\n"), "{got}");

    // Docker's MAC, made from the address (so a container that later gets
    // this address is reached at once: neighbour caches stay right).
    let ns = &inspect(&d, "web")["NetworkSettings"];
    let ip: std::net::Ipv4Addr = ns["IPAddress"].as_str().unwrap().parse().unwrap();
    let [a, b, c, e] = ip.octets();
    let mac = format!("02:42:{a:02x}:{b:02x}:{c:02x}:{e:02x}");
    assert_eq!(ns["MacAddress"], mac.as_str(), "{ns}");
    let inside = d.ok(&["exec", "web", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(inside.trim(), mac);

    // The same port again: an error naming it, and no container left running.
    let out = d.rrun(&[
        "run", "-d", "--name", "clash", "-p", "18080:80", "busybox", "sleep", "100",
    ]);
    assert_eq!(code(&out), 125);
    assert!(text(&out.stderr).contains("18080"), "{}", text(&out.stderr));
    assert_ne!(inspect(&d, "clash")["State"]["Status"], "running");
    d.ok(&["rm", "clash"]);

    // `-p 80`: a free host port, chosen and reported.
    serve(&d, &["--name", "any", "--hostname", "any-host", "-p", "80"]);
    let port = inspect(&d, "any")["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(port.parse::<u16>().unwrap() > 1024, "{port}");
    let got = wait_for("the chosen port", Duration::from_secs(20), || {
        fetch_from_host(&d, &format!("http://127.0.0.1:{port}/"))
    });
    assert_eq!(got, "any-host\n");

    // Bound to 127.0.0.1 only: reached there, not through another address.
    serve(&d, &["--name", "local", "-p", "127.0.0.1:18081:80"]);
    wait_for("the loopback-only port", Duration::from_secs(20), || {
        fetch_from_host(&d, "http://127.0.0.1:18081/")
    });

    // A firewall reload while the daemon runs (everything flushed, as
    // `nft flush ruleset` or firewalld would): rrund puts its rules back
    // within seconds, with no container started or stopped meanwhile.
    let flush = d.net.exec(10, &["nft", "flush", "ruleset"]);
    assert!(flush.status.success(), "{}", text(&flush.stderr));
    let got = wait_for("the rules restored", Duration::from_secs(20), || {
        fetch_from_host(&d, "http://127.0.0.1:18080/")
    });
    assert_eq!(got, "web-host\n");
    // Restored by the watch, not left in place by the flush.
    let log = d.log();
    assert!(log.contains("firewall rules were removed"), "{log}");

    // Removing the container frees the port.
    d.ok(&["rm", "-f", "web"]);
    wait_for("the port to be released", Duration::from_secs(20), || {
        fetch_from_host(&d, "http://127.0.0.1:18080/")
            .is_none()
            .then_some(())
    });
    serve(
        &d,
        &[
            "--name",
            "web2",
            "--hostname",
            "web2-host",
            "-p",
            "18080:80",
        ],
    );
    let got = wait_for("the port reused", Duration::from_secs(20), || {
        fetch_from_host(&d, "http://127.0.0.1:18080/")
    });
    assert_eq!(got, "web2-host\n");
}

#[test]
fn a_named_volume_outlives_its_containers() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&[
        "run",
        "--rm",
        "-v",
        "keep:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "-v",
            "keep:/data",
            "busybox",
            "cat",
            "/data/f"
        ]),
        "kept\n"
    );
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["volume", "inspect", "keep"])).unwrap();
    let mountpoint = v[0]["Mountpoint"].as_str().unwrap().to_string();
    assert!(
        mountpoint.starts_with(d.data_root().to_str().unwrap()),
        "{mountpoint}"
    );
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(&mountpoint).join("f")).unwrap(),
        "kept\n"
    );
    assert!(d.ok(&["volume", "ls", "-q"]).lines().any(|l| l == "keep"));

    // In use by a container (even stopped): not removable.
    d.ok(&[
        "create",
        "--name",
        "holder",
        "-v",
        "keep:/data",
        "busybox",
        "true",
    ]);
    let out = d.rrun(&["volume", "rm", "keep"]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("in use"),
        "{}",
        text(&out.stderr)
    );
    d.ok(&["rm", "holder"]);

    // Anonymous volumes: `rm -v` removes them, plain `rm` keeps them.
    d.ok(&[
        "create", "--name", "anon", "-v", "/scratch", "busybox", "true",
    ]);
    let anon = inspect(&d, "anon")["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(anon.len(), 64, "{anon}");
    assert!(d.ok(&["volume", "ls", "-q"]).contains(&anon));
    d.ok(&["rm", "-v", "anon"]);
    assert!(!d.ok(&["volume", "ls", "-q"]).contains(&anon));

    // Bad names are refused and create nothing.
    let out = d.rrun(&["run", "--rm", "-v", "../evil:/data", "busybox", "true"]);
    assert_eq!(code(&out), 125);
    assert!(d.ok(&["ps", "-aq"]).trim().is_empty());

    assert_eq!(d.ok(&["volume", "rm", "keep"]).trim(), "keep");
    assert!(!std::path::Path::new(&mountpoint).exists());
}

#[test]
fn volumes_from_shares_a_data_container() {
    let d = Daemon::start();
    d.load_busybox();
    // A data-volume container that never runs.
    d.ok(&[
        "create", "--name", "store", "-v", "/shared", "busybox", "true",
    ]);
    d.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "store",
        "busybox",
        "sh",
        "-c",
        "echo shared > /shared/f",
    ]);
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "store:ro",
            "busybox",
            "cat",
            "/shared/f"
        ]),
        "shared\n"
    );
    let out = d.rrun(&[
        "run",
        "--rm",
        "--volumes-from",
        "store:ro",
        "busybox",
        "touch",
        "/shared/g",
    ]);
    assert_ne!(code(&out), 0, "a read-only volumes-from was writable");
    let out = d.rrun(&["run", "--rm", "--volumes-from", "nobody", "busybox", "true"]);
    assert_eq!(code(&out), 125);
}

#[test]
fn dns_ports_and_volumes_survive_a_daemon_sigkill() {
    let mut d = Daemon::start();
    d.load_busybox();
    d.ok(&["network", "create", "app"]);
    d.ok(&["volume", "create", "state"]);
    serve(
        &d,
        &[
            "--name",
            "api",
            "--hostname",
            "api-host",
            "--network",
            "app",
            "--network-alias",
            "backend",
            "-p",
            "18090:80",
            "-v",
            "state:/state",
        ],
    );
    wait_for("the port before", Duration::from_secs(20), || {
        fetch_from_host(&d, "http://127.0.0.1:18090/")
    });
    d.ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--network",
        "app",
        "busybox",
        "sleep",
        "300",
    ]);
    let ip = ip_on(&d, "api", "app");

    d.kill9();
    d.spawn();

    // The running container's resolver, port and volume still work.
    assert_eq!(inspect(&d, "api")["State"]["Status"], "running");
    let got = wait_for("the port after", Duration::from_secs(20), || {
        fetch_from_host(&d, "http://127.0.0.1:18090/")
    });
    assert_eq!(got, "api-host\n");
    let pid = inspect(&d, "client")["State"]["Pid"]
        .as_i64()
        .unwrap()
        .to_string();
    let out = common::run_timeout(
        10,
        std::path::Path::new("nsenter"),
        &["-t", &pid, "-m", "-n", "nslookup", "backend"],
        None,
    );
    assert!(
        text(&out.stdout).contains(&ip),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "app",
        "busybox",
        "nslookup",
        "api",
    ]);
    assert!(out.contains(&ip), "{out}");
    let out = d.rrun(&["volume", "rm", "state"]);
    assert_ne!(
        code(&out),
        0,
        "a volume in use was removed after the restart"
    );
}

/// An exited container's veth pair is left to go with its network
/// namespace; a container that starts again at once (its restart policy
/// here, five times in a row) replaces a pair still there and has its
/// interface and address each time, and its address is released on exit.
#[test]
fn a_container_restarted_at_once_gets_its_interface_again() {
    let d = Daemon::start();
    d.load_busybox();
    let net = common::unique("rs");
    d.ok(&["network", "create", &net]);
    // Exit 1 (restart) only when eth0 has its IPv4 address.
    let id = d
        .ok(&[
            "run",
            "-d",
            "--network",
            &net,
            "--restart",
            "on-failure:5",
            "busybox",
            "sh",
            "-c",
            "ip -4 addr show eth0 | grep -q inet && exit 1; exit 7",
        ])
        .trim()
        .to_string();
    let s = wait_for(
        "five restarts and a last exit",
        Duration::from_secs(60),
        || {
            let s = inspect(&d, &id);
            (s["RestartCount"] == 5 && s["State"]["Status"] == "exited").then_some(s)
        },
    );
    assert_eq!(s["State"]["ExitCode"], 1, "{:#}", s["State"]);
    assert_eq!(s["State"]["Error"], "", "{:#}", s["State"]);
    // Stopped: its address is free again.
    let n = common::daemon::inspect_network(&d, &net);
    assert_eq!(n["Containers"], serde_json::json!({}), "{n:#}");
    d.ok(&["rm", &id]);
    d.ok(&["network", "rm", &net]);
}
