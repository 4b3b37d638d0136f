//! DNS answers from a read-only snapshot of who can see whom.
//!
//! The asker (the container whose resolver got the query, or an address)
//! maps to its networks; a name resolves only to endpoints on those networks.
//! Everything else is forwarded upstream unless the asker is only on internal
//! networks. Messages are hickory-proto types, never parsed by hand.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// Answers are short-lived: containers come and go.
pub const TTL: u32 = 10;

/// One container's attachment to one network, as DNS sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsEndpoint {
    /// The full container id; its 12-digit prefix also resolves.
    pub container_id: String,
    pub network: String,
    pub internal: bool,
    /// Container name, `--network-alias` aliases, hostname.
    pub names: Vec<String>,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// `--link`s of this container on this network: (alias, the linked
    /// container's name), resolved for this container only.
    pub links: Vec<(String, String)>,
}

impl DnsEndpoint {
    fn matches(&self, q: &str) -> bool {
        let short = self.container_id.get(..12).unwrap_or(&self.container_id);
        let bare = |n: &str| n.eq_ignore_ascii_case(q);
        // `name.network` also resolves, as with Docker.
        let qualified = |n: &str| {
            q.len() == n.len() + 1 + self.network.len()
                && q[..n.len()].eq_ignore_ascii_case(n)
                && q.as_bytes()[n.len()] == b'.'
                && q[n.len() + 1..].eq_ignore_ascii_case(&self.network)
        };
        self.names
            .iter()
            .chain(std::iter::once(&short.to_string()))
            .any(|n| bare(n) || qualified(n))
    }

    fn has_ip(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.ipv4 == Some(v4),
            IpAddr::V6(v6) => self.ipv6 == Some(v6),
        }
    }
}

/// Who asks.
#[derive(Debug, Clone, Copy)]
pub enum Asker<'a> {
    /// The container a per-namespace resolver serves.
    Container(&'a str),
    /// A source address (a resolver shared by several containers).
    Ip(IpAddr),
}

/// What to do with a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Reply(Message),
    Forward,
}

/// An immutable view of every endpoint; replaced whole on change.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    endpoints: Vec<DnsEndpoint>,
}

impl Snapshot {
    pub fn new(endpoints: Vec<DnsEndpoint>) -> Self {
        Self { endpoints }
    }

    pub fn endpoints(&self) -> &[DnsEndpoint] {
        &self.endpoints
    }

    /// The asker's own endpoints (one per network it is on).
    fn own(&self, asker: Asker<'_>) -> Vec<&DnsEndpoint> {
        self.endpoints
            .iter()
            .filter(|e| match asker {
                Asker::Container(id) => e.container_id == id,
                Asker::Ip(ip) => e.has_ip(ip),
            })
            .collect()
    }

    /// Answer `query` for `asker`.
    pub fn answer(&self, asker: Asker<'_>, query: &Message) -> Answer {
        if query.metadata.message_type != MessageType::Query
            || query.metadata.op_code != OpCode::Query
            || query.queries.len() != 1
        {
            return Answer::Reply(reply(query, ResponseCode::FormErr));
        }
        let own = self.own(asker);
        if own.is_empty() {
            return Answer::Reply(reply(query, ResponseCode::Refused));
        }
        let networks: BTreeSet<&str> = own.iter().map(|e| e.network.as_str()).collect();
        let may_forward = own.iter().any(|e| !e.internal);
        let q = &query.queries[0];
        if q.query_class() != DNSClass::IN {
            return self.not_ours(query, may_forward);
        }
        let visible = || {
            self.endpoints
                .iter()
                .filter(|e| networks.contains(e.network.as_str()))
        };
        if q.query_type() == RecordType::PTR {
            let Ok(net) = q.name().parse_arpa_name() else {
                return self.not_ours(query, may_forward);
            };
            let ip = net.addr();
            let mut targets: Vec<String> = visible()
                .filter(|e| e.has_ip(ip))
                .filter_map(|e| e.names.first().map(|n| format!("{n}.{}.", e.network)))
                .collect();
            targets.sort();
            targets.dedup();
            if targets.is_empty() {
                return self.not_ours(query, may_forward);
            }
            let mut m = reply(query, ResponseCode::NoError);
            for t in targets {
                if let Ok(name) = Name::from_ascii(&t) {
                    m.add_answer(Record::from_rdata(
                        q.name().clone(),
                        TTL,
                        RData::PTR(PTR(name)),
                    ));
                }
            }
            return Answer::Reply(m);
        }
        let qname = q.name().to_ascii();
        let qname = qname.trim_end_matches('.');
        // The asker's links first: on the network of the linking endpoint,
        // the linked container's name under the alias.
        let mut hits: Vec<&DnsEndpoint> = own
            .iter()
            .flat_map(|&o| {
                o.links
                    .iter()
                    .filter(|(alias, _)| alias.eq_ignore_ascii_case(qname))
                    .flat_map(move |(_, target)| {
                        self.endpoints.iter().filter(move |e| {
                            e.network == o.network
                                && e.names
                                    .first()
                                    .is_some_and(|n| n.eq_ignore_ascii_case(target))
                        })
                    })
            })
            .collect();
        if hits.is_empty() {
            hits = visible().filter(|e| e.matches(qname)).collect();
        }
        if hits.is_empty() {
            return self.not_ours(query, may_forward);
        }
        let mut m = reply(query, ResponseCode::NoError);
        // Several containers sharing an alias: all their addresses, in a
        // stable (ascending) order.
        match q.query_type() {
            RecordType::A => {
                let ips: BTreeSet<Ipv4Addr> = hits.iter().filter_map(|e| e.ipv4).collect();
                for ip in ips {
                    m.add_answer(Record::from_rdata(q.name().clone(), TTL, RData::A(A(ip))));
                }
            }
            RecordType::AAAA => {
                let ips: BTreeSet<Ipv6Addr> = hits.iter().filter_map(|e| e.ipv6).collect();
                for ip in ips {
                    m.add_answer(Record::from_rdata(
                        q.name().clone(),
                        TTL,
                        RData::AAAA(AAAA(ip)),
                    ));
                }
            }
            // The name exists but has no record of this type: NOERROR, no
            // records (NODATA), never NXDOMAIN, or resolvers give up on the A.
            _ => {}
        }
        Answer::Reply(m)
    }

