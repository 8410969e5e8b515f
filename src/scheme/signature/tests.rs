use super::*;
use crate::keys::{matching_secret, Secret};
use crate::request::headers::CapturedHeaders;
use crate::scheme::template::*;
use sha2::{Digest, Sha256};

fn secret(id: &str, key: &[u8]) -> Secret {
    Secret::new(id.to_string(), key.to_vec())
}

fn github() -> SignatureFormat {
    SignatureFormat::single("sha256=", Encoding::Hex)
}

fn stripe() -> SignatureFormat {
    SignatureFormat {
        timestamp_item: Some("t=".into()),
        ..SignatureFormat::list(b',', "v1=", Encoding::Hex)
    }
}

fn standard() -> SignatureFormat {
    SignatureFormat {
        ed25519_prefix: Some("v1a,".into()),
        ..SignatureFormat::list(b' ', "v1,", Encoding::Base64)
    }
}

const SHA256: Algorithm = Algorithm::HmacSha256;

#[test]
fn github_documented_vector() {
    let mac = hmac_sha256(b"It's a Secret to Everybody", &[b"Hello, World!"]);
    assert_eq!(
        hex::encode(mac),
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    let header = b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let offered = github().parse(header, SHA256).unwrap();
    let secrets = [secret("s", b"It's a Secret to Everybody")];
    assert_eq!(
        matching_secret(&secrets, &[b"Hello, World!"], &offered.sigs),
        Some(0)
    );
    assert_eq!(
        matching_secret(&secrets, &[b"Hello, World?"], &offered.sigs),
        None
    );
}

#[test]
fn genesys_base64_vector_and_uppercase_hex() {
    let format = SignatureFormat::single("sha256=", Encoding::Base64);
    let offered = format
        .parse(
            b"sha256=dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc=",
            SHA256,
        )
        .unwrap();
    let secrets = [secret("s", b"It's a Secret to Everybody")];
    assert_eq!(
        matching_secret(&secrets, &[b"Hello, World!"], &offered.sigs),
        Some(0)
    );
    let upper = b"sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17";
    assert!(github().parse(upper, SHA256).is_ok());
}

#[test]
fn rotation_reports_the_matching_secret() {
    let key_old = b"old-secret-0123456789";
    let key_new = b"new-secret-0123456789";
    let mac = hmac_sha256(key_old, &[b"body"]);
    let secrets = [secret("current", key_new), secret("previous", key_old)];
    let offered = [OfferedSig {
        bytes: mac.to_vec(),
        kind: SigKind::Any,
    }];
    assert_eq!(matching_secret(&secrets, &[b"body"], &offered), Some(1));
}

#[test]
fn malformed_headers_are_errors_not_panics() {
    let bad: [&[u8]; 9] = [
        b"",
        b"sha256=",
        b"sha256=zz",
        b"sha256=757107ea",
        b"sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        b"\xff\xfe\xfd",
        b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
        b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17aa",
        b"sha256= 757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    ];
    for raw in bad {
        assert_eq!(github().parse(raw, SHA256), Err(Malformed), "{raw:?}");
    }
    let b64 = SignatureFormat::single("", Encoding::Base64);
    for raw in [
        &b"abc"[..],
        b"====",
        b"dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPh",
    ] {
        assert_eq!(b64.parse(raw, SHA256), Err(Malformed));
    }
    // The length is the algorithm's: a SHA-256 MAC is not a SHA-1 one, nor SHA-512.
    let mac = hex::encode([1u8; 32]);
    let sha1 = SignatureFormat::single("sha1=", Encoding::Hex);
    assert!(sha1
        .parse(format!("sha1={mac}").as_bytes(), Algorithm::HmacSha1)
        .is_err());
    assert!(sha1
        .parse(
            format!("sha1={}", &mac[..40]).as_bytes(),
            Algorithm::HmacSha1
        )
        .is_ok());
    let sha512 = format!("{mac}{mac}");
    assert!(SignatureFormat::single("", Encoding::Hex)
        .parse(sha512.as_bytes(), Algorithm::HmacSha512)
        .is_ok());
    // A token is its bytes, whatever they are; an oversized one is refused.
    let token = SignatureFormat::single("", Encoding::Text);
    assert_eq!(
        token.parse(b" tok en ", Algorithm::Token).unwrap().sigs[0].bytes,
        b"tok en"
    );
    assert!(token
        .parse(&[b'a'; MAX_SIGNATURE_BYTES + 1], Algorithm::Token)
        .is_err());
}

#[test]
fn list_headers_stripe_paddle_pagerduty() {
    let mac = hex::encode([7u8; 32]);
    let ok = format!("t=1492774577,v1={mac},v0=ignored,v1={mac}");
    let offered = stripe().parse(ok.as_bytes(), SHA256).unwrap();
    assert_eq!(offered.sigs.len(), 2);
    assert_eq!(offered.timestamp.as_deref(), Some(&b"1492774577"[..]));
    // Whitespace around items, a trailing separator: read as the senders' SDKs do.
    let spaced = format!(" t=1 , v1={mac} ,");
    assert!(stripe().parse(spaced.as_bytes(), SHA256).is_ok());
    for bad in [
        format!("v1={mac}"),
        "t=1".to_string(),
        format!("t=1,t=2,v1={mac}"),
        format!("t=1,v1={mac}x"),
        format!("t=1,v1={mac},junk"),
        "t=1,v1".to_string(),
        String::new(),
        format!(
            "t=1,{}",
            vec![format!("v1={mac}"); MAX_SIGNATURES + 1].join(",")
        ),
    ] {
        assert_eq!(
            stripe().parse(bad.as_bytes(), SHA256),
            Err(Malformed),
            "{bad}"
        );
    }
    let paddle = SignatureFormat {
        timestamp_item: Some("ts=".into()),
        ..SignatureFormat::list(b';', "h1=", Encoding::Hex)
    };
    let p = format!("ts=1671552777;h1={mac};h1={mac}");
    assert_eq!(paddle.parse(p.as_bytes(), SHA256).unwrap().sigs.len(), 2);
    // Stripe's separator is not Paddle's: one item `ts=..,h1=..` is a bad timestamp.
    let q = format!("ts=1671552777,h1={mac}");
    assert_eq!(paddle.parse(q.as_bytes(), SHA256), Err(Malformed));
    let pagerduty = SignatureFormat::list(b',', "v1=", Encoding::Hex);
    let v = format!("v1={mac},v1={}", hex::encode([8u8; 32]));
    assert_eq!(pagerduty.parse(v.as_bytes(), SHA256).unwrap().sigs.len(), 2);
    assert!(pagerduty.parse(b"v2=abc", SHA256).is_err());
}

#[test]
fn standard_webhooks_header_parsing() {
    let ed = STANDARD.encode([9u8; 64]);
    let ok = format!("v1a,{ed} v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v2,abc");
    let offered = standard().parse(ok.as_bytes(), SHA256).unwrap();
    assert_eq!(offered.sigs.len(), 2);
    assert_eq!(offered.sigs[0].kind, SigKind::Ed25519);
    assert_eq!(offered.sigs[1].kind, SigKind::Mac);
    // Three Ed25519 signatures: more public-key work than any rotation needs.
    let three = format!("v1a,{ed} v1a,{ed} v1a,{ed}");
    assert_eq!(standard().parse(three.as_bytes(), SHA256), Err(Malformed));
    let two = format!("v1a,{ed} v1a,{ed} v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    assert_eq!(
        standard().parse(two.as_bytes(), SHA256).unwrap().sigs.len(),
        3
    );
    for bad in [
        &b""[..],
        b"v1a,xyz",
        b"v1,",
        b"v1,abc",
        b"nocomma",
        b"v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ] {
        assert_eq!(standard().parse(bad, SHA256), Err(Malformed), "{bad:?}");
    }
}

#[test]
fn templates() {
    let t = Template::parse("v0:{timestamp}:{body}").unwrap();
    assert_eq!(
        t.parts,
        vec![
            Part::Literal(b"v0:".to_vec()),
            Part::Timestamp,
            Part::Literal(b":".to_vec()),
            Part::Body
        ]
    );
    assert!(t.uses_timestamp() && t.covers_body() && !t.uses_url());
    let h = Template::parse("{header:Webhook-Id}.{body}").unwrap();
    assert_eq!(
        h.headers().next().unwrap().names,
        vec!["webhook-id".to_string()]
    );
    let all = Template::parse("{method}{url}{url_decoded}{form_params}{json:/a/b}").unwrap();
    assert!(all.uses_url() && all.uses_json() && all.covers_body());
    assert_eq!(all.wanted_headers(), vec![":method", ":path"]);
    for bad in [
        "",
        "{body",
        "{nope}{body}",
        "{header:}{body}",
        "{header:a b}{body}",
        "{json:a}",
    ] {
        assert!(Template::parse(bad).is_err(), "{bad}");
    }
}

fn render(
    t: &str,
    body: &[u8],
    headers: &[(&str, &[u8])],
    url: &str,
) -> Result<Vec<u8>, RenderError> {
    let t = Template::parse(t).unwrap();
    let wanted = t.wanted_headers();
    let captured = CapturedHeaders::capture(headers.iter().copied(), &wanted);
    let r = Request {
        body,
        timestamp: b"",
        headers: &captured,
        public_url: url,
    };
    t.render(&r).map(|p| p.concat())
}

#[test]
fn form_parameters_sorted_and_decoded_as_twilio_does() {
    let body = b"To=%2B15558675310&Body=Hello+there&From=%2B15017122661&Body=Abc&Flag=&Bad=%zz";
    let out = render("{form_params}", body, &[(":path", b"/sms")], "").unwrap();
    assert_eq!(
        out,
        b"Bad%zzBodyAbcBodyHello thereFlagFrom+15017122661To+15558675310"
    );
    // Empty body: nothing but the URL.
    let out = render(
        "{url}{form_params}",
        b"",
        &[(":path", b"/x?a=1")],
        "https://h.example",
    )
    .unwrap();
    assert_eq!(out, b"https://h.example/x?a=1");
}

#[test]
fn body_sha256_replaces_the_form_for_json_bodies() {
    let body = br#"{"a":1}"#;
    let digest = hex::encode(Sha256::digest(body));
    let path = format!("/x?bodySHA256={digest}");
    let ok = render(
        "{url}{form_params}",
        body,
        &[(":path", path.as_bytes())],
        "https://h.example",
    )
    .unwrap();
    assert_eq!(ok, format!("https://h.example{path}").as_bytes());
    let other = render(
        "{url}{form_params}",
        br#"{"a":2}"#,
        &[(":path", path.as_bytes())],
        "https://h.example",
    );
    assert_eq!(other, Err(RenderError::BodyDigest));
    let garbage = render("{form_params}", body, &[(":path", b"/x?bodySHA256=zz")], "");
    assert_eq!(garbage, Err(RenderError::BodyDigest));
}

#[test]
fn hubspot_decodes_only_its_reserved_characters() {
    let out = render(
        "{method}{url_decoded}",
        b"",
        &[
            (":method", b"POST"),
            (
                ":path",
                b"/h?a=%3a%2F%3F%40%21%24%27%28%29%2A%2C%3B&b=%20%41%",
            ),
        ],
        "https://h.example",
    )
    .unwrap();
    assert_eq!(out, b"POSThttps://h.example/h?a=:/?@!$'()*,;&b=%20%41%");
    let missing = render("{method}{body}", b"", &[], "");
    assert_eq!(missing, Err(RenderError::Missing));
}

#[test]
fn hubspot_refuses_paths_that_decode_to_other_routes() {
    for path in [
        &b"/h%2Fhooks?tenant=1"[..],
        b"/h/hooks%3Ftenant=1",
        b"/h%2fhooks%3ftenant=1",
    ] {
        let out = render(
            "{method}{url_decoded}",
            b"",
            &[(":method", b"POST"), (":path", path)],
            "https://h.example",
        );
        assert_eq!(out, Err(RenderError::Missing), "{path:?}");
    }
    // In the query, escaped separators are data, as HubSpot signs them.
    let ok = render(
        "{url_decoded}",
        b"",
        &[(":path", b"/h?next=%2Fa%3Fb")],
        "https://h",
    );
    assert_eq!(ok.unwrap(), b"https://h/h?next=/a?b");
}

#[test]
fn form_parameters_sign_what_the_receiver_reads() {
    // "%+A" is "%", a space, "A" for every form decoder (unquote_plus, Rack, PHP), not a
    // newline.
    assert_eq!(
        sorted_form(b"Body=a%+Ab&To=%2B1").unwrap(),
        vec![
            (b"Body".to_vec(), b"a% Ab".to_vec()),
            (b"To".to_vec(), b"+1".to_vec())
        ]
    );
    // A parameter without "=" could move the boundary between two others.
    assert_eq!(sorted_form(b"Body=Hell&oTo"), None);
    assert_eq!(sorted_form(b"Amount100&To=x"), None);
    // Bounded before any MAC is checked.
    let many = b"a=1&".repeat(MAX_FORM_PARAMS + 1);
    assert_eq!(sorted_form(&many), None);
    assert_eq!(
        sorted_form(&many[..4 * MAX_FORM_PARAMS]).map(|p| p.len()),
        Some(MAX_FORM_PARAMS)
    );
}

#[test]
fn json_fields_are_their_text() {
    let body = br#"{"s":{"timestamp":"1700000000","token":"ab\u0063","n":5}}"#;
    let out = render(
        "{json:/s/timestamp}{json:/s/token}{json:/s/n}",
        body,
        &[],
        "",
    )
    .unwrap();
    assert_eq!(out, b"1700000000abc5");
    for missing in ["{json:/s/none}", "{json:/s}"] {
        assert_eq!(
            render(missing, body, &[], ""),
            Err(RenderError::Missing),
            "{missing}"
        );
    }
}
