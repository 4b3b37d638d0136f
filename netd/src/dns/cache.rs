//! Encoded UDP answers, reused: the resolver's hot path.
//!
//! One resolver serves one container (a fixed asker), so its answer to a
//! query depends only on the query's bytes and the snapshot. Everything in
//! a response but its first two bytes (the id) follows from the query's
//! bytes after its id: a query seen before is answered by copying the bytes
//! of the earlier answer and writing the new id in, without decoding or
//! encoding anything. A new snapshot (connect, disconnect, rename, a link)
//! empties the cache before the next query is answered, so no answer from
//! an older snapshot is ever sent.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::op::Message;

use super::records::{Asker, Snapshot};
use super::server::{decide, Decision};

/// At most this many answers are kept; when full, the cache starts over
/// (a flood of distinct names costs one decode each, as without a cache).
const CAPACITY: usize = 512;
/// Longer queries are answered but not kept.
const MAX_KEY: usize = 512;

/// What to do with one UDP query.
#[derive(Debug)]
pub enum Outcome {
    /// The response is in the buffer given to [`AnswerCache::answer`].
    Reply,
    /// Not worth a response.
    Drop,
    /// Ask the upstream servers (the decoded query).
    Forward(Message),
}

/// Answers by query bytes (after the id), valid for `snapshot`.
#[derive(Debug, Default)]
pub struct AnswerCache {
    snapshot: Option<Arc<Snapshot>>,
    answers: HashMap<Box<[u8]>, Box<[u8]>>,
}

