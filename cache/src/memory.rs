//! The embedded backend: one process, bounded, TTL-evicting.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::store::{new_token, Claim, Settled, Store, StoreError, TOMBSTONES_PER_KEY};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    InFlight,
    Done,
    /// A tombstone, in one of `tombstone_slots(key)`: its token's claim of the key was
    /// released before it arrived (see store.rs). Never the state of a key itself.
    Released,
}

struct Entry {
    state: State,
    token: String,
    expires: Instant,
}

type Shard = HashMap<String, Entry>;

const SHARDS: usize = 64;
/// Entries the sweeper visits per tick, at least (whole shards are swept at once).
pub const SWEEP_BUDGET: usize = 100_000;
/// How often a claim that finds the store full may sweep every shard.
const FULL_SWEEP_INTERVAL: Duration = Duration::from_millis(500);

/// The in-memory store: 64 mutex-guarded shards of `key -> (in flight | done, token, expiry)`.
///
/// Expired entries behave exactly as absent ones. They are dropped lazily when their key is
/// touched, and by [`MemoryStore::sweep_tick`], which the service runs every second and which
/// visits a bounded number of entries per tick, going round the shards in turn.
///
/// **When full.** The store holds at most `max_entries` entries. A claim of a new key that
/// finds it full first drops the expired entries of its shard (and, at most twice a second,
/// of every shard); if it is still full, the claim fails with [`StoreError::Capacity`], which
/// the service answers `503 {"error":"capacity"}`. The filter turns that into a 503 for the
/// sender, who retries later. This fails closed: nothing is lost (the delivery is retried)
/// and nothing is processed twice. Evicting a live entry instead could do either: dropping a
/// done key lets a retry be processed again, dropping an in-flight one lets a concurrent
/// retry run alongside the first attempt. Commits and releases never fail for capacity (a
/// commit of a lapsed claim may add an entry past the bound: the delivery was processed, and
/// forgetting that is the one thing this store must not do).
pub struct MemoryStore {
    shards: Vec<Mutex<Shard>>,
    len: AtomicUsize,
    max_entries: usize,
    /// Next shard the sweeper visits.
    cursor: AtomicUsize,
    /// When a full claim last swept every shard.
    last_full_sweep: Mutex<Option<Instant>>,
}

impl MemoryStore {
    pub fn new(max_entries: usize) -> MemoryStore {
        MemoryStore {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            len: AtomicUsize::new(0),
            max_entries,
            cursor: AtomicUsize::new(0),
            last_full_sweep: Mutex::new(None),
        }
    }

    /// Entries held, including expired ones not yet swept.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard_index(key: &str) -> usize {
        // FNV-1a: keys are already hashes, any spread will do.
        let h = key.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        });
        (h % SHARDS as u64) as usize
    }

    fn lock(&self, index: usize) -> MutexGuard<'_, Shard> {
        // A poisoned shard only means a thread panicked mid-update of plain data; the map
        // itself is still consistent (std's HashMap is panic-safe).
        self.shards[index % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Drops the expired entries of one locked shard; returns how many it visited.
    fn sweep_shard(&self, shard: &mut Shard, now: Instant) -> usize {
        let visited = shard.len();
        shard.retain(|_, e| e.expires > now);
        self.len.fetch_sub(visited - shard.len(), Ordering::Relaxed);
        visited
    }
}

/// Where `key`'s tombstones live: in the key's own shard (so a claim and a release of the key
/// see them under the lock they hold), under names no key can have (keys hold no space),
/// apart from the key's state, which other tokens go on changing.
fn tombstone_slots(key: &str) -> Vec<String> {
    (0..TOMBSTONES_PER_KEY)
        .map(|slot| format!("{key} {slot}"))
        .collect()
}

impl MemoryStore {
    /// A claim with a token minted here (the tests' shorthand).
    pub fn claim_at(&self, key: &str, ttl: Duration, now: Instant) -> Result<Claim, StoreError> {
        self.claim_token_at(key, &new_token()?, ttl, now)
    }

