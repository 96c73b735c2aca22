//! Making a Docker cluster: workspace and keys, image, network, watchdog, then every
//! node at once (create, inject keys, start), then wait until each accepts commands.
//! Any failure part-way removes what was made (unless `destroy_on_error` is false).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::join_all;

use crate::backend::docker::config::{Docker, Privileged};
use crate::backend::docker::create::container::{DEFAULT_USER, NodeContext, Planned};
use crate::backend::docker::create::jump::{self, JumpSpec};
use crate::backend::docker::create::network::{self, BridgeNetwork};
use crate::backend::docker::create::ready::wait_ready;
use crate::backend::docker::create::workspace::{
    KNOWN_HOSTS_FILE, Workspace, new_ed25519, write_keypair,
};
use crate::backend::docker::daemon::client::{DockerClient, Fault, op};
use crate::backend::docker::daemon::facts::{DaemonFacts, daemon_facts};
use crate::backend::docker::daemon::filesystem;
use crate::backend::docker::labels;
use crate::backend::docker::lifecycle::cleanup;
use crate::backend::docker::lifecycle::running::{DockerCluster, connect_each};
use crate::backend::docker::lifecycle::watchdog;
use crate::backend::docker::node::handles::{NODE_MAX_SESSIONS, Wiring};
use crate::backend::running::NewCluster;
use crate::backend::running::run_from_drop;
use crate::error::{Aftermath, Error, Parameter, Result};
use crate::node::liveness::Liveness;
use crate::node::role::PerRole;
use crate::node::transport::host_keys::HostKeys;
use crate::node::transport::jump::Jump;
use crate::node::transport::ssh::SshSettings;
use crate::node::{NodeState, Role, TransportKind};
use crate::params::ClusterParams;
use crate::policy::{keep_reason, keep_requested};