impl AnswerCache {
    /// Answer `query` (a UDP datagram's bytes) for `asker` from `current`
    /// into `out`. `current` must be the snapshot the caller just loaded:
    /// when it is not the one the cache was filled from, the cache is
    /// emptied first. Allocates nothing when the answer is kept.
    pub fn answer(
        &mut self,
        current: &Arc<Snapshot>,
        asker: Asker<'_>,
        query: &[u8],
        out: &mut Vec<u8>,
    ) -> Outcome {
        if !self
            .snapshot
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, current))
        {
            self.answers.clear();
            self.snapshot = Some(current.clone());
        }
        out.clear();
        if query.len() < 2 {
            return Outcome::Drop;
        }
        let key = &query[2..];
        if let Some(kept) = self.answers.get(key) {
            out.extend_from_slice(&query[..2]);
            out.extend_from_slice(kept);
            return Outcome::Reply;
        }
        match decide(current, asker, query, true) {
            Decision::Drop => Outcome::Drop,
            Decision::Forward(msg) => Outcome::Forward(msg),
            Decision::Reply(bytes) => {
                if bytes.len() >= 2 && key.len() <= MAX_KEY {
                    if self.answers.len() >= CAPACITY {
                        self.answers.clear();
                    }
                    self.answers.insert(key.into(), bytes[2..].into());
                }
                out.extend_from_slice(&bytes);
                Outcome::Reply
            }
        }
    }

    /// How many answers are kept.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::DnsEndpoint;
    use hickory_proto::op::{Query, ResponseCode};
    use hickory_proto::rr::{Name, RData, RecordType};
    use std::net::{IpAddr, Ipv4Addr};

    fn ep(id: &str, names: &[&str], last: u8, internal: bool) -> DnsEndpoint {
        DnsEndpoint {
            container_id: format!("{id:0<64}"),
            network: "net".into(),
            internal,
            names: names.iter().map(|s| s.to_string()).collect(),
            ipv4: Some(Ipv4Addr::new(10, 0, 0, last)),
            ipv6: None,
            links: vec![],
        }
    }

    fn snap(eps: Vec<DnsEndpoint>) -> Arc<Snapshot> {
        Arc::new(Snapshot::new(eps))
    }

    /// The asker and `db`, on an internal network (nothing forwarded).
    fn me_and_db() -> Arc<Snapshot> {
        snap(vec![
            ep("aaa", &["me"], 2, true),
            ep("bbb", &["db"], 3, true),
        ])
    }

    fn query(id: u16, name: &str, t: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = id;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m.to_vec().unwrap()
    }

    const ASKER: &str = "aaa0000000000000000000000000000000000000000000000000000000000000";

    fn ask(c: &mut AnswerCache, s: &Arc<Snapshot>, q: &[u8]) -> Option<Message> {
        let mut out = Vec::new();
        match c.answer(s, Asker::Container(ASKER), q, &mut out) {
            Outcome::Reply => Some(Message::from_vec(&out).unwrap()),
            Outcome::Drop => None,
            Outcome::Forward(_) => panic!("forwarded"),
        }
    }

    fn a(m: &Message) -> Vec<IpAddr> {
        m.answers
            .iter()
            .map(|r| match &r.data {
                RData::A(a) => IpAddr::V4(a.0),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    /// The cache's answer is byte for byte what decoding and answering
    /// gives, with the new query's id.
    #[test]
    fn a_kept_answer_is_the_decided_answer_with_the_new_id() {
        let s = me_and_db();
        let mut c = AnswerCache::default();
        for (i, t) in [RecordType::A, RecordType::AAAA, RecordType::MX]
            .into_iter()
            .enumerate()
        {
            let first = query(100 + i as u16, "db", t);
            ask(&mut c, &s, &first).unwrap();
            let again = query(7000 + i as u16, "db", t);
            let mut out = Vec::new();
            assert!(matches!(
                c.answer(&s, Asker::Container(ASKER), &again, &mut out),
                Outcome::Reply
            ));
            let Decision::Reply(fresh) = decide(&s, Asker::Container(ASKER), &again, true) else {
                panic!()
            };
            assert_eq!(out, fresh, "{t}");
            assert_eq!(
                Message::from_vec(&out).unwrap().metadata.id,
                7000 + i as u16
            );
        }
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn a_renamed_container_is_not_answered_from_the_cache() {
        let before = me_and_db();
        let mut c = AnswerCache::default();
        let q = query(1, "db", RecordType::A);
        assert_eq!(
            a(&ask(&mut c, &before, &q).unwrap()),
            vec![IpAddr::from([10, 0, 0, 3])]
        );
        assert_eq!(c.len(), 1);
        // `rename db store`: a new snapshot, the old name is gone.
        let after = snap(vec![
            ep("aaa", &["me"], 2, true),
            ep("bbb", &["store"], 3, true),
        ]);
        let r = ask(&mut c, &after, &query(2, "db", RecordType::A)).unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
        assert!(r.answers.is_empty());
        let r = ask(&mut c, &after, &query(3, "store", RecordType::A)).unwrap();
        assert_eq!(a(&r), vec![IpAddr::from([10, 0, 0, 3])]);
    }

    #[test]
    fn a_removed_or_moved_container_is_not_answered_from_the_cache() {
        let mut c = AnswerCache::default();
        let q = query(1, "db", RecordType::A);
        let me = || ep("aaa", &["me"], 2, false);
        let cases = [
            // Two behind the alias.
            (
                vec![
                    me(),
                    ep("bbb", &["db"], 3, false),
                    ep("ccc", &["db"], 4, false),
                ],
                vec![3, 4],
            ),
            // One of them disconnected.
            (vec![me(), ep("ccc", &["db"], 4, false)], vec![4]),
            // Reconnected with another address.
            (vec![me(), ep("ccc", &["db"], 9, false)], vec![9]),
        ];
        for (eps, want) in cases {
            let want: Vec<IpAddr> = want
                .into_iter()
                .map(|l| IpAddr::from([10, 0, 0, l]))
                .collect();
            assert_eq!(a(&ask(&mut c, &snap(eps), &q).unwrap()), want);
        }
        // Gone: forwarded now, not answered from what was kept.
        let gone = snap(vec![ep("aaa", &["me"], 2, false)]);
        let mut out = Vec::new();
        assert!(matches!(
            c.answer(&gone, Asker::Container(ASKER), &q, &mut out),
            Outcome::Forward(_)
        ));
        // The asker itself disconnected: refused.
        let none = snap(vec![ep("ccc", &["db"], 4, false)]);
        let r = ask(&mut c, &none, &q).unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    }

    #[test]
    fn forwards_and_garbage_are_not_kept_and_the_cache_is_bounded() {
        let s = snap(vec![ep("aaa", &["me"], 2, false)]);
        let mut c = AnswerCache::default();
        let mut out = Vec::new();
        let q = query(1, "example.com", RecordType::A);
        assert!(matches!(
            c.answer(&s, Asker::Container(ASKER), &q, &mut out),
            Outcome::Forward(_)
        ));
        assert!(matches!(
            c.answer(&s, Asker::Container(ASKER), &[1], &mut out),
            Outcome::Drop
        ));
        assert!(c.is_empty());
        // Distinct names on an internal network: each answered (NXDOMAIN),
        // the cache never over its bound.
        let s = snap(vec![ep("aaa", &["me"], 2, true)]);
        for i in 0..CAPACITY + 10 {
            let r = ask(&mut c, &s, &query(1, &format!("n{i}"), RecordType::A)).unwrap();
            assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
            assert!(c.len() <= CAPACITY);
        }
    }
}
