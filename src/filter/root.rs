//! The root context: loads the configuration, defines the metrics, and is the only context
//! that talks to the cache. Request contexts hand it their claims, commits, releases and
//! abandons through the `Link` they share with it, in this VM (a settlement goes through a
//! shared queue instead, which any worker's root drains, when this root has ended: a
//! request can outlive the configuration that created it); it sends them in batches,
//! one request in flight at most (`crate::dedupe::batch`), and hands each claim's answer back to its
//! request. It outlives every request stream, so these calls are not cancelled when the
//! request that made them ends, and it retries failed settlements up to `MAX_ATTEMPTS`
//! times, backing off (`retry_delay_ms`) on a tick.
//!
//! A root does not outlive its VM, and a configuration update may replace the VM (a new
//! `.wasm`, a changed `vm_config` such as an added environment variable): Envoy calls the
//! old root's `on_done` once its last request has ended, then destroys the VM, cancelling
//! its calls and ticks. So a root that ends sends nothing more itself: it puts every
//! settlement still to send (waiting, in flight, waiting for a retry) on the shared queue,
//! which lives in Envoy, not in the VM, for as long as any VM of the same `vm_id` does. The
//! root that replaced it (same VM or a new one) is the queue's newest registrant, so it is
//! woken to send them; a root that registers the queue later (a VM started after the
//! message was put there) drains it at configuration.
//!
//! Why claims do not go through the shared queue: its `on_queue_ready` goes to whichever
//! worker's root registered it last, and a claim's answer must reach its request in this VM.
//! A request context cannot send the batch itself either: Envoy cancels the calls of a
//! stream that ends, and the batch carries other requests' claims. So a request with a claim
//! to send while nothing is in flight rings this root's own queue (a name no other VM has),
//! and the root sends from its `on_queue_ready`: everything that arrived in the same turn of
//! the event loop goes in one batch.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};

use crate::config::{Config, Idempotency};
use crate::dedupe::batch::{Answered, MAX_PENDING_SETTLEMENTS};
use crate::dedupe::client::{
    retry_delay_ms, Queued, SettleResult, Settlement, BATCH_PATH, MAX_ATTEMPTS,
};
use crate::events::{self, Event};
use crate::metrics::GiveUp;

use super::host::Host;
use super::http::{Guard, Waiter};
use super::link::Link;
use super::metrics::Metrics;

/// The shared queue that carries claim outcomes from request contexts to a root context.
pub const OUTCOME_QUEUE: &str = "webhook_guard_outcomes";
/// Prefix of each root's own wake-up queue (a random suffix makes it this VM's alone).
const WAKE_QUEUE_PREFIX: &str = "webhook_guard_batch_";

pub struct Root<H: Host> {
    pub host: H,
    /// This root's context id, to act for it again after answering a request's claim.
    id: u32,
    pub config: Option<Rc<Config>>,
    pub metrics: Rc<Metrics>,
    pub queue: Option<u32>,
    pub link: Rc<Link<Waiter<H>>>,
    /// Failed settlements waiting for their next send: (when, in host ms, what).
    retries: Vec<(u64, Queued)>,
    /// The host asked this root to end (`on_done`): what it had to send is on the shared
    /// queue, and it takes nothing more.
    closing: bool,
}

/// How often the root looks for retries that are due, while some wait.
const TICK: Duration = Duration::from_millis(50);

impl<H: Host> Drop for Root<H> {
    fn drop(&mut self) {
        self.link.open.set(false);
    }
}

/// The request context the SDK holds: the request's state is shared with the root, which
/// delivers claim answers to it.
pub struct GuardHandle<H: Host>(pub Rc<RefCell<Guard<H>>>);

