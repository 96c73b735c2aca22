//! `Cluster`: the seed's parameters and defaults, validation before anything is made,
//! and the scope-guard lifecycle (destroy on drop per `destroy_on_success` /
//! `destroy_on_error`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::backend::{ClusterBackend, Provisioned};
use crate::error::{Aftermath, Error, Result};
use crate::install::{self, InstallOptions};
use crate::node::{Command, Node, Output, Role};

/// Set to keep library clusters after the test (for debugging): no destroy on drop, no
/// cleanup watchdog. `minidcos docker destroy ID` or `minidcos docker clean` removes them.
pub const KEEP_ENV: &str = "DCOS_E2E_KEEP";

/// Whether [`KEEP_ENV`] asks to keep clusters.
pub fn keep_requested() -> bool {
    std::env::var(KEEP_ENV).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Shared by a cluster and its nodes: its id and whether it has been destroyed.
#[derive(Debug)]
pub(crate) struct ClusterState {
    id: String,
    destroyed: AtomicBool,
}

impl ClusterState {
    pub(crate) fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            destroyed: AtomicBool::new(false),
        }
    }

    /// Fail with [`Error::Destroyed`] once the cluster is gone.
    pub(crate) fn check(&self) -> Result<()> {
        if self.destroyed.load(Ordering::SeqCst) {
            return Err(Error::Destroyed {
                cluster_id: self.id.clone(),
            });
        }
        Ok(())
    }
}

/// What a backend returns: the nodes and its running side.
pub(crate) struct Made {
    pub state: Arc<ClusterState>,
    pub nodes: [Vec<Node>; 3],
    pub default_ssh_user: String,
    pub backend: Box<dyn Provisioned>,
}

/// The `Cluster` parameters (seed names and defaults).
#[derive(Clone, Debug)]
pub(crate) struct ClusterParams {
    pub build_artifact: Option<PathBuf>,
    pub extra_config: Option<yaml_serde::Value>,
    pub masters: usize,
    pub agents: usize,
    pub public_agents: usize,
    pub log_output_live: bool,
    pub destroy_on_error: bool,
    pub destroy_on_success: bool,
    pub files_to_copy_to_installer: Vec<(PathBuf, PathBuf)>,
}

impl Default for ClusterParams {
    fn default() -> Self {
        Self {
            build_artifact: None,
            extra_config: None,
            masters: 1,
            agents: 1,
            public_agents: 1,
            log_output_live: false,
            destroy_on_error: true,
            destroy_on_success: true,
            files_to_copy_to_installer: Vec::new(),
        }
    }
}

impl ClusterParams {
    pub(crate) fn install_options(&self) -> Option<InstallOptions> {
        self.build_artifact.as_ref().map(|artifact| InstallOptions {
            build_artifact: artifact.clone(),
            extra_config: self.extra_config.clone(),
            files_to_copy_to_installer: self.files_to_copy_to_installer.clone(),
        })
    }
}

/// Builds a [`Cluster`]: set parameters, then [`create`](ClusterBuilder::create) (the
/// seed's path: provision and install from `build_artifact`) or
/// [`provision`](ClusterBuilder::provision) (nodes only; install later).
#[derive(Clone, Debug)]
pub struct ClusterBuilder {
    backend: ClusterBackend,
    params: ClusterParams,
}

impl ClusterBuilder {
    /// The installer to install from (a file run with bash; see the installer contract).
    pub fn build_artifact(mut self, path: impl Into<PathBuf>) -> Self {
        self.params.build_artifact = Some(path.into());
        self
    }

    /// A YAML mapping merged over the base install config (its keys win).
    pub fn extra_config(mut self, config: yaml_serde::Value) -> Self {
        self.params.extra_config = Some(config);
        self
    }

    /// Number of masters (default 1).
    pub fn masters(mut self, n: usize) -> Self {
        self.params.masters = n;
        self
    }

    /// Number of private agents (default 1).
    pub fn agents(mut self, n: usize) -> Self {
        self.params.agents = n;
        self
    }

