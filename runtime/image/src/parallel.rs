//! Bounded parallel work for pulls and pushes: at most `workers` threads
//! take items in order; after the first failure (or once `cancelled`
//! says so) no new item starts, and the first error is returned.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

pub(crate) fn for_each<T: Sync, E: Send>(
    items: &[T],
    workers: usize,
    cancelled: impl Fn() -> Option<E> + Sync,
    f: impl Fn(&T) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<E>> = Mutex::new(None);
    let workers = workers.clamp(1, 16).min(items.len());
    let fail = |e: E| {
        failed.store(true, Ordering::SeqCst);
        first_error.lock().expect("error lock").get_or_insert(e);
    };
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if failed.load(Ordering::SeqCst) {
                    return;
                }
                if let Some(e) = cancelled() {
                    return fail(e);
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { return };
                if let Err(e) = f(item) {
                    return fail(e);
                }
            });
        }
    });
    match first_error.into_inner().expect("error lock") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_all_or_stops_at_the_first_error() {
        let done = AtomicUsize::new(0);
        let items: Vec<u32> = (0..20).collect();
        for_each(
            &items,
            4,
            || None::<String>,
            |_| {
                done.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(done.load(Ordering::SeqCst), 20);
        let e = for_each(
            &items,
            1,
            || None,
            |&i| if i == 3 { Err(i) } else { Ok(()) },
        );
        assert_eq!(e, Err(3));
        let e = for_each(&items, 2, || Some("cancelled"), |_| Ok(()));
        assert_eq!(e, Err("cancelled"));
        for_each(&[] as &[u32], 3, || None::<()>, |_| Ok(())).unwrap();
    }
}