impl<H: Host + Clone + 'static> Root<H> {
    pub fn new(host: H, id: u32) -> Root<H> {
        Root {
            host,
            id,
            config: None,
            metrics: Rc::default(),
            queue: None,
            link: Rc::default(),
            retries: Vec::new(),
            closing: false,
        }
    }

    /// Queues `queued` for a send at `due` (host ms), on the tick.
    fn schedule(&mut self, due: u64, queued: Queued) {
        if self.retries.len() >= MAX_PENDING_SETTLEMENTS {
            give_up(&self.host, &self.metrics, &queued, GiveUp::QueueFull);
            return;
        }
        if self.retries.is_empty() {
            self.host.set_tick_period(TICK);
        }
        self.retries.push((due, queued));
    }

    /// Takes the settlements waiting on the shared queue: a request's that outlived its root
    /// (first attempt: sent with the next batch) or an ended root's (some attempts made: sent
    /// after the back-off the last one earned, so a hand-off, or several in a row, does not
    /// use the attempts up while the cache is away). `later`: nothing goes to the batcher
    /// now, all waits for the tick (at configuration, before the cache cluster is usable).
    fn take_queued(&mut self, queue: u32, later: bool) {
        let mut clock = None;
        while let Some(message) = self.host.dequeue(queue) {
            let Some(queued) = Queued::decode(&message) else {
                continue;
            };
            // Read once, and only for a message (a clock read costs a host call).
            let now = *clock.get_or_insert_with(|| self.host.now_ms());
            match queued.attempt {
                0 | 1 if !later => self.push_settlement(queued),
                0 | 1 => self.schedule(now, queued),
                n => self.schedule(now.saturating_add(retry_delay_ms(n - 1)), queued),
            }
        }
    }

    /// A request context for the current configuration (none before one loaded), as
    /// context `context_id`.
    pub fn guard(&self, context_id: u32) -> Option<Rc<RefCell<Guard<H>>>> {
        let config = self.config.clone()?;
        let guard = Rc::new(RefCell::new(Guard::new(
            self.host.clone(),
            config,
            Rc::clone(&self.metrics),
            self.queue,
            Rc::clone(&self.link),
        )));
        guard.borrow_mut().me = Some((context_id, Rc::downgrade(&guard)));
        Some(guard)
    }

    /// Sends the next batch if none is in flight, and answers the claims that waited too
    /// long for one. Acts for the root context (the batch must be its call, not a request's).
    fn flush(&mut self, now: u64) {
        let Some(config) = self.config.clone() else {
            return;
        };
        let Some(idem) = &config.idempotency else {
            return;
        };
        let (expired, outgoing) = self.link.batcher.borrow_mut().take(now, idem.timeout_ms);
        self.deliver(expired, now);
        let Some(outgoing) = outgoing else {
            return;
        };
        self.host.set_effective_context(self.id);
        let timeout = Duration::from_millis(outgoing.timeout_ms);
        let sent = cache_call(&self.host, idem, BATCH_PATH, &outgoing.body, timeout);
        let failed = match sent {
            Ok(token) => self.link.batcher.borrow_mut().dispatched(Ok(token)),
            Err(e) => {
                let fields = serde_json::json!({ "cluster": idem.cluster, "error": e });
                log::warn!("{}", events::line(Event::CacheClusterUnreachable, fields));
                let mut b = self.link.batcher.borrow_mut();
                let mut failed = b.dispatched(Err(()));
                failed.extend(b.fail_waiting_claims());
                failed
            }
        };
        self.deliver(failed, now);
    }

    /// Hands each claim's answer to its request, and settles or reschedules each
    /// settlement. Ends acting for the root again.
    /// `now`: the host's clock in ms, read once by the callback.
    fn deliver(&mut self, answered: Vec<Answered<Waiter<H>>>, now: u64) {
        if answered.is_empty() {
            return;
        }
        for a in answered {
            match a {
                Answered::Claim {
                    claim,
                    verdict,
                    sent,
                } => {
                    let (context_id, guard) = &claim.waiter;
                    let guard = guard.upgrade();
                    // The request is gone (it gave its claim up when it ended) or busy.
                    let Some(guard) =
                        guard.filter(|_| self.host.set_effective_context(*context_id))
                    else {
                        continue;
                    };
                    let Ok(mut guard) = guard.try_borrow_mut() else {
                        continue;
                    };
                    guard.claim_answered(claim.id, verdict, sent, claim.since_ms, now);
                }
                Answered::Settle { queued, result } => self.settled(queued, result),
            }
        }
        self.host.set_effective_context(self.id);
    }

    fn settled(&mut self, queued: Queued, result: SettleResult) {
        let op = queued.settlement.operation();
        match result {
            SettleResult::Settled => {
                self.metrics.cache_settled(&self.host, op);
                return;
            }
            SettleResult::Refused => {
                self.metrics.cache_error(&self.host, op);
                give_up(&self.host, &self.metrics, &queued, GiveUp::Refused);
                return;
            }
            SettleResult::Retry => self.metrics.cache_error(&self.host, op),
        }
        if queued.attempt < MAX_ATTEMPTS {
            let due = self
                .host
                .now_ms()
                .saturating_add(retry_delay_ms(queued.attempt));
            self.schedule(
                due,
                Queued {
                    attempt: queued.attempt + 1,
                    ..queued
                },
            );
        } else {
            // The claim now lapses after in_flight_ttl_seconds: the last safety net.
            give_up(&self.host, &self.metrics, &queued, GiveUp::RetriesExhausted);
        }
    }

    fn push_settlement(&self, queued: Queued) {
        let (settlement, attempt) = (queued.settlement, queued.attempt);
        if !self.link.batcher.borrow_mut().push_settlement(queued) {
            let fields = given_up_fields(settlement, attempt, GiveUp::QueueFull);
            self.metrics
                .given_up(&self.host, settlement.operation(), GiveUp::QueueFull);
            log::warn!("{}", events::line(Event::SettlementGivenUp, fields));
        }
    }
}

