//! Tests: existing.
