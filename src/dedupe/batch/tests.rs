use super::*;
use crate::dedupe::client::{claim_request, Settlement};

const T: &str = "0123456789abcdef0123456789abcdef";

fn token(i: usize) -> String {
    format!("{i:032x}")
}

fn settlement(s: Settlement, i: usize) -> Queued {
    Queued {
        settlement: s,
        body: s.request(&format!("k{i}"), &token(i), 86_400, 60),
        attempt: 1,
    }
}

fn submit(b: &mut Batcher<usize>, i: usize, now: u64) -> (u32, Wake) {
    b.submit(
        token(i),
        claim_request(&format!("k{i}"), &token(i), 60),
        now,
        i,
    )
    .unwrap()
}

fn body(o: &Outgoing) -> serde_json::Value {
    serde_json::from_slice(&o.body).expect("a batch is JSON")
}

fn claims(a: &[Answered<usize>]) -> Vec<(usize, ClaimVerdict, bool)> {
    a.iter()
        .filter_map(|a| match a {
            Answered::Claim {
                claim,
                verdict,
                sent,
            } => Some((claim.waiter, verdict.clone(), *sent)),
            _ => None,
        })
        .collect()
}

fn settles(a: &[Answered<usize>]) -> Vec<(Settlement, SettleResult)> {
    a.iter()
        .filter_map(|a| match a {
            Answered::Settle { queued, result } => Some((queued.settlement, *result)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_lone_claim_goes_at_once_and_what_comes_meanwhile_waits_for_the_next() {
    let mut b = Batcher::default();
    assert_eq!(submit(&mut b, 0, 0).1, Wake::Ring);
    assert_eq!(submit(&mut b, 1, 0).1, Wake::No, "a wake-up is on its way");
    b.rang();
    let (expired, out) = b.take(1, 250);
    assert!(expired.is_empty());
    let out = out.unwrap();
    assert_eq!(out.timeout_ms, 250, "every batch gets the whole timeout");
    let v = body(&out);
    assert_eq!(v["ops"].as_array().unwrap().len(), 2);
    assert_eq!(v["ops"][1]["id"], 1);
    assert_eq!(v["ops"][1]["claim"]["token"], token(1).as_str());
    assert!(b.dispatched(Ok(7)).is_empty());
    assert_eq!(submit(&mut b, 2, 2).1, Wake::No, "the answer will send it");
    assert!(b.push_settlement(settlement(Settlement::Commit, 3)));
    assert_eq!(b.take(2, 250).1, None, "one batch in flight at most");
    let answer = format!(
        r#"{{"results":[{{"id":1,"result":"in_flight"}},{{"id":0,"result":"claimed","token":"{}"}}]}}"#,
        token(0)
    );
    assert!(b.answered(8, Some(b"200"), answer.as_bytes()).is_none());
    let a = b.answered(7, Some(b"200"), answer.as_bytes()).unwrap();
    assert_eq!(
        claims(&a),
        [
            (0, ClaimVerdict::Claimed { token: token(0) }, true),
            (1, ClaimVerdict::InFlight, true)
        ]
    );
    let out = b.take(3, 250).1.unwrap();
    let v = body(&out);
    assert_eq!(v["ops"][0]["commit"]["key"], "k3", "settlements first");
    assert_eq!(v["ops"][1]["claim"]["key"], "k2");
    assert!(!b.is_idle());
    b.dispatched(Ok(9));
    let a = b
        .answered(
            9,
            Some(b"200"),
            br#"{"results":[{"id":1,"result":"done"},{"id":0,"result":"committed"}]}"#,
        )
        .unwrap();
    assert_eq!(claims(&a), [(2, ClaimVerdict::Done, true)]);
    assert_eq!(settles(&a), [(Settlement::Commit, SettleResult::Settled)]);
    assert!(b.is_idle());
    assert_eq!(
        submit(&mut b, 4, 5).1,
        Wake::Ring,
        "idle again: wake the root"
    );
}

#[test]
fn a_batch_that_partly_fails_fails_only_those_ops() {
    let mut b = Batcher::default();
    submit(&mut b, 0, 0);
    submit(&mut b, 1, 0);
    b.push_settlement(settlement(Settlement::Commit, 2));
    b.push_settlement(settlement(Settlement::Release, 3));
    b.push_settlement(settlement(Settlement::Abandon, 4));
    let out = b.take(0, 250).1.unwrap();
    // Settlements first: a release lands before a retry it makes room for.
    assert_eq!(body(&out)["ops"][2]["release"]["ttl_ms"], 60_000);
    assert!(body(&out)["ops"][3]["claim"].is_object());
    b.dispatched(Ok(1));
    let answer = format!(
        r#"{{"results":[{{"id":3,"error":"capacity"}},{{"id":4,"result":"claimed","token":"{}"}},
           {{"id":0,"error":"backend_unavailable"}},{{"id":1,"error":"bad_request"}},
           {{"id":2,"result":"not_owner"}}]}}"#,
        token(1)
    );
    let a = b.answered(1, Some(b"200"), answer.as_bytes()).unwrap();
    assert_eq!(
        claims(&a),
        [
            (0, ClaimVerdict::Unavailable, true),
            (1, ClaimVerdict::Claimed { token: token(1) }, true)
        ]
    );
    assert_eq!(
        settles(&a),
        [
            (Settlement::Commit, SettleResult::Retry),
            (Settlement::Release, SettleResult::Refused),
            (Settlement::Abandon, SettleResult::Settled)
        ]
    );
}

#[test]
fn a_batch_without_an_answer_fails_every_op_as_a_lone_call_would() {
    for (status, body, retry) in [
        (None, &b""[..], SettleResult::Retry),
        (
            Some(&b"504"[..]),
            &b"upstream request timeout"[..],
            SettleResult::Retry,
        ),
        (
            Some(b"503"),
            br#"{"error":"backend_unavailable"}"#,
            SettleResult::Retry,
        ),
        (Some(b"429"), b"", SettleResult::Retry),
        // A whole batch refused says nothing of each settlement (an older cache's 404,
        // one bad entry's 400): sent again, in other batches.
        (
            Some(b"400"),
            br#"{"error":"bad_request"}"#,
            SettleResult::Retry,
        ),
        (Some(b"404"), b"", SettleResult::Retry),
        (Some(b"200"), b"garbage", SettleResult::Retry),
        (
            Some(b"200"),
            br#"{"result":"claimed"}"#,
            SettleResult::Retry,
        ),
        (Some(b"200"), br#"{"results":{}}"#, SettleResult::Retry),
    ] {
        let mut b = Batcher::default();
        submit(&mut b, 0, 0);
        b.push_settlement(settlement(Settlement::Commit, 1));
        b.take(0, 250);
        b.dispatched(Ok(1));
        let a = b.answered(1, status, body).unwrap();
        assert_eq!(
            claims(&a),
            [(0, ClaimVerdict::Unavailable, true)],
            "{status:?}"
        );
        assert_eq!(settles(&a), [(Settlement::Commit, retry)], "{status:?}");
        assert!(b.is_idle());
    }
}

#[test]
fn entries_that_are_missing_garbled_duplicated_or_not_ours_are_not_trusted() {
    let mut b = Batcher::default();
    for i in 0..6 {
        submit(&mut b, i, 0);
    }
    b.push_settlement(settlement(Settlement::Commit, 6));
    b.push_settlement(settlement(Settlement::Release, 7));
    b.take(0, 250);
    b.dispatched(Ok(1));
    let answer = format!(
        r#"{{"results":[
          {{"id":0,"result":"claimed","token":"{t0}"}},{{"id":0,"result":"done"}},
          {{"id":1,"result":"maybe"}},
          {{"id":"2","result":"done"}},
          {{"id":3,"result":"claimed","token":"{other}"}},
          {{"id":4,"result":"claimed"}},
          {{"id":99,"result":"done"}}, 7, null, "x",
          {{"id":6,"result":"released"}},
          {{"id":7}}
        ], "extra": true}}"#,
        t0 = token(0),
        other = T
    );
    let a = b.answered(1, Some(b"200"), answer.as_bytes()).unwrap();
    let verdicts: Vec<ClaimVerdict> = claims(&a).into_iter().map(|c| c.1).collect();
    assert_eq!(verdicts, vec![ClaimVerdict::Unavailable; 6], "none trusted");
    assert_eq!(
        settles(&a),
        [
            (Settlement::Commit, SettleResult::Retry),
            (Settlement::Release, SettleResult::Retry)
        ]
    );
    // An answer larger than any batch answer is not read at all.
    let mut b = Batcher::default();
    submit(&mut b, 0, 0);
    b.take(0, 250);
    b.dispatched(Ok(1));
    let huge = format!(
        r#"{{"results":[],"pad":"{}"}}"#,
        " ".repeat(MAX_BATCH_BYTES)
    );
    let a = b.answered(1, Some(b"200"), huge.as_bytes()).unwrap();
    assert_eq!(claims(&a), [(0, ClaimVerdict::Unavailable, true)]);
}

