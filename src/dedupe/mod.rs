//! Exactly-once: the delivery's key, the cache protocol's client side, batching, and the
//! fate of a claim once the receiver answered.

pub mod batch;
pub mod client;
pub mod fate;
pub mod key;
