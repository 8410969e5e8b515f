//! The named signature schemes (docs/configuration.md, "Presets"; a page each in docs/presets/). Each preset is nothing but a set of the
//! `custom` fields, so any of them can be overridden per endpoint. Every choice below (window,
//! default key) is in docs/configuration.md's preset table, with the sender's documentation it follows.

use crate::dedupe::key::KeySource;
use crate::keys::SecretEncoding;
use crate::request::headers::HeaderRef;
use crate::scheme::delivery::{BodyValue, Challenge, Method, Methods};
use crate::scheme::signature::Encoding::{self, Base64, Hex, Text};
use crate::scheme::signature::{Algorithm, SignatureFormat};
use crate::scheme::template::Template;
use crate::scheme::timestamp::{TimestampFormat, TimestampSource, Window};
use crate::scheme::{Scheme, SignatureSource};

/// One preset: its name (the `preset` field's value) and the scheme it stands for.
pub(crate) struct Preset {
    pub name: &'static str,
    pub scheme: fn() -> Scheme,
}

const fn entry(name: &'static str, scheme: fn() -> Scheme) -> Preset {
    Preset { name, scheme }
}

/// Every preset, `custom` last: the one list that lookups, the configuration's error for an
/// unknown name and the tests (which compare it with docs/configuration.md's table) read.
pub(crate) const PRESETS: [Preset; 28] = [
    entry("genesys-open-messaging", genesys_open_messaging),
    entry("genesys-signature-header", genesys_signature_header),
    entry("github", github),
    entry("stripe", stripe),
    entry("slack", slack),
    entry("standard-webhooks", standard_webhooks),
    entry("shopify", shopify),
    entry("gitlab", gitlab),
    entry("okta", okta),
    entry("bitbucket", bitbucket),
    entry("atlassian", atlassian),
    entry("intercom", intercom),
    entry("pagerduty", pagerduty),
    entry("typeform", typeform),
    entry("docusign", docusign),
    entry("paddle", paddle),
    entry("calendly", calendly),
    entry("zoom", zoom),
    entry("zendesk", zendesk),
    entry("twitch", twitch),
    entry("linear", linear),
    entry("square", square),
    entry("hubspot", hubspot),
    entry("twilio", twilio),
    entry("mailgun", mailgun),
    entry("discord", discord),
    entry("sendgrid", sendgrid),
    entry("custom", custom),
];

/// The names of `PRESETS`, in its order (for lists and error messages).
pub const PRESET_NAMES: [&str; PRESETS.len()] = {
    let mut names = [""; PRESETS.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = PRESETS[i].name;
        i += 1;
    }
    names
};

/// The scheme of a preset, `None` for a name that is none.
pub fn preset(name: &str) -> Option<Scheme> {
    PRESETS
        .iter()
        .find(|e| e.name == name)
        .map(|e| (e.scheme)())
}

/// Presets that sign the URL, so need the endpoint's `public_url`.
pub fn needs_public_url(s: &Scheme) -> bool {
    s.signed_content.uses_url()
}

/// Default replay window: 5 minutes back, 1 minute ahead (clock skew).
const WINDOW_5M: Window = window(300);

const fn window(max_age_seconds: u64) -> Window {
    Window {
        max_age_seconds,
        max_future_seconds: 60,
    }
}

// The helpers below are called by most of the 28 preset functions: `inline(never)` keeps one
// copy of each in the .wasm instead of 28 (about 0.3 % of its size).

#[inline(never)]
fn template(text: &str) -> Template {
    // The preset templates are literals known to parse; an empty template would be a bug
    // caught by the unit tests, never by a request.
    Template::parse(text).unwrap_or(Template { parts: Vec::new() })
}

#[inline(never)]
fn header(name: &str) -> SignatureSource {
    SignatureSource::Headers(vec![HeaderRef::new(&[name])])
}

#[inline(never)]
fn ts_header(name: &str) -> TimestampSource {
    TimestampSource::Header(HeaderRef::new(&[name]))
}

