//! Pure: Docker's `json-file` log lines and the multiplexed stdout/stderr
//! framing of the attach and logs endpoints.

use serde::{Deserialize, Serialize};

/// One line of `<id>-json.log`, as Docker writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Stream numbers of the multiplexed framing.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

/// One frame: `[stream, 0, 0, 0, size (big endian u32)]` then the payload.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.push(stream);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Splits a multiplexed byte buffer into complete frames; returns them and
/// the number of bytes consumed.
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

/// Docker's timestamp format in log lines (RFC 3339 with nanoseconds, UTC).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Which log lines `logs` returns: the stream filter and `tail`.
pub fn select(lines: &[LogLine], stdout: bool, stderr: bool, tail: Option<usize>) -> Vec<&LogLine> {
    let wanted: Vec<&LogLine> = lines
        .iter()
        .filter(|l| (stdout && l.stream == "stdout") || (stderr && l.stream == "stderr"))
        .collect();
    match tail {
        Some(n) if n < wanted.len() => wanted[wanted.len() - n..].to_vec(),
        _ => wanted,
    }
}

/// A log line as the endpoint sends it (optionally prefixed with its time).
pub fn render(l: &LogLine, timestamps: bool) -> (u8, Vec<u8>) {
    let stream = if l.stream == "stderr" { STDERR } else { STDOUT };
    let mut payload = Vec::new();
    if timestamps {
        payload.extend_from_slice(l.time.as_bytes());
        payload.push(b' ');
    }
    payload.extend_from_slice(l.log.as_bytes());
    (stream, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = frame(STDOUT, b"hello\n");
        buf.extend(frame(STDERR, b"oops\n"));
        buf.extend_from_slice(&[1, 0, 0]);
        let (frames, used) = deframe(&buf);
        assert_eq!(
            frames,
            vec![(STDOUT, b"hello\n".to_vec()), (STDERR, b"oops\n".to_vec())]
        );
        assert_eq!(used, buf.len() - 3);
        assert_eq!(&buf[..8], &[1, 0, 0, 0, 0, 0, 0, 6]);
    }

    #[test]
    fn json_file_line_has_dockers_keys() {
        let l = LogLine {
            log: "hi\n".into(),
            stream: "stdout".into(),
            time: "2024-01-01T00:00:00.000000001Z".into(),
        };
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"{"log":"hi\n","stream":"stdout","time":"2024-01-01T00:00:00.000000001Z"}"#
        );
    }

    #[test]
    fn select_filters_and_tails() {
        let mk = |s: &str, t: &str| LogLine {
            log: t.into(),
            stream: s.into(),
            time: String::new(),
        };
        let lines = vec![mk("stdout", "1"), mk("stderr", "2"), mk("stdout", "3")];
        assert_eq!(select(&lines, true, false, None).len(), 2);
        let t = select(&lines, true, true, Some(1));
        assert_eq!(t[0].log, "3");
        assert_eq!(render(t[0], false), (STDOUT, b"3".to_vec()));
    }
}
