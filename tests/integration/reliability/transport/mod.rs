//! Transport reliability and security, one file per concern: streams and processes
//! (`streams`), partial and temporary files (`files`), commands for any login shell and
//! their failure messages (`commands`), host keys of existing hosts (`host_keys`). Each
//! case runs for both transports where both apply, on a one-master cluster, and removes
//! it. The fixture and the helpers the files share are here.

use std::path::PathBuf;
use std::time::Duration;

use dcos_e2e::{Cluster, Command, Node, TransportKind};
use tokio::time::timeout;

use crate::common;

/// A hang guard only: far above anything that should take a second.
const PATIENCE: Duration = Duration::from_secs(60);

mod commands;
mod files;
mod host_keys;
mod streams;

/// One master over `kind`, and its id and workspace for the leftover check.
struct Fixture {
    cluster: Option<Cluster>,
    id: String,
    workspace: PathBuf,
}

impl Fixture {
    async fn new(kind: TransportKind) -> Self {
        let docker = tokio::task::spawn_blocking(common::docker)
            .await
            .expect("node image is available")
            .transport(kind);
        let cluster = Cluster::builder(docker)
            .masters(1)
            .agents(0)
            .public_agents(0)
            .provision()
            .await
            .expect("a one-master cluster provisions");
        Self {
            id: cluster.id().to_string(),
            workspace: cluster.workspace().expect("a workspace").to_path_buf(),
            cluster: Some(cluster),
        }
    }

    fn node(&self) -> &Node {
        &self.cluster.as_ref().expect("cluster is up").masters()[0]
    }

    /// The cluster's pinned host keys.
    fn known_hosts(&self) -> PathBuf {
        self.workspace.join("ssh/known_hosts")
    }

    async fn finish(mut self) {
        let cluster = self.cluster.take().expect("cluster is up");
        cluster.destroy().await.expect("cluster destroys");
        drop(cluster);
        common::assert_gone(&self.id, Some(&self.workspace));
    }
}

async fn run(node: &Node, cmd: impl Into<Command>) -> dcos_e2e::Output {
    timeout(PATIENCE, node.run(cmd))
        .await
        .expect("no hang")
        .unwrap_or_else(|e| panic!("{}", dcos_e2e::chain(&e)))
}
