use super::*;

fn capture(pairs: &[(&str, &[u8])], wanted: &[&str]) -> CapturedHeaders {
    let wanted: Vec<String> = wanted.iter().map(|s| s.to_string()).collect();
    CapturedHeaders::capture(pairs.iter().copied(), &wanted)
}

#[test]
fn keeps_only_wanted_headers_as_bytes() {
    let h = capture(&[("x-sig", b"\xff\xfe"), ("other", b"x")], &["x-sig"]);
    assert_eq!(h.get(&HeaderRef::new(&["x-sig"])), Lookup::One(b"\xff\xfe"));
    assert_eq!(h.get(&HeaderRef::new(&["other"])), Lookup::Absent);
}

#[test]
fn repeated_and_oversized_headers_are_unusable() {
    let big = vec![b'a'; MAX_HEADER_VALUE_BYTES + 1];
    let h = capture(
        &[("x-sig", b"a"), ("x-sig", b"b"), ("x-big", &big)],
        &["x-sig", "x-big"],
    );
    assert_eq!(h.get(&HeaderRef::new(&["x-sig"])), Lookup::Repeated);
    assert_eq!(h.get(&HeaderRef::new(&["x-big"])), Lookup::Repeated);
}

#[test]
fn first_present_alias_wins() {
    let h = capture(&[("svix-id", b"2")], &["webhook-id", "svix-id"]);
    let r = HeaderRef::new(&["webhook-id", "svix-id"]);
    assert_eq!(h.get(&r), Lookup::One(b"2"));
}

#[test]
fn a_serialized_map_reads_in_place_and_never_panics() {
    let pairs: [(&[u8], &[u8]); 4] = [
        (b":path", b"/hooks"),
        (b"x-sig", b"sha256=ab\xff"),
        (b"empty", b""),
        (b"\xffname", b"v\0w"),
    ];
    let map = SerializedMap::encode(pairs);
    assert_eq!(map.pairs(), pairs.to_vec());
    assert!(SerializedMap::default().pairs().is_empty());
    // Every truncation, and every corrupted byte of the lengths, reads as empty or as
    // the map itself (a corrupted length that still fits reads other bytes, never
    // outside the buffer).
    for cut in 0..map.0.len() {
        assert!(SerializedMap(map.0[..cut].to_vec()).pairs().is_empty());
    }
    for at in 0..36 {
        let mut bad = map.0.clone();
        bad[at] = 0xff;
        assert!(SerializedMap(bad).pairs().len() <= 4);
    }
    assert!(SerializedMap(u32::MAX.to_le_bytes().to_vec())
        .pairs()
        .is_empty());
    // More entries than Envoy's default limit of 100 read whole.
    let many: Vec<(Vec<u8>, Vec<u8>)> = (0..5000)
        .map(|i| (format!("h{i}").into_bytes(), b"v".to_vec()))
        .collect();
    let map = SerializedMap::encode(many.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
    assert_eq!(map.pairs().len(), 5000);
}
