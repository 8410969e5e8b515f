//! The body once authenticated: strict JSON, RFC 3339 times, payload schemas; and the
//! configuration when Envoy hands it over as a serialized `google.protobuf.Struct`.

pub mod json;
pub mod protobuf;
pub mod rfc3339;
pub mod schema;
