//! Tests: transports.
