//! Tests: the documentation stays true.
