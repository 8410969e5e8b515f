//! The cache call-out, batched: at most one request to the cache is in flight per worker VM,
//! and the claims, commits, releases and abandons that arrive meanwhile travel together in
//! the next one (`POST /v1/batch`). Under light load nothing waits (a claim goes out at once,
//! alone); under heavy load batches grow by themselves, and each delivery pays a fraction of
//! an HTTP exchange through Envoy instead of two whole ones.
//!
//! Host-free: the root context (`filter::root`) moves the bytes and delivers the answers;
//! this decides what goes in which batch and what each answer means for each op. `W` is
//! whatever the glue needs to hand a claim's answer back to its request.
//!
//! Bounds: a batch holds at most `MAX_BATCH_OPS` ops and `MAX_BATCH_BYTES` bytes; at most
//! `MAX_PENDING_CLAIMS` claims and `MAX_PENDING_SETTLEMENTS` settlements wait. A claim never
//! waits longer in all than the configured `timeout_ms`, as when each claim was its own call:
//! one that waited that long behind a slow batch fails unsent, and a batch's timeout is what
//! its oldest claim has left.

use std::collections::VecDeque;

use crate::dedupe::client::{
    claim_verdict, read_batch_answer, settle_result, BatchReply, ClaimVerdict, Queued,
    SettleResult, MAX_ATTEMPTS, MAX_BATCH_BYTES, MAX_BATCH_OPS,
};

/// Claims that may wait for a batch; more are answered at once as if the cache were
/// unavailable (fail closed), so a cache that stalls cannot grow the VM's memory.
pub(crate) const MAX_PENDING_CLAIMS: usize = 1024;
/// Commits, releases and abandons that may wait; more are dropped with a warning, and their
/// claims lapse after their in-flight TTL (as when a send fails for good).
pub(crate) const MAX_PENDING_SETTLEMENTS: usize = 4096;
/// Shortest timeout a batch is sent with: below it, the claims in it fail unsent.
pub(crate) const MIN_BATCH_TIMEOUT_MS: u64 = 5;

/// A claim waiting for its batch's answer.
#[derive(Debug)]
pub struct PendingClaim<W> {
    /// This claim's id in the batcher (not its id in a batch).
    pub id: u32,
    /// The filter's own token for it (`cache_client::Tokens`).
    pub token: String,
    /// Its body (`cache_client::claim_request`).
    pub body: Vec<u8>,
    /// When it was submitted, in host milliseconds.
    pub since_ms: u64,
    pub waiter: W,
}

#[derive(Debug)]
enum Item<W> {
    Claim(PendingClaim<W>),
    Settle(Queued),
}

/// What an op came to.
#[derive(Debug)]
pub enum Answered<W> {
    /// `sent`: whether the claim may have reached the cache (then a verdict other than
    /// `Claimed` leaves a claim to give up; an unsent one has none).
    Claim {
        claim: PendingClaim<W>,
        verdict: ClaimVerdict,
        sent: bool,
    },
    Settle {
        queued: Queued,
        result: SettleResult,
    },
}

/// A batch to send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub body: Vec<u8>,
    pub timeout_ms: u64,
}

#[derive(Debug)]
pub(crate) struct Batcher<W> {
    claims: VecDeque<PendingClaim<W>>,
    settlements: VecDeque<Queued>,
    /// Taken for the batch being dispatched, until `dispatched` says how it went.
    staged: Vec<Item<W>>,
    /// The batch in flight: its call token and ops, by id (the index).
    in_flight: Option<(u32, Vec<Item<W>>)>,
    next_claim_id: u32,
    /// A wake-up for the root context is on its way (`ring` said so); cleared by `rang`.
    rung: bool,
}

impl<W> Default for Batcher<W> {
    fn default() -> Self {
        Batcher {
            claims: VecDeque::new(),
            settlements: VecDeque::new(),
            staged: Vec::new(),
            in_flight: None,
            next_claim_id: 0,
            rung: false,
        }
    }
}

/// Whether the root context must be woken to send what was just added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Nothing is in flight and no wake-up is on its way: wake the root.
    Ring,
    /// A batch in flight or a wake-up on its way will pick it up.
    No,
}

impl<W> Batcher<W> {
    /// Queues a claim; `Err` gives it back when too many wait already.
    pub(crate) fn submit(
        &mut self,
        token: String,
        body: Vec<u8>,
        since_ms: u64,
        waiter: W,
    ) -> Result<(u32, Wake), W> {
        if self.claims.len() >= MAX_PENDING_CLAIMS {
            return Err(waiter);
        }
        let id = self.next_claim_id;
        self.next_claim_id = self.next_claim_id.wrapping_add(1);
        self.claims.push_back(PendingClaim {
            id,
            token,
            body,
            since_ms,
            waiter,
        });
        Ok((id, self.wake()))
    }

