//! Clusters: made by the library (Docker) or wrapped (existing hosts), held for Python.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dcos_e2e::{Cluster, Docker, ExistingCluster, Host, Mount, Node, Privileged, TransportKind};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tokio::sync::RwLock;

use crate::errors::to_py;
use crate::faults::PartitionHandle;
use crate::node::NodeHandle;
use crate::wait::{OnSignal, wait};

/// A host path, a path in the node, and whether it is read-only.
type MountSpec = (PathBuf, String, bool);

/// A library cluster. Dropping the last handle (garbage collection) ends its scope: the
/// library destroys it if `destroy_on_success` says so.
#[pyclass(module = "dcos_e2e._core", frozen)]
#[derive(Debug)]
pub struct ClusterHandle {
    /// `None` only while being dropped. Locked for writing only while nodes are
    /// removed or added.
    cluster: Option<Arc<RwLock<Cluster>>>,
    id: String,
    default_ssh_user: String,
    workspace: Option<PathBuf>,
}

impl ClusterHandle {
    fn new(cluster: Cluster) -> Self {
        Self {
            id: cluster.id().to_string(),
            default_ssh_user: cluster.default_user().to_string(),
            workspace: cluster.workspace().map(PathBuf::from),
            cluster: Some(Arc::new(RwLock::new(cluster))),
        }
    }

    fn cluster(&self) -> Arc<RwLock<Cluster>> {
        match &self.cluster {
            Some(c) => c.clone(),
            None => unreachable!("a cluster handle is only empty while it is dropped"),
        }
    }
}

impl Drop for ClusterHandle {
    fn drop(&mut self) {
        let cluster = self.cluster.take();
        // The library's drop may destroy the cluster, which blocks: not with the GIL
        // held. While the interpreter shuts down it cannot be given back; then the
        // closure is dropped unrun, and the cluster with it, as it is.
        let _ = Python::try_attach(|py| {
            py.detach(|| drop(cluster));
            crate::logs::flush(py);
        });
    }
}

#[pymethods]
impl ClusterHandle {
    /// The cluster id (Docker: the prefix of its container names).
    #[getter]
    fn id(&self) -> &str {
        &self.id
    }

    /// The user commands run as by default (the name of DC/OS E2E's 2017 API; `Node`
    /// calls the same user `default_user`).
    #[getter]
    fn default_ssh_user(&self) -> &str {
        &self.default_ssh_user
    }

    /// The per-cluster temporary directory, if the backend made one.
    #[getter]
    fn workspace(&self) -> Option<PathBuf> {
        self.workspace.clone()
    }

    fn masters(&self, py: Python<'_>) -> Vec<NodeHandle> {
        let cluster = self.cluster();
        // Not with the GIL held: a node being added holds the lock a while.
        py.detach(|| cluster.blocking_read().masters().to_vec())
            .into_iter()
            .map(NodeHandle::new)
            .collect()
    }

    fn agents(&self, py: Python<'_>) -> Vec<NodeHandle> {
        let cluster = self.cluster();
        // Not with the GIL held: a node being added holds the lock a while.
        py.detach(|| cluster.blocking_read().agents().to_vec())
            .into_iter()
            .map(NodeHandle::new)
            .collect()
    }

    fn public_agents(&self, py: Python<'_>) -> Vec<NodeHandle> {
        let cluster = self.cluster();
        // Not with the GIL held: a node being added holds the lock a while.
        py.detach(|| cluster.blocking_read().public_agents().to_vec())
            .into_iter()
            .map(NodeHandle::new)
            .collect()
    }

    /// Wait until every master is healthy, for at most `timeout` seconds.
    fn wait_for_dcos(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let timeout = seconds("timeout", timeout)?;
        let cluster = self.cluster();
        wait(py, OnSignal::Abort, async move {
            let cluster = cluster.read().await;
            cluster.wait_for_dcos(timeout).await
        })?
        .map_err(|e| to_py(py, e, None))
    }

