//! The proxy-wasm glue: reads what the host offers, asks the host-free modules for a
//! verdict, and maps it to an Envoy action. No decision is made here.

use std::rc::Rc;
use std::time::UNIX_EPOCH;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType};

use crate::answer::Reject;
use crate::cidr::parse_source_address;
use crate::config::{Config, Endpoint, Mode};
use crate::headers::CapturedHeaders;
use crate::verify::{verify, Verified};

/// Headers this filter adds upstream; any a client sends are removed, so the upstream can
/// trust them.
const HEADER_PREFIX: &str = "x-webhook-guard-";

proxy_wasm::main! {{
    // Also installs a panic hook that logs the panic at critical level.
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { config: None }) });
}}

struct Root {
    config: Option<Rc<Config>>,
}

impl Context for Root {}

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
            state: State::Start,
            source: None,
            request_id: None,
        }))
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
    /// Answered locally or forwarded: nothing more to do on the request path.
    Done,
}

struct Guard {
    config: Rc<Config>,
    state: State,
    source: Option<std::net::IpAddr>,
    request_id: Option<String>,
}

impl Context for Guard {}

impl HttpContext for Guard {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let all = hostcalls::get_map_bytes(MapType::HttpRequestHeaders).unwrap_or_default();
        let header = |name: &str| all.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice());
        self.request_id = header("x-request-id")
            .map(|v| String::from_utf8_lossy(&v[..v.len().min(128)]).into_owned());
        self.source = hostcalls::get_property(vec!["source", "address"])
            .ok()
            .flatten()
            .and_then(|raw| parse_source_address(&raw));
        for (name, _) in all.iter().filter(|(n, _)| n.starts_with(HEADER_PREFIX)) {
            let _ = hostcalls::set_map_value_bytes(MapType::HttpRequestHeaders, name, None);
        }

        let config = Rc::clone(&self.config);
        let path = header(":path").unwrap_or_default();
        let Some((index, endpoint)) = config
            .endpoint_for(path)
            .and_then(|i| Some((i, config.endpoints.get(i)?)))
        else {
            return self.refuse(None, Reject::UnknownEndpoint);
        };

        if let Some(allowed) = &endpoint.source_ips {
            if !self.source.is_some_and(|ip| allowed.contains(ip)) {
                return self.refuse(Some(endpoint), Reject::SourceIpDenied);
            }
        }
        let declared = header("content-length")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > config.max_body_bytes) {
            return self.refuse(Some(endpoint), Reject::BodyTooLarge);
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
        if !matches!(self.state, State::Buffering { .. }) {
            return Action::Continue;
        }
        if body_size as u64 > self.config.max_body_bytes {
            let config = Rc::clone(&self.config);
            let endpoint = self.endpoint(&config);
            return self.refuse(endpoint, Reject::BodyTooLarge);
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
}

impl Guard {
    fn endpoint<'c>(&self, config: &'c Config) -> Option<&'c Endpoint> {
        match &self.state {
            State::Buffering { endpoint, .. } => config.endpoints.get(*endpoint),
            _ => None,
        }
    }

    /// The whole body is buffered: verify it and forward or refuse.
    fn decide(&mut self, body_size: usize) -> Action {
        let config = Rc::clone(&self.config);
        let State::Buffering { endpoint, headers } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Action::Continue;
        };
        let Some(ep) = config.endpoints.get(endpoint) else {
            return Action::Continue;
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
            Ok(verified) => self.forward(ep, &verified),
            Err(reject) => self.refuse(Some(ep), reject),
        }
    }

    fn forward(&mut self, ep: &Endpoint, verified: &Verified) -> Action {
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
        log::debug!(
            "webhook-guard: accepted endpoint={} secret_id={}",
            ep.name,
            verified.secret_id
        );
        self.state = State::Done;
        Action::Continue
    }

    /// The one place that refuses a request: logs it and answers (or, in report mode, logs
    /// what would have been refused and forwards).
    fn refuse(&mut self, ep: Option<&Endpoint>, reject: Reject) -> Action {
        self.state = State::Done;
        let report = ep.is_some_and(|e| e.mode == Mode::Report);
        let line = serde_json::json!({
            "event": if report { "webhook_would_reject" } else { "webhook_rejected" },
            "endpoint": ep.map(|e| e.name.as_str()),
            "reason": reject.code(),
            "status": reject.status(),
            "source_ip": self.source.map(|ip| ip.to_string()),
            "request_id": self.request_id,
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

fn now_unix() -> i64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
