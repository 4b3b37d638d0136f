//! Docker's multiplexed stream (attach, logs, exec without a terminal):
//! frames of `[stream, 0, 0, 0, size (big endian u32)]` then the payload.

/// Stream numbers of the framing.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

/// One frame.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.push(stream);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Splits a byte buffer into its complete frames; returns them and the
/// number of bytes consumed (a partial frame waits for more bytes).
pub fn deframe(buf: &[u8]) -> (Vec<(u8, Vec<u8>)>, usize) {
    let mut frames = Vec::new();
    let mut at = 0;
    while buf.len() >= at + 8 {
        let size =
            u32::from_be_bytes([buf[at + 4], buf[at + 5], buf[at + 6], buf[at + 7]]) as usize;
        if buf.len() < at + 8 + size {
            break;
        }
        frames.push((buf[at], buf[at + 8..at + 8 + size].to_vec()));
        at += 8 + size;
    }
    (frames, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_across_partial_reads() {
        let mut buf = frame(STDOUT, b"out");
        buf.extend(frame(STDERR, b"err"));
        let (frames, used) = deframe(&buf[..buf.len() - 1]);
        assert_eq!(frames, vec![(STDOUT, b"out".to_vec())]);
        assert_eq!(used, 11);
        let (frames, used) = deframe(&buf[used..]);
        assert_eq!(frames, vec![(STDERR, b"err".to_vec())]);
        assert_eq!(used, 11);
    }
}
