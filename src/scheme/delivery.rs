//! What a delivery is beyond its signed content: the method its sender uses, the path it was
//! sent to, and whether it is the sender's verification challenge rather than a delivery.
//!
//! A signature covers the body (and for a few senders the URL), almost never the method or
//! the path. Without these rules a copy of a signed body sent as `OPTIONS`, `HEAD` or `GET`,
//! or to a path below the endpoint's, is verified, claimed and forwarded; the receiver's
//! framework answers it 2xx without the webhook handler (Express, Flask, Spring and Django
//! answer `OPTIONS` themselves), the claim is committed, and the sender's real `POST` is then
//! answered as a duplicate and never processed.

use crate::request::headers::{CapturedHeaders, HeaderRef, Lookup};
use crate::scheme::template::METHOD;

/// A request method an endpoint may accept. `HEAD`, `OPTIONS`, `TRACE` and `CONNECT` are no
/// sender's: frameworks answer `HEAD` and `OPTIONS` themselves, without the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Patch,
    Delete,
    Get,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Get,
    ];

    /// What the configuration error lists.
    pub(crate) const NAMES: &'static str = "\"POST\", \"PUT\", \"PATCH\", \"DELETE\" or \"GET\"";

    pub fn name(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Get => "GET",
        }
    }

    /// The method of `:method`, byte for byte: methods are case-sensitive (RFC 9110 9.1), and
    /// `HEAD` is not `GET` (frameworks route one to the other, and answer it without a body).
    pub fn parse(raw: &[u8]) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name().as_bytes() == raw)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Methods(u8);

impl Methods {
    /// What every sender uses, unless the preset table says otherwise.
    pub const POST: Methods = Methods(1);

    pub fn of(list: &[Method]) -> Methods {
        Methods(list.iter().fold(0, |acc, m| acc | m.bit()))
    }

    pub fn contains(self, m: Method) -> bool {
        self.0 & m.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn with(self, m: Method) -> Methods {
        Methods(self.0 | m.bit())
    }

    /// The methods, in a fixed order (`POST` first).
    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }
}

/// The largest body a body-borne challenge is looked for in. Slack's, Zoom's and Discord's
/// challenges are a few hundred bytes; a larger body is a delivery, and is never parsed for
/// this (it would cost a parse per delivery).
pub(crate) const MAX_CHALLENGE_BODY_BYTES: usize = 8 * 1024;

/// A value a body-borne challenge carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyValue {
    Str(&'static str),
    /// One of these integers (Discord's PINGs: `1` for interactions, `0` for Webhook Events).
    Ints(&'static [u64]),
    /// Any string (Twitch's `challenge`).
    AnyStr,
}

/// How a sender's verification challenge (sent when a webhook is set up, or again later) is
/// told from its deliveries. A challenge is verified like a delivery, then forwarded without
/// a claim: never deduplicated, so each new challenge reaches the receiver, and never able
/// to mark a delivery processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// A request of `method` carrying `header` (Okta: `GET` with
    /// `x-okta-verification-challenge`). That method is accepted for the challenge only.
    MethodHeader { method: Method, header: HeaderRef },
    /// `header` is `value`, and the verified body has the string field `body_string`
    /// (Twitch: `Twitch-Eventsub-Message-Type: webhook_callback_verification` and
    /// `/challenge`). The header is not signed: without the body's field, a copy of a
    /// notification relabelled as a challenge would be forwarded unclaimed, as often as sent.
    HeaderValue {
        header: HeaderRef,
        value: &'static str,
        body_string: &'static str,
    },
    /// The JSON body's value at `pointer` is `value`, and nothing is at `absent`: Slack's
    /// `type: url_verification`, Zoom's `event: endpoint.url_validation`, Discord's PINGs
    /// (`type` 1 or 0 with no `event`: a Webhook Event is `type` 1 with one). Only looked
    /// for once the signature held, and in a body of at most `MAX_CHALLENGE_BODY_BYTES`.
    Body {
        pointer: &'static str,
        value: BodyValue,
        absent: Option<&'static str>,
    },
}

impl Challenge {
    /// The headers recognising it reads (`:method` included), to capture with the others.
    pub fn wanted_headers(&self) -> Vec<String> {
        match self {
            Challenge::MethodHeader { header, .. } => {
                let mut names = header.names.clone();
                names.push(METHOD.to_string());
                names
            }
            Challenge::HeaderValue { header, .. } => header.names.clone(),
            Challenge::Body { .. } => Vec::new(),
        }
    }

