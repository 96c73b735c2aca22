//! Removing a cluster's Docker objects and its workspace: one pass over what carries
//! its labels, or a sweep that repeats until nothing reappears.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::backend::docker::create::workspace::is_workspace_of;
use crate::backend::docker::daemon::address::same_daemon;
use crate::backend::docker::daemon::client::{ContainerEntry, DockerClient};
use crate::backend::docker::labels;
use crate::error::{Error, Result};

/// Remove every object carrying the cluster's label, and its workspace, in one pass.
/// Idempotent; collects every failure rather than stopping at the first. Returns how
/// many Docker objects it found.
///
/// With the workspace given, only objects labelled with it too: each create has its own
/// workspace, so a create that lost a race for a cluster id removes what it made and
/// not the winner's cluster.
pub(crate) async fn remove_once(
    client: &DockerClient,
    cluster_id: &str,
    workspace: Option<&Path>,
) -> Result<usize> {
    let filter = labels::cluster_filter(cluster_id, workspace);
    let (containers, volumes, mut networks) = tokio::try_join!(
        client.containers(&filter),
        client.volumes(&filter),
        client.networks(&filter)
    )?;
    // A swarm's overlay network is removed through a manager; a worker only sees it.
    if networks.iter().any(|n| n.swarm_scoped) && !is_manager(client).await {
        networks.retain(|n| !n.swarm_scoped);
    }
    let workspace = workspace
        .map(Path::to_path_buf)
        .or_else(|| {
            containers
                .iter()
                .find_map(|c| labels::workspace_of(&c.labels))
        })
        .or_else(|| {
            networks
                .iter()
                .find_map(|n| labels::workspace_of(&n.labels))
        })
        .or_else(|| volumes.iter().find_map(|v| labels::workspace_of(&v.labels)));
    let found = containers.len() + volumes.len() + networks.len();
    // The watchdog goes first: it is stood down, not set off, while the rest goes.
    let (watchdogs, rest): (Vec<_>, Vec<_>) = containers
        .iter()
        .partition(|c| labels::is_watchdog(c.labels.get(labels::ROLE)));
    let mut errors: Vec<Error> = Vec::new();
    for batch in [watchdogs, rest] {
        // Volumes and the network are freed once the containers are gone.
        let removed = join_all(batch.iter().map(|c| client.remove_container(&c.id))).await;
        errors.extend(removed.into_iter().filter_map(Result::err));
    }
    let volumes = join_all(volumes.iter().map(|v| client.remove_volume(&v.id)));
    let networks = join_all(networks.iter().map(|n| client.remove_network(&n.id)));
    let (volumes, networks) = tokio::join!(volumes, networks);
    errors.extend(volumes.into_iter().chain(networks).filter_map(Result::err));
    if let Some(ws) = workspace {
        if is_workspace_of(&ws, cluster_id) {
            if let Err(e) = remove_workspace(ws).await {
                errors.push(e);
            }
        } else if ws.exists() {
            tracing::warn!(
                cluster = cluster_id,
                "not removing {}: the label names it, but it is not a workspace of this cluster",
                ws.display()
            );
        }
    }
    match Error::from_all(errors) {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// `work` on every daemon of a cluster (the manager first in `hosts`): the others at
/// once, then the manager, whose swarm network goes only once the nodes on the others
/// are gone. Every failure is collected; the counts are added up.
pub(crate) async fn on_all<'a, F>(
    hosts: &'a [DockerClient],
    work: impl Fn(&'a DockerClient) -> F,
) -> Result<usize>
where
    F: std::future::Future<Output = Result<usize>> + 'a,
{
    let Some((manager, others)) = hosts.split_first() else {
        return Ok(0);
    };
    let mut results = join_all(others.iter().map(&work)).await;
    results.push(work(manager).await);
    let mut found = 0;
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(n) => found += n,
            Err(e) => errors.push(e),
        }
    }
    match Error::from_all(errors) {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// [`remove_once`] on every daemon of a cluster (see [`on_all`]); how many objects it
/// found.
pub(crate) async fn remove_on_all(
    hosts: &[DockerClient],
    cluster_id: &str,
    workspace: Option<&Path>,
) -> Result<usize> {
    on_all(hosts, |c| remove_once(c, cluster_id, workspace)).await
}

/// [`sweep`] on every daemon of a cluster (see [`on_all`]).
pub(crate) async fn sweep_on_all(
    hosts: &[DockerClient],
    cluster_id: &str,
    workspace: Option<&Path>,
) -> Result<()> {
    on_all(hosts, |c| async move {
        sweep(c, cluster_id, workspace).await.map(|()| 0)
    })
    .await
    .map(drop)
}

/// The daemons of the cluster `client` holds nodes of, as its nodes' labels name them,
/// the manager first; just `client` for a cluster on one daemon. A daemon that does not
/// answer is left out with a warning: the rest can still go.
pub(crate) async fn hosts_of(client: &DockerClient, cluster_id: &str) -> Result<Vec<DockerClient>> {
    let containers = client
        .containers(&labels::cluster_filter(cluster_id, None))
        .await?;
    Ok(hosts_named(client, cluster_id, &containers).await)
}

/// [`hosts_of`], from the cluster's containers on `client`, already listed.
pub(crate) async fn hosts_named(
    client: &DockerClient,
    cluster_id: &str,
    containers: &[ContainerEntry],
) -> Vec<DockerClient> {
    let named = containers
        .iter()
        .find_map(|c| c.labels.get(labels::DOCKER_HOSTS));
    hosts_in(client, cluster_id, named.map(String::as_str)).await
}

/// The daemons a nodes' [`labels::DOCKER_HOSTS`] label names (connected; `client`
/// itself reused), or just `client` where there is none.
pub(crate) async fn hosts_in(
    client: &DockerClient,
    cluster_id: &str,
    named: Option<&str>,
) -> Vec<DockerClient> {
    let Some(named) = named else {
        return vec![client.clone()];
    };
    let hosts = join_all(named.split_whitespace().map(|host| async move {
        if same_daemon(host, client.host()) {
            return Some(client.clone());
        }
        match DockerClient::connect_to(
            host.to_string(),
            crate::backend::docker::daemon::client::REQUEST_TIMEOUT,
        )
        .await
        {
            Ok(other) => Some(other),
            Err(e) => {
                tracing::warn!(
                    cluster = cluster_id,
                    "{}: its objects there stay",
                    crate::error::chain(&e)
                );
                None
            }
        }
    }))
    .await;
    hosts.into_iter().flatten().collect()
}

async fn is_manager(client: &DockerClient) -> bool {
    client.info().await.is_ok_and(|i| i.swarm.manager)
}

/// Remove a workspace directory, off the runtime's threads (with a real installer it
/// holds gigabytes). Gone already is fine.
pub(crate) async fn remove_workspace(ws: PathBuf) -> Result<()> {
    let path = ws.clone();
    let removed = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&path)).await;
    match removed {
        Ok(Err(e)) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", ws)(e)),
        Err(e) => Err(Error::io("remove", ws)(std::io::Error::other(
            e.to_string(),
        ))),
        _ => Ok(()),
    }
}

/// Remove a cluster whose creator was cut off, passing over it until nothing reappears:
/// Docker requests it had in flight can land after a pass.
pub(crate) async fn sweep(
    client: &DockerClient,
    cluster_id: &str,
    workspace: Option<&Path>,
) -> Result<()> {
    // Each pass stands the watchdog down first (see `remove_once`). With a workspace,
    // the sweep is one create's own: only its watchdog carries that workspace's label; a
    // watchdog of another create of the same id (which won the id) is not ours to stop.
    // Requests the creator had in flight when it was cut off (a network or container
    // being made) land up to a moment later: done once passes over QUIET found nothing.
    const QUIET: Duration = Duration::from_secs(3);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    let mut last_found = started;
    loop {
        // A failure (a removal already under way elsewhere, a network still in use while
        // its containers go) is retried like a leftover until the deadline.
        match remove_once(client, cluster_id, workspace).await {
            Ok(0) if last_found.elapsed() >= QUIET => return Ok(()),
            Ok(0) => {}
            Err(e) if Instant::now() >= deadline => return Err(e),
            // This pass removed all it found; only a request landing later could add more.
            Ok(_) if Instant::now() >= deadline => return Ok(()),
            _ => last_found = Instant::now(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
