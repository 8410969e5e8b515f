//! `webhook-guard send`: signs a delivery as a sender of a preset (or of any endpoint of a
//! configuration, `custom` included) would, and POSTs it over HTTP or HTTPS, or prints it as
//! a curl command.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use webhook_guard::scheme::presets::{needs_public_url, preset};
use webhook_guard::scheme::timestamp::{TimestampFormat, TimestampSource};
use webhook_guard::scheme::Scheme;
use webhook_guard::sign::{sample, sign_message, Message, SigningKey};

use crate::check;

/// An endpoint of a configuration file: its scheme, the name of its preset (for the sample
/// body) and the text of its first secret, when the configuration gives one (inline, or the
/// name of a variable of this process's environment).
pub struct ConfigEndpoint {
    pub scheme: Scheme,
    pub preset: String,
    pub secret: Option<KeyFrom>,
}

pub enum KeyFrom {
    Value(String),
    Env(String),
    /// A public key: the sender's private key is needed to sign.
    PublicKey,
}

/// Reads endpoint `name` from the configuration(s) in `path`, parsed by the filter's own
/// parser (secrets from `env` stood in for: only the scheme is taken).
pub fn endpoint_from(path: &Path, name: &str) -> Result<ConfigEndpoint, String> {
    let at = path.display();
    let text = check::read(path).map_err(|e| format!("{at}: {e}"))?;
    let found = check::find(&text).map_err(|e| format!("{at}: {e}"))?;
    let mut names = Vec::new();
    for f in &found {
        let config = check::parse(f, check::Secrets::Placeholders)
            .map_err(|e| format!("{at}: {e} (run webhook-guard check {at})"))?;
        let Some(i) = config.endpoints.iter().position(|e| e.name == name) else {
            names.extend(config.endpoints.iter().map(|e| e.name.clone()));
            continue;
        };
        let raw: Value = serde_json::from_slice(&f.bytes).unwrap_or(Value::Null);
        let raw = &raw["endpoints"][i];
        let first = &raw["secrets"][0];
        let secret = if let Some(v) = first["value"].as_str() {
            Some(KeyFrom::Value(v.to_string()))
        } else if let Some(var) = first["env"].as_str() {
            Some(KeyFrom::Env(var.to_string()))
        } else if first.get("public_key").is_some() {
            Some(KeyFrom::PublicKey)
        } else {
            None
        };
        let endpoint = config.endpoints.into_iter().nth(i);
        return endpoint
            .map(|e| ConfigEndpoint {
                scheme: e.scheme,
                preset: raw["preset"].as_str().unwrap_or("custom").to_string(),
                secret,
            })
            .ok_or_else(|| format!("{at}: no endpoint {name:?}"));
    }
    Err(format!(
        "{at}: no endpoint named {name:?} (endpoints: {})",
        names.join(", ")
    ))
}

/// The timestamp text a scheme signs at `now`, for a scheme whose timestamp is in a header
/// or the signature header (a body timestamp is the body's own).
pub fn timestamp_text(scheme: &Scheme, now: i64) -> String {
    match scheme.timestamp {
        TimestampSource::Header(_) | TimestampSource::SignatureHeader => {
            match scheme.timestamp_format {
                TimestampFormat::Unix => now.to_string(),
                TimestampFormat::UnixMs => (now * 1000).to_string(),
                TimestampFormat::Rfc3339 => {
                    webhook_guard::payload::rfc3339::unix_seconds_to_rfc3339(now)
                }
            }
        }
        _ => String::new(),
    }
}

/// What to sign and where to send it.
pub struct Delivery<'a> {
    pub scheme: &'a Scheme,
    pub preset: &'a str,
    pub key: &'a SigningKey,
    pub url: &'a str,
    pub body: Option<Vec<u8>>,
    pub id: &'a str,
    pub now: i64,
    pub tamper: bool,
}

