use super::*;

#[test]
fn decodes_each_encoding() {
    let utf8 = SecretEncoding::Utf8
        .decode("It's a Secret to Everybody")
        .unwrap();
    assert_eq!(utf8, b"It's a Secret to Everybody");
    let b64 = SecretEncoding::Base64
        .decode("MDEyMzQ1Njc4OWFiY2RlZg==")
        .unwrap();
    assert_eq!(b64, b"0123456789abcdef");
    let whsec = SecretEncoding::Whsec
        .decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap();
    assert_eq!(whsec.len(), 24);
}

#[test]
fn rejects_short_and_malformed_secrets() {
    assert!(SecretEncoding::Utf8.decode("short").is_err());
    assert!(SecretEncoding::Base64.decode("!!!").is_err());
    assert!(SecretEncoding::Whsec
        .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .is_err());
    assert!(SecretEncoding::Utf8.decode(&"x".repeat(2000)).is_err());
}

#[test]
fn debug_output_hides_the_key() {
    let s = Secret::new("current".into(), b"super-secret-value".to_vec());
    let shown = format!("{s:?}");
    assert!(shown.contains("current"));
    assert!(!shown.contains("super-secret-value"));
}

/// RFC 8032, test 1: the public key of the all-`9d61..` seed.
const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

#[test]
fn ed25519_public_keys_in_each_spelling() {
    let bytes = hex::decode(RFC8032_PUBLIC).unwrap();
    let b64 = STANDARD.encode(&bytes);
    for text in [
        RFC8032_PUBLIC.to_string(),
        RFC8032_PUBLIC.to_uppercase(),
        format!("whpk_{b64}"),
        b64.clone(),
        format!("  {b64}\n"),
    ] {
        assert!(ed25519_public(&text).is_ok(), "{text}");
    }
    // Wrong length, wrong alphabet, the identity point (weak), not on the curve.
    let identity = format!("01{}", "00".repeat(31));
    for bad in [
        "",
        "whpk_",
        "whpk_!!!",
        &RFC8032_PUBLIC[..62],
        &"zz".repeat(32),
        identity.as_str(),
        &STANDARD.encode([0u8; 33]),
    ] {
        assert!(ed25519_public(bad).is_err(), "{bad}");
    }
}

#[test]
fn p256_public_keys_der_pem_and_sec1() {
    use p256::pkcs8::EncodePublicKey;
    let signing = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let public = signing.verifying_key();
    let der = public.to_public_key_der().unwrap();
    let b64 = STANDARD.encode(der.as_bytes());
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n{}\n-----END PUBLIC KEY-----\n",
        &b64[..64],
        &b64[64..]
    );
    let sec1 = STANDARD.encode(public.to_encoded_point(false).as_bytes());
    for text in [&b64, &pem, &sec1] {
        assert_eq!(p256_public(text).unwrap(), *public, "{text}");
    }
    for bad in ["", "!!!", &STANDARD.encode([4u8; 65]), &b64[..40]] {
        assert!(p256_public(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_key_in_the_wrong_field_says_what_the_endpoint_wants() {
    let e = Secret::from_text(
        "a".into(),
        Algorithm::HmacSha256,
        SecretEncoding::Utf8,
        "0123456789abcdef",
        Field::PublicKey,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("shared secret in \"value\" or \"env\""), "{e}");
    let e = Secret::from_text(
        "a".into(),
        Algorithm::Ed25519,
        SecretEncoding::Utf8,
        RFC8032_PUBLIC,
        Field::Value,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("Ed25519 public key"), "{e}");
    let e = Secret::from_text(
        "a".into(),
        Algorithm::EcdsaP256Sha256,
        SecretEncoding::Utf8,
        "not a key",
        Field::PublicKey,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("P-256 public key (base64 DER"), "{e}");
    assert!(!e.contains("not a key"), "{e}");
    // A whpk_ key is a Standard Webhooks endpoint's public key.
    let whpk = format!(
        "whpk_{}",
        STANDARD.encode(hex::decode(RFC8032_PUBLIC).unwrap())
    );
    assert!(Secret::from_text(
        "a".into(),
        Algorithm::HmacSha256,
        SecretEncoding::Whsec,
        &whpk,
        Field::PublicKey
    )
    .is_ok());
}

#[test]
fn tokens_compare_whole() {
    let s = Secret::from_text(
        "t".into(),
        Algorithm::Token,
        SecretEncoding::Utf8,
        "gitlab-token-0123456789",
        Field::Value,
    )
    .unwrap();
    let offer = |b: &[u8]| {
        vec![OfferedSig {
            bytes: b.to_vec(),
            kind: SigKind::Any,
        }]
    };
    let verifies = |b: &[u8]| s.verifies(&ToVerify::new(&[], &offer(b)));
    assert!(verifies(b"gitlab-token-0123456789"));
    for bad in [
        &b"gitlab-token-012345678"[..],
        b"gitlab-token-01234567890",
        b"GITLAB-TOKEN-0123456789",
        b"",
    ] {
        assert!(!verifies(bad), "{bad:?}");
    }
}
