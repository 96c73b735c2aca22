//! The Docker backend: each node is a container that behaves like a host (systemd as
//! PID 1, sshd, its own address on a private network, its own /opt, /var/lib/docker and
//! /var/lib/mesos/slave volumes).
//!
//! Sub-modules, lowest first: `daemon` (the connection to a Docker daemon, local or
//! remote, and what it allows), `labels` (what marks our objects), `config` (what the
//! user chooses), `image` (the node image and the engine it can hold), `node` (operations
//! on a running node's container), `lifecycle` (a running cluster: destroy, the
//! watchdog, finding clusters by id), `create` (making a cluster), `doctor`.

pub(crate) mod config;
pub(crate) mod create;
pub(crate) mod daemon;
pub(crate) mod doctor;
pub(crate) mod image;
pub mod labels;
pub(crate) mod lifecycle;
pub(crate) mod loopback;
pub(crate) mod node;
