//! Webhook verification keys: where they come from, how their text becomes key material, and
//! the check of one key against the signatures a delivery offers.
//!
//! A shared secret's bytes never appear in `Debug` output, logs or answers: only its `id`
//! does. Public keys are not secret, but are not echoed either (an error names the field).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use std::cell::{Cell, OnceCell};

use subtle::{Choice, ConstantTimeEq};

use crate::scheme::signature::{Algorithm, OfferedSig, SigKind};

/// Shortest key accepted. Genesys asks for more than 15 characters; shorter keys are guessable.
pub(crate) const MIN_SECRET_BYTES: usize = 16;
/// Longest key accepted (a bound, not a recommendation).
pub(crate) const MAX_SECRET_BYTES: usize = 1024;

/// Why a text is not a key of its kind. Its message never quotes the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("is not valid base64")]
    NotBase64,
    #[error("does not start with whsec_")]
    NotWhsec,
    #[error("is not whsec_ + base64")]
    NotWhsecBase64,
    #[error("is shorter than 16 bytes")]
    TooShort,
    #[error("is longer than 1024 bytes")]
    TooLong,
    #[error("is not whpk_ + base64")]
    NotWhpkBase64,
    #[error("is not hex")]
    NotHex,
    #[error("is neither hex nor base64")]
    NotHexNorBase64,
    #[error("is not 32 bytes (an Ed25519 public key)")]
    NotEd25519Length,
    #[error("is not a point of Ed25519")]
    NotEd25519Point,
    #[error("is a weak Ed25519 key")]
    WeakEd25519,
    #[error("is not base64 (or PEM)")]
    NotBase64OrPem,
    #[error("is not a P-256 public key")]
    NotP256,
}

/// Why a configured secret cannot be used: its key, or the kind the endpoint wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("is a \"public_key\", but this endpoint wants {0}")]
    PublicKeyWhereShared(&'static str),
    #[error("is a public key given as \"value\": this endpoint wants {0}")]
    PublicKeyAsValue(&'static str),
    #[error("{key}: this endpoint wants {want}")]
    Unreadable { key: KeyError, want: &'static str },
}

/// How a shared secret's configured text turns into HMAC key bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretEncoding {
    /// The text's UTF-8 bytes (GitHub, Stripe, Slack, Shopify, Genesys).
    Utf8,
    /// Standard base64 of the key bytes.
    Base64,
    /// Standard Webhooks: `whsec_` followed by base64 of the key bytes (or, for the
    /// asymmetric `v1a` signatures, a `whpk_` public key).
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
    pub fn decode(self, text: &str) -> Result<Vec<u8>, KeyError> {
        let key = match self {
            SecretEncoding::Utf8 => text.as_bytes().to_vec(),
            SecretEncoding::Base64 => STANDARD
                .decode(text.trim())
                .map_err(|_| KeyError::NotBase64)?,
            SecretEncoding::Whsec => {
                let b64 = text
                    .trim()
                    .strip_prefix("whsec_")
                    .ok_or(KeyError::NotWhsec)?;
                STANDARD.decode(b64).map_err(|_| KeyError::NotWhsecBase64)?
            }
        };
        if key.len() < MIN_SECRET_BYTES {
            return Err(KeyError::TooShort);
        }
        if key.len() > MAX_SECRET_BYTES {
            return Err(KeyError::TooLong);
        }
        Ok(key)
    }
}

/// What kind of key an endpoint wants, in the words its configuration errors use.
pub fn wanted(algorithm: Algorithm, encoding: SecretEncoding) -> &'static str {
    match (algorithm, encoding) {
        (Algorithm::Ed25519, _) => {
            "an Ed25519 public key (64 hex digits as Discord shows it, whpk_ + base64, or base64 of 32 bytes) in \"public_key\" or \"env\""
        }
        (Algorithm::EcdsaP256Sha256, _) => {
            "a P-256 public key (base64 DER as SendGrid shows it, or PEM) in \"public_key\" or \"env\""
        }
        (Algorithm::Token, _) => "the shared token (16 to 1024 bytes) in \"value\" or \"env\"",
        (_, SecretEncoding::Whsec) => {
            "a whsec_ secret in \"value\" or \"env\", or a whpk_ public key in \"public_key\" or \"env\""
        }
        (_, SecretEncoding::Base64) => "a base64 shared secret in \"value\" or \"env\"",
        (_, SecretEncoding::Utf8) => "a shared secret in \"value\" or \"env\"",
    }
}

/// Where a key's text was configured: a public key field, or a secret (`value`/`env`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    PublicKey,
    Value,
    Env,
}

