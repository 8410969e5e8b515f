//! The fate of a claim once Envoy has tried to forward its delivery. Host-free: the glue
//! hands in what Envoy says about the response (`:status`, `response.code_details`,
//! `response.flags`) and sends what this decides.
//!
//! The rule: commit when the receiver answered 2xx; release only when the receiver is known
//! not to have processed the delivery (it answered non-2xx itself, or Envoy never sent it
//! the request); otherwise the outcome is unknown (client gone or upstream reset after the
//! request was sent, upstream timeout) and the claim is kept until its in-flight TTL, since
//! the receiver may still be working on it. Releasing such a claim is how a delivery gets
//! processed twice; keeping it costs the sender's retries a `429 in_flight` until the TTL.

/// What to do with a held claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Commit,
    Release,
    /// Leave it to lapse after `in_flight_ttl_seconds`.
    Keep,
}

/// Envoy's `response.flags` bits (the legacy bitmask of `StreamInfo::CoreResponseFlag`).
pub mod flags {
    pub(crate) const NO_HEALTHY_UPSTREAM: u64 = 0x2;
    #[cfg(test)]
    pub(crate) const UPSTREAM_REQUEST_TIMEOUT: u64 = 0x4;
    #[cfg(test)]
    pub(crate) const LOCAL_RESET: u64 = 0x8;
    #[cfg(test)]
    pub(crate) const UPSTREAM_REMOTE_RESET: u64 = 0x10;
    pub(crate) const UPSTREAM_CONNECTION_FAILURE: u64 = 0x20;
    #[cfg(test)]
    pub(crate) const UPSTREAM_CONNECTION_TERMINATION: u64 = 0x40;
    pub(crate) const UPSTREAM_OVERFLOW: u64 = 0x80;
    pub(crate) const NO_ROUTE_FOUND: u64 = 0x100;
    pub(crate) const RATE_LIMITED: u64 = 0x800;
    #[cfg(test)]
    pub(crate) const DOWNSTREAM_CONNECTION_TERMINATION: u64 = 0x4000;
    pub(crate) const NO_CLUSTER_FOUND: u64 = 0x100_0000;
    pub(crate) const DNS_RESOLUTION_FAILED: u64 = 0x400_0000;

    /// Each of these says the request was refused before any byte of it was sent upstream:
    /// no host, no connection, no route, a circuit breaker or a rate limit.
    pub(crate) const NEVER_SENT: u64 = NO_HEALTHY_UPSTREAM
        | UPSTREAM_CONNECTION_FAILURE
        | UPSTREAM_OVERFLOW
        | NO_ROUTE_FOUND
        | RATE_LIMITED
        | NO_CLUSTER_FOUND
        | DNS_RESOLUTION_FAILED;
}

/// `response.code_details` of an answer that came from the receiver.
pub(crate) const VIA_UPSTREAM: &[u8] = b"via_upstream";

/// Response headers arrived for a forwarded, claimed delivery. `response_flags` is asked
/// only when the answer is not the receiver's 2xx (reading it is a host call, and the 2xx
/// is the common case).
pub(crate) fn on_response(
    status: &[u8],
    code_details: &[u8],
    response_flags: impl FnOnce() -> u64,
) -> Fate {
    if code_details == VIA_UPSTREAM {
        if status.len() == 3 && status[0] == b'2' {
            return Fate::Commit;
        }
        // The receiver's own refusal, unless an earlier attempt (a route retry policy) may
        // still be running there: a timeout or reset flag says one was sent and lost.
        return if response_flags() & !flags::NEVER_SENT == 0 {
            Fate::Release
        } else {
            Fate::Keep
        };
    }
    // Envoy's own answer (503 no connection, 504 timeout, ...): the flags tell whether the
    // request ever left.
    from_flags(response_flags())
}

/// The stream ended while the claim was held and no response headers were seen (the client
/// went away, or the stream was reset).
pub(crate) fn on_end(response_flags: u64) -> Fate {
    from_flags(response_flags)
}

/// Release only when every flag set says "never sent"; any other flag (timeout, reset, the
/// client gone), or none at all, leaves the outcome unknown. With retries, a first attempt
/// that timed out and a second that could not connect carry both flags: kept.
fn from_flags(response_flags: u64) -> Fate {
    if response_flags != 0 && response_flags & !flags::NEVER_SENT == 0 {
        Fate::Release
    } else {
        Fate::Keep
    }
}

/// `response.flags` as the host gives it: a little-endian 64-bit integer (0 when absent or
/// of another size).
pub(crate) fn parse_flags(raw: &[u8]) -> u64 {
    <[u8; 8]>::try_from(raw).map_or(0, u64::from_le_bytes)
}

#[cfg(test)]
mod tests;
