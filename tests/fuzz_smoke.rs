//! The fuzz targets' smoke, on stable: each body of `fuzz/src/lib.rs` run
//! over its seed corpus (`fuzz/corpus/<target>/`, crashes found by the real
//! fuzzer included) and a few thousand deterministic mutations of it. A
//! panic fails the test and names the input (also written under the test
//! target's tmp dir). `scripts/fuzz.sh` runs the same bodies under
//! libFuzzer for as long as asked. `RRUN_FUZZ_SMOKE_N` sets the number of
//! mutations per target (default 2000).

#[path = "../fuzz/src/lib.rs"]
mod bodies;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// xorshift64*: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens the grammars under test care about.
const TOKENS: &[&[u8]] = &[
    b"..",
    b"/",
    b":",
    b"::",
    b"{{",
    b"}}",
    b"\0",
    b"${",
    b"}",
    b"-",
    b"\"",
    b"=",
    b",",
    b"@",
    b"sha256:",
    b"[",
    b"]",
    b"\n",
    b"\\",
    b"'",
    b"65536",
    b"0",
    b"-1",
    b"4294967296",
    b".wh.",
    b"{{range .}}",
    b"{{end}}",
    b"{{json .}}",
    b"<<",
    b"&a",
    b"*a",
    b"\t",
    b"%",
    b"\xff",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut v = if seeds.is_empty() {
        Vec::new()
    } else {
        seeds[rng.below(seeds.len())].clone()
    };
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.insert(at, rng.next() as u8),
            2 if !v.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(v.len());
                v.drain(at.min(v.len() - 1)..end);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            4 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                let to = (from + rng.below(64)).min(other.len());
                v.splice(at..at, other[from..to].iter().copied());
            }
            5 if !v.is_empty() => {
                let from = rng.below(v.len());
                let to = (from + rng.below(32)).min(v.len());
                let chunk = v[from..to].to_vec();
                v.splice(at..at, chunk);
            }
            _ => v.truncate(at),
        }
    }
    v
}

fn run(target: &str) {
    let body = bodies::TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .map(|(_, f)| *f)
        .expect("a target of fuzz/src/lib.rs");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "{}: no seeds", dir.display());
    let n: usize = std::env::var("RRUN_FUZZ_SMOKE_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let seed = target.bytes().fold(0x9e37_79b9_7f4a_7c15u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = Rng(seed | 1);
    let inputs = seeds
        .clone()
        .into_iter()
        .chain((0..n).map(|_| mutate(&mut rng, &seeds)));
    for (i, input) in inputs.enumerate() {
        if catch_unwind(AssertUnwindSafe(|| body(&input))).is_err() {
            let saved =
                Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-smoke-{target}-{i}"));
            let _ = std::fs::write(&saved, &input);
            panic!(
                "{target}: input {i} panicked (saved as {}): {:?}",
                saved.display(),
                String::from_utf8_lossy(&input)
            );
        }
    }
}

macro_rules! smoke {
    ($($name:ident),* $(,)?) => {
        $( #[test] fn $name() { run(stringify!($name)); } )*

        /// Every target of fuzz/src/lib.rs has a smoke test here.
        #[test]
        fn every_target_has_a_smoke_test() {
            let here = [$(stringify!($name)),*];
            for (name, _) in bodies::TARGETS {
                assert!(here.contains(name), "{name} has no smoke test in tests/fuzz_smoke.rs");
            }
        }
    };
}

smoke!(
    image_reference,
    layer_unpack,
    dns_message,
    api_container_create,
    api_network_create,
    volume_flags,
    port_flags,
    format_template,
    compose_load,
    dockerfile,
);
