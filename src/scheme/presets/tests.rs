use super::*;

#[test]
fn every_named_preset_exists_and_covers_the_body() {
    for name in PRESET_NAMES {
        let s = preset(name).unwrap();
        assert!(!s.signed_content.parts.is_empty(), "{name}");
        // The documented exception: Mailgun signs its timestamp and token only
        // (docs/configuration.md, "Presets"). A shared token signs nothing, whatever its template says.
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
    for name in PRESET_NAMES.iter().filter(|n| **n != "custom") {
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

#[test]
fn the_table_names_each_preset_once_custom_included() {
    for (i, p) in PRESETS.iter().enumerate() {
        assert!(
            PRESETS[..i].iter().all(|q| q.name != p.name),
            "{} twice",
            p.name
        );
        assert_eq!(PRESET_NAMES[i], p.name);
        assert!(preset(p.name).is_some(), "{}", p.name);
    }
    assert!(PRESET_NAMES.contains(&"custom"));
}

/// The configuration's error for an unknown preset lists the table, `custom` included.
#[test]
fn an_unknown_preset_is_answered_with_every_preset_including_custom() {
    let json = r#"{"endpoints":[{"name":"e","path_prefix":"/h","preset":"gitlab-ee","secrets":[{"id":"a","value":"0123456789abcdef"}]}]}"#;
    let e = match crate::config::Config::parse(json.as_bytes(), &|_| None) {
        Ok(_) => panic!("an unknown preset was accepted"),
        Err(e) => e,
    };
    assert_eq!(e.field, "endpoints[0] (e).preset");
    let listed = e
        .reason
        .strip_prefix("unknown preset; expected one of ")
        .unwrap_or_else(|| panic!("{}", e.reason));
    let listed: Vec<&str> = listed.split(", ").collect();
    let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
    assert_eq!(listed, names);
    assert!(listed.contains(&"custom"));
}

/// The configuration reference's preset table (docs/configuration.md) documents every preset
/// of the table but `custom` (documented by the fields it is made of), in the table's order.
#[test]
fn the_configuration_reference_documents_the_presets_of_the_table() {
    let reference = include_str!("../../../docs/configuration.md");
    let section = reference
        .split_once("\n## Presets\n")
        .map(|(_, rest)| rest)
        .expect("docs/configuration.md's Presets section");
    let documented: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with("| preset |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|row| row.split('|').nth(1))
        .map(|cell| cell.trim().trim_matches('`'))
        .collect();
    let names: Vec<&str> = PRESET_NAMES
        .into_iter()
        .filter(|n| *n != "custom")
        .collect();
    assert_eq!(documented, names);
}

/// `docs/presets/` has one page per preset of the table, `custom` included, and no other
/// (an index, `README.md`, aside).
#[test]
fn the_preset_pages_are_the_presets_of_the_table() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/presets");
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|file| file != "README.md")
        .filter_map(|file| file.strip_suffix(".md").map(str::to_string))
        .collect();
    pages.sort();
    let mut names: Vec<String> = PRESET_NAMES.iter().map(|n| n.to_string()).collect();
    names.sort();
    assert_eq!(pages, names);
}

/// The index of `docs/presets/` links every preset's page, in the table's order.
#[test]
fn the_preset_index_links_every_page() {
    let index = include_str!("../../../docs/presets/README.md");
    let linked: Vec<&str> = index
        .lines()
        .filter_map(|l| l.strip_prefix("| [`"))
        .filter_map(|l| l.split_once('`').map(|(name, _)| name))
        .collect();
    assert_eq!(linked, PRESET_NAMES);
    for name in PRESET_NAMES {
        assert!(index.contains(&format!("]({name}.md)")), "{name}");
    }
}
