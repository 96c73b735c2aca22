//! What a backend hands the [`Cluster`](crate::Cluster): the nodes, and the backend side
//! of the running cluster that the lifecycle drives.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Result;
use crate::node::Node;
use crate::node::liveness::Liveness;
use crate::node::role::PerRole;
use crate::node::transport::BoxFuture;

/// The installer's output on the host, kept beside its genconf directory (for a log
/// bundle).
pub(crate) const GENCONF_LOG: &str = "genconf.log";

/// Where an installer's `genconf` directory is on the host and on the nodes.
#[derive(Clone, Debug)]
pub(crate) struct GenconfMount {
    pub host_dir: PathBuf,
    pub node_dir: &'static str,
    /// Where the nodes do not see `host_dir` (a daemon on another host): `node_dir` is
    /// a volume of each daemon, filled after genconf ran through these nodes (role,
    /// index), one per daemon. Empty: `host_dir` is bound there.
    pub upload: Vec<(crate::node::Role, usize)>,
}

/// A backend's account of one node's machine.
#[derive(Clone, Debug)]
pub(crate) struct NodeDescription {
    /// Its state as the backend says it (Docker: `running`, `exited`, `paused`, ...).
    pub state: String,
    /// Everything the backend says of it, for log bundles (Docker: the inspect, as JSON).
    pub details: String,
}

/// The backend side of a running cluster.
pub(crate) trait RunningCluster: Send + Sync {
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

    /// The policy says keep: the cluster must outlive this process.
    fn keep(&self) -> BoxFuture<'_, Result<()>>;

    /// [`RunningCluster::keep`], from `Drop`: blocks, works whatever runtime is running.
    fn keep_from_drop(&self);

    /// Hand the cluster to the user: it outlives this process until destroyed.
    fn persist(&self) -> BoxFuture<'_, Result<()>>;

    /// The backend's own account of each node it can describe, by machine name (Docker:
    /// the container's). Empty where the backend knows nothing more than the nodes.
    fn describe_nodes(&self) -> BoxFuture<'_, HashMap<String, NodeDescription>>;

    /// Ports of the first master published on this host: (container port, host port).
    fn published_ports(&self) -> BoxFuture<'_, Result<Vec<(u16, u16)>>>;

    /// Write a log bundle into `dir`, from `Drop` (before destroying): blocks, works
    /// whatever runtime (if any) is running. Failures are logged.
    fn export_logs_from_drop(&self, dir: &Path);
}

/// A cluster a backend made or wrapped.
pub(crate) struct NewCluster {
    pub liveness: Arc<Liveness>,
    pub nodes: PerRole<Vec<Node>>,
    pub default_ssh_user: String,
    pub running: Box<dyn RunningCluster>,
}
