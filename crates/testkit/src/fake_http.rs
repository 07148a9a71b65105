//! A fake HTTP/1.1 server on 127.0.0.1 for collector tests: the test supplies a handler that
//! plays the network (pages, errors, rate limits), and every request is recorded.
//!
//! Hand-rolled over a `TcpListener` on purpose: it must also misbehave in ways a real HTTP
//! library refuses to — a body shorter than its `Content-Length`, garbage instead of a response.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request as the fake server saw it.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// Query parameters, percent-decoded (`+` as space).
    pub query: BTreeMap<String, String>,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl FakeRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// What the fake server answers.
#[derive(Debug, Clone)]
pub enum FakeResponse {
    /// A well-formed response with `Content-Length`.
    Reply { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    /// These exact bytes, then the connection closes (truncated bodies, garbage).
    Raw(Vec<u8>),
    /// No answer at all: the connection stays open until the client gives up (a hung server).
    Hang,
}

impl FakeResponse {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        FakeResponse::Reply {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self::ok("application/json; charset=utf-8", body)
    }

    pub fn html(body: impl Into<Vec<u8>>) -> Self {
        Self::ok("text/html; charset=utf-8", body)
    }

    pub fn status(status: u16) -> Self {
        FakeResponse::Reply { status, headers: vec![], body: Vec::new() }
    }

    pub fn with_header(self, name: &str, value: &str) -> Self {
        match self {
            FakeResponse::Reply { status, mut headers, body } => {
                headers.push((name.into(), value.into()));
                FakeResponse::Reply { status, headers, body }
            }
            raw => raw,
        }
    }

    /// Announces `body.len() + missing` bytes but sends only `body`.
    pub fn truncated(body: &[u8], missing: usize) -> Self {
        let mut raw = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len() + missing
        )
        .into_bytes();
        raw.extend_from_slice(body);
        FakeResponse::Raw(raw)
    }
}

type Handler = dyn Fn(&FakeRequest) -> FakeResponse + Send + Sync;

/// A running fake server; stops when dropped.
pub struct FakeServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<FakeRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    /// Starts serving `handler` on a free port of 127.0.0.1 (call inside a tokio runtime).
    pub async fn start(handler: impl Fn(&FakeRequest) -> FakeResponse + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let task = tokio::spawn({
            let requests = requests.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (handler, requests) = (handler.clone(), requests.clone());
                    tokio::spawn(async move {
                        let _ = serve(stream, handler.as_ref(), &requests).await;
                    });
                }
            }
        });
        FakeServer { addr, requests, task }
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<FakeRequest> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    handler: &Handler,
    requests: &Mutex<Vec<FakeRequest>>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buffer.len() > 1 << 20 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut params = parse_form(query);
    if headers.get("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        params.extend(parse_form(&String::from_utf8_lossy(&body)));
    }
    let request = FakeRequest { method, path: path.to_owned(), query: params, headers, body, at: Instant::now() };
    requests.lock().unwrap_or_else(|p| p.into_inner()).push(request.clone());
    let bytes = match handler(&request) {
        FakeResponse::Hang => return std::future::pending().await,
        FakeResponse::Raw(bytes) => bytes,
        FakeResponse::Reply { status, headers, body } => {
            let mut out = format!(
                "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                reason(status),
                body.len()
            )
            .into_bytes();
            for (k, v) in headers {
                out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body);
            out
        }
    };
    stream.write_all(&bytes).await?;
    stream.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Decodes `a=1&b=x+y%20z`.
pub fn parse_form(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        let form = parse_form("a=1&b=x+y%20z&c=%D0%BF&d");
        assert_eq!(form["a"], "1");
        assert_eq!(form["b"], "x y z");
        assert_eq!(form["c"], "п");
        assert_eq!(form["d"], "");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[tokio::test]
    async fn serves_and_records() {
        let server = FakeServer::start(|r| {
            if r.path == "/x" {
                FakeResponse::json(format!("{{\"q\":\"{}\"}}", r.param("q").unwrap_or("")))
            } else {
                FakeResponse::status(404)
            }
        })
        .await;
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(b"GET /x?q=hi HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.ends_with("{\"q\":\"hi\"}"));
        assert_eq!(server.requests()[0].param("q"), Some("hi"));
    }
}
