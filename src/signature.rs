//! Signature headers, signed-content templates and the constant-time HMAC-SHA256 check.
//!
//! Every MAC is compared as decoded bytes with `subtle`, never as text: case, padding and
//! encoding differences cannot make a valid signature fail, and timing reveals nothing.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::headers::{CapturedHeaders, HeaderRef, Lookup};
use crate::secrets::Secret;

pub const MAC_LEN: usize = 32;
/// Most signatures one header may carry (Stripe and Standard Webhooks send several during
/// their own rotations); more is an attack on our CPU, not a rotation.
pub const MAX_SIGNATURES: usize = 8;

pub type Mac256 = [u8; MAC_LEN];

/// How a MAC is written in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

impl Encoding {
    pub fn parse(s: &str) -> Option<Encoding> {
        match s {
            "hex" => Some(Encoding::Hex),
            "base64" => Some(Encoding::Base64),
            _ => None,
        }
    }

    fn decode(self, text: &[u8]) -> Option<Mac256> {
        let bytes = match self {
            Encoding::Hex => hex::decode(text).ok()?,
            Encoding::Base64 => STANDARD.decode(text).ok()?,
        };
        bytes.try_into().ok()
    }

    pub fn encode(self, mac: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(mac),
            Encoding::Base64 => STANDARD.encode(mac),
        }
    }
}

/// The shape of a signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureFormat {
    /// `<prefix><encoded MAC>`, e.g. GitHub's `sha256=<hex>` or Shopify's bare base64.
    Prefixed { prefix: String, encoding: Encoding },
    /// Stripe: `t=<unix>,v1=<hex>[,v1=<hex>...]`; other schemes (`v0`) are ignored.
    Stripe,
    /// Standard Webhooks: space-separated `v1,<base64>`; other versions are ignored.
    StandardWebhooks,
}

/// The MACs a header offers, and Stripe's `t` (part of what Stripe signs).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Offered {
    pub macs: Vec<Mac256>,
    pub timestamp: Option<Vec<u8>>,
}

/// The header could not be read as a signature of its format.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

impl SignatureFormat {
    pub fn parse(&self, raw: &[u8]) -> Result<Offered, Malformed> {
        let raw = raw.trim_ascii();
        match self {
            SignatureFormat::Prefixed { prefix, encoding } => {
                let text = raw.strip_prefix(prefix.as_bytes()).ok_or(Malformed)?;
                let mac = encoding.decode(text).ok_or(Malformed)?;
                Ok(Offered {
                    macs: vec![mac],
                    timestamp: None,
                })
            }
            SignatureFormat::Stripe => parse_stripe(raw),
            SignatureFormat::StandardWebhooks => parse_standard_webhooks(raw),
        }
    }
}

fn parse_stripe(raw: &[u8]) -> Result<Offered, Malformed> {
    let mut offered = Offered::default();
    for item in raw.split(|&b| b == b',') {
        let item = item.trim_ascii();
        let Some(eq) = item.iter().position(|&b| b == b'=') else {
            return Err(Malformed);
        };
        let (key, value) = (&item[..eq], &item[eq + 1..]);
        match key {
            b"t" if offered.timestamp.is_none() => offered.timestamp = Some(value.to_vec()),
            b"t" => return Err(Malformed),
            b"v1" => {
                if offered.macs.len() == MAX_SIGNATURES {
                    return Err(Malformed);
                }
                offered
                    .macs
                    .push(Encoding::Hex.decode(value).ok_or(Malformed)?);
            }
            _ => {}
        }
    }
    if offered.timestamp.is_none() || offered.macs.is_empty() {
        return Err(Malformed);
    }
    Ok(offered)
}

fn parse_standard_webhooks(raw: &[u8]) -> Result<Offered, Malformed> {
    let mut offered = Offered::default();
    for item in raw.split(|&b| b == b' ').filter(|i| !i.is_empty()) {
        let Some(comma) = item.iter().position(|&b| b == b',') else {
            return Err(Malformed);
        };
        if &item[..comma] != b"v1" {
            continue;
        }
        if offered.macs.len() == MAX_SIGNATURES {
            return Err(Malformed);
        }
        let mac = Encoding::Base64
            .decode(&item[comma + 1..])
            .ok_or(Malformed)?;
        offered.macs.push(mac);
    }
    if offered.macs.is_empty() {
        return Err(Malformed);
    }
    Ok(offered)
}