    /// Install from `artifact` (a path or an http(s)://, file:// URL) on nodes that
    /// have none; with `nodes`, on those only, each as the role given with it
    /// (`master`, `agent`, `public-agent`). `log_output_live`: this install's own (the
    /// final API's `output`), else the cluster's.
    #[pyo3(signature = (artifact, extra_config_json, files, sha256=None, log_output_live=None, nodes=None))]
    #[allow(clippy::too_many_arguments)]
    fn install(
        &self,
        py: Python<'_>,
        artifact: PathBuf,
        extra_config_json: Option<String>,
        files: Vec<(PathBuf, PathBuf)>,
        sha256: Option<String>,
        log_output_live: Option<bool>,
        nodes: Option<Vec<(PyRef<'_, NodeHandle>, String)>>,
    ) -> PyResult<()> {
        let options = install_options(
            py,
            artifact,
            extra_config_json,
            files,
            sha256,
            log_output_live,
        )?;
        let chosen = nodes
            .map(|nodes| {
                nodes
                    .iter()
                    .map(|(n, role)| Ok((n.node().clone(), role.parse::<dcos_e2e::Role>()?)))
                    .collect::<dcos_e2e::Result<Vec<_>>>()
            })
            .transpose()
            .map_err(|e| to_py(py, e, None))?;
        let cluster = self.cluster();
        wait(py, OnSignal::Abort, async move {
            let cluster = cluster.read().await;
            match &chosen {
                None => cluster.install(&options).await,
                Some(chosen) => {
                    let chosen: Vec<(&Node, dcos_e2e::Role)> =
                        chosen.iter().map(|(n, role)| (n, *role)).collect();
                    cluster.install_nodes(&options, &chosen).await
                }
            }
        })?
        .map_err(|e| to_py(py, e, None))
    }

    /// Upgrade `nodes` (every node when none) to `artifact`, one at a time.
    #[pyo3(signature = (artifact, extra_config_json, files, nodes, node_timeout, sha256=None))]
    #[allow(clippy::too_many_arguments)]
    fn upgrade(
        &self,
        py: Python<'_>,
        artifact: PathBuf,
        extra_config_json: Option<String>,
        files: Vec<(PathBuf, PathBuf)>,
        nodes: Vec<PyRef<'_, NodeHandle>>,
        node_timeout: f64,
        sha256: Option<String>,
    ) -> PyResult<()> {
        let options = install_options(py, artifact, extra_config_json, files, sha256, None)?;
        let how = dcos_e2e::UpgradeOptions::default()
            .node_timeout(seconds("node_timeout", node_timeout)?);
        let chosen = self::nodes(&nodes);
        let cluster = self.cluster();
        wait(py, OnSignal::Abort, async move {
            let cluster = cluster.read().await;
            let chosen: Vec<&Node> = if chosen.is_empty() {
                cluster.nodes().collect()
            } else {
                chosen.iter().collect()
            };
            cluster.upgrade_nodes(&options, &how, &chosen).await
        })?
        .map_err(|e| to_py(py, e, None))
    }

    /// Remove a node: its container and its own volumes.
    fn destroy_node(&self, py: Python<'_>, node: PyRef<'_, NodeHandle>) -> PyResult<()> {
        let node = node.node().clone();
        let cluster = self.cluster();
        wait(py, OnSignal::Defer, async move {
            cluster.write().await.destroy_node(&node).await
        })?
        .map_err(|e| to_py(py, e, None))
    }

    /// Add a node of `role` (`master`, `agent` or `public-agent`), installed when the
    /// cluster is.
    fn add_node(&self, py: Python<'_>, role: String) -> PyResult<NodeHandle> {
        let role: dcos_e2e::Role = role.parse().map_err(|e| to_py(py, e, None))?;
        let cluster = self.cluster();
        wait(py, OnSignal::Defer, async move {
            cluster.write().await.add_node(role).await
        })?
        .map(NodeHandle::new)
        .map_err(|e| to_py(py, e, None))
    }

    /// Destroy the cluster now (idempotent). Ctrl-C does not cut it short.
    fn destroy(&self, py: Python<'_>) -> PyResult<()> {
        let cluster = self.cluster();
        wait(py, OnSignal::Defer, async move {
            let cluster = cluster.read().await;
            cluster.destroy().await
        })?
        .map_err(|e| to_py(py, e, None))
    }

    /// Write a log bundle of every node into `dir`; returns the bundle's directory.
    fn export_logs(&self, py: Python<'_>, dir: PathBuf) -> PyResult<PathBuf> {
        let cluster = self.cluster();
        wait(py, OnSignal::Abort, async move {
            let cluster = cluster.read().await;
            cluster.export_logs(&dir).await.map(|bundle| bundle.dir)
        })?
        .map_err(|e| to_py(py, e, None))
    }

    /// Where a browser reaches the first master.
    fn web_urls(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let cluster = self.cluster();
        wait(py, OnSignal::Abort, async move {
            let cluster = cluster.read().await;
            cluster.web_urls().await
        })?
        .map_err(|e| to_py(py, e, None))
    }

    /// Load `images` from this host's daemon into the engines of `nodes`.
    fn load_images(
        &self,
        py: Python<'_>,
        images: Vec<String>,
        nodes: Vec<PyRef<'_, NodeHandle>>,
    ) -> PyResult<()> {
        let nodes: Vec<Node> = nodes.iter().map(|n| n.node().clone()).collect();
        let cluster = self.cluster();
        wait(py, OnSignal::Abort, async move {
            let cluster = cluster.read().await;
            let images: Vec<&str> = images.iter().map(String::as_str).collect();
            let nodes: Vec<&Node> = nodes.iter().collect();
            cluster.load_images(&images, &nodes, None).await
        })?
        .map_err(|e| to_py(py, e, None))
    }

    /// Cut traffic between the nodes of `a` and of `b` (one way, from `a` to `b`, when
    /// asked).
    #[pyo3(signature = (a, b, one_way=false))]
    fn partition(
        &self,
        py: Python<'_>,
        a: Vec<PyRef<'_, NodeHandle>>,
        b: Vec<PyRef<'_, NodeHandle>>,
        one_way: bool,
    ) -> PyResult<PartitionHandle> {
        let (a, b) = (nodes(&a), nodes(&b));
        let cluster = self.cluster();
        let cut = wait(py, OnSignal::Defer, async move {
            let cluster = cluster.read().await;
            let (a, b): (Vec<&Node>, Vec<&Node>) = (a.iter().collect(), b.iter().collect());
            if one_way {
                cluster.partition_one_way(&a, &b).await
            } else {
                cluster.partition(&a, &b).await
            }
        })?
        .map_err(|e| to_py(py, e, None))?;
        Ok(PartitionHandle::new(cut))
    }

    /// Degrade what the nodes of `senders` send to those of `receivers`.
    #[pyo3(signature = (senders, receivers, rate=None, delay=None, jitter=None, loss=None))]
    #[allow(clippy::too_many_arguments)]
    fn shape_between(
        &self,
        py: Python<'_>,
        senders: Vec<PyRef<'_, NodeHandle>>,
        receivers: Vec<PyRef<'_, NodeHandle>>,
        rate: Option<u64>,
        delay: Option<f64>,
        jitter: Option<f64>,
        loss: Option<f64>,
    ) -> PyResult<()> {
        let link = crate::faults::link(rate, delay, jitter, loss)?;
        let (from, to) = (nodes(&senders), nodes(&receivers));
        let cluster = self.cluster();
        wait(py, OnSignal::Defer, async move {
            let cluster = cluster.read().await;
            let (from, to): (Vec<&Node>, Vec<&Node>) = (from.iter().collect(), to.iter().collect());
            cluster.shape_between(&from, &to, &link).await
        })?
        .map_err(|e| to_py(py, e, None))
    }

    /// Undo faults: `heal` (network cuts), `unshape` (slow links) or `all` (also
    /// resume paused nodes and start stopped ones).
    fn undo(&self, py: Python<'_>, what: String) -> PyResult<()> {
        let cluster = self.cluster();
        wait(py, OnSignal::Defer, async move {
            let cluster = cluster.read().await;
            match what.as_str() {
                "heal" => cluster.heal().await,
                "unshape" => cluster.unshape().await,
                _ => cluster.undo_faults().await,
            }
        })?
        .map_err(|e| to_py(py, e, None))
    }

    /// Keep the cluster past this process (the scope ended and the flags say keep):
    /// it stays until destroyed. Nothing to keep once it was destroyed.
    fn keep(&self, py: Python<'_>) -> PyResult<()> {
        let cluster = self.cluster();
        wait(py, OnSignal::Defer, async move {
            let cluster = cluster.read().await;
            match cluster.persist().await {
                Err(dcos_e2e::Error::Destroyed { .. }) => Ok(()),
                other => other,
            }
        })?
        .map_err(|e| to_py(py, e, None))
    }
}

fn install_options(
    py: Python<'_>,
    artifact: PathBuf,
    extra_config_json: Option<String>,
    files: Vec<(PathBuf, PathBuf)>,
    sha256: Option<String>,
    log_output_live: Option<bool>,
) -> PyResult<dcos_e2e::InstallOptions> {
    let mut options = dcos_e2e::InstallOptions::new(artifact);
    if let Some(live) = log_output_live {
        options = options.log_output_live(live);
    }
    if let Some(json) = extra_config_json {
        // JSON is YAML: the Python layer serialises the mapping it was given.
        let value = dcos_e2e::ExtraConfig::from_yaml(&json).map_err(|e| to_py(py, e, None))?;
        options = options.extra_config(value);
    }
    for (source, destination) in files {
        options = options.file_to_copy_to_installer(source, destination);
    }
    if let Some(hex) = sha256 {
        options = options.artifact_sha256(hex);
    }
    options.validate().map_err(|e| to_py(py, e, None))?;
    Ok(options)
}

fn nodes(handles: &[PyRef<'_, NodeHandle>]) -> Vec<Node> {
    handles.iter().map(|h| h.node().clone()).collect()
}

fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        PyValueError::new_err(format!(
            "{name} must be a non-negative number of seconds, got {value}"
        ))
    })
}

