//! The root context: loads the configuration, defines the metrics, and sends the commits,
//! releases and abandons that request contexts leave in the shared queue. It outlives every
//! request stream, so these calls are not cancelled when the request that made them ends,
//! and it retries them up to `MAX_ATTEMPTS` times, backing off (`retry_delay_ms`) on a tick.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use crate::cache_client::{retry_delay_ms, Queued, MAX_ATTEMPTS};
use crate::config::Config;

use super::host::Host;
use super::http::{cache_call, Guard};
use super::metrics::Metrics;

/// The shared queue that carries claim outcomes from request contexts to the root context.
pub const OUTCOME_QUEUE: &str = "webhook_guard_outcomes";

pub struct Root<H: Host> {
    pub host: H,
    pub config: Option<Rc<Config>>,
    pub metrics: Rc<Metrics>,
    pub queue: Option<u32>,
    /// Commit, release and abandon calls in flight, by call token.
    pending: HashMap<u32, Queued>,
    /// Failed ones waiting for their next send: (when, in host ms, what).
    retries: Vec<(u64, Queued)>,
    /// The host asked this root to end (a new configuration replaced it) while some were
    /// still pending: it ends once they are settled or given up.
    closing: bool,
}

/// How often the root looks for retries that are due, while some wait.
const TICK: Duration = Duration::from_millis(50);

impl<H: Host + Clone + 'static> Root<H> {
    pub fn new(host: H) -> Root<H> {
        Root {
            host,
            config: None,
            metrics: Rc::default(),
            queue: None,
            pending: HashMap::new(),
            retries: Vec::new(),
            closing: false,
        }
    }

    /// A closing root that has nothing left to send tells the host it is done.
    fn finish_if_closing(&self) {
        if self.closing && self.pending.is_empty() && self.retries.is_empty() {
            self.host.done();
        }
    }

    /// A request context for the current configuration (none before one loaded).
    pub fn guard(&self) -> Option<Guard<H>> {
        let config = self.config.clone()?;
        Some(Guard::new(
            self.host.clone(),
            config,
            Rc::clone(&self.metrics),
            self.queue,
        ))
    }

    fn send(&mut self, queued: Queued) {
        let Some(idem) = self.config.as_ref().and_then(|c| c.idempotency.clone()) else {
            return;
        };
        match cache_call(&self.host, &idem, queued.path(), &queued.body) {
            Ok(token) => {
                self.pending.insert(token, queued);
            }
            Err(e) => log::warn!(
                "webhook-guard: cannot reach the cache cluster {}: {e}; the claim lapses after its in-flight TTL",
                idem.cluster
            ),
        }
    }
}

impl<H: Host + Clone + 'static> Context for Root<H> {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        _body: usize,
        _trailers: usize,
    ) {
        let Some(queued) = self.pending.remove(&token) else {
            return;
        };
        self.settle_call(queued, num_headers);
        self.finish_if_closing();
    }

    /// An Envoy listener update (LDS) or filter update (ECDS) replaces this root. Commits
    /// and releases still pending would be lost with it, and a lost commit lets a retry be
    /// processed again: end only once they are through (Envoy keeps the old root meanwhile).
    fn on_done(&mut self) -> bool {
        if self.pending.is_empty() && self.retries.is_empty() {
            return true;
        }
        log::info!(
            "webhook-guard: configuration replaced; sending {} pending commit(s) and release(s) first",
            self.pending.len() + self.retries.len()
        );
        self.closing = true;
        false
    }
}

impl<H: Host + Clone + 'static> Root<H> {
    fn settle_call(&mut self, queued: Queued, num_headers: usize) {
        let status = self.host.call_status(num_headers);
        let op = queued.settlement.operation();
        if Queued::settled(status.as_deref()) {
            self.metrics.cache_settled(&self.host, op);
            return;
        }
        self.metrics.cache_error(&self.host, op);
        let shown = String::from_utf8_lossy(status.as_deref().unwrap_or(b"none")).into_owned();
        if !Queued::retryable(status.as_deref()) {
            log::warn!(
                "webhook-guard: the cache refused a {} (status {shown}); the claim lapses after its in-flight TTL",
                queued.settlement.name()
            );
            return;
        }
        if queued.attempt < MAX_ATTEMPTS {
            let due = self
                .host
                .now_ms()
                .saturating_add(retry_delay_ms(queued.attempt));
            if self.retries.is_empty() {
                self.host.set_tick_period(TICK);
            }
            self.retries.push((
                due,
                Queued {
                    attempt: queued.attempt + 1,
                    ..queued
                },
            ));
        } else {
            // The claim now lapses after in_flight_ttl_seconds: the last safety net.
            log::warn!(
                "webhook-guard: {} failed {MAX_ATTEMPTS} times (status {shown}); the claim lapses after its in-flight TTL",
                queued.settlement.name()
            );
        }
    }
}

impl<H: Host + Clone + 'static> RootContext for Root<H> {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.host.configuration();
        let host = self.host.clone();
        match Config::parse(&bytes, &|name| host.env(name)) {
            Ok(config) => {
                let names: Vec<&str> = config.endpoints.iter().map(|e| e.name.as_str()).collect();
                log::info!("webhook-guard: configured endpoints {}", names.join(", "));
                for slot in config.endpoints.iter().flat_map(|e| &e.skipped_secrets) {
                    log::info!("webhook-guard: secret {slot}");
                }
                if config.idempotency.is_some() && self.queue.is_none() {
                    self.queue = self.host.register_queue(OUTCOME_QUEUE);
                }
                #[cfg(target_arch = "wasm32")]
                proxy_wasm::set_log_level(config.log_level);
                self.metrics = Rc::new(Metrics::define_all(&self.host, &config));
                self.config = Some(Rc::new(config));
                true
            }
            Err(e) => {
                log::error!("webhook-guard: invalid configuration: {e}");
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(self.guard()?))
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        while let Some(message) = self.host.dequeue(queue_id) {
            if let Some(queued) = Queued::decode(&message) {
                self.send(queued);
            }
        }
    }

    fn on_tick(&mut self) {
        let now = self.host.now_ms();
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.retries = waiting;
        if self.retries.is_empty() {
            self.host.set_tick_period(Duration::ZERO);
        }
        for (_, queued) in due {
            self.send(queued);
        }
        self.finish_if_closing();
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
