//! # dcos-e2e
//!
//! End-to-end test clusters for systems installed onto several machines, with DC/OS as
//! the reference case. A test asks for a [`Cluster`] of masters, agents and public
//! agents; gets Docker containers that behave like hosts (systemd, sshd, their own
//! address) or wraps existing SSH hosts; installs from a build artifact; waits for
//! health; runs commands and the integration tests; copies files; and tears everything
//! down, leaving nothing behind.
//!
//! The core is async (tokio). [`blocking`] is the same API for plain `#[test]`s.
//!
//! Layers, each using only those before it: `error` and `policy` (leaves), `params`
//! (what the user asks for), `node` (commands, processes, transports), `backend`
//! (`Docker`, `ExistingCluster`), `install` (the installer contract), `cluster` (the
//! lifecycle), `blocking` (the facade). A test in `tests/layers/` keeps it so.
#![warn(missing_docs)]

mod backend;
pub mod blocking;
mod cluster;
#[doc(hidden)]
pub mod docs;
mod error;
mod install;
mod node;
mod params;
mod policy;

pub use backend::ClusterBackend;
pub use backend::docker::config::{Docker, Mount, Privileged};
pub use backend::existing::{ClusterFile, ExistingCluster, Host};
pub use cluster::{Cluster, ClusterBuilder, test_environment};
pub use error::{
    Aftermath, BoxError, CommandFailed, CreateFailed, Error, Parameter, Result, chain,
};
pub use install::config::{install_config, superuser_password_hash};
pub use install::upgrade::UpgradeOptions;
pub use node::{
    BUILD_INFO_PATH, BuildInfo, Command, CopyOptions, DcosVariant, HostKeyChecking, LogBundle,
    Node, NodeLogs, NodeSelector, NodeState, Output, OutputStream, Process, Role, TransportKind,
    quote,
};
pub use node::{Direction, Link, Partition, ProcessStdin, Tty};
pub use params::{ExtraConfig, InstallOptions};
pub use policy::{KEEP_ENV, keep_requested};

/// The Docker backend's functions for the host: the node image, listing, destroying and
/// cleaning clusters by id, and checking the machine.
pub mod docker {
    pub use crate::backend::docker::config::{Docker, Mount, Privileged};
    pub use crate::backend::docker::daemon::client::finish_pending;
    pub use crate::backend::docker::doctor::{DoctorCheck, doctor};
    pub use crate::backend::docker::image::engine::StorageDriver;
    pub use crate::backend::docker::image::mirror::host_debian_mirror;
    pub use crate::backend::docker::image::{
        DCOS_PREREQUISITES, Distribution, IMAGE_REPOSITORY, ImageOptions, ProgressFn,
        default_image, ensure_node_image,
    };
    pub use crate::backend::docker::labels;
    pub use crate::backend::docker::lifecycle::list::{
        ClusterSummary, Owner, clean, destroy_cluster, list_clusters,
    };
    pub use crate::backend::docker::loopback::LoopbackVolume;
    pub use crate::backend::docker::node::load::{EngineState, EngineStatus, engine_status};
}
