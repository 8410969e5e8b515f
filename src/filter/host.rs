//! Every call the filter makes to its host, behind one small trait: `Envoy` implements it on
//! `proxy_wasm::hostcalls` (wasm32 only), and the native tests use a recording fake
//! (`super::fake`). The glue above it is plain Rust, generic over the host, and testable
//! without Envoy.
//!
//! Why `hostcalls` rather than the SDK's `HttpContext` helpers: the helpers `unwrap` what
//! the host answers, and a panic kills the VM and every later request on that worker. The
//! `hostcalls` functions return most failures as errors, which the methods below turn into
//! "absent". Some statuses still panic inside the SDK (for example `BadArgument`, which
//! Envoy answers when request headers are read during the response), so callers keep to the
//! phase where each call is valid: request headers during the request only.

use std::time::Duration;

use crate::request::headers::SerializedMap;

/// The host, as the filter uses it. Every method is infallible from the caller's view: a
/// failed read is empty, a failed write or send says so with `false` / `Err`.
pub trait Host {
    /// The request headers (names lowercase), during the request only, as the host
    /// serialises them (`SerializedMap::pairs` reads them in place).
    fn request_headers(&self) -> SerializedMap;
    /// One request header's value, during the request only.
    fn request_header(&self, name: &str) -> Option<Vec<u8>>;
    /// Removes every request header named `name` (bytes, as the map gave it).
    fn remove_request_header(&self, name: &[u8]);
    /// The request trailers, when they arrive.
    fn request_trailers(&self) -> SerializedMap;
    /// Removes every request trailer named `name`.
    fn remove_request_trailer(&self, name: &[u8]);
    /// Adds a request header known to be absent (cheaper for the host than a replace,
    /// which looks for the old value first), during the request only.
    fn add_request_header(&self, name: &str, value: &[u8]);
    /// The first `size` bytes of the buffered request body (`usize::MAX`: all of it).
    fn request_body(&self, size: usize) -> Vec<u8> {
        self.request_body_at(0, size)
    }
    /// `size` bytes of the buffered request body from `start` (the part that arrived since
    /// the last look, when the body is hashed as it arrives).
    fn request_body_at(&self, start: usize, size: usize) -> Vec<u8>;
    /// The response's `:status`, during the response only.
    fn response_status(&self) -> Vec<u8>;
    /// An Envoy property (`["source", "address"]`), empty when absent.
    fn property(&self, path: &[&str]) -> Vec<u8>;
    /// The host's clock, since the Unix epoch.
    fn now(&self) -> Duration;
    /// The host's clock in milliseconds (for call latencies and retry times).
    fn now_ms(&self) -> u64 {
        u64::try_from(self.now().as_millis()).unwrap_or(u64::MAX)
    }
    /// Answers the request locally.
    fn send_reply(&self, status: u32, headers: &[(&str, &str)], body: &[u8]) -> Result<(), String>;
    /// Lets a paused request continue upstream.
    fn resume_request(&self);
    /// Sends an HTTP call to `cluster`; the token that its answer will carry.
    fn dispatch(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<u32, String>;
    /// The `:status` of a call's answer (`None`: no headers, the call failed).
    fn call_status(&self, num_headers: usize) -> Option<Vec<u8>>;
    /// The first `size` bytes of a call's answer body.
    fn call_body(&self, size: usize) -> Vec<u8>;
    fn register_queue(&self, name: &str) -> Option<u32>;
    fn enqueue(&self, queue: u32, message: &[u8]) -> bool;
    fn dequeue(&self, queue: u32) -> Option<Vec<u8>>;
    /// Defines a metric; 0 when it cannot (incrementing 0 does nothing).
    fn define_metric(&self, kind: crate::metrics::Kind, name: &str) -> u32;
    fn increment(&self, metric: u32);
    fn record(&self, metric: u32, value: u64);
    /// Calls the root context's `on_tick` every `period` (zero: stops).
    fn set_tick_period(&self, period: Duration);
    /// 16 random bytes (WASI `random_get`), or `None`.
    fn random(&self) -> Option<[u8; 16]>;
    /// The plugin configuration's bytes.
    fn configuration(&self) -> Vec<u8>;
    /// A VM environment variable (`vm_config.environment_variables`).
    fn env(&self, name: &str) -> Option<String>;
    /// Makes `context_id` the context that the following host calls act for (the root
    /// context answering a request's claim: its local reply or resume). `false`: no such
    /// context any more.
    fn set_effective_context(&self, context_id: u32) -> bool;
}

/// The host when running in Envoy.
#[cfg(target_arch = "wasm32")]
#[derive(Clone, Copy, Default)]
pub struct Envoy;

#[cfg(target_arch = "wasm32")]
mod envoy {
    use std::time::{Duration, UNIX_EPOCH};

    use proxy_wasm::hostcalls;
    use proxy_wasm::types::{BufferType, MapType, MetricType};

    use super::{Envoy, Host, SerializedMap};

    // Two of the SDK's imports, declared again: to read a map without a copy per entry, and
    // to remove a header by its name's bytes. They answer a raw status (0: ok), never read
    // into the SDK's `Status` enum, which lacks some codes the host may send.
    #[link(wasm_import_module = "env")]
    extern "C" {
        fn proxy_get_header_map_pairs(
            map_type: MapType,
            return_map_data: *mut *mut u8,
            return_map_size: *mut usize,
        ) -> u32;
        fn proxy_remove_header_map_value(
            map_type: MapType,
            key_data: *const u8,
            key_size: usize,
        ) -> u32;
    }

    const OK: u32 = 0;

