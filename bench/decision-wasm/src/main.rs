//! webhook-guard's decision alone (benches/verify.rs), compiled to wasm32-wasip1 and run in
//! node's V8, the engine Envoy embeds: what the checks cost inside a Wasm VM without Envoy's
//! host calls around them. Beside the native figure it shows the Wasm penalty; beside the
//! Envoy rows of `make bench` it shows how much of the filter's cost is its own computation.
//!
//! cargo build --target wasm32-wasip1 --release -p decision-wasm
//! node bench/decision-wasm/run.mjs target/wasm32-wasip1/release/decision-wasm.wasm

#[path = "../../../benches/verify.rs"]
mod verify;

fn main() {
    verify::main();
}
