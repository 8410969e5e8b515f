//! The body once authenticated: strict JSON, RFC 3339 times, payload schemas.

pub mod json;
pub mod rfc3339;
pub mod schema;
