//! Tests: docker.
