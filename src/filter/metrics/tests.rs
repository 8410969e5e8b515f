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

#[test]
fn give_up_reasons_follow_their_slots() {
    for (i, r) in GiveUp::ALL.into_iter().enumerate() {
        assert_eq!(r as usize, i);
    }
    for op in metrics::SETTLEMENT_OPS {
        assert!(Operation::ALL.iter().any(|o| o.name() == op), "{op}");
    }
}
