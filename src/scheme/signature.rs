//! Signature algorithms and headers: how a sender writes its signatures, and reading the
//! ones a delivery offers (bounded: `MAX_SIGNATURES`).
//!
//! Every MAC is compared as decoded bytes with `subtle`, never as text: case, padding and
//! encoding differences cannot make a valid signature fail, and timing reveals nothing.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Most signatures one delivery may carry (Stripe, Paddle and Standard Webhooks send several
/// during their own rotations, DocuSign one header per key); more is an attack on our CPU,
/// not a rotation.
pub const MAX_SIGNATURES: usize = 8;
/// Most public-key signatures one delivery may offer: each costs a verification that a
/// MAC comparison does not (about 50-150 us for Ed25519, up to 1 ms for P-256, natively;
/// BENCHMARKS.md), and no sender sends more than one per key, two mid-rotation.
pub const MAX_PUBLIC_KEY_SIGNATURES: usize = 2;
/// Most curve verifications one delivery may cost: every offered public-key signature is
/// tried against every public key of the endpoint, and Ed25519 hashes the whole message
/// again for each pair (R || A || M: nothing is shared between keys).
pub(crate) const MAX_PUBLIC_KEY_CHECKS: usize = 4;
/// Most public keys per endpoint (a rotation needs two), so that the pairs stay within
/// `MAX_PUBLIC_KEY_CHECKS` however many signatures up to the cap a delivery offers: the
/// bound is enforced when the configuration loads, never by refusing a live delivery.
pub const MAX_PUBLIC_KEYS: usize = MAX_PUBLIC_KEY_CHECKS / MAX_PUBLIC_KEY_SIGNATURES;
/// Longest decoded signature or token accepted (an ECDSA DER signature is at most 72 bytes,
/// a shared token at most a secret's 1024).
pub(crate) const MAX_SIGNATURE_BYTES: usize = 1024;

/// How a delivery is authenticated: the `custom` field `algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HmacSha256,
    HmacSha1,
    HmacSha512,
    /// The header carries the shared secret itself (GitLab, Okta): no MAC, nothing signed.
    Token,
    Ed25519,
    EcdsaP256Sha256,
}

impl Algorithm {
    pub(crate) const NAMES: &'static str =
        "\"hmac-sha256\", \"hmac-sha1\", \"hmac-sha512\", \"token\", \"ed25519\" or \"ecdsa-p256-sha256\"";

    pub fn parse(s: &str) -> Option<Algorithm> {
        Some(match s {
            "hmac-sha256" => Algorithm::HmacSha256,
            "hmac-sha1" => Algorithm::HmacSha1,
            "hmac-sha512" => Algorithm::HmacSha512,
            "token" => Algorithm::Token,
            "ed25519" => Algorithm::Ed25519,
            "ecdsa-p256-sha256" => Algorithm::EcdsaP256Sha256,
            _ => return None,
        })
    }

    /// Verified with a public key rather than a shared secret.
    pub fn is_asymmetric(self) -> bool {
        matches!(self, Algorithm::Ed25519 | Algorithm::EcdsaP256Sha256)
    }

    /// Whether a decoded signature of `len` bytes can be one of this algorithm's: a wrong
    /// length is `malformed_signature`, as a wrong alphabet is.
    pub(crate) fn accepts_len(self, len: usize) -> bool {
        match self {
            Algorithm::HmacSha256 => len == 32,
            Algorithm::HmacSha1 => len == 20,
            Algorithm::HmacSha512 => len == 64,
            Algorithm::Ed25519 => len == 64,
            // DER: SEQUENCE of two INTEGERs of at most 33 bytes each.
            Algorithm::EcdsaP256Sha256 => (8..=72).contains(&len),
            Algorithm::Token => (1..=MAX_SIGNATURE_BYTES).contains(&len),
        }
    }
}

/// How a signature is written in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
    /// The bytes as they are: a shared token.
    Text,
}

impl Encoding {
    pub fn parse(s: &str) -> Option<Encoding> {
        match s {
            "hex" => Some(Encoding::Hex),
            "base64" => Some(Encoding::Base64),
            "text" => Some(Encoding::Text),
            _ => None,
        }
    }

    fn decode(self, text: &[u8]) -> Option<Vec<u8>> {
        if text.len() > 2 * MAX_SIGNATURE_BYTES {
            return None;
        }
        match self {
            Encoding::Hex => hex::decode(text).ok(),
            Encoding::Base64 => STANDARD.decode(text).ok(),
            Encoding::Text => Some(text.to_vec()),
        }
    }

    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => STANDARD.encode(bytes),
            Encoding::Text => String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

/// Which keys an offered signature is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigKind {
    /// The endpoint's algorithm.
    Any,
    /// Standard Webhooks `v1,`: HMAC keys only.
    Mac,
    /// Standard Webhooks `v1a,`: Ed25519 public keys only.
    Ed25519,
}

/// The shape of a signature header (or body field).
///
/// One signature: `<prefix><encoded>` (GitHub's `sha256=<hex>`, Shopify's bare base64).
/// Several: items split at `separator`, each `<prefix><encoded>`, other items ignored
/// (Stripe's `t=..,v1=..,v0=..`, Paddle's `ts=..;h1=..`, PagerDuty's `v1=..,v1=..`,
/// Standard Webhooks' `v1,.. v1a,..`), one item possibly the timestamp (`t=`, `ts=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureFormat {
    pub prefix: String,
    pub encoding: Encoding,
    pub separator: Option<u8>,
    /// The item holding the delivery's timestamp (`t=`), part of what is signed.
    pub timestamp_item: Option<String>,
    /// Standard Webhooks: items with this prefix are base64 Ed25519 signatures.
    pub ed25519_prefix: Option<String>,
}

