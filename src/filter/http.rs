//! One request's life: the state machine behind the HTTP context callbacks. It reads what
//! the host offers, asks the host-free modules for every decision (`verify`, `config`,
//! `dedupe`, `scheme::delivery`, `answer`) and maps the verdict to an Envoy action.

use std::cell::RefCell;
use std::rc::Rc;
use std::rc::Weak;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use crate::answer::Reject;
use crate::config::{Config, EndpointId, Mode, OnUnavailable, Route};
use crate::dedupe::batch::Wake;
use crate::dedupe::client::{claim_request, ClaimVerdict, Queued, Settlement};
use crate::dedupe::fate::{self, Fate};
use crate::dedupe::key;
use crate::events::{self, Event};
use crate::metrics::GiveUp;
use crate::request::cidr::parse_source_address;
use crate::request::headers::{own, CapturedHeaders};
use crate::scheme::delivery;
use crate::scheme::timestamp::TimestampSource;
use crate::verify::stream::BodyMac;
use crate::verify::{verify, Verified};
use webhook_guard_protocol::Operation;

use super::host::Host;
use super::link::Link;
use super::metrics::{ClaimOutcome, Metrics};

/// Removes, through `remove`, every entry of `map` that bears one of this filter's names.
fn strip_own(map: &[(&[u8], &[u8])], remove: impl Fn(&[u8])) {
    for (name, _) in map.iter().filter(|(n, _)| own::is_own(n)) {
        remove(name);
    }
}

/// Longest header value (request or delivery id) put in a log line.
const MAX_LOGGED_HEADER_BYTES: usize = 128;

/// A header value as a log line may carry it: cut, and lossily UTF-8 (serde_json escapes it).
fn cut_for_log(v: &[u8]) -> String {
    String::from_utf8_lossy(&v[..v.len().min(MAX_LOGGED_HEADER_BYTES)]).into_owned()
}

/// Where a claim's answer goes: the request's context id (to act for it) and the request.
pub type Waiter<H> = (u32, Weak<RefCell<Guard<H>>>);

/// Where one request is in its life.
#[derive(Debug)]
pub enum State {
    Start,
    /// Headers read; the body is being buffered (and, when the endpoint allows it, its
    /// MACs updated as it arrives).
    Buffering {
        endpoint: EndpointId,
        headers: CapturedHeaders,
        stream: Option<BodyMac>,
    },
    /// Verified; waiting for the cache's answer to the claim of `key` with our `token`,
    /// claim `id` of the root's batcher. Leaving this state any way but `Claimed` abandons
    /// the claim (or withdraws it, when it was not sent yet).
    Claiming {
        endpoint: EndpointId,
        verified: Verified,
        key: String,
        token: String,
        id: u32,
    },
    /// Forwarded holding a claim: its fate (`crate::dedupe::fate`) is known once Envoy answers
    /// or the stream ends.
    Claimed {
        key: String,
        token: String,
    },
    /// Answered locally or forwarded: nothing more to do.
    Done,
}

pub struct Guard<H: Host> {
    host: H,
    config: Rc<Config>,
    metrics: Rc<Metrics>,
    queue: Option<u32>,
    /// The root's batcher and wake-up queue: where the claim goes.
    link: Rc<Link<Waiter<H>>>,
    /// This request as the root reaches it with the claim's answer (set by the root).
    pub me: Option<Waiter<H>>,
    pub state: State,
    /// Envoy's `source.address`, read when first needed (allowlist or security log): the
    /// outer `None` is "not read yet".
    source: Option<Option<std::net::IpAddr>>,
    /// The delivery's idempotency key hash, once verified (for the security log).
    key_hash: Option<String>,
    /// The sender's unsigned delivery id (GitHub, Shopify), for the security log only.
    delivery_id: Option<String>,
    /// The request's path below its endpoint's prefix (`crate::scheme::delivery::below_prefix`),
    /// part of a claimed delivery's key; empty at the endpoint's own path.
    below: Vec<String>,
    /// The request's `x-request-id` (Envoy sets one), cut to 128 bytes, for the security
    /// log: read when first needed, during the request only (the outer `None` is "not read
    /// yet"), since reading request headers later (response phase, on_log) is an error on
    /// which the SDK's hostcalls panic. A claimed delivery reads it before it is forwarded.
    request_id: Option<Option<String>>,
}

