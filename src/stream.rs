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
use crate::headers::CapturedHeaders;
use crate::idempotency::{hash_key, signed_content_key, KeySource};
use crate::presets::SignatureSource;
use crate::secrets::MacState;
use crate::signature::{first_match, Part, Request};
use crate::verify::{check_header_timestamp, offered_signatures, raw_timestamp, Verified};

/// Each secret's HMAC (and the signed content's digest) over what arrived so far.
pub struct BodyMac {
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
    pub fn fed(&self) -> usize {
        self.fed
    }

    /// The next body bytes.
    pub fn update(&mut self, chunk: &[u8]) {
        self.feed(chunk);
        self.fed = self.fed.saturating_add(chunk.len());
    }

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
    /// (`crate::delivery::challenge_body_wanted`: a small body of such an endpoint), so that
    /// the endpoint still streams its deliveries.
    pub fn finish_seeing(
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
        if crate::delivery::is_challenge(ep, headers, body) {
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
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::verify::verify;

    /// A small deterministic generator (xorshift), so failures replay.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    const SECRET: &str = "stream-secret-0123456789";
    const OTHER: &str = "stream-other-secret-0123";
    const NOW: i64 = 1_700_000_000;

    /// Standard Webhooks' secrets are `whsec_` + base64.
    fn secrets(preset: &str) -> (&'static str, &'static str) {
        if preset == "standard-webhooks" {
            (
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "whsec_c3RyZWFtLW90aGVyLXNlY3JldC0wMTIz",
            )
        } else {
            (SECRET, OTHER)
        }
    }

    fn config(preset: &str, extra: &str) -> Config {
        let (secret, other) = secrets(preset);
        let json = format!(
            r#"{{"idempotency":{{"cluster":"c"}},"endpoints":[{{"name":"ep","path_prefix":"/h","preset":"{preset}",
              "secrets":[{{"id":"old","value":"{other}"}},{{"id":"new","value":"{secret}"}}]{extra}}}]}}"#
        );
        match Config::parse(json.as_bytes(), &|_| None) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    /// The streamed verdict over `chunks`, or `None` when the endpoint is not streamed.
    fn streamed(
        ep: &Endpoint,
        headers: &CapturedHeaders,
        body: &[u8],
        rng: &mut Rng,
    ) -> Option<Result<Verified, Reject>> {
        let mut s = BodyMac::start(ep, headers, || NOW)?;
        let mut at = 0;
        while at < body.len() {
            let n = 1 + rng.below(body.len() - at);
            s.update(&body[at..at + n]);
            at += n;
        }
        assert_eq!(s.fed(), body.len());
        Some(s.finish(ep, headers, NOW))
    }

    #[test]
    fn the_streamed_verdict_is_the_whole_bodys_for_every_streamable_preset() {
        let mut rng = Rng(0x9e3779b97f4a7c15);
        let cases: [(&str, &str, bool); 17] = [
            ("github", "", true),
            ("bitbucket", "", true),
            ("intercom", "", false),
            ("pagerduty", "", false),
            ("typeform", "", false),
            ("docusign", "", true),
            ("zoom", "", true),
            ("calendly", "", true),
            (
                "custom",
                r#","algorithm":"hmac-sha512","signature_header":"x-sig","encoding":"hex","signed_content":"{body}","idempotency_key":"signed_content""#,
                true,
            ),
            // Not an HMAC over the body, or keyed on a JSON field: the whole-body path.
            ("gitlab", "", false),
            ("shopify", "", true),
            ("slack", "", true),
            ("standard-webhooks", "", true),
            ("github", r#","idempotency_key":null"#, true),
            (
                "custom",
                r#","signature_header":"x-sig","encoding":"hex","signed_content":"a{header:x-a}{body}z{header:x-z}.","idempotency_key":"signed_content""#,
                true,
            ),
            // JSON needed: the whole body, as before.
            ("stripe", "", false),
            ("genesys-open-messaging", "", false),
        ];
        for (preset, extra, streams) in cases {
            let c = config(preset, extra);
            let ep = &c.endpoints[0];
            for round in 0..40 {
                let len = [0, 1, 63, 64, 65, 1000, 5000][round % 7] + rng.below(3);
                let body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                let (secret, other) = secrets(preset);
                let secret = if round % 3 == 0 { other } else { secret };
                let key = ep.scheme.secret_encoding.decode(secret).unwrap();
                let ts = NOW.to_string();
                // Every `{header:..}` piece is signed with (and sent as) the id.
                let mut signed = crate::sign::sign(&ep.scheme, &key, &body, &ts, "msg_1");
                match round % 5 {
                    // Tampered body.
                    1 if !body.is_empty() => {}
                    // A stale timestamp, a signature of the wrong length, none at all.
                    2 => signed.retain(|(n, _)| !n.contains("timestamp")),
                    3 => {
                        for (_, v) in signed.iter_mut() {
                            v.push('0');
                        }
                    }
                    4 => signed.clear(),
                    _ => {}
                }
                let headers = CapturedHeaders::capture(
                    signed.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
                    &ep.wanted_headers,
                );
                let mut body = body;
                if round % 5 == 1 && !body.is_empty() {
                    body[0] ^= 1;
                }
                let whole = verify(ep, &headers, &body, NOW);
                match streamed(ep, &headers, &body, &mut rng) {
                    Some(v) => {
                        assert!(streams, "{preset} must not stream");
                        assert_eq!(v, whole, "{preset} round {round}");
                    }
                    None => assert!(
                        !streams || whole.is_err(),
                        "{preset} round {round}: not streamed, yet {whole:?}"
                    ),
                }
                if streams && round % 5 == 0 {
                    assert!(whole.is_ok(), "{preset} round {round}: {whole:?}");
                }
            }
        }
    }

    #[test]
    fn the_streamed_signed_content_key_is_the_whole_bodys() {
        let c = config("github", "");
        let ep = &c.endpoints[0];
        let body = b"{\"zen\":\"Keep it logically awesome.\"}".repeat(100);
        let key = ep.scheme.secret_encoding.decode(SECRET).unwrap();
        let signed = crate::sign::sign(&ep.scheme, &key, &body, "", "");
        let headers = CapturedHeaders::capture(
            signed.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
            &ep.wanted_headers,
        );
        let whole = verify(ep, &headers, &body, NOW).unwrap();
        assert!(whole.idempotency_key.is_some());
        let mut s = BodyMac::start(ep, &headers, || NOW).unwrap();
        for chunk in body.chunks(7) {
            s.update(chunk);
        }
        assert_eq!(s.finish(ep, &headers, NOW), Ok(whole));
    }

    #[test]
    fn a_stale_delivery_is_answered_without_hashing_its_body() {
        let c = config("slack", "");
        let ep = &c.endpoints[0];
        let key = ep.scheme.secret_encoding.decode(SECRET).unwrap();
        let body = b"token=x&team_id=T1";
        let capture = |ts: i64| {
            let signed = crate::sign::sign(&ep.scheme, &key, body, &ts.to_string(), "");
            CapturedHeaders::capture(
                signed.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
                &ep.wanted_headers,
            )
        };
        // Stale at the headers: no MAC state is started, and the whole-body path answers
        // it before any key is tried.
        let stale = capture(NOW - 301);
        assert!(BodyMac::start(ep, &stale, || NOW).is_none());
        assert_eq!(verify(ep, &stale, body, NOW), Err(Reject::StaleTimestamp));
        let fresh = capture(NOW);
        let mut s = BodyMac::start(ep, &fresh, || NOW).unwrap();
        s.update(body);
        // Stale by the end (a slow body): still the timestamp's answer, before the MACs'.
        assert_eq!(s.finish(ep, &fresh, NOW + 301), Err(Reject::StaleTimestamp));
        // An endpoint without a window never reads the clock.
        let g = config("github", "");
        let ep = &g.endpoints[0];
        let key = ep.scheme.secret_encoding.decode(SECRET).unwrap();
        let signed = crate::sign::sign(&ep.scheme, &key, body, "", "");
        let h = CapturedHeaders::capture(
            signed.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
            &ep.wanted_headers,
        );
        let clock_read = std::cell::Cell::new(false);
        assert!(BodyMac::start(ep, &h, || {
            clock_read.set(true);
            NOW
        })
        .is_some());
        assert!(!clock_read.get());
    }
}
