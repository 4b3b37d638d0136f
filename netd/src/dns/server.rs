//! The embedded resolver's sockets: 127.0.0.11:53, UDP and TCP, inside a
//! container's network namespace.
//!
//! Sockets are bound on a dedicated thread inside the namespace (see
//! `netns`). UDP, where nearly every query comes, is served by a plain
//! thread of its own in batches (see `udp`); TCP and forwarding run on the
//! daemon's tokio runtime, so upstream traffic leaves from the daemon's
//! namespace, where the host's resolvers are reachable.
//!
//! Each query reads the current [`Snapshot`] through an `ArcSwap`: a reload
//! swaps the whole snapshot and readers never block.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hickory_proto::op::{Message, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::records::{reply, Answer, Asker, Snapshot};
use super::udp::UdpServer;
use crate::netns::NetNs;
use crate::resolv::EMBEDDED_DNS;

/// The shared, swappable view every resolver answers from.
#[derive(Debug, Default)]
pub struct Records {
    current: ArcSwap<Snapshot>,
}

impl Records {
    pub fn new(snapshot: Snapshot) -> Arc<Self> {
        Arc::new(Self {
            current: ArcSwap::from_pointee(snapshot),
        })
    }

    /// Replace the snapshot; queries in flight finish with the old one.
    pub fn replace(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
    }

    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }
}

/// How one container's resolver behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Tried in order; each gets `upstream_timeout`.
    pub upstreams: Vec<SocketAddr>,
    /// Well under the 5 s a libc resolver waits, so a dead upstream is
    /// skipped before the client gives up.
    pub upstream_timeout: Duration,
    /// A TCP connection idle this long is closed.
    pub tcp_idle: Duration,
    /// At most this many TCP connections at once; more are closed at accept.
    pub max_tcp: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            upstreams: Vec::new(),
            upstream_timeout: Duration::from_millis(1500),
            tcp_idle: Duration::from_secs(10),
            max_tcp: 64,
        }
    }
}

/// Where the resolver listens inside each container.
pub const LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(EMBEDDED_DNS, 53));

/// Bind UDP and TCP on `addr` inside `ns`, on a dedicated thread. The
/// sockets are non-blocking, ready for [`DnsServer::serve`].
pub fn bind_in(
    ns: &NetNs,
    addr: SocketAddr,
) -> io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    ns.run(|| {
        let udp = std::net::UdpSocket::bind(addr)?;
        udp.set_nonblocking(true)?;
        let tcp = std::net::TcpListener::bind(addr)?;
        tcp.set_nonblocking(true)?;
        Ok((udp, tcp))
    })?
}

/// A running resolver; dropping it stops it.
#[derive(Debug)]
pub struct DnsServer {
    tasks: Vec<JoinHandle<()>>,
    udp: UdpServer,
    addr: SocketAddr,
}

/// What a resolver answers from, shared by its UDP thread and its tasks.
pub(super) struct Ctx {
    pub(super) asker: String,
    pub(super) records: Arc<Records>,
    pub(super) cfg: ServerConfig,
}

impl DnsServer {
    /// Bind 127.0.0.11:53 inside `ns` and serve queries for `container_id`.
    /// Must be called within a tokio runtime; it only returns once the
    /// sockets are bound, so the resolver is ready when this returns.
    pub fn start_in(
        ns: &NetNs,
        container_id: &str,
        records: Arc<Records>,
        cfg: ServerConfig,
    ) -> io::Result<Self> {
        let (udp, tcp) = bind_in(ns, LISTEN)?;
        Self::serve(udp, tcp, container_id, records, cfg)
    }

