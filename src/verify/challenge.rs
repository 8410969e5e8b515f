//! Where a verified request is its sender's verification challenge (the rules are the
//! scheme's: `crate::scheme::delivery::Challenge`).

use crate::config::Endpoint;
use crate::request::headers::CapturedHeaders;
use crate::scheme::delivery::{Challenge, MAX_CHALLENGE_BODY_BYTES};

/// Whether a request whose signature (and header timestamp) held is its endpoint's
/// challenge: then it is forwarded unclaimed, and the payload rules of the deliveries (schema,
/// key) are not applied to it. Looked for only where that changes anything (the endpoint
/// deduplicates or has a schema), so no other endpoint pays for a parse.
pub(crate) fn is_challenge(ep: &Endpoint, headers: &CapturedHeaders, body: Option<&[u8]>) -> bool {
    (ep.idempotency_key.is_some() || ep.schema.is_some())
        && ep
            .scheme
            .challenge
            .as_ref()
            .is_some_and(|c| c.recognises(headers, body))
}

/// Whether the glue must read a body that was hashed as it came, to look for a challenge
/// in it: only a small one, and only where a challenge would change anything.
pub(crate) fn challenge_body_wanted(ep: &Endpoint, body_size: usize) -> bool {
    body_size <= MAX_CHALLENGE_BODY_BYTES
        && ep.idempotency_key.is_some()
        && ep
            .scheme
            .challenge
            .as_ref()
            .is_some_and(Challenge::reads_body)
}
