//! Root tests: the embedded resolver inside "containers" (network namespaces
//! the test makes, wired to bridges in a host namespace the test makes),
//! queried with dig, glibc's getent and busybox nslookup.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{stdout, unique, TestNs};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use netd::dns::server::{DnsServer, Records, ServerConfig};
use netd::dns::{DnsEndpoint, Snapshot};
use netd::link::{self, Attachment, BridgeSpec};
use netd::resolv::{container_resolv_conf, DnsOptions, ResolvConf};

/// A test upstream on 127.0.0.x: answers `upstream.test` with 192.0.2.7,
/// NXDOMAIN for anything else, and counts what it saw.
struct Stub {
    addr: SocketAddr,
    seen: Arc<AtomicUsize>,
}

fn loopback_ip(k: u32) -> Ipv4Addr {
    Ipv4Addr::new(
        127,
        0,
        (100 + k % 100) as u8,
        (2 + std::process::id() % 250) as u8,
    )
}

async fn start_stub(ip: Ipv4Addr) -> Stub {
    let sock = tokio::net::UdpSocket::bind((ip, 0)).await.unwrap();
    let addr = sock.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut r = Message::response(q.metadata.id, q.metadata.op_code);
            r.add_queries(q.queries.iter().cloned());
            let name = q.queries[0].name().to_ascii();
            if name == "upstream.test." && q.queries[0].query_type() == RecordType::A {
                r.add_answer(Record::from_rdata(
                    q.queries[0].name().clone(),
                    30,
                    RData::A(A(Ipv4Addr::new(192, 0, 2, 7))),
                ));
            } else {
                r.metadata.response_code = ResponseCode::NXDomain;
            }
            let _ = sock.send_to(&r.to_vec().unwrap(), peer).await;
        }
    });
    Stub { addr, seen }
}

struct Container {
    ns: TestNs,
    id: String,
    ip: Ipv4Addr,
}

fn endpoint(c: &Container, net: &str, internal: bool, names: &[&str]) -> DnsEndpoint {
    DnsEndpoint {
        container_id: c.id.clone(),
        network: net.into(),
        internal,
        names: names.iter().map(|s| s.to_string()).collect(),
        ipv4: Some(c.ip),
        ipv6: None,
        links: vec![],
    }
}

fn dig(c: &Container, args: &[&str]) -> String {
    let mut full = vec!["dig", "@127.0.0.11", "+time=3", "+tries=1"];
    full.extend_from_slice(args);
    let out = c.ns.exec(15, &full);
    stdout(&out)
}

fn short(c: &Container, args: &[&str]) -> Vec<String> {
    let mut a = vec!["+short"];
    a.extend_from_slice(args);
    dig(c, &a).lines().map(str::to_string).collect()
}

