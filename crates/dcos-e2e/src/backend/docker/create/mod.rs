//! Making a Docker cluster: the workspace of keys on the host, each node's container
//! spec and its cgroups, the jump host for a remote daemon, the provisioning of all
//! nodes at once, and the wait until each accepts commands.

pub(crate) mod cgroups;
pub(crate) mod container;
pub(crate) mod jump;
pub(crate) mod network;
pub(crate) mod provision;
pub(crate) mod ready;
pub(crate) mod workspace;
