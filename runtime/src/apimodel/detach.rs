//! Docker's detach keys: the `detachKeys` parameter of attach and exec
//! (`ctrl-p,ctrl-q` by default), and the matcher that finds them in a
//! terminal's input. The CLI matches them on its side (and says "read
//! escape sequence"); the daemon matches them too, for API clients that
//! leave it to the daemon, and then ends the attach without closing the
//! container's stdin.

/// Docker's default detach keys: Ctrl-P Ctrl-Q.
pub const DEFAULT: [u8; 2] = [0x10, 0x11];

/// Docker's `term.ToBytes`: comma-separated keys, each one character or
/// `ctrl-<a-z @ [ \ ] ^ _>`; empty means the default.
pub fn parse(spec: &str) -> Result<Vec<u8>, String> {
    if spec.is_empty() {
        return Ok(DEFAULT.to_vec());
    }
    spec.split(',')
        .map(|key| match key.as_bytes() {
            [b] => Ok(*b),
            _ => ctrl(&key.to_ascii_lowercase()).ok_or_else(|| {
                format!("Invalid detach keys ({spec}) provided: unknown character '{key}'")
            }),
        })
        .collect()
}

fn ctrl(key: &str) -> Option<u8> {
    match key.strip_prefix("ctrl-")?.as_bytes() {
        [c @ b'a'..=b'z'] => Some(c - b'a' + 1),
        [b'@'] => Some(0),
        [c @ (b'[' | b'\\' | b']' | b'^' | b'_')] => Some(c - b'@'),
        _ => None,
    }
}

/// Pure: finds the detach keys in an input stream. Bytes that may start
/// the sequence are held back until the next byte tells.
#[derive(Debug, Clone)]
pub struct Escape {
    keys: Vec<u8>,
    held: usize,
}

impl Default for Escape {
    fn default() -> Self {
        Escape::new(DEFAULT.to_vec())
    }
}

impl Escape {
    /// A matcher for `keys` (none: nothing ever matches).
    pub fn new(keys: Vec<u8>) -> Escape {
        Escape { keys, held: 0 }
    }

    /// Returns what to forward, and whether the whole sequence was read
    /// (what came before it in `input` is still forwarded).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        if self.keys.is_empty() {
            return (input.to_vec(), false);
        }
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    self.held = 0;
                    return (out, true);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.held]);
            self.held = 0;
            if b == self.keys[0] {
                self.held = 1;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_as_dockers() {
        assert_eq!(parse("").unwrap(), DEFAULT);
        assert_eq!(parse("ctrl-p,ctrl-q").unwrap(), DEFAULT);
        assert_eq!(parse("ctrl-a,x").unwrap(), [1, b'x']);
        assert_eq!(parse("CTRL-@,ctrl-\\,ctrl-_").unwrap(), [0, 0x1c, 0x1f]);
        let e = parse("ctrl-pp").unwrap_err();
        assert!(
            e.starts_with("Invalid detach keys (ctrl-pp) provided"),
            "{e}"
        );
        assert!(parse("ctrl-1").is_err());
        assert!(parse("a,,b").is_err());
    }

    #[test]
    fn detach_keys_are_found_across_reads() {
        let mut e = Escape::default();
        assert_eq!(e.feed(b"ab"), (b"ab".to_vec(), false));
        assert_eq!(e.feed(b"c\x10"), (b"c".to_vec(), false));
        assert_eq!(e.feed(b"\x11rest"), (vec![], true));
        let mut e = Escape::default();
        assert_eq!(e.feed(b"x\x10\x11"), (b"x".to_vec(), true));
        let mut e = Escape::new(parse("ctrl-a,x").unwrap());
        assert_eq!(e.feed(b"\x10\x11\x01"), (b"\x10\x11".to_vec(), false));
        assert_eq!(e.feed(b"x"), (vec![], true));
    }

    #[test]
    fn a_lone_first_key_is_passed_on() {
        let mut e = Escape::default();
        assert_eq!(e.feed(b"\x10a"), (b"\x10a".to_vec(), false));
        assert_eq!(e.feed(b"\x10\x10\x11"), (b"\x10".to_vec(), true));
        let mut none = Escape::new(vec![]);
        assert_eq!(none.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
