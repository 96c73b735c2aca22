//! The blocking facade: the same API without async, for plain `#[test]` functions. Each
//! call waits on the async one on a shared runtime started on first use. Do not call it
//! from inside an async runtime (use the async API there).
//!
//! ```no_run
//! use dcos_e2e::blocking::Cluster;
//! use dcos_e2e::Docker;
//!
//! let cluster = Cluster::builder(Docker::new()).provision().unwrap();
//! let out = cluster.masters()[0].run(["hostname"]).unwrap();
//! println!("{}", out.stdout_text());
//! // Dropped here: destroyed (destroy_on_success is true by default).
//! ```

pub mod docker;
mod faults;
mod node;

pub use faults::Partition;
pub use node::{Node, Process};

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::backend::ClusterBackend;
use crate::backend::existing::Host;
use crate::error::{Error, Result};
use crate::node::{Command, LogBundle, NodeSelector, Output, Role, TransportKind};
use crate::params::{ExtraConfig, InstallOptions};

/// The shared runtime behind the facade.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dcos-e2e")
            .enable_all()
            .build()
            .expect("the tokio runtime starts (threads and an I/O driver are available)")
    })
}

/// Wait on the async `call`. On a runtime's worker thread, where blocking could stall the
/// very work being waited for, tokio refuses (it panics): that is
/// [`Error::InsideRuntime`] here. (A runtime's blocking threads may wait.)
fn wait<T>(call: &'static str, future: impl Future<Output = Result<T>>) -> Result<T> {
    if tokio::runtime::Handle::try_current().is_err() {
        return runtime().block_on(future);
    }
    // Whether this thread may block is tokio's to say, and it says so only by panicking.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime().block_on(future)))
        .unwrap_or(Err(Error::InsideRuntime { call }))
}

/// Blocking [`crate::ClusterBuilder`].
#[derive(Clone, Debug)]
pub struct ClusterBuilder(crate::cluster::ClusterBuilder);

