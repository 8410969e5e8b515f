//! Signing a delivery the way a sender of a given scheme does: used by the sample sender
//! (`webhook-guard-send`), the end-to-end tests and the benchmarks, so they all sign through
//! the same scheme definitions the filter verifies with. Not reached from the filter's
//! entry points: the linker keeps none of it (nor the signing halves of the curve crates)
//! in the `.wasm`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::headers::{CapturedHeaders, HeaderRef};
use crate::presets::{Scheme, SignatureSource};
use crate::signature::{Algorithm, Encoding, Part, Request, METHOD, PATH};
use crate::timestamp::TimestampSource;

/// What a sender signs with.
pub enum SigningKey {
    /// An HMAC key's bytes, or a shared token.
    Shared(Vec<u8>),
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

/// The DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, an
/// uncompressed point): SendGrid shows its key as base64 of this plus the 65-byte point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

impl SigningKey {
    /// The key for `scheme` from the text a user gives: the shared secret in the scheme's
    /// encoding, or a private key for the asymmetric schemes (Ed25519: a 32-byte seed or a
    /// 64-byte seed+public key, as hex or base64; P-256: a PKCS#8 key as PEM or base64 DER,
    /// or the 32-byte scalar as hex).
    /// `private`: the text is a private key (for Standard Webhooks, an Ed25519 one: `v1a`).
    pub fn from_text(scheme: &Scheme, text: &str, private: bool) -> Result<SigningKey, String> {
        let text = text.trim();
        let ecdsa = scheme.algorithm == Algorithm::EcdsaP256Sha256;
        if scheme.algorithm == Algorithm::Ed25519 || (private && !ecdsa) {
            let bytes = decode_any(text.strip_prefix("whsk_").unwrap_or(text))
                .ok_or("the Ed25519 private key is neither hex nor base64")?;
            let seed: [u8; 32] = bytes
                .get(..32)
                .filter(|_| bytes.len() == 32 || bytes.len() == 64)
                .and_then(|s| s.try_into().ok())
                .ok_or("the Ed25519 private key is not 32 (seed) or 64 (seed + public) bytes")?;
            return Ok(SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(
                &seed,
            )));
        }
        if ecdsa {
            use p256::pkcs8::DecodePrivateKey;
            let b64 = crate::secrets::pem_body(text);
            let key = match decode_any(&b64) {
                Some(b) if b.len() == 32 => p256::ecdsa::SigningKey::from_slice(&b).ok(),
                Some(der) => p256::ecdsa::SigningKey::from_pkcs8_der(&der).ok(),
                None => None,
            };
            return key.map(SigningKey::P256).ok_or_else(|| {
                "the P-256 private key is not PKCS#8 (PEM or base64 DER) or a hex scalar"
                    .to_string()
            });
        }
        scheme
            .secret_encoding
            .decode(text)
            .map(SigningKey::Shared)
            .map_err(|why| format!("the secret {why}"))
    }

    /// The public key as the sender publishes it (Discord hex, Standard Webhooks `whpk_`,
    /// SendGrid base64 DER), for configuring an endpoint that verifies this key.
    pub fn public_key_text(&self, scheme: &Scheme) -> Option<String> {
        match self {
            SigningKey::Shared(_) => None,
            SigningKey::Ed25519(k) => {
                let bytes = k.verifying_key().to_bytes();
                Some(if scheme.format.ed25519_prefix.is_some() {
                    format!("whpk_{}", STANDARD.encode(bytes))
                } else {
                    hex::encode(bytes)
                })
            }
            SigningKey::P256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                let mut der = P256_SPKI_PREFIX.to_vec();
                der.extend_from_slice(point.as_bytes());
                Some(STANDARD.encode(der))
            }
        }
    }
}

fn decode_any(text: &str) -> Option<Vec<u8>> {
    if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(text).ok();
    }
    STANDARD.decode(text).ok()
}

/// One delivery to sign: the request parts a scheme may sign.
pub struct Message<'a> {
    pub body: &'a [u8],
    /// The delivery time as the scheme writes it (`1700000000`, RFC 3339, ms).
    pub timestamp: &'a str,
    /// Fills any `{header:...}` the signed content names (`webhook-id`, Twitch's message id).
    pub id: &'a str,
    pub method: &'a str,
    /// The request's path and query, as sent.
    pub path: &'a str,
}

