//! What a backend hands the [`Cluster`](crate::Cluster): the nodes, and the backend side
//! of the running cluster that the lifecycle drives.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::node::Node;
use crate::node::liveness::Liveness;
use crate::node::role::PerRole;
use crate::node::transport::BoxFuture;
use crate::params::ProgressFn;

/// The installer's output on the host, kept beside its genconf directory (for a log
/// bundle).
pub(crate) const GENCONF_LOG: &str = "genconf.log";

/// Where the installer's `genconf` appears on nodes: bound read-only from the workspace
/// on Docker nodes, copied onto hosts that do not see it.
pub(crate) const NODE_GENCONF_DIR: &str = "/var/lib/dcos-e2e/genconf";

/// Where it is copied onto the hosts of an existing cluster: apart from
/// `NODE_GENCONF_DIR`, so that a Docker node wrapped as a host (read-only there) works.
pub(crate) const HOST_GENCONF_DIR: &str = "/var/lib/dcos-e2e/host-genconf";

/// Where an installer's `genconf` directory is on the host and on the nodes.
#[derive(Clone, Debug)]
pub(crate) struct GenconfMount {
    pub host_dir: PathBuf,
    pub node_dir: &'static str,
    /// Where the nodes do not see `host_dir`, the nodes (role, index) through which
    /// `node_dir/serve` is filled after genconf ran: one per daemon on another host (a
    /// volume its nodes share), every host of an existing cluster. Empty: `host_dir`
    /// is bound there.
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

/// The backend side of a running cluster. Every operation is async; work from `Drop`
/// runs the same operations on a copy from [`RunningCluster::reopen`] (see
/// [`from_drop`]), so each exists once.
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

    /// The policy says keep: the cluster must outlive this process.
    fn keep(&self) -> BoxFuture<'_, Result<()>>;

    /// Hand the cluster to the user: it outlives this process until destroyed.
    fn persist(&self) -> BoxFuture<'_, Result<()>>;

    /// The backend's own account of each node it can describe, by machine name (Docker:
    /// the container's). Empty where the backend knows nothing more than the nodes.
    fn describe_nodes(&self) -> BoxFuture<'_, HashMap<String, NodeDescription>>;

    /// Ports of the first master published on this host: (container port, host port).
    fn published_ports(&self) -> BoxFuture<'_, Result<Vec<(u16, u16)>>>;

    /// Load `images` from this host's image store into the container engine of `nodes`.
    fn load_images<'a>(
        &'a self,
        images: &'a [String],
        nodes: &'a [&'a Node],
        progress: Option<&'a ProgressFn>,
    ) -> BoxFuture<'a, Result<()>>;

    /// The same cluster through connections made by the runtime that polls the future,
    /// with its nodes found again when `nodes` is asked (else none). For work from
    /// `Drop`: this cluster's own connections belong to a runtime that may be blocked
    /// (the dropping thread is its only worker) or gone.
    fn reopen(&self, nodes: bool) -> BoxFuture<'static, Result<Reopened>>;

    /// Remove one node's machine and its own disks; the rest of the cluster goes on.
    fn destroy_node<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<()>>;

    /// Make a new node `role` `index` (at `address` when given), tied to `liveness`,
    /// and wait until it accepts commands.
    fn add_node(
        &self,
        role: crate::node::Role,
        index: usize,
        address: Option<std::net::IpAddr>,
        liveness: Arc<Liveness>,
    ) -> BoxFuture<'_, Result<Node>>;
}

/// A cluster from [`RunningCluster::reopen`].
pub(crate) struct Reopened {
    pub running: Box<dyn RunningCluster>,
    pub nodes: PerRole<Vec<Node>>,
}

/// How long work from `Drop` may block the dropping thread.
const DROP_TIMEOUT: Duration = Duration::from_secs(120);

/// Run `work` on a copy of `backend` (from [`RunningCluster::reopen`]) to completion
/// from synchronous code (`Drop`), whatever runtime the caller is on: on a thread of
/// its own with a runtime of its own. Failures are logged; whether it succeeded.
pub(crate) fn from_drop(
    backend: &dyn RunningCluster,
    nodes: bool,
    work: impl for<'a> FnOnce(&'a Reopened) -> BoxFuture<'a, Result<()>> + Send + 'static,
) -> bool {
    let reopen = backend.reopen(nodes);
    run_from_drop(Box::pin(async move {
        let reopened = reopen.await?;
        work(&reopened).await
    }))
}

/// Run `work` to completion from synchronous code, on a thread and a runtime of its own
/// (whatever the caller is on), within [`DROP_TIMEOUT`]. Failures are logged; whether it
/// succeeded. `work` must make its own connections.
pub(crate) fn run_from_drop(work: BoxFuture<'static, Result<()>>) -> bool {
    let joined = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            match tokio::time::timeout(DROP_TIMEOUT, work).await {
                Ok(done) => done.map_err(|e| crate::error::chain(&e)),
                Err(_) => Err(format!("the work did not finish within {DROP_TIMEOUT:?}")),
            }
        })
    })
    .join();
    match joined {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::error!("cleaning up a cluster failed: {e}; run `minidcos docker clean`");
            false
        }
        Err(_) => {
            tracing::error!("cleaning up a cluster panicked; run `minidcos docker clean`");
            false
        }
    }
}

/// A cluster a backend made or wrapped.
pub(crate) struct NewCluster {
    pub liveness: Arc<Liveness>,
    pub nodes: PerRole<Vec<Node>>,
    pub default_user: String,
    pub running: Box<dyn RunningCluster>,
}
