//! compartment: plan-and-apply for Docker-backed applications.
//!
//! The modules follow the pipeline: descriptors are read as positioned YAML
//! (`yaml`), decoded and checked (`descriptor`, `platz`) and assembled into
//! the desired configuration (`project`), diffed against the `state` into a
//! `plan` ordered by the `graph`, executed by `apply` through the `docker`
//! runtime, and operated on afterwards by `ops`; `access` decides who may
//! run which command. `cli` owns the command line and terminal output;
//! `support` holds leaf helpers every layer shares; `workspace` loads a
//! command's project and states; `interrupt` turns Ctrl-C into a value;
//! `error` is the one error type of the command line.
//!
//! Imports point down the pipeline only (no module imports one that imports
//! it back; `tests/integration/architecture.rs` checks it): `support` (leaf)
//! < `diagnostics` < `yaml` < `descriptor` < `platz` < `project` < `state` <
//! `plan` < `workspace` < `apply` < `ops` < `error` < `cli`; `graph` and
//! `interrupt` are leaves, `docker` and `access` sit beside the pipeline
//! (`docker` imports only `support`; `access` only `support`, `diagnostics`
//! and `yaml`). See docs/architecture.md.

pub mod access;
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
pub mod project;
pub mod state;
pub mod storage;
pub mod support;
pub mod workspace;
pub mod yaml;