    /// Serve already-bound sockets (from [`bind_in`]).
    pub fn serve(
        udp: std::net::UdpSocket,
        tcp: std::net::TcpListener,
        container_id: &str,
        records: Arc<Records>,
        cfg: ServerConfig,
    ) -> io::Result<Self> {
        let addr = udp.local_addr()?;
        let tcp = TcpListener::from_std(tcp)?;
        let ctx = Arc::new(Ctx {
            asker: container_id.to_string(),
            records,
            cfg,
        });
        let udp = UdpServer::spawn(udp, ctx.clone(), tokio::runtime::Handle::current())?;
        let tasks = vec![tokio::spawn(serve_tcp(tcp, ctx))];
        Ok(Self { tasks, udp, addr })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop and wait until the sockets are closed, so the address can be
    /// bound again right away (a restarted resolver).
    pub async fn shutdown(mut self) {
        self.udp.stop();
        for t in std::mem::take(&mut self.tasks) {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.udp.stop();
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn serve_tcp(listener: TcpListener, ctx: Arc<Ctx>) {
    let slots = Arc::new(Semaphore::new(ctx.cfg.max_tcp));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Over the cap: close at once rather than queue.
            drop(stream);
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = tcp_connection(stream, &ctx).await {
                tracing::debug!(error = %e, "dns: tcp connection ended");
            }
        });
    }
}

/// Several queries per connection (RFC 7766), each framed by a 2-byte length.
async fn tcp_connection(mut stream: TcpStream, ctx: &Ctx) -> io::Result<()> {
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(ctx.cfg.tcp_idle, stream.read_exact(&mut len)).await {
            Err(_) => return Ok(()), // idle
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(r) => r?,
        };
        let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
        tokio::time::timeout(ctx.cfg.tcp_idle, stream.read_exact(&mut query))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "tcp query body"))??;
        let Some(resp) = handle(ctx, &query, false).await else {
            return Ok(());
        };
        let mut framed = Vec::with_capacity(resp.len() + 2);
        framed.extend_from_slice(&(resp.len() as u16).to_be_bytes());
        framed.extend_from_slice(&resp);
        stream.write_all(&framed).await?;
    }
}

/// The response bytes for one query, or None when it is not worth one
/// (undecodable garbage without even an id).
async fn handle(ctx: &Ctx, query: &[u8], udp: bool) -> Option<Vec<u8>> {
    let snapshot = ctx.records.load();
    let decided = decide(&snapshot, Asker::Container(&ctx.asker), query, udp);
    drop(snapshot);
    match decided {
        Decision::Drop => None,
        Decision::Reply(bytes) => Some(bytes),
        Decision::Forward(msg) => match forward(&ctx.cfg, query, &msg).await {
            Some(bytes) => Some(bytes),
            None => encode(&msg, reply(&msg, ResponseCode::ServFail), udp),
        },
    }
}

/// What the resolver does with one query's bytes, decided without I/O.
#[derive(Debug)]
pub enum Decision {
    /// Undecodable garbage without even an id: no answer.
    Drop,
    /// The response's bytes (truncated to fit a UDP payload).
    Reply(Vec<u8>),
    /// Ask the upstream servers (the decoded query).
    Forward(Message),
}

/// Decodes `query`, answers it from `snapshot` for `asker` or says to
/// forward it. Pure: the fuzz target `dns_message` drives it.
pub fn decide(snapshot: &Snapshot, asker: Asker<'_>, query: &[u8], udp: bool) -> Decision {
    let msg = match Message::from_vec(query) {
        Ok(m) => m,
        Err(_) if query.len() >= 2 => {
            let mut m = Message::response(
                u16::from_be_bytes([query[0], query[1]]),
                hickory_proto::op::OpCode::Query,
            );
            m.metadata.response_code = ResponseCode::FormErr;
            return m.to_vec().map_or(Decision::Drop, Decision::Reply);
        }
        Err(_) => return Decision::Drop,
    };
    match snapshot.answer(asker, &msg) {
        Answer::Reply(resp) => encode(&msg, resp, udp).map_or(Decision::Drop, Decision::Reply),
        Answer::Forward => Decision::Forward(msg),
    }
}

/// `resp`'s bytes, truncated when over the asker's UDP payload size.
pub(super) fn encode(msg: &Message, resp: Message, udp: bool) -> Option<Vec<u8>> {
    let bytes = resp.to_vec().ok()?;
    let limit = if msg.edns.is_some() {
        usize::from(msg.max_payload().max(512))
    } else {
        512
    };
    if udp && bytes.len() > limit {
        return resp.truncate().to_vec().ok();
    }
    Some(bytes)
}

