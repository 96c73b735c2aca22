//! Integration tests on real Docker: one test binary, one module per area.
//! Run with `cargo nextest run` (each test in its own process; clusters in parallel).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;
mod process;
mod publish;

mod cli;
mod docker;
mod docs;
mod engine;
mod existing;
mod faults;
mod host_mounts;
mod image;
mod install;
mod logs;
mod members;
mod reliability;
mod remote;
mod testenv;
mod transports;
mod upgrade;
