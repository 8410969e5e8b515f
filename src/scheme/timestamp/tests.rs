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