/// A scheme signing the raw body with HMAC-SHA256 in one header, no timestamp, keyed on the
/// signed content: the shape most presets start from.
#[inline(never)]
fn body_hmac(signature: &str, format: SignatureFormat) -> Scheme {
    Scheme {
        algorithm: Algorithm::HmacSha256,
        signature: header(signature),
        format,
        signed_content: template("{body}"),
        timestamp: TimestampSource::None,
        timestamp_format: TimestampFormat::Unix,
        window: WINDOW_5M,
        secret_encoding: SecretEncoding::Utf8,
        default_key: Some(KeySource::SignedContent),
        delivery_id: None,
        public_url: String::new(),
        methods: Methods::POST,
        challenge: None,
    }
}

/// A challenge told by a string of the verified JSON body.
#[inline(never)]
fn body_says(pointer: &'static str, value: &'static str) -> Option<Challenge> {
    Some(Challenge::Body {
        pointer,
        value: BodyValue::Str(value),
        absent: None,
    })
}

#[inline(never)]
fn single(prefix: &str, encoding: Encoding) -> SignatureFormat {
    SignatureFormat::single(prefix, encoding)
}

/// Signed `t=`/`ts=` item list headers (Stripe, Paddle, Calendly).
#[inline(never)]
fn dated_list(sep: u8, ts: &str, sig: &str) -> SignatureFormat {
    SignatureFormat {
        timestamp_item: Some(ts.to_string()),
        ..SignatureFormat::list(sep, sig, Encoding::Hex)
    }
}

// The senders' schemes, one function each, in the order of `PRESETS`.

fn genesys_open_messaging() -> Scheme {
    Scheme {
        timestamp: TimestampSource::Body("/channel/time".into()),
        timestamp_format: TimestampFormat::Rfc3339,
        window: window(600),
        default_key: Some(KeySource::Pointer("/id".into())),
        ..body_hmac("x-hub-signature-256", single("sha256=", Base64))
    }
}

fn genesys_signature_header() -> Scheme {
    Scheme {
        timestamp: TimestampSource::Body("/timestamp".into()),
        timestamp_format: TimestampFormat::Rfc3339,
        default_key: Some(KeySource::GenesysTutorial),
        ..body_hmac("x-genesys-signature", single("", Hex))
    }
}

/// X-GitHub-Delivery is not signed: keyed on the signed body instead.
fn github() -> Scheme {
    Scheme {
        delivery_id: Some(HeaderRef::new(&["x-github-delivery"])),
        ..body_hmac("x-hub-signature-256", single("sha256=", Hex))
    }
}

fn stripe() -> Scheme {
    Scheme {
        signed_content: template("{timestamp}.{body}"),
        timestamp: TimestampSource::SignatureHeader,
        default_key: Some(KeySource::Pointer("/id".into())),
        ..body_hmac("stripe-signature", dated_list(b',', "t=", "v1="))
    }
}

fn slack() -> Scheme {
    Scheme {
        signed_content: template("v0:{timestamp}:{body}"),
        timestamp: ts_header("x-slack-request-timestamp"),
        default_key: None,
        // Events API: a signed POST, `{"type":"url_verification","challenge":...}`.
        challenge: body_says("/type", "url_verification"),
        ..body_hmac("x-slack-signature", single("v0=", Hex))
    }
}

fn standard_webhooks() -> Scheme {
    // Senders built on Svix use the same scheme under svix-* names.
    let id = HeaderRef::new(&["webhook-id", "svix-id"]);
    let mut signed = template("{header:webhook-id}.{timestamp}.{body}");
    for part in &mut signed.parts {
        if let crate::scheme::template::Part::Header(h) = part {
            *h = id.clone();
        }
    }
    Scheme {
        signature: SignatureSource::Headers(vec![HeaderRef::new(&[
            "webhook-signature",
            "svix-signature",
        ])]),
        format: SignatureFormat {
            ed25519_prefix: Some("v1a,".into()),
            ..SignatureFormat::list(b' ', "v1,", Base64)
        },
        signed_content: signed,
        timestamp: TimestampSource::Header(HeaderRef::new(&[
            "webhook-timestamp",
            "svix-timestamp",
        ])),
        window: Window {
            max_age_seconds: 300,
            max_future_seconds: 300,
        },
        secret_encoding: SecretEncoding::Whsec,
        // webhook-id is part of the signed content: safe to key on.
        default_key: Some(KeySource::Header(id)),
        ..body_hmac("webhook-signature", single("", Base64))
    }
}

