//! Leaf helpers with one home each, imported by every layer and importing
//! no other module of the crate: content digests, path display, RFC 3339
//! timestamps and the walk of a build context.

pub mod context;
pub mod digest;
pub mod paths;
pub mod time;
