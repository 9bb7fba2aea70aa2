//! Tests of the Docker runtime against the real engine.
