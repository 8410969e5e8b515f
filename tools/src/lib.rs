//! Small shared pieces of the command-line tools: argument reading and a minimal HTTP/1.1
//! client (loopback demos need no TLS, and no HTTP crate is worth its build time here).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `--name value` pairs and `--flag`s, in any order.
pub struct Args {
    items: Vec<String>,
}

impl Args {
    pub fn from_env() -> Args {
        Args {
            items: std::env::args().skip(1).collect(),
        }
    }

    pub fn value(&self, name: &str) -> Option<String> {
        let flag = format!("--{name}");
        let i = self.items.iter().position(|a| *a == flag)?;
        self.items.get(i + 1).cloned()
    }

    pub fn flag(&self, name: &str) -> bool {
        let flag = format!("--{name}");
        self.items.contains(&flag)
    }
}

/// Prints `message` and the usage, and exits with status 2.
pub fn fail(message: &str, usage: &str) -> ! {
    eprintln!("error: {message}\n\n{usage}");
    std::process::exit(2)
}

/// An `http://host:port/path` URL split into the address and the path.
pub fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Some((authority.to_string(), path.to_string()))
}

/// Sends a POST and returns (status, body).
pub fn post(url: &str, headers: &[(String, String)], body: &[u8]) -> Result<(u16, String), String> {
    let (authority, path) = split_url(url).ok_or("only http://host:port/path URLs")?;
    let mut stream = TcpStream::connect(&authority)
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(|e| e.to_string())?;
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .and_then(|_| stream.write_all(body))
        .map_err(|e| e.to_string())?;
    // Read the framed answer and close first: Envoy waits for the client to close.
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .map_err(|e| e.to_string())?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status in the answer")?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            split_url("http://127.0.0.1:10000/webhooks/genesys"),
            Some(("127.0.0.1:10000".into(), "/webhooks/genesys".into()))
        );
        assert_eq!(split_url("http://h:1"), Some(("h:1".into(), "/".into())));
        assert_eq!(split_url("https://h/x"), None);
    }
}
