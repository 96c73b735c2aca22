//! Making a Docker cluster: workspace and keys, image, network, watchdog, then every
//! node at once (create, inject keys, start), then wait until each accepts commands.
//! Any failure part-way removes what was made (unless `destroy_on_error` is false).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigCgroupnsModeEnum, Mount as ApiMount,
    MountBindOptions, MountType, MountVolumeOptions, NetworkCreateRequest,
    SystemInfoCgroupVersionEnum,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use futures_util::future::{join_all, try_join_all};
use russh::keys::ssh_key::{LineEnding, PrivateKey, private::Ed25519Keypair};

use super::client::{DockerClient, op, while_busy};
use super::reaper::{self, Reaper};
use super::{Docker, Privileged, destroy_by_label, labels, validate_cluster_id};
use crate::backend::{GenconfMount, Provisioned};
use crate::cluster::{ClusterParams, ClusterState, Made};
use crate::error::{Aftermath, Error, Result};
use crate::node::transport::docker_exec::DockerExecTransport;
use crate::node::transport::ssh::{HostKeys, SshSettings, SshTransport};
use crate::node::transport::{BoxFuture, Transport};
use crate::node::{Command, Node, NodeSpec, Role, TransportKind};

/// Where the workspace's `genconf` appears on nodes (read-only).
pub(crate) const NODE_GENCONF_DIR: &str = "/var/lib/dcos-e2e/genconf";
/// Role label of the throwaway container that checks whether privileged is allowed.
pub(crate) const PROBE_ROLE: &str = "probe";
/// Role label of the marker volume of a cluster handed to the user.
pub(crate) const PERSISTED_ROLE: &str = "persisted";
/// The private key in the workspace.
pub(crate) const KEY_FILE: &str = "ssh/id_ed25519";
/// Pinned host keys of the nodes, in OpenSSH `known_hosts` form.
pub(crate) const KNOWN_HOSTS_FILE: &str = "ssh/known_hosts";
/// Channels at once per SSH connection to our nodes (their sshd allows 256).
const NODE_MAX_SESSIONS: usize = 128;
const DEFAULT_USER: &str = "root";

/// The backend side of a running Docker cluster.
pub(crate) struct DockerCluster {
    client: DockerClient,
    id: String,
    workspace: PathBuf,
    reaper: Mutex<Option<Reaper>>,
}

impl Provisioned for DockerCluster {
    fn backend_name(&self) -> &'static str {
        "Docker"
    }

    fn workspace(&self) -> Option<&Path> {
        Some(&self.workspace)
    }

    fn genconf(&self) -> Option<GenconfMount> {
        Some(GenconfMount {
            host_dir: self.workspace.join("genconf"),
            node_dir: NODE_GENCONF_DIR,
        })
    }

    fn destroy(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let result = destroy_by_label(&self.client, &self.id, Some(&self.workspace))
                .await
                .map(drop);
            self.reaper.lock().unwrap_or_else(|p| p.into_inner()).take();
            result
        })
    }

    fn destroy_from_drop(&self) {
        let (id, workspace) = (self.id.clone(), self.workspace.clone());
        off_runtime(move |client| {
            Box::pin(async move {
                destroy_by_label(&client, &id, Some(&workspace))
                    .await
                    .map(drop)
            })
        });
        self.reaper.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn keep_from_drop(&self) {
        let id = self.id.clone();
        off_runtime(move |client| Box::pin(async move { reaper::disarm(&client, &id).await }));
        self.reaper.lock().unwrap_or_else(|p| p.into_inner()).take();
        tracing::warn!(cluster = %self.id, "cluster kept; remove it with `minidcos docker destroy {}`", self.id);
    }

    fn persist(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            reaper::disarm(&self.client, &self.id).await?;
            self.reaper.lock().unwrap_or_else(|p| p.into_inner()).take();
            // A labelled marker volume: it survives what a file in the workspace might
            // not (a temp dir cleared at boot), and goes with the cluster's volumes.
            let request = bollard::models::VolumeCreateRequest {
                name: Some(format!("{}-persisted", self.id)),
                labels: Some(object_labels(&self.id, PERSISTED_ROLE, &self.workspace)),
                ..Default::default()
            };
            self.client
                .api
                .create_volume(request)
                .await
                .map(drop)
                .map_err(op(format!("marking {} as the user's", self.id)))
        })
    }
}

