//! The proxy-wasm glue: reads what the host offers, asks the host-free modules for a
//! verdict, and maps it to an Envoy action. No decision is made here.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType};

use crate::answer::Reject;
use crate::cache_client::{
    claim_request, new_token, parse_claim, Claim, Op, Outcome, CLAIM_PATH, MAX_ANSWER_BYTES,
    MAX_ATTEMPTS,
};
use crate::cidr::parse_source_address;
use crate::config::{Config, Idempotency, Mode, OnUnavailable, Route};
use crate::headers::CapturedHeaders;
use crate::lifecycle::{self, Fate};
use crate::metrics;
use crate::verify::{verify, Verified};

/// Headers this filter adds upstream; any a client sends are removed, so the upstream can
/// trust them. So are `_` spellings (`x_webhook_guard_endpoint`), which CGI and WSGI
/// receivers read as the same `HTTP_X_WEBHOOK_GUARD_ENDPOINT`.
const HEADER_PREFIX: &str = "x-webhook-guard-";

fn is_own_header(name: &str) -> bool {
    let name = name.as_bytes();
    name.len() >= HEADER_PREFIX.len()
        && name
            .iter()
            .zip(HEADER_PREFIX.as_bytes())
            .all(|(&n, &p)| n.to_ascii_lowercase() == p || (n == b'_' && p == b'-'))
}

/// Longest header value (request or delivery id) put in a log line.
const MAX_LOGGED_HEADER_BYTES: usize = 128;

/// A header value as a log line may carry it: cut, and lossily UTF-8 (serde_json escapes it).
fn cut_for_log(v: &[u8]) -> String {
    String::from_utf8_lossy(&v[..v.len().min(MAX_LOGGED_HEADER_BYTES)]).into_owned()
}
/// The shared queue that carries commits and releases from request contexts to the root
/// context, which outlives the request stream (Envoy cancels a context's own calls when the
/// stream ends).
const OUTCOME_QUEUE: &str = "webhook_guard_outcomes";

/// Metric ids, defined once per configuration so a request only increments.
#[derive(Default)]
struct Metrics {
    /// Per endpoint (config order), then one slot for requests that matched no endpoint.
    endpoints: Vec<EndpointMetrics>,
    cache_errors: [u32; 3],
    cache_settled: [u32; 3],
    /// By `metrics::CLAIM_OUTCOMES`.
    claims: [u32; 5],
    claim_latency: u32,
}

#[derive(Default)]
struct EndpointMetrics {
    /// Per secret, in config order.
    accepted: Vec<u32>,
    /// Per reason, in `crate::answer::REFUSALS` order.
    rejected: Vec<u32>,
    would_reject: Vec<u32>,
    duplicates: u32,
}

fn define(kind: MetricType, name: &str) -> u32 {
    // 0 is never a valid id; incrementing it fails quietly, which is what we want here.
    hostcalls::define_metric(kind, name).unwrap_or(0)
}

impl Metrics {
    fn define_all(config: &Config) -> Metrics {
        let counter = |name: String| define(MetricType::Counter, &name);
        let reasons = |ep: &str, report: bool| -> Vec<u32> {
            crate::answer::REFUSALS
                .iter()
                .map(|r| counter(metrics::rejected(ep, r.code(), report)))
                .collect()
        };
        let mut endpoints: Vec<EndpointMetrics> = config
            .endpoints
            .iter()
            .map(|ep| EndpointMetrics {
                accepted: ep
                    .secrets
                    .iter()
                    .map(|s| counter(metrics::accepted(&ep.name, &s.id)))
                    .collect(),
                rejected: reasons(&ep.name, false),
                would_reject: reasons(&ep.name, true),
                duplicates: counter(metrics::duplicates(&ep.name)),
            })
            .collect();
        endpoints.push(EndpointMetrics {
            rejected: reasons(metrics::NO_ENDPOINT, false),
            ..EndpointMetrics::default()
        });
        let ops = |f: fn(&str) -> String| metrics::CACHE_OPS.map(|op| counter(f(op)));
        Metrics {
            endpoints,
            cache_errors: ops(metrics::cache_errors),
            cache_settled: ops(metrics::cache_settled),
            claims: metrics::CLAIM_OUTCOMES.map(|o| counter(metrics::claims(o))),
            claim_latency: define(MetricType::Histogram, metrics::CLAIM_LATENCY_MS),
        }
    }

