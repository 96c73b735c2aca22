//! One cluster over several Docker daemons that are members of one Docker Swarm: the
//! swarm is only the network (a per-cluster attachable overlay, made on a manager);
//! every node is a plain container made through its own daemon's API.

use crate::backend::docker::daemon::client::{DockerClient, NetworkSpec, op};
use crate::backend::docker::labels;
use crate::error::{Error, Parameter, Result};
use crate::node::Role;

/// Why each daemon after the first cannot take part with the first: not in a swarm, in
/// another one, another API version or cgroup mode. The first must be a manager (the
/// overlay network is made there).
pub(crate) async fn preflight(hosts: &[DockerClient]) -> Result<()> {
    let mut facts = Vec::new();
    for client in hosts {
        let info = client
            .info()
            .await
            .map_err(op(format!("reading daemon info of {}", client.host())))?;
        let (_, api) = client
            .version()
            .await
            .map_err(op(format!("reading the API version of {}", client.host())))?;
        facts.push((client.host(), info, api));
    }
    let refuse = |host: &str, why: String| Err(Error::invalid(Parameter::DockerHosts, host, why));
    let (first, first_info, first_api) = &facts[0];
    for (host, info, api) in &facts {
        if !info.swarm.active {
            return refuse(
                host,
                "this daemon is not in a Docker Swarm (`docker swarm init`, or `docker swarm join` to the first host's swarm)".into(),
            );
        }
        if api != first_api {
            return refuse(
                host,
                format!("its API version {api:?} differs from {first}'s {first_api:?}"),
            );
        }
        if info.cgroup_v2 != first_info.cgroup_v2 {
            return refuse(host, format!("its cgroup version differs from {first}'s"));
        }
    }
    if !first_info.swarm.manager {
        return refuse(
            first,
            "the first host must be a swarm manager: the cluster's overlay network is made there"
                .into(),
        );
    }
    // The first host's swarm, by its managers' node ids (a manager lists itself).
    let manager_nodes = &first_info.swarm.manager_nodes;
    let mut seen = Vec::new();
    for (host, info, _) in &facts {
        // One daemon named twice (or by two addresses) would hold two nodes' names.
        let node = info.swarm.node_id.clone();
        if seen.contains(&node) {
            return refuse(
                host,
                "this daemon is named twice among the Docker hosts".into(),
            );
        }
        seen.push(node);
    }
    for (host, info, _) in facts.iter().skip(1) {
        let same = info
            .swarm
            .manager_nodes
            .iter()
            .any(|m| manager_nodes.contains(m));
        if !same {
            return refuse(host, format!("it is in another swarm than {first}"));
        }
    }
    Ok(())
}

/// The cluster's attachable overlay network, made on the manager; its id.
pub(crate) async fn create_overlay(
    manager: &DockerClient,
    id: &str,
    workspace: &std::path::Path,
) -> Result<String> {
    let spec = NetworkSpec {
        name: id.to_string(),
        driver: "overlay",
        attachable: true,
        labels: labels::object_labels(id, labels::NETWORK_ROLE, workspace),
        subnet: None,
    };
    manager.create_network(spec).await.map_err(op(format!(
        "creating overlay network {id} on {}",
        manager.host()
    )))
}

/// Which host (index into the hosts) each node goes on: where the user placed it, else
/// round-robin over all nodes in role order (so a 1+1+1 cluster on two hosts has nodes
/// on both).
pub(crate) fn place(
    nodes: &[(Role, usize)],
    hosts: usize,
    placed: &[(Role, usize, usize)],
) -> Vec<usize> {
    nodes
        .iter()
        .enumerate()
        .map(|(k, (role, index))| {
            placed
                .iter()
                .find(|(r, i, _)| r == role && i == index)
                .map_or(k % hosts.max(1), |(_, _, h)| *h)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::place;
    use crate::node::Role;

    #[test]
    fn round_robin_over_all_nodes_unless_placed() {
        let nodes = [(Role::Master, 1), (Role::Agent, 1), (Role::PublicAgent, 1)];
        assert_eq!(place(&nodes, 2, &[]), [0, 1, 0]);
        assert_eq!(place(&nodes, 2, &[(Role::PublicAgent, 1, 1)]), [0, 1, 1]);
        assert_eq!(place(&nodes, 1, &[]), [0, 0, 0]);
    }
}
