//! The Docker backend: each node is a container that behaves like a host (systemd as
//! PID 1, sshd, its own address on a private network, its own /opt, /var/lib/docker and
//! /var/lib/mesos/slave volumes).
//!
//! Files, lowest first: `client` (the Docker API), `labels` and `owner`, `config` (what
//! the user chooses), `image`/`mirror` (the node image), `engine` (the container
//! engine the image can hold), `daemon` (what the daemon allows), `filesystem` (whether
//! it sees this machine's files), `transfer` (images into it), `workspace` (keys and
//! genconf on the host), `exec` (the docker exec transport), `watchdog`, `cleanup`,
//! `container` (a node's spec), `ready`, `nodes` (node handles), `running` (the
//! lifecycle side), `provision`, `attach`, `list`, `load` (images into nodes' engines,
//! and their state), `doctor`.

pub(crate) mod address;
pub(crate) mod attach;
pub(crate) mod cleanup;
pub(crate) mod client;
pub(crate) mod config;
pub(crate) mod container;
pub(crate) mod daemon;
pub(crate) mod discover;
pub(crate) mod doctor;
pub(crate) mod engine;
pub(crate) mod exec;
pub(crate) mod filesystem;
pub(crate) mod image;
pub(crate) mod jump;
pub mod labels;
pub(crate) mod list;
pub(crate) mod load;
pub(crate) mod logs;
pub(crate) mod mirror;
pub(crate) mod nodes;
pub(crate) mod owner;
pub(crate) mod private;
pub(crate) mod provision;
pub(crate) mod ready;
pub(crate) mod running;
pub(crate) mod ssh_host;
pub(crate) mod swarm;
pub(crate) mod transfer;
pub(crate) mod watchdog;
pub(crate) mod workspace;