    /// Number of public agents (default 1).
    pub fn public_agents(mut self, n: usize) -> Self {
        self.params.public_agents = n;
        self
    }

    /// Stream node command output to the log while it runs (default false).
    pub fn log_output_live(mut self, live: bool) -> Self {
        self.params.log_output_live = live;
        self
    }

    /// Destroy when the scope ends by panic or the creation fails (default true).
    pub fn destroy_on_error(mut self, destroy: bool) -> Self {
        self.params.destroy_on_error = destroy;
        self
    }

    /// Destroy when the scope ends normally (default true).
    pub fn destroy_on_success(mut self, destroy: bool) -> Self {
        self.params.destroy_on_success = destroy;
        self
    }

    /// Copy a host file or directory into the installer's `genconf/` (the destination
    /// must lie under `/genconf`).
    pub fn file_to_copy_to_installer(
        mut self,
        source: impl Into<PathBuf>,
        destination: impl Into<PathBuf>,
    ) -> Self {
        self.params
            .files_to_copy_to_installer
            .push((source.into(), destination.into()));
        self
    }

    /// Create the cluster: provision nodes and, with a `build_artifact`, install DC/OS.
    /// The Docker backend requires a `build_artifact` here (use
    /// [`provision`](Self::provision) for nodes without DC/OS).
    pub async fn create(self) -> Result<Cluster> {
        if let ClusterBackend::Docker(_) = &self.backend
            && self.params.build_artifact.is_none()
        {
            return Err(Error::invalid(
                "build_artifact",
                "(none)",
                "the Docker backend installs DC/OS from a build artifact; give one, or call provision() for nodes only",
            ));
        }
        self.build(true).await
    }

    /// Provision nodes without installing anything (Docker backend), or wrap an
    /// existing cluster. Install later with [`Cluster::install`].
    pub async fn provision(self) -> Result<Cluster> {
        self.build(false).await
    }

    async fn build(self, install: bool) -> Result<Cluster> {
        let ClusterBuilder { backend, params } = self;
        let made = match &backend {
            ClusterBackend::Docker(docker) => {
                if params.masters == 0 {
                    return Err(Error::invalid(
                        "masters",
                        0,
                        "a cluster needs at least one master",
                    ));
                }
                if let Some(options) = params.install_options().filter(|_| install) {
                    options.validate()?;
                }
                crate::backend::docker::provision::provision(docker, &params).await?
            }
            ClusterBackend::Existing(existing) => {
                existing.validate(&params)?;
                existing.wrap(&params)?
            }
        };
        let cluster = Cluster::from_made(made, params);
        if install
            && let Some(options) = cluster.params.install_options()
            && let Err(e) = cluster.install(&options).await
        {
            let id = cluster.id().to_string();
            let aftermath = if !cluster.params.destroy_on_error || keep_requested() {
                cluster.keep();
                Aftermath::kept()
            } else {
                Aftermath::of_cleanup(cluster.destroy().await)
            };
            return Err(Error::CreateFailed {
                cluster_id: id,
                aftermath,
                source: Box::new(e),
            });
        }
        Ok(cluster)
    }
}

pub(crate) fn yaml_one_line(v: &yaml_serde::Value) -> String {
    yaml_serde::to_string(v)
        .unwrap_or_default()
        .trim()
        .replace('\n', " ")
}