/// One piece of the signed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Body,
    /// The timestamp exactly as it was received (header text or Stripe's `t`).
    Timestamp,
    Header(HeaderRef),
    Literal(Vec<u8>),
}

/// What the sender signed, e.g. `v0:{timestamp}:{body}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

impl Template {
    /// Parses `{body}`, `{timestamp}`, `{header:NAME}` and literal text.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest
                        .find('}')
                        .ok_or_else(|| "has a '{' without '}'".to_string())?;
                    let name = &rest[1..end];
                    parts.push(match name {
                        "body" => Part::Body,
                        "timestamp" => Part::Timestamp,
                        _ => match name.strip_prefix("header:") {
                            Some(h) if valid_header_name(h) => Part::Header(HeaderRef::new(&[h])),
                            _ => return Err(format!("has an unknown placeholder {{{name}}}")),
                        },
                    });
                    rest = &rest[end + 1..];
                }
                Some(i) => {
                    parts.push(Part::Literal(rest.as_bytes()[..i].to_vec()));
                    rest = &rest[i..];
                }
                None => {
                    parts.push(Part::Literal(rest.as_bytes().to_vec()));
                    rest = "";
                }
            }
        }
        if !parts.contains(&Part::Body) {
            return Err("must contain {body}".to_string());
        }
        Ok(Template { parts })
    }

    pub fn uses_timestamp(&self) -> bool {
        self.parts.contains(&Part::Timestamp)
    }

    pub fn headers(&self) -> impl Iterator<Item = &HeaderRef> {
        self.parts.iter().filter_map(|p| match p {
            Part::Header(h) => Some(h),
            _ => None,
        })
    }

    /// The byte slices to sign, in order; `None` when a header it names is absent or repeated.
    pub fn pieces<'a>(
        &'a self,
        body: &'a [u8],
        timestamp: &'a [u8],
        headers: &'a CapturedHeaders,
    ) -> Option<Vec<&'a [u8]>> {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Body => Some(body),
                Part::Timestamp => Some(timestamp),
                Part::Literal(l) => Some(l.as_slice()),
                Part::Header(h) => match headers.get(h) {
                    Lookup::One(v) => Some(v),
                    _ => None,
                },
            })
            .collect()
    }
}

pub fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b))
}

/// HMAC-SHA256 of the concatenated pieces, without copying the body.
pub fn hmac_sha256(key: &[u8], pieces: &[&[u8]]) -> Mac256 {
    // new_from_slice accepts keys of any length for HMAC; the Err arm cannot happen.
    let Ok(mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; MAC_LEN];
    };
    finish(mac, pieces)
}

/// Feeds the pieces to a keyed HMAC state and returns the MAC.
fn finish(mut mac: Hmac<Sha256>, pieces: &[&[u8]]) -> Mac256 {
    for piece in pieces {
        mac.update(piece);
    }
    mac.finalize().into_bytes().into()
}

