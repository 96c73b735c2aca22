//! The connection to a Docker daemon and what it allows: the client (the only user of
//! the Engine API), daemon addresses and `ssh://` hosts, swarms of daemons, the
//! daemon's cgroup and privilege facts, its free address pools, whether it sees this machine's files, and
//! images sent from this machine's daemon to another.

pub(crate) mod address;
pub(crate) mod client;
pub(crate) mod facts;
pub(crate) mod filesystem;
pub(crate) mod pools;
pub(crate) mod private;
pub(crate) mod swarm;
pub(crate) mod transfer;