/// A cluster of nodes with masters, agents and public agents.
///
/// A `Cluster` is a scope guard: when it goes out of scope it is destroyed if
/// `destroy_on_success` (normal end) or `destroy_on_error` (panic) says so. Setting the
/// environment variable `DCOS_E2E_KEEP=1` keeps clusters for debugging. An error returned
/// with `?` is a normal end for the guard; call [`Cluster::destroy`] yourself, or keep
/// `destroy_on_success` true, if that matters.
///
/// ```no_run
/// use dcos_e2e::{Cluster, Docker};
///
/// # async fn example() -> dcos_e2e::Result<()> {
/// let cluster = Cluster::builder(Docker::new())
///     .build_artifact("/path/to/dcos_generate_config.sh")
///     .create()
///     .await?;
/// cluster.wait_for_dcos(std::time::Duration::from_secs(600)).await?;
/// let out = cluster.masters()[0].run(["echo", "hello"]).await?;
/// assert_eq!(out.stdout_text(), "hello");
/// # Ok(()) }
/// ```
pub struct Cluster {
    state: Arc<ClusterState>,
    nodes: [Vec<Node>; 3],
    default_ssh_user: String,
    params: ClusterParams,
    backend: Box<dyn Provisioned>,
    /// Set once the drop policy no longer applies (destroyed, persisted or kept).
    settled: AtomicBool,
    /// Set when the scope ended with an error (see [`Cluster::scope`]).
    failed: AtomicBool,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("id", &self.state.id)
            .field("backend", &self.backend.backend_name())
            .field("masters", &self.nodes[0])
            .field("agents", &self.nodes[1])
            .field("public_agents", &self.nodes[2])
            .finish()
    }
}

impl Cluster {
    /// Start building a cluster on a backend ([`Docker`](crate::Docker) or
    /// [`ExistingCluster`](crate::ExistingCluster)).
    pub fn builder(backend: impl Into<ClusterBackend>) -> ClusterBuilder {
        ClusterBuilder {
            backend: backend.into(),
            params: ClusterParams::default(),
        }
    }

    pub(crate) fn from_made(made: Made, params: ClusterParams) -> Self {
        let Made {
            state,
            nodes,
            default_ssh_user,
            backend,
        } = made;
        Self {
            state,
            nodes,
            default_ssh_user,
            params,
            backend,
            settled: AtomicBool::new(false),
            failed: AtomicBool::new(false),
        }
    }

    /// Open an existing Docker cluster by id (made by `minidcos docker create` or kept by
    /// a test). The handle never destroys the cluster on drop; [`Cluster::destroy`] does.
    pub async fn attach_docker(
        cluster_id: &str,
        transport: Option<crate::TransportKind>,
    ) -> Result<Cluster> {
        let made = crate::backend::docker::provision::attach(cluster_id, transport).await?;
        let cluster = Cluster::from_made(made, ClusterParams::default());
        cluster.settled.store(true, Ordering::SeqCst);
        Ok(cluster)
    }

    /// The cluster id (for Docker: the `dcos-e2e-…` name prefix of its containers).
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// The master nodes.
    pub fn masters(&self) -> &[Node] {
        &self.nodes[Role::Master as usize]
    }

    /// The private agent nodes.
    pub fn agents(&self) -> &[Node] {
        &self.nodes[Role::Agent as usize]
    }

    /// The public agent nodes.
    pub fn public_agents(&self) -> &[Node] {
        &self.nodes[Role::PublicAgent as usize]
    }

