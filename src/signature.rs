//! Signature headers, signed-content templates, and the check of offered signatures against
//! the configured keys.
//!
//! Every MAC is compared as decoded bytes with `subtle`, never as text: case, padding and
//! encoding differences cannot make a valid signature fail, and timing reveals nothing.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::headers::{CapturedHeaders, HeaderRef, Lookup};
use crate::secrets::{Secret, ToVerify};

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
pub const MAX_PUBLIC_KEY_CHECKS: usize = 4;
/// Most public keys per endpoint (a rotation needs two), so that the pairs stay within
/// `MAX_PUBLIC_KEY_CHECKS` however many signatures up to the cap a delivery offers: the
/// bound is enforced when the configuration loads, never by refusing a live delivery.
pub const MAX_PUBLIC_KEYS: usize = MAX_PUBLIC_KEY_CHECKS / MAX_PUBLIC_KEY_SIGNATURES;
/// Longest decoded signature or token accepted (an ECDSA DER signature is at most 72 bytes,
/// a shared token at most a secret's 1024).
pub const MAX_SIGNATURE_BYTES: usize = 1024;

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
    pub const NAMES: &'static str =
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
    pub fn accepts_len(self, len: usize) -> bool {
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
    pub fn parse_into(
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

/// One piece of the signed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Body,
    /// The timestamp exactly as it was received (header text or Stripe's `t`).
    Timestamp,
    Header(HeaderRef),
    Literal(Vec<u8>),
    /// The request method (`POST`): HubSpot.
    Method,
    /// `public_url` followed by the request's path and query as received: Square, Twilio.
    Url,
    /// The same with HubSpot's reserved characters percent-decoded (`%3A` -> `:`, ...).
    UrlDecoded,
    /// Twilio: the form parameters sorted by name then value, each name then value, no
    /// separators. When the URL's query carries `bodySHA256` (Twilio's JSON bodies) it is
    /// nothing, and the body's SHA-256 must equal that parameter instead.
    FormParams,
    /// The text of a string (or number) field of the JSON body: Mailgun's `timestamp` and
    /// `token`, signed where the signature itself is a body field.
    Json(String),
}

/// The pseudo-headers Envoy passes to the filter, read like any header.
pub const METHOD: &str = ":method";
pub const PATH: &str = ":path";

/// What was signed, e.g. `v0:{timestamp}:{body}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

/// What a template reads from one request.
pub struct Request<'a> {
    pub body: &'a [u8],
    pub timestamp: &'a [u8],
    pub headers: &'a CapturedHeaders,
    /// The endpoint's `public_url` (scheme, host, port), empty when it has none.
    pub public_url: &'a str,
}

/// Why the signed content could not be rebuilt.
#[derive(Debug, PartialEq, Eq)]
pub enum RenderError {
    /// A header or body field it names is absent, repeated or not text.
    Missing,
    /// Twilio's `bodySHA256` does not match the body.
    BodyDigest,
}

