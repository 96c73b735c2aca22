//! `Cluster`: the scope-guard lifecycle (destroy on drop per `destroy_on_success` /
//! `destroy_on_error`) and what can be done with a whole cluster. The top of the
//! library: it drives a backend and the installer.

mod builder;
mod faults;

pub use builder::ClusterBuilder;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::backend::ClusterBackend;
use crate::backend::running::{
    GENCONF_LOG, GenconfMount, NewCluster, Reopened, RunningCluster, from_drop,
};
use crate::error::{Error, Parameter, Result};
use crate::install::upgrade::UpgradeOptions;
use crate::install::{self, Target};
use crate::node::liveness::Liveness;
use crate::node::logs::{self, Source};
use crate::node::role::PerRole;
use crate::node::select::select;
use crate::node::{Command, LogBundle, Node, NodeSelector, NodeState, Output, Role};
use crate::params::{ClusterParams, InstallOptions, ProgressFn};
use crate::policy::keep_requested;

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
    liveness: Arc<Liveness>,
    nodes: PerRole<Vec<Node>>,
    default_user: String,
    params: ClusterParams,
    backend: Box<dyn RunningCluster>,
    /// Set once the drop policy no longer applies (destroyed, persisted or kept).
    settled: AtomicBool,
    /// Set when the scope ended with an error (see [`Cluster::scope`]).
    failed: AtomicBool,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("id", &self.liveness.id())
            .field("backend", &self.backend.backend_name())
            .field("masters", &self.masters())
            .field("agents", &self.agents())
            .field("public_agents", &self.public_agents())
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

    pub(crate) fn from_new(made: NewCluster, params: ClusterParams) -> Self {
        let NewCluster {
            liveness,
            nodes,
            default_user,
            running: backend,
        } = made;
        liveness.set_peers(nodes.iter().map(Node::ip_address));
        Self {
            liveness,
            nodes,
            default_user,
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
        transport: Option<crate::node::TransportKind>,
    ) -> Result<Cluster> {
        let made = ClusterBackend::attach_docker(cluster_id, transport).await?;
        let cluster = Cluster::from_new(made, ClusterParams::default());
        cluster.settled.store(true, Ordering::SeqCst);
        Ok(cluster)
    }

    /// The cluster id (for Docker: the `dcos-e2e-…` name prefix of its containers).
    pub fn id(&self) -> &str {
        self.liveness.id()
    }

    /// The master nodes.
    pub fn masters(&self) -> &[Node] {
        self.nodes.get(Role::Master)
    }

    /// The private agent nodes.
    pub fn agents(&self) -> &[Node] {
        self.nodes.get(Role::Agent)
    }

    /// The public agent nodes.
    pub fn public_agents(&self) -> &[Node] {
        self.nodes.get(Role::PublicAgent)
    }

    /// Every node: masters, then agents, then public agents.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> + Clone {
        self.nodes.iter()
    }

    /// The nodes the selectors name, in the order first named, each once; the first
    /// master when none are given. A selector naming no node is
    /// [`Error::NoSuchNode`].
    pub fn select(&self, selectors: &[NodeSelector]) -> Result<Vec<&Node>> {
        select(self.nodes(), selectors, self.id())
    }

    /// The user node commands run as by default (`root` for Docker clusters).
    pub fn default_user(&self) -> &str {
        &self.default_user
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
        let (target, genconf) = self.install_target("installing DC/OS")?;
        install::install(self.id(), &target, options, &genconf).await
    }

    /// [`Cluster::install`] on these nodes only, each installed as the role given
    /// with it (the final Python API's `Node.install_dcos_from_path`): genconf runs
    /// again with `options` for the whole cluster, then only these nodes install.
    pub async fn install_nodes(
        &self,
        options: &InstallOptions,
        nodes: &[(&Node, Role)],
    ) -> Result<()> {
        let (target, genconf) = self.install_target("installing DC/OS")?;
        install::install_as(self.id(), &target, options, &genconf, nodes).await
    }

    /// Upgrade every node to the artifact in `options` (the installer contract's
    /// upgrade path): masters one at a time, each healthy again before the next, then
    /// agents, then public agents. The first node that fails or is not healthy in time
    /// stops it: [`Error::UpgradeStopped`] names it and the nodes done before it.
    pub async fn upgrade(&self, options: &InstallOptions, how: &UpgradeOptions) -> Result<()> {
        let nodes: Vec<&Node> = self.nodes().collect();
        self.upgrade_nodes(options, how, &nodes).await
    }

    /// [`Cluster::upgrade`] of these nodes only (e.g. from [`Cluster::select`]), in
    /// the same order whatever the order given; they must all be at one version.
    pub async fn upgrade_nodes(
        &self,
        options: &InstallOptions,
        how: &UpgradeOptions,
        nodes: &[&Node],
    ) -> Result<()> {
        let (target, genconf) = self.install_target("upgrading DC/OS")?;
        let mut nodes = nodes.to_vec();
        nodes.sort_by_key(|n| (n.role().slot(), n.index()));
        nodes.dedup_by_key(|n| (n.role(), n.index()));
        install::upgrade::upgrade(self.id(), &target, &nodes, options, how, &genconf).await
    }

    /// Every node as the installer sees it, and where its genconf is shared.
    fn install_target(&self, operation: &'static str) -> Result<(Target<'_>, GenconfMount)> {
        self.liveness.check()?;
        let genconf = self.backend.genconf().ok_or(Error::NotSupported {
            operation,
            backend: self.backend.backend_name(),
        })?;
        let target = Target {
            masters: self.masters(),
            agents: self.agents(),
            public_agents: self.public_agents(),
            ssh_user: &self.default_user,
            live: self.params.log_output_live,
        };
        Ok((target, genconf))
    }

    /// Write a log bundle of every node into `dir` (made if missing): per node, in a
    /// directory named by role and index, the systemd journal, the unit states, the
    /// installer's output, `dcos-diagnostics` output where present and (Docker) the
    /// container's inspect; a summary beside them, and the installer's output on this
    /// host. Nodes are read at once; one that is down is noted in the summary.
    pub async fn export_logs(&self, dir: impl AsRef<Path>) -> Result<LogBundle> {
        self.liveness.check()?;
        bundle(self.id(), self.nodes(), &*self.backend, dir.as_ref()).await
    }

    /// Each node container's state as Docker reports it (`running`, `exited`, `paused`,
    /// ...), by container name; empty for an existing cluster.
    pub async fn node_states(&self) -> std::collections::HashMap<String, String> {
        self.backend
            .describe_nodes()
            .await
            .into_iter()
            .map(|(name, d)| (name, d.state))
            .collect()
    }

    /// Ports of the first master published on this host (see
    /// [`Docker::one_master_host_port`](crate::Docker::one_master_host_port)), as
    /// (container port, host port); none for an existing cluster.
    pub async fn published_ports(&self) -> Result<Vec<(u16, u16)>> {
        self.liveness.check()?;
        self.backend.published_ports().await
    }

    /// Where a browser reaches the first master: its address on the cluster network, then
    /// `http://localhost:PORT` for each published port (`https` for 443).
    pub async fn web_urls(&self) -> Result<Vec<String>> {
        let mut urls: Vec<String> = self
            .masters()
            .first()
            .map(|m| format!("http://{}", m.ip_address()))
            .into_iter()
            .collect();
        for (container, host) in self.published_ports().await? {
            let scheme = if container == 443 { "https" } else { "http" };
            urls.push(format!("{scheme}://localhost:{host}"));
        }
        Ok(urls)
    }

    /// Stop installers still running on the nodes (an install that was cut short: the
    /// node installers outlive the connections that started them).
    pub async fn stop_install(&self) -> Result<()> {
        self.liveness.check()?;
        let stopped =
            futures_util::future::join_all(self.nodes().map(install::node::stop_installer)).await;
        match Error::from_all(stopped.into_iter().filter_map(Result::err).collect()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Wait until DC/OS is healthy on every master (diagnostics pass and the CA
    /// certificate is served), polling until `timeout`. A master DC/OS was installed
    /// with that the cluster no longer has ([`Cluster::destroy_node`]) is
    /// [`Error::NodesMissing`] at once: no wait brings it back.
    pub async fn wait_for_dcos(&self, timeout: Duration) -> Result<()> {
        self.liveness.check()?;
        let missing: Vec<String> = self
            .installed_addresses()
            .map(|[masters, ..]| masters)
            .unwrap_or_default()
            .into_iter()
            .filter(|ip| !self.masters().iter().any(|m| m.ip_address() == *ip))
            .map(|ip| format!("master {ip}"))
            .collect();
        if !missing.is_empty() {
            return Err(Error::NodesMissing { missing });
        }
        install::wait::wait_for_dcos(self.masters(), timeout).await
    }

    /// The addresses DC/OS was installed for, by role, if it was installed.
    fn installed_addresses(&self) -> Option<[Vec<IpAddr>; 3]> {
        install::config::installed_addresses(&self.backend.genconf()?.host_dir)
    }

    /// Remove a node: its container and its own volumes, nothing else. The cluster goes
    /// on without it, and its node lists (and test environment) no longer name it. Not
    /// supported by `ExistingCluster`.
    pub async fn destroy_node(&mut self, node: &Node) -> Result<()> {
        self.liveness.check()?;
        let role = node.role();
        // This handle, or one of the same node from another (an attach); never a
        // handle of a node destroyed before, whose place a new node may have taken.
        let same = |n: &Node| {
            Arc::ptr_eq(&n.inner, &node.inner)
                || (n.index() == node.index() && n.ip_address() == node.ip_address())
        };
        let at = self
            .nodes
            .get(role)
            .iter()
            .position(same)
            .filter(|_| node.inner.known.get() != NodeState::Destroyed)
            .ok_or_else(|| Error::NoSuchNode {
                selector: node.to_string(),
                cluster_id: self.id().to_string(),
            })?;
        self.backend.destroy_node(node).await?;
        let gone = self.nodes.get_mut(role).remove(at);
        for handle in [&gone, node] {
            handle.inner.known.set(NodeState::Destroyed);
        }
        self.liveness
            .set_peers(self.nodes.iter().map(Node::ip_address));
        Ok(())
    }

    /// Add a node of `role` on the cluster's network, made as its other nodes were, and
    /// wait until it accepts commands. It takes the lowest free index of its role and,
    /// when DC/OS is installed, the address of a node of that role DC/OS was installed
    /// with that the cluster no longer has (else the next free address); then it is
    /// installed from the cluster's genconf. If that install fails, the node stays in
    /// the cluster (destroy it, or look at why) and the error is returned.
    pub async fn add_node(&mut self, role: Role) -> Result<Node> {
        self.liveness.check()?;
        let taken: Vec<usize> = self.nodes.get(role).iter().map(Node::index).collect();
        let index = (1..).find(|i| !taken.contains(i)).unwrap_or(1);
        let installed = self.installed_addresses();
        let address = installed.as_ref().and_then(|lists| {
            lists[role.slot()]
                .iter()
                .find(|ip| !self.nodes().any(|n| n.ip_address() == **ip))
                .copied()
        });
        let node = self
            .backend
            .add_node(role, index, address, self.liveness.clone())
            .await?;
        let list = self.nodes.get_mut(role);
        let at = list.partition_point(|n| n.index() < index);
        list.insert(at, node.clone());
        self.liveness
            .set_peers(self.nodes.iter().map(Node::ip_address));
        if let (Some(_), Some(genconf)) = (installed, self.backend.genconf()) {
            let serve = format!("{}/serve", genconf.node_dir);
            install::node::install_node(&node, node.role(), &serve).await?;
        }
        Ok(node)
    }

    /// Run the DC/OS integration tests on the first master, as the default SSH user, in
    /// the test environment (see [`Cluster::test_command_on`]) plus `env`. A non-zero
    /// pytest exit is [`Error::CommandFailed`] with pytest's status and output.
    pub async fn run_integration_tests(
        &self,
        pytest_command: impl IntoIterator<Item = impl Into<String>>,
        env: BTreeMap<String, String>,
    ) -> Result<Output> {
        self.liveness.check()?;
        let master = self
            .masters()
            .first()
            .ok_or_else(|| Error::invalid(Parameter::Masters, 0, "no master to run tests on"))?;
        master.run(self.test_command(pytest_command, env)?).await
    }

    /// The command [`Cluster::run_integration_tests`] runs (on the first master).
    pub fn test_command(
        &self,
        pytest_command: impl IntoIterator<Item = impl Into<String>>,
        env: BTreeMap<String, String>,
    ) -> Result<Command> {
        let master = self
            .masters()
            .first()
            .ok_or_else(|| Error::invalid(Parameter::Masters, 0, "no master to run tests on"))?;
        self.test_command_on(master, pytest_command, env)
    }

    /// `command` in the integration-test environment on `node`: DC/OS's
    /// `environment.export` sourced, in the integration-test directory, with
    /// [`test_environment`](Self::test_environment) for `node`, then `env`, whose values
    /// win.
    pub fn test_command_on(
        &self,
        node: &Node,
        command: impl IntoIterator<Item = impl Into<String>>,
        env: BTreeMap<String, String>,
    ) -> Result<Command> {
        let args: Vec<String> = command.into_iter().map(Into::into).collect();
        let quoted = Command::new(args).script()?;
        Ok(Command::shell(format!(
            ". /opt/mesosphere/environment.export && cd /opt/mesosphere/active/dcos-integration-test/ && {quoted}"
        ))
        .envs(self.test_environment(node))
        .envs(env))
    }

    /// What DC/OS's integration tests read about the cluster, run on `node` (see
    /// [`test_environment`](crate::test_environment)).
    pub fn test_environment(&self, node: &Node) -> BTreeMap<String, String> {
        let ips = |nodes: &[Node]| nodes.iter().map(Node::ip_address).collect::<Vec<_>>();
        test_environment(
            &ips(self.masters()),
            &ips(self.agents()),
            &ips(self.public_agents()),
            node.ip_address(),
        )
    }

    /// Load an image from the host's Docker daemon into the container engine of every
    /// node, as `docker save | docker load` would, without a registry. The image must be
    /// on the host's daemon ([`Error::ImageMissing`] otherwise) and every node must have
    /// an engine ([`Error::NoEngine`]: build the node image with
    /// [`ImageOptions::engine`](crate::docker::ImageOptions::engine)).
    pub async fn load_image(&self, image: &str) -> Result<()> {
        let nodes: Vec<&Node> = self.nodes().collect();
        self.load_images(&[image], &nodes, None).await
    }

    /// Load `images` into the engines of `nodes` (e.g. from [`Cluster::select`]): one
    /// export from the host's daemon, streamed into every node at once. Everything is
    /// checked before anything is sent; `progress` gets a line for each step. When some
    /// nodes fail, [`Error::ImageLoad`] names each (the others have the images).
    pub async fn load_images(
        &self,
        images: &[&str],
        nodes: &[&Node],
        progress: Option<ProgressFn>,
    ) -> Result<()> {
        self.liveness.check()?;
        let images: Vec<String> = images.iter().map(|i| i.to_string()).collect();
        self.backend
            .load_images(&images, nodes, progress.as_ref())
            .await
    }

    /// Destroy the cluster: every container with its volumes, the network and the
    /// workspace. Idempotent. Not supported by `ExistingCluster`.
    pub async fn destroy(&self) -> Result<()> {
        self.backend.destroy().await?;
        self.liveness.mark_destroyed();
        self.settled.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Hand the cluster to the user: it is not destroyed on drop and outlives this
    /// process (as `minidcos docker create` does) until destroyed.
    pub async fn persist(&self) -> Result<()> {
        self.liveness.check()?;
        self.backend.persist().await?;
        self.settled.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Use the cluster in `f`, then end its scope with the policy for how `f` ended: an
    /// `Err` counts as an error (`destroy_on_error`), as a panic does; `Ok` as a normal
    /// end (`destroy_on_success`). This is DC/OS E2E's 2017 API's context manager for code that
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

    /// Keep the cluster past this handle (policy or `DCOS_E2E_KEEP`), from sync code.
    pub(crate) fn keep(&self) {
        if !self.settled.swap(true, Ordering::SeqCst) {
            from_drop(&*self.backend, false, |r| r.running.keep());
        }
    }

    /// [`Cluster::keep`] from async code, without blocking its thread.
    pub(crate) async fn keep_async(&self) -> Result<()> {
        if self.settled.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.backend.keep().await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.settled.load(Ordering::SeqCst) {
            return;
        }
        let error = std::thread::panicking() || self.failed.load(Ordering::SeqCst);
        if let (true, Some(dir)) = (error, &self.params.logs_on_failure) {
            let (id, dir) = (self.id().to_string(), dir.clone());
            from_drop(&*self.backend, true, move |r: &Reopened| {
                Box::pin(async move {
                    let written = bundle(&id, r.nodes.iter(), &*r.running, &dir).await?;
                    tracing::warn!(cluster = %id, "the scope ended with an error: logs in {}", written.dir.display());
                    Ok(())
                })
            });
        }
        let destroy = if error {
            self.params.destroy_on_error
        } else {
            self.params.destroy_on_success
        };
        if destroy && !keep_requested() {
            from_drop(&*self.backend, false, |r| r.running.destroy());
            self.liveness.mark_destroyed();
            self.settled.store(true, Ordering::SeqCst);
        } else {
            self.keep();
        }
    }
}

/// Write a log bundle of `nodes` into `dir`, with what `backend` says of each and the
/// installer's output on this host.
async fn bundle<'a>(
    id: &str,
    nodes: impl Iterator<Item = &'a Node>,
    backend: &dyn RunningCluster,
    dir: &Path,
) -> Result<LogBundle> {
    let mut described = backend.describe_nodes().await;
    let sources = nodes
        .map(|node| Source {
            node,
            inspect: node
                .container_name()
                .and_then(|c| described.remove(c))
                .map(|d| d.details),
        })
        .collect();
    let extra: Vec<(&str, PathBuf)> = backend
        .workspace()
        .map(|w| vec![(GENCONF_LOG, w.join(GENCONF_LOG))])
        .unwrap_or_default();
    logs::collect(id, sources, &extra, dir).await
}

/// What DC/OS's integration tests read about a cluster of these nodes, run on the node
/// at `on`: `MASTER_HOSTS`, `PUBLIC_MASTER_HOSTS`, `SLAVE_HOSTS`, `PUBLIC_SLAVE_HOSTS`
/// (comma-separated addresses), `DCOS_DNS_ADDRESS` (`http://` and that node's address),
/// `DCOS_NUM_MASTERS` and `DCOS_NUM_AGENTS` (private and public).
pub fn test_environment(
    masters: &[IpAddr],
    agents: &[IpAddr],
    public_agents: &[IpAddr],
    on: IpAddr,
) -> BTreeMap<String, String> {
    let hosts = |ips: &[IpAddr]| {
        ips.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    [
        ("MASTER_HOSTS", hosts(masters)),
        // The masters again: the name tests of DC/OS 1.9 and before read.
        ("PUBLIC_MASTER_HOSTS", hosts(masters)),
        ("SLAVE_HOSTS", hosts(agents)),
        ("PUBLIC_SLAVE_HOSTS", hosts(public_agents)),
        ("DCOS_DNS_ADDRESS", format!("http://{on}")),
        ("DCOS_NUM_MASTERS", masters.len().to_string()),
        (
            "DCOS_NUM_AGENTS",
            (agents.len() + public_agents.len()).to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_environment_names_every_node_and_counts_agents_of_both_kinds() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let env = test_environment(
            &[ip("10.0.0.1"), ip("10.0.0.2")],
            &[ip("10.0.0.3")],
            &[ip("10.0.0.4")],
            ip("10.0.0.1"),
        );
        assert_eq!(env["MASTER_HOSTS"], "10.0.0.1,10.0.0.2");
        assert_eq!(env["PUBLIC_MASTER_HOSTS"], env["MASTER_HOSTS"]);
        assert_eq!(env["SLAVE_HOSTS"], "10.0.0.3");
        assert_eq!(env["PUBLIC_SLAVE_HOSTS"], "10.0.0.4");
        assert_eq!(env["DCOS_DNS_ADDRESS"], "http://10.0.0.1");
        assert_eq!(env["DCOS_NUM_MASTERS"], "2");
        assert_eq!(env["DCOS_NUM_AGENTS"], "2");
        assert_eq!(env.len(), 7);
    }
}
