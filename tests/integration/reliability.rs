//! Tests: reliability.