impl Template {
    /// Parses `{body}`, `{timestamp}`, `{header:NAME}`, `{method}`, `{url}`,
    /// `{url_decoded}`, `{form_params}`, `{json:/pointer}` and literal text. Which parts a
    /// scheme must contain is the configuration's rule (it depends on where the signature is).
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest
                        .find('}')
                        .ok_or_else(|| "has a '{' without '}'".to_string())?;
                    let name = &rest[1..end];
                    parts.push(match name {
                        "body" => Part::Body,
                        "timestamp" => Part::Timestamp,
                        "method" => Part::Method,
                        "url" => Part::Url,
                        "url_decoded" => Part::UrlDecoded,
                        "form_params" => Part::FormParams,
                        _ => match (name.strip_prefix("header:"), name.strip_prefix("json:")) {
                            (Some(h), _) if valid_header_name(h) => {
                                Part::Header(HeaderRef::new(&[h]))
                            }
                            (_, Some(p)) if p.starts_with('/') => Part::Json(p.to_string()),
                            _ => return Err(format!("has an unknown placeholder {{{name}}}")),
                        },
                    });
                    rest = &rest[end + 1..];
                }
                Some(i) => {
                    parts.push(Part::Literal(rest.as_bytes()[..i].to_vec()));
                    rest = &rest[i..];
                }
                None => {
                    parts.push(Part::Literal(rest.as_bytes().to_vec()));
                    rest = "";
                }
            }
        }
        if parts.is_empty() {
            return Err("is empty".to_string());
        }
        Ok(Template { parts })
    }

    pub fn uses_timestamp(&self) -> bool {
        self.parts.contains(&Part::Timestamp)
    }

    /// Whether the body's bytes are covered: as they are, or as Twilio's form parameters
    /// (or `bodySHA256`).
    pub fn covers_body(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Body | Part::FormParams))
    }

    pub fn uses_url(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Url | Part::UrlDecoded | Part::FormParams))
    }

    pub fn uses_json(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Json(_)))
    }

    /// The headers it reads, pseudo-headers included.
    pub fn headers(&self) -> impl Iterator<Item = &HeaderRef> {
        self.parts.iter().filter_map(|p| match p {
            Part::Header(h) => Some(h),
            _ => None,
        })
    }

    /// Lowercase names of every header rendering needs (`:method`, `:path` included).
    pub fn wanted_headers(&self) -> Vec<String> {
        let mut names: Vec<String> = self.headers().flat_map(|h| h.names.clone()).collect();
        if self.parts.contains(&Part::Method) {
            names.push(METHOD.to_string());
        }
        if self.uses_url() {
            names.push(PATH.to_string());
        }
        names
    }

    /// The byte slices to sign, in order, borrowed where they can be.
    /// `body` must have passed `parse_bounded` when the template has `{json:...}` parts.
    pub fn render<'a>(&'a self, r: &Request<'a>) -> Result<Vec<Cow<'a, [u8]>>, RenderError> {
        let one = |h: &HeaderRef| match r.headers.get(h) {
            Lookup::One(v) => Ok(v),
            _ => Err(RenderError::Missing),
        };
        let path = || one(&HeaderRef::new(&[PATH]));
        let mut out: Vec<Cow<'a, [u8]>> = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            match part {
                Part::Body => out.push(Cow::Borrowed(r.body)),
                Part::Timestamp => out.push(Cow::Borrowed(r.timestamp)),
                Part::Literal(l) => out.push(Cow::Borrowed(l.as_slice())),
                Part::Header(h) => out.push(Cow::Borrowed(one(h)?)),
                Part::Method => out.push(Cow::Borrowed(one(&HeaderRef::new(&[METHOD]))?)),
                Part::Url => {
                    out.push(Cow::Borrowed(r.public_url.as_bytes()));
                    out.push(Cow::Borrowed(path()?));
                }
                Part::UrlDecoded => {
                    let path = path()?;
                    // HubSpot signs the path decoded: "/a%2Fb" and "/a/b", "/h%3Fq=1" and
                    // "/h?q=1" would sign alike while the receiver routes them apart.
                    if path_hides_separators(path) {
                        return Err(RenderError::Missing);
                    }
                    out.push(Cow::Borrowed(r.public_url.as_bytes()));
                    out.push(Cow::Owned(hubspot_decode(path)));
                }
                Part::FormParams => match query_param(path()?, b"bodySHA256") {
                    Some(expected) => {
                        let digest = Sha256::digest(r.body);
                        let given = hex::decode(expected).map_err(|_| RenderError::BodyDigest)?;
                        if !bool::from(digest.as_slice().ct_eq(&given)) {
                            return Err(RenderError::BodyDigest);
                        }
                    }
                    None => {
                        for (name, value) in sorted_form(r.body).ok_or(RenderError::Missing)? {
                            out.push(Cow::Owned(name));
                            out.push(Cow::Owned(value));
                        }
                    }
                },
                Part::Json(pointer) => {
                    let raw = crate::json::raw_at(r.body, pointer).ok_or(RenderError::Missing)?;
                    out.push(Cow::Owned(json_text(raw).ok_or(RenderError::Missing)?));
                }
            }
        }
        Ok(out)
    }
}

/// A JSON string's decoded text, or a number's text as written.
pub fn json_text(raw: &[u8]) -> Option<Vec<u8>> {
    match raw.first()? {
        b'"' => serde_json::from_slice::<String>(raw)
            .ok()
            .map(String::into_bytes),
        b'-' | b'0'..=b'9' => Some(raw.to_vec()),
        _ => None,
    }
}

/// The reserved characters HubSpot decodes in the request URI before signing (v3).
const HUBSPOT_DECODED: [(&[u8; 2], u8); 12] = [
    (b"3A", b':'),
    (b"2F", b'/'),
    (b"3F", b'?'),
    (b"40", b'@'),
    (b"21", b'!'),
    (b"24", b'$'),
    (b"27", b'\''),
    (b"28", b'('),
    (b"29", b')'),
    (b"2A", b'*'),
    (b"2C", b','),
    (b"3B", b';'),
];

