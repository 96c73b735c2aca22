//! Backends make (or wrap) the machines of a cluster. The public side is two
//! configuration types, [`Docker`] and [`ExistingCluster`]; the running side is the small
//! [`Provisioned`] trait the [`Cluster`](crate::Cluster) drives.

pub(crate) mod docker;
pub(crate) mod existing;

use std::path::Path;

pub use docker::{Docker, Mount, Privileged};
pub use existing::{ClusterFile, ExistingCluster};

use crate::error::Result;
use crate::node::transport::BoxFuture;

/// The backend a [`Cluster`](crate::Cluster) is created with.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ClusterBackend {
    /// Machine-like Docker containers made for the cluster.
    Docker(Docker),
    /// Hosts that already exist, reached over SSH.
    Existing(ExistingCluster),
}

impl From<Docker> for ClusterBackend {
    fn from(d: Docker) -> Self {
        ClusterBackend::Docker(d)
    }
}

impl From<ExistingCluster> for ClusterBackend {
    fn from(e: ExistingCluster) -> Self {
        ClusterBackend::Existing(e)
    }
}

/// Where an installer's `genconf` directory is on the host and on the nodes.
#[derive(Clone, Debug)]
pub(crate) struct GenconfMount {
    pub host_dir: std::path::PathBuf,
    pub node_dir: &'static str,
}

/// The backend side of a running cluster.
pub(crate) trait Provisioned: Send + Sync {
    /// `Docker` or `ExistingCluster`, for messages.
    fn backend_name(&self) -> &'static str;

    /// Where the per-cluster temporary files live, if the backend made any.
    fn workspace(&self) -> Option<&Path>;

    /// Where the installer's genconf is shared with nodes; `None` if the backend
    /// cannot install.
    fn genconf(&self) -> Option<GenconfMount>;

    /// Remove everything of the cluster.
    fn destroy(&self) -> BoxFuture<'_, Result<()>>;

    /// Remove everything, from `Drop`: blocks, works whatever runtime (if any) is running.
    fn destroy_from_drop(&self);

    /// The scope ended and the policy says keep: the cluster must outlive this process.
    fn keep_from_drop(&self);

    /// Hand the cluster to the user: it outlives this process until destroyed.
    fn persist(&self) -> BoxFuture<'_, Result<()>>;
}