    pub(crate) fn reads_body(&self) -> bool {
        matches!(self, Challenge::Body { .. } | Challenge::HeaderValue { .. })
    }

    /// Whether a request whose signature held is this challenge. `body`: `None` when it was
    /// hashed as it came and not kept (`crate::verify::stream`), where a body challenge is never
    /// recognised (`BodyMac::start` keeps the body where that matters).
    pub(crate) fn recognises(&self, headers: &CapturedHeaders, body: Option<&[u8]>) -> bool {
        match self {
            Challenge::MethodHeader { method, header } => {
                headers.get(&HeaderRef::new(&[METHOD])) == Lookup::One(method.name().as_bytes())
                    && headers.get(header) != Lookup::Absent
            }
            Challenge::HeaderValue {
                header,
                value,
                body_string,
            } => {
                headers.get(header) == Lookup::One(value.as_bytes())
                    && body.is_some_and(|b| body_has(b, body_string, BodyValue::AnyStr, None))
            }
            Challenge::Body {
                pointer,
                value,
                absent,
            } => body.is_some_and(|b| body_has(b, pointer, *value, *absent)),
        }
    }
}

fn body_has(body: &[u8], pointer: &str, value: BodyValue, absent: Option<&str>) -> bool {
    if body.len() > MAX_CHALLENGE_BODY_BYTES {
        return false;
    }
    // Most bodies are deliveries: a string challenge's text (or the field's name) must
    // appear as it is (senders do not escape plain ASCII) before the body is parsed for it.
    let text = match value {
        BodyValue::Str(text) => text,
        _ => pointer.rsplit('/').next().unwrap_or_default(),
    };
    if text.is_empty() || !body.windows(text.len()).any(|w| w == text.as_bytes()) {
        return false;
    }
    // The same strict parser as every other read of a body: a repeated key is no challenge
    // (the receiver might read the other one).
    let Some(json) = crate::payload::json::parse_bounded(body, crate::payload::json::MAX_DEPTH)
    else {
        return false;
    };
    if absent.is_some_and(|a| json.pointer(a).is_some()) {
        return false;
    }
    match (json.pointer(pointer), value) {
        (Some(serde_json::Value::String(s)), BodyValue::Str(want)) => s == want,
        (Some(n @ serde_json::Value::Number(_)), BodyValue::Ints(want)) => {
            n.as_u64().is_some_and(|n| want.contains(&n))
        }
        (Some(serde_json::Value::String(_)), BodyValue::AnyStr) => true,
        _ => false,
    }
}

/// Whether a request of method `raw` may go on to be verified, before its body is read: one
/// of the endpoint's `methods`, or the method of its sender's challenge with the challenge's
/// header (`has` tells whether the request carries a header).
pub(crate) fn method_allowed(
    methods: Methods,
    challenge: Option<&Challenge>,
    raw: &[u8],
    has: impl Fn(&HeaderRef) -> bool,
) -> bool {
    let Some(m) = Method::parse(raw) else {
        return false;
    };
    if methods.contains(m) {
        return true;
    }
    matches!(challenge, Some(Challenge::MethodHeader { method, header }) if *method == m && has(header))
}

/// Headers through which receivers' frameworks route a `POST` as another method: Symfony
/// and Laravel read `X-HTTP-Method-Override` by default, Rack's `MethodOverride` and
/// Express's `method-override` when installed. A copy of a delivery carrying one would reach
/// the handler of that method (or the framework's own `OPTIONS` answer), as a copy sent with
/// the method would. No sender sends them.
const OVERRIDE_HEADERS: [&[u8]; 3] = [
    b"x-http-method-override",
    b"x-http-method",
    b"x-method-override",
];

/// Headers with which a request asks the receiver to take it for another path: IIS's URL
/// Rewrite, Zend Framework and Symfony before CVE-2018-14773 route by them. A copy of a
/// delivery carrying one would reach another handler (`/health`, a framework's own `2xx`)
/// and, answered `2xx`, commit the delivery. No sender sends them.
const PATH_OVERRIDE_HEADERS: [&[u8]; 2] = [b"x-original-url", b"x-rewrite-url"];