/// Run Docker work to completion from synchronous code (`Drop`), whatever runtime the
/// caller is on: a fresh thread with its own runtime and client.
fn off_runtime(work: impl FnOnce(DockerClient) -> BoxFuture<'static, Result<()>> + Send + 'static) {
    let joined = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let client = DockerClient::connect().await.map_err(|e| e.to_string())?;
            work(client).await.map_err(|e| e.to_string())
        })
    })
    .join();
    match joined {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!("cleaning up a cluster failed: {e}; run `minidcos docker clean`")
        }
        Err(_) => tracing::error!("cleaning up a cluster panicked; run `minidcos docker clean`"),
    }
}

/// What this daemon allows, found once per process (the privilege verdict once per daemon).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DaemonFacts {
    pub cgroup_v2: bool,
    pub privileged_allowed: bool,
}

static FACTS: tokio::sync::OnceCell<DaemonFacts> = tokio::sync::OnceCell::const_new();

/// cgroup version from the daemon, and whether it lets containers run privileged (some
/// refuse: "unable to apply caps"), probed with a throwaway container of `image`.
pub(crate) async fn daemon_facts(client: &DockerClient, image: &str) -> Result<DaemonFacts> {
    FACTS
        .get_or_try_init(|| async {
            let info = client.api.info().await.map_err(op("reading daemon info"))?;
            let cgroup_v2 = matches!(info.cgroup_version, Some(SystemInfoCgroupVersionEnum::_2));
            // The answer depends on the daemon, not on us: remember it per daemon (id,
            // version, security options), so each new process does not pay for a probe.
            let daemon = format!(
                "{:?}|{:?}|{:?}",
                info.id, info.server_version, info.security_options
            );
            let digest =
                hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(daemon.as_bytes())[..8]);
            let cache = std::env::temp_dir().join(format!("dcos-e2e-daemon-{digest}.privileged"));
            let privileged_allowed = match std::fs::read_to_string(&cache).as_deref() {
                Ok("yes") => true,
                Ok("no") => false,
                _ => match probe_privileged(client, image).await? {
                    Some(allowed) => {
                        let _ = std::fs::write(&cache, if allowed { "yes" } else { "no" });
                        allowed
                    }
                    // Not a verdict on privileges (say, an image without /bin/true): the
                    // minimal set works everywhere; ask again next time.
                    None => false,
                },
            };
            tracing::debug!(cgroup_v2, privileged_allowed, "daemon facts");
            Ok(DaemonFacts {
                cgroup_v2,
                privileged_allowed,
            })
        })
        .await
        .copied()
}

/// `Some(allowed)` when the daemon gave a verdict, `None` when the probe failed otherwise.
async fn probe_privileged(client: &DockerClient, image: &str) -> Result<Option<bool>> {
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec!["/bin/true".into()]),
        cmd: Some(vec![]),
        // Owner labels: `clean` removes a probe whose process died before removing it.
        labels: Some(
            [
                (labels::PROJECT.to_string(), "1".to_string()),
                (labels::ROLE.into(), PROBE_ROLE.into()),
            ]
            .into_iter()
            .chain(super::admin::owner_labels())
            .collect(),
        ),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            privileged: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = client
        .api
        .create_container(None, body)
        .await
        .map_err(op("creating the privilege probe"))?;
    let started = client.api.start_container(&created.id, None).await;
    client.remove_container(&created.id).await?;
    let Err(e) = started else {
        return Ok(Some(true));
    };
    let message = e.to_string();
    if !refuses_privileges(&message) {
        tracing::debug!("the privilege probe failed for another reason: {message}");
        return Ok(None);
    }
    tracing::info!(
        "privileged containers are refused here ({message}); nodes use the minimal capability set"
    );
    Ok(Some(false))
}

/// Whether a start error is the daemon or runtime refusing privileged mode.
fn refuses_privileges(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "caps",
        "capabilit",
        "privilege",
        "not permitted",
        "permission denied",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

fn new_ed25519() -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&rand::random::<[u8; 32]>()))
}

