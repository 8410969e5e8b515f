//! Verifying a body as it arrives: for an endpoint that never reads the body as JSON (no
//! schema, no JSON-pointer key, no timestamp or signature in the body), whose signature is
//! an HMAC from a header over the body between pieces the headers already fix (GitHub: the
//! body; Stripe: `{t}.` + body; Slack: `v0:{ts}:` + body). Then each configured secret's
//! HMAC, and the digest that `signed_content` keys on, are updated chunk by chunk as Envoy
//! hands the body over, and the body is never copied whole into the VM. The verdict is the
//! one `verify::verify` gives on the whole body: same checks, same order, same answers (the
//! tests hold them equal).
//!
//! Host-free: the glue feeds the chunks (`BodyMac::update`) and asks for the verdict
//! (`BodyMac::finish`).

use sha2::{Digest, Sha256};

use crate::answer::Reject;
use crate::config::Endpoint;
use crate::dedupe::key::{hash_key, signed_content_key, KeySource};
use crate::keys::first_match;
use crate::keys::MacState;
use crate::request::headers::CapturedHeaders;
use crate::scheme::template::{Part, Request};
use crate::scheme::SignatureSource;
use crate::verify::{check_header_timestamp, offered_signatures, raw_timestamp, Verified};

/// Each secret's HMAC (and the signed content's digest) over what arrived so far.
pub(crate) struct BodyMac {
    /// One per configured secret, in order.
    macs: Vec<MacState>,
    /// SHA-256 of the signed content, when the key is `signed_content`.
    digest: Option<Sha256>,
    /// The signed pieces after the body (a literal or a header), fed at the end.
    suffix: Vec<Vec<u8>>,
    /// Body bytes fed so far.
    fed: usize,
}

impl std::fmt::Debug for BodyMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // MAC states are derived from the secrets: never printed.
        f.debug_struct("BodyMac").field("fed", &self.fed).finish()
    }
}

impl BodyMac {
    /// Starts the MACs at the headers, or `None` when the endpoint needs the body whole (it
    /// reads it as JSON, signs the URL, form or a body field, or a key is not an HMAC key) or
    /// when a header check already fails (then the whole-body path finds and answers it, in
    /// its order).
    /// `now` reads the clock (a host call: only once the endpoint is known to stream).
    pub fn start(
        ep: &Endpoint,
        headers: &CapturedHeaders,
        now: impl FnOnce() -> i64,
    ) -> Option<BodyMac> {
        let scheme = &ep.scheme;
        if ep.needs_json || !matches!(scheme.signature, SignatureSource::Headers(_)) {
            return None;
        }
        // Only parts that render to exactly one piece each, none of them from the body.
        let parts = &scheme.signed_content.parts;
        let streamable = |p: &Part| {
            matches!(
                p,
                Part::Body | Part::Timestamp | Part::Literal(_) | Part::Header(_) | Part::Method
            )
        };
        if !parts.iter().all(streamable) || parts.iter().filter(|p| **p == Part::Body).count() != 1
        {
            return None;
        }
        let body_at = parts.iter().position(|p| *p == Part::Body)?;
        let macs: Vec<MacState> = ep
            .secrets
            .iter()
            .map(|s| s.mac_state())
            .collect::<Option<_>>()?;
        // A header-borne signature does not read the body.
        let offered = offered_signatures(scheme, headers, b"").ok()?;
        let ts = raw_timestamp(scheme, headers, &offered).ok()?;
        // A stale delivery is answered without hashing its body (verify's order).
        check_header_timestamp(scheme, ts, now).ok()?;
        let request = Request {
            body: b"",
            timestamp: ts.unwrap_or_default(),
            headers,
            public_url: &scheme.public_url,
        };
        let pieces = scheme.signed_content.render(&request).ok()?;
        if pieces.len() != parts.len() {
            return None;
        }
        let (prefix, rest) = pieces.split_at(body_at);
        let suffix = rest.iter().skip(1).map(|p| p.to_vec()).collect();
        let mut state = BodyMac {
            macs,
            digest: matches!(ep.idempotency_key, Some(KeySource::SignedContent)).then(Sha256::new),
            suffix,
            fed: 0,
        };
        for piece in prefix {
            state.feed(piece);
        }
        state.fed = 0;
        Some(state)
    }

    fn feed(&mut self, bytes: &[u8]) {
        for mac in &mut self.macs {
            mac.update(bytes);
        }
        if let Some(d) = self.digest.as_mut() {
            d.update(bytes);
        }
    }

    /// Body bytes fed so far: the next chunk starts here.
    pub(crate) fn fed(&self) -> usize {
        self.fed
    }

    /// The next body bytes.
    pub fn update(&mut self, chunk: &[u8]) {
        self.feed(chunk);
        self.fed = self.fed.saturating_add(chunk.len());
    }

    #[cfg(test)]
    /// The verdict once the whole body was fed.
    pub fn finish(
        self,
        ep: &Endpoint,
        headers: &CapturedHeaders,
        now_unix: i64,
    ) -> Result<Verified, Reject> {
        self.finish_seeing(ep, headers, None, now_unix)
    }

    /// The same, given the body when a challenge may be told by it
    /// (`crate::verify::challenge::challenge_body_wanted`: a small body of such an endpoint), so that
    /// the endpoint still streams its deliveries.
    pub(crate) fn finish_seeing(
        self,
        ep: &Endpoint,
        headers: &CapturedHeaders,
        body: Option<&[u8]>,
        now_unix: i64,
    ) -> Result<Verified, Reject> {
        let scheme = &ep.scheme;
        // Checked at `start` already (it gave no state otherwise); read again so this
        // function holds no state borrowed from the headers.
        let offered = offered_signatures(scheme, headers, b"")?;
        let ts = raw_timestamp(scheme, headers, &offered)?;
        let BodyMac {
            macs,
            digest,
            suffix,
            ..
        } = self;
        check_header_timestamp(scheme, ts, || now_unix)?;
        let suffix: Vec<&[u8]> = suffix.iter().map(Vec::as_slice).collect();
        let index = first_match(macs.into_iter().map(|m| m.verifies(&suffix, &offered.sigs)))
            .ok_or(Reject::InvalidSignature)?;
        if crate::verify::challenge::is_challenge(ep, headers, body) {
            return Ok(Verified::new(ep, index, None));
        }
        let idempotency_key = match &ep.idempotency_key {
            None => None,
            Some(KeySource::SignedContent) => {
                let mut d = digest.ok_or(Reject::MissingIdempotencyKey)?;
                for piece in &suffix {
                    d.update(piece);
                }
                Some(hash_key(&ep.name, &signed_content_key(&d.finalize())))
            }
            Some(source) => {
                let key = source
                    .extract(b"", headers, &[])
                    .ok_or(Reject::MissingIdempotencyKey)?;
                Some(hash_key(&ep.name, &key))
            }
        };
        Ok(Verified::new(ep, index, idempotency_key))
    }
}

#[cfg(test)]
mod tests;