/// Calls to the cache are the root context's (`super::root`): a request gets its claim's
/// answer through `Guard::claim_answered`.
impl<H: Host> Context for Guard<H> {}

impl<H: Host> HttpContext for Guard<H> {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let map = self.host.request_headers();
        let all = map.pairs();
        let header = |name: &str| {
            all.iter()
                .find(|(n, _)| *n == name.as_bytes())
                .map(|(_, v)| *v)
        };
        strip_own(&all, |name| self.host.remove_request_header(name));

        let config = Rc::clone(&self.config);
        let path = header(":path").unwrap_or_default();
        let index = match config.route(path) {
            Route::Endpoint(id) => id,
            Route::Unknown => return self.refuse(None, Reject::UnknownEndpoint),
            Route::Ambiguous => return self.refuse(None, Reject::AmbiguousPath),
        };
        let endpoint = config.endpoint(index);
        if config.idempotency.is_some() && endpoint.idempotency_key.is_some() {
            // A claimed delivery's fate may be logged from the response phase, where request
            // headers cannot be read (nor is Envoy's `request.id` property set there, checked
            // on 1.40): kept from the map already read, a host call saved. Other requests
            // read it only if refused (`request_id`).
            self.request_id = Some(header("x-request-id").map(cut_for_log));
            // Where below the prefix is part of a claimed delivery's key.
            match delivery::below_prefix(&endpoint.path_prefix, &endpoint.canonical_prefix, path) {
                delivery::Below::Exact => {}
                delivery::Below::Path(segments) => self.below = segments,
                delivery::Below::Ambiguous => {
                    return self.refuse(Some(index), Reject::AmbiguousPath)
                }
            }
        }
        if let Some(h) = &endpoint.delivery_id {
            self.delivery_id = h.names.iter().find_map(|n| header(n)).map(cut_for_log);
        }
        if let Some(allowed) = &endpoint.source_ips {
            if !self.source_ip().is_some_and(|ip| allowed.contains(ip)) {
                return self.refuse(Some(index), Reject::SourceIpDenied);
            }
        }
        // After the source check (a source outside the allowlist learns no more than that
        // the endpoint exists), before the body is buffered or anything is claimed.
        let method = header(":method").unwrap_or_default();
        let has =
            |h: &crate::request::headers::HeaderRef| h.names.iter().any(|n| header(n).is_some());
        // A copy asking to be routed elsewhere could mark the delivery processed there.
        if delivery::overrides_path(all.iter().map(|(n, _)| *n)) {
            return self.refuse(Some(index), Reject::AmbiguousPath);
        }
        let overridden = delivery::overrides_method(all.iter().map(|(n, _)| *n), path);
        if overridden
            || !delivery::method_allowed(
                endpoint.methods,
                endpoint.scheme.challenge.as_ref(),
                method,
                has,
            )
        {
            let allow = endpoint.allow.clone();
            return self.refuse(Some(index), Reject::MethodNotAllowed { allow });
        }
        let declared = header("content-length")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > config.max_body_bytes) {
            return self.refuse(Some(index), Reject::BodyTooLarge);
        }

        // Envoy's codecs only pass token names; one that is not UTF-8 is no name we want.
        let named = all
            .iter()
            .filter_map(|(n, v)| Some((std::str::from_utf8(n).ok()?, *v)));
        let headers = CapturedHeaders::capture(named, &endpoint.wanted_headers);
        let stream = BodyMac::start(endpoint, &headers, || self.now_for(endpoint));
        self.state = State::Buffering {
            endpoint: index,
            headers,
            stream,
        };
        if end_of_stream {
            return self.decide(0);
        }
        // Hold the headers until the body is verified (needs allow_on_headers_stop_iteration).
        Action::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let State::Buffering {
            endpoint,
            ref mut stream,
            ..
        } = self.state
        else {
            return Action::Continue;
        };
        if body_size as u64 > self.config.max_body_bytes {
            return self.refuse(Some(endpoint), Reject::BodyTooLarge);
        }
        // Hash what arrived since the last chunk (sizes are cumulative), so the end costs
        // one last chunk rather than the whole body.
        if let Some(s) = stream.as_mut() {
            feed(&self.host, s, body_size);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.decide(body_size)
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        // Trailers go upstream too (HTTP/2, HTTP/3), and some receivers merge them into the
        // headers: a client's `x-webhook-guard-*` trailer goes as its header did.
        let trailers = self.host.request_trailers();
        strip_own(&trailers.pairs(), |name| {
            self.host.remove_request_trailer(name)
        });
        // A request that ends with trailers never sees end_of_stream on its body.
        if !matches!(self.state, State::Buffering { .. }) {
            return Action::Continue;
        }
        let size = self.host.request_body(usize::MAX).len();
        if let State::Buffering {
            stream: Some(ref mut s),
            ..
        } = self.state
        {
            feed(&self.host, s, size);
        }
        self.decide(size)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let State::Claimed { .. } = self.state {
            let status = self.host.response_status();
            let details = self.host.property(&["response", "code_details"]);
            let fate = fate::on_response(&status, &details, || self.response_flags());
            self.settle(fate);
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        match std::mem::replace(&mut self.state, State::Done) {
            // No response headers: the client left, or the stream was reset.
            claimed @ State::Claimed { .. } => {
                self.state = claimed;
                let fate = fate::on_end(self.response_flags());
                self.settle(fate);
            }
            // The client left while the claim was on its way: nobody will use its answer.
            // One that never left needs nothing given up.
            State::Claiming { key, token, id, .. } => {
                if self.link.batcher.borrow_mut().withdraw(id) {
                    self.metrics.claim(&self.host, ClaimOutcome::Abandoned);
                    let fields = serde_json::json!({
                        "reason": "the client left before the claim was sent: withdrawn",
                        "request_id": self.request_id.clone().flatten(),
                        "idempotency_key": key,
                    });
                    log::info!("{}", events::line(Event::ClaimAbandoned, fields));
                } else {
                    self.abandon(key, token);
                }
            }
            _ => {}
        }
    }
}