    /// Queues a commit, release or abandon from a request context: whether to wake the
    /// root; `None` when too many wait already.
    pub(crate) fn offer_settlement(&mut self, queued: Queued) -> Option<Wake> {
        self.push_settlement(queued).then(|| self.wake())
    }

    /// Queues a commit, release or abandon; `false` when too many wait already.
    pub(crate) fn push_settlement(&mut self, queued: Queued) -> bool {
        if self.settlements.len() >= MAX_PENDING_SETTLEMENTS {
            return false;
        }
        self.settlements.push_back(queued);
        true
    }

    fn wake(&mut self) -> Wake {
        if self.rung || self.in_flight.is_some() {
            return Wake::No;
        }
        self.rung = true;
        Wake::Ring
    }

    /// The wake-up arrived.
    pub(crate) fn rang(&mut self) {
        self.rung = false;
    }

    /// Takes back a claim whose request went away: `true` when it was never sent (nothing
    /// to give up), `false` when it may have reached the cache (it is in flight or was
    /// answered).
    pub(crate) fn withdraw(&mut self, id: u32) -> bool {
        match self.claims.iter().position(|c| c.id == id) {
            Some(i) => {
                self.claims.remove(i);
                true
            }
            None => false,
        }
    }

    #[cfg(test)]
    /// Nothing waits and nothing is in flight.
    pub(crate) fn is_idle(&self) -> bool {
        self.claims.is_empty()
            && self.settlements.is_empty()
            && self.staged.is_empty()
            && self.in_flight.is_none()
    }

    /// The settlements waiting for a batch (for tests of the glue).
    #[cfg(test)]
    pub(crate) fn waiting_settlements(&self) -> Vec<Queued> {
        self.settlements.iter().cloned().collect()
    }