/// Write the cluster's key pair; the private key is created with mode 0600.
fn write_keypair(workspace: &Path, key: &PrivateKey) -> Result<PathBuf> {
    let ssh_dir = workspace.join("ssh");
    std::fs::create_dir_all(&ssh_dir).map_err(Error::io("create", &ssh_dir))?;
    let path = workspace.join(KEY_FILE);
    write_private_key(&path, key)?;
    let public = key.public_key().to_openssh().unwrap_or_default();
    let pub_path = path.with_extension("pub");
    std::fs::write(&pub_path, format!("{public} dcos-e2e\n"))
        .map_err(Error::io("write", pub_path))?;
    Ok(path)
}

/// A node to make.
struct Planned {
    role: Role,
    index: usize,
    name: String,
    host_key: PrivateKey,
}

/// Make a Docker cluster. Parameters were validated by the caller.
pub(crate) async fn provision(cfg: &Docker, params: &ClusterParams) -> Result<Made> {
    for role in Role::ALL {
        for m in cfg.mounts_for(role) {
            if !m.source.exists() {
                return Err(Error::invalid(
                    mount_param(role),
                    m.source.display(),
                    "the mount source does not exist",
                ));
            }
            if !m.target.starts_with('/') {
                return Err(Error::invalid(
                    mount_param(role),
                    &m.target,
                    "the mount target must be an absolute path",
                ));
            }
        }
    }
    if let Some(id) = &cfg.cluster_id {
        validate_cluster_id(id)?;
    }
    let base = cfg.workspace_dir.clone().unwrap_or_else(std::env::temp_dir);
    if !base.is_dir() {
        return Err(Error::invalid(
            "workspace_dir",
            base.display(),
            "not an existing directory",
        ));
    }
    let client = DockerClient::connect().await?;
    if let Some(name) = &cfg.network {
        client
            .api
            .inspect_network(
                name,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
            .map_err(|_| Error::invalid("network", name, "no such Docker network"))?;
    }
    // Before anything of the cluster exists: a build can take a minute.
    let image = node_image(&client, cfg).await?;
    let id = match &cfg.cluster_id {
        Some(id) => {
            ensure_unused(&client, id).await?;
            id.clone()
        }
        None => Docker::new_cluster_id(),
    };
    let workspace = Workspace::create(&base, &id)?;
    let keep_on_error = !params.destroy_on_error || crate::cluster::keep_requested();
    let started = Instant::now();
    match make(
        &client,
        cfg,
        params,
        &id,
        &workspace.path,
        &image,
        keep_on_error,
    )
    .await
    {
        Ok(made) => {
            workspace.keep();
            tracing::info!(cluster = %id, "cluster ready in {:.1?}", started.elapsed());
            Ok(made)
        }
        Err(e) => {
            let aftermath = if keep_on_error {
                workspace.keep();
                tracing::warn!(cluster = %id, "creation failed; kept for inspection: `minidcos docker destroy {id}`");
                Aftermath::kept()
            } else {
                // Sweep: the dropped watchdog is removing things at the same time.
                Aftermath::of_cleanup(
                    super::admin::sweep(&client, &id, Some(&workspace.path)).await,
                )
            };
            Err(Error::CreateFailed {
                cluster_id: id,
                aftermath,
                source: Box::new(e),
            })
        }
    }
}

/// The cluster's workspace while it is being made: removed if provisioning does not
/// finish (an error, or the provisioning future dropped by an interrupt), since it holds
/// keys and nothing labelled may point at it yet.
struct Workspace {
    path: PathBuf,
    armed: bool,
}

impl Workspace {
    fn create(base: &Path, id: &str) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let path = tempfile::Builder::new()
            .prefix(&format!("{id}-"))
            // Keys and configuration live here: only the owner may look.
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(base)
            .map_err(Error::io("create a workspace in", base))?
            .keep();
        Ok(Self { path, armed: true })
    }

    fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The node image to use: the user's (it must exist; no registry is used) or ours,
/// built when missing.
async fn node_image(client: &DockerClient, cfg: &Docker) -> Result<String> {
    match &cfg.node_image {
        Some(image) => {
            if !client.image_exists(image).await? {
                return Err(Error::invalid(
                    "node_image",
                    image,
                    "no such image here (no registry is used: build or load it first)",
                ));
            }
            Ok(image.clone())
        }
        None => super::image::ensure_node_image(client, &cfg.image_options).await,
    }
}

fn mount_param(role: Role) -> &'static str {
    match role {
        Role::Master => "master_mounts",
        Role::Agent => "agent_mounts",
        Role::PublicAgent => "public_agent_mounts",
    }
}

