use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn list(entries: &[&str]) -> CidrList {
    CidrList::parse(entries).unwrap()
}

#[test]
fn v4_hits_and_misses() {
    let l = list(&["52.200.73.32/32", "10.0.0.0/8", "192.168.1.0/24"]);
    assert_eq!(l.len(), 3);
    assert!(!l.is_empty());
    for hit in ["52.200.73.32", "10.0.0.0", "10.255.255.255", "192.168.1.77"] {
        assert!(l.contains(ip(hit)), "{hit}");
    }
    for miss in [
        "52.200.73.33",
        "11.0.0.0",
        "9.255.255.255",
        "192.168.2.1",
        "::1",
    ] {
        assert!(!l.contains(ip(miss)), "{miss}");
    }
}

#[test]
fn v6_hits_and_misses() {
    let l = list(&["2600:1f18::/32", "2001:db8::1"]);
    assert!(l.contains(ip("2600:1f18::1")));
    assert!(l.contains(ip("2600:1f18:ffff:ffff:ffff:ffff:ffff:ffff")));
    assert!(!l.contains(ip("2600:1f19::")));
    assert!(l.contains(ip("2001:db8::1")));
    assert!(!l.contains(ip("2001:db8::2")));
    assert!(!l.contains(ip("10.0.0.1")));
}

#[test]
fn zero_and_full_prefixes() {
    let any4 = list(&["0.0.0.0/0"]);
    assert!(any4.contains(ip("1.2.3.4")));
    assert!(any4.contains(ip("255.255.255.255")));
    assert!(!any4.contains(ip("::1")));
    let any6 = list(&["::/0"]);
    assert!(any6.contains(ip("2001:db8::1")));
    assert!(!any6.contains(ip("1.2.3.4")));
    let one4 = list(&["1.2.3.4/32"]);
    assert!(one4.contains(ip("1.2.3.4")) && !one4.contains(ip("1.2.3.5")));
    let one6 = list(&["2001:db8::1/128"]);
    assert!(one6.contains(ip("2001:db8::1")) && !one6.contains(ip("2001:db8::")));
}

#[test]
fn host_bits_are_masked() {
    let l = list(&["10.1.2.3/8", "2001:db8::1/32"]);
    assert!(l.contains(ip("10.200.0.1")));
    assert!(l.contains(ip("2001:db8:ffff::")));
}

#[test]
fn mapped_addresses_match_v4_networks() {
    let l = list(&["52.200.73.0/24"]);
    assert!(l.contains(ip("::ffff:52.200.73.32")));
    assert!(!l.contains(ip("::ffff:52.200.74.1")));
    // IPv4-compatible (deprecated, ::a.b.c.d) addresses are not IPv4.
    assert!(!l.contains(ip("::52.200.73.32")));
    // A v6 entry written in mapped form still matches the mapped address.
    assert!(list(&["::ffff:0:0/96"]).contains(ip("::ffff:1.2.3.4")));
}

#[test]
fn bad_entries_are_refused() {
    let cases: [(&str, &str); 14] = [
        ("", "empty entry"),
        (" 10.0.0.0/8", "contains whitespace"),
        ("10.0.0.0/8 ", "contains whitespace"),
        ("10.0.0.0 /8", "contains whitespace"),
        ("10.0.0.0/33", "prefix longer than 32"),
        ("::/129", "prefix longer than 128"),
        ("10.0.0.0/", "prefix length is not a number"),
        ("10.0.0.0/+8", "prefix length is not a number"),
        ("10.0.0.0/8/8", "prefix length is not a number"),
        ("10.0.0.0/1000", "prefix length is not a number"),
        ("300.1.1.1/32", "not an IP address"),
        ("example.com", "not an IP address"),
        ("/8", "not an IP address"),
        ("fe80::1%eth0", "not an IP address"),
    ];
    for (entry, reason) in cases {
        let e = CidrList::parse(&["1.2.3.4", entry]).unwrap_err();
        assert_eq!(e.entry, entry);
        assert_eq!(e.reason, reason, "{entry}");
    }
    let e = CidrList::parse(&["10.0.0.0/33"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid CIDR \"10.0.0.0/33\": prefix longer than 32"
    );
    // An empty list parses; the caller decides what "no networks" means.
    assert!(CidrList::parse::<&str>(&[]).unwrap().is_empty());
    // Owned strings work as well as &str.
    assert_eq!(CidrList::parse(&["1.2.3.4".to_string()]).unwrap().len(), 1);
}

#[test]
fn source_addresses() {
    let p = |s: &[u8]| parse_source_address(s);
    assert_eq!(p(b"1.2.3.4:5678"), Some(ip("1.2.3.4")));
    assert_eq!(p(b"1.2.3.4:0"), Some(ip("1.2.3.4")));
    assert_eq!(p(b"1.2.3.4:65535"), Some(ip("1.2.3.4")));
    assert_eq!(p(b"1.2.3.4"), Some(ip("1.2.3.4")));
    assert_eq!(p(b"[2001:db8::1]:443"), Some(ip("2001:db8::1")));
    assert_eq!(p(b"[2001:db8::1]"), Some(ip("2001:db8::1")));
    assert_eq!(p(b"2001:db8::1"), Some(ip("2001:db8::1")));
    assert_eq!(p(b"[::ffff:1.2.3.4]:80"), Some(ip("::ffff:1.2.3.4")));
}

#[test]
fn garbage_source_addresses() {
    for bad in [
        &b""[..],
        b":",
        b"1.2.3.4:",
        b"1.2.3.4:65536",
        b"1.2.3.4:+80",
        b"1.2.3.4:80:80",
        b"1.2.3.4 :80",
        b" 1.2.3.4",
        b"300.1.1.1",
        b"300.1.1.1:80",
        b"[::1",
        b"::1]:80",
        b"[::1]:",
        b"[::1]80",
        b"[::1]:80x",
        b"[1.2.3.4]:80",
        b"[]:80",
        b"::1:80:",
        b"localhost:80",
        b"\xff\xfe\x00",
        b"1.2.3.4:\xff",
    ] {
        assert_eq!(parse_source_address(bad), None, "{:?}", bad);
    }
}