/// Ask each upstream in turn; the first valid response wins. A truncated
/// UDP answer is asked again over TCP.
pub(super) async fn forward(cfg: &ServerConfig, query: &[u8], msg: &Message) -> Option<Vec<u8>> {
    for up in &cfg.upstreams {
        match tokio::time::timeout(
            cfg.upstream_timeout,
            forward_one(*up, query, msg.metadata.id),
        )
        .await
        {
            Ok(Ok(resp)) => return Some(resp),
            Ok(Err(e)) => tracing::debug!(upstream = %up, error = %e, "dns: upstream failed"),
            Err(_) => tracing::debug!(upstream = %up, "dns: upstream timed out"),
        }
    }
    None
}

async fn forward_one(up: SocketAddr, query: &[u8], id: u16) -> io::Result<Vec<u8>> {
    let bind: SocketAddr = if up.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(up).await?;
    sock.send(query).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await?;
        let Ok(resp) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        // Ignore strays: only a response to our id counts.
        if resp.metadata.id != id
            || resp.metadata.message_type != hickory_proto::op::MessageType::Response
        {
            continue;
        }
        if resp.metadata.truncation {
            return forward_tcp(up, query).await;
        }
        return Ok(buf[..n].to_vec());
    }
}

async fn forward_tcp(up: SocketAddr, query: &[u8]) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(up).await?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed).await?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let mut resp = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut resp).await?;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::DnsEndpoint;
    use hickory_proto::op::Query;
    use hickory_proto::rr::{Name, RecordType};

    fn ctx(n: u8) -> Ctx {
        let mut eps = Vec::new();
        for i in 0..n {
            eps.push(DnsEndpoint {
                container_id: format!("{i:064x}"),
                network: "net".into(),
                internal: true,
                names: vec![format!("c{i}"), "many".into()],
                ipv4: Some(Ipv4Addr::new(10, 0, 0, i + 1)),
                ipv6: None,
                links: vec![],
            });
        }
        Ctx {
            asker: format!("{:064x}", 0),
            records: Records::new(Snapshot::new(eps)),
            cfg: ServerConfig::default(),
        }
    }

    fn query(name: &str, edns: bool) -> Vec<u8> {
        let mut m = Message::query();
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        if edns {
            let mut e = hickory_proto::op::Edns::new();
            e.set_max_payload(4096);
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    #[tokio::test]
    async fn big_udp_answers_truncate_without_edns_and_fit_with_it() {
        let c = ctx(60);
        // 60 A records: well over 512 bytes.
        let udp =
            Message::from_vec(&handle(&c, &query("many", false), true).await.unwrap()).unwrap();
        assert!(udp.metadata.truncation);
        let big =
            Message::from_vec(&handle(&c, &query("many", true), true).await.unwrap()).unwrap();
        assert!(!big.metadata.truncation);
        assert_eq!(big.answers.len(), 60);
        let tcp =
            Message::from_vec(&handle(&c, &query("many", false), false).await.unwrap()).unwrap();
        assert_eq!(tcp.answers.len(), 60);
    }

    #[tokio::test]
    async fn garbage_gets_formerr_or_nothing() {
        let c = ctx(1);
        let r = Message::from_vec(&handle(&c, &[0x12, 0x34, 0xff], true).await.unwrap()).unwrap();
        assert_eq!(r.metadata.id, 0x1234);
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
        assert!(handle(&c, &[1], true).await.is_none());
    }

    #[tokio::test]
    async fn snapshot_replacement_is_seen_by_the_next_query() {
        let c = ctx(2);
        let a = Message::from_vec(&handle(&c, &query("c1", false), true).await.unwrap()).unwrap();
        assert_eq!(a.answers.len(), 1);
        c.records.replace(Snapshot::default());
        let r = Message::from_vec(&handle(&c, &query("c1", false), true).await.unwrap()).unwrap();
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::Refused,
            "asker gone from the snapshot"
        );
    }
}