/// A given cluster id must not name anything that exists.
async fn ensure_unused(client: &DockerClient, id: &str) -> Result<()> {
    let filter = [labels::filter(labels::CLUSTER_ID, id)];
    let ours = !client.containers(&filter).await?.is_empty()
        || !client.networks(&filter).await?.is_empty();
    let name_taken = client
        .api
        .inspect_network(id, None::<bollard::query_parameters::InspectNetworkOptions>)
        .await
        .is_ok()
        || client
            .api
            .inspect_container(&format!("{id}-master-1"), None)
            .await
            .is_ok();
    if ours || name_taken {
        return Err(id_taken(id));
    }
    Ok(())
}

/// The refusal of a cluster id that something already has.
pub(crate) fn id_taken(id: &str) -> Error {
    Error::invalid(
        "cluster_id",
        id,
        "a cluster (or network) with this id already exists",
    )
}

async fn make(
    client: &DockerClient,
    cfg: &Docker,
    params: &ClusterParams,
    id: &str,
    workspace: &Path,
    image: &str,
    keep_on_error: bool,
) -> Result<Made> {
    let serve = workspace.join("genconf/serve");
    std::fs::create_dir_all(&serve).map_err(Error::io("create", &serve))?;

    let network = async {
        match &cfg.network {
            // Checked to exist before anything was made.
            Some(name) => Ok::<_, Error>(name.clone()),
            None => {
                let request = NetworkCreateRequest {
                    name: id.to_string(),
                    driver: Some("bridge".into()),
                    labels: Some(object_labels(id, "network", workspace)),
                    ..Default::default()
                };
                let created = client
                    .api
                    .create_network(request)
                    .await
                    .map_err(op(format!("creating network {id}")))?;
                // By id: a create racing for this id may have made one of the same name.
                Ok(created.id)
            }
        }
    };
    // The watchdog's container is the claim on the id: of creates racing for one id,
    // the loser stops here and its sweep removes only what it made (its workspace).
    let (claim, network, facts) = tokio::try_join!(
        reaper::claim(client, id, image, workspace),
        network,
        daemon_facts(client, image)
    )?;
    // The watchdog arms while the nodes start (it sweeps by label, so arming late is
    // safe); the owner labels cover the moment before, for `clean`.
    let watchdog = reaper::arm(client, claim, image, crate::cluster::keep_requested());
    let nodes = start_nodes(client, cfg, params, id, workspace, image, &network, facts);
    let (watchdog, nodes) = tokio::join!(watchdog, nodes);
    let (state, nodes) = match nodes {
        Ok(made) => made,
        Err(e) => {
            // Dropping the watchdog sets it off; a cluster kept on error must outlive it.
            if keep_on_error {
                let _ = reaper::disarm(client, id).await;
            }
            drop(watchdog);
            return Err(e);
        }
    };
    let watchdog = watchdog?;
    let backend = DockerCluster {
        client: client.clone(),
        id: id.to_string(),
        workspace: workspace.to_path_buf(),
        reaper: Mutex::new(watchdog),
    };
    Ok(Made {
        state,
        nodes,
        default_ssh_user: DEFAULT_USER.into(),
        backend: Box::new(backend),
    })
}

