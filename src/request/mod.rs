//! What a request carries before its body is read: headers, the path and its spellings,
//! the source address.

pub mod cidr;
pub mod headers;
pub mod path;