/// Make a Docker cluster. The cluster parameters were validated by the caller.
pub(crate) async fn provision(cfg: &Docker, params: &ClusterParams) -> Result<NewCluster> {
    let base = cfg.validate()?;
    let hosts = connect_all(&cfg.daemons.hosts).await?;
    let client = hosts[0].clone();
    let several = hosts.len() > 1;
    if several {
        crate::backend::docker::daemon::swarm::preflight(&hosts).await?;
        if cfg.network.is_some() {
            return Err(Error::invalid(
                Parameter::Network,
                cfg.network.as_deref().unwrap_or_default(),
                "a cluster over several Docker hosts has its own overlay network",
            ));
        }
    }
    if let Some(name) = &cfg.network {
        client.inspect_network(name).await.map_err(|e| {
            if e.fault() == Fault::NotFound {
                Error::invalid(Parameter::Network, name, "no such Docker network")
            } else {
                op(format!("inspecting network {name}"))(e)
            }
        })?;
    }
    // Before anything of the cluster exists: a build can take a minute. Made sure of
    // on the first daemon, then copied to the others that lack it (built once).
    let image = node_image(&client, cfg).await?;
    // The watchdog (root on the daemon's host) and the privilege probe run our own
    // image, whatever the nodes run.
    let own_image = match &cfg.node_image {
        Some(_) => crate::backend::docker::image::ensure_image(&client, &cfg.image_options).await?,
        None => image.clone(),
    };
    let mut tags = vec![&image];
    if own_image != image {
        tags.push(&own_image);
    }
    let copies = join_all(hosts[1..].iter().map(|to| async {
        for tag in &tags {
            crate::backend::docker::daemon::transfer::ensure_copy(&client, to, tag).await?;
        }
        Ok::<_, Error>(())
    }));
    copies.await.into_iter().collect::<Result<Vec<()>>>()?;
    let id = match &cfg.cluster_id {
        Some(id) => {
            ensure_unused(&client, id).await?;
            id.clone()
        }
        None => Docker::new_cluster_id(),
    };
    let workspace = Workspace::create(&base, &id)?;
    // A daemon elsewhere (another host, another mount namespace) resolves bind sources
    // in its own filesystem: nothing of the workspace can be bound there. Over several
    // hosts, nothing is.
    let binds_workspace =
        !several && filesystem::daemon_sees(&client, &own_image, workspace.path()).await?;
    let transport = remote_checks(cfg, &hosts, binds_workspace)?;
    // Where the daemon is this machine's, a host port in use is refused now (Docker
    // would only say so after the nodes were made).
    let master_ports_address = cfg.master_ports_address(binds_workspace);
    if let (true, Some(address)) = (binds_workspace, master_ports_address) {
        cfg.check_ports_free(address)?;
    }
    // SSH to nodes whose addresses are only routable on their daemon's host: through a
    // jump host published there.
    let published = if transport == TransportKind::Ssh && !binds_workspace {
        let given = cfg.daemons.published_address.as_deref();
        Some(jump::published_address(given, client.host()).await?)
    } else {
        None
    };
    let keep_on_error = params.keep_on_error();
    // From here on objects exist: if this future is dropped (a timeout, a select!, an
    // interrupt), whatever was made goes too.
    let unfinished = Unfinished {
        hosts: hosts.iter().map(|h| h.host().to_string()).collect(),
        id: id.clone(),
        workspace: workspace.path().to_path_buf(),
        keep: keep_on_error,
        armed: true,
    };
    let started = Instant::now();
    let plan = Plan {
        hosts: &hosts,
        cfg,
        params,
        id: &id,
        workspace: &workspace,
        image: &image,
        own_image: &own_image,
        binds_workspace,
        transport,
        published,
        master_ports_address,
    };
    let made = plan.make().await;
    let made = match made {
        Ok(made) => {
            workspace.keep();
            tracing::info!(cluster = %id, "cluster ready in {:.1?}", started.elapsed());
            Ok(made)
        }
        Err(e) => {
            // Every request of this create has returned and its watchdog is gone: one
            // pass over what carries its workspace label removes all it made.
            let aftermath = if keep_on_error {
                workspace.keep();
                tracing::warn!(cluster = %id, "creation failed; kept for inspection: `minidcos docker destroy {id}`");
                Aftermath::Kept(keep_reason())
            } else {
                Aftermath::of_cleanup(
                    cleanup::remove_on_all(&hosts, &id, Some(workspace.path()))
                        .await
                        .map(drop),
                )
            };
            Err(Error::create_failed(&id, aftermath, e))
        }
    };
    unfinished.finished();
    made
}

/// A create in progress. Dropped before it finished (its future was cancelled), it
/// removes what the create made, by its workspace label, or keeps it per the policy.
struct Unfinished {
    /// The daemons' addresses, the manager first (swept last).
    hosts: Vec<String>,
    id: String,
    workspace: std::path::PathBuf,
    keep: bool,
    armed: bool,
}

impl Unfinished {
    fn finished(mut self) {
        self.armed = false;
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.keep {
            tracing::warn!(cluster = %self.id, "creation cancelled; kept for inspection: `minidcos docker destroy {}`", self.id);
        }
        let (hosts, id, workspace, keep) = (
            self.hosts.clone(),
            self.id.clone(),
            self.workspace.clone(),
            self.keep,
        );
        run_from_drop(Box::pin(async move {
            let hosts = connect_each(&hosts).await?;
            if keep {
                watchdog::disarm_on_all(&hosts, &id).await
            } else {
                // Requests in flight when the future was dropped may land a moment
                // later: sweep until none does.
                cleanup::sweep_on_all(&hosts, &id, Some(&workspace)).await
            }
        }));
    }
}

/// A client for each daemon given, or the one DOCKER_HOST names.
async fn connect_all(hosts: &[String]) -> Result<Vec<DockerClient>> {
    if hosts.is_empty() {
        return Ok(vec![DockerClient::connect().await?]);
    }
    join_all(
        hosts
            .iter()
            .map(|h| DockerClient::connect_at(Some(h.clone()))),
    )
    .await
    .into_iter()
    .collect()
}