/// Whether `name` is one of `list`, in any letter case, `_` for `-` (as CGI and WSGI read
/// names).
fn named(list: &[&[u8]], name: &[u8]) -> bool {
    list.iter().any(|o| {
        o.len() == name.len()
            && o.iter()
                .zip(name)
                .all(|(&o, &n)| n.to_ascii_lowercase() == o || (n == b'_' && o == b'-'))
    })
}

/// Whether a request asks the receiver to take it for another path (`PATH_OVERRIDE_HEADERS`).
pub(crate) fn overrides_path<'a>(mut names: impl Iterator<Item = &'a [u8]>) -> bool {
    names.any(|n| named(&PATH_OVERRIDE_HEADERS, n))
}

/// Whether a request asks the receiver to take it for another method: one of
/// `OVERRIDE_HEADERS` (`_` for `-`, as CGI and WSGI read names), or a `_method` query
/// parameter (Laravel takes it on a `POST`) however PHP would read its name back
/// (percent-escapes, `+`, `.` and spaces for `_`, an `[...]` suffix, any case).
pub fn overrides_method<'a>(names: impl IntoIterator<Item = &'a [u8]>, path: &[u8]) -> bool {
    if names.into_iter().any(|n| named(&OVERRIDE_HEADERS, n)) {
        return true;
    }
    let Some(q) = path.iter().position(|&b| b == b'?') else {
        return false;
    };
    let query = &path[q + 1..];
    let query = match query.iter().position(|&b| b == b'#') {
        Some(end) => &query[..end],
        None => query,
    };
    query
        .split(|&b| b == b'&' || b == b';')
        .any(|param| php_name(param.split(|&b| b == b'=').next().unwrap_or_default()) == b"_method")
}

/// A query parameter's name as PHP reads it back, lowercased.
fn php_name(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = match raw[i] {
            b'%' => match (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    i += 2;
                    // Both digits are below 16.
                    (h * 16 + l) as u8
                }
                _ => b'%',
            },
            b'+' => b' ',
            other => other,
        };
        i += 1;
        decoded.push(b);
    }
    // As PHP registers a variable: leading spaces dropped, the name ends at a NUL (C
    // strings) or at `[`, and the spaces and dots left in it become `_`.
    let start = decoded
        .iter()
        .position(|&b| b != b' ')
        .unwrap_or(decoded.len());
    decoded[start..]
        .iter()
        .take_while(|&&b| b != 0 && b != b'[')
        .map(|&b| match b {
            b' ' | b'.' => b'_',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

/// The `Allow` header of a `405`: the endpoint's methods and its challenge's.
pub(crate) fn allow_header(methods: Methods, challenge: Option<&Challenge>) -> String {
    let all = match challenge {
        Some(Challenge::MethodHeader { method, .. }) => methods.with(*method),
        _ => methods,
    };
    all.iter().map(Method::name).collect::<Vec<_>>().join(", ")
}

/// Where below its endpoint's prefix a request was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Below {
    /// The endpoint's own path (`/hooks/github`, or with a trailing `/`).
    Exact,
    /// A path below it, as lenient receivers route it (`crate::request::path::canonical` segments
    /// past the prefix's: `/hooks/github/Org;x` is `["org"]`).
    Path(Vec<String>),
    /// Another spelling of the endpoint's own path (`/hooks/github/;x`,
    /// `/hooks/github/%2e%2e/github`): a lenient receiver serves it as the endpoint's path,
    /// a strict one as a path below it, so it can be keyed as neither safely.
    Ambiguous,
}

/// Where below the endpoint's prefix `path` is. The query is not part of it: receivers
/// route without it, so a copy with a query added reaches the same handler as the delivery
/// and must stay a duplicate of it.
pub(crate) fn below_prefix(path_prefix: &str, canonical_prefix: &[String], path: &[u8]) -> Below {
    let bare = match path.iter().position(|&b| b == b'?' || b == b'#') {
        Some(end) => &path[..end],
        None => path,
    };
    // The common case, with no work: the sender's own URL.
    let prefix = path_prefix.as_bytes();
    if bare == prefix || bare.strip_suffix(b"/") == Some(prefix) {
        return Below::Exact;
    }
    let mut segments = crate::request::path::canonical(bare);
    if segments.len() <= canonical_prefix.len() {
        return Below::Ambiguous;
    }
    segments.drain(..canonical_prefix.len());
    Below::Path(segments)
}

#[cfg(test)]
mod tests;
