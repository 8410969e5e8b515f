use super::*;

#[test]
fn every_named_preset_exists_and_covers_the_body() {
    for name in PRESET_NAMES {
        let s = preset(name).unwrap();
        assert!(!s.signed_content.parts.is_empty(), "{name}");
        // The documented exception: Mailgun signs its timestamp and token only (README,
        // "Presets"). A shared token signs nothing, whatever its template says.
        assert_eq!(s.signed_content.covers_body(), name != "mailgun", "{name}");
    }
    assert!(preset("gitlab-ee").is_none());
}

#[test]
fn every_default_key_is_covered_by_the_signature() {
    for name in PRESET_NAMES {
        let s = preset(name).unwrap();
        if let Some(KeySource::Header(h)) = &s.default_key {
            assert!(s.signed_content.headers().any(|x| x == h), "{name}");
        }
    }
}

/// The rules every scheme obeys (`Scheme::check`, which configuration applies to overrides)
/// hold for every preset as it is; `custom` alone needs fields to be whole.
#[test]
fn every_preset_passes_the_rules_every_scheme_obeys() {
    for name in PRESET_NAMES {
        assert_eq!(preset(name).unwrap().check(), Ok(()), "{name}");
    }
    let custom = preset("custom").unwrap().check().unwrap_err();
    assert_eq!(custom.field, "signature_header");
}

#[test]
fn a_header_timestamp_is_always_signed() {
    for name in PRESET_NAMES {
        let s = preset(name).unwrap();
        if matches!(
            s.timestamp,
            TimestampSource::Header(_) | TimestampSource::SignatureHeader
        ) {
            assert!(s.signed_content.uses_timestamp(), "{name}");
        }
    }
}

#[test]
fn every_sender_posts_and_challenges_are_where_the_senders_send_them() {
    for name in PRESET_NAMES {
        let s = preset(name).unwrap();
        assert_eq!(s.methods, Methods::POST, "{name}");
        let expected = matches!(name, "okta" | "slack" | "zoom" | "twitch" | "discord");
        assert_eq!(s.challenge.is_some(), expected, "{name}");
        // A challenge is recognised right after the signature and a header timestamp:
        // none of these dates its body.
        if s.challenge.is_some() {
            assert!(!matches!(s.timestamp, TimestampSource::Body(_)), "{name}");
        }
    }
    assert!(preset("custom").unwrap().challenge.is_none());
    assert!(preset("linear").unwrap().challenge.is_none());
}
