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
    pub fn parse_name(s: &str) -> Option<TimestampFormat> {
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
    pub fn seconds_from_json(self, value: &Value) -> Option<i64> {
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
mod tests {
    use super::*;

    #[test]
    fn unix_formats() {
        assert_eq!(
            TimestampFormat::Unix.seconds(b"1531420618"),
            Some(1531420618)
        );
        assert_eq!(
            TimestampFormat::UnixMs.seconds(b"1531420618999"),
            Some(1531420618)
        );
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b" 1",
            b"1.5",
            b"1e9",
            b"9999999999999999",
            b"\xff",
        ] {
            assert_eq!(TimestampFormat::Unix.seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn json_timestamps() {
        let f = TimestampFormat::Unix;
        assert_eq!(f.seconds_from_json(&serde_json::json!(12)), Some(12));
        assert_eq!(f.seconds_from_json(&serde_json::json!("12")), Some(12));
        assert_eq!(f.seconds_from_json(&serde_json::json!(-12)), None);
        assert_eq!(f.seconds_from_json(&serde_json::json!(1.5)), None);
        assert_eq!(f.seconds_from_json(&serde_json::json!(null)), None);
        let r = TimestampFormat::Rfc3339;
        assert_eq!(r.seconds_from_json(&serde_json::json!(12)), None);
    }

    #[test]
    fn window_bounds_are_inclusive() {
        let w = Window {
            max_age_seconds: 300,
            max_future_seconds: 60,
        };
        assert_eq!(w.check(1000, 1300), Ok(()));
        assert_eq!(w.check(1000, 1301), Err(Reject::StaleTimestamp));
        assert_eq!(w.check(1060, 1000), Ok(()));
        assert_eq!(w.check(1061, 1000), Err(Reject::StaleTimestamp));
        assert_eq!(w.check(i64::MIN, i64::MAX), Err(Reject::StaleTimestamp));
    }

    #[test]
    fn formats_rfc3339_round_trip() {
        for t in [0, 951782400, 1749589385, 4102444800] {
            let text = crate::payload::rfc3339::unix_seconds_to_rfc3339(t);
            assert_eq!(TimestampFormat::Rfc3339.seconds(text.as_bytes()), Some(t));
        }
        assert_eq!(
            crate::payload::rfc3339::unix_seconds_to_rfc3339(1749589385),
            "2025-06-10T21:03:05Z"
        );
    }

    #[test]
    fn sources() {
        assert_eq!(
            TimestampSource::parse("header:X-Slack-Request-Timestamp"),
            Some(TimestampSource::Header(HeaderRef::new(&[
                "x-slack-request-timestamp"
            ])))
        );
        assert_eq!(
            TimestampSource::parse("/channel/time"),
            Some(TimestampSource::Body("/channel/time".into()))
        );
        assert_eq!(TimestampSource::parse("channel.time"), None);
        assert_eq!(TimestampSource::parse("header:"), None);
    }
}
