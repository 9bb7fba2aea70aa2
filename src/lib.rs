//! compartment: plan-and-apply for Docker-backed applications.
//!
//! The modules follow the pipeline: descriptors are loaded and checked
//! (`descriptor`, `platz`), diffed against the `state` into a `plan` ordered by
//! the `graph`, executed by `apply` through the `docker` runtime, and operated
//! on afterwards by `ops`. `cli` owns the command line and terminal output.

pub mod apply;
pub mod cli;
pub mod descriptor;
pub mod diagnostics;
pub mod docker;
pub mod error;
pub mod graph;
pub mod interrupt;
pub mod ops;
pub mod plan;
pub mod platz;
pub mod state;
pub mod workspace;