/// The transport, and what a daemon that does not see this machine's files cannot do:
/// bind mounts of sources here.
fn remote_checks(
    cfg: &Docker,
    hosts: &[DockerClient],
    binds_workspace: bool,
) -> Result<TransportKind> {
    if binds_workspace {
        return Ok(cfg.transport.unwrap_or(TransportKind::Ssh));
    }
    let elsewhere = match hosts {
        [one] => format!(
            "the Docker daemon at {} does not see this machine's files (it runs on another host or in another mount namespace)",
            one.host()
        ),
        _ => "the cluster is spread over several Docker daemons, which do not share this machine's files".to_string(),
    };
    if !cfg.mount_sources_on_daemon {
        let mut mounts = Role::ALL.into_iter().flat_map(|role| cfg.mounts_for(role));
        if let Some(m) = mounts.next() {
            return Err(Error::invalid(
                Parameter::CustomMounts,
                m.source.display(),
                format!(
                    "{elsewhere}; a bind mount's source would be that host's path: say that the sources exist there (mount_sources_on_daemon)"
                ),
            ));
        }
    }
    // docker exec always works through the API; SSH needs the jump host's published
    // port to be reachable from here, so it is asked for, not assumed.
    Ok(cfg.transport.unwrap_or(TransportKind::DockerExec))
}

/// The node image to use: the user's (it must exist; no registry is used) or ours,
/// built when missing.
async fn node_image(client: &DockerClient, cfg: &Docker) -> Result<String> {
    match &cfg.node_image {
        Some(image) => {
            if !client.image_exists(image).await?
                && !crate::backend::docker::daemon::transfer::from_local(client, image).await?
            {
                return Err(Error::invalid(
                    Parameter::NodeImage,
                    image,
                    format!(
                        "no such image on the Docker daemon at {} nor on this machine's (no registry is used: build or load it first)",
                        client.host()
                    ),
                ));
            }
            Ok(image.clone())
        }
        None => crate::backend::docker::image::ensure_image(client, &cfg.image_options).await,
    }
}

/// A given cluster id must not name anything that exists.
async fn ensure_unused(client: &DockerClient, id: &str) -> Result<()> {
    let filter = labels::cluster_filter(id, None);
    let (containers, networks, volumes) = tokio::try_join!(
        client.containers(&filter),
        client.networks(&filter),
        client.volumes(&filter)
    )?;
    let ours = !(containers.is_empty() && networks.is_empty() && volumes.is_empty());
    let name_taken = client.inspect_network(id).await.is_ok()
        || client
            .inspect_container(&labels::node_container(id, Role::Master, 1))
            .await
            .is_ok();
    if ours || name_taken {
        return Err(Error::ClusterIdTaken {
            cluster_id: id.to_string(),
        });
    }
    Ok(())
}

/// One create: what it makes the cluster from.
struct Plan<'a> {
    /// The daemons, the first a swarm manager when there are several.
    hosts: &'a [DockerClient],
    cfg: &'a Docker,
    params: &'a ClusterParams,
    id: &'a str,
    workspace: &'a Workspace,
    image: &'a str,
    /// Ours, for the watchdog and the probe.
    own_image: &'a str,
    /// The daemon sees the workspace (see `filesystem`).
    binds_workspace: bool,
    transport: TransportKind,
    /// Where this machine reaches the first daemon's published ports, when nodes are
    /// reached through a jump host there.
    published: Option<std::net::IpAddr>,
    /// The host address the first master's ports are bound to (`None`: all).
    master_ports_address: Option<std::net::IpAddr>,
}

