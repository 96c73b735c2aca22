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

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use tokio_util::io::SyncIoBridge;

use crate::{
    ClusterBackend, Command, ImageOptions, InstallOptions, Output, OutputStream, Result, Role,
    TransportKind,
};

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

fn wait<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

/// Blocking [`crate::ensure_node_image`].
pub fn ensure_node_image(options: &ImageOptions) -> Result<String> {
    wait(crate::ensure_node_image(options))
}

/// Blocking [`crate::ClusterBuilder`].
#[derive(Clone, Debug)]
pub struct ClusterBuilder(crate::ClusterBuilder);

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
        extra_config(config: yaml_serde::Value);
    }

    /// See [`crate::ClusterBuilder::build_artifact`].
    pub fn build_artifact(self, path: impl Into<PathBuf>) -> Self {
        Self(self.0.build_artifact(path))
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
        wait(self.0.create()).map(Cluster::new)
    }

    /// Blocking [`crate::ClusterBuilder::provision`].
    pub fn provision(self) -> Result<Cluster> {
        wait(self.0.provision()).map(Cluster::new)
    }
}

/// Blocking [`crate::Cluster`]; a scope guard like it.
#[derive(Debug)]
pub struct Cluster {
    nodes: [Vec<Node>; 3],
    inner: crate::Cluster,
}

impl Cluster {
    fn new(inner: crate::Cluster) -> Self {
        let wrap = |nodes: &[crate::Node]| nodes.iter().cloned().map(Node).collect();
        Self {
            nodes: [
                wrap(inner.masters()),
                wrap(inner.agents()),
                wrap(inner.public_agents()),
            ],
            inner,
        }
    }

    /// See [`crate::Cluster::builder`].
    pub fn builder(backend: impl Into<ClusterBackend>) -> ClusterBuilder {
        ClusterBuilder(crate::Cluster::builder(backend))
    }

    /// Blocking [`crate::Cluster::attach_docker`].
    pub fn attach_docker(cluster_id: &str, transport: Option<TransportKind>) -> Result<Cluster> {
        wait(crate::Cluster::attach_docker(cluster_id, transport)).map(Cluster::new)
    }

    /// The async cluster underneath.
    pub fn as_async(&self) -> &crate::Cluster {
        &self.inner
    }

    /// See [`crate::Cluster::id`].
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// See [`crate::Cluster::masters`].
    pub fn masters(&self) -> &[Node] {
        &self.nodes[Role::Master as usize]
    }

    /// See [`crate::Cluster::agents`].
    pub fn agents(&self) -> &[Node] {
        &self.nodes[Role::Agent as usize]
    }

    /// See [`crate::Cluster::public_agents`].
    pub fn public_agents(&self) -> &[Node] {
        &self.nodes[Role::PublicAgent as usize]
    }

    /// Every node: masters, agents, public agents.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().flatten()
    }

    /// See [`crate::Cluster::default_ssh_user`].
    pub fn default_ssh_user(&self) -> &str {
        self.inner.default_ssh_user()
    }

    /// See [`crate::Cluster::workspace`].
    pub fn workspace(&self) -> Option<&Path> {
        self.inner.workspace()
    }

    /// Blocking [`crate::Cluster::install`].
    pub fn install(&self, options: &InstallOptions) -> Result<()> {
        wait(self.inner.install(options))
    }

    /// Blocking [`crate::Cluster::wait_for_dcos`].
    pub fn wait_for_dcos(&self, timeout: Duration) -> Result<()> {
        wait(self.inner.wait_for_dcos(timeout))
    }

    /// Blocking [`crate::Cluster::run_integration_tests`].
    pub fn run_integration_tests<I, S>(
        &self,
        pytest_command: I,
        env: BTreeMap<String, String>,
    ) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        wait(self.inner.run_integration_tests(pytest_command, env))
    }

    /// Blocking [`crate::Cluster::destroy`].
    pub fn destroy(&self) -> Result<()> {
        wait(self.inner.destroy())
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
        wait(self.inner.persist())
    }
}

/// Blocking [`crate::Node`].
#[derive(Clone, Debug)]
pub struct Node(crate::Node);

impl Node {
    /// The async node underneath.
    pub fn as_async(&self) -> &crate::Node {
        &self.0
    }

    /// See [`crate::Node::ip_address`].
    pub fn ip_address(&self) -> IpAddr {
        self.0.ip_address()
    }

    /// See [`crate::Node::ssh_key_path`].
    pub fn ssh_key_path(&self) -> &Path {
        self.0.ssh_key_path()
    }

    /// See [`crate::Node::role`].
    pub fn role(&self) -> Role {
        self.0.role()
    }

    /// See [`crate::Node::container_name`].
    pub fn container_name(&self) -> Option<&str> {
        self.0.container_name()
    }

    /// Blocking [`crate::Node::run`].
    pub fn run(&self, cmd: impl Into<Command>) -> Result<Output> {
        wait(self.0.run(cmd))
    }

    /// Blocking [`crate::Node::output`].
    pub fn output(&self, cmd: impl Into<Command>) -> Result<Output> {
        wait(self.0.output(cmd))
    }

    /// Blocking [`crate::Node::popen`].
    pub fn popen(&self, cmd: impl Into<Command>) -> Result<Process> {
        wait(self.0.popen(cmd)).map(Process)
    }

    /// Blocking [`crate::Node::send_file`].
    pub fn send_file(&self, local: impl AsRef<Path>, remote: &str) -> Result<()> {
        wait(self.0.send_file(local, remote))
    }

    /// Blocking [`crate::Node::download_file`].
    pub fn download_file(&self, remote: &str, local: impl AsRef<Path>) -> Result<()> {
        wait(self.0.download_file(remote, local))
    }
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Blocking [`crate::Process`].
#[derive(Debug)]
pub struct Process(crate::Process);

impl Process {
    /// See [`crate::Process::pid`].
    pub fn pid(&self) -> u32 {
        self.0.pid()
    }

    /// The standard output stream as a blocking reader (once).
    pub fn stdout(&mut self) -> Option<impl Read + use<>> {
        self.0.stdout().map(bridge)
    }

    /// The standard error stream as a blocking reader (once).
    pub fn stderr(&mut self) -> Option<impl Read + use<>> {
        self.0.stderr().map(bridge)
    }

    /// Blocking [`crate::Process::wait`].
    pub fn wait(&mut self) -> Result<Output> {
        wait(self.0.wait())
    }

    /// Blocking [`crate::Process::kill`].
    pub fn kill(&self) -> Result<()> {
        wait(self.0.kill())
    }
}

fn bridge(stream: OutputStream) -> impl Read {
    SyncIoBridge::new_with_handle(stream, runtime().handle().clone())
}
