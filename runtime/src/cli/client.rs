//! A small blocking HTTP/1.1 client for the daemon's unix socket: one
//! request per connection, bodies read as a stream (chunked or not), so
//! `logs -f` and `wait` print as the daemon answers.

use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

/// The API version the client asks for.
pub const API_PREFIX: &str = "/v1.43";

pub struct Client {
    pub socket: PathBuf,
}

/// A daemon's error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Error response from daemon: {}", self.message)
    }
}
impl std::error::Error for ApiError {}

pub struct Response {
    pub status: u16,
    pub body: Box<dyn Read>,
}

impl Response {
    pub fn text(mut self) -> Result<String> {
        let mut s = String::new();
        self.body
            .read_to_string(&mut s)
            .context("read the daemon's answer")?;
        Ok(s)
    }

    pub fn json(self) -> Result<serde_json::Value> {
        let t = self.text()?;
        if t.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(&t).context("parse the daemon's answer")
    }
}

impl Client {
    /// Sends a request; an answer of 400 and up becomes an [`ApiError`].
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Response> {
        let mut s = UnixStream::connect(&self.socket).with_context(|| {
            format!(
                "Cannot connect to the rrun daemon at unix://{}. Is rrund running?",
                self.socket.display()
            )
        })?;
        let mut head = format!(
            "{method} {API_PREFIX}{path} HTTP/1.1\r\nHost: rrun\r\nUser-Agent: rrun/{}\r\nConnection: close\r\n",
            env!("CARGO_PKG_VERSION")
        );
        if let Some((ct, b)) = &body {
            head.push_str(&format!(
                "Content-Type: {ct}\r\nContent-Length: {}\r\n",
                b.len()
            ));
        } else if method == "POST" {
            head.push_str("Content-Length: 0\r\n");
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).context("send the request")?;
        if let Some((_, b)) = body {
            s.write_all(&b).context("send the request body")?;
        }
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).context("read the daemon's answer")?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .with_context(|| format!("bad answer from the daemon: {line:?}"))?;
        let mut chunked = false;
        let mut length: Option<u64> = None;
        loop {
            line.clear();
            r.read_line(&mut line).context("read the daemon's answer")?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                } else if k == "content-length" {
                    length = v.parse().ok();
                }
            }
        }
        let body: Box<dyn Read> = if chunked {
            Box::new(Chunked {
                r,
                left: 0,
                done: false,
            })
        } else if let Some(n) = length {
            Box::new(r.take(n))
        } else {
            Box::new(r)
        };
        let resp = Response { status, body };
        if status >= 400 {
            let v = resp.json().unwrap_or_default();
            let message = v["message"].as_str().unwrap_or("unknown error").to_string();
            return Err(ApiError { status, message }.into());
        }
        Ok(resp)
    }

    /// `POST path` asking for a connection upgrade (Docker's hijacked
    /// attach); returns the raw stream after `101 Switching Protocols`.
    pub fn upgrade(&self, path: &str) -> Result<UnixStream> {
        self.upgrade_with(path, None)
    }

    /// The same with a JSON body (`POST /exec/{id}/start`). An error answer
    /// becomes an [`ApiError`].
    pub fn upgrade_with(&self, path: &str, body: Option<serde_json::Value>) -> Result<UnixStream> {
        let mut s = UnixStream::connect(&self.socket).with_context(|| {
            format!(
                "Cannot connect to the rrun daemon at unix://{}. Is rrund running?",
                self.socket.display()
            )
        })?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let ct = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/json\r\n"
        };
        write!(
            s,
            "POST {API_PREFIX}{path} HTTP/1.1\r\nHost: rrun\r\n{ct}Content-Length: {}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n{body}",
            body.len()
        )
        .context("send the attach request")?;
        // Read the head byte by byte: what follows it belongs to the stream.
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if s.read(&mut b).context("read the attach answer")? == 0 {
                anyhow::bail!("the daemon closed the attach connection");
            }
            head.push(b[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if status >= 400 {
            // The error's JSON body (read until close: `Connection: Upgrade`
            // answers carry a length, but a short read is fine here).
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    if k.eq_ignore_ascii_case("content-length") {
                        v.trim().parse::<u64>().ok()
                    } else {
                        None
                    }
                })
                .unwrap_or(0);
            let mut text = String::new();
            let _ = (&mut s).take(len).read_to_string(&mut text);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let message = v["message"].as_str().unwrap_or("unknown error").to_string();
            return Err(ApiError { status, message }.into());
        }
        if status != 101 {
            anyhow::bail!("attach failed: {}", head.lines().next().unwrap_or(""));
        }
        Ok(s)
    }

    pub fn get(&self, path: &str) -> Result<serde_json::Value> {
        self.request("GET", path, None)?.json()
    }

    pub fn post(&self, path: &str, body: Option<serde_json::Value>) -> Result<Response> {
        self.request(
            "POST",
            path,
            body.map(|b| ("application/json", b.to_string().into_bytes())),
        )
    }
}

/// Decodes `Transfer-Encoding: chunked`.
struct Chunked<R> {
    r: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.r.read_line(&mut line)?;
            if line.trim().is_empty() {
                // The CRLF closing the previous chunk.
                line.clear();
                self.r.read_line(&mut line)?;
            }
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                self.done = true;
                return Ok(0);
            }
            self.left = size;
        }
        let n = buf.len().min(self.left);
        let got = self.r.read(&mut buf[..n])?;
        if got == 0 {
            self.done = true;
        }
        self.left -= got;
        Ok(got)
    }
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_decodes() {
        let raw = b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
        let mut c = Chunked {
            r: BufReader::new(&raw[..]),
            left: 0,
            done: false,
        };
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello, world");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(enc("a b/c"), "a%20b%2Fc");
    }
}