impl Plan<'_> {
    async fn make(&self) -> Result<NewCluster> {
        let (client, id, workspace) = (&self.hosts[0], self.id, self.workspace.path());
        let network = async {
            let unpinned = |id| BridgeNetwork { id, subnet: None };
            match &self.cfg.network {
                // Checked to exist before anything was made.
                Some(name) => Ok::<_, Error>(unpinned(name.clone())),
                None if self.hosts.len() > 1 => {
                    crate::backend::docker::daemon::swarm::create_overlay(client, id, workspace)
                        .await
                        .map(unpinned)
                }
                None => {
                    let nodes =
                        self.params.masters + self.params.agents + self.params.public_agents;
                    network::make_bridge(client, id, workspace, nodes).await
                }
            }
        };
        // The watchdog's container is the claim on the id (on each daemon): of creates
        // racing for one id, the loser stops here and removes only what it made (its
        // workspace). Every request is waited for, so none lands after that removal.
        let claims = join_all(
            self.hosts
                .iter()
                .map(|h| watchdog::claim(h, id, self.own_image, workspace, self.binds_workspace)),
        );
        let facts = join_all(self.hosts.iter().map(|h| daemon_facts(h, self.own_image)));
        let (claims, network, facts) = tokio::join!(claims, network, facts);
        let claims = claims.into_iter().collect::<Result<Vec<_>>>()?;
        let network = network?;
        let facts = facts.into_iter().collect::<Result<Vec<_>>>()?;
        // The same settings for every node: privileged only where every daemon allows it.
        let facts = DaemonFacts {
            cgroup_v2: facts[0].cgroup_v2,
            privileged_allowed: facts.iter().all(|f| f.privileged_allowed),
        };
        // The watchdogs arm while the nodes start (they sweep by label, so arming late
        // is safe); the owner labels cover the moment before, for `clean`.
        let watchdogs = join_all(
            self.hosts
                .iter()
                .zip(claims)
                .map(|(h, claim)| watchdog::arm(h, claim, keep_requested())),
        );
        let nodes = self.start_nodes(&network, facts);
        let (watchdogs, nodes) = tokio::join!(watchdogs, nodes);
        let (liveness, nodes, writers) = match nodes {
            Ok(made) => made,
            Err(e) => {
                // Stood down before their connections drop: the caller removes what was
                // made (or keeps it), and watchdogs sweeping at the same time would race it.
                let _ = watchdog::disarm_on_all(self.hosts, id).await;
                drop(watchdogs);
                return Err(e);
            }
        };
        let watchdogs = match watchdogs.into_iter().collect::<Result<Vec<_>>>() {
            Ok(watchdogs) => watchdogs,
            Err(e) => {
                // The armed ones are stood down before they are dropped (as above).
                let _ = watchdog::disarm_on_all(self.hosts, id).await;
                return Err(e);
            }
        };
        let running = DockerCluster {
            client: client.clone(),
            others: self.hosts[1..].to_vec(),
            id: id.to_string(),
            workspace: workspace.to_path_buf(),
            watchdog: std::sync::Arc::new(Mutex::new(watchdogs.into_iter().flatten().collect())),
            genconf_upload: if self.binds_workspace {
                Vec::new()
            } else {
                writers
            },
        };
        Ok(NewCluster {
            liveness,
            nodes,
            default_user: DEFAULT_USER.into(),
            running: Box::new(running),
        })
    }

    /// Every node at once, each through its own daemon: create, inject keys, start;
    /// then wait until each answers. Also returns the node on each daemon that writes
    /// its genconf volume.
    async fn start_nodes(
        &self,
        bridge: &BridgeNetwork,
        facts: DaemonFacts,
    ) -> Result<(
        Arc<Liveness>,
        PerRole<Vec<crate::node::Node>>,
        Vec<(Role, usize)>,
    )> {
        let (cfg, params, workspace) = (self.cfg, self.params, self.workspace.path());
        let network = bridge.id.as_str();
        let key = new_ed25519();
        let key_path = write_keypair(workspace, &key)?;
        let privileged = match cfg.privileged {
            Privileged::Auto => facts.privileged_allowed,
            Privileged::Yes => true,
            Privileged::No => false,
        };
        let mut order = Vec::new();
        for (role, count) in [
            (Role::Master, params.masters),
            (Role::Agent, params.agents),
            (Role::PublicAgent, params.public_agents),
        ] {
            order.extend((1..=count).map(|index| (role, index)));
        }
        let placement = crate::backend::docker::daemon::swarm::place(
            &order,
            self.hosts.len(),
            &cfg.daemons.placed,
        );
        let mut writers = Vec::new();
        let planned: Vec<Planned> = order
            .iter()
            .zip(&placement)
            .enumerate()
            .map(|(ordinal, (&(role, index), &host))| {
                // The first node on each daemon fills that daemon's genconf volume.
                let genconf_writer = !writers.iter().any(|(_, _, h)| *h == host);
                if genconf_writer {
                    writers.push((role, index, host));
                }
                Planned {
                    role,
                    index,
                    host,
                    genconf_writer,
                    name: labels::node_container(self.id, role, index),
                    host_key: new_ed25519(),
                    address: bridge.node_address(ordinal),
                }
            })
            .collect();
        // root's authorized_keys, on every node and the jump host.
        let authorized = format!("{}\n", key.public_key().to_openssh().unwrap_or_default());
        let hosts_label = (self.hosts.len() > 1).then(|| {
            self.hosts
                .iter()
                .map(DockerClient::host)
                .collect::<Vec<_>>()
                .join(" ")
        });
        let contexts: Vec<NodeContext> = self
            .hosts
            .iter()
            .map(|client| NodeContext {
                client,
                cfg,
                id: self.id,
                workspace,
                image: self.image,
                network,
                privileged,
                cgroup_v2: facts.cgroup_v2,
                transport: self.transport,
                authorized: &authorized,
                binds_workspace: self.binds_workspace,
                hosts_label: hosts_label.as_deref(),
                master_ports_address: self.master_ports_address,
            })
            .collect();
        let jump_key = new_ed25519();
        let jump = async {
            let Some(published) = self.published else {
                return Ok(None);
            };
            let spec = JumpSpec {
                client: &self.hosts[0],
                id: self.id,
                workspace,
                image: self.own_image,
                network,
                authorized: &authorized,
                host_key: &jump_key,
                published,
            };
            spec.start().await.map(Some)
        };
        // Every node's requests are waited for, failed or not: an error must not leave a
        // request in flight that lands after the cleanup.
        let nodes = join_all(planned.iter().map(|p| contexts[p.host].start_node(p)));
        let (ips, jump) = tokio::join!(nodes, jump);
        let ips = ips.into_iter().collect::<Result<Vec<_>>>()?;
        let jump = jump?;

        let host_keys = HostKeys::default();
        for (p, ip) in planned.iter().zip(&ips) {
            host_keys.pin(*ip, p.host_key.public_key().clone());
        }
        if let Some(at) = jump {
            host_keys.pin_at(at.ip(), at.port(), jump_key.public_key().clone());
        }
        let known_hosts = workspace.join(KNOWN_HOSTS_FILE);
        std::fs::write(&known_hosts, host_keys.known_hosts())
            .map_err(Error::io("write", &known_hosts))?;
        let mut settings =
            SshSettings::new(&key_path, cfg.connect_timeout, NODE_MAX_SESSIONS, host_keys)?;
        if let Some(at) = jump {
            settings.jump = Some(Arc::new(Jump::new(at, &settings)));
        }
        let liveness = Arc::new(Liveness::new(self.id));
        let mut nodes: PerRole<Vec<_>> = PerRole::default();
        let mut by_host: Vec<Vec<crate::node::Node>> = vec![Vec::new(); self.hosts.len()];
        for (p, ip) in planned.iter().zip(&ips) {
            let wiring = Wiring {
                client: &self.hosts[p.host],
                settings: &settings,
                transport: self.transport,
                liveness: &liveness,
                log_output_live: params.log_output_live,
                known_hosts: &known_hosts,
                boot_timeout: cfg.ready_timeout,
            };
            let node = wiring.node(p.role, p.index, *ip, &p.name, NodeState::Running);
            by_host[p.host].push(node.clone());
            nodes.get_mut(p.role).push(node);
        }
        let ready = join_all(self.hosts.iter().zip(&by_host).map(|(client, nodes)| {
            wait_ready(client, nodes.iter(), cfg.ready_timeout, self.transport)
        }))
        .await;
        ready.into_iter().collect::<Result<Vec<()>>>()?;
        let writers = writers.into_iter().map(|(r, i, _)| (r, i)).collect();
        Ok((liveness, nodes, writers))
    }
}