#[test]
fn embedded_resolver_answers_names_aliases_ptr_and_forwards() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let host = TestNs::new("rrh");
    let (app_net, other_net, int_net) = ("todo-app", "other", "isolated");
    let bridges: Vec<String> = (0..3)
        .map(|_| format!("rr-{}", unique("").replace('-', "")))
        .collect();
    for (i, br) in bridges.iter().enumerate() {
        let spec = BridgeSpec {
            name: br.clone(),
            gateways: vec![format!("10.{}.0.1/24", 81 + i).parse().unwrap()],
            mtu: None,
        };
        link::ensure_bridge(&host.open(), &spec).unwrap();
    }
    // app, mysql1 and mysql2 (alias mysql) on todo-app; secret on other;
    // iso on the internal network.
    let plan = [(0, 2), (0, 3), (0, 4), (1, 2), (2, 2)];
    let containers: Vec<Container> = plan
        .iter()
        .map(|(net, host_part)| {
            let ns = TestNs::new("rrc");
            let ip = Ipv4Addr::new(10, 81 + *net as u8, 0, *host_part);
            let a = Attachment {
                bridge: bridges[*net].clone(),
                host_veth: link::veth_name(&ns.name, &bridges[*net]),
                ifname: "eth0".into(),
                addresses: vec![format!("{ip}/24").parse().unwrap()],
                default_gateway: Some(Ipv4Addr::new(10, 81 + *net as u8, 0, 1)),
                default_gateway6: None,
                mac: None,
                mtu: None,
            };
            link::attach(&host.open(), &ns.open(), &a).unwrap();
            // Unique 12-digit short ids: pid and a sequence number.
            let id = format!(
                "{:08x}{:04x}{:052x}",
                std::process::id(),
                containers_seq(),
                0
            );
            Container { ns, id, ip }
        })
        .collect();
    let [app, mysql1, mysql2, secret, iso] = &containers[..] else {
        unreachable!()
    };
    let records = Records::new(Snapshot::new(vec![
        endpoint(app, app_net, false, &["app", "app-host"]),
        endpoint(mysql1, app_net, false, &["mysql1", "mysql"]),
        endpoint(mysql2, app_net, false, &["mysql2", "mysql"]),
        endpoint(secret, other_net, false, &["secret"]),
        endpoint(iso, int_net, true, &["iso"]),
    ]));

    let _guard = rt.enter();
    let stub = rt.block_on(start_stub(loopback_ip(1)));
    // A dead upstream first: bound, never answering.
    let dead = std::net::UdpSocket::bind((loopback_ip(2), 0)).unwrap();
    let cfg = ServerConfig {
        upstreams: vec![dead.local_addr().unwrap(), stub.addr],
        upstream_timeout: Duration::from_millis(700),
        ..Default::default()
    };
    let host_rc = ResolvConf::parse("nameserver 127.0.0.53\nsearch example.invalid\n");
    let mut servers = Vec::new();
    for c in &containers {
        servers
            .push(DnsServer::start_in(&c.ns.open(), &c.id, records.clone(), cfg.clone()).unwrap());
        let rc = container_resolv_conf(&host_rc, &DnsOptions::default());
        assert!(rc.starts_with("nameserver 127.0.0.11\n"));
        c.ns.write_etc("resolv.conf", &rc);
    }

    // Names, aliases, short ids, several containers behind one alias.
    assert_eq!(short(app, &["mysql1"]), vec!["10.81.0.3"]);
    assert_eq!(short(app, &["mysql"]), vec!["10.81.0.3", "10.81.0.4"]);
    assert_eq!(short(mysql1, &["app-host"]), vec!["10.81.0.2"]);
    assert_eq!(short(mysql1, &[&app.id[..12]]), vec!["10.81.0.2"]);
    // glibc's resolver and busybox's, through resolv.conf.
    let g = app.ns.exec(15, &["getent", "hosts", "mysql2"]);
    assert!(
        stdout(&g).starts_with("10.81.0.4"),
        "getent: {}",
        stdout(&g)
    );
    let b = app
        .ns
        .exec(15, &["busybox", "nslookup", "mysql1", "127.0.0.11"]);
    assert!(stdout(&b).contains("10.81.0.3"), "nslookup: {}", stdout(&b));
    // And a name is usable: ping by name, over the bridge.
    let p = app
        .ns
        .exec(15, &["busybox", "ping", "-c", "1", "-W", "3", "mysql2"]);
    assert!(p.status.success(), "ping mysql2: {}", stdout(&p));

    // Across networks: not resolved (forwarded, the stub says NXDOMAIN).
    let out = dig(app, &["secret"]);
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    assert!(!out.contains("10.82.0.2"), "{out}");
    assert_eq!(short(secret, &["secret"]), vec!["10.82.0.2"]);
    let g = secret.ns.exec(15, &["getent", "hosts", "mysql1"]);
    assert!(
        !g.status.success(),
        "mysql1 visible from other network: {}",
        stdout(&g)
    );

    // AAAA for an IPv4-only name: NOERROR, no records.
    let out = dig(app, &["mysql1", "AAAA"]);
    assert!(
        out.contains("status: NOERROR") && out.contains("ANSWER: 0"),
        "{out}"
    );

    // PTR.
    assert_eq!(short(app, &["-x", "10.81.0.3"]), vec!["mysql1.todo-app."]);

    // TCP, two queries on one connection.
    let out = dig(app, &["+tcp", "+keepopen", "mysql1", "app"]);
    assert!(
        out.contains("10.81.0.3") && out.contains("10.81.0.2"),
        "{out}"
    );
    assert_eq!(out.matches("status: NOERROR").count(), 2, "{out}");

    // Forwarding: past the dead upstream to the stub, well within 5 s.
    let t = Instant::now();
    assert_eq!(short(app, &["upstream.test"]), vec!["192.0.2.7"]);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    assert!(stub.seen.load(Ordering::SeqCst) >= 1);

    // Internal network: never forwarded.
    let before = stub.seen.load(Ordering::SeqCst);
    let out = dig(iso, &["upstream.test"]);
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    assert_eq!(
        stub.seen.load(Ordering::SeqCst),
        before,
        "internal network query reached upstream"
    );

    // Snapshot swapped: a new alias resolves at once, an old one is gone.
    let mut eps = records.load().endpoints().to_vec();
    eps[1].names.push("db".into());
    eps.remove(2);
    records.replace(Snapshot::new(eps));
    assert_eq!(short(app, &["db"]), vec!["10.81.0.3"]);
    assert_eq!(short(app, &["mysql"]), vec!["10.81.0.3"]);

    // All upstreams dead: SERVFAIL, within the per-upstream timeouts.
    rt.block_on(async {
        for s in servers {
            s.shutdown().await;
        }
    });
    let dead_only = ServerConfig {
        upstreams: vec![dead.local_addr().unwrap()],
        upstream_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let _s = DnsServer::start_in(&app.ns.open(), &app.id, records.clone(), dead_only).unwrap();
    let t = Instant::now();
    let out = dig(app, &["upstream.test"]);
    assert!(out.contains("status: SERVFAIL"), "{out}");
    assert!(t.elapsed() < Duration::from_secs(3));
}

