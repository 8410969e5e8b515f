//! The floor of any proxy-wasm filter, for `make bench`: a filter that checks nothing, so
//! the benchmark can tell what Envoy's Wasm host costs per request (VM call-ins, context
//! creation, holding the headers, buffering and copying the body) from what webhook-guard's
//! own checks cost. Configuration:
//!
//! - `"pass"`: continue at once;
//! - `"buffer"`: hold the headers and buffer the whole body the way webhook-guard does;
//! - `"read"`: as `buffer`, and also copy every request header and the whole body into the
//!   VM, as any filter that verifies something must.
//! - `"ladder:STEP,STEP,..."`: as `buffer` plus the named host calls, each the one
//!   webhook-guard makes for a verified delivery, so `make bench` can price them one at a
//!   time (its cost ladder adds them in this order):
//!   `headers` (copy every request header into the VM), `source` (the `source.address`
//!   property), `clock` (the host's time), `body` (copy the whole body into the VM),
//!   `write` (add three request headers: endpoint, secret id, key), `metric` (increment a
//!   counter), `log` (one log line at info, as a refusal writes).
//!
//! `cargo build --target wasm32-wasip1 --release -p floor-filter`

#[cfg(target_arch = "wasm32")]
mod floor {
    use proxy_wasm::hostcalls;
    use proxy_wasm::traits::{Context, HttpContext, RootContext};
    use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType};

    proxy_wasm::main! {{
        proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
            Box::new(Root { steps: Steps::default(), metric: 0 })
        });
    }}

    /// The host calls made per request, besides holding headers and body.
    #[derive(Clone, Copy, Default)]
    struct Steps {
        hold: bool,
        headers: bool,
        source: bool,
        clock: bool,
        body: bool,
        write: bool,
        metric: bool,
        log: bool,
    }

    impl Steps {
        fn parse(config: &[u8]) -> Steps {
            let config = config.trim_ascii();
            match config {
                b"pass" => return Steps::default(),
                b"buffer" => {
                    return Steps {
                        hold: true,
                        ..Steps::default()
                    }
                }
                b"read" => {
                    return Steps {
                        hold: true,
                        headers: true,
                        body: true,
                        ..Steps::default()
                    }
                }
                _ => {}
            }
            let mut s = Steps {
                hold: true,
                ..Steps::default()
            };
            let list = config.strip_prefix(b"ladder:").unwrap_or_default();
            for step in list.split(|&b| b == b',') {
                match step.trim_ascii() {
                    b"headers" => s.headers = true,
                    b"source" => s.source = true,
                    b"clock" => s.clock = true,
                    b"body" => s.body = true,
                    b"write" => s.write = true,
                    b"metric" => s.metric = true,
                    b"log" => s.log = true,
                    _ => {}
                }
            }
            s
        }
    }

    struct Root {
        steps: Steps,
        metric: u32,
    }

    impl Context for Root {}

    impl RootContext for Root {
        fn on_configure(&mut self, _size: usize) -> bool {
            let config = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
                .ok()
                .flatten()
                .unwrap_or_default();
            self.steps = Steps::parse(&config);
            if self.steps.metric {
                self.metric =
                    hostcalls::define_metric(MetricType::Counter, "floor_accepted").unwrap_or(0);
            }
            true
        }

        fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
            Some(Box::new(Floor {
                steps: self.steps,
                metric: self.metric,
            }))
        }

        fn get_type(&self) -> Option<ContextType> {
            Some(ContextType::HttpContext)
        }
    }

    struct Floor {
        steps: Steps,
        metric: u32,
    }

    impl Context for Floor {}

    impl HttpContext for Floor {
        fn on_http_request_headers(&mut self, _headers: usize, end_of_stream: bool) -> Action {
            let s = self.steps;
            if s.headers {
                let headers = hostcalls::get_map_bytes(MapType::HttpRequestHeaders);
                std::hint::black_box(headers.map(|h| h.len()).unwrap_or(0));
            }
            if s.source {
                let a = hostcalls::get_property(vec!["source", "address"]);
                std::hint::black_box(a.ok().flatten().map(|a| a.len()).unwrap_or(0));
            }
            if s.hold && !end_of_stream {
                Action::Pause
            } else {
                self.finish(0);
                Action::Continue
            }
        }

        fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
            if !self.steps.hold {
                return Action::Continue;
            }
            if !end_of_stream {
                return Action::Pause;
            }
            self.finish(size);
            Action::Continue
        }
    }

    impl Floor {
        /// What a verified delivery costs once its body is in.
        fn finish(&self, size: usize) {
            let s = self.steps;
            if s.clock {
                std::hint::black_box(hostcalls::get_current_time().ok());
            }
            if s.body && size > 0 {
                let body = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size);
                std::hint::black_box(body.ok().flatten().map(|b| b.len()).unwrap_or(0));
            }
            if s.write {
                for (name, value) in [
                    ("x-floor-endpoint", "genesys"),
                    ("x-floor-secret-id", "current"),
                    (
                        "x-floor-key",
                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                    ),
                ] {
                    let _ = hostcalls::set_map_value_bytes(
                        MapType::HttpRequestHeaders,
                        name,
                        Some(value.as_bytes()),
                    );
                }
            }
            if s.metric {
                let _ = hostcalls::increment_metric(self.metric, 1);
            }
            if s.log {
                let _ = hostcalls::log(LogLevel::Info, "floor: accepted endpoint=genesys");
            }
        }
    }
}
