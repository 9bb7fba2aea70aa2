//! Leaf helpers with one home each, imported by every layer and importing
//! no other module of the crate: content digests, path display, RFC 3339
//! timestamps, the walk of a build context, the bounded reading of a
//! project's text files and the user's `ssh` command.

pub mod context;
pub mod digest;
pub mod fields;
pub mod files;
pub mod parallel;
pub mod paths;
pub mod phases;
pub mod ssh;
pub mod time;
