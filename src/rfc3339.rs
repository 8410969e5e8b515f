//! RFC 3339 date-times (`2025-06-10T21:03:05.427Z`, `2025-06-10T23:03:05+02:00`) to unix
//! seconds, without a date crate: webhook timestamps and the schema `date-time` format
//! both need only this.

/// Seconds since the epoch (UTC), or `None` for anything that is not an RFC 3339 date-time.
/// Fractions of a second are truncated; a leap second (`:60`) counts as the next second.
pub fn rfc3339_to_unix_seconds(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 64 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && sep(i + 3, b":") => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86400 + hour * 3600 + minute * 60 + second - offset)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_date_times() {
        let p = rfc3339_to_unix_seconds;
        assert_eq!(p("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(p("2025-06-10T21:03:05.427Z"), Some(1749589385));
        assert_eq!(p("2025-06-10T23:03:05+02:00"), Some(1749589385));
        assert_eq!(p("2025-06-10t21:03:05z"), Some(1749589385));
        assert_eq!(p("2025-06-10T00:30:00-01:00"), Some(1749519000));
        assert_eq!(p("2024-02-29T12:00:00Z"), Some(1709208000));
        assert_eq!(p("2016-12-31T23:59:60Z"), Some(1483228800));
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "",
            "2025-06-10",
            "2025-06-10T21:03:05",
            "2025-13-10T21:03:05Z",
            "2023-02-29T00:00:00Z",
            "2025-06-31T00:00:00Z",
            "2025-06-10T24:00:00Z",
            "2025-06-10T21:03:05.Z",
            "2025-06-10T21:03:05+0200",
            "2025-06-10T21:03:05+24:00",
            "2025-06-10T21:03:05Zjunk",
            "+025-06-10T21:03:05Z",
            "2025-06-10T21:03:05\u{e9}",
        ] {
            assert_eq!(rfc3339_to_unix_seconds(bad), None, "{bad}");
        }
    }
}