/// Every node at once: create, inject keys, start; then wait until each answers.
#[allow(clippy::too_many_arguments)]
async fn start_nodes(
    client: &DockerClient,
    cfg: &Docker,
    params: &ClusterParams,
    id: &str,
    workspace: &Path,
    image: &str,
    network: &str,
    facts: DaemonFacts,
) -> Result<(Arc<ClusterState>, [Vec<Node>; 3])> {
    let key = new_ed25519();
    let key_path = write_keypair(workspace, &key)?;
    let privileged = match cfg.privileged {
        Privileged::Auto => facts.privileged_allowed,
        Privileged::Yes => true,
        Privileged::No => false,
    };

    let mut planned = Vec::new();
    for (role, count) in [
        (Role::Master, params.masters),
        (Role::Agent, params.agents),
        (Role::PublicAgent, params.public_agents),
    ] {
        for index in 1..=count {
            planned.push(Planned {
                role,
                index,
                name: format!("{id}-{}-{index}", role.container_part()),
                host_key: new_ed25519(),
            });
        }
    }
    let authorized = key.public_key().to_openssh().unwrap_or_default();
    let ctx = NodeContext {
        client,
        cfg,
        id,
        workspace,
        image,
        network,
        privileged,
        cgroup_v2: facts.cgroup_v2,
        authorized: &authorized,
    };
    let ips = try_join_all(planned.iter().map(|p| ctx.start_node(p))).await?;

    let host_keys = HostKeys::default();
    for (p, ip) in planned.iter().zip(&ips) {
        host_keys.pin(*ip, p.host_key.public_key().clone());
    }
    let known_hosts = workspace.join(KNOWN_HOSTS_FILE);
    std::fs::write(&known_hosts, host_keys.known_hosts())
        .map_err(Error::io("write", &known_hosts))?;
    let settings = SshSettings::new(&key_path, cfg.connect_timeout, NODE_MAX_SESSIONS, host_keys)?;
    let state = Arc::new(ClusterState::new(id));
    let mut nodes: [Vec<Node>; 3] = Default::default();
    for (p, ip) in planned.iter().zip(&ips) {
        let node = build_node(
            client,
            &settings,
            cfg.transport,
            &state,
            p.role,
            p.index,
            *ip,
            &p.name,
            params.log_output_live,
        );
        nodes[p.role as usize].push(node);
    }
    wait_ready(
        client,
        nodes.iter().flatten(),
        cfg.ready_timeout,
        cfg.transport,
    )
    .await?;
    Ok((state, nodes))
}
#[allow(clippy::too_many_arguments)]
fn build_node(
    client: &DockerClient,
    settings: &SshSettings,
    transport: TransportKind,
    state: &Arc<ClusterState>,
    role: Role,
    index: usize,
    ip: IpAddr,
    container: &str,
    log_output_live: bool,
) -> Node {
    let display = format!("{role} {index} ({ip})");
    let transport: Arc<dyn Transport> = match transport {
        TransportKind::Ssh => Arc::new(SshTransport::new(ip, display, settings.clone())),
        TransportKind::DockerExec => Arc::new(DockerExecTransport::new(
            client.clone(),
            container.to_string(),
            display,
        )),
    };
    Node::new(NodeSpec {
        role,
        index,
        ip,
        ssh_key_path: settings.key_path.clone(),
        default_user: DEFAULT_USER.into(),
        container: Some(container.to_string()),
        log_output_live,
        transport,
        cluster: state.clone(),
    })
}

/// Labels for an object of the cluster.
pub(crate) fn object_labels(id: &str, role: &str, workspace: &Path) -> HashMap<String, String> {
    let mut l = HashMap::from([
        (labels::PROJECT.to_string(), "1".to_string()),
        (labels::CLUSTER_ID.to_string(), id.to_string()),
        (labels::ROLE.to_string(), role.to_string()),
        (
            labels::WORKSPACE.to_string(),
            workspace.to_string_lossy().to_string(),
        ),
    ]);
    l.extend(super::admin::owner_labels());
    l
}

struct NodeContext<'a> {
    client: &'a DockerClient,
    cfg: &'a Docker,
    id: &'a str,
    workspace: &'a Path,
    image: &'a str,
    network: &'a str,
    privileged: bool,
    cgroup_v2: bool,
    authorized: &'a str,
}