/// The key material, prepared once at configuration.
#[derive(Clone)]
enum Key {
    /// Keyed once: each request clones this state instead of hashing the key's inner and
    /// outer pads again (two hash blocks per secret per request).
    HmacSha256(Hmac<Sha256>),
    HmacSha1(Hmac<Sha1>),
    HmacSha512(Hmac<Sha512>),
    /// SHA-256 of the shared token: compared digest to digest, so neither the token's
    /// bytes nor its length show in the comparison's timing.
    Token([u8; 32]),
    Ed25519(ed25519_dalek::VerifyingKey),
    EcdsaP256(p256::ecdsa::VerifyingKey),
}

/// One configured key: an id that may be shown (logs, `x-webhook-guard-secret-id`) and the
/// material, which may not.
#[derive(Clone)]
pub struct Secret {
    pub id: String,
    key: Key,
}

impl Secret {
    /// An HMAC-SHA256 secret from key bytes.
    pub fn new(id: String, key: Vec<u8>) -> Secret {
        Secret::hmac(id, Algorithm::HmacSha256, &key)
    }

    fn hmac(id: String, algorithm: Algorithm, key: &[u8]) -> Secret {
        // HMAC accepts keys of any length: the Err arms cannot happen; an empty key would
        // match nothing a sender signs with a real secret.
        let key = match algorithm {
            Algorithm::HmacSha1 => Key::HmacSha1(
                <Hmac<Sha1> as KeyInit>::new_from_slice(key)
                    .unwrap_or_else(|_| <Hmac<Sha1> as KeyInit>::new(&Default::default())),
            ),
            Algorithm::HmacSha512 => Key::HmacSha512(
                <Hmac<Sha512> as KeyInit>::new_from_slice(key)
                    .unwrap_or_else(|_| <Hmac<Sha512> as KeyInit>::new(&Default::default())),
            ),
            _ => Key::HmacSha256(
                <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                    .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default())),
            ),
        };
        Secret { id, key }
    }

    /// The key an endpoint of `algorithm` verifies with, from its configured text, or why
    /// the text cannot be one (never quoting it).
    pub fn from_text(
        id: String,
        algorithm: Algorithm,
        encoding: SecretEncoding,
        text: &str,
        field: Field,
    ) -> Result<Secret, SecretError> {
        let want = wanted(algorithm, encoding);
        let unreadable = |key| SecretError::Unreadable { key, want };
        // Standard Webhooks: a whpk_ key verifies the v1a (Ed25519) signatures beside v1.
        let whpk = encoding == SecretEncoding::Whsec && text.trim().starts_with("whpk_");
        let asymmetric = algorithm.is_asymmetric() || whpk;
        match field {
            Field::PublicKey if !asymmetric => return Err(SecretError::PublicKeyWhereShared(want)),
            Field::Value if asymmetric => return Err(SecretError::PublicKeyAsValue(want)),
            _ => {}
        }
        let key = if whpk || algorithm == Algorithm::Ed25519 {
            Key::Ed25519(ed25519_public(text).map_err(unreadable)?)
        } else if algorithm == Algorithm::EcdsaP256Sha256 {
            Key::EcdsaP256(p256_public(text).map_err(unreadable)?)
        } else if algorithm == Algorithm::Token {
            let bytes = encoding.decode(text).map_err(unreadable)?;
            Key::Token(Sha256::digest(&bytes).into())
        } else {
            let bytes = encoding.decode(text).map_err(unreadable)?;
            return Ok(Secret::hmac(id, algorithm, &bytes));
        };
        Ok(Secret { id, key })
    }

    /// Verified with the sender's public key: each costs a curve verification per offered
    /// signature, which a MAC comparison does not (`MAX_PUBLIC_KEYS`).
    pub(crate) fn is_public_key(&self) -> bool {
        matches!(self.key, Key::Ed25519(_) | Key::EcdsaP256(_))
    }

    /// Whether this key verifies one of the offered signatures over the signed content.
    ///
    /// A MAC is computed once and compared with every offered signature in constant time;
    /// the public-key checks reveal nothing secret and stop at the first valid signature.
    pub fn verifies(&self, signed: &ToVerify) -> bool {
        let for_mac = |s: &&OfferedSig| s.kind != SigKind::Ed25519;
        let (pieces, offered) = (signed.pieces, signed.offered);
        match &self.key {
            Key::HmacSha256(k) => any_equal(&finish(k.clone(), pieces), offered, for_mac),
            Key::HmacSha1(k) => any_equal(&finish(k.clone(), pieces), offered, for_mac),
            Key::HmacSha512(k) => any_equal(&finish(k.clone(), pieces), offered, for_mac),
            Key::Token(digest) => {
                let mut hit = Choice::from(0);
                for d in signed.token_digests() {
                    hit |= d.ct_eq(digest);
                }
                bool::from(hit)
            }
            Key::Ed25519(key) => {
                // Each (signature, key) pair hashes R || A || message: nothing of it can be
                // shared between keys, so the pairs are capped instead (MAX_PUBLIC_KEYS).
                let message = signed.whole();
                offered
                    .iter()
                    .filter(|s| s.kind != SigKind::Mac)
                    .filter_map(|s| ed25519_dalek::Signature::from_slice(&s.bytes).ok())
                    .any(|sig| {
                        signed.count_public_key_check();
                        key.verify_strict(message, &sig).is_ok()
                    })
            }
            Key::EcdsaP256(key) => {
                use p256::ecdsa::signature::hazmat::PrehashVerifier;
                // The message's SHA-256 and the decoded signatures are the delivery's, not
                // the key's: computed once for every key.
                let prehash = signed.sha256();
                signed.ecdsa_signatures().iter().any(|sig| {
                    signed.count_public_key_check();
                    key.verify_prehash(prehash, sig).is_ok()
                })
            }
        }
    }
}

