//! The `ExistingCluster` backend, one file per area: the test of DC/OS E2E's 2017 API
//! (wrap the nodes of a Docker cluster), one test per condition that API sets on an
//! existing cluster, unanswering nodes, the cluster file, and install and upgrade over
//! SSH.

use std::time::Duration;

use dcos_e2e::blocking::{Cluster, ClusterBuilder};
use dcos_e2e::{ExistingCluster, Role};

use crate::common;

mod cluster_file;
mod conditions;
mod failures;
mod install;
mod wrap;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

fn docker_cluster(masters: usize, agents: usize, public_agents: usize) -> Cluster {
    Cluster::builder(common::docker())
        .masters(masters)
        .agents(agents)
        .public_agents(public_agents)
        .provision()
        .expect("the Docker cluster provisions")
}

/// The builder DC/OS E2E's 2017 API requires for an existing cluster, for `existing`'s
/// node counts.
fn existing_builder(existing: &ExistingCluster) -> ClusterBuilder {
    Cluster::builder(existing.clone())
        .masters(existing.hosts(Role::Master).len())
        .agents(existing.hosts(Role::Agent).len())
        .public_agents(existing.hosts(Role::PublicAgent).len())
        .destroy_on_error(false)
        .destroy_on_success(false)
}

/// The host keys a Docker cluster pinned, which an existing cluster of its nodes checks.
fn pinned_keys(cluster: &Cluster) -> std::path::PathBuf {
    cluster
        .workspace()
        .expect("a Docker cluster has a workspace")
        .join("ssh/known_hosts")
}

fn hostname(node: &dcos_e2e::blocking::Node) -> String {
    node.run(["hostname"]).unwrap().stdout_text()
}