impl<H: Host + Clone + 'static> Context for Root<H> {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let status = self.host.call_status(num_headers);
        let body = if body_size > crate::dedupe::client::MAX_BATCH_BYTES {
            Vec::new()
        } else {
            self.host.call_body(body_size)
        };
        let answered = self
            .link
            .batcher
            .borrow_mut()
            .answered(token, status.as_deref(), &body);
        if let Some(answered) = answered {
            let now = self.host.now_ms();
            self.deliver(answered, now);
            self.flush(now);
        }
    }

    /// An Envoy listener update (LDS) or filter update (ECDS) replaces this root, and may
    /// destroy its VM right after (see the module doc): a commit lost with it lets a retry be
    /// processed again. So everything still to send goes to the shared queue, for the root
    /// that replaced this one, and this root ends at once.
    fn on_done(&mut self) -> bool {
        self.closing = true;
        // Requests still running (none should be: Envoy ends a root after its last request)
        // hand their settlements to the shared queue from now on.
        self.link.open.set(false);
        let now = self.host.now_ms();
        let (claims, mut handed) = self.link.batcher.borrow_mut().hand_off();
        // A claim whose answer will never come now: its request (if any) fails closed and
        // gives the claim up, through the shared queue.
        self.deliver(claims, now);
        handed.extend(
            std::mem::take(&mut self.retries)
                .into_iter()
                .map(|(_, q)| q),
        );
        self.host.set_tick_period(Duration::ZERO);
        if handed.is_empty() {
            return true;
        }
        let total = handed.len();
        let mut queued = 0;
        for q in &handed {
            if self
                .queue
                .is_some_and(|id| self.host.enqueue(id, &q.encode()))
            {
                queued += 1;
            } else {
                give_up(&self.host, &self.metrics, q, GiveUp::QueueFull);
            }
        }
        let fields = serde_json::json!({ "handed_on": queued, "pending": total });
        log::info!("{}", events::line(Event::SettlementsHandedOn, fields));
        true
    }
}