/// The signed content and the offered signatures of one delivery, with what every key of
/// an endpoint would otherwise compute again (the message whole, its SHA-256, the decoded
/// ECDSA signatures, the tokens' digests): each computed once, on first use.
pub struct ToVerify<'a> {
    pieces: &'a [&'a [u8]],
    offered: &'a [OfferedSig],
    whole: OnceCell<Vec<u8>>,
    sha256: OnceCell<[u8; 32]>,
    ecdsa: OnceCell<Vec<p256::ecdsa::Signature>>,
    tokens: OnceCell<Vec<[u8; 32]>>,
    public_key_checks: Cell<usize>,
}

impl<'a> ToVerify<'a> {
    pub fn new(pieces: &'a [&'a [u8]], offered: &'a [OfferedSig]) -> ToVerify<'a> {
        ToVerify {
            pieces,
            offered,
            whole: OnceCell::new(),
            sha256: OnceCell::new(),
            ecdsa: OnceCell::new(),
            tokens: OnceCell::new(),
            public_key_checks: Cell::new(0),
        }
    }

    #[cfg(test)]
    /// The curve verifications run so far (each one a (signature, public key) pair).
    pub(crate) fn public_key_checks(&self) -> usize {
        self.public_key_checks.get()
    }

    fn count_public_key_check(&self) {
        self.public_key_checks.set(self.public_key_checks.get() + 1);
    }

    /// Ed25519 needs the message in one piece.
    fn whole(&self) -> &[u8] {
        self.whole.get_or_init(|| self.pieces.concat())
    }

    fn sha256(&self) -> &[u8; 32] {
        self.sha256.get_or_init(|| {
            let mut digest = Sha256::new();
            for piece in self.pieces {
                digest.update(piece);
            }
            digest.finalize().into()
        })
    }

    fn ecdsa_signatures(&self) -> &[p256::ecdsa::Signature] {
        self.ecdsa.get_or_init(|| {
            self.offered
                .iter()
                .filter_map(|s| p256::ecdsa::Signature::from_der(&s.bytes).ok())
                // A signer that does not normalise s (Java's, Go's) is as valid: (r, s)
                // and (r, n - s) verify alike, so both are accepted.
                .map(|sig| sig.normalize_s().unwrap_or(sig))
                .collect()
        })
    }

    /// SHA-256 of each offered token: a token is compared digest to digest, so neither its
    /// bytes nor its length show in the comparison's timing.
    fn token_digests(&self) -> &[[u8; 32]] {
        self.tokens.get_or_init(|| {
            self.offered
                .iter()
                .map(|s| Sha256::digest(&s.bytes).into())
                .collect()
        })
    }
}

/// A keyed MAC fed piece by piece (`crate::verify::stream`: a body hashed as it arrives). Only the
/// HMAC keys have one: a token does not cover the body, and the public-key schemes need the
/// message whole (Ed25519) or are not worth streaming (ECDSA's cost is the verification).
#[derive(Clone)]
pub(crate) enum MacState {
    HmacSha256(Hmac<Sha256>),
    HmacSha1(Hmac<Sha1>),
    HmacSha512(Hmac<Sha512>),
}