/// A signed delivery: the headers to send and the body (changed only where the signature
/// is a body field: Mailgun).
pub struct Signed {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Signs `m` with `key` as a sender of `scheme` does.
pub fn sign_message(scheme: &Scheme, key: &SigningKey, m: &Message) -> Result<Signed, String> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for part in &scheme.signed_content.parts {
        if let Part::Header(h) = part {
            if let Some(name) = h.names.first() {
                headers.push((name.clone(), m.id.to_string()));
            }
        }
    }
    if let TimestampSource::Header(h) = &scheme.timestamp {
        if let Some(name) = h.names.first() {
            headers.push((name.clone(), m.timestamp.to_string()));
        }
    }
    // What the filter will read, rendered by the same code the filter renders with.
    let mut all: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
        .collect();
    all.push((METHOD.into(), m.method.as_bytes().to_vec()));
    all.push((PATH.into(), m.path.as_bytes().to_vec()));
    let wanted: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
    let captured =
        CapturedHeaders::capture(all.iter().map(|(n, v)| (n.as_str(), v.as_slice())), &wanted);
    let request = Request {
        body: m.body,
        timestamp: m.timestamp.as_bytes(),
        headers: &captured,
        public_url: &scheme.public_url,
    };
    let pieces = scheme
        .signed_content
        .render(&request)
        .map_err(|e| format!("cannot build the signed content: {e:?}"))?;
    let pieces: Vec<&[u8]> = pieces.iter().map(|p| p.as_ref()).collect();

    let (signature, ed25519) = raw_signature(scheme.algorithm, key, &pieces);
    let format = &scheme.format;
    let encoded = match (ed25519, &format.ed25519_prefix) {
        (true, Some(prefix)) => format!("{prefix}{}", Encoding::Base64.encode(&signature)),
        _ => format!("{}{}", format.prefix, format.encoding.encode(&signature)),
    };
    let value = match (&format.timestamp_item, format.separator) {
        (Some(item), Some(sep)) => format!("{item}{}{}{encoded}", m.timestamp, sep as char),
        _ => encoded,
    };
    let mut body = m.body.to_vec();
    match &scheme.signature {
        SignatureSource::Headers(list) => {
            if let Some(name) = list.first().and_then(|h: &HeaderRef| h.names.first()) {
                headers.push((name.clone(), value));
            }
        }
        SignatureSource::Body(pointer) => {
            let mut json: serde_json::Value =
                serde_json::from_slice(m.body).map_err(|e| format!("body is not JSON: {e}"))?;
            let slot = json
                .pointer_mut(pointer)
                .ok_or_else(|| format!("the body has no {pointer} to put the signature in"))?;
            *slot = serde_json::Value::String(value);
            body = serde_json::to_vec(&json).map_err(|e| e.to_string())?;
        }
    }
    Ok(Signed { headers, body })
}

/// The signature bytes, and whether they are an Ed25519 signature.
fn raw_signature(algorithm: Algorithm, key: &SigningKey, pieces: &[&[u8]]) -> (Vec<u8>, bool) {
    match key {
        SigningKey::Ed25519(k) => {
            use ed25519_dalek::Signer;
            (k.sign(&pieces.concat()).to_bytes().to_vec(), true)
        }
        SigningKey::P256(k) => {
            use p256::ecdsa::signature::DigestSigner;
            let mut digest = Sha256::new();
            for p in pieces {
                digest.update(p);
            }
            let sig: p256::ecdsa::Signature = k.sign_digest(digest);
            (sig.to_der().as_bytes().to_vec(), false)
        }
        SigningKey::Shared(secret) => {
            let mac = match algorithm {
                Algorithm::Token => secret.clone(),
                Algorithm::HmacSha1 => hmac::<Hmac<Sha1>>(secret, pieces),
                Algorithm::HmacSha512 => hmac::<Hmac<Sha512>>(secret, pieces),
                _ => hmac::<Hmac<Sha256>>(secret, pieces),
            };
            (mac, false)
        }
    }
}

fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], pieces: &[&[u8]]) -> Vec<u8> {
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    for p in pieces {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Headers (name, value) that carry a valid signature of `body` under the shared `key`,
/// POSTed to `/`. `timestamp` is the text of the delivery time when the scheme signs one;
/// `id` fills any `{header:...}` the signed content names (Standard Webhooks' `webhook-id`).
pub fn sign(
    scheme: &Scheme,
    key: &[u8],
    body: &[u8],
    timestamp: &str,
    id: &str,
) -> Vec<(String, String)> {
    let m = Message {
        body,
        timestamp,
        id,
        method: "POST",
        path: "/",
    };
    sign_message(scheme, &SigningKey::Shared(key.to_vec()), &m)
        .map(|s| s.headers)
        .unwrap_or_default()
}

/// A realistic delivery for a preset, dated `now` (unix seconds) where the scheme dates
/// one: the body (with `id` where the sender puts its delivery's id) and the timestamp text
/// the scheme signs (empty if none). Used by `webhook-guard-send`, the tests and benches.
pub fn sample(preset: &str, id: &str, now: i64) -> (String, String) {
    let time = crate::rfc3339::unix_seconds_to_rfc3339(now);
    let body = match preset {
        "genesys-open-messaging" => format!(
            r#"{{"id":"{id}","channel":{{"id":"e6b352de-ecd0-49c7-94de-7787418869bc","platform":"Open","type":"Private","to":{{"id":"recipient-123","idType":"Opaque"}},"from":{{"nickname":"Support","id":"e6b352de-ecd0-49c7-94de-7787418869bc","idType":"Opaque"}},"time":"{time}","messageId":"{id}"}},"type":"Text","text":"Hi","originatingEntity":"Human","direction":"Outbound","conversationId":"5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee"}}"#
        ),
        "genesys-signature-header" => format!(
            r#"{{"event":"conversation.end","eventId":"{id}","conversationId":"5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee","timestamp":"{time}","platformVersion":"v2","data":{{}}}}"#
        ),
        "stripe" => format!(r#"{{"id":"{id}","object":"event","type":"charge.succeeded"}}"#),
        "slack" => format!("token=demo&team_id=T0001&text=hello+{id}"),
        "twilio" => format!(
            "AccountSid=AC0123&Body=Hello+%F0%9F%91%8B+{id}&From=%2B15017122661&MessageSid=SM{id}&To=%2B15558675310"
        ),
        "mailgun" => format!(
            r#"{{"signature":{{"timestamp":"{now}","token":"{id}-0123456789abcdef0123456789abcdef","signature":""}},"event-data":{{"event":"delivered","id":"{id}"}}}}"#
        ),
        "linear" => format!(
            r#"{{"action":"create","type":"Issue","data":{{"id":"{id}","title":"demo"}},"webhookTimestamp":{}}}"#,
            now * 1000
        ),
        "pagerduty" => format!(r#"{{"event":{{"id":"{id}","event_type":"incident.triggered"}}}}"#),
        "typeform" | "paddle" | "square" => {
            format!(r#"{{"event_id":"{id}","event_type":"demo","data":{{}}}}"#)
        }
        // An APPLICATION_COMMAND: type 1 would be Discord's PING, a challenge, not a delivery.
        "discord" => format!(
            r#"{{"id":"{id}","type":2,"application_id":"0","data":{{"name":"demo"}}}}"#
        ),
        "sendgrid" => format!(
            r#"[{{"email":"a@example.com","event":"delivered","sg_event_id":"{id}","timestamp":{now}}}]"#
        ),
        _ => format!(r#"{{"id":"{id}","type":"demo"}}"#),
    };
    let timestamp = match crate::presets::preset(preset) {
        Some(s)
            if matches!(
                s.timestamp,
                TimestampSource::Header(_) | TimestampSource::SignatureHeader
            ) =>
        {
            match s.timestamp_format {
                crate::timestamp::TimestampFormat::Unix => now.to_string(),
                crate::timestamp::TimestampFormat::UnixMs => (now * 1000).to_string(),
                crate::timestamp::TimestampFormat::Rfc3339 => time,
            }
        }
        _ => String::new(),
    };
    (body, timestamp)
}