    fn endpoint(&self, index: Option<usize>) -> Option<&EndpointMetrics> {
        match index {
            Some(i) => self.endpoints.get(i),
            None => self.endpoints.last(),
        }
    }

    fn rejected(&self, endpoint: Option<usize>, reject: &Reject, report: bool) {
        let Some(m) = self.endpoint(endpoint) else {
            return;
        };
        if *reject == Reject::Duplicate {
            return inc(m.duplicates);
        }
        let slot = crate::answer::REFUSALS
            .iter()
            .position(|r| r.code() == reject.code());
        let ids = if report { &m.would_reject } else { &m.rejected };
        if let Some(id) = slot.and_then(|i| ids.get(i)) {
            inc(*id);
        }
    }

    /// Counts a claim outcome by its `metrics::CLAIM_OUTCOMES` name.
    fn claim(&self, outcome: &str) {
        if let Some(i) = metrics::CLAIM_OUTCOMES.iter().position(|o| *o == outcome) {
            inc(self.claims[i]);
        }
    }

    fn accepted(&self, endpoint: usize, secret: usize) {
        if let Some(id) = self
            .endpoint(Some(endpoint))
            .and_then(|m| m.accepted.get(secret))
        {
            inc(*id);
        }
    }
}

fn inc(id: u32) {
    let _ = hostcalls::increment_metric(id, 1);
}

/// The `op` label of a call: an abandon is a release with a tombstone.
fn op_index(op: Op) -> usize {
    match op {
        Op::Commit => 1,
        Op::Release | Op::Abandon => 2,
    }
}

proxy_wasm::main! {{
    // Also installs a panic hook that logs the panic at critical level.
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(Root { config: None, metrics: Rc::default(), queue: None, pending: HashMap::new() })
    });
}}

struct Root {
    config: Option<Rc<Config>>,
    metrics: Rc<Metrics>,
    queue: Option<u32>,
    /// Commit and release calls in flight, by call token.
    pending: HashMap<u32, Outcome>,
}

impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        _body: usize,
        _trailers: usize,
    ) {
        let Some(outcome) = self.pending.remove(&token) else {
            return;
        };
        let status = call_status(num_headers);
        if Outcome::settled(status.as_deref()) {
            inc(self.metrics.cache_settled[op_index(outcome.op)]);
            return;
        }
        inc(self.metrics.cache_errors[op_index(outcome.op)]);
        let op = outcome.op.name();
        if outcome.attempt < MAX_ATTEMPTS {
            self.send_outcome(Outcome {
                attempt: outcome.attempt + 1,
                ..outcome
            });
        } else {
            // The claim now lapses after in_flight_ttl_seconds: the last safety net.
            log::warn!(
                "webhook-guard: {op} failed {MAX_ATTEMPTS} times (status {}); the claim lapses after its in-flight TTL",
                String::from_utf8_lossy(status.as_deref().unwrap_or(b"none"))
            );
        }
    }
}