#[test]
fn batches_are_bounded_and_settlements_are_not_starved() {
    let mut b = Batcher::default();
    for i in 0..(MAX_BATCH_OPS + 10) {
        submit(&mut b, i, 0);
    }
    for i in 0..100 {
        b.push_settlement(settlement(Settlement::Commit, i));
    }
    let out = b.take(0, 250).1.unwrap();
    assert!(out.body.len() <= MAX_BATCH_BYTES);
    let v = body(&out);
    let ops = v["ops"].as_array().unwrap();
    assert_eq!(ops.len(), MAX_BATCH_OPS);
    let commits = ops.iter().filter(|o| o.get("commit").is_some()).count();
    assert_eq!(commits, MAX_BATCH_OPS / 2);
    let ids: Vec<u64> = ops.iter().map(|o| o["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (0..MAX_BATCH_OPS as u64).collect::<Vec<_>>());
    // Waiting claims are bounded too: one more is given back to fail closed.
    let mut b = Batcher::default();
    for i in 0..MAX_PENDING_CLAIMS {
        submit(&mut b, i, 0);
    }
    assert!(b.submit(T.into(), b"{}".to_vec(), 0, 0).is_err());
    let mut b: Batcher<usize> = Batcher::default();
    for i in 0..MAX_PENDING_SETTLEMENTS {
        assert!(b.push_settlement(settlement(Settlement::Commit, i)));
    }
    assert!(!b.push_settlement(settlement(Settlement::Commit, 0)));
}

#[test]
fn no_claim_waits_in_the_queue_longer_than_the_timeout() {
    let mut b = Batcher::default();
    submit(&mut b, 0, 0);
    b.take(0, 250);
    b.dispatched(Ok(1));
    submit(&mut b, 1, 10);
    submit(&mut b, 2, 200);
    // The batch ahead takes 246 ms (the cache is slow).
    b.answered(1, None, b"");
    let (expired, out) = b.take(256, 250);
    assert_eq!(claims(&expired), [(1, ClaimVerdict::Unavailable, false)]);
    let out = out.unwrap();
    assert_eq!(
        out.timeout_ms, 250,
        "the whole timeout, not what claim 2 has left"
    );
    b.dispatched(Ok(2));
    b.answered(2, None, b"");
    // Settlements alone get the whole timeout.
    b.push_settlement(settlement(Settlement::Commit, 3));
    assert_eq!(b.take(1000, 250).1.unwrap().timeout_ms, 250);
}

#[test]
fn a_claim_withdrawn_before_its_batch_left_was_never_sent() {
    let mut b = Batcher::default();
    let (first, _) = submit(&mut b, 0, 0);
    let (second, _) = submit(&mut b, 1, 0);
    assert!(b.withdraw(second));
    b.take(0, 250);
    b.dispatched(Ok(1));
    assert!(!b.withdraw(first), "in flight: it may have landed");
    assert!(!b.withdraw(12345));
    // A batch that could not be sent answers its ops unsent, and the waiting claims go
    // with it.
    let mut b = Batcher::default();
    submit(&mut b, 0, 0);
    b.push_settlement(settlement(Settlement::Commit, 1));
    b.take(0, 250);
    submit(&mut b, 2, 0);
    let a = b.dispatched(Err(()));
    assert_eq!(claims(&a), [(0, ClaimVerdict::Unavailable, false)]);
    assert_eq!(settles(&a), [(Settlement::Commit, SettleResult::Retry)]);
    assert_eq!(
        claims(&b.fail_waiting_claims()),
        [(2, ClaimVerdict::Unavailable, false)]
    );
    assert!(b.is_idle());
}

#[test]
fn a_hand_off_empties_the_batcher_and_counts_a_send_in_flight_as_failed() {
    let mut b = Batcher::default();
    submit(&mut b, 0, 0);
    b.push_settlement(settlement(Settlement::Commit, 1));
    b.push_settlement(Queued {
        attempt: MAX_ATTEMPTS,
        ..settlement(Settlement::Release, 2)
    });
    b.rang();
    let (_, out) = b.take(0, 250);
    assert!(out.is_some());
    b.dispatched(Ok(7));
    // Meanwhile: another claim and a settlement wait.
    submit(&mut b, 3, 1);
    b.push_settlement(settlement(Settlement::Abandon, 4));
    let (answered, handed) = b.hand_off();
    assert_eq!(
        claims(&answered),
        [
            (3, ClaimVerdict::Unavailable, false),
            (0, ClaimVerdict::Unavailable, true)
        ],
        "waiting: never sent; in flight: may have landed"
    );
    let handed: Vec<_> = handed.iter().map(|q| (q.settlement, q.attempt)).collect();
    assert_eq!(
        handed,
        [
            (Settlement::Abandon, 1),
            (Settlement::Commit, 2),
            (Settlement::Release, MAX_ATTEMPTS)
        ]
    );
    assert!(b.is_idle());
    assert!(
        b.answered(7, Some(b"200"), b"").is_none(),
        "no batch in flight"
    );
    assert_eq!(
        submit(&mut b, 5, 2).1,
        Wake::Ring,
        "no wake-up left pending"
    );
}
