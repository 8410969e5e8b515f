use super::*;

#[test]
fn every_line_is_one_json_object_with_its_event() {
    for event in Event::ALL {
        let text = line(
            event,
            serde_json::json!({ "endpoint": "genesys", "count": 2 }),
        );
        assert!(!text.contains('\n'), "{text}");
        let v: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(v["event"], event.name());
        assert_eq!(v["endpoint"], "genesys");
        assert_eq!(v["count"], 2);
    }
    assert_eq!(
        line(Event::ConfigLoaded, Value::Null),
        r#"{"event":"config_loaded"}"#
    );
    assert_eq!(
        line(Event::ConfigRejected, Value::from("why")),
        r#"{"detail":"why","event":"config_rejected"}"#
    );
}

#[test]
fn the_event_field_wins_over_a_field_of_that_name() {
    let text = line(Event::Accepted, serde_json::json!({ "event": "forged" }));
    assert_eq!(text, r#"{"event":"webhook_accepted"}"#);
}

#[test]
fn event_names_are_distinct_and_stable() {
    let mut names: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Event::ALL.len());
    for n in names {
        assert!(
            n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{n}: lower case and _ only, for queries"
        );
    }
    // Names that dashboards and log queries already use.
    assert_eq!(Event::Rejected.name(), "webhook_rejected");
    assert_eq!(Event::WouldReject.name(), "webhook_would_reject");
    assert_eq!(Event::ClaimKept.name(), "webhook_claim_kept");
}

/// docs/operations.md's event table lists every event, and nothing else.
#[test]
fn the_operations_page_lists_every_event() {
    let doc = include_str!("../../docs/operations.md");
    let listed: Vec<&str> = doc
        .lines()
        .skip_while(|l| !l.contains("<!-- filter events -->"))
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('`').nth(1))
        .filter(|n| !n.is_empty() && *n != "event")
        .collect();
    let mut expected: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
    expected.sort_unstable();
    let mut got = listed.clone();
    got.sort_unstable();
    assert_eq!(got, expected, "docs/operations.md's filter event table");
}
