//! Small shared pieces of the command-line tools: argument reading and a minimal HTTP/1.1
//! client (loopback demos need no TLS, and no HTTP crate is worth its build time here).

use std::io::{Read, Write};
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
        self.items.iter().any(|a| *a == flag)
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
    let mut stream =
        TcpStream::connect(&authority).map_err(|e| format!("cannot connect to {authority}: {e}"))?;
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
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status in the answer")?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
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

/// `2025-06-10T21:03:05Z` for a unix time (civil-from-days, H. Hinnant).
pub fn rfc3339(t: u64) -> String {
    let t = t as i64;
    let (days, secs) = (t.div_euclid(86400), t.rem_euclid(86400));
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1749589385), "2025-06-10T21:03:05Z");
        assert_eq!(super::rfc3339(951782400), "2000-02-29T00:00:00Z");
    }
}
