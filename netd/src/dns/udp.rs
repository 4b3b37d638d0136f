//! The resolver's UDP side: one plain thread per resolver, blocking in
//! `recvmmsg` and answering each batch with one `sendmmsg`.
//!
//! Why not the tokio runtime: a profile of the async path (issue 18) spent
//! a fifth of the resolver's time in epoll, task wake-ups and eventfd
//! writes, and most of the rest in one syscall per datagram each way. Here
//! a query wakes this thread directly, a burst of queries costs one
//! syscall each way, and a query answered before ([`AnswerCache`]) costs a
//! copy: no decoding, no allocation. Queries for names that are not ours
//! are handed to the runtime (forwarding waits on upstreams) and their
//! answers sent from there.
//!
//! One socket, one thread, no `SO_REUSEPORT` group per core: a process
//! of the container with the same uid (root, usually) could join such a
//! group on 127.0.0.11:53 and take a share of the queries, and the thread
//! is far from busy (about 4 µs of CPU a query, nearly all of it the
//! kernel's sending; the client costs more).
//!
//! Stopping: `shutdown(2)` on the socket wakes the blocked `recvmmsg`
//! (and a blocked send), the thread sees the flag and returns, and the
//! socket is closed once the thread and any forward in the middle of a
//! send have let go of it, so the port can be bound again at once.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};

use super::cache::{AnswerCache, Outcome};
use super::records::{reply, Asker};
use super::server::{encode, forward, Ctx};

/// Datagrams taken per `recvmmsg`.
const BATCH: usize = 32;
/// A query longer than this is cut (as the async path's 4096-byte buffer
/// did) and so answered FORMERR.
const SLOT: usize = 4096;

