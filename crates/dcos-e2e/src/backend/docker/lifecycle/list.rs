//! Looking after the host: list the clusters on the daemon with who owns each, destroy
//! one by id, and clean up what dead processes left. Everything is found by label.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use futures_util::future::join_all;
use serde::Serialize;

use crate::backend::docker::daemon::address::same_daemon;
use crate::backend::docker::daemon::client::DockerClient;
use crate::backend::docker::labels;
use crate::backend::docker::lifecycle::cleanup;
use crate::backend::docker::lifecycle::owner::Verdict;
use crate::error::{Error, Result};
use crate::node::Role;

/// Who a cluster belongs to, which decides what `clean` may remove.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Owner {
    /// Handed to the user (`minidcos docker create`): stays until destroyed.
    User,
    /// A live process holds it (its scope guard, or its watchdog runs).
    Process,
    /// Nobody: its owner is gone; `clean` removes it.
    #[serde(rename = "none")]
    Nobody,
    /// A process of another host or pid namespace, which this host cannot judge;
    /// `clean` leaves it (`clean --all` does not).
    Elsewhere,
}

impl Owner {
    /// `user`, `process` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::User => "user",
            Owner::Process => "process",
            Owner::Nobody => "none",
            Owner::Elsewhere => "elsewhere",
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One cluster found on this Docker daemon.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterSummary {
    /// The cluster id.
    pub id: String,
    /// Its workspace directory on the host.
    pub workspace: Option<PathBuf>,
    /// Master containers.
    pub masters: usize,
    /// Agent containers.
    pub agents: usize,
    /// Public agent containers.
    pub public_agents: usize,
    /// Node containers that are running.
    pub running: usize,
    /// Who it belongs to.
    pub owner: Owner,
}

/// What the labels of a cluster's objects say, gathered.
#[derive(Default)]
struct Seen {
    workspace: Option<PathBuf>,
    counts: [usize; 3],
    running: usize,
    owner_alive: bool,
    owner_unknown: bool,
    persisted: bool,
}

impl Seen {
    fn note(&mut self, l: &HashMap<String, String>) {
        self.workspace = self.workspace.take().or_else(|| labels::workspace_of(l));
        match labels::owner_of(l).map(|o| o.verdict()) {
            Some(Verdict::Alive) => self.owner_alive = true,
            Some(Verdict::Unknown) => self.owner_unknown = true,
            _ => {}
        }
    }
}

/// Every cluster on the daemon, by id (one over several daemons with all its nodes).
pub async fn list_clusters() -> Result<Vec<ClusterSummary>> {
    let client = DockerClient::connect().await?;
    list(&client).await
}

pub(crate) async fn list(client: &DockerClient) -> Result<Vec<ClusterSummary>> {
    let project = [labels::PROJECT.to_string()];
    let (containers, networks, volumes) = tokio::try_join!(
        client.containers(&project),
        client.networks(&project),
        client.volumes(&project)
    )?;
    let mut clusters: BTreeMap<String, Seen> = BTreeMap::new();
    // A cluster over several daemons: its nodes and watchdogs on the others count too.
    let mut spread: Vec<(&String, &String)> = Vec::new();
    for l in containers.iter().map(|c| &c.labels) {
        if let (Some(id), Some(hosts)) = (l.get(labels::CLUSTER_ID), l.get(labels::DOCKER_HOSTS))
            && !spread.iter().any(|(seen, _)| *seen == id)
        {
            spread.push((id, hosts));
        }
    }
    let elsewhere = join_all(spread.iter().map(|&(id, hosts)| {
        let filter = labels::cluster_filter(id, None);
        async move {
            let mut found = Vec::new();
            for host in cleanup::hosts_in(client, id, Some(hosts)).await {
                if same_daemon(host.host(), client.host()) {
                    continue;
                }
                match host.containers(&filter).await {
                    Ok(more) => found.extend(more),
                    Err(e) => tracing::warn!(cluster = %id, "{}", crate::error::chain(&e)),
                }
            }
            found
        }
    }))
    .await;
    for c in containers
        .into_iter()
        .chain(elsewhere.into_iter().flatten())
    {
        let l = c.labels;
        let Some(id) = l.get(labels::CLUSTER_ID) else {
            continue;
        };
        let s = clusters.entry(id.clone()).or_default();
        let running = c.running;
        let role = l.get(labels::ROLE);
        match role.and_then(|r| r.parse::<Role>().ok()) {
            Some(role) => {
                s.counts[role.slot()] += 1;
                s.running += usize::from(running);
                s.note(&l);
            }
            // The cleanup watchdog runs while its owner lives. Created and not yet
            // started, it is the first object of a create under way: its owner labels
            // speak for that create (else `clean` would take it for a dead one's).
            None => {
                s.owner_alive |= labels::is_watchdog(role) && running;
                s.note(&l);
            }
        }
    }
    // A create killed early may have left only a network or volumes.
    for n in networks {
        let l = n.labels;
        if let Some(id) = l.get(labels::CLUSTER_ID) {
            clusters.entry(id.clone()).or_default().note(&l);
        }
    }
    for v in volumes {
        if let Some(id) = v.labels.get(labels::CLUSTER_ID) {
            let s = clusters.entry(id.clone()).or_default();
            s.persisted |=
                v.labels.get(labels::ROLE).map(String::as_str) == Some(labels::PERSISTED_ROLE);
            s.note(&v.labels);
        }
    }
    Ok(clusters
        .into_iter()
        .map(|(id, s)| ClusterSummary {
            id,
            workspace: s.workspace,
            masters: s.counts[Role::Master.slot()],
            agents: s.counts[Role::Agent.slot()],
            public_agents: s.counts[Role::PublicAgent.slot()],
            running: s.running,
            owner: if s.persisted {
                Owner::User
            } else if s.owner_alive {
                Owner::Process
            } else if s.owner_unknown {
                Owner::Elsewhere
            } else {
                Owner::Nobody
            },
        })
        .collect())
}

/// Destroy one Docker cluster by id, whatever state it is in (also a partial create):
/// its containers with their volumes, network and workspace. An id no object of ours
/// carries is [`Error::NoSuchCluster`].
pub async fn destroy_cluster(cluster_id: &str) -> Result<()> {
    let client = DockerClient::connect().await?;
    let hosts = cleanup::hosts_of(&client, cluster_id).await?;
    match cleanup::remove_on_all(&hosts, cluster_id, None).await? {
        0 => Err(Error::NoSuchCluster {
            cluster_id: cluster_id.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Remove clusters nobody owns any more: their owning process is gone, no watchdog
/// runs for them, and they were not handed to the user. With `all`, remove every
/// cluster of ours. Returns the ids removed.
pub async fn clean(all: bool) -> Result<Vec<String>> {
    let client = DockerClient::connect().await?;
    let doomed: Vec<ClusterSummary> = list(&client)
        .await?
        .into_iter()
        .filter(|c| all || c.owner == Owner::Nobody)
        .collect();
    // A cluster over several daemons goes from each (the manager last).
    let results = join_all(doomed.iter().map(|c| async {
        let hosts = cleanup::hosts_of(&client, &c.id).await?;
        cleanup::sweep_on_all(&hosts, &c.id, c.workspace.as_deref()).await
    }))
    .await;
    let mut errors = Vec::new();
    let mut removed = Vec::new();
    for (c, result) in doomed.iter().zip(results) {
        match result {
            Ok(()) => removed.push(c.id.clone()),
            Err(e) => errors.push(e),
        }
    }
    // Privilege probes belong to no cluster; one whose process died is left over.
    let probes = [
        labels::PROJECT.to_string(),
        labels::filter(labels::ROLE, labels::PROBE_ROLE),
    ];
    for probe in client.containers(&probes).await? {
        let orphan =
            all || labels::owner_of(&probe.labels).is_none_or(|o| o.verdict() == Verdict::Dead);
        if orphan && let Err(e) = client.remove_container(&probe.id).await {
            errors.push(e);
        }
    }
    // Loop device sidecars likewise, their devices detached first.
    let sidecars = [
        labels::PROJECT.to_string(),
        labels::filter(
            labels::ROLE,
            crate::backend::docker::loopback::LOOPBACK_ROLE,
        ),
    ];
    for sidecar in client.containers(&sidecars).await? {
        let orphan =
            all || labels::owner_of(&sidecar.labels).is_none_or(|o| o.verdict() == Verdict::Dead);
        if orphan
            && let Err(e) = crate::backend::docker::loopback::remove(&client, &sidecar.name).await
        {
            errors.push(e);
        }
    }
    match Error::from_all(errors) {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}