impl NodeContext<'_> {
    /// Create and start the container; returns its address.
    async fn start_node(&self, p: &Planned) -> Result<IpAddr> {
        let api = &self.client.api;
        let options = CreateContainerOptionsBuilder::default()
            .name(&p.name)
            .build();
        let body = self.container_body(p)?;
        api.create_container(Some(options), body)
            .await
            .map_err(op(format!("creating container {}", p.name)))?;
        if !binds_keys() {
            self.copy_authorized_keys(p).await?;
        }
        // A create that lost this id to us may hold a network of the same name for a
        // moment (Docker before API 1.44 allows that); it removes it at once.
        while_busy("is ambiguous", Duration::from_secs(10), || {
            api.start_container(&p.name, None)
        })
        .await
        .map_err(op(format!("starting container {}", p.name)))?;
        let info = api
            .inspect_container(&p.name, None)
            .await
            .map_err(op(format!("inspecting container {}", p.name)))?;
        let ip = info
            .network_settings
            .and_then(|n| n.networks)
            // The node's one network (the map is keyed by name, not by id).
            .and_then(|nets| {
                nets.into_values()
                    .find_map(|e| e.ip_address.filter(|ip| !ip.is_empty()))
            });
        ip.and_then(|ip| ip.parse().ok())
            .ok_or_else(|| Error::Docker {
                operation: format!(
                    "finding the address of {} on network {}",
                    p.name, self.network
                ),
                source: "the container has no address on the network".into(),
            })
    }

    fn container_body(&self, p: &Planned) -> Result<ContainerCreateBody> {
        let role = p.role.as_str();
        let mut labels = object_labels(self.id, role, self.workspace);
        labels.insert(labels::NODE_INDEX.into(), p.index.to_string());
        labels.insert(labels::SSH_USER.into(), DEFAULT_USER.into());
        labels.insert(labels::TRANSPORT.into(), self.cfg.transport.as_str().into());

        let mut volumes = vec!["/opt", "/var/lib/docker"];
        if p.role != Role::Master {
            volumes.push("/var/lib/mesos/slave");
        }
        let mut mounts: Vec<ApiMount> = volumes
            .into_iter()
            .map(|target| ApiMount {
                target: Some(target.into()),
                source: Some(format!(
                    "{}-{}",
                    p.name,
                    target.trim_start_matches('/').replace('/', "-")
                )),
                typ: Some(MountType::VOLUME),
                volume_options: Some(MountVolumeOptions {
                    labels: Some(object_labels(self.id, role, self.workspace)),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        let bind = |source: String, target: &str, read_only: bool| ApiMount {
            target: Some(target.into()),
            source: Some(source),
            typ: Some(MountType::BIND),
            read_only: Some(read_only),
            bind_options: Some(MountBindOptions {
                propagation: None,
                ..Default::default()
            }),
            ..Default::default()
        };
        // Keys are bound from the workspace rather than copied in: copying into a
        // created container mounts its root filesystem once more (slow on some storage
        // drivers). sshd takes a host key of any owner, but root's authorized_keys only
        // when root owns it: a harness not running as root copies that one in.
        let (host_key, authorized) = self.key_files(p)?;
        mounts.push(bind(
            host_key.to_string_lossy().into(),
            "/etc/ssh/ssh_host_ed25519_key",
            true,
        ));
        if let Some(authorized) = authorized {
            mounts.push(bind(
                authorized.to_string_lossy().into(),
                AUTHORIZED_KEYS,
                false,
            ));
        }
        mounts.push(bind(
            self.workspace.join("genconf").to_string_lossy().into(),
            NODE_GENCONF_DIR,
            true,
        ));
        for m in self.cfg.mounts_for(p.role) {
            let source = std::fs::canonicalize(&m.source).unwrap_or_else(|_| m.source.clone());
            mounts.push(bind(
                source.to_string_lossy().into(),
                &m.target,
                m.read_only,
            ));
        }
        // systemd wants a writable cgroup tree. With the host's cgroup namespace and the
        // tree bound read-write it creates its own subtree inside the container's cgroup
        // (works for v1 and v2 without privileges); privileged on v2 gets a private one.
        let private_cgroups = self.privileged && self.cgroup_v2;
        let host_config = HostConfig {
            network_mode: Some(self.network.to_string()),
            mounts: Some(mounts),
            tmpfs: Some(HashMap::from([
                ("/run".into(), "rw,nosuid,nodev,mode=755".into()),
                ("/run/lock".into(), "rw,nosuid,nodev,noexec".into()),
                ("/tmp".into(), "rw,nosuid,nodev,exec,mode=1777".into()),
            ])),
            privileged: Some(self.privileged),
            cap_add: (!self.privileged).then(|| vec!["SYS_ADMIN".into()]),
            security_opt: (!self.privileged)
                .then(|| vec!["seccomp=unconfined".into(), "apparmor=unconfined".into()]),
            cgroupns_mode: Some(if private_cgroups {
                HostConfigCgroupnsModeEnum::PRIVATE
            } else {
                HostConfigCgroupnsModeEnum::HOST
            }),
            binds: (!private_cgroups).then(|| vec!["/sys/fs/cgroup:/sys/fs/cgroup:rw".into()]),
            ..Default::default()
        };
        Ok(ContainerCreateBody {
            hostname: Some(p.name.clone()),
            image: Some(self.image.to_string()),
            cmd: Some(vec!["/sbin/init".into()]),
            env: Some(vec!["container=docker".into()]),
            labels: Some(labels),
            stop_signal: Some("SIGRTMIN+3".into()),
            host_config: Some(host_config),
            ..Default::default()
        })
    }

    /// Put root's authorized_keys into a created container, owned by root, 0600.
    async fn copy_authorized_keys(&self, p: &Planned) -> Result<()> {
        let content = self.authorized_line();
        let mut archive = tar::Builder::new(Vec::new());
        let mut entry = |path: &str, kind: tar::EntryType, mode: u32, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_mode(mode);
            header.set_uid(0);
            header.set_gid(0);
            header.set_size(data.len() as u64);
            header.set_cksum();
            archive.append_data(&mut header, path, data)
        };
        entry("root/.ssh", tar::EntryType::Directory, 0o700, &[])
            .and_then(|()| {
                entry(
                    AUTHORIZED_KEYS.trim_start_matches('/'),
                    tar::EntryType::Regular,
                    0o600,
                    content.as_bytes(),
                )
            })
            .map_err(Error::io("archive", AUTHORIZED_KEYS))?;
        let bytes = archive
            .into_inner()
            .map_err(Error::io("archive", AUTHORIZED_KEYS))?;
        let options = bollard::query_parameters::UploadToContainerOptionsBuilder::default()
            .path("/")
            .build();
        self.client
            .api
            .upload_to_container(&p.name, Some(options), bollard::body_full(bytes.into()))
            .await
            .map_err(op(format!("copying authorized_keys into {}", p.name)))
    }

    /// The node's own host key (known to the harness in advance, so it is pinned) and,
    /// when it can be bound (see `binds_keys`), root's authorized keys: 0600 files in the
    /// workspace.
    fn key_files(&self, p: &Planned) -> Result<(PathBuf, Option<PathBuf>)> {
        let dir = self.workspace.join("nodes").join(&p.name);
        std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        let host_key = dir.join("ssh_host_ed25519_key");
        write_private_key(&host_key, &p.host_key)?;
        if !binds_keys() {
            return Ok((host_key, None));
        }
        let authorized = dir.join("authorized_keys");
        write_private(&authorized, self.authorized_line().as_bytes())?;
        Ok((host_key, Some(authorized)))
    }

    fn authorized_line(&self) -> String {
        format!("{}\n", self.authorized)
    }
}

const AUTHORIZED_KEYS: &str = "/root/.ssh/authorized_keys";

/// Whether root's authorized_keys can be bound from the workspace: only when we are
/// root, so the file is root's (sshd's StrictModes).
fn binds_keys() -> bool {
    super::image::is_root()
}

/// Write a private key in OpenSSH format, readable by its owner only.
fn write_private_key(path: &Path, key: &PrivateKey) -> Result<()> {
    let pem = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::io("encode a key for", path)(std::io::Error::other(e.to_string())))?;
    write_private(path, pem.as_bytes())
}

/// Write a file only its owner can read (created so: never briefly readable).
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io("create", path))?;
    file.write_all(data).map_err(Error::io("write", path))
}