impl<H: Host> Guard<H> {
    pub fn new(
        host: H,
        config: Rc<Config>,
        metrics: Rc<Metrics>,
        queue: Option<u32>,
        link: Rc<Link<Waiter<H>>>,
    ) -> Self {
        Guard {
            host,
            config,
            metrics,
            queue,
            link,
            me: None,
            state: State::Start,
            source: None,
            key_hash: None,
            delivery_id: None,
            below: Vec::new(),
            request_id: None,
        }
    }

    /// Envoy's `response.flags` for this stream so far.
    fn response_flags(&self) -> u64 {
        fate::parse_flags(&self.host.property(&["response", "flags"]))
    }

    /// During the request only (see the field).
    fn request_id(&mut self) -> Option<String> {
        let host = &self.host;
        self.request_id
            .get_or_insert_with(|| {
                host.request_header("x-request-id")
                    .as_deref()
                    .map(cut_for_log)
            })
            .clone()
    }

    fn source_ip(&mut self) -> Option<std::net::IpAddr> {
        let host = &self.host;
        *self
            .source
            .get_or_insert_with(|| parse_source_address(&host.property(&["source", "address"])))
    }

    /// The clock only for an endpoint with a freshness window (GitHub, Shopify have none):
    /// a host call saved per delivery (see the cost ladder in BENCHMARKS.md).
    fn now_for(&self, ep: &crate::config::Endpoint) -> i64 {
        if matches!(ep.scheme.timestamp, TimestampSource::None) {
            0
        } else {
            i64::try_from(self.host.now().as_secs()).unwrap_or(i64::MAX)
        }
    }