fn mount((source, target, read_only): MountSpec) -> Mount {
    let m = Mount::new(source, target);
    if read_only { m.read_only() } else { m }
}

/// Create a Docker cluster: provision and install, or (no `build_artifact`) only make
/// the nodes. Ctrl-C stops it and removes what was made.
#[pyfunction]
#[pyo3(signature = (
    *, build_artifact, extra_config_json, masters, agents, public_agents, log_output_live,
    destroy_on_error, destroy_on_success, files_to_copy_to_installer, workspace_dir,
    master_mounts, agent_mounts, public_agent_mounts, node_image, network, privileged,
    cluster_id, transport, connect_timeout, ready_timeout, docker_hosts, published_address = None,
    labels = Vec::new(), role_labels = Vec::new(), master_ports = Vec::new(),
    distribution = None, engine = false, storage_driver = None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn create_docker_cluster(
    py: Python<'_>,
    build_artifact: Option<PathBuf>,
    extra_config_json: Option<String>,
    masters: usize,
    agents: usize,
    public_agents: usize,
    log_output_live: bool,
    destroy_on_error: bool,
    destroy_on_success: bool,
    files_to_copy_to_installer: Vec<(PathBuf, PathBuf)>,
    workspace_dir: Option<PathBuf>,
    master_mounts: Vec<MountSpec>,
    agent_mounts: Vec<MountSpec>,
    public_agent_mounts: Vec<MountSpec>,
    node_image: Option<String>,
    network: Option<String>,
    privileged: Option<bool>,
    cluster_id: Option<String>,
    transport: Option<&str>,
    connect_timeout: f64,
    ready_timeout: f64,
    docker_hosts: Vec<String>,
    published_address: Option<String>,
    labels: Vec<(String, String)>,
    role_labels: Vec<(String, String, String)>,
    master_ports: Vec<(u16, u16)>,
    distribution: Option<String>,
    engine: bool,
    storage_driver: Option<String>,
) -> PyResult<ClusterHandle> {
    let mut docker = Docker::new().docker_hosts(docker_hosts);
    // The node image's recipe: a release of ours, with the engine or without.
    if distribution.is_some() || engine {
        let mut options = dcos_e2e::docker::ImageOptions::default().engine(engine);
        if let Some(name) = distribution {
            let release: dcos_e2e::docker::Distribution =
                name.parse().map_err(|e| to_py(py, e, None))?;
            options = options.distribution(release);
        }
        docker = docker.image_options(options);
    }
    if let Some(driver) = storage_driver {
        let driver: dcos_e2e::docker::StorageDriver =
            driver.parse().map_err(|e| to_py(py, e, None))?;
        docker = docker.engine_storage_driver(driver);
    }
    for (key, value) in labels {
        docker = docker.label(key, value);
    }
    for (role, key, value) in role_labels {
        let role: dcos_e2e::Role = role.parse().map_err(|e| to_py(py, e, None))?;
        docker = docker.role_label(role, key, value);
    }
    for (host_port, container_port) in master_ports {
        docker = docker.one_master_host_port(host_port, container_port);
    }
    if let Some(address) = published_address {
        docker = docker.published_address(address);
    }
    if let Some(transport) = transport {
        let transport: TransportKind = transport.parse().map_err(|e| to_py(py, e, None))?;
        docker = docker.transport(transport);
    }
    let mut docker = docker
        .privileged(match privileged {
            None => Privileged::Auto,
            Some(true) => Privileged::Yes,
            Some(false) => Privileged::No,
        })
        .connect_timeout(seconds("connect_timeout", connect_timeout)?)
        .ready_timeout(seconds("ready_timeout", ready_timeout)?);
    if let Some(id) = cluster_id {
        docker = docker.cluster_id(id);
    }
    if let Some(dir) = workspace_dir {
        docker = docker.workspace_dir(dir);
    }
    if let Some(image) = node_image {
        docker = docker.node_image(image);
    }
    if let Some(network) = network {
        docker = docker.network(network);
    }
    for m in master_mounts {
        docker = docker.master_mount(mount(m));
    }
    for m in agent_mounts {
        docker = docker.agent_mount(mount(m));
    }
    for m in public_agent_mounts {
        docker = docker.public_agent_mount(mount(m));
    }
    let mut builder = Cluster::builder(docker)
        .masters(masters)
        .agents(agents)
        .public_agents(public_agents)
        .log_output_live(log_output_live)
        .destroy_on_error(destroy_on_error)
        .destroy_on_success(destroy_on_success);
    if let Some(json) = extra_config_json {
        // JSON is YAML: the Python layer serialises the mapping it was given.
        let value = dcos_e2e::ExtraConfig::from_yaml(&json).map_err(|e| to_py(py, e, None))?;
        builder = builder.extra_config(value);
    }
    for (source, destination) in files_to_copy_to_installer {
        builder = builder.file_to_copy_to_installer(source, destination);
    }

    // Ctrl-C drops the create, and the library removes what it had made.
    let made = match build_artifact {
        Some(artifact) => wait(
            py,
            OnSignal::Abort,
            builder.build_artifact(artifact).create(),
        )?,
        None => wait(py, OnSignal::Abort, builder.provision())?,
    };
    made.map(ClusterHandle::new).map_err(|e| to_py(py, e, None))
}