    pub fn claim_token_at(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
        now: Instant,
    ) -> Result<Claim, StoreError> {
        let index = Self::shard_index(key);
        let mut shard = self.lock(index);
        // A full store drops the shard's lock for the full sweep; while it is dropped another
        // claim or a commit may write this key, so the key is looked at again after every
        // lock, and the insert below always follows a look under the lock it holds.
        let mut swept_all = false;
        let slots = tombstone_slots(key);
        loop {
            let refused = slots.iter().any(|slot| {
                shard
                    .get(slot)
                    .is_some_and(|e| e.expires > now && e.token == token)
            });
            if refused {
                return Ok(Claim::Abandoned);
            }
            if let Some(e) = shard.get(key) {
                if e.expires > now {
                    match e.state {
                        // The same token again (a resent request) is its own claim.
                        State::InFlight if e.token == token => {
                            return Ok(Claim::Claimed(token.to_string()))
                        }
                        State::InFlight => return Ok(Claim::InFlight),
                        State::Done => return Ok(Claim::Done),
                        State::Released => {}
                    }
                }
                shard.remove(key);
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
            if self.len() < self.max_entries {
                break;
            }
            self.sweep_shard(&mut shard, now);
            if self.len() < self.max_entries {
                break;
            }
            if swept_all {
                return Err(StoreError::Capacity);
            }
            drop(shard);
            if !self.full_sweep(now) || self.len() >= self.max_entries {
                return Err(StoreError::Capacity);
            }
            swept_all = true;
            shard = self.lock(index);
        }
        let previous = shard.insert(
            key.to_string(),
            Entry {
                state: State::InFlight,
                token: token.to_string(),
                expires: now + ttl,
            },
        );
        if previous.is_none() {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Claim::Claimed(token.to_string()))
    }

    /// Sweeps every shard, unless that was done less than `FULL_SWEEP_INTERVAL` ago (a full
    /// store of live entries must not turn each refused claim into a full scan).
    fn full_sweep(&self, now: Instant) -> bool {
        {
            let mut last = self
                .last_full_sweep
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| now.saturating_duration_since(t) < FULL_SWEEP_INTERVAL) {
                return false;
            }
            *last = Some(now);
        }
        for i in 0..SHARDS {
            let mut shard = self.lock(i);
            self.sweep_shard(&mut shard, now);
        }
        true
    }

    pub fn commit_at(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
        now: Instant,
    ) -> Result<Settled, StoreError> {
        let mut shard = self.lock(Self::shard_index(key));
        match shard.get_mut(key).filter(|e| e.expires > now) {
            Some(e) if e.state == State::InFlight && e.token == token => {
                e.state = State::Done;
                e.expires = now + ttl;
                Ok(Settled::Yes)
            }
            // The same commit again (a retry after a lost answer): already done by us.
            Some(e) if e.state == State::Done && e.token == token => Ok(Settled::Yes),
            Some(_) => Ok(Settled::NotOwner),
            None => {
                // Absent or expired: the claim lapsed and nobody took the key since. Such
                // inserts need no claim first, so they get a ceiling of their own above
                // max_entries: a flood of made-up commits cannot grow memory without bound.
                if self.over_ceiling() {
                    return Err(StoreError::Capacity);
                }
                let done = Entry {
                    state: State::Done,
                    token: token.to_string(),
                    expires: now + ttl,
                };
                if shard.insert(key.to_string(), done).is_none() {
                    self.len.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Settled::Yes)
            }
        }
    }

    /// Inserts that need no claim first (commits of lapsed claims, tombstones) stop at a
    /// ceiling an eighth above `max_entries`: a flood of them cannot grow memory without bound.
    fn over_ceiling(&self) -> bool {
        self.len() >= self.max_entries + self.max_entries / 8
    }