    /// The whole body is buffered: verify it and forward or refuse.
    fn decide(&mut self, body_size: usize) -> Action {
        let config = Rc::clone(&self.config);
        let State::Buffering {
            endpoint,
            headers,
            stream,
        } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Action::Continue;
        };
        let ep = config.endpoint(endpoint);
        let now = self.now_for(ep);
        let verdict = match stream {
            // Every byte was hashed as it came: the body is not read again.
            Some(s) if s.fed() == body_size => {
                // A challenge told by its body (Zoom's) is small: only such a body is read.
                let seen = crate::verify::challenge::challenge_body_wanted(ep, body_size)
                    .then(|| self.host.request_body(body_size));
                s.finish_seeing(ep, &headers, seen.as_deref(), now)
            }
            _ => verify(ep, &headers, &self.host.request_body(body_size), now),
        };
        match verdict {
            Ok(mut verified) => {
                // Where the delivery was sent is part of it: a copy sent below the prefix is
                // claimed under another key (the endpoint's own path keeps its key).
                let exact = verified.idempotency_key.take();
                verified.idempotency_key = exact.map(|k| key::scoped_key(k, &self.below));
                self.claim_and_forward(endpoint, verified)
            }
            Err(reject) => self.refuse(Some(endpoint), reject),
        }
    }

    /// Forwards a verified delivery, after claiming it when the endpoint deduplicates.
    fn claim_and_forward(&mut self, endpoint: EndpointId, verified: Verified) -> Action {
        self.key_hash.clone_from(&verified.idempotency_key);
        let config = Rc::clone(&self.config);
        let (Some(idem), Some(key)) = (&config.idempotency, &verified.idempotency_key) else {
            self.accept(endpoint, &verified);
            return Action::Continue;
        };
        // Our own token: whatever becomes of the claim's answer, we can release the claim.
        let Some(token) = self.link.tokens.next(|| self.host.random()) else {
            self.claim_not_sent(endpoint, "no_random_source");
            self.metrics.cache_error(&self.host, Operation::Claim);
            return self.cache_unavailable(endpoint, &verified);
        };
        let body = claim_request(key, &token, idem.in_flight_ttl_seconds);
        let me = self.me.clone().filter(|_| self.link.open.get());
        let Some(me) = me else {
            // No root to send it (it ended: a request outliving its configuration), or
            // can't happen (the root sets `me`): fail closed rather than wait for ever.
            self.metrics.cache_error(&self.host, Operation::Claim);
            return self.cache_unavailable(endpoint, &verified);
        };
        let now = self.host.now_ms();
        let submitted = self
            .link
            .batcher
            .borrow_mut()
            .submit(token.clone(), body, now, me);
        let id = match submitted {
            Ok((id, Wake::No)) => id,
            Ok((id, Wake::Ring)) => {
                let rung = self
                    .link
                    .wake
                    .get()
                    .is_some_and(|q| self.host.enqueue(q, b""));
                if !rung {
                    // Nothing would send it: take it back, never sent.
                    let mut batcher = self.link.batcher.borrow_mut();
                    batcher.withdraw(id);
                    batcher.rang();
                    drop(batcher);
                    self.claim_not_sent(endpoint, "root_not_woken");
                    self.metrics.cache_error(&self.host, Operation::Claim);
                    return self.cache_unavailable(endpoint, &verified);
                }
                id
            }
            Err(_) => {
                self.claim_not_sent(endpoint, "queue_full");
                self.metrics.cache_error(&self.host, Operation::Claim);
                return self.cache_unavailable(endpoint, &verified);
            }
        };
        self.state = State::Claiming {
            endpoint,
            key: key.clone(),
            token,
            verified,
            id,
        };
        Action::Pause
    }

    /// The cache's answer to this request's claim `id`, from the root context (acting for
    /// this request): forward, refuse, or apply the failure policy. `sent`: whether the claim
    /// may have reached the cache (then an unusable answer leaves a claim to give up).
    /// `now_ms`: when the answer came (read once per batch by the root).
    pub fn claim_answered(
        &mut self,
        id: u32,
        verdict: ClaimVerdict,
        sent: bool,
        since_ms: u64,
        now_ms: u64,
    ) {
        match &self.state {
            State::Claiming { id: ours, .. } if *ours == id => {}
            _ => return,
        }
        let State::Claiming {
            endpoint,
            verified,
            key,
            token,
            ..
        } = std::mem::replace(&mut self.state, State::Done)
        else {
            return;
        };
        self.host
            .record(self.metrics.claim_latency, now_ms.saturating_sub(since_ms));
        let action = match verdict {
            ClaimVerdict::Claimed { token } => {
                self.accept(endpoint, &verified);
                self.metrics.claim(&self.host, ClaimOutcome::Claimed);
                self.state = State::Claimed { key, token };
                Action::Continue
            }
            ClaimVerdict::Done => self.refuse(Some(endpoint), Reject::Duplicate),
            ClaimVerdict::InFlight => self.refuse(Some(endpoint), Reject::InFlight),
            ClaimVerdict::Unavailable => {
                self.metrics.cache_error(&self.host, Operation::Claim);
                // Too late, or unreadable: the claim may be stored (or still on its way), and
                // no one else could ever release it. One never sent needs nothing.
                if sent {
                    self.abandon(key, token);
                }
                self.cache_unavailable(endpoint, &verified)
            }
        };
        if action == Action::Continue {
            self.host.resume_request();
        }
    }

    /// The endpoint's failure policy when the cache cannot answer a claim.
    fn cache_unavailable(&mut self, endpoint: EndpointId, verified: &Verified) -> Action {
        let allow = self
            .config
            .idempotency
            .as_ref()
            .is_some_and(|i| i.on_unavailable == OnUnavailable::Allow);
        if !allow {
            return self.refuse(Some(endpoint), Reject::IdempotencyUnavailable);
        }
        let fields = serde_json::json!({
            "endpoint": self.config.endpoint(endpoint).name,
            "on_unavailable": "allow",
            "effect": "forwarded without deduplication",
            "request_id": self.request_id.clone().flatten(),
        });
        log::warn!("{}", events::line(Event::CacheUnavailable, fields));
        self.accept(endpoint, verified);
        Action::Continue
    }

    /// Carries out a held claim's fate: a commit or release goes out through the root
    /// context (which outlives this stream); a kept claim is counted and logged.
    fn settle(&mut self, fate: Fate) {
        let State::Claimed { key, token } = std::mem::replace(&mut self.state, State::Done) else {
            return;
        };
        let (settlement, outcome) = match fate {
            Fate::Commit => (Settlement::Commit, ClaimOutcome::Committed),
            Fate::Release => (Settlement::Release, ClaimOutcome::Released),
            Fate::Keep => {
                self.metrics.claim(&self.host, ClaimOutcome::Kept);
                let fields = serde_json::json!({
                    "reason": "outcome unknown: the receiver may have the delivery",
                    "response_flags": self.response_flags(),
                    "request_id": self.request_id.clone().flatten(),
                    "idempotency_key": key,
                });
                log::info!("{}", events::line(Event::ClaimKept, fields));
                return;
            }
        };
        self.metrics.claim(&self.host, outcome);
        self.send(settlement, &key, &token);
    }

    /// Gives up a claim whose answer will not be used: released with a tombstone, in case
    /// the claim has not reached the cache yet.
    fn abandon(&mut self, key: String, token: String) {
        self.metrics.claim(&self.host, ClaimOutcome::Abandoned);
        let fields = serde_json::json!({
            "reason": "the claim's answer is not used: released with a tombstone",
            "request_id": self.request_id.clone().flatten(),
            "idempotency_key": key,
        });
        log::info!("{}", events::line(Event::ClaimAbandoned, fields));
        self.send(Settlement::Abandon, &key, &token);
    }

    /// Hands a claim's commit, release or abandon to the root context.
    fn send(&self, settlement: Settlement, key: &str, token: &str) {
        let Some(idem) = &self.config.idempotency else {
            return;
        };
        let queued = Queued {
            settlement,
            body: settlement.request(
                key,
                token,
                idem.done_ttl_seconds,
                idem.in_flight_ttl_seconds,
            ),
            attempt: 1,
        };
        // To this VM's root while it sends: no queue message, and no on_queue_ready per
        // settlement; a wake-up only when it is idle.
        if self.link.open.get() {
            let offered = self
                .link
                .batcher
                .borrow_mut()
                .offer_settlement(queued.clone());
            match offered {
                Some(Wake::No) => return,
                Some(Wake::Ring) => {
                    if self
                        .link
                        .wake
                        .get()
                        .is_some_and(|q| self.host.enqueue(q, b""))
                    {
                        return;
                    }
                    // Not woken: it goes with the root's next batch (next claim or retry).
                    self.link.batcher.borrow_mut().rang();
                    let fields = serde_json::json!({
                        "op": settlement.operation().name(),
                        "settlement": settlement.name(),
                        "reason": "root_not_woken",
                        "effect": "sent with the next batch",
                    });
                    log::warn!("{}", events::line(Event::SettlementDelayed, fields));
                    return;
                }
                // Too many waiting here: the shared queue may reach another worker's root.
                None => {}
            }
        }
        let sent = self
            .queue
            .is_some_and(|q| self.host.enqueue(q, &queued.encode()));
        if !sent {
            super::root::give_up(&self.host, &self.metrics, &queued, GiveUp::QueueFull);
        }
    }

    /// A verified delivery's claim could not be sent: the failure policy follows.
    fn claim_not_sent(&self, endpoint: EndpointId, reason: &str) {
        let fields = serde_json::json!({
            "endpoint": self.config.endpoint(endpoint).name,
            "reason": reason,
        });
        log::warn!("{}", events::line(Event::ClaimNotSent, fields));
    }

    /// Marks a verified delivery for the upstream and counts it.
    fn accept(&self, endpoint: EndpointId, verified: &Verified) {
        let ep = self.config.endpoint(endpoint);
        // Every `x-webhook-guard-*` header the client sent was removed with the request
        // headers: adding is enough, and cheaper for Envoy than a replace.
        let set = |name: &str, value: &str| self.host.add_request_header(name, value.as_bytes());
        set(own::ENDPOINT, &ep.name);
        set(own::SECRET_ID, &verified.secret_id);
        if let Some(key) = &verified.idempotency_key {
            set(own::IDEMPOTENCY_KEY, key);
        }
        self.metrics
            .accepted(&self.host, endpoint.index(), verified.secret_index);
        // Built only when debug is on (log's macros check the level first).
        log::debug!(
            "{}",
            events::line(
                Event::Accepted,
                serde_json::json!({
                    "endpoint": ep.name,
                    "secret_id": verified.secret_id,
                    "idempotency_key": verified.idempotency_key,
                    "delivery_id": self.delivery_id,
                }),
            )
        );
    }

    /// The one place that refuses a request: counts it, logs it and answers (or, in report
    /// mode, counts and logs what would have been refused, and forwards).
    fn refuse(&mut self, endpoint: Option<EndpointId>, reject: Reject) -> Action {
        self.state = State::Done;
        let config = Rc::clone(&self.config);
        let ep = endpoint.map(|id| config.endpoint(id));
        let report = ep.is_some_and(|e| e.mode == Mode::Report);
        let index = endpoint.map(EndpointId::index);
        self.metrics.rejected(&self.host, index, &reject, report);
        let event = if report {
            Event::WouldReject
        } else {
            Event::Rejected
        };
        let fields = serde_json::json!({
            "endpoint": ep.map(|e| e.name.as_str()),
            "reason": reject.code(),
            "status": reject.status(),
            "source_ip": self.source_ip().map(|ip| ip.to_string()),
            "request_id": self.request_id(),
            "idempotency_key": self.key_hash,
            "delivery_id": self.delivery_id,
        });
        log::info!("{}", events::line(event, fields));
        if report {
            return Action::Continue;
        }
        let body = reject.body();
        let mut headers = vec![("content-type", "application/json")];
        if let Some(seconds) = reject.retry_after() {
            headers.push(("retry-after", seconds));
        }
        if let Some(allow) = reject.allow() {
            headers.push(("allow", allow));
        }
        if let Err(e) = self
            .host
            .send_reply(reject.status(), &headers, body.as_bytes())
        {
            let fields = serde_json::json!({ "status": reject.status(), "error": e });
            log::warn!("{}", events::line(Event::LocalReplyFailed, fields));
        }
        Action::Pause
    }
}

/// Feeds the body bytes that arrived since the last call (up to `body_size`, cumulative).
fn feed(host: &impl Host, stream: &mut BodyMac, body_size: usize) {
    let from = stream.fed();
    if body_size > from {
        let chunk = host.request_body_at(from, body_size - from);
        stream.update(&chunk);
    }
}
