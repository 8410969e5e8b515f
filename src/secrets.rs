//! Webhook signing secrets: where they come from and how their text becomes key bytes.
//!
//! A secret's bytes never appear in `Debug` output, logs or answers: only its `id` does.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::digest::KeyInit;
use hmac::Hmac;
use sha2::Sha256;

/// Shortest key accepted. Genesys asks for more than 15 characters; shorter keys are guessable.
pub const MIN_SECRET_BYTES: usize = 16;
/// Longest key accepted (a bound, not a recommendation).
pub const MAX_SECRET_BYTES: usize = 1024;

/// How a secret's configured text turns into HMAC key bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretEncoding {
    /// The text's UTF-8 bytes (GitHub, Stripe, Slack, Shopify, Genesys).
    Utf8,
    /// Standard base64 of the key bytes.
    Base64,
    /// Standard Webhooks: `whsec_` followed by base64 of the key bytes.
    Whsec,
}

impl SecretEncoding {
    pub fn parse(s: &str) -> Option<SecretEncoding> {
        match s {
            "utf8" => Some(SecretEncoding::Utf8),
            "base64" => Some(SecretEncoding::Base64),
            "whsec" => Some(SecretEncoding::Whsec),
            _ => None,
        }
    }

    /// Key bytes, or why the text cannot be one (the reason never quotes the text).
    pub fn decode(self, text: &str) -> Result<Vec<u8>, &'static str> {
        let key = match self {
            SecretEncoding::Utf8 => text.as_bytes().to_vec(),
            SecretEncoding::Base64 => STANDARD
                .decode(text.trim())
                .map_err(|_| "is not valid base64")?,
            SecretEncoding::Whsec => {
                let b64 = text
                    .trim()
                    .strip_prefix("whsec_")
                    .ok_or("does not start with whsec_")?;
                STANDARD.decode(b64).map_err(|_| "is not whsec_ + base64")?
            }
        };
        if key.len() < MIN_SECRET_BYTES {
            return Err("is shorter than 16 bytes");
        }
        if key.len() > MAX_SECRET_BYTES {
            return Err("is longer than 1024 bytes");
        }
        Ok(key)
    }
}

/// One configured secret: an id that may be shown (logs, `x-webhook-guard-secret-id`) and an
/// HMAC keyed with it, which may not.
pub struct Secret {
    pub id: String,
    /// Keyed once at configuration: each request clones this state instead of hashing the
    /// key's inner and outer pads again (two SHA-256 blocks per secret per request).
    /// `None` only if the key were refused as an HMAC key, which HMAC never does.
    keyed: Option<Hmac<Sha256>>,
}

impl Secret {
    pub fn new(id: String, key: Vec<u8>) -> Secret {
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).ok();
        Secret { id, keyed }
    }

    /// A fresh HMAC state keyed with this secret.
    pub fn mac(&self) -> Option<Hmac<Sha256>> {
        self.keyed.clone()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_encoding() {
        let utf8 = SecretEncoding::Utf8
            .decode("It's a Secret to Everybody")
            .unwrap();
        assert_eq!(utf8, b"It's a Secret to Everybody");
        let b64 = SecretEncoding::Base64
            .decode("MDEyMzQ1Njc4OWFiY2RlZg==")
            .unwrap();
        assert_eq!(b64, b"0123456789abcdef");
        let whsec = SecretEncoding::Whsec
            .decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        assert_eq!(whsec.len(), 24);
    }

    #[test]
    fn rejects_short_and_malformed_secrets() {
        assert!(SecretEncoding::Utf8.decode("short").is_err());
        assert!(SecretEncoding::Base64.decode("!!!").is_err());
        assert!(SecretEncoding::Whsec
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .is_err());
        assert!(SecretEncoding::Utf8.decode(&"x".repeat(2000)).is_err());
    }

    #[test]
    fn debug_output_hides_the_key() {
        let s = Secret::new("current".into(), b"super-secret-value".to_vec());
        let shown = format!("{s:?}");
        assert!(shown.contains("current"));
        assert!(!shown.contains("super-secret-value"));
    }
}
