//! The Docker runtime: the only module that talks to the engine (and the only
//! one that imports `bollard`).
