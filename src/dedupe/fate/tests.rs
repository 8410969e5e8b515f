use super::flags::*;
use super::*;

#[test]
fn the_receivers_own_answer_decides() {
    assert_eq!(on_response(b"200", VIA_UPSTREAM, || 0), Fate::Commit);
    // The receiver's 2xx needs no flags (a host call saved per delivery).
    let unread = || -> u64 { panic!("flags read for a 2xx") };
    assert_eq!(on_response(b"200", VIA_UPSTREAM, unread), Fate::Commit);
    assert_eq!(on_response(b"204", VIA_UPSTREAM, || 0), Fate::Commit);
    for status in [
        &b"500"[..],
        b"503",
        b"404",
        b"302",
        b"429",
        b"2",
        b"2000",
        b"",
    ] {
        assert_eq!(on_response(status, VIA_UPSTREAM, || 0), Fate::Release);
    }
    // A 2xx that Envoy made up (direct response, another filter) proves nothing.
    assert_eq!(on_response(b"200", b"direct_response", || 0), Fate::Keep);
    // With Envoy retrying, an earlier attempt that timed out may still be running.
    assert_eq!(
        on_response(b"503", VIA_UPSTREAM, || UPSTREAM_REQUEST_TIMEOUT),
        Fate::Keep
    );
    assert_eq!(
        on_response(b"503", VIA_UPSTREAM, || UPSTREAM_CONNECTION_FAILURE),
        Fate::Release
    );
    assert_eq!(
        on_response(b"200", VIA_UPSTREAM, || UPSTREAM_REQUEST_TIMEOUT),
        Fate::Commit
    );
}

#[test]
fn envoys_answers_release_only_what_never_left() {
    let details = b"upstream_reset_before_response_started{connection_failure}";
    assert_eq!(
        on_response(b"503", details, || UPSTREAM_CONNECTION_FAILURE),
        Fate::Release
    );
    assert_eq!(
        on_response(b"503", b"no_healthy_upstream", || NO_HEALTHY_UPSTREAM),
        Fate::Release
    );
    assert_eq!(
        on_response(b"504", b"upstream_response_timeout", || {
            UPSTREAM_REQUEST_TIMEOUT
        }),
        Fate::Keep
    );
    for unknown in [
        UPSTREAM_REMOTE_RESET,
        UPSTREAM_CONNECTION_TERMINATION,
        LOCAL_RESET,
        DOWNSTREAM_CONNECTION_TERMINATION,
        UPSTREAM_REQUEST_TIMEOUT | UPSTREAM_CONNECTION_FAILURE,
        0,
    ] {
        assert_eq!(
            on_response(b"503", b"x", || unknown),
            Fate::Keep,
            "{unknown:#x}"
        );
        assert_eq!(on_end(unknown), Fate::Keep, "{unknown:#x}");
    }
    assert_eq!(on_end(UPSTREAM_CONNECTION_FAILURE), Fate::Release);
    assert_eq!(
        on_end(UPSTREAM_OVERFLOW | NO_HEALTHY_UPSTREAM),
        Fate::Release
    );
    assert_eq!(
        on_end(DOWNSTREAM_CONNECTION_TERMINATION | UPSTREAM_CONNECTION_FAILURE),
        Fate::Keep
    );
}

#[test]
fn flags_are_read_as_little_endian_u64() {
    assert_eq!(parse_flags(&0x20u64.to_le_bytes()), 0x20);
    assert_eq!(parse_flags(b""), 0);
    assert_eq!(parse_flags(&[1, 2, 3]), 0);
}