/// Whether the path part (before the first `?`) holds an escaped `/` or `?`.
fn path_hides_separators(path: &[u8]) -> bool {
    let end = path.iter().position(|&b| b == b'?').unwrap_or(path.len());
    path[..end].windows(3).any(|w| {
        w[0] == b'%' && (w[1..].eq_ignore_ascii_case(b"2f") || w[1..].eq_ignore_ascii_case(b"3f"))
    })
}

fn hubspot_decode(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'%' {
            if let Some(code) = path.get(i + 1..i + 3) {
                let upper = [code[0].to_ascii_uppercase(), code[1].to_ascii_uppercase()];
                if let Some((_, c)) = HUBSPOT_DECODED.iter().find(|(k, _)| **k == upper) {
                    out.push(*c);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(path[i]);
        i += 1;
    }
    out
}

/// The value of query parameter `name` in a request path, undecoded; the first one.
pub fn query_param<'a>(path: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let q = path.iter().position(|&b| b == b'?')?;
    path[q + 1..].split(|&b| b == b'&').find_map(|pair| {
        let (k, v) = split_pair(pair);
        (k == name).then_some(v)
    })
}

fn split_pair(pair: &[u8]) -> (&[u8], &[u8]) {
    match pair.iter().position(|&b| b == b'=') {
        Some(eq) => (&pair[..eq], &pair[eq + 1..]),
        None => (pair, &[]),
    }
}

/// `application/x-www-form-urlencoded` pairs, decoded (`+` is a space, `%XX` a byte; a `%`
/// not followed by two hex digits stays as it is, as Twilio's own SDKs read it), sorted by
/// name then value.
pub fn sorted_form(body: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    // Decoded and sorted before any MAC is checked: bounded, so that an unsigned body of
    // `a&a&a...` cannot cost the VM seconds and hundreds of MB (Twilio sends a few dozen).
    if body.split(|&b| b == b'&').filter(|p| !p.is_empty()).count() > MAX_FORM_PARAMS {
        return None;
    }
    let mut pairs = Vec::new();
    for p in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        // Twilio sends every parameter as name=value, and its signature does not cover where
        // one ends: "Body=Hell&oTo=x" signs as "Body=Hello&To=x" would without a "=" check.
        if !p.contains(&b'=') {
            return None;
        }
        let (k, v) = split_pair(p);
        pairs.push((form_decode(k), form_decode(v)));
    }
    pairs.sort();
    Some(pairs)
}

/// Form parameters a `{form_params}` body may have.
pub const MAX_FORM_PARAMS: usize = 512;

fn form_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Two hex digits exactly: from_str_radix alone takes "+A" as 10, and "%+A"
                // would sign as "%0A" (a newline) while the receiver reads the text "%+A".
                let byte = text
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = byte {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

pub fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b))
}

/// HMAC-SHA256 of the concatenated pieces (tests, benchmarks, documented vectors).
pub fn hmac_sha256(key: &[u8], pieces: &[&[u8]]) -> [u8; 32] {
    // new_from_slice accepts keys of any length for HMAC; the Err arm cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    for piece in pieces {
        mac.update(piece);
    }
    mac.finalize().into_bytes().into()
}

/// The index of the first secret that verifies one of the offered signatures.
///
/// Every secret is tried against every offered signature (no early exit), so the time taken
/// does not depend on which shared secret matched or how much of a MAC was right.
pub fn matching_secret(
    secrets: &[Secret],
    pieces: &[&[u8]],
    offered: &[OfferedSig],
) -> Option<usize> {
    let signed = ToVerify::new(pieces, offered);
    first_match(secrets.iter().map(|s| s.verifies(&signed)))
}

