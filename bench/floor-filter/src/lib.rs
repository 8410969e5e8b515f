//! The floor of any proxy-wasm filter, for `make bench`: a filter that checks nothing, so
//! the benchmark can tell what Envoy's Wasm host costs per request (VM call-ins, context
//! creation, holding the headers, buffering and copying the body) from what webhook-guard's
//! own checks cost. Configuration:
//!
//! - `"pass"`: continue at once;
//! - `"buffer"`: hold the headers and buffer the whole body the way webhook-guard does;
//! - `"read"`: as `buffer`, and also copy every request header and the whole body into the
//!   VM, as any filter that verifies something must.
//!
//! `cargo build --target wasm32-wasip1 --release -p floor-filter`

#[cfg(target_arch = "wasm32")]
mod floor {
    use proxy_wasm::hostcalls;
    use proxy_wasm::traits::{Context, HttpContext, RootContext};
    use proxy_wasm::types::{Action, BufferType, ContextType, MapType};

    proxy_wasm::main! {{
        proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { mode: Mode::Pass }) });
    }}

    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Pass,
        Buffer,
        Read,
    }

    struct Root {
        mode: Mode,
    }

    impl Context for Root {}

    impl RootContext for Root {
        fn on_configure(&mut self, _size: usize) -> bool {
            let config = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
                .ok()
                .flatten()
                .unwrap_or_default();
            self.mode = match config.trim_ascii() {
                b"buffer" => Mode::Buffer,
                b"read" => Mode::Read,
                _ => Mode::Pass,
            };
            true
        }

        fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
            Some(Box::new(Floor { mode: self.mode }))
        }

        fn get_type(&self) -> Option<ContextType> {
            Some(ContextType::HttpContext)
        }
    }

    struct Floor {
        mode: Mode,
    }

    impl Context for Floor {}

    impl HttpContext for Floor {
        fn on_http_request_headers(&mut self, _headers: usize, end_of_stream: bool) -> Action {
            if self.mode == Mode::Read {
                let headers = hostcalls::get_map_bytes(MapType::HttpRequestHeaders);
                std::hint::black_box(headers.map(|h| h.len()).unwrap_or(0));
            }
            if self.mode != Mode::Pass && !end_of_stream {
                Action::Pause
            } else {
                Action::Continue
            }
        }

        fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
            if self.mode == Mode::Pass {
                return Action::Continue;
            }
            if !end_of_stream {
                return Action::Pause;
            }
            if self.mode == Mode::Read {
                let body = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size);
                std::hint::black_box(body.ok().flatten().map(|b| b.len()).unwrap_or(0));
            }
            Action::Continue
        }
    }
}