/// The index of the first secret whose MAC equals one of the offered MACs.
///
/// Every secret and every offered MAC is compared (no early exit), so the time taken does
/// not depend on which secret matched or how much of a MAC was right.
pub fn matching_secret(secrets: &[Secret], pieces: &[&[u8]], offered: &[Mac256]) -> Option<usize> {
    let mut found = None;
    for (i, secret) in secrets.iter().enumerate() {
        let Some(keyed) = secret.mac() else {
            continue;
        };
        let expected = finish(keyed, pieces);
        let mut hit = subtle::Choice::from(0);
        for candidate in offered {
            hit |= expected.ct_eq(candidate);
        }
        if bool::from(hit) && found.is_none() {
            found = Some(i);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(id: &str, key: &[u8]) -> Secret {
        Secret::new(id.to_string(), key.to_vec())
    }

    fn github() -> SignatureFormat {
        SignatureFormat::Prefixed {
            prefix: "sha256=".into(),
            encoding: Encoding::Hex,
        }
    }

    #[test]
    fn github_documented_vector() {
        let mac = hmac_sha256(b"It's a Secret to Everybody", &[b"Hello, World!"]);
        assert_eq!(
            hex::encode(mac),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        let header = b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let offered = github().parse(header).unwrap();
        let secrets = [secret("s", b"It's a Secret to Everybody")];
        assert_eq!(
            matching_secret(&secrets, &[b"Hello, World!"], &offered.macs),
            Some(0)
        );
        assert_eq!(
            matching_secret(&secrets, &[b"Hello, World?"], &offered.macs),
            None
        );
    }

    #[test]
    fn genesys_base64_vector() {
        let format = SignatureFormat::Prefixed {
            prefix: "sha256=".into(),
            encoding: Encoding::Base64,
        };
        let offered = format
            .parse(b"sha256=dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc=")
            .unwrap();
        let secrets = [secret("s", b"It's a Secret to Everybody")];
        assert_eq!(
            matching_secret(&secrets, &[b"Hello, World!"], &offered.macs),
            Some(0)
        );
    }

    #[test]
    fn uppercase_hex_is_the_same_mac() {
        let header = b"sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17";
        assert!(github().parse(header).is_ok());
    }

    #[test]
    fn rotation_reports_the_matching_secret() {
        let key_old = b"old-secret-0123456789";
        let key_new = b"new-secret-0123456789";
        let mac = hmac_sha256(key_old, &[b"body"]);
        let secrets = [secret("current", key_new), secret("previous", key_old)];
        assert_eq!(matching_secret(&secrets, &[b"body"], &[mac]), Some(1));
    }

    #[test]
    fn malformed_headers_are_errors_not_panics() {
        let bad: [&[u8]; 9] = [
            b"",
            b"sha256=",
            b"sha256=zz",
            b"sha256=757107ea",
            b"sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            b"\xff\xfe\xfd",
            b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
            b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17aa",
            b"sha256= 757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ];
        for raw in bad {
            assert_eq!(github().parse(raw), Err(Malformed), "{raw:?}");
        }
        let b64 = SignatureFormat::Prefixed {
            prefix: String::new(),
            encoding: Encoding::Base64,
        };
        for raw in [
            &b"abc"[..],
            b"====",
            b"dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPh",
        ] {
            assert_eq!(b64.parse(raw), Err(Malformed));
        }
    }

    #[test]
    fn stripe_header_parsing() {
        let mac = hex::encode([7u8; 32]);
        let ok = format!("t=1492774577,v1={mac},v0=ignored,v1={mac}");
        let offered = SignatureFormat::Stripe.parse(ok.as_bytes()).unwrap();
        assert_eq!(offered.macs.len(), 2);
        assert_eq!(offered.timestamp.as_deref(), Some(&b"1492774577"[..]));
        for bad in [
            format!("v1={mac}"),
            "t=1".to_string(),
            format!("t=1,t=2,v1={mac}"),
            format!("t=1,v1={mac}x"),
            "t=1,v1".to_string(),
            String::new(),
            format!(
                "t=1,{}",
                vec![format!("v1={mac}"); MAX_SIGNATURES + 1].join(",")
            ),
        ] {
            assert_eq!(
                SignatureFormat::Stripe.parse(bad.as_bytes()),
                Err(Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn standard_webhooks_header_parsing() {
        let ok = b"v1a,xyz v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v2,abc";
        assert_eq!(
            SignatureFormat::StandardWebhooks
                .parse(ok)
                .unwrap()
                .macs
                .len(),
            1
        );
        for bad in [&b""[..], b"v1a,xyz", b"v1,", b"v1,abc", b"nocomma"] {
            assert_eq!(SignatureFormat::StandardWebhooks.parse(bad), Err(Malformed));
        }
    }

    #[test]
    fn templates() {
        let t = Template::parse("v0:{timestamp}:{body}").unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Literal(b"v0:".to_vec()),
                Part::Timestamp,
                Part::Literal(b":".to_vec()),
                Part::Body
            ]
        );
        assert!(t.uses_timestamp());
        let h = Template::parse("{header:Webhook-Id}.{body}").unwrap();
        assert_eq!(
            h.headers().next().unwrap().names,
            vec!["webhook-id".to_string()]
        );
        for bad in [
            "{timestamp}",
            "{body",
            "{nope}{body}",
            "{header:}{body}",
            "{header:a b}{body}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
