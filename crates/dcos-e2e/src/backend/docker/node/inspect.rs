//! Log bundles of Docker clusters: the containers' inspect for every node, and a bundle
//! written from `Drop`, through docker exec on a client of its own (the cluster's own
//! connections belong to a runtime that may not run any more).

use std::collections::HashMap;
use std::path::Path;

use futures_util::future::join_all;

use crate::backend::docker::daemon::client::{ContainerDetails, DockerClient};
use crate::backend::docker::labels;
use crate::backend::docker::lifecycle::discover::discover_on;
use crate::error::Result;
use crate::node::logs::{Source, collect};
use crate::node::{LogBundle, Role, TransportKind};

/// The inspect, as JSON, of each node container that `filter` finds on the daemons
/// `hosts`, by name: each asked of its own daemon. One that cannot be read is left out.
pub(crate) async fn describe(
    hosts: &[DockerClient],
    filter: &[String],
) -> HashMap<String, ContainerDetails> {
    let per_host = join_all(hosts.iter().map(|client| async move {
        let names: Vec<String> = match client.containers(filter).await {
            Ok(containers) => containers
                .into_iter()
                .filter(|c| {
                    c.labels
                        .get(labels::ROLE)
                        .is_some_and(|r| r.parse::<Role>().is_ok())
                })
                .map(|c| c.name)
                .collect(),
            Err(_) => Vec::new(),
        };
        join_all(names.into_iter().map(|name| async move {
            let info = client.inspect_container(&name).await.ok()?;
            Some((name, info))
        }))
        .await
    }))
    .await;
    per_host.into_iter().flatten().flatten().collect()
}

/// The bundle of cluster `id`, read through docker exec.
pub(crate) async fn export(
    client: &DockerClient,
    id: &str,
    dir: &Path,
    extra: &[(&str, std::path::PathBuf)],
) -> Result<LogBundle> {
    let found = discover_on(client.clone(), id, Some(TransportKind::DockerExec)).await?;
    let daemons: Vec<DockerClient> = std::iter::once(&found.client)
        .chain(&found.others)
        .cloned()
        .collect();
    let mut described = describe(&daemons, &labels::cluster_filter(id, None)).await;
    let sources = found
        .nodes
        .iter()
        .map(|node| Source {
            node,
            inspect: node
                .container_name()
                .and_then(|c| described.remove(c))
                .map(|d| d.json),
        })
        .collect();
    collect(id, sources, extra, dir).await
}