/// Wait until every node accepts commands: an SSH login, or (docker exec) sshd active.
async fn wait_ready<'a>(
    client: &DockerClient,
    nodes: impl Iterator<Item = &'a Node>,
    timeout: Duration,
    transport: TransportKind,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let checks = nodes.map(|node| async move {
        let mut pause = Duration::from_millis(20);
        loop {
            let attempt = match transport {
                TransportKind::Ssh => node.ping().await,
                TransportKind::DockerExec => node
                    // Debian names the unit `ssh`, most others `sshd`.
                    .run(Command::shell(
                        "systemctl is-active --quiet ssh || systemctl is-active --quiet sshd",
                    ))
                    .await
                    .map(drop),
            };
            match attempt {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    let why = stuck_boot(client, node).await;
                    return Err(Error::Transport {
                        node: node.to_string(),
                        transport: transport.as_str(),
                        detail: format!("not ready after {timeout:?}{why}"),
                        source: Some(Box::new(e)),
                    });
                }
                Err(_) => {
                    // A refused connection costs nothing: poll often, so the cluster is
                    // returned within moments of its last sshd starting.
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(40));
                }
            }
        }
    });
    join_all(checks).await.into_iter().collect()
}

/// Why a node's boot stalled, when it is the usual cause: systemd out of inotify
/// instances, a per-user limit of the host shared by every container (the same limit
/// kind documents).
async fn stuck_boot(client: &DockerClient, node: &Node) -> String {
    let Some(container) = node.container_name() else {
        return String::new();
    };
    let exec = DockerExecTransport::new(client.clone(), container.to_string(), node.to_string());
    let probe = "journalctl -b --no-pager 2>/dev/null | grep -m1 -o 'Failed to create inotify object: Too many open files'";
    let Ok(process) = exec.spawn("root", probe.to_string(), false).await else {
        return String::new();
    };
    match crate::node::transport::finish(&exec, "reading the journal", process).await {
        Ok(out) if !out.is_empty() => ": systemd on the node ran out of inotify instances; raise the \
             host's limit, e.g. `sysctl -w fs.inotify.max_user_instances=1024` (see `minidcos docker doctor`)"
            .to_string(),
        _ => String::new(),
    }
}