/// X-Shopify-Event-Id is not signed: keyed on the signed body instead.
fn shopify() -> Scheme {
    Scheme {
        delivery_id: Some(HeaderRef::new(&["x-shopify-event-id"])),
        ..body_hmac("x-shopify-hmac-sha256", single("", Base64))
    }
}

/// A shared token, no MAC: whoever saw one delivery can forge any other, so the body
/// digest is as good a key as any header.
fn gitlab() -> Scheme {
    Scheme {
        algorithm: Algorithm::Token,
        delivery_id: Some(HeaderRef::new(&["x-gitlab-event-uuid"])),
        ..body_hmac("x-gitlab-token", single("", Text))
    }
}

/// The one-time verification is a GET with the challenge in a header and no body
/// (signed content: empty, so every verification would have had one key).
fn okta() -> Scheme {
    Scheme {
        algorithm: Algorithm::Token,
        challenge: Some(Challenge::MethodHeader {
            method: Method::Get,
            header: HeaderRef::new(&["x-okta-verification-challenge"]),
        }),
        ..body_hmac("authorization", single("", Text))
    }
}

fn bitbucket() -> Scheme {
    Scheme {
        delivery_id: Some(HeaderRef::new(&["x-request-uuid"])),
        ..body_hmac("x-hub-signature", single("sha256=", Hex))
    }
}

fn atlassian() -> Scheme {
    Scheme {
        delivery_id: Some(HeaderRef::new(&["x-atlassian-webhook-identifier"])),
        ..body_hmac("x-hub-signature", single("sha256=", Hex))
    }
}

/// The notification's id is inside the signed body.
fn intercom() -> Scheme {
    Scheme {
        algorithm: Algorithm::HmacSha1,
        default_key: Some(KeySource::Pointer("/id".into())),
        ..body_hmac("x-hub-signature", single("sha1=", Hex))
    }
}

fn pagerduty() -> Scheme {
    Scheme {
        default_key: Some(KeySource::Pointer("/event/id".into())),
        ..body_hmac(
            "x-pagerduty-signature",
            SignatureFormat::list(b',', "v1=", Hex),
        )
    }
}

fn typeform() -> Scheme {
    Scheme {
        default_key: Some(KeySource::Pointer("/event_id".into())),
        ..body_hmac("typeform-signature", single("sha256=", Base64))
    }
}

/// One header per HMAC key configured in DocuSign: -1, -2, ...
fn docusign() -> Scheme {
    Scheme {
        signature: SignatureSource::Headers(
            (1..=crate::scheme::signature::MAX_SIGNATURES)
                .map(|i| HeaderRef::new(&[&format!("x-docusign-signature-{i}")]))
                .collect(),
        ),
        ..body_hmac("x-docusign-signature-1", single("", Base64))
    }
}

/// Paddle's SDKs allow 5 s between signing and checking, either way.
fn paddle() -> Scheme {
    Scheme {
        signed_content: template("{timestamp}:{body}"),
        timestamp: TimestampSource::SignatureHeader,
        window: Window {
            max_age_seconds: 5,
            max_future_seconds: 5,
        },
        default_key: Some(KeySource::Pointer("/event_id".into())),
        ..body_hmac("paddle-signature", dated_list(b';', "ts=", "h1="))
    }
}

/// Calendly's own example allows 3 minutes.
fn calendly() -> Scheme {
    Scheme {
        signed_content: template("{timestamp}.{body}"),
        timestamp: TimestampSource::SignatureHeader,
        window: window(180),
        ..body_hmac("calendly-webhook-signature", dated_list(b',', "t=", "v1="))
    }
}

fn zoom() -> Scheme {
    Scheme {
        signed_content: template("v0:{timestamp}:{body}"),
        timestamp: ts_header("x-zm-request-timestamp"),
        // Sent signed when the URL is set and every 72 hours, with a new plainToken.
        challenge: body_says("/event", "endpoint.url_validation"),
        ..body_hmac("x-zm-signature", single("v0=", Hex))
    }
}

fn zendesk() -> Scheme {
    Scheme {
        signed_content: template("{timestamp}{body}"),
        timestamp: ts_header("x-zendesk-webhook-signature-timestamp"),
        timestamp_format: TimestampFormat::Rfc3339,
        delivery_id: Some(HeaderRef::new(&["x-zendesk-webhook-invocation-id"])),
        ..body_hmac("x-zendesk-webhook-signature", single("", Base64))
    }
}

