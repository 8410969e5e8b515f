//! Every answer the filter gives instead of forwarding: one place for the status, the
//! error code and the body, so answers, logs and counters never drift apart.
//!
//! Status codes follow Genesys' retry rules: 429 and 5xx are retried (5 tries, 5 s apart),
//! other 4xx are not. A duplicate is answered 200 so a sender never fails a conversation over it.
//!
//! The checks answer in the order of `REFUSALS` (docs/answers.md): the path (404, 400),
//! the source IP (403), the method (405 with `Allow`: after the source IP, so a source
//! outside the allowlist learns no more than that the endpoint exists; before the body is
//! buffered and before any claim, so a copy of a delivery sent with another method never
//! reaches the receiver nor marks the delivery processed), the size (413), the signature and
//! timestamp (401), the payload and key (400), then the claim (200 duplicate, 429, 503).

/// Why a delivery does not reach the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    UnknownEndpoint,
    /// A spelling of the path that a receiver would route to another endpoint than its exact
    /// form matches (`crate::config::Route::Ambiguous`).
    AmbiguousPath,
    SourceIpDenied,
    /// A method the endpoint's sender does not deliver with (`crate::scheme::delivery`); `allow` is
    /// the `Allow` header (the endpoint's methods).
    MethodNotAllowed {
        allow: String,
    },
    BodyTooLarge,
    MissingSignature,
    MalformedSignature,
    InvalidSignature,
    MissingTimestamp,
    StaleTimestamp,
    InvalidJson,
    /// `at` is the JSON pointer of the failing value: never the value itself.
    SchemaViolation {
        at: String,
    },
    MissingIdempotencyKey,
    /// The delivery was already processed: answered 200 so the sender stops retrying.
    Duplicate,
    /// The same delivery is being processed right now: the sender should retry later.
    InFlight,
    IdempotencyUnavailable,
}

/// Every reason a delivery can be refused for, in the answer table's order (a duplicate is
/// answered, not refused).
pub(crate) const REFUSALS: [Reject; 15] = [
    Reject::UnknownEndpoint,
    Reject::AmbiguousPath,
    Reject::SourceIpDenied,
    Reject::MethodNotAllowed {
        allow: String::new(),
    },
    Reject::BodyTooLarge,
    Reject::MissingSignature,
    Reject::MalformedSignature,
    Reject::InvalidSignature,
    Reject::MissingTimestamp,
    Reject::StaleTimestamp,
    Reject::InvalidJson,
    Reject::SchemaViolation { at: String::new() },
    Reject::MissingIdempotencyKey,
    Reject::InFlight,
    Reject::IdempotencyUnavailable,
];

/// Seconds a sender should wait before retrying an answer that asks for a retry.
/// Genesys retries 5 s apart whatever it is told; other senders honour the header.
const RETRY_AFTER_SECONDS: &str = "5";

/// Longest `at` pointer put in an answer.
pub(crate) const MAX_POINTER_BYTES: usize = 256;

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Reject {
    pub fn status(&self) -> u32 {
        match self {
            Reject::UnknownEndpoint => 404,
            Reject::AmbiguousPath => 400,
            Reject::SourceIpDenied => 403,
            Reject::MethodNotAllowed { .. } => 405,
            Reject::BodyTooLarge => 413,
            Reject::MissingSignature
            | Reject::MalformedSignature
            | Reject::InvalidSignature
            | Reject::MissingTimestamp
            | Reject::StaleTimestamp => 401,
            Reject::InvalidJson
            | Reject::SchemaViolation { .. }
            | Reject::MissingIdempotencyKey => 400,
            Reject::Duplicate => 200,
            Reject::InFlight => 429,
            Reject::IdempotencyUnavailable => 503,
        }
    }

    /// The stable, documented reason code (also the metric label and the log's `reason`).
    pub fn code(&self) -> &'static str {
        match self {
            Reject::UnknownEndpoint => "unknown_endpoint",
            Reject::AmbiguousPath => "ambiguous_path",
            Reject::SourceIpDenied => "source_ip_denied",
            Reject::MethodNotAllowed { .. } => "method_not_allowed",
            Reject::BodyTooLarge => "body_too_large",
            Reject::MissingSignature => "missing_signature",
            Reject::MalformedSignature => "malformed_signature",
            Reject::InvalidSignature => "invalid_signature",
            Reject::MissingTimestamp => "missing_timestamp",
            Reject::StaleTimestamp => "stale_timestamp",
            Reject::InvalidJson => "invalid_json",
            Reject::SchemaViolation { .. } => "schema_violation",
            Reject::MissingIdempotencyKey => "missing_idempotency_key",
            Reject::Duplicate => "duplicate",
            Reject::InFlight => "in_flight",
            Reject::IdempotencyUnavailable => "idempotency_unavailable",
        }
    }

    pub(crate) fn retry_after(&self) -> Option<&'static str> {
        match self {
            Reject::InFlight | Reject::IdempotencyUnavailable => Some(RETRY_AFTER_SECONDS),
            _ => None,
        }
    }

    /// The `Allow` header a `405` must carry (RFC 9110 15.5.6).
    pub fn allow(&self) -> Option<&str> {
        match self {
            Reject::MethodNotAllowed { allow } => Some(allow),
            _ => None,
        }
    }

    /// The JSON body of the answer.
    pub fn body(&self) -> String {
        match self {
            Reject::Duplicate => r#"{"status":"duplicate"}"#.to_string(),
            Reject::SchemaViolation { at } => {
                // serde_json escapes the pointer; it names a location, never a value. Property
                // names are the sender's, so the pointer is cut at a sane length.
                let at = serde_json::Value::String(truncate(at, MAX_POINTER_BYTES).to_string());
                format!(r#"{{"error":"schema_violation","at":{at}}}"#)
            }
            other => format!(r#"{{"error":"{}"}}"#, other.code()),
        }
    }
}

#[cfg(test)]
mod tests;
