//! An existing Docker cluster found by id: its nodes from their labels, keys and pinned
//! host keys from its workspace.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::docker::config::Docker;
use crate::backend::docker::create::workspace::{KEY_FILE, KNOWN_HOSTS_FILE};
use crate::backend::docker::daemon::address::same_daemon;
use crate::backend::docker::daemon::client::{ContainerEntry, DockerClient};
use crate::backend::docker::labels;
use crate::backend::docker::node::handles::{NODE_MAX_SESSIONS, Wiring};
use crate::error::{Error, Result};
use crate::node::liveness::Liveness;
use crate::node::role::PerRole;
use crate::node::transport::host_keys::{HostKeyChecking, HostKeys};
use crate::node::transport::jump::Jump;
use crate::node::transport::ssh::SshSettings;
use crate::node::{NodeState, Role, TransportKind};

/// A node container as its labels describe it.
struct Found {
    role: Role,
    index: usize,
    name: String,
    ip: Option<IpAddr>,
    state: NodeState,
    transport: TransportKind,
    /// Index of its daemon in `hosts`.
    host: usize,
}

/// Where the jump host's sshd was reached from here: its label's address, the port its
/// daemon publishes now.
fn jump_address(c: &ContainerEntry) -> Option<SocketAddr> {
    let ip: IpAddr = c.labels.get(labels::JUMP_ADDRESS)?.parse().ok()?;
    let port = c
        .published
        .iter()
        .find_map(|&(container, host)| (container == 22).then_some(host))?;
    Some(SocketAddr::new(ip, port))
}

/// What labels and the workspace say of a cluster.
pub(crate) struct Discovered {
    /// The daemon (of several, the manager).
    pub client: DockerClient,
    pub others: Vec<DockerClient>,
    pub workspace: PathBuf,
    /// The nodes genconf goes through, where the daemons do not see the workspace.
    pub genconf_upload: Vec<(Role, usize)>,
    pub liveness: Arc<Liveness>,
    pub nodes: PerRole<Vec<crate::node::Node>>,
}

/// Find cluster `id`: node handles over `transport` (default: as each was created).
pub(crate) async fn discover(id: &str, transport: Option<TransportKind>) -> Result<Discovered> {
    discover_on(DockerClient::connect().await?, id, transport).await
}

/// [`discover`] through `client` (one of the cluster's daemons).
pub(crate) async fn discover_on(
    client: DockerClient,
    id: &str,
    transport: Option<TransportKind>,
) -> Result<Discovered> {
    discover_with(client, id, transport, Arc::new(Liveness::new(id))).await
}

/// [`discover_on`], the nodes tied to `liveness` (an open cluster's, for a node added
/// to it).
pub(crate) async fn discover_with(
    client: DockerClient,
    id: &str,
    transport: Option<TransportKind>,
    liveness: Arc<Liveness>,
) -> Result<Discovered> {
    let filter = labels::cluster_filter(id, None);
    let here = client.containers(&filter).await?;
    let mut hosts =
        crate::backend::docker::lifecycle::cleanup::hosts_named(&client, id, &here).await;
    // The common case, one daemon: what was listed is all there is.
    let mut containers = Vec::new();
    let mut here = Some(here);
    for (host, daemon) in hosts.iter().enumerate() {
        let on = match here.take_if(|_| same_daemon(daemon.host(), client.host())) {
            Some(listed) => listed,
            None => daemon.containers(&filter).await?,
        };
        containers.extend(on.into_iter().map(|c| (host, c)));
    }
    let mut workspace = None;
    let mut connect_timeout = None;
    let mut genconf_upload = Vec::new();
    let mut found = Vec::new();
    let mut jump = None;
    for (host, c) in containers {
        let l = &c.labels;
        if l.get(labels::ROLE).map(String::as_str) == Some(labels::JUMP_ROLE) {
            jump = jump_address(&c);
            continue;
        }
        let Some(role) = l.get(labels::ROLE).and_then(|r| r.parse::<Role>().ok()) else {
            continue;
        };
        workspace = workspace.or_else(|| labels::workspace_of(l));
        let writer = l.get(labels::GENCONF_VOLUME).is_some_and(|a| a == "rw");
        connect_timeout = connect_timeout.or_else(|| {
            l.get(labels::CONNECT_TIMEOUT_MS)
                .and_then(|ms| ms.parse().ok())
                .map(Duration::from_millis)
        });
        let name = c.name.clone();
        let index = l
            .get(labels::NODE_INDEX)
            .and_then(|i| i.parse().ok())
            .unwrap_or(0);
        if writer {
            genconf_upload.push((role, index));
        }
        found.push(Found {
            host,
            role,
            index,
            name,
            ip: c.address,
            state: if c.running {
                NodeState::Running
            } else if c.paused {
                NodeState::Paused
            } else {
                NodeState::Stopped
            },
            transport: transport
                .or_else(|| l.get(labels::TRANSPORT).and_then(|t| t.parse().ok()))
                .unwrap_or_default(),
        });
    }
    let workspace = workspace.ok_or_else(|| Error::NoSuchCluster {
        cluster_id: id.to_string(),
    })?;
    // The keys pinned at creation; without them no node could be told from an impostor,
    // so a file that cannot be read is an error, not "trust anything".
    let known_hosts = workspace.join(KNOWN_HOSTS_FILE);
    let host_keys = HostKeys::from_file(&known_hosts, HostKeyChecking::Strict, false)?;
    let mut settings = SshSettings::new(
        &workspace.join(KEY_FILE),
        // As the cluster was created; clusters from before the label, the default.
        connect_timeout.unwrap_or(Docker::default().connect_timeout),
        NODE_MAX_SESSIONS,
        host_keys,
    )?;
    if let Some(at) = jump {
        settings.jump = Some(Arc::new(Jump::new(at, &settings)));
    }
    let mut nodes: PerRole<Vec<_>> = PerRole::default();
    found.sort_by_key(|f| (f.role, f.index));
    for f in found {
        let wiring = Wiring {
            client: &hosts[f.host],
            settings: &settings,
            transport: f.transport,
            liveness: &liveness,
            log_output_live: false,
            known_hosts: &known_hosts,
            boot_timeout: Docker::default().ready_timeout,
        };
        // A stopped node has no address; it still belongs to the cluster. SSH refuses
        // the unspecified address, docker exec says the container is not running.
        let ip = f.ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        nodes
            .get_mut(f.role)
            .push(wiring.node(f.role, f.index, ip, &f.name, f.state));
    }
    let manager = if hosts.is_empty() {
        client
    } else {
        hosts.remove(0)
    };
    Ok(Discovered {
        client: manager,
        others: hosts,
        workspace,
        genconf_upload,
        liveness,
        nodes,
    })
}
