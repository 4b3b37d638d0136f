//! Where a layer's time goes: with `RRUN_IMAGE_TIMINGS=1` in the
//! environment, each layer a pull (or load) unpacks prints one line to
//! stderr with the wall time spent in each phase. A layer is one streaming
//! pass, so the phases interleave; each is timed exclusively (entering one
//! pauses the one it interrupts), and the sum is the layer's wall time.
//! Off (the default), a phase costs one relaxed atomic load.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Everything not below: tar headers, path walks, the unpack's own work.
    Other,
    /// Waiting for the registry's bytes.
    Download,
    /// sha256 of the compressed blob.
    BlobHash,
    /// Writing the compressed blob into the content store.
    BlobWrite,
    /// gunzip / zstd.
    Decompress,
    /// sha256 of the uncompressed tar (the diff id).
    DiffHash,
    /// Creating files and writing their data.
    FileWrite,
    /// chown, chmod, mtimes.
    Metadata,
    /// Extended attributes (from the tar, and whiteouts' opaque marks).
    Xattrs,
    /// syncfs / fsync of the snapshot and the blob.
    Sync,
    /// Renames into place and their directory fsyncs.
    Commit,
}

const PHASES: [Phase; 11] = [
    Phase::Other,
    Phase::Download,
    Phase::BlobHash,
    Phase::BlobWrite,
    Phase::Decompress,
    Phase::DiffHash,
    Phase::FileWrite,
    Phase::Metadata,
    Phase::Xattrs,
    Phase::Sync,
    Phase::Commit,
];

#[derive(Default)]
struct Clock {
    /// The phases entered, innermost last, with when each last resumed.
    stack: Vec<(Phase, Instant)>,
    spent: [Duration; PHASES.len()],
}

thread_local! {
    static CLOCK: RefCell<Clock> = RefCell::new(Clock::default());
}

/// 0: not looked yet, 1: off, 2: on.
static ENABLED: AtomicU8 = AtomicU8::new(0);

fn enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        0 => {
            let on = std::env::var_os("RRUN_IMAGE_TIMINGS").is_some_and(|v| v == "1");
            ENABLED.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
        v => v == 2,
    }
}

/// Time spent until the guard drops counts for `phase` (minus any phase
/// entered meanwhile).
pub(crate) struct Span(bool);

pub(crate) fn span(phase: Phase) -> Span {
    if !enabled() {
        return Span(false);
    }
    CLOCK.with(|c| {
        let mut c = c.borrow_mut();
        let now = Instant::now();
        if let Some(&(outer, since)) = c.stack.last() {
            c.spent[outer as usize] += now - since;
        }
        c.stack.push((phase, now));
    });
    Span(true)
}

impl Drop for Span {
    fn drop(&mut self) {
        if !self.0 {
            return;
        }
        CLOCK.with(|c| {
            let mut c = c.borrow_mut();
            let now = Instant::now();
            if let Some((phase, since)) = c.stack.pop() {
                c.spent[phase as usize] += now - since;
            }
            if let Some(top) = c.stack.last_mut() {
                top.1 = now;
            }
        });
    }
}

/// Times `f` as `phase`.
pub(crate) fn timed<T>(phase: Phase, f: impl FnOnce() -> T) -> T {
    let _s = span(phase);
    f()
}

/// Starts a layer's account on this thread: the returned guard times the
/// whole layer (as `Other` where nothing else applies) and prints the
/// breakdown when it drops.
pub(crate) fn layer(name: &str) -> LayerClock {
    if enabled() {
        CLOCK.with(|c| *c.borrow_mut() = Clock::default());
    }
    LayerClock {
        name: name.to_string(),
        start: Instant::now(),
        span: span(Phase::Other),
    }
}

pub(crate) struct LayerClock {
    name: String,
    start: Instant,
    span: Span,
}

impl Drop for LayerClock {
    fn drop(&mut self) {
        if !self.span.0 {
            return;
        }
        drop(std::mem::replace(&mut self.span, Span(false)));
        let wall = self.start.elapsed();
        let line = CLOCK.with(|c| {
            let c = c.borrow();
            PHASES
                .iter()
                .map(|p| format!("{p:?}={:.3}", c.spent[*p as usize].as_secs_f64()))
                .collect::<Vec<_>>()
                .join(" ")
        });
        eprintln!(
            "timings {}: wall={:.3} {line}",
            self.name,
            wall.as_secs_f64()
        );
    }
}
