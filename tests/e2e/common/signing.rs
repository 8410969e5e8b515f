//! Signed deliveries, made through the filter crate's own scheme definitions (as
//! webhook-guard-send signs them), and the Genesys message most tests send.

use super::http::{send, Response};

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// `2025-06-10T21:03:05Z` for a unix time.
pub fn rfc3339(t: i64) -> String {
    webhook_guard::payload::rfc3339::unix_seconds_to_rfc3339(t)
}

/// A Genesys Open Messaging outbound message (the shape Genesys documents) sent at `t`.
pub fn genesys_body(id: &str, t: i64) -> String {
    format!(
        r#"{{"id":"{id}","channel":{{"id":"e6b352de-ecd0-49c7-94de-7787418869bc","platform":"Open","type":"Private","to":{{"id":"recipient-123","idType":"Opaque"}},"from":{{"nickname":"Support","id":"e6b352de-ecd0-49c7-94de-7787418869bc","idType":"Opaque"}},"time":"{}","messageId":"{id}"}},"type":"Text","text":"Hi","originatingEntity":"Human","direction":"Outbound","conversationId":"5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee"}}"#,
        rfc3339(t)
    )
}

/// Signs `body` for endpoint `name` of `config` (parsed natively with `env`) with the secret
/// text `secret`; returns the headers a real sender would send.
pub fn sign_for(
    config: &str,
    env: &[(&str, &str)],
    name: &str,
    secret: &str,
    body: &[u8],
    timestamp: &str,
    id: &str,
) -> Vec<(String, Vec<u8>)> {
    let lookup = |k: &str| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    };
    let parsed = webhook_guard::config::Config::parse(config.as_bytes(), &lookup)
        .unwrap_or_else(|e| panic!("test config: {e}"));
    let ep = parsed
        .endpoints
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no endpoint {name}"));
    let key = ep.scheme.secret_encoding.decode(secret).expect("secret");
    webhook_guard::sign::sign(&ep.scheme, &key, body, timestamp, id)
        .into_iter()
        .map(|(n, v)| (n, v.into_bytes()))
        .collect()
}

/// A signed delivery: the headers a sender sends and the body.
pub type Delivery = (Vec<(String, Vec<u8>)>, String);

/// A Genesys message with id `id`, dated now, signed for endpoint `genesys` of `config`
/// with `secret`: the same id is the same delivery.
pub fn genesys_delivery(config: &str, secret: &str, id: &str) -> Delivery {
    let body = genesys_body(id, now_unix());
    let headers = sign_for(config, &[], "genesys", secret, body.as_bytes(), "", "");
    (headers, body)
}

/// POSTs a delivery to `/webhooks/genesys`.
pub fn deliver(port: u16, d: &Delivery) -> Response {
    send(
        port,
        "POST",
        "/webhooks/genesys",
        &as_refs(&d.0),
        d.1.as_bytes(),
    )
}

/// Borrowed view for `send`.
pub fn as_refs(headers: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect()
}
