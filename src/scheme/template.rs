//! Signed-content templates: what a sender signs (`v0:{timestamp}:{body}`, a URL and its
//! form parameters, a body field), rebuilt from one request.

use std::borrow::Cow;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::request::headers::{CapturedHeaders, HeaderRef, Lookup};
use crate::scheme::signature::valid_header_name;

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
pub(crate) const METHOD: &str = ":method";
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

/// Why a `signed_content` template cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("has a '{{' without '}}'")]
    Unclosed,
    /// The configuration's own text (a placeholder's name), never a request's.
    #[error("has an unknown placeholder {{{0}}}")]
    UnknownPlaceholder(String),
    #[error("is empty")]
    Empty,
}

impl Template {
    /// Parses `{body}`, `{timestamp}`, `{header:NAME}`, `{method}`, `{url}`,
    /// `{url_decoded}`, `{form_params}`, `{json:/pointer}` and literal text. Which parts a
    /// scheme must contain is the configuration's rule (it depends on where the signature is).
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest.find('}').ok_or(TemplateError::Unclosed)?;
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
                            _ => return Err(TemplateError::UnknownPlaceholder(name.to_string())),
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
            return Err(TemplateError::Empty);
        }
        Ok(Template { parts })
    }

    pub(crate) fn uses_timestamp(&self) -> bool {
        self.parts.contains(&Part::Timestamp)
    }

    /// Whether the body's bytes are covered: as they are, or as Twilio's form parameters
    /// (or `bodySHA256`).
    pub(crate) fn covers_body(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Body | Part::FormParams))
    }

    pub(crate) fn uses_url(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Url | Part::UrlDecoded | Part::FormParams))
    }

    pub(crate) fn uses_json(&self) -> bool {
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
                    let raw = crate::payload::json::raw_at(r.body, pointer)
                        .ok_or(RenderError::Missing)?;
                    out.push(Cow::Owned(json_text(raw).ok_or(RenderError::Missing)?));
                }
            }
        }
        Ok(out)
    }
}

/// A JSON string's decoded text, or a number's text as written.
pub(crate) fn json_text(raw: &[u8]) -> Option<Vec<u8>> {
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
pub(crate) const MAX_FORM_PARAMS: usize = 512;

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
