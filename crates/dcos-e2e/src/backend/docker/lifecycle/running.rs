//! A running Docker cluster as the lifecycle sees it: destroy, keep, hand to the user,
//! and reopen through connections of another runtime (for work from `Drop`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::backend::docker::create::workspace::GENCONF_DIR;
use crate::backend::docker::daemon::client::{DockerClient, Fault, op};
use crate::backend::docker::labels;
use crate::backend::docker::lifecycle::watchdog::{self, Watchdog};
use crate::backend::docker::lifecycle::{cleanup, members};
use crate::backend::running::NODE_GENCONF_DIR;
use crate::backend::running::{GenconfMount, NodeDescription, Reopened, RunningCluster};
use crate::error::Result;
use crate::node::transport::BoxFuture;
use crate::node::{Node, TransportKind};
use crate::params::ProgressFn;

/// The backend side of a running Docker cluster.
pub(crate) struct DockerCluster {
    /// The daemon (of several: the swarm manager, where the overlay network is).
    pub client: DockerClient,
    /// The other daemons of a cluster over several.
    pub others: Vec<DockerClient>,
    pub id: String,
    pub workspace: PathBuf,
    /// One per daemon (none where it could not run, or the cluster is kept); shared
    /// with the copies [`RunningCluster::reopen`] makes, which stand it down or let it go.
    pub watchdog: Arc<Mutex<Vec<Watchdog>>>,
    /// Where the daemons do not see the workspace: the node on each daemon that
    /// genconf goes through (into that daemon's genconf volume). Empty: bound.
    pub genconf_upload: Vec<(crate::node::Role, usize)>,
}

impl DockerCluster {
    /// Let go of the watchdog connection (after the watchdog was removed, or to set it off).
    fn release_watchdog(&self) {
        self.watchdog
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Every daemon of the cluster, the manager first.
    pub(crate) fn hosts(&self) -> Vec<DockerClient> {
        std::iter::once(&self.client)
            .chain(&self.others)
            .cloned()
            .collect()
    }

    fn members(&self) -> members::Members<'_> {
        members::Members {
            hosts: self.hosts(),
            id: &self.id,
            workspace: &self.workspace,
        }
    }

    /// Every daemon's address, the manager first.
    fn host_names(&self) -> Vec<String> {
        self.hosts().iter().map(|h| h.host().to_string()).collect()
    }

    /// After standing the watchdog down for a kept cluster: let go of its connection, or,
    /// when it could not be stood down, hold it for good (closing it would set the
    /// watchdog off and remove the cluster that is to be kept).
    fn settle_watchdog(&self, disarmed: bool) {
        let watchdogs =
            std::mem::take(&mut *self.watchdog.lock().unwrap_or_else(|p| p.into_inner()));
        if !disarmed && !watchdogs.is_empty() {
            tracing::error!(cluster = %self.id, "the cleanup watchdog could not be stood down: the cluster is removed when this process exits");
            std::mem::forget(watchdogs);
        }
    }
}

