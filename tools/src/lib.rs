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

    /// Every value of a repeatable `--name value`.
    pub fn values(&self, name: &str) -> Vec<String> {
        let flag = format!("--{name}");
        self.items
            .windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].clone())
            .collect()
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

/// Turning Genesys Cloud's `GET /api/v2/ipranges` answer into a `source_ips` list.
pub mod ipranges {
    use serde_json::Value;

    /// The CIDRs of `service` (e.g. `open-messaging`), in `regions` if any are given, sorted
    /// and without duplicates. Accepts the API's `{"entities": [...]}` or a bare list.
    pub fn select(answer: &str, service: &str, regions: &[String]) -> Result<Vec<String>, String> {
        let v: Value = serde_json::from_str(answer).map_err(|e| format!("not JSON: {e}"))?;
        let entries = match &v {
            Value::Array(a) => a,
            Value::Object(o) => o
                .get("entities")
                .and_then(Value::as_array)
                .ok_or("no \"entities\" list in the answer")?,
            _ => return Err("expected {\"entities\": [...]}".into()),
        };
        let mut cidrs: Vec<String> = Vec::new();
        for e in entries {
            let field = |name: &str| e.get(name).and_then(Value::as_str);
            if field("service") != Some(service) {
                continue;
            }
            if !regions.is_empty() && !regions.iter().any(|r| Some(r.as_str()) == field("region")) {
                continue;
            }
            let cidr = field("cidr").ok_or("an entry has no \"cidr\"")?;
            webhook_guard::cidr::CidrList::parse(&[cidr]).map_err(|e| e.to_string())?;
            cidrs.push(cidr.to_string());
        }
        cidrs.sort();
        cidrs.dedup();
        if cidrs.is_empty() {
            return Err(format!(
                "no ranges for service {service:?} in the given region(s)"
            ));
        }
        Ok(cidrs)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const SAMPLE: &str = include_str!("../testdata/genesys-ipranges.json");

        #[test]
        fn selects_a_service_and_region() {
            let all = select(SAMPLE, "open-messaging", &[]).unwrap();
            assert_eq!(all.len(), 4);
            let east = select(SAMPLE, "open-messaging", &["us-east-1".into()]).unwrap();
            assert_eq!(
                east,
                [
                    "2600:1f18:23ef:b100::/56",
                    "52.200.73.32/32",
                    "54.82.241.142/32"
                ]
            );
            // The same CIDR under another service is not taken along.
            let actions = select(SAMPLE, "data-actions", &[]).unwrap();
            assert_eq!(actions, ["52.200.73.32/32"]);
        }

        #[test]
        fn refuses_what_it_cannot_use() {
            assert!(select(SAMPLE, "open-messaging", &["mars-1".into()]).is_err());
            assert!(select("{}", "open-messaging", &[]).is_err());
            assert!(select("nope", "open-messaging", &[]).is_err());
            let bad = r#"[{"cidr":"10.0.0.0/33","service":"s","region":"r"}]"#;
            assert!(select(bad, "s", &[]).is_err());
        }
    }
}