impl SignatureFormat {
    pub fn single(prefix: &str, encoding: Encoding) -> SignatureFormat {
        SignatureFormat {
            prefix: prefix.to_string(),
            encoding,
            separator: None,
            timestamp_item: None,
            ed25519_prefix: None,
        }
    }

    pub fn list(separator: u8, prefix: &str, encoding: Encoding) -> SignatureFormat {
        SignatureFormat {
            separator: Some(separator),
            ..SignatureFormat::single(prefix, encoding)
        }
    }
}

/// One signature a delivery offers, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedSig {
    pub bytes: Vec<u8>,
    pub kind: SigKind,
}

/// The signatures a delivery offers, and a timestamp carried beside them (Stripe's `t`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Offered {
    pub sigs: Vec<OfferedSig>,
    pub timestamp: Option<Vec<u8>>,
}

/// The value could not be read as a signature of its format.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

impl Offered {
    fn push(&mut self, sig: OfferedSig, algorithm: Algorithm) -> Result<(), Malformed> {
        let costly = |s: &OfferedSig| {
            s.kind == SigKind::Ed25519 || (s.kind == SigKind::Any && algorithm.is_asymmetric())
        };
        if self.sigs.len() == MAX_SIGNATURES
            || (costly(&sig)
                && self.sigs.iter().filter(|s| costly(s)).count() == MAX_PUBLIC_KEY_SIGNATURES)
        {
            return Err(Malformed);
        }
        self.sigs.push(sig);
        Ok(())
    }
}

impl SignatureFormat {
    /// Adds the signatures of one header value (or body field) to `offered`.
    pub(crate) fn parse_into(
        &self,
        raw: &[u8],
        algorithm: Algorithm,
        offered: &mut Offered,
    ) -> Result<(), Malformed> {
        let raw = raw.trim_ascii();
        let Some(sep) = self.separator else {
            let text = raw.strip_prefix(self.prefix.as_bytes()).ok_or(Malformed)?;
            let bytes = self.encoding.decode(text).ok_or(Malformed)?;
            if !algorithm.accepts_len(bytes.len()) {
                return Err(Malformed);
            }
            return offered.push(
                OfferedSig {
                    bytes,
                    kind: SigKind::Any,
                },
                algorithm,
            );
        };
        // Items are `key=value` (`key,value` for Standard Webhooks): one without the
        // prefix's last character is no item of this header, and the header is malformed.
        let delimiter = self.prefix.as_bytes().last().copied();
        for item in raw.split(|&b| b == sep) {
            let item = item.trim_ascii();
            if item.is_empty() {
                continue;
            }
            if delimiter.is_some_and(|d| !item.contains(&d)) {
                return Err(Malformed);
            }
            if let Some(t) = &self.timestamp_item {
                if let Some(value) = item.strip_prefix(t.as_bytes()) {
                    if offered.timestamp.is_some() {
                        return Err(Malformed);
                    }
                    offered.timestamp = Some(value.to_vec());
                    continue;
                }
            }
            // The longer prefix first: `v1a,` is not a `v1,` item, but a prefix could be.
            if let Some(ed) = &self.ed25519_prefix {
                if let Some(text) = item.strip_prefix(ed.as_bytes()) {
                    let bytes = Encoding::Base64.decode(text).ok_or(Malformed)?;
                    if !Algorithm::Ed25519.accepts_len(bytes.len()) {
                        return Err(Malformed);
                    }
                    offered.push(
                        OfferedSig {
                            bytes,
                            kind: SigKind::Ed25519,
                        },
                        algorithm,
                    )?;
                    continue;
                }
            }
            if let Some(text) = item.strip_prefix(self.prefix.as_bytes()) {
                let bytes = self.encoding.decode(text).ok_or(Malformed)?;
                if !algorithm.accepts_len(bytes.len()) {
                    return Err(Malformed);
                }
                let kind = if self.ed25519_prefix.is_some() {
                    SigKind::Mac
                } else {
                    SigKind::Any
                };
                offered.push(OfferedSig { bytes, kind }, algorithm)?;
            }
            // Any other item is another scheme or version (Stripe's v0): not ours to judge.
        }
        Ok(())
    }

    /// The signatures of one value; at least one, and the timestamp item when it has one.
    pub fn parse(&self, raw: &[u8], algorithm: Algorithm) -> Result<Offered, Malformed> {
        let mut offered = Offered::default();
        self.parse_into(raw, algorithm, &mut offered)?;
        if offered.sigs.is_empty() || (self.timestamp_item.is_some() && offered.timestamp.is_none())
        {
            return Err(Malformed);
        }
        Ok(offered)
    }
}

pub(crate) fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b))
}

/// HMAC-SHA256 of the concatenated pieces (the tests' documented vectors).
#[cfg(test)]
pub(crate) fn hmac_sha256(key: &[u8], pieces: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    // new_from_slice accepts keys of any length for HMAC; the Err arm cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    for piece in pieces {
        mac.update(piece);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests;