impl Root {
    fn send_outcome(&mut self, outcome: Outcome) {
        let Some(idem) = self.config.as_ref().and_then(|c| c.idempotency.clone()) else {
            return;
        };
        let body = outcome.request(idem.done_ttl_seconds, idem.in_flight_ttl_seconds);
        match dispatch(&idem, outcome.path(), &body) {
            Ok(token) => {
                self.pending.insert(token, outcome);
            }
            Err(e) => log::warn!(
                "webhook-guard: cannot reach the cache cluster {}: {e:?}",
                idem.cluster
            ),
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        match Config::parse(&bytes, &|name| std::env::var(name).ok()) {
            Ok(config) => {
                let names: Vec<&str> = config.endpoints.iter().map(|e| e.name.as_str()).collect();
                log::info!("webhook-guard: configured endpoints {}", names.join(", "));
                if config.idempotency.is_some() && self.queue.is_none() {
                    self.queue = hostcalls::register_shared_queue(OUTCOME_QUEUE).ok();
                }
                proxy_wasm::set_log_level(config.log_level);
                self.metrics = Rc::new(Metrics::define_all(&config));
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
        let config = self.config.clone()?;
        Some(Box::new(Guard {
            config,
            metrics: Rc::clone(&self.metrics),
            queue: self.queue,
            state: State::Start,
            source: None,
            key_hash: None,
            delivery_id: None,
            request_id: None,
        }))
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        while let Ok(Some(message)) = hostcalls::dequeue_shared_queue(queue_id) {
            if let Some(outcome) = Outcome::decode(&message) {
                self.send_outcome(outcome);
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Where one request is in its life.
enum State {
    Start,
    /// Headers read; the body is being buffered.
    Buffering {
        endpoint: usize,
        headers: CapturedHeaders,
    },
    /// Verified; waiting for the cache's answer to the claim of `key` with our `token`
    /// (sent at `since_ms`). Leaving this state any way but `Claimed` abandons the claim.
    Claiming {
        endpoint: usize,
        verified: Verified,
        key: String,
        token: String,
        since_ms: u64,
    },
    /// Forwarded holding a claim: its fate (`crate::lifecycle`) is known once Envoy answers
    /// or the stream ends.
    Claimed {
        key: String,
        token: String,
    },
    /// Answered locally or forwarded: nothing more to do.
    Done,
}

struct Guard {
    config: Rc<Config>,
    metrics: Rc<Metrics>,
    queue: Option<u32>,
    state: State,
    /// Envoy's `source.address`, read when first needed (allowlist or security log): the
    /// outer `None` is "not read yet".
    source: Option<Option<std::net::IpAddr>>,
    /// The delivery's idempotency key hash, once verified (for the security log).
    key_hash: Option<String>,
    /// The sender's unsigned delivery id (GitHub, Shopify), for the security log only.
    delivery_id: Option<String>,
    /// The request's `x-request-id` (Envoy sets one), cut to 128 bytes, for the security
    /// log: kept from the request headers, since reading them later (response phase, on_log)
    /// is an error on which the SDK's hostcalls panic.
    request_id: Option<String>,
}

impl Context for Guard {
    fn on_http_call_response(
        &mut self,
        _token: u32,
        num_headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let State::Claiming {
            endpoint,
            verified,
            key,
            token,
            since_ms,
        } = std::mem::replace(&mut self.state, State::Done)
        else {
            return;
        };
        let _ = hostcalls::record_metric(
            self.metrics.claim_latency,
            now_ms().saturating_sub(since_ms),
        );
        let status = call_status(num_headers);
        let body = if body_size == 0 || body_size > MAX_ANSWER_BYTES {
            Vec::new()
        } else {
            hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        let action = match parse_claim(status.as_deref(), &body, &token) {
            Claim::Claimed { token } => {
                self.accept(endpoint, &verified);
                self.metrics.claim("claimed");
                self.state = State::Claimed { key, token };
                Action::Continue
            }
            Claim::Done => self.refuse(Some(endpoint), Reject::Duplicate),
            Claim::InFlight => self.refuse(Some(endpoint), Reject::InFlight),
            Claim::Unavailable => {
                inc(self.metrics.cache_errors[0]);
                // Too late, or unreadable: the claim may be stored (or still on its way), and
                // no one else could ever release it.
                self.abandon(key, token);
                self.cache_unavailable(endpoint, &verified)
            }
        };
        if action == Action::Continue {
            let _ = hostcalls::resume_http_request();
        }
    }
}

impl HttpContext for Guard {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let all = hostcalls::get_map_bytes(MapType::HttpRequestHeaders).unwrap_or_default();
        let header = |name: &str| {
            all.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_slice())
        };
        self.request_id = header("x-request-id").map(cut_for_log);
        for (name, _) in all.iter().filter(|(n, _)| is_own_header(n)) {
            let _ = hostcalls::set_map_value_bytes(MapType::HttpRequestHeaders, name, None);
        }

        let config = Rc::clone(&self.config);
        let path = header(":path").unwrap_or_default();
        let index = match config.route(path) {
            Route::Endpoint(i) => i,
            Route::Unknown => return self.refuse(None, Reject::UnknownEndpoint),
            Route::Ambiguous => return self.refuse(None, Reject::AmbiguousPath),
        };
        // Can't happen (route returns indexes of endpoints); refuse rather than forward.
        let Some(endpoint) = config.endpoints.get(index) else {
            return self.refuse(None, Reject::UnknownEndpoint);
        };
        if let Some(h) = &endpoint.delivery_id {
            self.delivery_id = h.names.iter().find_map(|n| header(n)).map(cut_for_log);
        }
        if let Some(allowed) = &endpoint.source_ips {
            if !self.source_ip().is_some_and(|ip| allowed.contains(ip)) {
                return self.refuse(Some(index), Reject::SourceIpDenied);
            }
        }
        let declared = header("content-length")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > config.max_body_bytes) {
            return self.refuse(Some(index), Reject::BodyTooLarge);
        }

        let headers = CapturedHeaders::capture(
            all.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
            &endpoint.wanted_headers,
        );
        self.state = State::Buffering {
            endpoint: index,
            headers,
        };
        if end_of_stream {
            return self.decide(0);
        }
        // Hold the headers until the body is verified (needs allow_on_headers_stop_iteration).
        Action::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let State::Buffering { endpoint, .. } = self.state else {
            return Action::Continue;
        };
        if body_size as u64 > self.config.max_body_bytes {
            return self.refuse(Some(endpoint), Reject::BodyTooLarge);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.decide(body_size)
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        // A request that ends with trailers never sees end_of_stream on its body.
        if !matches!(self.state, State::Buffering { .. }) {
            return Action::Continue;
        }
        let size = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, usize::MAX)
            .ok()
            .flatten()
            .map_or(0, |b| b.len());
        self.decide(size)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let State::Claimed { .. } = self.state {
            let status = hostcalls::get_map_value_bytes(MapType::HttpResponseHeaders, ":status")
                .ok()
                .flatten()
                .unwrap_or_default();
            let details = property(&["response", "code_details"]);
            let fate = lifecycle::on_response(&status, &details, response_flags());
            self.settle(fate);
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        match std::mem::replace(&mut self.state, State::Done) {
            // No response headers: the client left, or the stream was reset.
            claimed @ State::Claimed { .. } => {
                self.state = claimed;
                self.settle(lifecycle::on_end(response_flags()));
            }
            // The client left while the claim was on its way: nobody will use its answer.
            State::Claiming { key, token, .. } => self.abandon(key, token),
            _ => {}
        }
    }
}

impl Guard {
    fn source_ip(&mut self) -> Option<std::net::IpAddr> {
        *self.source.get_or_insert_with(|| {
            hostcalls::get_property(vec!["source", "address"])
                .ok()
                .flatten()
                .and_then(|raw| parse_source_address(&raw))
        })
    }

    /// The whole body is buffered: verify it and forward or refuse.
    fn decide(&mut self, body_size: usize) -> Action {
        let config = Rc::clone(&self.config);
        let State::Buffering { endpoint, headers } =
            std::mem::replace(&mut self.state, State::Done)
        else {
            return Action::Continue;
        };
        // Can't happen (the index came from the configuration); refuse rather than forward.
        let Some(ep) = config.endpoints.get(endpoint) else {
            return self.refuse(None, Reject::UnknownEndpoint);
        };
        let body = if body_size == 0 {
            Vec::new()
        } else {
            hostcalls::get_buffer(BufferType::HttpRequestBody, 0, body_size)
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        match verify(ep, &headers, &body, now_unix()) {
            Ok(verified) => self.claim_and_forward(endpoint, verified),
            Err(reject) => self.refuse(Some(endpoint), reject),
        }
    }

    /// Forwards a verified delivery, after claiming it when the endpoint deduplicates.
    fn claim_and_forward(&mut self, endpoint: usize, verified: Verified) -> Action {
        self.key_hash.clone_from(&verified.idempotency_key);
        let config = Rc::clone(&self.config);
        let (Some(idem), Some(key)) = (&config.idempotency, &verified.idempotency_key) else {
            self.accept(endpoint, &verified);
            return Action::Continue;
        };
        // Our own token: whatever becomes of the claim's answer, we can release the claim.
        let mut random = [0u8; 16];
        if let Err(e) = getrandom::fill(&mut random) {
            log::warn!("webhook-guard: no random source for a claim token: {e}");
            inc(self.metrics.cache_errors[0]);
            return self.cache_unavailable(endpoint, &verified);
        }
        let token = new_token(random);
        match dispatch(
            idem,
            CLAIM_PATH,
            &claim_request(key, &token, idem.in_flight_ttl_seconds),
        ) {
            Ok(_) => {
                self.state = State::Claiming {
                    endpoint,
                    key: key.clone(),
                    token,
                    verified,
                    since_ms: now_ms(),
                };
                Action::Pause
            }
            Err(e) => {
                log::warn!(
                    "webhook-guard: cannot reach the cache cluster {}: {e:?}",
                    idem.cluster
                );
                inc(self.metrics.cache_errors[0]);
                self.cache_unavailable(endpoint, &verified)
            }
        }
    }

    /// The endpoint's failure policy when the cache cannot answer a claim.
    fn cache_unavailable(&mut self, endpoint: usize, verified: &Verified) -> Action {
        let allow = self
            .config
            .idempotency
            .as_ref()
            .is_some_and(|i| i.on_unavailable == OnUnavailable::Allow);
        if !allow {
            return self.refuse(Some(endpoint), Reject::IdempotencyUnavailable);
        }
        log::warn!("webhook-guard: cache unavailable, forwarding without deduplication (on_unavailable: allow)");
        self.accept(endpoint, verified);
        Action::Continue
    }

    /// Carries out a held claim's fate: a commit or release goes out through the root
    /// context (which outlives this stream); a kept claim is counted and logged.
    fn settle(&mut self, fate: Fate) {
        let State::Claimed { key, token } = std::mem::replace(&mut self.state, State::Done) else {
            return;
        };
        let op = match fate {
            Fate::Commit => Op::Commit,
            Fate::Release => Op::Release,
            Fate::Keep => {
                self.metrics.claim("kept");
                let line = serde_json::json!({
                    "event": "webhook_claim_kept",
                    "reason": "outcome unknown: the receiver may have the delivery",
                    "response_flags": response_flags(),
                    "request_id": self.request_id,
                    "idempotency_key": key,
                });
                log::info!("{line}");
                return;
            }
        };
        self.metrics.claim(if op == Op::Commit {
            "committed"
        } else {
            "released"
        });
        self.send(op, key, token);
    }

    /// Gives up a claim whose answer will not be used: released with a tombstone, in case
    /// the claim has not reached the cache yet.
    fn abandon(&mut self, key: String, token: String) {
        self.metrics.claim("abandoned");
        self.send(Op::Abandon, key, token);
    }

    fn send(&self, op: Op, key: String, token: String) {
        let outcome = Outcome {
            op,
            key,
            token,
            attempt: 1,
        };
        let queued = self
            .queue
            .is_some_and(|q| hostcalls::enqueue_shared_queue(q, Some(&outcome.encode())).is_ok());
        if !queued {
            log::warn!(
                "webhook-guard: could not queue a claim's {}; it lapses after its in-flight TTL",
                op.name()
            );
        }
    }

    /// Marks a verified delivery for the upstream and counts it.
    fn accept(&self, endpoint: usize, verified: &Verified) {
        let Some(ep) = self.config.endpoints.get(endpoint) else {
            return;
        };
        let set = |name: &str, value: &str| {
            let _ = hostcalls::set_map_value_bytes(
                MapType::HttpRequestHeaders,
                name,
                Some(value.as_bytes()),
            );
        };
        set("x-webhook-guard-endpoint", &ep.name);
        set("x-webhook-guard-secret-id", &verified.secret_id);
        if let Some(key) = &verified.idempotency_key {
            set("x-webhook-guard-idempotency-key", key);
        }
        self.metrics.accepted(endpoint, verified.secret_index);
        log::debug!(
            "webhook-guard: accepted endpoint={} secret_id={}",
            ep.name,
            verified.secret_id
        );
    }

    /// The one place that refuses a request: counts it, logs it and answers (or, in report
    /// mode, counts and logs what would have been refused, and forwards).
    fn refuse(&mut self, endpoint: Option<usize>, reject: Reject) -> Action {
        self.state = State::Done;
        let config = Rc::clone(&self.config);
        let ep = endpoint.and_then(|i| config.endpoints.get(i));
        let report = ep.is_some_and(|e| e.mode == Mode::Report);
        self.metrics.rejected(endpoint, &reject, report);
        let line = serde_json::json!({
            "event": if report { "webhook_would_reject" } else { "webhook_rejected" },
            "endpoint": ep.map(|e| e.name.as_str()),
            "reason": reject.code(),
            "status": reject.status(),
            "source_ip": self.source_ip().map(|ip| ip.to_string()),
            "request_id": self.request_id,
            "idempotency_key": self.key_hash,
            "delivery_id": self.delivery_id,
        });
        log::info!("{line}");
        if report {
            return Action::Continue;
        }
        let body = reject.body();
        let mut headers = vec![("content-type", "application/json")];
        if let Some(seconds) = reject.retry_after() {
            headers.push(("retry-after", seconds));
        }
        if let Err(status) =
            hostcalls::send_http_response(reject.status(), headers, Some(body.as_bytes()))
        {
            log::warn!("webhook-guard: could not send the local reply: {status:?}");
        }
        Action::Pause
    }
}

/// An Envoy property's bytes (empty when absent).
fn property(path: &[&str]) -> Vec<u8> {
    hostcalls::get_property(path.to_vec())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Envoy's `response.flags` for this stream so far.
fn response_flags() -> u64 {
    lifecycle::parse_flags(&property(&["response", "flags"]))
}

/// Sends a POST to the cache service through its Envoy cluster.
fn dispatch(idem: &Idempotency, path: &str, body: &[u8]) -> Result<u32, proxy_wasm::types::Status> {
    hostcalls::dispatch_http_call(
        &idem.cluster,
        vec![
            (":method", "POST"),
            (":path", path),
            (":authority", &idem.authority),
            ("content-type", "application/json"),
        ],
        Some(body),
        vec![],
        Duration::from_millis(idem.timeout_ms),
    )
}

/// The `:status` of a call's answer; `None` when the call failed and Envoy gave no headers.
fn call_status(num_headers: usize) -> Option<Vec<u8>> {
    if num_headers == 0 {
        return None;
    }
    hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, ":status")
        .ok()
        .flatten()
}

fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn now_unix() -> i64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