impl MacState {
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            MacState::HmacSha256(m) => m.update(bytes),
            MacState::HmacSha1(m) => m.update(bytes),
            MacState::HmacSha512(m) => m.update(bytes),
        }
    }

    /// Whether the MAC over everything fed, then `suffix`, is one of the offered signatures:
    /// the same constant-time comparison as `Secret::verifies`.
    pub fn verifies(self, suffix: &[&[u8]], offered: &[OfferedSig]) -> bool {
        let for_mac = |s: &&OfferedSig| s.kind != SigKind::Ed25519;
        match self {
            MacState::HmacSha256(m) => any_equal(&finish(m, suffix), offered, for_mac),
            MacState::HmacSha1(m) => any_equal(&finish(m, suffix), offered, for_mac),
            MacState::HmacSha512(m) => any_equal(&finish(m, suffix), offered, for_mac),
        }
    }
}

impl Secret {
    /// A fresh MAC state for this key, when it is an HMAC key.
    pub(crate) fn mac_state(&self) -> Option<MacState> {
        match &self.key {
            Key::HmacSha256(k) => Some(MacState::HmacSha256(k.clone())),
            Key::HmacSha1(k) => Some(MacState::HmacSha1(k.clone())),
            Key::HmacSha512(k) => Some(MacState::HmacSha512(k.clone())),
            Key::Token(_) | Key::Ed25519(_) | Key::EcdsaP256(_) => None,
        }
    }
}

/// Feeds the pieces to a keyed HMAC state and returns the MAC.
fn finish<M: Mac>(mut mac: M, pieces: &[&[u8]]) -> Vec<u8> {
    for piece in pieces {
        mac.update(piece);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Constant-time: whether `expected` equals one of the (selected) offered signatures.
fn any_equal(
    expected: &[u8],
    offered: &[OfferedSig],
    select: impl Fn(&&OfferedSig) -> bool,
) -> bool {
    let mut hit = Choice::from(0);
    for s in offered.iter().filter(select) {
        // ct_eq of slices of different lengths is a (length-only) false.
        hit |= expected.ct_eq(&s.bytes);
    }
    bool::from(hit)
}

/// An Ed25519 public key: `whpk_` + base64 (Standard Webhooks), 64 hex digits (Discord), or
/// base64 of the 32 bytes. Weak (small-order) keys are refused: any signature would do.
pub fn ed25519_public(text: &str) -> Result<ed25519_dalek::VerifyingKey, KeyError> {
    let text = text.trim();
    let bytes = if let Some(b64) = text.strip_prefix("whpk_") {
        STANDARD.decode(b64).map_err(|_| KeyError::NotWhpkBase64)?
    } else if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|_| KeyError::NotHex)?
    } else {
        STANDARD
            .decode(text)
            .map_err(|_| KeyError::NotHexNorBase64)?
    };
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::NotEd25519Length)?;
    let key =
        ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotEd25519Point)?;
    if key.is_weak() {
        return Err(KeyError::WeakEd25519);
    }
    Ok(key)
}

/// The base64 of a key given as PEM (its `-----` lines dropped) or as bare base64, with
/// every space and line break taken out.
pub(crate) fn pem_body(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_ascii_whitespace())
        .collect()
}

/// A P-256 public key: base64 of its DER SubjectPublicKeyInfo (SendGrid's "verification
/// key"), the same as PEM, or base64 of a SEC1 point.
pub fn p256_public(text: &str) -> Result<p256::ecdsa::VerifyingKey, KeyError> {
    use p256::pkcs8::DecodePublicKey;
    let der = STANDARD
        .decode(pem_body(text))
        .map_err(|_| KeyError::NotBase64OrPem)?;
    p256::ecdsa::VerifyingKey::from_public_key_der(&der)
        .or_else(|_| p256::ecdsa::VerifyingKey::from_sec1_bytes(&der))
        .map_err(|_| KeyError::NotP256)
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The index of the first secret that verifies one of the offered signatures.
///
/// Every secret is tried against every offered signature (no early exit), so the time taken
/// does not depend on which shared secret matched or how much of a MAC was right.
pub(crate) fn matching_secret(
    secrets: &[Secret],
    pieces: &[&[u8]],
    offered: &[OfferedSig],
) -> Option<usize> {
    let signed = ToVerify::new(pieces, offered);
    first_match(secrets.iter().map(|s| s.verifies(&signed)))
}

/// The position of the first `true`, every item evaluated: no early exit, so which secret
/// matched shows in nothing timed (`stream.rs` uses it for its MAC states too).
pub(crate) fn first_match(results: impl IntoIterator<Item = bool>) -> Option<usize> {
    results
        .into_iter()
        .enumerate()
        .fold(None, |found, (i, hit)| found.or(hit.then_some(i)))
}

#[cfg(test)]
mod tests;
