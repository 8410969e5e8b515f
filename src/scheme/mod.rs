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
    /// never deduplicated (README, "Presets").
    pub challenge: Option<Challenge>,
}