    /// Every node: masters, then agents, then public agents.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().flatten()
    }

    /// The user node commands run as by default (`root` for Docker clusters).
    pub fn default_ssh_user(&self) -> &str {
        &self.default_ssh_user
    }

    /// The per-cluster temporary directory (keys, genconf), if the backend made one.
    pub fn workspace(&self) -> Option<&Path> {
        self.backend.workspace()
    }

    /// The backend's name: `Docker` or `ExistingCluster`.
    pub fn backend_name(&self) -> &'static str {
        self.backend.backend_name()
    }

    /// Install DC/OS from a build artifact on a cluster made with
    /// [`ClusterBuilder::provision`].
    pub async fn install(&self, options: &InstallOptions) -> Result<()> {
        self.state.check()?;
        let genconf = self.backend.genconf().ok_or(Error::NotSupported {
            operation: "installing DC/OS",
            backend: self.backend.backend_name(),
        })?;
        install::install(self, options, &genconf).await
    }

    /// Wait until DC/OS is healthy on every master (diagnostics pass and the CA
    /// certificate is served), polling until `timeout`.
    pub async fn wait_for_dcos(&self, timeout: Duration) -> Result<()> {
        self.state.check()?;
        install::wait_for_dcos(self.masters(), timeout).await
    }

    /// Run the DC/OS integration tests on a master, as the default SSH user, with
    /// `MASTER_HOSTS`, `SLAVE_HOSTS` and `PUBLIC_SLAVE_HOSTS` set, plus `env`. A non-zero
    /// pytest exit is [`Error::CommandFailed`] with pytest's status and output.
    pub async fn run_integration_tests<I, S>(
        &self,
        pytest_command: I,
        env: BTreeMap<String, String>,
    ) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.state.check()?;
        let master = self
            .masters()
            .first()
            .ok_or_else(|| Error::invalid("masters", 0, "no master to run tests on"))?;
        master.run(self.test_command(pytest_command, env)?).await
    }

    /// The command [`Cluster::run_integration_tests`] runs.
    pub fn test_command<I, S>(
        &self,
        pytest_command: I,
        env: BTreeMap<String, String>,
    ) -> Result<Command>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let args: Vec<String> = pytest_command.into_iter().map(Into::into).collect();
        let quoted = Command::new(args).script()?;
        let hosts = |nodes: &[Node]| {
            nodes
                .iter()
                .map(|n| n.ip_address().to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        Ok(Command::shell(format!(
            "source /opt/mesosphere/environment.export && cd /opt/mesosphere/active/dcos-integration-test/ && {quoted}"
        ))
        .env("MASTER_HOSTS", hosts(self.masters()))
        .env("SLAVE_HOSTS", hosts(self.agents()))
        .env("PUBLIC_SLAVE_HOSTS", hosts(self.public_agents()))
        .envs(env))
    }

    /// Destroy the cluster: every container with its volumes, the network and the
    /// workspace. Idempotent. Not supported by `ExistingCluster`.
    pub async fn destroy(&self) -> Result<()> {
        self.backend.destroy().await?;
        self.state.destroyed.store(true, Ordering::SeqCst);
        self.settled.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Hand the cluster to the user: it is not destroyed on drop and outlives this
    /// process (as `minidcos docker create` does) until destroyed.
    pub async fn persist(&self) -> Result<()> {
        self.state.check()?;
        self.backend.persist().await?;
        self.settled.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Use the cluster in `f`, then end its scope with the policy for how `f` ended: an
    /// `Err` counts as an error (`destroy_on_error`), as a panic does; `Ok` as a normal
    /// end (`destroy_on_success`). This is the seed's context manager for code that
    /// returns errors rather than panicking.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// use dcos_e2e::{Cluster, Docker};
    /// let cluster = Cluster::builder(Docker::new()).destroy_on_success(false).provision().await?;
    /// cluster
    ///     .scope(async |c: &Cluster| c.masters()[0].run(["false"]).await)
    ///     .await?; // the command fails: the cluster is destroyed (destroy_on_error)
    /// # Ok(()) }
    /// ```
    pub async fn scope<T, E>(
        self,
        f: impl AsyncFnOnce(&Cluster) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let result = f(&self).await;
        self.mark_failed(result.is_err());
        drop(self);
        result
    }

    pub(crate) fn mark_failed(&self, failed: bool) {
        self.failed.store(failed, Ordering::SeqCst);
    }

    /// Keep the cluster past this handle (policy or `DCOS_E2E_KEEP`).
    fn keep(&self) {
        if !self.settled.swap(true, Ordering::SeqCst) {
            self.backend.keep_from_drop();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.settled.load(Ordering::SeqCst) {
            return;
        }
        let error = std::thread::panicking() || self.failed.load(Ordering::SeqCst);
        let destroy = if error {
            self.params.destroy_on_error
        } else {
            self.params.destroy_on_success
        };
        if destroy && !keep_requested() {
            self.backend.destroy_from_drop();
            self.state.destroyed.store(true, Ordering::SeqCst);
            self.settled.store(true, Ordering::SeqCst);
        } else {
            self.keep();
        }
    }
}
