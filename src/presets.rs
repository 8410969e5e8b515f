//! The named signature schemes (README, "Presets"). Each preset is nothing but a set of the
//! `custom` fields, so any of them can be overridden per endpoint.

use crate::headers::HeaderRef;
use crate::idempotency::KeySource;
use crate::secrets::SecretEncoding;
use crate::signature::{Encoding, SignatureFormat, Template};
use crate::timestamp::{TimestampFormat, TimestampSource, Window};

/// How one sender signs and dates its deliveries.
#[derive(Debug, Clone)]
pub struct Scheme {
    pub signature_header: HeaderRef,
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
}

pub const PRESET_NAMES: [&str; 8] = [
    "genesys-open-messaging",
    "genesys-signature-header",
    "github",
    "stripe",
    "slack",
    "standard-webhooks",
    "shopify",
    "custom",
];

/// Default replay window: 5 minutes back, 1 minute ahead (clock skew).
const WINDOW_5M: Window = Window {
    max_age_seconds: 300,
    max_future_seconds: 60,
};

fn template(text: &str) -> Template {
    // The preset templates are literals known to parse; an empty template would be a bug
    // caught by the unit tests below, never by a request.
    Template::parse(text).unwrap_or(Template { parts: Vec::new() })
}

fn prefixed(prefix: &str, encoding: Encoding) -> SignatureFormat {
    SignatureFormat::Prefixed {
        prefix: prefix.to_string(),
        encoding,
    }
}

/// The scheme of a preset; `custom` starts from an unsigned-content `{body}` scheme with no
/// header, which the endpoint's fields must complete.
pub fn preset(name: &str) -> Option<Scheme> {
    let raw_body = || template("{body}");
    let scheme = match name {
        "genesys-open-messaging" => Scheme {
            signature_header: HeaderRef::new(&["x-hub-signature-256"]),
            format: prefixed("sha256=", Encoding::Base64),
            signed_content: raw_body(),
            timestamp: TimestampSource::Body("/channel/time".into()),
            timestamp_format: TimestampFormat::Rfc3339,
            window: Window {
                max_age_seconds: 600,
                max_future_seconds: 60,
            },
            secret_encoding: SecretEncoding::Utf8,
            default_key: Some(KeySource::Pointer("/id".into())),
            delivery_id: None,
        },
        "genesys-signature-header" => Scheme {
            signature_header: HeaderRef::new(&["x-genesys-signature"]),
            format: prefixed("", Encoding::Hex),
            signed_content: raw_body(),
            timestamp: TimestampSource::Body("/timestamp".into()),
            timestamp_format: TimestampFormat::Rfc3339,
            window: WINDOW_5M,
            secret_encoding: SecretEncoding::Utf8,
            default_key: Some(KeySource::GenesysTutorial),
            delivery_id: None,
        },
        "github" => Scheme {
            signature_header: HeaderRef::new(&["x-hub-signature-256"]),
            format: prefixed("sha256=", Encoding::Hex),
            signed_content: raw_body(),
            timestamp: TimestampSource::None,
            timestamp_format: TimestampFormat::Unix,
            window: WINDOW_5M,
            secret_encoding: SecretEncoding::Utf8,
            // X-GitHub-Delivery is not signed: keyed on the signed body instead.
            default_key: Some(KeySource::SignedContent),
            delivery_id: Some(HeaderRef::new(&["x-github-delivery"])),
        },
        "stripe" => Scheme {
            signature_header: HeaderRef::new(&["stripe-signature"]),
            format: SignatureFormat::Stripe,
            signed_content: template("{timestamp}.{body}"),
            timestamp: TimestampSource::SignatureHeader,
            timestamp_format: TimestampFormat::Unix,
            window: WINDOW_5M,
            secret_encoding: SecretEncoding::Utf8,
            default_key: Some(KeySource::Pointer("/id".into())),
            delivery_id: None,
        },
        "slack" => Scheme {
            signature_header: HeaderRef::new(&["x-slack-signature"]),
            format: prefixed("v0=", Encoding::Hex),
            signed_content: template("v0:{timestamp}:{body}"),
            timestamp: TimestampSource::Header(HeaderRef::new(&["x-slack-request-timestamp"])),
            timestamp_format: TimestampFormat::Unix,
            window: WINDOW_5M,
            secret_encoding: SecretEncoding::Utf8,
            default_key: None,
            delivery_id: None,
        },
        "standard-webhooks" => {
            let mut signed = template("{header:webhook-id}.{timestamp}.{body}");
            // Senders built on Svix use the same scheme under svix-* names.
            for part in &mut signed.parts {
                if let crate::signature::Part::Header(h) = part {
                    *h = HeaderRef::new(&["webhook-id", "svix-id"]);
                }
            }
            Scheme {
                signature_header: HeaderRef::new(&["webhook-signature", "svix-signature"]),
                format: SignatureFormat::StandardWebhooks,
                signed_content: signed,
                timestamp: TimestampSource::Header(HeaderRef::new(&[
                    "webhook-timestamp",
                    "svix-timestamp",
                ])),
                timestamp_format: TimestampFormat::Unix,
                window: Window {
                    max_age_seconds: 300,
                    max_future_seconds: 300,
                },
                secret_encoding: SecretEncoding::Whsec,
                // webhook-id is part of the signed content: safe to key on.
                default_key: Some(KeySource::Header(HeaderRef::new(&[
                    "webhook-id",
                    "svix-id",
                ]))),
                delivery_id: None,
            }
        }
        "shopify" => Scheme {
            signature_header: HeaderRef::new(&["x-shopify-hmac-sha256"]),
            format: prefixed("", Encoding::Base64),
            signed_content: raw_body(),
            timestamp: TimestampSource::None,
            timestamp_format: TimestampFormat::Unix,
            window: WINDOW_5M,
            secret_encoding: SecretEncoding::Utf8,
            // X-Shopify-Event-Id is not signed: keyed on the signed body instead.
            default_key: Some(KeySource::SignedContent),
            delivery_id: Some(HeaderRef::new(&["x-shopify-event-id"])),
        },
        "custom" => Scheme {
            signature_header: HeaderRef { names: Vec::new() },
            format: prefixed("", Encoding::Hex),
            signed_content: raw_body(),
            timestamp: TimestampSource::None,
            timestamp_format: TimestampFormat::Unix,
            window: WINDOW_5M,
            secret_encoding: SecretEncoding::Utf8,
            default_key: None,
            delivery_id: None,
        },
        _ => return None,
    };
    Some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_preset_exists_and_signs_the_body() {
        for name in PRESET_NAMES {
            let s = preset(name).unwrap();
            assert!(
                s.signed_content
                    .parts
                    .contains(&crate::signature::Part::Body),
                "{name}"
            );
        }
        assert!(preset("gitlab").is_none());
    }

    #[test]
    fn every_default_key_is_covered_by_the_signature() {
        for name in PRESET_NAMES {
            let s = preset(name).unwrap();
            if let Some(KeySource::Header(h)) = &s.default_key {
                assert!(s.signed_content.headers().any(|x| x == h), "{name}");
            }
        }
    }
}