    fn map_pairs(map: MapType) -> SerializedMap {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: the host writes a pointer to `size` bytes it allocated through this
        // module's `proxy_on_memory_allocate` (the SDK's: exactly `size` bytes, alignment 1),
        // and hands their ownership over; the SDK's own `get_map_bytes` takes them the same
        // way. An empty map comes back as a null pointer.
        unsafe {
            if proxy_get_header_map_pairs(map, &mut data, &mut size) != OK || data.is_null() {
                return SerializedMap::default();
            }
            SerializedMap(Vec::from_raw_parts(data, size, size))
        }
    }

    fn remove(map: MapType, name: &[u8]) {
        // SAFETY: the host only reads `name.len()` bytes from `name`.
        let _ = unsafe { proxy_remove_header_map_value(map, name.as_ptr(), name.len()) };
    }

    /// The first `size` bytes of a host buffer; empty when there are none.
    fn buffer(kind: BufferType, size: usize) -> Vec<u8> {
        if size == 0 {
            return Vec::new();
        }
        hostcalls::get_buffer(kind, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    impl Host for Envoy {
        fn request_headers(&self) -> SerializedMap {
            map_pairs(MapType::HttpRequestHeaders)
        }

        fn request_trailers(&self) -> SerializedMap {
            map_pairs(MapType::HttpRequestTrailers)
        }

        fn remove_request_header(&self, name: &[u8]) {
            remove(MapType::HttpRequestHeaders, name);
        }

        fn remove_request_trailer(&self, name: &[u8]) {
            remove(MapType::HttpRequestTrailers, name);
        }

        fn request_header(&self, name: &str) -> Option<Vec<u8>> {
            hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, name)
                .ok()
                .flatten()
        }

        fn add_request_header(&self, name: &str, value: &[u8]) {
            let _ = hostcalls::add_map_value_bytes(MapType::HttpRequestHeaders, name, value);
        }

        fn request_body_at(&self, start: usize, size: usize) -> Vec<u8> {
            if size == 0 {
                return Vec::new();
            }
            hostcalls::get_buffer(BufferType::HttpRequestBody, start, size)
                .ok()
                .flatten()
                .unwrap_or_default()
        }

        fn response_status(&self) -> Vec<u8> {
            hostcalls::get_map_value_bytes(MapType::HttpResponseHeaders, ":status")
                .ok()
                .flatten()
                .unwrap_or_default()
        }

        fn property(&self, path: &[&str]) -> Vec<u8> {
            hostcalls::get_property(path.to_vec())
                .ok()
                .flatten()
                .unwrap_or_default()
        }

        fn now(&self) -> Duration {
            hostcalls::get_current_time()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .unwrap_or_default()
        }

        fn send_reply(
            &self,
            status: u32,
            headers: &[(&str, &str)],
            body: &[u8],
        ) -> Result<(), String> {
            hostcalls::send_http_response(status, headers.to_vec(), Some(body))
                .map_err(|s| format!("{s:?}"))
        }

        fn resume_request(&self) {
            let _ = hostcalls::resume_http_request();
        }

        fn dispatch(
            &self,
            cluster: &str,
            headers: &[(&str, &str)],
            body: &[u8],
            timeout: Duration,
        ) -> Result<u32, String> {
            hostcalls::dispatch_http_call(cluster, headers.to_vec(), Some(body), vec![], timeout)
                .map_err(|s| format!("{s:?}"))
        }

        fn call_status(&self, num_headers: usize) -> Option<Vec<u8>> {
            if num_headers == 0 {
                return None;
            }
            hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, ":status")
                .ok()
                .flatten()
        }

        fn call_body(&self, size: usize) -> Vec<u8> {
            buffer(BufferType::HttpCallResponseBody, size)
        }

        fn register_queue(&self, name: &str) -> Option<u32> {
            hostcalls::register_shared_queue(name).ok()
        }

        fn enqueue(&self, queue: u32, message: &[u8]) -> bool {
            hostcalls::enqueue_shared_queue(queue, Some(message)).is_ok()
        }

        fn dequeue(&self, queue: u32) -> Option<Vec<u8>> {
            hostcalls::dequeue_shared_queue(queue).ok().flatten()
        }

        fn define_metric(&self, kind: crate::metrics::Kind, name: &str) -> u32 {
            let kind = match kind {
                crate::metrics::Kind::Counter => MetricType::Counter,
                crate::metrics::Kind::Gauge => MetricType::Gauge,
                crate::metrics::Kind::Histogram => MetricType::Histogram,
            };
            hostcalls::define_metric(kind, name).unwrap_or(0)
        }

        fn increment(&self, metric: u32) {
            let _ = hostcalls::increment_metric(metric, 1);
        }

        fn record(&self, metric: u32, value: u64) {
            let _ = hostcalls::record_metric(metric, value);
        }

        fn set_tick_period(&self, period: Duration) {
            let _ = hostcalls::set_tick_period(period);
        }

        fn random(&self) -> Option<[u8; 16]> {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).ok().map(|()| bytes)
        }

        fn configuration(&self) -> Vec<u8> {
            buffer(BufferType::PluginConfiguration, usize::MAX)
        }

        fn env(&self, name: &str) -> Option<String> {
            std::env::var(name).ok()
        }

        fn set_effective_context(&self, context_id: u32) -> bool {
            hostcalls::set_effective_context(context_id).is_ok()
        }
    }
}

/// The host's log level for the configuration's.
#[cfg(target_arch = "wasm32")]
pub fn log_level(level: crate::config::LogLevel) -> proxy_wasm::types::LogLevel {
    use crate::config::LogLevel as L;
    use proxy_wasm::types::LogLevel;
    match level {
        L::Trace => LogLevel::Trace,
        L::Debug => LogLevel::Debug,
        L::Info => LogLevel::Info,
        L::Warn => LogLevel::Warn,
        L::Error => LogLevel::Error,
        L::Critical => LogLevel::Critical,
    }
}
