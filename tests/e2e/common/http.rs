//! Raw HTTP/1.1 on a socket: the framing that the upstream, the cache fronts and the client
//! read and write, and the client itself, which sends any bytes a test writes (so it can
//! send what no HTTP library would) and reads one framed answer.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

type Head = (String, String, Vec<(String, Vec<u8>)>);

pub(super) fn read_head(reader: &mut impl BufRead) -> Option<Head> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).ok()?;
    if line.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&line);
    let mut parts = text.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).ok()?;
        let line = line
            .strip_suffix(b"\r\n")
            .or(line.strip_suffix(b"\n"))?
            .to_vec();
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
        let value = line[colon + 1..].trim_ascii().to_vec();
        headers.push((name, value));
    }
    Some((method, path, headers))
}

fn header_of<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
}

/// The body, and the trailers of a chunked one.
type BodyAndTrailers = (Vec<u8>, Vec<(String, Vec<u8>)>);

pub(super) fn read_body(
    reader: &mut impl BufRead,
    headers: &[(String, Vec<u8>)],
) -> Option<BodyAndTrailers> {
    if let Some(len) = header_of(headers, "content-length") {
        let len: usize = String::from_utf8_lossy(len).trim().parse().ok()?;
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        return Some((body, Vec::new()));
    }
    let chunked =
        header_of(headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"));
    if !chunked {
        return Some((Vec::new(), Vec::new()));
    }
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).ok()?;
        let size = usize::from_str_radix(size_line.trim().split(';').next()?, 16).ok()?;
        if size == 0 {
            break;
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        body.extend_from_slice(&chunk[..size]);
    }
    // Trailer lines, up to the empty line that ends the request.
    let mut trailers = Vec::new();
    loop {
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).ok()?;
        let line = line.strip_suffix(b"\r\n").or(line.strip_suffix(b"\n"))?;
        if line.is_empty() {
            return Some((body, trailers));
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
        trailers.push((name, line[colon + 1..].trim_ascii().to_vec()));
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        header_of(&self.headers, name).map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "answer is not JSON: {} {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `error` code of a refusal.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_string()
    }
}

/// Sends one HTTP/1.1 request (raw bytes for the headers, so tests can send anything) and
/// reads the answer.
pub fn send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Response {
    let mut req = request_head(method, path, headers, Some(body.len()));
    req.extend_from_slice(body);
    exchange(port, &[&req])
}

/// An HTTP/1.1 request head with the given raw headers, and `content-length` when given
/// (otherwise the caller adds its own framing header, or none).
pub fn request_head(
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    content_length: Option<usize>,
) -> Vec<u8> {
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nhost: webhooks.test\r\nconnection: close\r\n")
            .into_bytes();
    for (name, value) in headers {
        req.extend_from_slice(name.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n");
    }
    if let Some(n) = content_length {
        req.extend_from_slice(format!("content-length: {n}\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    req
}

/// Sends the body with chunked transfer encoding, one chunk per piece.
pub fn send_chunked(
    port: u16,
    path: &str,
    headers: &[(&str, &[u8])],
    pieces: &[&[u8]],
) -> Response {
    exchange(
        port,
        &chunked_request(path, headers, pieces, &[])
            .iter()
            .map(Vec::as_slice)
            .collect::<Vec<_>>(),
    )
}

/// The writes of a chunked request ending in `trailers`: the head, one per chunk, the end.
pub fn chunked_request(
    path: &str,
    headers: &[(&str, &[u8])],
    pieces: &[&[u8]],
    trailers: &[(&str, &str)],
) -> Vec<Vec<u8>> {
    let mut framed: Vec<(&str, &[u8])> = vec![("transfer-encoding", b"chunked")];
    framed.extend_from_slice(headers);
    let head = request_head("POST", path, &framed, None);
    let mut writes: Vec<Vec<u8>> = vec![head];
    for piece in pieces {
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(piece);
        chunk.extend_from_slice(b"\r\n");
        writes.push(chunk);
    }
    let mut last = b"0\r\n".to_vec();
    for (name, value) in trailers {
        last.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    last.extend_from_slice(b"\r\n");
    writes.push(last);
    writes
}

/// Writes each piece with a short pause between (so Envoy sees several body callbacks),
/// then reads one answer.
pub fn exchange(port: u16, writes: &[&[u8]]) -> Response {
    try_exchange(port, writes, Duration::from_millis(20))
        .unwrap_or_else(|| panic!("no HTTP answer from port {port}"))
}

/// Like `exchange`, with the pause given, and `None` when the server closed without answering.
pub fn try_exchange(port: u16, writes: &[&[u8]], pause: Duration) -> Option<Response> {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to envoy");
    exchange_on(stream, writes, pause)
}

/// Sends one request from the loopback address `source` (127.0.0.2, ...: another client to
/// Envoy's `source.address`) and reads the answer.
pub fn send_from(
    source: std::net::Ipv4Addr,
    port: u16,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Response {
    // std cannot bind a socket before connecting it; tokio's TcpSocket can.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = runtime
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind((source, 0).into())?;
            socket.connect(([127, 0, 0, 1], port).into()).await
        })
        .and_then(|s| s.into_std())
        .expect("connect to envoy from the source address");
    stream.set_nonblocking(false).expect("blocking");
    let mut req = request_head("POST", path, headers, Some(body.len()));
    req.extend_from_slice(body);
    exchange_on(stream, &[&req], Duration::ZERO).expect("an answer")
}

fn exchange_on(mut stream: TcpStream, writes: &[&[u8]], pause: Duration) -> Option<Response> {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    for (i, w) in writes.iter().enumerate() {
        if i > 0 {
            thread::sleep(pause);
        }
        // Envoy may answer (413, 401) and close before the whole body is written.
        if stream.write_all(w).is_err() {
            break;
        }
    }
    // Read exactly one framed answer, then close: Envoy waits (delayed_close_timeout) for the
    // client to close first, so reading to EOF would cost a second per request.
    let answer = read_response(&mut BufReader::new(&stream));
    let _ = stream.shutdown(Shutdown::Both);
    answer
}

pub(super) fn read_response(reader: &mut impl BufRead) -> Option<Response> {
    let (version, status, headers) = read_head(reader)?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let status: u16 = status.parse().ok()?;
    let framed = header_of(&headers, "content-length").is_some()
        || header_of(&headers, "transfer-encoding").is_some();
    let body = if framed {
        read_body(reader, &headers)?.0
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body).ok()?;
        body
    };
    Some(Response {
        status,
        headers,
        body,
    })
}

/// Sends the whole request, waits `linger`, and hangs up without reading the answer.
pub fn send_and_hang_up(
    port: u16,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
    linger: Duration,
) {
    let mut req = request_head("POST", path, headers, Some(body.len()));
    req.extend_from_slice(body);
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect to envoy");
    conn.write_all(&req).expect("write");
    thread::sleep(linger);
    let _ = conn.shutdown(Shutdown::Both);
}
