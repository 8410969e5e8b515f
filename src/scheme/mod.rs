//! How a sender signs and dates its deliveries: the scheme (the `custom` fields), its parts
//! (signature formats, signed-content templates, timestamps, what a delivery is) and the
//! named presets.

pub mod delivery;
pub mod presets;
pub mod signature;
pub mod template;
pub mod timestamp;

use crate::dedupe::key::KeySource;
use crate::keys::SecretEncoding;
use crate::request::headers::HeaderRef;
use delivery::{Challenge, Methods};
use signature::{Algorithm, SignatureFormat};
use template::Template;
use timestamp::{TimestampFormat, TimestampSource, Window};

/// Where a delivery's signatures are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureSource {
    /// Every one of these headers that is present (DocuSign sends one per key:
    /// `X-DocuSign-Signature-1`, `-2`, ...); each entry is looked up by its first present
    /// alias (`webhook-signature`, then `svix-signature`).
    Headers(Vec<HeaderRef>),
    /// A string field of the JSON body (Mailgun's `/signature/signature`).
    Body(String),
}

/// How one sender signs and dates its deliveries.
#[derive(Debug, Clone)]
pub struct Scheme {
    pub algorithm: Algorithm,
    pub signature: SignatureSource,
    pub format: SignatureFormat,
    pub signed_content: Template,
    pub timestamp: TimestampSource,
    pub timestamp_format: TimestampFormat,
    pub window: Window,
    pub secret_encoding: SecretEncoding,
    /// The idempotency key used when the endpoint names none.
    pub default_key: Option<KeySource>,
    /// The sender's delivery id header when the signature does not cover it: logged with a
    /// refusal for correlation, never used as a key.
    pub delivery_id: Option<HeaderRef>,
    /// The endpoint's `public_url` (`https://hooks.example.com`), for `{url}`; empty if none.
    pub public_url: String,
    /// The methods the sender delivers with (`crate::scheme::delivery`): `POST` for every preset;
    /// an endpoint's `methods` overrides it (Twilio and Zendesk can be set to others).
    pub methods: Methods,
    /// How the sender's verification challenge is recognised, if it sends one: forwarded,
    /// never deduplicated (docs/configuration.md, "Presets").
    pub challenge: Option<Challenge>,
}

/// Why a scheme cannot verify what it must: the field (a `custom` field name) that breaks a
/// rule, and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SchemeError {
    pub field: &'static str,
    pub reason: &'static str,
}

impl Scheme {
    /// The rules every scheme obeys, preset or custom: what the signature must cover. A
    /// configuration's overrides are checked by it (`crate::config`), and every preset by
    /// its tests.
    pub fn check(&self) -> Result<(), SchemeError> {
        if self.signature == SignatureSource::Headers(Vec::new()) {
            return Err(SchemeError {
                field: "signature_header",
                reason: "required with preset custom (or signature_field)",
            });
        }
        // What the signature must cover.
        match &self.signature {
            SignatureSource::Body(_)
                if self
                    .signed_content
                    .parts
                    .contains(&crate::scheme::template::Part::Body) =>
            {
                return Err(SchemeError {
                    field: "signed_content",
                    reason: "cannot contain {body}: the body holds the signature",
                })
            }
            SignatureSource::Headers(_)
                if self.algorithm != Algorithm::Token && !self.signed_content.covers_body() =>
            {
                return Err(SchemeError {
                    field: "signed_content",
                    reason: "must contain {body} (or {form_params})",
                })
            }
            _ => {}
        }
        if self.signed_content.uses_timestamp() {
            match self.timestamp {
                TimestampSource::Header(_) | TimestampSource::SignatureHeader => {}
                _ => {
                    return Err(SchemeError {
                        field: "signed_content",
                        reason: "uses {timestamp}, which needs a timestamp read from a header",
                    })
                }
            }
        }
        // A timestamp outside the signed bytes could be rewritten on a captured delivery to
        // pass the window forever; a body timestamp is covered by the body's MAC already (or,
        // Mailgun, by its own {json:...} part).
        let header_timestamp = matches!(
            self.timestamp,
            TimestampSource::Header(_) | TimestampSource::SignatureHeader
        );
        if header_timestamp && !self.signed_content.uses_timestamp() {
            return Err(SchemeError { field: "timestamp", reason: "a timestamp read from a header must be signed: add {timestamp} to signed_content" });
        }
        if let (TimestampSource::Body(p), SignatureSource::Body(_)) =
            (&self.timestamp, &self.signature)
        {
            if !self
                .signed_content
                .parts
                .contains(&crate::scheme::template::Part::Json(p.clone()))
            {
                return Err(SchemeError {
                    field: "timestamp",
                    reason: "must be signed: add {json:POINTER} of it to signed_content",
                });
            }
        }
        if self.timestamp == TimestampSource::SignatureHeader
            && self.format.timestamp_item.is_none()
        {
            return Err(SchemeError {
                field: "timestamp",
                reason: "this signature header carries no timestamp item",
            });
        }
        if self.algorithm == Algorithm::Token && self.timestamp != TimestampSource::None {
            return Err(SchemeError {
                field: "timestamp",
                reason: "a shared token signs nothing, so a timestamp beside it protects nothing",
            });
        }
        Ok(())
    }
}