impl RunningCluster for DockerCluster {
    fn backend_name(&self) -> &'static str {
        "Docker"
    }

    fn workspace(&self) -> Option<&Path> {
        Some(&self.workspace)
    }

    fn genconf(&self) -> Option<GenconfMount> {
        Some(GenconfMount {
            host_dir: self.workspace.join(GENCONF_DIR),
            node_dir: NODE_GENCONF_DIR,
            upload: self.genconf_upload.clone(),
        })
    }

    fn destroy(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let result = cleanup::remove_on_all(&self.hosts(), &self.id, Some(&self.workspace))
                .await
                .map(drop);
            self.release_watchdog();
            result
        })
    }

    fn keep(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let disarmed = watchdog::disarm_on_all(&self.hosts(), &self.id).await;
            self.settle_watchdog(disarmed.is_ok());
            tracing::warn!(cluster = %self.id, "cluster kept; remove it with `minidcos docker destroy {}`", self.id);
            disarmed
        })
    }

    fn describe_nodes(&self) -> BoxFuture<'_, HashMap<String, NodeDescription>> {
        Box::pin(async move {
            let filter = labels::cluster_filter(&self.id, Some(&self.workspace));
            crate::backend::docker::node::inspect::describe(&self.hosts(), &filter)
                .await
                .into_iter()
                .map(|(name, d)| {
                    let description = NodeDescription {
                        state: d.state,
                        details: d.json,
                    };
                    (name, description)
                })
                .collect()
        })
    }

    fn published_ports(&self) -> BoxFuture<'_, Result<Vec<(u16, u16)>>> {
        Box::pin(async move {
            let master = labels::node_container(&self.id, crate::node::Role::Master, 1);
            // On whichever daemon it was placed.
            let mut found = None;
            for host in self.hosts() {
                match host.inspect_container(&master).await {
                    Ok(info) => {
                        found = Some(Ok(info));
                        break;
                    }
                    Err(e) => {
                        found.get_or_insert(Err(e));
                    }
                }
            }
            match found {
                Some(Ok(info)) => Ok(info.requested),
                Some(Err(e)) => Err(op(format!("inspecting container {master}"))(e)),
                None => Ok(Vec::new()),
            }
        })
    }

    fn destroy_node<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { members::destroy_node(&self.members(), node).await })
    }

    fn add_node(
        &self,
        role: crate::node::Role,
        index: usize,
        address: Option<std::net::IpAddr>,
        liveness: Arc<crate::node::liveness::Liveness>,
    ) -> BoxFuture<'_, Result<Node>> {
        Box::pin(async move {
            let boot = crate::backend::docker::config::Docker::default().ready_timeout;
            members::add_node(&self.members(), role, index, address, liveness, boot).await
        })
    }

    fn load_images<'a>(
        &'a self,
        images: &'a [String],
        nodes: &'a [&'a Node],
        progress: Option<&'a ProgressFn>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            crate::backend::docker::node::load::load_images(
                nodes,
                images,
                progress.map(|p| &**p as &(dyn Fn(&str) + Send + Sync)),
                &self.hosts(),
                &self.id,
            )
            .await
        })
    }

    fn reopen(&self, nodes: bool) -> BoxFuture<'static, Result<Reopened>> {
        let hosts = self.host_names();
        let (id, workspace) = (self.id.clone(), self.workspace.clone());
        let (watchdog, genconf_upload) = (self.watchdog.clone(), self.genconf_upload.clone());
        Box::pin(async move {
            let clients = connect_each(&hosts).await?;
            let found = match clients.first().filter(|_| nodes) {
                // docker exec: the cluster's SSH sessions are of the other runtime too.
                Some(manager) => {
                    crate::backend::docker::lifecycle::discover::discover_on(
                        manager.clone(),
                        &id,
                        Some(TransportKind::DockerExec),
                    )
                    .await?
                    .nodes
                }
                None => Default::default(),
            };
            let Some((client, others)) = clients.split_first() else {
                return Err(crate::error::Error::NoSuchCluster { cluster_id: id });
            };
            let running = DockerCluster {
                client: client.clone(),
                others: others.to_vec(),
                id,
                workspace,
                watchdog,
                genconf_upload,
            };
            Ok(Reopened {
                running: Box::new(running),
                nodes: found,
            })
        })
    }

    fn persist(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let disarmed = watchdog::disarm_on_all(&self.hosts(), &self.id).await;
            self.settle_watchdog(disarmed.is_ok());
            disarmed?;
            // A labelled marker volume: it survives what a file in the workspace might
            // not (a temp dir cleared at boot), and goes with the cluster's volumes. On
            // every daemon: `clean` through any of them must see it.
            let marked = futures_util::future::join_all(self.hosts().iter().map(|host| {
                let name = format!("{}-persisted", self.id);
                let tags = labels::object_labels(&self.id, labels::PERSISTED_ROLE, &self.workspace);
                async move {
                    match host.create_volume(&name, tags).await {
                        Ok(()) => Ok(()),
                        // Handed over already: persisting twice is persisting.
                        Err(e) if e.fault() == Fault::Conflict => Ok(()),
                        Err(e) => Err(op(format!("marking {} as the user's", self.id))(e)),
                    }
                }
            }))
            .await;
            marked.into_iter().collect()
        })
    }
}

/// How long one Docker call may take in work from `Drop`.
pub(crate) const DROP_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of each daemon named (the manager first), made on the runtime that polls.
pub(crate) async fn connect_each(hosts: &[String]) -> Result<Vec<DockerClient>> {
    futures_util::future::try_join_all(
        hosts
            .iter()
            .map(|h| DockerClient::connect_to(h.clone(), DROP_REQUEST_TIMEOUT)),
    )
    .await
}