/// The message id is signed: a safe key, and the one Twitch tells to deduplicate on.
fn twitch() -> Scheme {
    Scheme {
        signed_content: template("{header:twitch-eventsub-message-id}{timestamp}{body}"),
        timestamp: ts_header("twitch-eventsub-message-timestamp"),
        timestamp_format: TimestampFormat::Rfc3339,
        window: window(600),
        default_key: Some(KeySource::Header(HeaderRef::new(&[
            "twitch-eventsub-message-id",
        ]))),
        challenge: Some(Challenge::HeaderValue {
            header: HeaderRef::new(&["twitch-eventsub-message-type"]),
            value: "webhook_callback_verification",
            body_string: "/challenge",
        }),
        ..body_hmac("twitch-eventsub-message-signature", single("sha256=", Hex))
    }
}

fn linear() -> Scheme {
    Scheme {
        timestamp: TimestampSource::Body("/webhookTimestamp".into()),
        timestamp_format: TimestampFormat::UnixMs,
        window: Window {
            max_age_seconds: 60,
            max_future_seconds: 60,
        },
        delivery_id: Some(HeaderRef::new(&["linear-delivery"])),
        ..body_hmac("linear-signature", single("", Hex))
    }
}

fn square() -> Scheme {
    Scheme {
        signed_content: template("{url}{body}"),
        default_key: Some(KeySource::Pointer("/event_id".into())),
        ..body_hmac("x-square-hmacsha256-signature", single("", Base64))
    }
}

fn hubspot() -> Scheme {
    Scheme {
        signed_content: template("{method}{url_decoded}{body}{timestamp}"),
        timestamp: ts_header("x-hubspot-request-timestamp"),
        timestamp_format: TimestampFormat::UnixMs,
        ..body_hmac("x-hubspot-signature-v3", single("", Base64))
    }
}

fn twilio() -> Scheme {
    Scheme {
        algorithm: Algorithm::HmacSha1,
        signed_content: template("{url}{form_params}"),
        delivery_id: Some(HeaderRef::new(&["i-twilio-idempotency-token"])),
        ..body_hmac("x-twilio-signature", single("", Base64))
    }
}

/// The signature covers the timestamp and the token, not the event: the token is the
/// delivery's identity (Mailgun: "cache the token ... to prevent replay attacks").
fn mailgun() -> Scheme {
    Scheme {
        signature: SignatureSource::Body("/signature/signature".into()),
        signed_content: template("{json:/signature/timestamp}{json:/signature/token}"),
        timestamp: TimestampSource::Body("/signature/timestamp".into()),
        window: window(600),
        default_key: Some(KeySource::Pointer("/signature/token".into())),
        ..body_hmac("", single("", Hex))
    }
}

/// The interaction's id is inside the signed body.
fn discord() -> Scheme {
    Scheme {
        algorithm: Algorithm::Ed25519,
        signed_content: template("{timestamp}{body}"),
        timestamp: ts_header("x-signature-timestamp"),
        default_key: Some(KeySource::Pointer("/id".into())),
        // The PINGs, answered with a PONG: an interaction of type 1, and the Webhook
        // Events PING (type 0); a Webhook Event (type 1 too) carries an `event`.
        challenge: Some(Challenge::Body {
            pointer: "/type",
            value: BodyValue::Ints(&[0, 1]),
            absent: Some("/event"),
        }),
        ..body_hmac("x-signature-ed25519", single("", Hex))
    }
}

fn sendgrid() -> Scheme {
    Scheme {
        algorithm: Algorithm::EcdsaP256Sha256,
        signed_content: template("{timestamp}{body}"),
        timestamp: ts_header("x-twilio-email-event-webhook-timestamp"),
        ..body_hmac("x-twilio-email-event-webhook-signature", single("", Base64))
    }
}

/// An HMAC-SHA256 `{body}` scheme with no header, which the endpoint's fields must complete.
fn custom() -> Scheme {
    Scheme {
        signature: SignatureSource::Headers(Vec::new()),
        default_key: None,
        ..body_hmac("", single("", Hex))
    }
}
#[cfg(test)]
mod tests;