/// A running UDP side; [`UdpServer::stop`] (or dropping it) ends it.
#[derive(Debug)]
pub struct UdpServer {
    sock: Option<Arc<UdpSocket>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpServer {
    /// Serve `sock` on a thread of its own; forwards run on `rt`.
    pub fn spawn(sock: UdpSocket, ctx: Arc<Ctx>, rt: tokio::runtime::Handle) -> io::Result<Self> {
        sock.set_nonblocking(false)?;
        let sock = Arc::new(sock);
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (sock.clone(), stop.clone());
        // Rust's default stack (reserved, mostly not resident), as on the
        // runtime's workers where queries were decoded before.
        let thread = std::thread::Builder::new()
            .name("dns-udp".into())
            .spawn(move || serve(&s, &st, &ctx, &rt))?;
        Ok(Self {
            sock: Some(sock),
            stop,
            thread: Some(thread),
        })
    }

    /// Stop the thread and close the socket; returns once it is closed.
    /// Takes microseconds: nothing on the thread blocks but the socket.
    pub fn stop(&mut self) {
        let Some(sock) = self.sock.take() else {
            return;
        };
        self.stop.store(true, Ordering::SeqCst);
        // On an unconnected UDP socket this fails with ENOTCONN but still
        // marks it shut and wakes every waiter (Linux's inet_shutdown).
        // SAFETY: shutdown(2) on a descriptor this value keeps open.
        unsafe { libc::shutdown(sock.as_raw_fd(), libc::SHUT_RDWR) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // A forward may hold the socket for the length of one send.
        let mut sock = sock;
        loop {
            match Arc::try_unwrap(sock) {
                Ok(s) => return drop(s),
                Err(s) => {
                    sock = s;
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
        }
    }
}

impl Drop for UdpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(sock: &Arc<UdpSocket>, stop: &AtomicBool, ctx: &Arc<Ctx>, rt: &tokio::runtime::Handle) {
    let fd = sock.as_raw_fd();
    let mut batch = Batch::new();
    let mut cache = AnswerCache::default();
    let asker = Asker::Container(&ctx.asker);
    loop {
        let got = batch.recv(fd);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let n = match got {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(error = %e, "dns: udp receive");
                // Not a busy loop on an error that stays.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let snapshot = ctx.records.load();
        for i in 0..n {
            let (query, out) = batch.slot(i);
            match cache.answer(&snapshot, asker, query, out) {
                Outcome::Reply => batch.answer(i),
                Outcome::Drop => {}
                Outcome::Forward(msg) => {
                    let (query, peer) = (query.to_vec(), batch.peer(i));
                    let (ctx, sock) = (ctx.clone(), Arc::downgrade(sock));
                    rt.spawn(async move { forwarded(&ctx, &query, &msg, &sock, peer).await });
                }
            }
        }
        drop(snapshot);
        if let Err(e) = batch.send(fd) {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            tracing::debug!(error = %e, "dns: udp send");
        }
    }
}

/// Ask the upstreams (SERVFAIL when none answers) and send the answer from
/// the runtime; nothing is sent once the server stopped.
async fn forwarded(ctx: &Ctx, query: &[u8], msg: &Message, sock: &Weak<UdpSocket>, peer: Peer) {
    let resp = match forward(&ctx.cfg, query, msg).await {
        Some(bytes) => Some(bytes),
        None => encode(msg, reply(msg, ResponseCode::ServFail), true),
    };
    let (Some(resp), Some(sock)) = (resp, sock.upgrade()) else {
        return;
    };
    // Never wait on a full send buffer here: this is a runtime worker.
    // SAFETY: `resp` and `peer` are valid for the call; `sock` keeps the
    // descriptor open.
    unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            resp.as_ptr().cast(),
            resp.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            (&raw const peer.addr).cast(),
            peer.len,
        )
    };
}

/// A datagram's source address, as the kernel gave it.
#[derive(Clone, Copy)]
struct Peer {
    addr: libc::sockaddr_storage,
    len: libc::socklen_t,
}

/// Buffers and headers for one `recvmmsg` and one `sendmmsg`, made once
/// per resolver. The headers point into the boxed slices, whose heap
/// memory never moves; the pointers are written again before each call.
struct Batch {
    bufs: Box<[[u8; SLOT]]>,
    lens: [usize; BATCH],
    peers: Box<[Peer]>,
    iov: Box<[libc::iovec]>,
    hdrs: Box<[libc::mmsghdr]>,
    /// The answers, one per slot, reused (they only grow).
    out: Box<[Vec<u8>]>,
    /// The slots with an answer to send, in order.
    answered: [usize; BATCH],
    n_answered: usize,
}

impl Batch {
    fn new() -> Self {
        // SAFETY: all-zero is a valid sockaddr_storage, iovec and mmsghdr
        // (null pointers, zero lengths).
        let zero_peer = Peer {
            addr: unsafe { zeroed() },
            len: 0,
        };
        Self {
            bufs: vec![[0u8; SLOT]; BATCH].into_boxed_slice(),
            lens: [0; BATCH],
            peers: vec![zero_peer; BATCH].into_boxed_slice(),
            iov: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            hdrs: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            out: (0..BATCH).map(|_| Vec::with_capacity(512)).collect(),
            answered: [0; BATCH],
            n_answered: 0,
        }
    }

    /// Block until at least one datagram is there; take up to [`BATCH`].
    fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.n_answered = 0;
        for i in 0..BATCH {
            self.iov[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: SLOT,
            };
            self.peers[i].len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            let h = &mut self.hdrs[i];
            h.msg_hdr.msg_name = (&raw mut self.peers[i].addr).cast();
            h.msg_hdr.msg_namelen = self.peers[i].len;
            h.msg_hdr.msg_iov = &raw mut self.iov[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = std::ptr::null_mut();
            h.msg_hdr.msg_controllen = 0;
            h.msg_hdr.msg_flags = 0;
            h.msg_len = 0;
        }
        // MSG_WAITFORONE: block for the first, then take what is queued.
        // SAFETY: every header points at live buffers of the stated sizes.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for i in 0..n {
            self.lens[i] = (self.hdrs[i].msg_len as usize).min(SLOT);
            self.peers[i].len = self.hdrs[i].msg_hdr.msg_namelen;
        }
        Ok(n)
    }

    /// The query in slot `i` and the buffer for its answer.
    fn slot(&mut self, i: usize) -> (&[u8], &mut Vec<u8>) {
        (&self.bufs[i][..self.lens[i]], &mut self.out[i])
    }

    fn peer(&self, i: usize) -> Peer {
        self.peers[i]
    }

    /// Slot `i`'s answer is ready to send.
    fn answer(&mut self, i: usize) {
        self.answered[self.n_answered] = i;
        self.n_answered += 1;
    }

    /// Send every answer of this batch, each to its query's source. A
    /// datagram the kernel refuses is dropped (UDP; the client retries).
    fn send(&mut self, fd: RawFd) -> io::Result<()> {
        let count = self.n_answered;
        for (k, &i) in self.answered[..count].iter().enumerate() {
            self.iov[k] = libc::iovec {
                iov_base: self.out[i].as_mut_ptr().cast(),
                iov_len: self.out[i].len(),
            };
            let h = &mut self.hdrs[k];
            h.msg_hdr.msg_name = (&raw mut self.peers[i].addr).cast();
            h.msg_hdr.msg_namelen = self.peers[i].len;
            h.msg_hdr.msg_iov = &raw mut self.iov[k];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_flags = 0;
        }
        let mut sent = 0;
        let mut last = Ok(());
        while sent < count {
            // SAFETY: headers sent..count point at live answers and peers.
            let n = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs[sent..].as_mut_ptr(),
                    (count - sent) as libc::c_uint,
                    libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                if matches!(e.raw_os_error(), Some(libc::EPIPE)) {
                    return Err(e); // shut: stopping
                }
                // This datagram failed; the rest may not.
                last = Err(e);
                sent += 1;
            } else {
                sent += n as usize;
            }
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};

    use hickory_proto::op::{Message, Query, ResponseCode};
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    use crate::dns::server::{DnsServer, Records, ServerConfig};
    use crate::dns::{DnsEndpoint, Snapshot};

    const ME: &str = "5eed000000000000000000000000000000000000000000000000000000000000";

    fn snapshot(db_name: &str) -> Snapshot {
        let ep = |id: &str, name: &str, last| DnsEndpoint {
            container_id: id.into(),
            network: "n".into(),
            internal: false,
            names: vec![name.into()],
            ipv4: Some(Ipv4Addr::new(10, 0, 0, last)),
            ipv6: None,
            links: vec![],
        };
        Snapshot::new(vec![ep(ME, "me", 2), ep(&"d".repeat(64), db_name, 3)])
    }

    fn query(id: u16, name: &str) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = id;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        m.to_vec().unwrap()
    }

    /// An upstream on loopback: `up.test` is 192.0.2.7, the rest NXDOMAIN.
    async fn stub() -> SocketAddr {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
                let q = Message::from_vec(&buf[..n]).unwrap();
                let mut r = Message::response(q.metadata.id, q.metadata.op_code);
                r.add_queries(q.queries.iter().cloned());
                if q.queries[0].name().to_ascii() == "up.test." {
                    let a = RData::A(A(Ipv4Addr::new(192, 0, 2, 7)));
                    r.add_answer(Record::from_rdata(q.queries[0].name().clone(), 30, a));
                } else {
                    r.metadata.response_code = ResponseCode::NXDomain;
                }
                let _ = sock.send_to(&r.to_vec().unwrap(), peer).await;
            }
        });
        addr
    }

    fn recv(c: &std::net::UdpSocket) -> Message {
        let mut buf = [0u8; 4096];
        let n = c.recv(&mut buf).expect("an answer within 5 s");
        Message::from_vec(&buf[..n]).unwrap()
    }

    fn a(m: &Message) -> Vec<Ipv4Addr> {
        m.answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect()
    }

    /// Many queries in flight at once (taken in batches, answered from the
    /// cache after the first), a forward, a rename seen by the very next
    /// query, and a shutdown that frees the port at once.
    #[test]
    fn batched_answers_forwards_renames_and_shutdown() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _rt = rt.enter();
        let up = rt.block_on(stub());
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        tcp.set_nonblocking(true).unwrap();
        let records = Records::new(snapshot("db"));
        let cfg = ServerConfig {
            upstreams: vec![up],
            ..Default::default()
        };
        let server = DnsServer::serve(udp, tcp, ME, records.clone(), cfg).unwrap();
        let addr = server.local_addr();
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        c.connect(addr).unwrap();

        let n = 200u16;
        for id in 0..n {
            c.send(&query(id, "db")).unwrap();
        }
        let mut seen = vec![false; n as usize];
        for _ in 0..n {
            let m = recv(&c);
            assert_eq!(a(&m), vec![Ipv4Addr::new(10, 0, 0, 3)]);
            assert!(!std::mem::replace(&mut seen[m.metadata.id as usize], true));
        }

        c.send(&query(7, "up.test")).unwrap();
        let m = recv(&c);
        assert_eq!(
            (m.metadata.id, a(&m)),
            (7, vec![Ipv4Addr::new(192, 0, 2, 7)])
        );

        // `rename db store`: the next query sees it, not the kept answer.
        records.replace(snapshot("store"));
        c.send(&query(8, "db")).unwrap();
        let m = recv(&c);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{m:?}");
        c.send(&query(9, "store")).unwrap();
        assert_eq!(a(&recv(&c)), vec![Ipv4Addr::new(10, 0, 0, 3)]);

        let t = std::time::Instant::now();
        rt.block_on(server.shutdown());
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        let udp = std::net::UdpSocket::bind(addr).expect("the port is free once shut down");
        // And when dropped (as the daemon does), the same.
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        tcp.set_nonblocking(true).unwrap();
        let again = DnsServer::serve(udp, tcp, ME, records, ServerConfig::default()).unwrap();
        c.send(&query(10, "store")).unwrap();
        assert_eq!(a(&recv(&c)), vec![Ipv4Addr::new(10, 0, 0, 3)]);
        drop(again);
        std::net::UdpSocket::bind(addr).expect("the port is free once dropped");
    }
}
