//! What Docker says of a cluster's node containers: their inspect, for log bundles and
//! node states.

use std::collections::HashMap;

use futures_util::future::join_all;

use crate::backend::docker::daemon::client::{ContainerDetails, DockerClient};
use crate::backend::docker::labels;
use crate::node::Role;

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
