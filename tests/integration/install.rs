//! Tests: install.