impl<H: Host + Clone + 'static> RootContext for Root<H> {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.host.configuration();
        let host = self.host.clone();
        match Config::parse(&bytes, &|name| host.env(name)) {
            Ok(config) => {
                let names: Vec<&str> = config.endpoints.iter().map(|e| e.name.as_str()).collect();
                let fields = serde_json::json!({
                    "endpoints": names,
                    "version": crate::metrics::VERSION,
                });
                log::info!("{}", events::line(Event::ConfigLoaded, fields));
                for e in &config.endpoints {
                    for slot in &e.skipped_secrets {
                        // The slot's text names the field and the variable, never a value.
                        let fields = serde_json::json!({ "endpoint": e.name, "detail": slot });
                        log::info!("{}", events::line(Event::SecretSlotSkipped, fields));
                    }
                }
                if config.idempotency.is_some() && self.queue.is_none() {
                    self.queue = self.host.register_queue(OUTCOME_QUEUE);
                    // What an ended root (perhaps of a VM already gone) left there.
                    if let Some(queue) = self.queue {
                        self.take_queued(queue, true);
                    }
                }
                if config.idempotency.is_some() && self.link.wake.get().is_none() {
                    let suffix = self.host.random().map_or_else(
                        || format!("{}_{}", self.id, self.host.now_ms()),
                        crate::dedupe::client::new_token,
                    );
                    let name = format!("{WAKE_QUEUE_PREFIX}{suffix}");
                    self.link.wake.set(self.host.register_queue(&name));
                }
                self.link
                    .open
                    .set(self.link.wake.get().is_some() && !self.closing);
                #[cfg(target_arch = "wasm32")]
                proxy_wasm::set_log_level(super::host::log_level(config.log_level));
                self.metrics = Rc::new(Metrics::define_all(&self.host, &config));
                Metrics::build_info(&self.host);
                self.config = Some(Rc::new(config));
                true
            }
            Err(e) => {
                // The error names the field and what is wrong with it, never a secret.
                let fields = serde_json::json!({ "error": e.to_string() });
                log::error!("{}", events::line(Event::ConfigRejected, fields));
                false
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(GuardHandle(self.guard(context_id)?)))
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        if self.closing {
            // Left on the queue for the root that replaced this one.
            return;
        }
        let now = self.host.now_ms();
        if Some(queue_id) == self.link.wake.get() {
            while self.host.dequeue(queue_id).is_some() {}
            self.link.batcher.borrow_mut().rang();
        } else {
            self.take_queued(queue_id, false);
        }
        self.flush(now);
    }

    fn on_tick(&mut self) {
        if self.closing {
            return;
        }
        let now = self.host.now_ms();
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.retries = waiting;
        if self.retries.is_empty() {
            self.host.set_tick_period(Duration::ZERO);
        }
        for (_, queued) in due {
            self.push_settlement(queued);
        }
        self.flush(now);
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Every callback goes to the shared request state. The root only borrows it while it
/// delivers a claim's answer, from its own callbacks, so a borrow here never finds it taken;
/// should it ever, a request callback holds the request (fail closed) rather than panic.
impl<H: Host> Context for GuardHandle<H> {}

impl<H: Host> HttpContext for GuardHandle<H> {
    fn on_http_request_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        self.0.try_borrow_mut().map_or(Action::Pause, |mut g| {
            g.on_http_request_headers(num_headers, end_of_stream)
        })
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.0.try_borrow_mut().map_or(Action::Pause, |mut g| {
            g.on_http_request_body(body_size, end_of_stream)
        })
    }

    fn on_http_request_trailers(&mut self, num_trailers: usize) -> Action {
        self.0.try_borrow_mut().map_or(Action::Pause, |mut g| {
            g.on_http_request_trailers(num_trailers)
        })
    }

    fn on_http_response_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        self.0.try_borrow_mut().map_or(Action::Continue, |mut g| {
            g.on_http_response_headers(num_headers, end_of_stream)
        })
    }

    fn on_log(&mut self) {
        if let Ok(mut g) = self.0.try_borrow_mut() {
            g.on_log();
        }
    }
}

/// A POST to the cache service through its Envoy cluster.
pub fn cache_call(
    host: &impl Host,
    idem: &Idempotency,
    path: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<u32, String> {
    host.dispatch(
        &idem.cluster,
        &[
            (":method", "POST"),
            (":path", path),
            (":authority", &idem.authority),
            ("content-type", "application/json"),
        ],
        body,
        timeout,
    )
}

/// What a given-up settlement's line says.
fn given_up_fields(settlement: Settlement, attempt: u8, reason: GiveUp) -> serde_json::Value {
    serde_json::json!({
        "op": settlement.operation().name(),
        "settlement": settlement.name(),
        "reason": reason.name(),
        "attempt": attempt,
        "effect": "the claim lapses after its in-flight TTL",
    })
}

/// Counts and logs a commit or release the filter stops trying to send: its claim lapses
/// after its in-flight TTL (a retry of a processed delivery within it is answered in_flight,
/// one after it is processed again).
pub fn give_up(host: &impl Host, metrics: &Metrics, queued: &Queued, reason: GiveUp) {
    metrics.given_up(host, queued.settlement.operation(), reason);
    let fields = given_up_fields(queued.settlement, queued.attempt, reason);
    log::warn!("{}", events::line(Event::SettlementGivenUp, fields));
}
