//! `webhook-guard presets`: what each preset checks, read from the filter's own scheme
//! definitions (`webhook_guard::scheme::presets`), so the list cannot drift from the filter.

use webhook_guard::dedupe::key::KeySource;
use webhook_guard::keys::wanted;
use webhook_guard::scheme::presets::{preset, PRESET_NAMES};
use webhook_guard::scheme::signature::{Algorithm, Encoding};
use webhook_guard::scheme::template::{Part, Template};
use webhook_guard::scheme::timestamp::{TimestampFormat, TimestampSource};
use webhook_guard::scheme::{Scheme, SignatureSource};

/// One preset, described.
pub struct Described {
    pub name: &'static str,
    pub signature: String,
    pub signed_content: String,
    pub timestamp: String,
    pub default_key: String,
    pub secret: String,
}

pub fn all() -> Vec<Described> {
    PRESET_NAMES
        .iter()
        .filter_map(|name| preset(name).map(|s| describe(name, &s)))
        .collect()
}

pub fn describe(name: &'static str, s: &Scheme) -> Described {
    let encoding = match s.format.encoding {
        Encoding::Hex => "<hex>",
        Encoding::Base64 => "<base64>",
        Encoding::Text => "<token>",
    };
    let value = match (&s.format.timestamp_item, s.format.separator) {
        (Some(t), Some(sep)) => format!("{t}<ts>{}{}{encoding}", sep as char, s.format.prefix),
        (None, Some(sep)) => format!("{}{encoding}[{}...]", s.format.prefix, sep as char),
        _ => format!("{}{encoding}", s.format.prefix),
    };
    let signature = match &s.signature {
        SignatureSource::Headers(list) if list.is_empty() => {
            "signature_header (required)".to_string()
        }
        SignatureSource::Headers(list) => {
            let names: Vec<String> = list.iter().map(|h| h.names.join("|")).collect();
            format!("{}: {value}", names.join(", "))
        }
        SignatureSource::Body(pointer) => format!("body {pointer}: {value}"),
    };
    let algorithm = match s.algorithm {
        Algorithm::HmacSha256 => "hmac-sha256",
        Algorithm::HmacSha1 => "hmac-sha1",
        Algorithm::HmacSha512 => "hmac-sha512",
        Algorithm::Token => "token",
        Algorithm::Ed25519 => "ed25519",
        Algorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
    };
    let timestamp = match &s.timestamp {
        TimestampSource::None => "none".to_string(),
        other => {
            let source = match other {
                TimestampSource::Header(h) => format!("header {}", h.names.join("|")),
                TimestampSource::Body(p) => format!("body {p}"),
                _ => format!(
                    "signature item {}",
                    s.format.timestamp_item.as_deref().unwrap_or("")
                ),
            };
            let format = match s.timestamp_format {
                TimestampFormat::Unix => "unix",
                TimestampFormat::UnixMs => "unix_ms",
                TimestampFormat::Rfc3339 => "rfc3339",
            };
            format!(
                "{source} ({format}), {} s back, {} s ahead",
                s.window.max_age_seconds, s.window.max_future_seconds
            )
        }
    };
    let default_key = match &s.default_key {
        None => "none".to_string(),
        Some(KeySource::Pointer(p)) => p.clone(),
        Some(KeySource::Header(h)) => format!("header:{}", h.names.join("|")),
        Some(KeySource::GenesysTutorial) => "/eventId, else /conversationId + /timestamp".into(),
        Some(KeySource::SignedContent) => "signed_content (digest)".into(),
    };
    let mut signed_content = template_text(&s.signed_content);
    if signed_content.is_empty() {
        signed_content = "(none: a shared token)".into();
    }
    Described {
        name,
        signature: format!("{signature} ({algorithm})"),
        signed_content,
        timestamp,
        default_key,
        secret: wanted(s.algorithm, s.secret_encoding).to_string(),
    }
}

/// A signed-content template as its configuration text (`v0:{timestamp}:{body}`).
pub fn template_text(t: &Template) -> String {
    t.parts
        .iter()
        .map(|p| match p {
            Part::Body => "{body}".to_string(),
            Part::Timestamp => "{timestamp}".to_string(),
            Part::Header(h) => format!("{{header:{}}}", h.names.first().map_or("", |n| n)),
            Part::Literal(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Part::Method => "{method}".to_string(),
            Part::Url => "{url}".to_string(),
            Part::UrlDecoded => "{url_decoded}".to_string(),
            Part::FormParams => "{form_params}".to_string(),
            Part::Json(p) => format!("{{json:{p}}}"),
        })
        .collect()
}

/// The listing `webhook-guard presets` prints: a block per preset.
pub fn render(list: &[Described]) -> String {
    let mut out = String::new();
    for d in list {
        out.push_str(&format!(
            "{}\n  signature       {}\n  signed content  {}\n  timestamp       {}\n  default key     {}\n  secret          {}\n\n",
            d.name, d.signature, d.signed_content, d.timestamp, d.default_key, d.secret
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_and_stripe_read_as_the_readme_says() {
        let list = all();
        assert_eq!(list.len(), PRESET_NAMES.len());
        let github = list.iter().find(|d| d.name == "github").unwrap();
        assert_eq!(
            github.signature,
            "x-hub-signature-256: sha256=<hex> (hmac-sha256)"
        );
        assert_eq!(github.signed_content, "{body}");
        assert_eq!(github.timestamp, "none");
        assert_eq!(github.default_key, "signed_content (digest)");
        let stripe = list.iter().find(|d| d.name == "stripe").unwrap();
        assert_eq!(stripe.signed_content, "{timestamp}.{body}");
        assert!(
            stripe.timestamp.contains("300 s back"),
            "{}",
            stripe.timestamp
        );
        assert_eq!(stripe.default_key, "/id");
    }
}