fn address(a: &String) -> PyResult<IpAddr> {
    a.parse::<IpAddr>()
        .map_err(|e| PyValueError::new_err(format!("invalid address `{a}`: {e}")))
}

fn addresses(v: &[String]) -> PyResult<Vec<IpAddr>> {
    v.iter().map(address).collect()
}

/// What DC/OS's integration tests read about a cluster with nodes at these addresses,
/// run on the node at `on` (the library's, for every backend, ours or the user's).
#[pyfunction]
pub(crate) fn test_environment(
    masters: Vec<String>,
    agents: Vec<String>,
    public_agents: Vec<String>,
    on: String,
) -> PyResult<std::collections::BTreeMap<String, String>> {
    Ok(dcos_e2e::test_environment(
        &addresses(&masters)?,
        &addresses(&agents)?,
        &addresses(&public_agents)?,
        address(&on)?,
    ))
}

/// The installer's base configuration for nodes at these addresses, as JSON: what the
/// final API's `Cluster.base_config` shows, and what an install merges its
/// `dcos_config` over.
#[pyfunction]
pub(crate) fn base_config(
    masters: Vec<String>,
    agents: Vec<String>,
    public_agents: Vec<String>,
    ssh_user: String,
) -> PyResult<String> {
    let text = dcos_e2e::install_config(
        &addresses(&masters)?,
        &addresses(&agents)?,
        &addresses(&public_agents)?,
        &ssh_user,
        None,
    );
    let value: serde_json::Value = yaml_serde::from_str(&text)
        .map_err(|e| PyValueError::new_err(format!("the base config is not YAML: {e}")))?;
    Ok(value.to_string())
}

