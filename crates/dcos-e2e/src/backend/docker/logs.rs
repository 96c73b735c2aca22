//! Log bundles of Docker clusters: the containers' inspect for every node, and a bundle
//! written from `Drop`, through docker exec on a client of its own (the cluster's own
//! connections belong to a runtime that may not run any more).

use std::collections::HashMap;
use std::path::Path;

use futures_util::future::join_all;

use super::client::DockerClient;
use super::discover::discover_on;
use crate::error::Result;
use crate::node::logs::{Source, collect};
use crate::node::{LogBundle, TransportKind};

/// Each node container's inspect, as JSON, by name.
pub(crate) async fn describe(client: &DockerClient, names: &[String]) -> HashMap<String, String> {
    let inspected = join_all(names.iter().map(|name| async move {
        let info = client.api.inspect_container(name, None).await.ok()?;
        Some((name.clone(), serde_json::to_string_pretty(&info).ok()?))
    }))
    .await;
    inspected.into_iter().flatten().collect()
}

/// The bundle of cluster `id`, read through docker exec.
pub(crate) async fn export(
    client: &DockerClient,
    id: &str,
    dir: &Path,
    extra: &[(&str, std::path::PathBuf)],
) -> Result<LogBundle> {
    let found = discover_on(client.clone(), id, Some(TransportKind::DockerExec)).await?;
    let nodes: Vec<_> = found.nodes.iter().collect();
    let names: Vec<String> = nodes
        .iter()
        .filter_map(|n| n.container_name().map(str::to_string))
        .collect();
    // Over several daemons each node is inspected where it is (asked of each).
    let daemons = std::iter::once(&found.client).chain(&found.others);
    let mut described = HashMap::new();
    for part in join_all(daemons.map(|d| describe(d, &names))).await {
        described.extend(part);
    }
    let sources = nodes
        .into_iter()
        .map(|node| Source {
            node,
            inspect: node.container_name().and_then(|c| described.remove(c)),
        })
        .collect();
    collect(id, sources, extra, dir).await
}
