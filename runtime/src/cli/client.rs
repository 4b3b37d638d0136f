//! The CLI's HTTP to the daemon's unix socket: hyper's http1 client on a
//! current-thread tokio runtime, one request per connection. Bodies are
//! read as a stream (chunked or not) through [`Response::body`], so
//! `logs -f`, `events` and pull progress print as the daemon answers;
//! upgraded connections (attach, exec) come back as a blocking
//! [`Hijacked`] stream for the terminal session's threads.

use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::{header, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::apimodel::ErrorBody;

/// The API version the client asks for.
pub const API_PREFIX: &str = "/v1.43";

/// At most this many requests of [`Client::call_all`] in flight: docker/cli's
/// `parallelOperation` limit.
pub const IN_FLIGHT: usize = 50;

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

/// An answer: its status and its body, read as it arrives.
pub struct Response {
    pub status: u16,
    /// The answer's headers (`X-Docker-Container-Path-Stat` and the like).
    pub headers: hyper::HeaderMap,
    pub body: Box<dyn Read + Send>,
}

impl Response {
    pub fn text(mut self) -> Result<String> {
        let mut s = String::new();
        self.body
            .read_to_string(&mut s)
            .context("read the daemon's answer")?;
        Ok(s)
    }

    /// The body as `T` (an empty body reads as JSON `null`).
    pub fn json<T: DeserializeOwned>(self) -> Result<T> {
        let t = self.text()?;
        let t = if t.trim().is_empty() { "null" } else { &t };
        serde_json::from_str(t).context("parse the daemon's answer")
    }
}

/// An upgraded (hijacked) connection: the socket, blocking again, and the
/// bytes of the new protocol that came with the `101` answer.
pub struct Hijacked {
    pub stream: UnixStream,
    pub buffered: Bytes,
}

impl Hijacked {
    /// A reader of the stream's output: the buffered bytes first.
    pub fn reader(&self) -> Result<impl Read + Send + 'static> {
        let rest = self.stream.try_clone()?;
        Ok(std::io::Cursor::new(self.buffered.clone()).chain(rest))
    }
}

/// A request body: its content type and bytes.
pub type Payload<'a> = Option<(&'a str, Bytes)>;

#[derive(Clone)]
pub struct Client {
    pub socket: PathBuf,
    rt: Arc<tokio::runtime::Runtime>,
}

