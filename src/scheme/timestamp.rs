//! Delivery timestamps: where they are read, how they are written, and the freshness window
//! that turns a captured delivery into a useless one (replay protection).

use serde_json::Value;

use crate::answer::Reject;
use crate::request::headers::HeaderRef;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampSource {
    /// No timestamp: the sender signs none (GitHub, Shopify). No replay window.
    None,
    Header(HeaderRef),
    /// A JSON pointer into the (verified) body, e.g. Genesys' `/channel/time`.
    Body(String),
    /// Stripe's `t=` inside the signature header.
    SignatureHeader,
}

impl TimestampSource {
    /// `header:NAME` or a JSON pointer (`/channel/time`).
    pub fn parse(text: &str) -> Option<TimestampSource> {
        if let Some(name) = text.strip_prefix("header:") {
            return crate::scheme::signature::valid_header_name(name)
                .then(|| TimestampSource::Header(HeaderRef::new(&[name])));
        }
        text.starts_with('/')
            .then(|| TimestampSource::Body(text.to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    /// Seconds since the epoch, as decimal digits.
    Unix,
    /// Milliseconds since the epoch, as decimal digits.
    UnixMs,
    Rfc3339,
}

impl TimestampFormat {
    pub(crate) fn parse_name(s: &str) -> Option<TimestampFormat> {
        match s {
            "unix" => Some(TimestampFormat::Unix),
            "unix_ms" => Some(TimestampFormat::UnixMs),
            "rfc3339" => Some(TimestampFormat::Rfc3339),
            _ => None,
        }
    }

    /// Seconds since the epoch, or `None` for text that is not a timestamp of this format.
    pub fn seconds(self, raw: &[u8]) -> Option<i64> {
        match self {
            TimestampFormat::Unix => digits(raw),
            TimestampFormat::UnixMs => digits(raw).map(|ms| ms / 1000),
            TimestampFormat::Rfc3339 => {
                let text = std::str::from_utf8(raw).ok()?;
                crate::payload::rfc3339::rfc3339_to_unix_seconds(text)
            }
        }
    }

    /// A timestamp found in the JSON body: a string, or a number for the unix formats.
    pub(crate) fn seconds_from_json(self, value: &Value) -> Option<i64> {
        match value {
            Value::String(s) => self.seconds(s.as_bytes()),
            Value::Number(n) if self != TimestampFormat::Rfc3339 => {
                let n = n.as_i64()?;
                (n >= 0).then_some(if self == TimestampFormat::UnixMs {
                    n / 1000
                } else {
                    n
                })
            }
            _ => None,
        }
    }
}

/// Plain decimal digits only: no sign, no spaces, at most 15 digits (years beyond 30 000 AD).
fn digits(raw: &[u8]) -> Option<i64> {
    if raw.is_empty() || raw.len() > 15 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    raw.iter().try_fold(0i64, |acc, d| {
        acc.checked_mul(10)?.checked_add(i64::from(d - b'0'))
    })
}

/// How far from now a timestamp may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub max_age_seconds: u64,
    pub max_future_seconds: u64,
}

impl Window {
    pub fn check(&self, timestamp: i64, now: i64) -> Result<(), Reject> {
        let age = i128::from(now) - i128::from(timestamp);
        if age > i128::from(self.max_age_seconds) || -age > i128::from(self.max_future_seconds) {
            return Err(Reject::StaleTimestamp);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
