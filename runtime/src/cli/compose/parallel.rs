//! Many containers at once: a few worker threads, each with a client (a
//! connection) of its own, as Compose stops and removes in parallel (a
//! busybox `sleep` ignores SIGTERM: 50 of them one by one would take 50
//! stop timeouts).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::super::client::Client;

/// At most this many requests in flight.
const WORKERS: usize = 16;

/// `f` on every item, in parallel; the results in the items' order.
pub fn each<T: Sync, R: Send>(
    c: &Client,
    items: &[T],
    f: impl Fn(&Client, &T) -> R + Sync,
) -> Vec<R> {
    if items.len() <= 1 {
        return items.iter().map(|i| f(c, i)).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..WORKERS.min(items.len()) {
            s.spawn(|| {
                // A client of its own: the runtime is not shared between
                // threads.
                let own = Client::new(c.socket.clone()).unwrap_or_else(|_| c.clone());
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    let r = f(&own, item);
                    if let Ok(mut v) = results.lock() {
                        v[i] = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order() {
        let c = Client::new("/nonexistent".into()).unwrap();
        let items: Vec<u32> = (0..100).collect();
        let out = each(&c, &items, |_, i| i * 2);
        assert_eq!(out, (0..100).map(|i| i * 2).collect::<Vec<_>>());
    }
}