    /// The next batch, unless one is in flight or nothing waits. First gives back the claims
    /// that waited `timeout_ms` already (unavailable, unsent). Settlements go first, up to
    /// half of a full batch (so a steady stream of claims cannot hold commits back, and a
    /// release lands before the sender's retry it makes room for), then claims, then the
    /// other settlements. Every batch gets the whole `timeout_ms`: cut to what its oldest
    /// claim had left, a cache answering in 0.6 x `timeout_ms` failed every other batch,
    /// fresh claims and commits with it. A claim thus waits at most about twice
    /// `timeout_ms` (the batch before it, then its own).
    pub fn take(&mut self, now_ms: u64, timeout_ms: u64) -> (Vec<Answered<W>>, Option<Outgoing>) {
        if self.in_flight.is_some() || !self.staged.is_empty() {
            return (Vec::new(), None);
        }
        let mut expired = Vec::new();
        while let Some(c) = self.claims.front() {
            if now_ms.saturating_sub(c.since_ms) + MIN_BATCH_TIMEOUT_MS <= timeout_ms {
                break;
            }
            if let Some(claim) = self.claims.pop_front() {
                expired.push(Answered::Claim {
                    claim,
                    verdict: ClaimVerdict::Unavailable,
                    sent: false,
                });
            }
        }
        let reserved = self.settlements.len().min(MAX_BATCH_OPS / 2);
        let mut body = b"{\"ops\":[".to_vec();
        let mut entry = Vec::new();
        let mut claims_taken = 0;
        let mut settlements_taken = 0;
        loop {
            let n = self.staged.len();
            if n >= MAX_BATCH_OPS {
                break;
            }
            entry.clear();
            let from_claims = settlements_taken >= reserved
                && claims_taken < MAX_BATCH_OPS - reserved
                && !self.claims.is_empty();
            if from_claims {
                if let Some(c) = self.claims.front() {
                    entry.extend_from_slice(b"{\"id\":");
                    entry.extend_from_slice(n.to_string().as_bytes());
                    entry.extend_from_slice(b",\"claim\":");
                    entry.extend_from_slice(&c.body);
                    entry.push(b'}');
                }
            } else if let Some(q) = self.settlements.front() {
                q.batch_entry(n, &mut entry);
            } else {
                break;
            }
            // The separator, the entry and the closing `]}` must fit.
            if body.len() + 1 + entry.len() + 2 > MAX_BATCH_BYTES {
                break;
            }
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&entry);
            let item = if from_claims {
                claims_taken += 1;
                self.claims.pop_front().map(Item::Claim)
            } else {
                settlements_taken += 1;
                self.settlements.pop_front().map(Item::Settle)
            };
            if let Some(item) = item {
                self.staged.push(item);
            }
        }
        if self.staged.is_empty() {
            return (expired, None);
        }
        body.extend_from_slice(b"]}");
        (expired, Some(Outgoing { body, timeout_ms }))
    }

    /// How sending the batch from `take` went: `Ok(token)`, it is in flight; `Err`, it was
    /// not sent, and every op in it is answered as such.
    pub(crate) fn dispatched(&mut self, result: Result<u32, ()>) -> Vec<Answered<W>> {
        let items = std::mem::take(&mut self.staged);
        match result {
            Ok(token) => {
                self.in_flight = Some((token, items));
                Vec::new()
            }
            Err(()) => items.into_iter().map(|i| unsent(i)).collect(),
        }
    }

    /// Every claim still waiting, answered unavailable and unsent (the cache cannot be
    /// reached at all, so waiting for the next batch would only delay the same answer).
    pub(crate) fn fail_waiting_claims(&mut self) -> Vec<Answered<W>> {
        self.claims
            .drain(..)
            .map(|c| unsent(Item::Claim(c)))
            .collect()
    }

    /// Empties the batcher for a root that ends (`filter::root`'s `on_done`): the claims
    /// waiting or in flight, answered unavailable (`sent` for those in flight), and every
    /// settlement waiting or in flight, to be sent by another root. A settlement in flight
    /// counts as a failed send (its answer will never come): it goes on as its next attempt,
    /// never past `MAX_ATTEMPTS`, since sending it again is harmless (commit and release are
    /// idempotent for their token).
    pub(crate) fn hand_off(&mut self) -> (Vec<Answered<W>>, Vec<Queued>) {
        let mut claims = self.fail_waiting_claims();
        let mut settlements: Vec<Queued> = self.settlements.drain(..).collect();
        let staged = std::mem::take(&mut self.staged)
            .into_iter()
            .map(|i| (i, false));
        let in_flight = self
            .in_flight
            .take()
            .map(|(_, items)| items)
            .unwrap_or_default();
        for (item, sent) in staged.chain(in_flight.into_iter().map(|i| (i, true))) {
            match item {
                Item::Claim(claim) => claims.push(Answered::Claim {
                    claim,
                    verdict: ClaimVerdict::Unavailable,
                    sent,
                }),
                Item::Settle(queued) => settlements.push(Queued {
                    attempt: if sent {
                        queued.attempt.saturating_add(1).min(MAX_ATTEMPTS)
                    } else {
                        queued.attempt
                    },
                    ..queued
                }),
            }
        }
        self.rung = false;
        (claims, settlements)
    }

    /// The answer to the batch in flight as `token`, one `Answered` per op; `None` for a
    /// call that is not that batch. `status` `None`: the call failed (no answer, timeout).
    pub fn answered(
        &mut self,
        token: u32,
        status: Option<&[u8]>,
        body: &[u8],
    ) -> Option<Vec<Answered<W>>> {
        if self.in_flight.as_ref().map(|(t, _)| *t) != Some(token) {
            return None;
        }
        let (_, items) = self.in_flight.take()?;
        let reply = read_batch_answer(status, body, items.len());
        Some(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let entry = match &reply {
                        BatchReply::Entries(slots) => slots.get(i).and_then(Option::as_ref),
                        BatchReply::Failed { .. } => None,
                    };
                    match item {
                        Item::Claim(claim) => Answered::Claim {
                            verdict: claim_verdict(entry, &claim.token),
                            claim,
                            sent: true,
                        },
                        Item::Settle(queued) => {
                            let result = match reply {
                                BatchReply::Failed { retryable: false } => SettleResult::Refused,
                                BatchReply::Failed { retryable: true } => SettleResult::Retry,
                                BatchReply::Entries(_) => {
                                    settle_result(queued.settlement.operation(), entry)
                                }
                            };
                            Answered::Settle { queued, result }
                        }
                    }
                })
                .collect(),
        )
    }
}

/// An op that was never sent: a claim with nothing to give up, a settlement to retry.
fn unsent<W>(item: Item<W>) -> Answered<W> {
    match item {
        Item::Claim(claim) => Answered::Claim {
            claim,
            verdict: ClaimVerdict::Unavailable,
            sent: false,
        },
        Item::Settle(queued) => Answered::Settle {
            queued,
            result: SettleResult::Retry,
        },
    }
}

#[cfg(test)]
mod tests;