/// The position of the first `true`, every item evaluated: no early exit, so which secret
/// matched shows in nothing timed (`stream.rs` uses it for its MAC states too).
pub fn first_match(results: impl IntoIterator<Item = bool>) -> Option<usize> {
    results
        .into_iter()
        .enumerate()
        .fold(None, |found, (i, hit)| found.or(hit.then_some(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(id: &str, key: &[u8]) -> Secret {
        Secret::new(id.to_string(), key.to_vec())
    }

    fn github() -> SignatureFormat {
        SignatureFormat::single("sha256=", Encoding::Hex)
    }

    fn stripe() -> SignatureFormat {
        SignatureFormat {
            timestamp_item: Some("t=".into()),
            ..SignatureFormat::list(b',', "v1=", Encoding::Hex)
        }
    }

    fn standard() -> SignatureFormat {
        SignatureFormat {
            ed25519_prefix: Some("v1a,".into()),
            ..SignatureFormat::list(b' ', "v1,", Encoding::Base64)
        }
    }

    const SHA256: Algorithm = Algorithm::HmacSha256;

    #[test]
    fn github_documented_vector() {
        let mac = hmac_sha256(b"It's a Secret to Everybody", &[b"Hello, World!"]);
        assert_eq!(
            hex::encode(mac),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        let header = b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let offered = github().parse(header, SHA256).unwrap();
        let secrets = [secret("s", b"It's a Secret to Everybody")];
        assert_eq!(
            matching_secret(&secrets, &[b"Hello, World!"], &offered.sigs),
            Some(0)
        );
        assert_eq!(
            matching_secret(&secrets, &[b"Hello, World?"], &offered.sigs),
            None
        );
    }

    #[test]
    fn genesys_base64_vector_and_uppercase_hex() {
        let format = SignatureFormat::single("sha256=", Encoding::Base64);
        let offered = format
            .parse(
                b"sha256=dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc=",
                SHA256,
            )
            .unwrap();
        let secrets = [secret("s", b"It's a Secret to Everybody")];
        assert_eq!(
            matching_secret(&secrets, &[b"Hello, World!"], &offered.sigs),
            Some(0)
        );
        let upper = b"sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17";
        assert!(github().parse(upper, SHA256).is_ok());
    }

    #[test]
    fn rotation_reports_the_matching_secret() {
        let key_old = b"old-secret-0123456789";
        let key_new = b"new-secret-0123456789";
        let mac = hmac_sha256(key_old, &[b"body"]);
        let secrets = [secret("current", key_new), secret("previous", key_old)];
        let offered = [OfferedSig {
            bytes: mac.to_vec(),
            kind: SigKind::Any,
        }];
        assert_eq!(matching_secret(&secrets, &[b"body"], &offered), Some(1));
    }

    #[test]
    fn malformed_headers_are_errors_not_panics() {
        let bad: [&[u8]; 9] = [
            b"",
            b"sha256=",
            b"sha256=zz",
            b"sha256=757107ea",
            b"sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            b"\xff\xfe\xfd",
            b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
            b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17aa",
            b"sha256= 757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ];
        for raw in bad {
            assert_eq!(github().parse(raw, SHA256), Err(Malformed), "{raw:?}");
        }
        let b64 = SignatureFormat::single("", Encoding::Base64);
        for raw in [
            &b"abc"[..],
            b"====",
            b"dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPh",
        ] {
            assert_eq!(b64.parse(raw, SHA256), Err(Malformed));
        }
        // The length is the algorithm's: a SHA-256 MAC is not a SHA-1 one, nor SHA-512.
        let mac = hex::encode([1u8; 32]);
        let sha1 = SignatureFormat::single("sha1=", Encoding::Hex);
        assert!(sha1
            .parse(format!("sha1={mac}").as_bytes(), Algorithm::HmacSha1)
            .is_err());
        assert!(sha1
            .parse(
                format!("sha1={}", &mac[..40]).as_bytes(),
                Algorithm::HmacSha1
            )
            .is_ok());
        let sha512 = format!("{mac}{mac}");
        assert!(SignatureFormat::single("", Encoding::Hex)
            .parse(sha512.as_bytes(), Algorithm::HmacSha512)
            .is_ok());
        // A token is its bytes, whatever they are; an oversized one is refused.
        let token = SignatureFormat::single("", Encoding::Text);
        assert_eq!(
            token.parse(b" tok en ", Algorithm::Token).unwrap().sigs[0].bytes,
            b"tok en"
        );
        assert!(token
            .parse(&[b'a'; MAX_SIGNATURE_BYTES + 1], Algorithm::Token)
            .is_err());
    }

    #[test]
    fn list_headers_stripe_paddle_pagerduty() {
        let mac = hex::encode([7u8; 32]);
        let ok = format!("t=1492774577,v1={mac},v0=ignored,v1={mac}");
        let offered = stripe().parse(ok.as_bytes(), SHA256).unwrap();
        assert_eq!(offered.sigs.len(), 2);
        assert_eq!(offered.timestamp.as_deref(), Some(&b"1492774577"[..]));
        // Whitespace around items, a trailing separator: read as the senders' SDKs do.
        let spaced = format!(" t=1 , v1={mac} ,");
        assert!(stripe().parse(spaced.as_bytes(), SHA256).is_ok());
        for bad in [
            format!("v1={mac}"),
            "t=1".to_string(),
            format!("t=1,t=2,v1={mac}"),
            format!("t=1,v1={mac}x"),
            format!("t=1,v1={mac},junk"),
            "t=1,v1".to_string(),
            String::new(),
            format!(
                "t=1,{}",
                vec![format!("v1={mac}"); MAX_SIGNATURES + 1].join(",")
            ),
        ] {
            assert_eq!(
                stripe().parse(bad.as_bytes(), SHA256),
                Err(Malformed),
                "{bad}"
            );
        }
        let paddle = SignatureFormat {
            timestamp_item: Some("ts=".into()),
            ..SignatureFormat::list(b';', "h1=", Encoding::Hex)
        };
        let p = format!("ts=1671552777;h1={mac};h1={mac}");
        assert_eq!(paddle.parse(p.as_bytes(), SHA256).unwrap().sigs.len(), 2);
        // Stripe's separator is not Paddle's: one item `ts=..,h1=..` is a bad timestamp.
        let q = format!("ts=1671552777,h1={mac}");
        assert_eq!(paddle.parse(q.as_bytes(), SHA256), Err(Malformed));
        let pagerduty = SignatureFormat::list(b',', "v1=", Encoding::Hex);
        let v = format!("v1={mac},v1={}", hex::encode([8u8; 32]));
        assert_eq!(pagerduty.parse(v.as_bytes(), SHA256).unwrap().sigs.len(), 2);
        assert!(pagerduty.parse(b"v2=abc", SHA256).is_err());
    }

    #[test]
    fn standard_webhooks_header_parsing() {
        let ed = STANDARD.encode([9u8; 64]);
        let ok = format!("v1a,{ed} v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v2,abc");
        let offered = standard().parse(ok.as_bytes(), SHA256).unwrap();
        assert_eq!(offered.sigs.len(), 2);
        assert_eq!(offered.sigs[0].kind, SigKind::Ed25519);
        assert_eq!(offered.sigs[1].kind, SigKind::Mac);
        // Three Ed25519 signatures: more public-key work than any rotation needs.
        let three = format!("v1a,{ed} v1a,{ed} v1a,{ed}");
        assert_eq!(standard().parse(three.as_bytes(), SHA256), Err(Malformed));
        let two = format!("v1a,{ed} v1a,{ed} v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(
            standard().parse(two.as_bytes(), SHA256).unwrap().sigs.len(),
            3
        );
        for bad in [
            &b""[..],
            b"v1a,xyz",
            b"v1,",
            b"v1,abc",
            b"nocomma",
            b"v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ] {
            assert_eq!(standard().parse(bad, SHA256), Err(Malformed), "{bad:?}");
        }
    }

    #[test]
    fn templates() {
        let t = Template::parse("v0:{timestamp}:{body}").unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Literal(b"v0:".to_vec()),
                Part::Timestamp,
                Part::Literal(b":".to_vec()),
                Part::Body
            ]
        );
        assert!(t.uses_timestamp() && t.covers_body() && !t.uses_url());
        let h = Template::parse("{header:Webhook-Id}.{body}").unwrap();
        assert_eq!(
            h.headers().next().unwrap().names,
            vec!["webhook-id".to_string()]
        );
        let all = Template::parse("{method}{url}{url_decoded}{form_params}{json:/a/b}").unwrap();
        assert!(all.uses_url() && all.uses_json() && all.covers_body());
        assert_eq!(all.wanted_headers(), vec![":method", ":path"]);
        for bad in [
            "",
            "{body",
            "{nope}{body}",
            "{header:}{body}",
            "{header:a b}{body}",
            "{json:a}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    fn render(
        t: &str,
        body: &[u8],
        headers: &[(&str, &[u8])],
        url: &str,
    ) -> Result<Vec<u8>, RenderError> {
        let t = Template::parse(t).unwrap();
        let wanted = t.wanted_headers();
        let captured = CapturedHeaders::capture(headers.iter().copied(), &wanted);
        let r = Request {
            body,
            timestamp: b"",
            headers: &captured,
            public_url: url,
        };
        t.render(&r).map(|p| p.concat())
    }

    #[test]
    fn form_parameters_sorted_and_decoded_as_twilio_does() {
        let body = b"To=%2B15558675310&Body=Hello+there&From=%2B15017122661&Body=Abc&Flag=&Bad=%zz";
        let out = render("{form_params}", body, &[(":path", b"/sms")], "").unwrap();
        assert_eq!(
            out,
            b"Bad%zzBodyAbcBodyHello thereFlagFrom+15017122661To+15558675310"
        );
        // Empty body: nothing but the URL.
        let out = render(
            "{url}{form_params}",
            b"",
            &[(":path", b"/x?a=1")],
            "https://h.example",
        )
        .unwrap();
        assert_eq!(out, b"https://h.example/x?a=1");
    }

    #[test]
    fn body_sha256_replaces_the_form_for_json_bodies() {
        let body = br#"{"a":1}"#;
        let digest = hex::encode(Sha256::digest(body));
        let path = format!("/x?bodySHA256={digest}");
        let ok = render(
            "{url}{form_params}",
            body,
            &[(":path", path.as_bytes())],
            "https://h.example",
        )
        .unwrap();
        assert_eq!(ok, format!("https://h.example{path}").as_bytes());
        let other = render(
            "{url}{form_params}",
            br#"{"a":2}"#,
            &[(":path", path.as_bytes())],
            "https://h.example",
        );
        assert_eq!(other, Err(RenderError::BodyDigest));
        let garbage = render("{form_params}", body, &[(":path", b"/x?bodySHA256=zz")], "");
        assert_eq!(garbage, Err(RenderError::BodyDigest));
    }

    #[test]
    fn hubspot_decodes_only_its_reserved_characters() {
        let out = render(
            "{method}{url_decoded}",
            b"",
            &[
                (":method", b"POST"),
                (
                    ":path",
                    b"/h?a=%3a%2F%3F%40%21%24%27%28%29%2A%2C%3B&b=%20%41%",
                ),
            ],
            "https://h.example",
        )
        .unwrap();
        assert_eq!(out, b"POSThttps://h.example/h?a=:/?@!$'()*,;&b=%20%41%");
        let missing = render("{method}{body}", b"", &[], "");
        assert_eq!(missing, Err(RenderError::Missing));
    }

    #[test]
    fn hubspot_refuses_paths_that_decode_to_other_routes() {
        for path in [
            &b"/h%2Fhooks?tenant=1"[..],
            b"/h/hooks%3Ftenant=1",
            b"/h%2fhooks%3ftenant=1",
        ] {
            let out = render(
                "{method}{url_decoded}",
                b"",
                &[(":method", b"POST"), (":path", path)],
                "https://h.example",
            );
            assert_eq!(out, Err(RenderError::Missing), "{path:?}");
        }
        // In the query, escaped separators are data, as HubSpot signs them.
        let ok = render(
            "{url_decoded}",
            b"",
            &[(":path", b"/h?next=%2Fa%3Fb")],
            "https://h",
        );
        assert_eq!(ok.unwrap(), b"https://h/h?next=/a?b");
    }

    #[test]
    fn form_parameters_sign_what_the_receiver_reads() {
        // "%+A" is "%", a space, "A" for every form decoder (unquote_plus, Rack, PHP), not a
        // newline.
        assert_eq!(
            sorted_form(b"Body=a%+Ab&To=%2B1").unwrap(),
            vec![
                (b"Body".to_vec(), b"a% Ab".to_vec()),
                (b"To".to_vec(), b"+1".to_vec())
            ]
        );
        // A parameter without "=" could move the boundary between two others.
        assert_eq!(sorted_form(b"Body=Hell&oTo"), None);
        assert_eq!(sorted_form(b"Amount100&To=x"), None);
        // Bounded before any MAC is checked.
        let many = b"a=1&".repeat(MAX_FORM_PARAMS + 1);
        assert_eq!(sorted_form(&many), None);
        assert_eq!(
            sorted_form(&many[..4 * MAX_FORM_PARAMS]).map(|p| p.len()),
            Some(MAX_FORM_PARAMS)
        );
    }

    #[test]
    fn json_fields_are_their_text() {
        let body = br#"{"s":{"timestamp":"1700000000","token":"ab\u0063","n":5}}"#;
        let out = render(
            "{json:/s/timestamp}{json:/s/token}{json:/s/n}",
            body,
            &[],
            "",
        )
        .unwrap();
        assert_eq!(out, b"1700000000abc5");
        for missing in ["{json:/s/none}", "{json:/s}"] {
            assert_eq!(
                render(missing, body, &[], ""),
                Err(RenderError::Missing),
                "{missing}"
            );
        }
    }
}
