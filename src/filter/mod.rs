//! The proxy-wasm glue: reads what the host offers, asks the host-free modules for a
//! verdict, and maps it to an Envoy action. No decision is made here.
//!
//! - `host`: every host call behind the `Host` trait; `Envoy` implements it (wasm32).
//! - `root`: the root context (configuration, metrics, the batched cache call-out, the
//!   outcome queue and its retries).
//! - `http`: one request's state machine.
//! - `link`: what a root shares with its requests (the batcher, the wake-up queue).
//! - `metrics`: metric ids, defined once per configuration.
//!
//! Everything but `Envoy` and the entry point builds natively, so the contexts are tested
//! with a recording fake host (`fake`, `tests`), callback by callback.

mod host;
mod http;
mod link;
mod metrics;
mod root;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

#[cfg(target_arch = "wasm32")]
proxy_wasm::main! {{
    // Also installs a panic hook that logs the panic at critical level.
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|context_id| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::new(root::Root::new(host::Envoy, context_id))
    });
}}
