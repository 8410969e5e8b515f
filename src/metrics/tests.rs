use super::*;
use crate::answer::Reject;

#[test]
fn names_encode_labels_the_stats_tags_can_extract() {
    assert_eq!(
        rejected("genesys", "invalid_signature", false),
        "webhook_guard.rejected.endpoint.genesys.reason.invalid_signature"
    );
    assert_eq!(
        rejected("genesys", "stale_timestamp", true),
        "webhook_guard.would_reject.endpoint.genesys.reason.stale_timestamp"
    );
    assert_eq!(
        accepted("genesys", "previous"),
        "webhook_guard.accepted.endpoint.genesys.secret_id.previous"
    );
    assert_eq!(claims("kept"), "webhook_guard.claims.outcome.kept");
    let codes: Vec<&str> = crate::answer::REFUSALS.iter().map(Reject::code).collect();
    assert!(codes.contains(&"schema_violation") && !codes.contains(&"duplicate"));
}