    pub fn release_at(
        &self,
        key: &str,
        token: &str,
        tombstone: Option<Duration>,
        now: Instant,
    ) -> Settled {
        let mut shard = self.lock(Self::shard_index(key));
        let (settled, late_claim_possible) = match shard.get(key).filter(|e| e.expires > now) {
            Some(e) if e.state == State::InFlight && e.token == token => {
                shard.remove(key);
                self.len.fetch_sub(1, Ordering::Relaxed);
                // Our claim was here: it cannot arrive a second time.
                (Settled::Yes, false)
            }
            // Done: a late claim would find it done and store nothing.
            Some(e) if e.state == State::Done => (Settled::NotOwner, false),
            // Free, or another token's claim, which its owner may release before ours lands.
            _ => (Settled::NotOwner, true),
        };
        // One that cannot be kept (store at its ceiling) leaves such a late claim to its
        // in-flight TTL.
        let Some(ttl) = tombstone.filter(|_| late_claim_possible && !self.over_ceiling()) else {
            return settled;
        };
        // This token's slot, else a free or expired one, else the one that expires first.
        let slots = tombstone_slots(key);
        let live = |slot: &String| shard.get(slot).filter(|e| e.expires > now);
        let Some(slot) = slots
            .iter()
            .find(|s| live(s).is_some_and(|e| e.token == token))
            .or_else(|| slots.iter().find(|s| live(s).is_none()))
            .or_else(|| slots.iter().min_by_key(|s| live(s).map(|e| e.expires)))
            .cloned()
        else {
            return settled;
        };
        let dead = Entry {
            state: State::Released,
            token: token.to_string(),
            expires: now + ttl,
        };
        if shard.insert(slot, dead).is_none() {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
        settled
    }

    /// One sweeper tick: sweeps whole shards, starting where the last tick stopped, until
    /// at least `budget` entries were visited or every shard was. Returns entries visited.
    pub fn sweep_tick(&self, now: Instant, budget: usize) -> usize {
        let mut visited = 0;
        for _ in 0..SHARDS {
            if visited >= budget {
                break;
            }
            let i = self.cursor.fetch_add(1, Ordering::Relaxed) % SHARDS;
            let mut shard = self.lock(i);
            visited += self.sweep_shard(&mut shard, now);
        }
        visited
    }
}

impl Store for MemoryStore {
    async fn claim(&self, key: &str, token: &str, ttl: Duration) -> Result<Claim, StoreError> {
        self.claim_token_at(key, token, ttl, Instant::now())
    }

    async fn commit(&self, key: &str, token: &str, ttl: Duration) -> Result<Settled, StoreError> {
        self.commit_at(key, token, ttl, Instant::now())
    }

    async fn release(
        &self,
        key: &str,
        token: &str,
        tombstone: Option<Duration>,
    ) -> Result<Settled, StoreError> {
        Ok(self.release_at(key, token, tombstone, Instant::now()))
    }

    async fn healthy(&self) -> bool {
        true
    }

    fn entries(&self) -> Option<usize> {
        Some(self.len())
    }

