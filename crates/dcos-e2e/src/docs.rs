//! The user documentation pages, compiled here so their Rust examples are doc tests.

#[doc = include_str!("../../../docs/backends.md")]
pub mod backends {}

#[doc = include_str!("../../../docs/installer-contract.md")]
pub mod installer_contract {}

#[doc = include_str!("../../../docs/node-image.md")]
pub mod node_image {}

#[doc = include_str!("../../../docs/troubleshooting.md")]
pub mod troubleshooting {}