impl Client {
    pub fn new(socket: PathBuf) -> Result<Client> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("start the client's runtime")?;
        Ok(Client {
            socket,
            rt: Arc::new(rt),
        })
    }

    /// Connects and sends one request; the answer's head, the body still
    /// to come. The connection runs as a task of the runtime.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Payload<'_>,
        upgrade: bool,
        headers: &[(&str, String)],
    ) -> Result<hyper::Response<Incoming>> {
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .with_context(|| {
                format!(
                    "Cannot connect to the rrun daemon at unix://{}. Is rrund running?",
                    self.socket.display()
                )
            })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("talk to the daemon")?;
        tokio::spawn(conn.with_upgrades());
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{API_PREFIX}{path}"))
            .header(header::HOST, "rrun")
            .header(
                header::USER_AGENT,
                concat!("rrun/", env!("CARGO_PKG_VERSION")),
            );
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        req = if upgrade {
            req.header(header::CONNECTION, "Upgrade")
                .header(header::UPGRADE, "tcp")
        } else {
            req.header(header::CONNECTION, "close")
        };
        let bytes = match body {
            Some((ct, b)) => {
                req = req.header(header::CONTENT_TYPE, ct);
                b
            }
            None => Bytes::new(),
        };
        if !bytes.is_empty() || method == "POST" {
            req = req.header(header::CONTENT_LENGTH, bytes.len());
        }
        let req = req.body(Full::new(bytes)).context("build the request")?;
        sender
            .send_request(req)
            .await
            .context("read the daemon's answer")
    }

    /// Sends a request; an answer of 400 and up becomes an [`ApiError`].
    pub fn request(&self, method: &str, path: &str, body: Payload<'_>) -> Result<Response> {
        self.request_with(method, path, body, &[])
    }

    /// [`Client::request`] with more headers (`X-Registry-Auth`).
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        body: Payload<'_>,
        headers: &[(&str, String)],
    ) -> Result<Response> {
        let resp = self
            .rt
            .block_on(self.send(method, path, body, false, headers))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let resp = Response {
            status,
            headers,
            body: Box::new(BodyReader {
                rt: self.rt.clone(),
                body: resp.into_body(),
                buf: Bytes::new(),
                done: false,
            }),
        };
        if status >= 400 {
            return Err(api_error(status, resp));
        }
        Ok(resp)
    }

    /// `POST path` asking for a connection upgrade (Docker's hijacked
    /// attach, or `POST /exec/{id}/start` with its JSON body). An error
    /// answer becomes an [`ApiError`].
    pub fn upgrade(&self, path: &str, body: Option<&impl Serialize>) -> Result<Hijacked> {
        let body = body.map(json_payload).transpose()?;
        let body = body.as_ref().map(|b| ("application/json", b.clone()));
        let rt = self.rt.clone();
        rt.block_on(async {
            let resp = self.send("POST", path, body, true, &[]).await?;
            let status = resp.status();
            if status != StatusCode::SWITCHING_PROTOCOLS {
                let code = status.as_u16();
                if code >= 400 {
                    let text = read_all(resp.into_body()).await;
                    return Err(api_error(code, text_response(code, text)));
                }
                anyhow::bail!("attach failed: the daemon answered {status}");
            }
            let up = hyper::upgrade::on(resp)
                .await
                .context("upgrade the attach connection")?;
            let parts = up
                .downcast::<TokioIo<tokio::net::UnixStream>>()
                .map_err(|_| anyhow::anyhow!("the attach connection is not the daemon's socket"))?;
            let stream = parts.io.into_inner().into_std()?;
            stream.set_nonblocking(false)?;
            Ok(Hijacked {
                stream,
                buffered: parts.read_buf,
            })
        })
    }

    /// `GET path`, its body as the daemon sent it.
    pub fn get_raw(&self, path: &str) -> Result<String> {
        self.request("GET", path, None)?.text()
    }

    /// `GET path`, its body as `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.request("GET", path, None)?.json()
    }

    /// One request without a body, its answer read whole; an error
    /// answer becomes an [`ApiError`].
    async fn call(&self, method: &str, path: &str) -> Result<Response> {
        let resp = self.send(method, path, None, false, &[]).await?;
        let status = resp.status().as_u16();
        let text = read_all(resp.into_body()).await;
        let r = text_response(status, text);
        if status >= 400 {
            return Err(api_error(status, r));
        }
        Ok(r)
    }

    /// Several `GET`s at once (one connection each); the answers in order.
    pub fn get_all<T: DeserializeOwned>(&self, paths: &[String]) -> Vec<Result<T>> {
        self.rt.block_on(futures::future::join_all(
            paths
                .iter()
                .map(|p| async move { self.call("GET", p).await?.json() }),
        ))
    }

    /// The same bodiless request to several paths at once, at most
    /// [`IN_FLIGHT`] of them (Docker's CLI stops, kills and removes
    /// containers in parallel); the outcomes in the paths' order.
    pub fn call_all(&self, method: &str, paths: &[String]) -> Vec<Result<()>> {
        use futures::StreamExt;
        self.rt.block_on(
            futures::stream::iter(paths)
                .map(|p| async move { self.call(method, p).await.map(drop) })
                .buffered(IN_FLIGHT)
                .collect(),
        )
    }

    /// `POST path` without a body.
    pub fn post(&self, path: &str) -> Result<Response> {
        self.request("POST", path, None)
    }

    /// `POST path` with `body` as JSON.
    pub fn post_json(&self, path: &str, body: &impl Serialize) -> Result<Response> {
        let b = json_payload(body)?;
        self.request("POST", path, Some(("application/json", b)))
    }

    /// Whether the daemon answers `GET /_ping` within `timeout`.
    pub fn ping(&self, timeout: Duration) -> bool {
        let asked = async {
            let resp = self.send("GET", "/_ping", None, false, &[]).await.ok()?;
            Some(resp.status() == StatusCode::OK)
        };
        self.rt
            .block_on(async { tokio::time::timeout(timeout, asked).await })
            .ok()
            .flatten()
            .unwrap_or(false)
    }
}

fn json_payload(body: &impl Serialize) -> Result<Bytes> {
    Ok(Bytes::from(
        serde_json::to_vec(body).context("encode the request")?,
    ))
}

/// An error answer's `{"message"}` as an [`ApiError`].
fn api_error(status: u16, resp: Response) -> anyhow::Error {
    let message = resp
        .json::<ErrorBody>()
        .ok()
        .map(|e| e.message)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "unknown error".into());
    ApiError { status, message }.into()
}