/// Whether `DCOS_E2E_KEEP` asks to keep clusters (for debugging) instead of destroying
/// them at the end of their scope.
#[pyfunction]
pub(crate) fn keep_requested() -> bool {
    dcos_e2e::keep_requested()
}

/// A handle on a Docker cluster made elsewhere (`minidcos docker create`, a kept
/// cluster), by id; it never destroys the cluster when dropped.
#[pyfunction]
#[pyo3(signature = (cluster_id, transport = None))]
pub(crate) fn attach_docker_cluster(
    py: Python<'_>,
    cluster_id: String,
    transport: Option<&str>,
) -> PyResult<ClusterHandle> {
    let transport = transport
        .map(|t| t.parse::<TransportKind>())
        .transpose()
        .map_err(|e| to_py(py, e, None))?;
    wait(py, OnSignal::Abort, async move {
        Cluster::attach_docker(&cluster_id, transport).await
    })?
    .map(ClusterHandle::new)
    .map_err(|e| to_py(py, e, None))
}

/// Wrap existing hosts (`ExistingCluster`): nothing is contacted until a command runs.
#[pyfunction]
#[pyo3(signature = (*, masters, agents, public_agents, default_ssh_user, log_output_live))]
pub(crate) fn existing_cluster(
    py: Python<'_>,
    masters: Vec<(String, PathBuf)>,
    agents: Vec<(String, PathBuf)>,
    public_agents: Vec<(String, PathBuf)>,
    default_ssh_user: String,
    log_output_live: bool,
) -> PyResult<ClusterHandle> {
    let hosts = |name: &str, given: Vec<(String, PathBuf)>| -> PyResult<Vec<Host>> {
        given
            .into_iter()
            .map(|(ip, ssh_key_path)| {
                let ip_address: IpAddr = ip.parse().map_err(|_| {
                    PyValueError::new_err(format!("{name}: `{ip}` is not an IP address"))
                })?;
                Ok(Host::new(ip_address, ssh_key_path))
            })
            .collect()
    };
    let (masters, agents, public_agents) = (
        hosts("masters", masters)?,
        hosts("agents", agents)?,
        hosts("public_agents", public_agents)?,
    );
    let counts = (masters.len(), agents.len(), public_agents.len());
    // As the original did (`StrictHostKeyChecking=no`): its ExistingCluster takes nodes,
    // not a known_hosts file. A key seen first is still held to for the handle's life.
    let backend = ExistingCluster::new(masters, agents, public_agents, default_ssh_user)
        .host_key_checking(dcos_e2e::HostKeyChecking::AcceptNew);
    let builder = Cluster::builder(backend)
        .masters(counts.0)
        .agents(counts.1)
        .public_agents(counts.2)
        .log_output_live(log_output_live)
        .destroy_on_error(false)
        .destroy_on_success(false);
    wait(py, OnSignal::Abort, builder.provision())?
        .map(ClusterHandle::new)
        .map_err(|e| to_py(py, e, None))
}