/// Open a handle on an existing Docker cluster by id (for the CLI): nodes from labels,
/// keys and pinned host keys from its workspace. The handle never destroys on drop.
pub(crate) async fn attach(id: &str, transport: Option<TransportKind>) -> Result<Made> {
    let client = DockerClient::connect().await?;
    let containers = client
        .containers(&[labels::filter(labels::CLUSTER_ID, id)])
        .await?;
    let mut workspace = None;
    let mut found = Vec::new();
    for c in containers {
        let l = c.labels.clone().unwrap_or_default();
        let Some(role) = l.get(labels::ROLE).and_then(|r| r.parse::<Role>().ok()) else {
            continue;
        };
        workspace = workspace.or_else(|| l.get(labels::WORKSPACE).map(PathBuf::from));
        let index: usize = l
            .get(labels::NODE_INDEX)
            .and_then(|i| i.parse().ok())
            .unwrap_or(0);
        let name = c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default();
        let ip = c
            .network_settings
            .as_ref()
            .and_then(|s| s.networks.as_ref())
            .and_then(|nets| {
                nets.values().find_map(|e| {
                    e.ip_address
                        .as_deref()
                        .filter(|ip| !ip.is_empty())
                        .map(str::to_string)
                })
            })
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        let kind = transport
            .or_else(|| l.get(labels::TRANSPORT).and_then(|t| t.parse().ok()))
            .unwrap_or_default();
        found.push((role, index, name, ip, kind));
    }
    let workspace = workspace.ok_or_else(|| Error::invalid("cluster_id", id, "no such cluster"))?;
    let host_keys = HostKeys::default();
    let known = std::fs::read_to_string(workspace.join(KNOWN_HOSTS_FILE)).unwrap_or_default();
    for line in known.lines() {
        let mut words = line.splitn(2, ' ');
        if let (Some(ip), Some(key)) = (words.next(), words.next())
            && let (Ok(ip), Ok(key)) = (ip.parse(), russh::keys::PublicKey::from_openssh(key))
        {
            host_keys.pin(ip, key);
        }
    }
    let connect_timeout = Docker::default().connect_timeout;
    let settings = SshSettings::new(
        &workspace.join(KEY_FILE),
        connect_timeout,
        NODE_MAX_SESSIONS,
        host_keys,
    )?;
    let state = Arc::new(ClusterState::new(id));
    let mut nodes: [Vec<Node>; 3] = Default::default();
    found.sort_by_key(|a| (a.0, a.1));
    for (role, index, name, ip, kind) in found {
        // A stopped node has no address; it still belongs to the cluster. SSH refuses
        // the unspecified address, docker exec says the container is not running.
        let ip = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        nodes[role as usize].push(build_node(
            &client, &settings, kind, &state, role, index, ip, &name, false,
        ));
    }
    let backend = DockerCluster {
        client,
        id: id.to_string(),
        workspace,
        reaper: Mutex::new(None),
    };
    Ok(Made {
        state,
        nodes,
        default_ssh_user: DEFAULT_USER.into(),
        backend: Box::new(backend),
    })
}

#[cfg(test)]
mod tests {
    use super::refuses_privileges;

    #[test]
    fn only_a_privilege_refusal_is_a_verdict() {
        assert!(refuses_privileges(
            "Docker responded with status code 500: OCI runtime create failed: unable to apply caps: operation not permitted"
        ));
        assert!(!refuses_privileges(
            "Docker responded with status code 400: exec: \"/bin/true\": stat /bin/true: no such file or directory"
        ));
    }
}
