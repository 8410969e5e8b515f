use super::*;
use crate::answer::Reject;

#[test]
fn names_encode_labels_the_stats_tags_can_extract() {
    assert_eq!(
        rejected("genesys", "invalid_signature", false),
        "webhook_guard_filter.rejected_total.endpoint.genesys.reason.invalid_signature"
    );
    assert_eq!(
        rejected("genesys", "stale_timestamp", true),
        "webhook_guard_filter.would_reject_total.endpoint.genesys.reason.stale_timestamp"
    );
    assert_eq!(
        accepted("genesys", "previous"),
        "webhook_guard_filter.accepted_total.endpoint.genesys.secret_id.previous"
    );
    assert_eq!(
        claims("kept"),
        "webhook_guard_filter.claims_total.outcome.kept"
    );
    assert_eq!(
        settlements_given_up("commit", GiveUp::RetriesExhausted),
        "webhook_guard_filter.settlements_given_up_total.op.commit.reason.retries_exhausted"
    );
    assert_eq!(
        build_info("1.2.3"),
        "webhook_guard_filter.build_info.version.1.2.3"
    );
    let codes: Vec<&str> = crate::answer::REFUSALS.iter().map(Reject::code).collect();
    assert!(codes.contains(&"schema_violation") && !codes.contains(&"duplicate"));
}

/// Prometheus conventions: every counter ends in `_total`, the histogram names its unit in
/// full, every name has the filter's prefix.
#[test]
fn names_follow_prometheus_conventions() {
    let counters = [
        accepted("e", "s"),
        rejected("e", "r", false),
        rejected("e", "r", true),
        duplicates("e"),
        cache_errors("claim"),
        cache_settled("commit"),
        claims("kept"),
        settlements_given_up("release", GiveUp::QueueFull),
    ];
    for name in &counters {
        let family = name.split('.').nth(1).unwrap();
        assert!(family.ends_with("_total"), "{name}");
        assert!(name.starts_with("webhook_guard_filter."), "{name}");
    }
    assert!(CLAIM_DURATION_MS.starts_with(&format!("{PREFIX}.")));
    assert!(CLAIM_DURATION_MS.ends_with("_milliseconds"));
    assert!(!build_info(VERSION).contains("_total"));
    assert!(!VERSION.is_empty());
}