fn text_response(status: u16, text: Vec<u8>) -> Response {
    Response {
        status,
        headers: hyper::HeaderMap::new(),
        body: Box::new(std::io::Cursor::new(text)),
    }
}

async fn read_all(mut body: Incoming) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(Ok(frame)) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
    {
        if let Ok(d) = frame.into_data() {
            out.extend_from_slice(&d);
        }
    }
    out
}

/// A streamed body as a blocking reader: each read that finds the buffer
/// empty runs the runtime until the next frame comes.
struct BodyReader {
    rt: Arc<tokio::runtime::Runtime>,
    body: Incoming,
    buf: Bytes,
    done: bool,
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            if self.done {
                return Ok(0);
            }
            let body = &mut self.body;
            let frame = self.rt.block_on(std::future::poll_fn(|cx| {
                Pin::new(&mut *body).poll_frame(cx)
            }));
            match frame {
                None => self.done = true,
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        self.buf = d;
                    }
                }
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

/// `path` with the query parameters of `q` (`apimodel::query`).
pub fn url(path: &str, q: &impl Serialize) -> Result<String> {
    Ok(format!("{path}{}", crate::apimodel::query::to_query(q)?))
}

/// Percent-encodes a path segment or query value.
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
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixListener;
    use std::sync::mpsc;

    /// A one-connection server on a socket in a temporary directory:
    /// `serve` gets the request head and the stream.
    fn server(
        serve: impl FnOnce(String, UnixStream) + Send + 'static,
    ) -> (tempfile::TempDir, Client, std::thread::JoinHandle<()>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let l = UnixListener::bind(&path).unwrap();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                head.push_str(&line);
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            serve(head, s);
        });
        (dir, Client::new(path).unwrap(), h)
    }

    #[test]
    fn chunked_answers_stream_as_they_come() {
        let (next_tx, next_rx) = mpsc::channel::<()>();
        let (_d, c, h) = server(move |head, mut s| {
            assert!(head.starts_with("GET /v1.43/logs HTTP/1.1\r\n"), "{head}");
            assert!(head.to_lowercase().contains("host: rrun\r\n"), "{head}");
            s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
                .unwrap();
            // The second chunk only once the client has read the first.
            next_rx.recv().unwrap();
            s.write_all(b"7\r\n, world\r\n0\r\n\r\n").unwrap();
        });
        let mut r = c.request("GET", "/logs", None).unwrap();
        let mut first = [0u8; 5];
        r.body.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"hello");
        next_tx.send(()).unwrap();
        assert_eq!(r.text().unwrap(), ", world");
        h.join().unwrap();
    }

    #[test]
    fn error_answers_carry_the_message() {
        let (_d, c, h) = server(|head, mut s| {
            assert!(head.contains("content-length: 2\r\n"), "{head}");
            let body = r#"{"message":"No such container: x"}"#;
            write!(
                s,
                "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        });
        let e = c
            .post_json("/containers/x/start", &serde_json::json!({}))
            .err()
            .unwrap();
        let api = e.downcast_ref::<ApiError>().unwrap();
        assert_eq!(
            (api.status, api.message.as_str()),
            (404, "No such container: x")
        );
        assert_eq!(
            e.to_string(),
            "Error response from daemon: No such container: x"
        );
        h.join().unwrap();
    }

    #[test]
    fn upgrades_hand_back_the_socket_with_early_bytes() {
        let (_d, c, h) = server(|head, mut s| {
            assert!(
                head.starts_with("POST /v1.43/exec/1/start HTTP/1.1\r\n"),
                "{head}"
            );
            assert!(head.to_lowercase().contains("upgrade: tcp\r\n"), "{head}");
            // The new protocol's first bytes come with the answer's head.
            s.write_all(
                b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly,",
            )
            .unwrap();
            let mut got = [0u8; 4];
            s.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ping");
            s.write_all(b"late").unwrap();
        });
        let conn = c
            .upgrade("/exec/1/start", Some(&serde_json::json!({"Detach": false})))
            .unwrap();
        let mut out = conn.reader().unwrap();
        (&conn.stream).write_all(b"ping").unwrap();
        let mut text = String::new();
        out.read_to_string(&mut text).unwrap();
        assert_eq!(text, "early,late");
        h.join().unwrap();
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(enc("a b/c"), "a%20b%2Fc");
    }
}