/// A signed request, ready to send.
pub struct Request {
    pub url: String,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// `http(s)://HOST[:PORT]` and `/PATH?QUERY` of a URL.
pub fn split_url(url: &str) -> Result<(&str, &str), String> {
    let start = match url.find("://") {
        Some(i) if url.starts_with("http://") || url.starts_with("https://") => i + 3,
        _ => return Err("--url must be http(s)://HOST[:PORT]/PATH".into()),
    };
    Ok(match url[start..].find('/') {
        Some(slash) => url.split_at(start + slash),
        None => (url, "/"),
    })
}

/// Signs `d` as its sender would: the sample body of the preset (or `d.body`), the scheme's
/// headers, the sender's delivery id header.
pub fn sign(d: &Delivery) -> Result<Request, String> {
    let (origin, path) = split_url(d.url)?;
    let mut scheme = d.scheme.clone();
    if needs_public_url(&scheme) && scheme.public_url.is_empty() {
        scheme.public_url = origin.to_string();
    }
    let (sample_body, _) = sample(d.preset, d.id, d.now);
    let timestamp = timestamp_text(&scheme, d.now);
    let body = d.body.clone().unwrap_or_else(|| sample_body.into_bytes());
    let message = Message {
        body: &body,
        timestamp: &timestamp,
        id: d.id,
        method: "POST",
        path,
    };
    let signed = sign_message(&scheme, d.key, &message)?;
    let mut headers = signed.headers;
    // The sender's delivery id header (unsigned: the filter only logs it), as each sends it.
    if let Some(name) = scheme.delivery_id.as_ref().and_then(|h| h.names.first()) {
        if !headers.iter().any(|(n, _)| n == name) {
            headers.push((name.clone(), d.id.to_string()));
        }
    }
    let form = matches!(d.preset, "slack" | "twilio");
    let mut sent = signed.body;
    if d.tamper {
        // Mailgun signs its token, not the event: change the token.
        let target = if d.preset == "mailgun" {
            String::from_utf8_lossy(&sent)
                .find(d.id)
                .map(|i| i + d.id.len() + 2)
        } else {
            sent.iter().rposition(|b| b.is_ascii_alphanumeric())
        };
        if let Some(b) = target.and_then(|i| sent.get_mut(i)) {
            *b ^= 0x01;
        }
    }
    Ok(Request {
        url: d.url.to_string(),
        content_type: if form {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        },
        headers,
        body: sent,
    })
}

/// A word for a POSIX shell, single-quoted.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The request as a curl command (the body inline, so the command is whole).
pub fn curl(r: &Request, ca_file: Option<&Path>) -> String {
    let mut words = vec!["curl".to_string(), "-sS".into(), "-X".into(), "POST".into()];
    if let Some(ca) = ca_file {
        words.push("--cacert".into());
        words.push(shell_quote(&ca.display().to_string()));
    }
    words.push("-H".into());
    words.push(shell_quote(&format!("content-type: {}", r.content_type)));
    for (n, v) in &r.headers {
        words.push("-H".into());
        words.push(shell_quote(&format!("{n}: {v}")));
    }
    words.push("--data-binary".into());
    words.push(shell_quote(&String::from_utf8_lossy(&r.body)));
    words.push(shell_quote(&r.url));
    words.join(" ")
}

/// Sends a POST and returns (status, body), whatever the status. HTTPS verifies the server
/// with the webpki roots, or only with the PEM certificates of `ca_file`.
pub fn post(r: &Request, ca_file: Option<&Path>) -> Result<(u16, String), String> {
    use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};
    let roots = match ca_file {
        None => RootCerts::WebPki,
        Some(path) => {
            let pem =
                std::fs::read(path).map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
            let certs: Vec<_> = parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(format!(
                    "--ca-file {}: no PEM certificate in it",
                    path.display()
                ));
            }
            RootCerts::new_with_certs(&certs)
        }
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(15)))
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build()
        .into();
    let mut request = agent.post(&r.url).header("content-type", r.content_type);
    for (name, value) in &r.headers {
        request = request.header(name, value);
    }
    let mut answer = request.send(&r.body[..]).map_err(|e| e.to_string())?;
    let status = answer.status().as_u16();
    let text = answer
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((status, text))
}

/// The scheme of a preset name, for `--preset`.
pub fn preset_scheme(name: &str) -> Result<Scheme, String> {
    preset(name).ok_or_else(|| format!("unknown preset {name:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_quotes_every_word() {
        let r = Request {
            url: "https://h/x?a=1".into(),
            content_type: "application/json",
            headers: vec![("x-sig".into(), "it's".into())],
            body: b"{\"a\":\"b'c\"}".to_vec(),
        };
        assert_eq!(
            curl(&r, None),
            r#"curl -sS -X POST -H 'content-type: application/json' -H 'x-sig: it'\''s' --data-binary '{"a":"b'\''c"}' 'https://h/x?a=1'"#
        );
    }

    #[test]
    fn urls_split_into_origin_and_path() {
        assert_eq!(
            split_url("https://h:1/a?b").unwrap(),
            ("https://h:1", "/a?b")
        );
        assert_eq!(split_url("http://h").unwrap(), ("http://h", "/"));
        assert!(split_url("ftp://h/x").is_err());
        assert!(split_url("h/x").is_err());
    }

    #[test]
    fn every_preset_with_a_delivery_id_header_gets_it() {
        let key = SigningKey::Shared(b"a-demo-secret-0123456789".to_vec());
        for name in webhook_guard::scheme::presets::PRESET_NAMES {
            let scheme = preset(name).unwrap();
            let Some(header) = scheme.delivery_id.clone() else {
                continue;
            };
            assert!(!scheme.algorithm.is_asymmetric(), "{name}");
            let d = Delivery {
                scheme: &scheme,
                preset: name,
                key: &key,
                url: "https://h.example/x",
                body: None,
                id: "d-7",
                now: 1_700_000_000,
                tamper: false,
            };
            let r = sign(&d).unwrap();
            assert!(
                r.headers
                    .iter()
                    .any(|(n, v)| n == &header.names[0] && v == "d-7"),
                "{name}: {:?}",
                r.headers
            );
        }
    }
}
