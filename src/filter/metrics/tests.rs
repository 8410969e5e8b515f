use super::*;

#[test]
fn claim_outcomes_follow_the_metric_names() {
    let names = [
        (ClaimOutcome::Claimed, "claimed"),
        (ClaimOutcome::Committed, "committed"),
        (ClaimOutcome::Released, "released"),
        (ClaimOutcome::Kept, "kept"),
        (ClaimOutcome::Abandoned, "abandoned"),
    ];
    for (outcome, name) in names {
        assert_eq!(metrics::CLAIM_OUTCOMES[outcome as usize], name);
    }
    for (i, op) in Operation::ALL.into_iter().enumerate() {
        assert_eq!(op as usize, i, "metric slots follow Operation's order");
    }
}
