//! A running Docker cluster as the lifecycle sees it: destroy (also from `Drop`, on any
//! runtime or none), keep, and hand to the user.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::backend::docker::create::container::NODE_GENCONF_DIR;
use crate::backend::docker::create::workspace::GENCONF_DIR;
use crate::backend::docker::daemon::client::{DockerClient, Fault, op};
use crate::backend::docker::labels;
use crate::backend::docker::lifecycle::cleanup;
use crate::backend::docker::lifecycle::watchdog::{self, Watchdog};
use crate::backend::running::{GENCONF_LOG, GenconfMount, NodeDescription, RunningCluster};
use crate::error::Result;
use crate::node::transport::BoxFuture;

/// The backend side of a running Docker cluster.
pub(crate) struct DockerCluster {
    /// The daemon (of several: the swarm manager, where the overlay network is).
    pub client: DockerClient,
    /// The other daemons of a cluster over several.
    pub others: Vec<DockerClient>,
    pub id: String,
    pub workspace: PathBuf,
    /// One per daemon (none where it could not run, or the cluster is kept).
    pub watchdog: Mutex<Vec<Watchdog>>,
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

    /// Every daemon's address, the manager first.
    fn host_names(&self) -> Vec<String> {
        self.hosts().iter().map(|h| h.host().to_string()).collect()
    }

    /// Stand down the watchdog on every daemon.
    async fn disarm_all(&self) -> Result<()> {
        let results = futures_util::future::join_all(
            self.hosts()
                .iter()
                .map(|h| async move { watchdog::disarm(h, &self.id).await }),
        )
        .await;
        results.into_iter().collect()
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

    fn destroy_from_drop(&self) {
        off_runtime_all(&self.host_names(), || {
            let (id, workspace) = (self.id.clone(), self.workspace.clone());
            Box::new(move |client| {
                Box::pin(async move {
                    cleanup::remove_once(&client, &id, Some(&workspace))
                        .await
                        .map(drop)
                })
            })
        });
        self.release_watchdog();
    }

    fn keep(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let disarmed = self.disarm_all().await;
            self.settle_watchdog(disarmed.is_ok());
            tracing::warn!(cluster = %self.id, "cluster kept; remove it with `minidcos docker destroy {}`", self.id);
            disarmed
        })
    }

    fn keep_from_drop(&self) {
        let disarmed = off_runtime_all(&self.host_names(), || {
            let id = self.id.clone();
            Box::new(move |client| Box::pin(async move { watchdog::disarm(&client, &id).await }))
        });
        self.settle_watchdog(disarmed);
        tracing::warn!(cluster = %self.id, "cluster kept; remove it with `minidcos docker destroy {}`", self.id);
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

    fn export_logs_from_drop(&self, dir: &Path) {
        let (id, dir) = (self.id.clone(), dir.to_path_buf());
        let extra = vec![(GENCONF_LOG, self.workspace.join(GENCONF_LOG))];
        off_runtime(self.client.host(), move |client| {
            Box::pin(async move {
                let bundle =
                    crate::backend::docker::node::inspect::export(&client, &id, &dir, &extra)
                        .await?;
                tracing::warn!(cluster = %id, "the scope ended with an error: logs in {}", bundle.dir.display());
                Ok(())
            })
        });
    }

    fn persist(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let disarmed = self.disarm_all().await;
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

/// How long one Docker call may take during cleanup from `Drop`.
const DROP_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long cleanup from `Drop` may block the dropping thread in all.
const DROP_TIMEOUT: Duration = Duration::from_secs(120);

/// Work from `Drop` on one daemon, given a client of its own.
pub(crate) type DropWork = Box<dyn FnOnce(DockerClient) -> BoxFuture<'static, Result<()>> + Send>;

/// Run Docker work to completion from synchronous code (`Drop`), whatever runtime the
/// caller is on: a fresh thread with its own runtime and client. Whether it succeeded.
pub(crate) fn off_runtime(
    host: &str,
    work: impl FnOnce(DockerClient) -> BoxFuture<'static, Result<()>> + Send + 'static,
) -> bool {
    reported(spawn_off_runtime(host, Box::new(work)).join())
}

/// [`off_runtime`] on every daemon of a cluster, each with its own work (the manager
/// first in `hosts`): the others at once, then the manager, whose swarm network goes
/// only once their nodes are gone. Whether all succeeded.
pub(crate) fn off_runtime_all(hosts: &[String], work: impl Fn() -> DropWork) -> bool {
    let Some((manager, others)) = hosts.split_first() else {
        return true;
    };
    let spawned: Vec<_> = others
        .iter()
        .map(|host| spawn_off_runtime(host, work()))
        .collect();
    let others_ok = spawned
        .into_iter()
        .map(|t| reported(t.join()))
        .fold(true, |all, ok| all & ok);
    reported(spawn_off_runtime(manager, work()).join()) & others_ok
}

fn spawn_off_runtime(
    host: &str,
    work: DropWork,
) -> std::thread::JoinHandle<std::result::Result<(), String>> {
    let host = host.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let client = DockerClient::connect_to(host, DROP_REQUEST_TIMEOUT)
                .await
                .map_err(|e| crate::error::chain(&e))?;
            match tokio::time::timeout(DROP_TIMEOUT, work(client)).await {
                Ok(done) => done.map_err(|e| crate::error::chain(&e)),
                Err(_) => Err(format!("the daemon did not finish within {DROP_TIMEOUT:?}")),
            }
        })
    })
}

fn reported(joined: std::thread::Result<std::result::Result<(), String>>) -> bool {
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