macro_rules! forward {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty);)*) => {
        $( $(#[$doc])* pub fn $name(self, $arg: $ty) -> Self { Self(self.0.$name($arg)) } )*
    };
}

impl ClusterBuilder {
    forward! {
        /// See [`crate::ClusterBuilder::masters`].
        masters(n: usize);
        /// See [`crate::ClusterBuilder::agents`].
        agents(n: usize);
        /// See [`crate::ClusterBuilder::public_agents`].
        public_agents(n: usize);
        /// See [`crate::ClusterBuilder::log_output_live`].
        log_output_live(live: bool);
        /// See [`crate::ClusterBuilder::destroy_on_error`].
        destroy_on_error(destroy: bool);
        /// See [`crate::ClusterBuilder::destroy_on_success`].
        destroy_on_success(destroy: bool);
        /// See [`crate::ClusterBuilder::extra_config`].
        extra_config(config: ExtraConfig);
    }

    /// See [`crate::ClusterBuilder::logs_on_failure`].
    pub fn logs_on_failure(self, dir: impl Into<PathBuf>) -> Self {
        Self(self.0.logs_on_failure(dir))
    }

    /// See [`crate::ClusterBuilder::build_artifact`].
    pub fn build_artifact(self, path: impl Into<PathBuf>) -> Self {
        Self(self.0.build_artifact(path))
    }

    /// See [`crate::ClusterBuilder::artifact_sha256`].
    pub fn artifact_sha256(self, hex: impl Into<String>) -> Self {
        Self(self.0.artifact_sha256(hex))
    }

    /// See [`crate::ClusterBuilder::file_to_copy_to_installer`].
    pub fn file_to_copy_to_installer(
        self,
        source: impl Into<PathBuf>,
        destination: impl Into<PathBuf>,
    ) -> Self {
        Self(self.0.file_to_copy_to_installer(source, destination))
    }

    /// Blocking [`crate::ClusterBuilder::create`].
    pub fn create(self) -> Result<Cluster> {
        wait("ClusterBuilder::create", self.0.create()).map(Cluster::new)
    }

    /// Blocking [`crate::ClusterBuilder::provision`].
    pub fn provision(self) -> Result<Cluster> {
        wait("ClusterBuilder::provision", self.0.provision()).map(Cluster::new)
    }
}

/// Blocking [`crate::Cluster`]; a scope guard like it.
#[derive(Debug)]
pub struct Cluster {
    nodes: [Vec<Node>; 3],
    inner: crate::cluster::Cluster,
}

impl Cluster {
    fn new(inner: crate::cluster::Cluster) -> Self {
        Self {
            nodes: Self::wrap(&inner),
            inner,
        }
    }

    fn wrap(inner: &crate::cluster::Cluster) -> [Vec<Node>; 3] {
        let wrap = |nodes: &[crate::node::Node]| nodes.iter().cloned().map(Node).collect();
        Role::ALL.map(|role| {
            wrap(match role {
                Role::Master => inner.masters(),
                Role::Agent => inner.agents(),
                Role::PublicAgent => inner.public_agents(),
            })
        })
    }

    /// Blocking [`crate::Cluster::destroy_node`].
    pub fn destroy_node(&mut self, node: &Node) -> Result<()> {
        let destroyed = wait("Cluster::destroy_node", self.inner.destroy_node(&node.0));
        self.nodes = Self::wrap(&self.inner);
        destroyed
    }

    /// Blocking [`crate::Cluster::add_node`].
    pub fn add_node(&mut self, role: Role) -> Result<Node> {
        let added = wait("Cluster::add_node", self.inner.add_node(role));
        self.nodes = Self::wrap(&self.inner);
        added.map(Node)
    }

    /// See [`crate::Cluster::builder`].
    pub fn builder(backend: impl Into<ClusterBackend>) -> ClusterBuilder {
        ClusterBuilder(crate::cluster::Cluster::builder(backend))
    }

    /// Blocking [`crate::Cluster::attach_docker`].
    pub fn attach_docker(cluster_id: &str, transport: Option<TransportKind>) -> Result<Cluster> {
        wait(
            "Cluster::attach_docker",
            crate::cluster::Cluster::attach_docker(cluster_id, transport),
        )
        .map(Cluster::new)
    }

    /// The async cluster underneath.
    pub fn as_async(&self) -> &crate::cluster::Cluster {
        &self.inner
    }

    /// See [`crate::Cluster::id`].
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// See [`crate::Cluster::masters`].
    pub fn masters(&self) -> &[Node] {
        &self.nodes[Role::Master.slot()]
    }

    /// See [`crate::Cluster::agents`].
    pub fn agents(&self) -> &[Node] {
        &self.nodes[Role::Agent.slot()]
    }

    /// See [`crate::Cluster::public_agents`].
    pub fn public_agents(&self) -> &[Node] {
        &self.nodes[Role::PublicAgent.slot()]
    }

    /// Every node: masters, agents, public agents.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().flatten()
    }

    /// See [`crate::Cluster::select`].
    pub fn select(&self, selectors: &[NodeSelector]) -> Result<Vec<&Node>> {
        let chosen = self.inner.select(selectors)?;
        Ok(self
            .nodes()
            .filter(|n| {
                chosen
                    .iter()
                    .any(|c| c.role() == n.role() && c.index() == n.index())
            })
            .collect())
    }

    /// See [`crate::Cluster::backend_name`].
    pub fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    /// See [`crate::Cluster::default_user`].
    pub fn default_user(&self) -> &str {
        self.inner.default_user()
    }

    /// See [`crate::Cluster::workspace`].
    pub fn workspace(&self) -> Option<&Path> {
        self.inner.workspace()
    }

    /// Blocking [`crate::Cluster::install`].
    pub fn install(&self, options: &InstallOptions) -> Result<()> {
        wait("Cluster::install", self.inner.install(options))
    }

    /// Blocking [`crate::Cluster::install_nodes`].
    pub fn install_nodes(&self, options: &InstallOptions, nodes: &[(&Node, Role)]) -> Result<()> {
        let nodes: Vec<(&crate::node::Node, Role)> = nodes
            .iter()
            .map(|(n, role)| (n.as_async(), *role))
            .collect();
        wait(
            "Cluster::install_nodes",
            self.inner.install_nodes(options, &nodes),
        )
    }

    /// Blocking [`crate::Cluster::upgrade`].
    pub fn upgrade(
        &self,
        options: &InstallOptions,
        how: &crate::install::upgrade::UpgradeOptions,
    ) -> Result<()> {
        wait("Cluster::upgrade", self.inner.upgrade(options, how))
    }

    /// Blocking [`crate::Cluster::upgrade_nodes`].
    pub fn upgrade_nodes(
        &self,
        options: &InstallOptions,
        how: &crate::install::upgrade::UpgradeOptions,
        nodes: &[&Node],
    ) -> Result<()> {
        let nodes: Vec<&crate::node::Node> = nodes.iter().map(|n| n.as_async()).collect();
        wait(
            "Cluster::upgrade_nodes",
            self.inner.upgrade_nodes(options, how, &nodes),
        )
    }

    /// Blocking [`crate::Cluster::wait_for_dcos`].
    pub fn wait_for_dcos(&self, timeout: Duration) -> Result<()> {
        wait("Cluster::wait_for_dcos", self.inner.wait_for_dcos(timeout))
    }

    /// Blocking [`crate::Cluster::run_integration_tests`].
    pub fn run_integration_tests(
        &self,
        pytest_command: impl IntoIterator<Item = impl Into<String>>,
        env: BTreeMap<String, String>,
    ) -> Result<Output> {
        wait(
            "Cluster::run_integration_tests",
            self.inner.run_integration_tests(pytest_command, env),
        )
    }

    /// See [`crate::Cluster::test_command_on`].
    pub fn test_command_on(
        &self,
        node: &Node,
        command: impl IntoIterator<Item = impl Into<String>>,
        env: BTreeMap<String, String>,
    ) -> Result<Command> {
        self.inner.test_command_on(node.as_async(), command, env)
    }

    /// See [`crate::Cluster::test_command`].
    pub fn test_command(
        &self,
        pytest_command: impl IntoIterator<Item = impl Into<String>>,
        env: BTreeMap<String, String>,
    ) -> Result<Command> {
        self.inner.test_command(pytest_command, env)
    }

    /// Blocking [`crate::Cluster::load_image`].
    pub fn load_image(&self, image: &str) -> Result<()> {
        wait("Cluster::load_image", self.inner.load_image(image))
    }

    /// Blocking [`crate::Cluster::load_images`].
    pub fn load_images(
        &self,
        images: &[&str],
        nodes: &[&Node],
        progress: Option<crate::params::ProgressFn>,
    ) -> Result<()> {
        let nodes: Vec<&crate::node::Node> = nodes.iter().map(|n| n.as_async()).collect();
        wait(
            "Cluster::load_images",
            self.inner.load_images(images, &nodes, progress),
        )
    }

    /// Blocking [`crate::Cluster::published_ports`].
    pub fn published_ports(&self) -> Result<Vec<(u16, u16)>> {
        wait("Cluster::published_ports", self.inner.published_ports())
    }

    /// Blocking [`crate::Cluster::export_logs`].
    pub fn export_logs(&self, dir: impl AsRef<Path>) -> Result<LogBundle> {
        wait("Cluster::export_logs", self.inner.export_logs(dir))
    }

    /// Blocking [`crate::Cluster::destroy`].
    pub fn destroy(&self) -> Result<()> {
        wait("Cluster::destroy", self.inner.destroy())
    }

    /// Blocking [`crate::Cluster::scope`]: use the cluster in `f`, then end its scope with
    /// the policy for how `f` ended (`Err` counts as an error, like a panic).
    pub fn scope<T, E>(
        self,
        f: impl FnOnce(&Cluster) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let result = f(&self);
        self.inner.mark_failed(result.is_err());
        drop(self);
        result
    }

    /// Blocking [`crate::Cluster::persist`].
    pub fn persist(&self) -> Result<()> {
        wait("Cluster::persist", self.inner.persist())
    }
}

/// So that `ExistingCluster::new(cluster.masters(), …)` reads the same with the
/// blocking API.
impl From<&Node> for Host {
    fn from(node: &Node) -> Self {
        Host::from(node.as_async())
    }
}