fn containers_seq() -> u32 {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst) as u32
}

#[test]
fn tcp_connections_are_capped_and_idle_ones_closed() {
    use std::io::{Read, Write};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let c = TestNs::new("rrc");
    let id = format!("{:0>64}", "beef");
    let records = Records::new(Snapshot::new(vec![DnsEndpoint {
        container_id: id.clone(),
        network: "n".into(),
        internal: true,
        names: vec!["me".into()],
        ipv4: Some(Ipv4Addr::new(10, 9, 0, 2)),
        ipv6: None,
        links: vec![],
    }]));
    let cfg = ServerConfig {
        max_tcp: 2,
        tcp_idle: Duration::from_millis(1500),
        ..Default::default()
    };
    let _s = DnsServer::start_in(&c.open(), &id, records, cfg).unwrap();
    // Connect from inside the namespace, on a thread of the namespace.
    c.open()
        .run(|| {
            let connect = || std::net::TcpStream::connect("127.0.0.11:53").unwrap();
            let opened = Instant::now();
            // The server accepts in order: these two take both slots.
            let held: Vec<_> = (0..2).map(|_| connect()).collect();
            let mut third = connect();
            third
                .set_read_timeout(Some(Duration::from_secs(3)))
                .unwrap();
            let mut buf = [0u8; 1];
            assert_eq!(third.read(&mut buf).unwrap(), 0, "over the cap: closed");
            // Closed at accept, not by the (longer) idle timeout.
            assert!(opened.elapsed() < Duration::from_millis(1000));
            // An idle connection is closed after tcp_idle.
            let mut first = &held[0];
            first
                .set_read_timeout(Some(Duration::from_secs(4)))
                .unwrap();
            assert_eq!(first.read(&mut buf).unwrap(), 0);
            assert!(opened.elapsed() >= Duration::from_millis(1500));
            assert!(opened.elapsed() < Duration::from_secs(4));
            drop(held);
            // Slots free again: a query over TCP gets its answer.
            let mut q = Message::query();
            q.add_query(hickory_proto::op::Query::query(
                "me.".parse().unwrap(),
                RecordType::A,
            ));
            let q = q.to_vec().unwrap();
            let mut framed = (q.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&q);
            let resp = common::poll("a free tcp slot", Duration::from_secs(5), || {
                let mut s = connect();
                s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                s.write_all(&framed).ok()?;
                let mut len = [0u8; 2];
                s.read_exact(&mut len).ok()?;
                let mut resp = vec![0u8; u16::from_be_bytes(len) as usize];
                s.read_exact(&mut resp).ok()?;
                Some(resp)
            });
            let m = Message::from_vec(&resp).unwrap();
            assert_eq!(m.answers.len(), 1);
        })
        .unwrap();
}
