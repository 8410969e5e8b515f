use super::*;

#[test]
fn parses_valid_date_times() {
    let p = rfc3339_to_unix_seconds;
    assert_eq!(p("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(p("1969-12-31T23:59:59Z"), Some(-1));
    assert_eq!(p("2025-06-10T21:03:05.427Z"), Some(1749589385));
    assert_eq!(p("2025-06-10T21:03:05.999999999999Z"), Some(1749589385));
    assert_eq!(p("2025-06-10T23:03:05+02:00"), Some(1749589385));
    assert_eq!(p("2025-06-10t21:03:05z"), Some(1749589385));
    assert_eq!(p("2025-06-10T21:03:05-00:00"), Some(1749589385));
    assert_eq!(p("0000-01-01T00:00:00Z"), Some(-62167219200));
    assert_eq!(p("9999-12-31T23:59:59Z"), Some(253402300799));
}

#[test]
fn offsets_cross_midnight() {
    let p = rfc3339_to_unix_seconds;
    // 00:30 at -01:00 is 01:30 UTC the same day.
    assert_eq!(p("2025-06-10T00:30:00-01:00"), Some(1749519000));
    // 01:00 at +02:00 is 23:00 UTC the previous day (and year).
    assert_eq!(p("2025-01-01T01:00:00+02:00"), p("2024-12-31T23:00:00Z"));
    assert_eq!(p("2024-12-31T23:30:00-01:00"), p("2025-01-01T00:30:00Z"));
}

#[test]
fn leap_years_and_seconds() {
    let p = rfc3339_to_unix_seconds;
    assert_eq!(p("2024-02-29T12:00:00Z"), Some(1709208000));
    assert_eq!(p("2000-02-29T00:00:00Z"), Some(951782400));
    assert_eq!(p("2023-02-29T00:00:00Z"), None);
    assert_eq!(p("1900-02-29T00:00:00Z"), None);
    assert_eq!(p("2024-02-30T00:00:00Z"), None);
    // Leap second: only at 23:59:60 UTC, and it counts as the next second.
    assert_eq!(p("2016-12-31T23:59:60Z"), Some(1483228800));
    assert_eq!(p("2016-12-31T15:59:60-08:00"), Some(1483228800));
    assert_eq!(p("2016-12-31T23:59:60+01:00"), None);
    assert_eq!(p("2016-12-31T12:00:60Z"), None);
    assert_eq!(p("2016-12-31T23:59:61Z"), None);
}

#[test]
fn refuses_anything_else() {
    for bad in [
        "",
        "Z",
        "2025-06-10",
        "2025-06-10T21:03:05",
        "2025-06-10 21:03:05Z",
        "2025-06-10X21:03:05Z",
        "2025-00-10T21:03:05Z",
        "2025-13-10T21:03:05Z",
        "2025-06-00T21:03:05Z",
        "2025-06-31T00:00:00Z",
        "2025-06-10T24:00:00Z",
        "2025-06-10T23:60:00Z",
        "2025-06-10T21:03:05.Z",
        "2025-06-10T21:03:05.1.2Z",
        "2025-06-10T21:03:05+0200",
        "2025-06-10T21:03:05+02",
        "2025-06-10T21:03:05+24:00",
        "2025-06-10T21:03:05+02:60",
        "2025-06-10T21:03:05Zjunk",
        "2025-06-10T21:03:05+02:00Z",
        "+025-06-10T21:03:05Z",
        "2025-6-10T21:03:05Z",
        "2025-06-10T1:03:05Z",
        "２025-06-10T21:03:05Z",
        "2025-06-10T21:03:05\u{e9}",
        " 2025-06-10T21:03:05Z",
    ] {
        assert_eq!(rfc3339_to_unix_seconds(bad), None, "{bad}");
    }
}

#[test]
fn formats_round_trip() {
    for t in [0, -1, 951782400, 1749589385, 4102444800] {
        assert_eq!(
            rfc3339_to_unix_seconds(&unix_seconds_to_rfc3339(t)),
            Some(t)
        );
    }
    assert_eq!(unix_seconds_to_rfc3339(1749589385), "2025-06-10T21:03:05Z");
}