    fn not_ours(&self, query: &Message, may_forward: bool) -> Answer {
        if may_forward {
            Answer::Forward
        } else {
            Answer::Reply(reply(query, ResponseCode::NXDomain))
        }
    }
}

/// A response to `query` with its id, question and flags.
pub fn reply(query: &Message, code: ResponseCode) -> Message {
    let mut m = Message::response(query.metadata.id, query.metadata.op_code);
    m.metadata.response_code = code;
    m.metadata.recursion_desired = query.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.authoritative = code == ResponseCode::NoError;
    m.add_queries(query.queries.iter().cloned());
    if query.edns.is_some() {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;

    fn ep(id: &str, net: &str, names: &[&str], ip: &str) -> DnsEndpoint {
        DnsEndpoint {
            container_id: format!("{id:0<64}"),
            network: net.into(),
            internal: net.starts_with("int"),
            names: names.iter().map(|s| s.to_string()).collect(),
            ipv4: Some(ip.parse().unwrap()),
            ipv6: None,
            links: vec![],
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot::new(vec![
            ep("aaa", "todo-app", &["app", "app-host"], "172.18.0.2"),
            ep("bbb", "todo-app", &["mysql1", "mysql"], "172.18.0.4"),
            ep("ccc", "todo-app", &["mysql2", "mysql"], "172.18.0.3"),
            ep("ddd", "other", &["secret"], "172.19.0.2"),
            ep("eee", "internal1", &["iso"], "172.20.0.2"),
            ep("fff", "internal1", &["peer"], "172.20.0.3"),
            // bbb is also on `other`.
            ep("bbb", "other", &["mysql1"], "172.19.0.3"),
        ])
    }

    fn id(c: &str) -> String {
        format!("{c:0<64}")
    }

    fn ask(s: &Snapshot, who: &str, name: &str, t: RecordType) -> Answer {
        let mut m = Message::query();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        // Round-trip through the wire format, as the server does.
        let m = Message::from_vec(&m.to_vec().unwrap()).unwrap();
        s.answer(Asker::Container(&id(who)), &m)
    }

    fn a_records(a: &Answer) -> Vec<IpAddr> {
        let Answer::Reply(m) = a else {
            panic!("forwarded: {a:?}")
        };
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        m.answers
            .iter()
            .map(|r| match &r.data {
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(a) => IpAddr::V6(a.0),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_link_alias_resolves_for_the_linking_container_only() {
        let mut linking = ep("aaa", "todo-app", &["app"], "172.18.0.2");
        linking.links = vec![("database".into(), "mysql2".into())];
        let s = Snapshot::new(vec![
            linking,
            ep("bbb", "todo-app", &["mysql1", "database"], "172.18.0.4"),
            ep("ccc", "todo-app", &["mysql2"], "172.18.0.3"),
            ep("ddd", "todo-app", &["other"], "172.18.0.5"),
        ]);
        // The link wins over another container's alias of the same name.
        assert_eq!(
            a_records(&ask(&s, "aaa", "Database", RecordType::A)),
            vec![IpAddr::from([172, 18, 0, 3])]
        );
        assert_eq!(
            a_records(&ask(&s, "ddd", "database", RecordType::A)),
            vec![IpAddr::from([172, 18, 0, 4])]
        );
    }

    #[test]
    fn names_aliases_short_ids_and_hostnames_resolve_on_shared_network() {
        let s = snapshot();
        assert_eq!(
            a_records(&ask(&s, "aaa", "mysql1", RecordType::A)),
            vec![IpAddr::from([172, 18, 0, 4])]
        );
        assert_eq!(
            a_records(&ask(&s, "aaa", "MySQL1.", RecordType::A)),
            vec![IpAddr::from([172, 18, 0, 4])]
        );
        assert_eq!(
            a_records(&ask(&s, "bbb", "app-host", RecordType::A)),
            vec![IpAddr::from([172, 18, 0, 2])]
        );
        assert_eq!(
            a_records(&ask(&s, "bbb", "aaa000000000", RecordType::A)),
            vec![IpAddr::from([172, 18, 0, 2])]
        );
        assert_eq!(
            a_records(&ask(&s, "aaa", "mysql1.todo-app", RecordType::A)),
            vec![IpAddr::from([172, 18, 0, 4])]
        );
    }

    #[test]
    fn shared_alias_returns_every_address_in_stable_order() {
        let s = snapshot();
        let got = a_records(&ask(&s, "aaa", "mysql", RecordType::A));
        assert_eq!(
            got,
            vec![IpAddr::from([172, 18, 0, 3]), IpAddr::from([172, 18, 0, 4])]
        );
        assert_eq!(got, a_records(&ask(&s, "aaa", "mysql", RecordType::A)));
    }

    #[test]
    fn other_networks_are_invisible() {
        let s = snapshot();
        // `secret` lives on `other`; aaa is only on todo-app: forwarded, not answered.
        assert_eq!(ask(&s, "aaa", "secret", RecordType::A), Answer::Forward);
        // bbb is on both networks: sees it, and sees mysql1's address on `other` too.
        assert_eq!(
            a_records(&ask(&s, "bbb", "secret", RecordType::A)),
            vec![IpAddr::from([172, 19, 0, 2])]
        );
        assert_eq!(ask(&s, "ddd", "app", RecordType::A), Answer::Forward);
    }

    #[test]
    fn aaaa_for_ipv4_only_name_is_nodata_not_nxdomain() {
        let s = snapshot();
        let Answer::Reply(m) = ask(&s, "aaa", "mysql1", RecordType::AAAA) else {
            panic!()
        };
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        let Answer::Reply(m) = ask(&s, "aaa", "mysql1", RecordType::MX) else {
            panic!()
        };
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
    }

    #[test]
    fn ptr_answers_for_visible_addresses_only() {
        let s = snapshot();
        let Answer::Reply(m) = ask(&s, "aaa", "4.0.18.172.in-addr.arpa.", RecordType::PTR) else {
            panic!()
        };
        assert_eq!(m.answers.len(), 1);
        match &m.answers[0].data {
            RData::PTR(p) => assert_eq!(p.0.to_ascii(), "mysql1.todo-app."),
            other => panic!("{other:?}"),
        }
        assert_eq!(m.answers[0].ttl, TTL);
        assert_eq!(
            ask(&s, "aaa", "2.0.19.172.in-addr.arpa.", RecordType::PTR),
            Answer::Forward
        );
    }

    #[test]
    fn internal_networks_never_forward() {
        let s = snapshot();
        assert_eq!(
            a_records(&ask(&s, "eee", "peer", RecordType::A)),
            vec![IpAddr::from([172, 20, 0, 3])]
        );
        let Answer::Reply(m) = ask(&s, "eee", "example.com", RecordType::A) else {
            panic!()
        };
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        let Answer::Reply(m) = ask(&s, "eee", "1.1.1.1.in-addr.arpa.", RecordType::PTR) else {
            panic!()
        };
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    }

    #[test]
    fn unknown_asker_refused_and_reply_keeps_id_and_question() {
        let s = snapshot();
        let Answer::Reply(m) = ask(&s, "zzz", "mysql", RecordType::A) else {
            panic!()
        };
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        let mut q = Message::query();
        q.metadata.id = 4242;
        q.add_query(Query::query(
            Name::from_ascii("app").unwrap(),
            RecordType::A,
        ));
        let Answer::Reply(r) = s.answer(Asker::Ip("172.18.0.4".parse().unwrap()), &q) else {
            panic!()
        };
        assert_eq!(r.metadata.id, 4242);
        assert_eq!(r.metadata.message_type, MessageType::Response);
        assert_eq!(r.queries, q.queries);
        assert_eq!(r.answers.len(), 1);
        // A reply encodes and decodes.
        assert_eq!(
            Message::from_vec(&r.to_vec().unwrap())
                .unwrap()
                .answers
                .len(),
            1
        );
    }
}
