//! Tests: image.
