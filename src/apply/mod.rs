//! Apply: executing a plan against the Docker engine, node by node, saving
//! the state after each; `refresh` compares the state with the engine.

pub mod refresh;
