//! The floor of any proxy-wasm filter, for `make bench`: a filter that checks nothing, so
//! the benchmark can tell what Envoy's Wasm host costs per request (VM call-ins, context
//! creation, holding the headers and buffering the body) from what webhook-guard's own
//! checks cost. Configuration `"pass"`: continue at once; `"buffer"`: hold the headers and
//! buffer the whole body the way webhook-guard does, then continue.
//!
//! `cargo build --target wasm32-wasip1 --release -p floor-filter`

#[cfg(target_arch = "wasm32")]
mod floor {
    use proxy_wasm::hostcalls;
    use proxy_wasm::traits::{Context, HttpContext, RootContext};
    use proxy_wasm::types::{Action, BufferType, ContextType};

    proxy_wasm::main! {{
        proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { buffer: false }) });
    }}

    struct Root {
        buffer: bool,
    }

    impl Context for Root {}

    impl RootContext for Root {
        fn on_configure(&mut self, _size: usize) -> bool {
            let config = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
                .ok()
                .flatten()
                .unwrap_or_default();
            self.buffer = config.trim_ascii() == b"buffer";
            true
        }

        fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
            Some(Box::new(Floor {
                buffer: self.buffer,
            }))
        }

        fn get_type(&self) -> Option<ContextType> {
            Some(ContextType::HttpContext)
        }
    }

    struct Floor {
        buffer: bool,
    }

    impl Context for Floor {}

    impl HttpContext for Floor {
        fn on_http_request_headers(&mut self, _headers: usize, end_of_stream: bool) -> Action {
            if self.buffer && !end_of_stream {
                Action::Pause
            } else {
                Action::Continue
            }
        }

        fn on_http_request_body(&mut self, _size: usize, end_of_stream: bool) -> Action {
            if self.buffer && !end_of_stream {
                Action::Pause
            } else {
                Action::Continue
            }
        }
    }
}