    fn max_entries(&self) -> Option<usize> {
        Some(self.max_entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);
    const OTHER: &str = "ffffffffffffffffffffffffffffffff";

    fn claimed(c: Result<Claim, StoreError>) -> String {
        match c {
            Ok(Claim::Claimed(t)) => t,
            other => panic!("expected a claim, got {other:?}"),
        }
    }

    #[test]
    fn a_repeated_commit_is_still_committed() {
        let m = MemoryStore::new(10);
        let t0 = Instant::now();
        let token = claimed(m.claim_at("k", 60 * S, t0));
        assert_eq!(m.commit_at("k", &token, 600 * S, t0), Ok(Settled::Yes));
        assert_eq!(m.commit_at("k", &token, 600 * S, t0), Ok(Settled::Yes));
        assert_eq!(m.commit_at("k", OTHER, 600 * S, t0), Ok(Settled::NotOwner));
    }

    #[test]
    fn commits_without_a_claim_have_a_ceiling() {
        // max 8: commits of absent keys may fill up to 8 + 8/8 = 9 entries, then 503.
        let m = MemoryStore::new(8);
        let t0 = Instant::now();
        for i in 0..9 {
            let key = format!("k{i}");
            assert_eq!(m.commit_at(&key, OTHER, 600 * S, t0), Ok(Settled::Yes));
        }
        assert_eq!(
            m.commit_at("one-more", OTHER, 600 * S, t0),
            Err(StoreError::Capacity)
        );
        assert_eq!(m.len(), 9);
    }

    #[test]
    fn claim_in_flight_commit_done() {
        let m = MemoryStore::new(10);
        let t0 = Instant::now();
        let token = claimed(m.claim_at("k", 60 * S, t0));
        assert_eq!(token.len(), 32);
        assert_eq!(m.claim_at("k", 60 * S, t0), Ok(Claim::InFlight));
        assert_eq!(m.commit_at("k", OTHER, 600 * S, t0), Ok(Settled::NotOwner));
        assert_eq!(m.release_at("k", OTHER, None, t0), Settled::NotOwner);
        assert_eq!(m.commit_at("k", &token, 600 * S, t0), Ok(Settled::Yes));
        // The done TTL replaced the claim's: still done well after the claim's would have run out.
        assert_eq!(m.claim_at("k", 60 * S, t0 + 100 * S), Ok(Claim::Done));
        assert_eq!(
            m.release_at("k", &token, None, t0),
            Settled::NotOwner,
            "release never undoes done"
        );
        assert_eq!(
            m.commit_at("k", OTHER, 600 * S, t0),
            Ok(Settled::NotOwner),
            "a done key belongs to its committer"
        );
        assert_eq!(m.claim_at("k", 60 * S, t0), Ok(Claim::Done));
        // After the done TTL the key is free again.
        claimed(m.claim_at("k", 60 * S, t0 + 601 * S));
    }

    #[test]
    fn release_frees_the_key_for_a_retry() {
        let m = MemoryStore::new(10);
        let t0 = Instant::now();
        let first = claimed(m.claim_at("k", 60 * S, t0));
        assert_eq!(m.release_at("k", OTHER, None, t0), Settled::NotOwner);
        assert_eq!(m.release_at("k", &first, None, t0), Settled::Yes);
        assert_eq!(m.len(), 0);
        assert_eq!(
            m.release_at("k", &first, None, t0),
            Settled::NotOwner,
            "released twice"
        );
        let second = claimed(m.claim_at("k", 60 * S, t0));
        assert_ne!(first, second);
        assert_eq!(
            m.release_at("k", &first, None, t0),
            Settled::NotOwner,
            "old token is stale"
        );
        assert_eq!(
            m.commit_at("k", &first, 60 * S, t0),
            Ok(Settled::NotOwner),
            "old token cannot commit the new claim"
        );
        assert_eq!(m.release_at("absent", &first, None, t0), Settled::NotOwner);
    }

    #[test]
    fn a_release_before_its_claim_leaves_a_tombstone_only_that_claim_respects() {
        let m = MemoryStore::new(10);
        let t0 = Instant::now();
        let late = "a".repeat(32);
        // The filter gave up on its claim and released it; the claim arrives afterwards.
        assert_eq!(
            m.release_at("k", &late, Some(60 * S), t0),
            Settled::NotOwner
        );
        assert_eq!(
            m.claim_token_at("k", &late, 60 * S, t0 + S),
            Ok(Claim::Abandoned)
        );
        // The sender's retry (a new token) is not held up by the tombstone.
        let retry = claimed(m.claim_token_at("k", OTHER, 60 * S, t0 + S));
        assert_eq!(retry, OTHER);
        // A late claim after that is still refused, and stores nothing.
        assert_eq!(
            m.claim_token_at("k", &late, 60 * S, t0 + S),
            Ok(Claim::Abandoned)
        );
        assert_eq!(m.commit_at("k", OTHER, 600 * S, t0 + S), Ok(Settled::Yes));
        // A tombstone is no claim: a commit may take its key, and it expires.
        assert_eq!(
            m.release_at("j", &late, Some(10 * S), t0),
            Settled::NotOwner
        );
        assert_eq!(m.commit_at("j", OTHER, 600 * S, t0), Ok(Settled::Yes));
        assert_eq!(m.release_at("i", &late, Some(S), t0), Settled::NotOwner);
        claimed(m.claim_token_at("i", &late, 60 * S, t0 + 2 * S));
        // Without a tombstone (an old client), a release of a free key leaves nothing.
        assert_eq!(m.release_at("h", &late, None, t0), Settled::NotOwner);
        claimed(m.claim_token_at("h", &late, 60 * S, t0));
        // A release of a claim that was stored frees it, with or without a tombstone.
        let own = claimed(m.claim_at("g", 60 * S, t0));
        assert_eq!(m.release_at("g", &own, Some(S), t0), Settled::Yes);
        claimed(m.claim_at("g", 60 * S, t0));
    }

    #[test]
    fn a_tombstone_outlives_other_tokens_claims_and_releases() {
        let m = MemoryStore::new(10);
        let t0 = Instant::now();
        let late = "a".repeat(32);
        let second = "b".repeat(32);
        // Abandoned while the key was free; a retry claims it, fails and releases it.
        m.release_at("k", &late, Some(60 * S), t0);
        claimed(m.claim_token_at("k", &second, 60 * S, t0));
        assert_eq!(m.release_at("k", &second, None, t0), Settled::Yes);
        // The late claim lands on a free key: still refused.
        assert_eq!(
            m.claim_token_at("k", &late, 60 * S, t0 + S),
            Ok(Claim::Abandoned)
        );
        // Abandoned while another attempt held the key: the tombstone is left all the same.
        let holder = claimed(m.claim_at("j", 60 * S, t0));
        assert_eq!(
            m.release_at("j", &late, Some(60 * S), t0),
            Settled::NotOwner
        );
        assert_eq!(m.release_at("j", &holder, None, t0), Settled::Yes);
        assert_eq!(
            m.claim_token_at("j", &late, 60 * S, t0),
            Ok(Claim::Abandoned)
        );
        claimed(m.claim_at("j", 60 * S, t0));
    }

    #[test]
    fn a_key_keeps_a_few_tombstones_however_often_it_is_abandoned() {
        let m = MemoryStore::new(1000);
        let t0 = Instant::now();
        let token = |i: usize| format!("{i:032x}");
        // A done key needs none: a late claim finds it done.
        let own = claimed(m.claim_at("done", 60 * S, t0));
        assert_eq!(m.commit_at("done", &own, 600 * S, t0), Ok(Settled::Yes));
        m.release_at("done", &token(1), Some(60 * S), t0);
        assert_eq!(m.len(), 1);
        // A released claim of ours needs none either: it cannot come back.
        let own = claimed(m.claim_at("k", 60 * S, t0));
        assert_eq!(m.release_at("k", &own, Some(60 * S), t0), Settled::Yes);
        assert_eq!(m.len(), 1);
        // A replay abandoned 200 times leaves at most TOMBSTONES_PER_KEY entries.
        for i in 0..200 {
            m.release_at(
                "k",
                &token(i),
                Some(60 * S),
                t0 + Duration::from_millis(i as u64),
            );
        }
        assert_eq!(m.len(), 1 + TOMBSTONES_PER_KEY);
        // The latest are kept; the oldest went first.
        assert_eq!(
            m.claim_token_at("k", &token(199), 60 * S, t0 + S),
            Ok(Claim::Abandoned)
        );
        assert!(matches!(
            m.claim_token_at("k", &token(0), 60 * S, t0 + S),
            Ok(Claim::Claimed(_))
        ));
    }

    #[test]
    fn tombstones_stop_at_the_ceiling() {
        let m = MemoryStore::new(8);
        let t0 = Instant::now();
        for i in 0..9 {
            m.release_at(&format!("k{i}"), OTHER, Some(60 * S), t0);
        }
        assert_eq!(m.len(), 9, "up to an eighth above the bound");
        m.release_at("one-more", OTHER, Some(60 * S), t0);
        assert_eq!(m.len(), 9);
    }

    #[test]
    fn expired_claims_are_free_and_late_commits_still_count() {
        let m = MemoryStore::new(10);
        let t0 = Instant::now();
        let first = claimed(m.claim_at("k", 60 * S, t0));
        // The claim lapsed; nobody took the key: the late commit still marks it done.
        assert_eq!(
            m.commit_at("k", &first, 600 * S, t0 + 61 * S),
            Ok(Settled::Yes)
        );
        assert_eq!(m.claim_at("k", 60 * S, t0 + 62 * S), Ok(Claim::Done));
        // A lapsed claim taken by another attempt: the late commit is not the owner's.
        let a = claimed(m.claim_at("j", 60 * S, t0));
        let b = claimed(m.claim_at("j", 60 * S, t0 + 61 * S));
        assert_eq!(
            m.commit_at("j", &a, 600 * S, t0 + 62 * S),
            Ok(Settled::NotOwner)
        );
        assert_eq!(m.release_at("j", &a, None, t0 + 62 * S), Settled::NotOwner);
        assert_eq!(m.commit_at("j", &b, 600 * S, t0 + 62 * S), Ok(Settled::Yes));
        // Never claimed at all (e.g. the cache restarted): commit records it as done.
        assert_eq!(m.commit_at("absent", &a, 600 * S, t0), Ok(Settled::Yes));
        assert_eq!(m.claim_at("absent", 60 * S, t0), Ok(Claim::Done));
        // An expired claim cannot be released (it is gone already).
        let c = claimed(m.claim_at("i", S, t0));
        assert_eq!(m.release_at("i", &c, None, t0 + 2 * S), Settled::NotOwner);
    }

    #[tokio::test]
    async fn real_clock_expiry_with_short_ttls() {
        let m = MemoryStore::new(10);
        let ms = Duration::from_millis;
        let (a, b, c) = (&"a".repeat(32), &"b".repeat(32), &"c".repeat(32));
        let Ok(Claim::Claimed(_)) = m.claim("k", a, ms(50)).await else {
            panic!("first claim")
        };
        assert_eq!(m.claim("k", b, ms(50)).await, Ok(Claim::InFlight));
        tokio::time::sleep(ms(80)).await;
        let Ok(Claim::Claimed(t)) = m.claim("k", b, ms(50)).await else {
            panic!("the lapsed claim should be free")
        };
        assert_eq!(&t, b);
        assert_eq!(m.commit("k", &t, ms(50)).await, Ok(Settled::Yes));
        assert_eq!(m.claim("k", c, ms(50)).await, Ok(Claim::Done));
        tokio::time::sleep(ms(80)).await;
        assert!(matches!(
            m.claim("k", c, ms(50)).await,
            Ok(Claim::Claimed(_))
        ));
    }

    #[test]
    fn full_store_fails_closed_until_entries_expire() {
        let m = MemoryStore::new(2);
        let t0 = Instant::now();
        let a = claimed(m.claim_at("a", 10 * S, t0));
        claimed(m.claim_at("b", 60 * S, t0));
        assert_eq!(m.claim_at("c", 60 * S, t0), Err(StoreError::Capacity));
        assert_eq!(
            m.claim_at("c", 60 * S, t0 + S),
            Err(StoreError::Capacity),
            "still full, and asked again"
        );
        // Existing keys still answer, and commits still work when full.
        assert_eq!(m.claim_at("a", 10 * S, t0), Ok(Claim::InFlight));
        assert_eq!(m.commit_at("a", &a, 5 * S, t0), Ok(Settled::Yes));
        assert_eq!(m.claim_at("a", 10 * S, t0), Ok(Claim::Done));
        // Once "a" expires, a claim sweeps it (wherever its shard is) and succeeds.
        claimed(m.claim_at("c", 60 * S, t0 + 11 * S));
        assert_eq!(m.len(), 2);
        assert_eq!(
            m.claim_at("d", 60 * S, t0 + 12 * S),
            Err(StoreError::Capacity)
        );
    }

    #[test]
    fn full_store_reclaims_an_expired_entry_of_the_same_key() {
        let m = MemoryStore::new(1);
        let t0 = Instant::now();
        claimed(m.claim_at("a", S, t0));
        claimed(m.claim_at("a", S, t0 + 2 * S));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn sweeper_drops_only_expired_entries_within_its_budget() {
        let m = MemoryStore::new(10_000);
        let t0 = Instant::now();
        for i in 0..1000 {
            claimed(m.claim_at(&format!("short{i}"), S, t0));
            claimed(m.claim_at(&format!("long{i}"), 60 * S, t0));
        }
        assert_eq!(m.len(), 2000);
        // A small budget sweeps a few shards per tick, not all of them.
        let visited = m.sweep_tick(t0 + 2 * S, 1);
        assert!(visited < 2000, "visited {visited}");
        assert!(m.len() > 1000 && m.len() < 2000, "{}", m.len());
        // Ticks go round the shards: enough of them sweep everything.
        for _ in 0..SHARDS {
            m.sweep_tick(t0 + 2 * S, 1);
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.sweep_tick(t0 + 2 * S, usize::MAX), 1000);
        assert_eq!(m.claim_at("long7", S, t0 + 2 * S), Ok(Claim::InFlight));
    }
}
